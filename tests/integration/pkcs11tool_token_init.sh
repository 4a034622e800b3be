#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# pkcs11-tool against the module: token and PIN life cycle. Init token,
# init PIN, log in, a wrong PIN is refused, --change-pin, old PIN refused.
# Over the hsm backend (P11P_TEST_BACKEND=hsm) the same flow, and the PINs
# are seen to pass through to the backing SoftHSM2, whose token C_InitToken
# leaves alone (docs/hsm.md "PINs").
. "$(dirname "$0")/lib.sh"
need pkcs11-tool

out=$TEST_DIR/out.txt

p11 --list-token-slots | tee "$out"
grep -q 'p11portal' "$out" || fail "no slot for the token p11portal"

init_token
p11 --list-token-slots | tee "$out"
grep -q 'token label *: *p11portal' "$out" || fail "no token labelled p11portal"
grep -q 'token initialized' "$out" || fail "token not flagged initialized"
grep -q 'PIN initialized' "$out" || fail "user PIN not flagged initialized"

# Log in (listing private objects needs it).
p11 --login --pin "$USER_PIN" --list-objects

# A wrong PIN is refused, and the error names it.
if p11 --login --pin wrong-pin-000 --list-objects >"$out" 2>&1; then
    fail "a wrong PIN was accepted"
fi
grep -q 'CKR_PIN_INCORRECT' "$out" || fail "expected CKR_PIN_INCORRECT: $(cat "$out")"

# After one wrong PIN, the token says the count is low.
p11 --list-token-slots | tee "$out"
grep -q -i 'count low\|user PIN count low' "$out" || echo "note: pkcs11-tool did not print the count-low flag"

# Change the user PIN; the old one stops working, the new one works.
p11 --login --pin "$USER_PIN" --change-pin --new-pin "$USER_PIN2"
if p11 --login --pin "$USER_PIN" --list-objects >"$out" 2>&1; then
    fail "the old PIN still works after --change-pin"
fi
p11 --login --pin "$USER_PIN2" --list-objects >/dev/null

if is_hsm; then
    # Pass-through: the change reached the backing token itself.
    softhsm --login --pin "$USER_PIN2" --list-objects >/dev/null ||
        fail "the backing token does not take the changed PIN"
    if softhsm --login --pin "$USER_PIN" --list-objects >"$out" 2>&1; then
        fail "the backing token still takes the old PIN"
    fi
    # A key made in the backing token by its own tools must survive the
    # re-initialisation below: C_InitToken never initialises the HSM token.
    softhsm --login --pin "$USER_PIN2" --keypairgen --key-type EC:prime256v1 \
        --id 5eed01 --label hsm-own-key --usage-sign >/dev/null
    # A wrong SO PIN is the backing token's refusal.
    if p11 --init-token --label p11portal --so-pin "$WRONG_PIN" >"$out" 2>&1; then
        fail "C_InitToken took a wrong SO PIN"
    fi
    grep -q 'CKR_PIN_INCORRECT' "$out" || fail "expected CKR_PIN_INCORRECT: $(cat "$out")"
fi

# Re-initialising the token with the SO PIN wipes it and works again.
p11 --init-token --label p11portal --so-pin "$SO_PIN" >/dev/null
p11 --init-pin --login --login-type so --so-pin "$SO_PIN" --pin "$USER_PIN" >/dev/null
p11 --login --pin "$USER_PIN" --list-objects >/dev/null

if is_hsm; then
    # C_InitPIN set the backing user PIN; the backing key is still there.
    softhsm --login --pin "$USER_PIN" --list-objects --type privkey >"$out"
    grep -q 'ID: *5eed01$' "$out" || fail "C_InitToken destroyed a key of the backing token"
fi
echo "PASS"

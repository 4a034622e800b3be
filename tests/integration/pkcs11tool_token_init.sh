#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# pkcs11-tool against the module: token and PIN life cycle. Init token,
# init PIN, log in, a wrong PIN is refused, --change-pin, old PIN refused.
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

# Re-initialising the token with the SO PIN wipes it and works again.
p11 --init-token --label p11portal --so-pin "$SO_PIN" >/dev/null
p11 --init-pin --login --login-type so --so-pin "$SO_PIN" --pin "$USER_PIN" >/dev/null
p11 --login --pin "$USER_PIN" --list-objects >/dev/null
echo "PASS"

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 240
# Issue 7: p11portal export and delete against the portal simulator.
#   export: PEM (leaf, leaf + chain), DER, PKCS#7 (PEM and binary), read
#   back with openssl x509 / pkcs7 and verified with openssl verify against
#   the exported chain; selection by label, --id, --serial, --order and a
#   PKCS#11 URI; no private key in any output.
#   delete: without --yes and without a terminal it refuses (exit 6) and
#   deletes nothing; with --yes it removes the key pair, its certificate and
#   its order object (pkcs11-tool --list-objects confirms), says that the
#   portal was not touched, and the simulator's ledger and journal are
#   unchanged; --cert-only keeps the key.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sim_lib.sh"
. "$(dirname "$0")/tool_lib.sh"

SIM_ENROLL_WAIT_MS=2000
sim_start
# (Over the hsm backend, sim_conf_token adds the backing token's lines.)
sim_conf_token sectigo 1001
init_token
keygen EC:prime256v1 dev-exp
keygen EC:prime256v1 dev-keep
ID=$(key_id dev-exp)
[ -n "$ID" ] || fail "no key dev-exp"
X=$TEST_DIR/x
mkdir -p "$X"

# ---- export ----
tool_rc 0 export --label dev-exp --format pem --out "$X/leaf.pem"
run openssl x509 -in "$X/leaf.pem" -noout -subject | grep 'CN *= *dev-exp' >/dev/null ||
    fail "exported PEM is not dev-exp's certificate"
[ "$(grep -c 'BEGIN CERTIFICATE' "$X/leaf.pem")" = 1 ] || fail "leaf-only PEM holds more than one certificate"
SERIAL=$(openssl x509 -in "$X/leaf.pem" -noout -serial | sed 's/^serial=//')

tool_rc 0 export --label dev-exp --chain --out "$X/chain.pem"
[ "$(grep -c 'BEGIN CERTIFICATE' "$X/chain.pem")" = 3 ] || fail "PEM chain is not leaf + issuing CA + root"
# The last one is the root: trust it, the middle one is untrusted.
awk '/BEGIN CERT/ {n++} n == 3' "$X/chain.pem" >"$X/root.pem"
awk '/BEGIN CERT/ {n++} n == 2' "$X/chain.pem" >"$X/inter.pem"
run openssl verify -CAfile "$X/root.pem" -untrusted "$X/inter.pem" "$X/leaf.pem"
run openssl verify -CAfile "$SIM_DIR/ca.pem" -untrusted "$X/inter.pem" "$X/leaf.pem"

# PEM to stdout is the default.
tool_rc 0 export --id "$ID"
cmp "$TOOL_OUT" "$X/leaf.pem" || fail "export --id to stdout differs from --out"

tool_rc 0 export --serial "$SERIAL" --format der --out "$X/leaf.der"
run openssl x509 -inform DER -in "$X/leaf.der" -noout -serial | grep -i "$SERIAL" >/dev/null ||
    fail "DER export has another serial"
tool_rc 2 export --serial "$SERIAL" --format der --chain --out "$X/no.der"

tool_rc 0 export --uri "pkcs11:token=p11portal;object=dev-exp;type=cert" --format p7b --chain --out "$X/chain.p7b"
grep 'BEGIN PKCS7' "$X/chain.p7b" >/dev/null || fail "p7b is not PEM armoured"
run openssl pkcs7 -in "$X/chain.p7b" -print_certs -out "$X/p7certs.pem"
[ "$(grep -c 'BEGIN CERTIFICATE' "$X/p7certs.pem")" = 3 ] || fail "PKCS#7 does not hold 3 certificates"
run openssl verify -CAfile "$X/root.pem" -untrusted "$X/p7certs.pem" "$X/leaf.pem"

tool_rc 0 export --label dev-exp --format p7b-der --out "$X/leaf.p7b"
run openssl pkcs7 -inform DER -in "$X/leaf.p7b" -print_certs -out "$X/p7leaf.pem"
[ "$(grep -c 'BEGIN CERTIFICATE' "$X/p7leaf.pem")" = 1 ] || fail "leaf-only PKCS#7 holds more"

ORDER=$("$P11P_TOOL" orders --json --label dev-exp | python3 -c 'import json,sys; print(json.load(sys.stdin)["orders"][0]["id"])')
tool_rc 0 export --order "$ORDER" --out "$X/by-order.pem"
cmp "$X/by-order.pem" "$X/leaf.pem" || fail "export --order gave another certificate"

# Never a private key; a selection of nothing or of several is bad input.
if grep -l 'PRIVATE KEY' "$X"/* >/dev/null 2>&1; then fail "a private key was exported"; fi
tool_rc 2 export --label no-such-label
tool_rc 2 export --label 'dev-*'
tool_rc 2 export
tool_rc 2 export --uri "pkcs11:token=other-token;object=dev-exp"
tool_rc 0 export --help
grep -i 'never exports a private key' "$TOOL_OUT" >/dev/null || fail "--help does not say no private key"

# ---- delete ----
cp "$SIM_DIR/ledger.json" "$TEST_DIR/ledger.before"
cp "$SIM_DIR/journal.jsonl" "$TEST_DIR/journal.before"
p11 --list-objects >"$TEST_DIR/objs.before" 2>/dev/null

# No --yes, no terminal: refuses with exit 6, nothing removed.
rc=0
setsid "$P11P_TOOL" delete --label dev-exp --pin-source "$PIN_FILE" \
    </dev/null >"$TEST_DIR/del.out" 2>"$TEST_DIR/del.err" || rc=$?
cat "$TEST_DIR/del.err"
[ "$rc" = 6 ] || fail "delete without --yes and no terminal exited $rc, expected 6"
grep 'pass --yes' "$TEST_DIR/del.err" >/dev/null || fail "no message saying to pass --yes"
grep 'stays valid at the portal' "$TEST_DIR/del.err" >/dev/null || fail "the question does not say the portal is not touched"
p11 --list-objects >"$TEST_DIR/objs.mid" 2>/dev/null
cmp "$TEST_DIR/objs.before" "$TEST_DIR/objs.mid" || fail "refused delete removed objects"

# --yes: key pair, certificate and order object go.
tool_rc 0 delete --label dev-exp --yes
cat "$TOOL_OUT" "$TOOL_ERR"
grep 'stays valid at the portal' "$TOOL_OUT" >/dev/null || fail "delete output does not say the portal was not touched"
if is_hsm; then
    grep 'backing HSM key destroyed' "$TOOL_OUT" >/dev/null || fail "delete does not say the backing key is destroyed"
fi
p11 --login --pin "$USER_PIN" --list-objects >"$TEST_DIR/objs.after" 2>/dev/null
if grep "ID: *$ID" "$TEST_DIR/objs.after" >/dev/null; then
    cat "$TEST_DIR/objs.after"
    fail "an object with dev-exp's CKA_ID is left"
fi
if grep 'label: *dev-exp' "$TEST_DIR/objs.after" >/dev/null; then fail "an object labelled dev-exp is left"; fi
grep 'label: *dev-keep' "$TEST_DIR/objs.after" >/dev/null || fail "dev-keep was deleted too"
grep 'Simulator Root CA' "$TEST_DIR/objs.after" >/dev/null || fail "the chain objects were deleted"
if is_hsm; then
    # The backing HSM key of dev-exp is destroyed with it.
    backing_keys >"$TEST_DIR/backing.txt"
    cat "$TEST_DIR/backing.txt"
    if grep -i "^$ID " "$TEST_DIR/backing.txt" >/dev/null; then fail "dev-exp's backing key is left"; fi
    grep -i "^$(key_id dev-keep) " "$TEST_DIR/backing.txt" >/dev/null || fail "dev-keep's backing key is gone"
fi
# The order record stays as history, detached from the deleted objects.
"$P11P_TOOL" orders --json --label dev-exp >"$TEST_DIR/o.json"
[ "$(tool_json "$TEST_DIR/o.json" 'd["orders"][0]["cert_object"]')" = 0 ] || fail "order still points at the deleted certificate"

# The portal was never contacted.
cmp "$SIM_DIR/ledger.json" "$TEST_DIR/ledger.before" || fail "the portal ledger changed"
cmp "$SIM_DIR/journal.jsonl" "$TEST_DIR/journal.before" || fail "delete sent a portal request"

# --cert-only: the certificate goes, the key stays.
KID=$(key_id dev-keep)
tool_rc 0 delete --id "$KID" --cert-only --yes --json
[ "$(tool_json "$TOOL_OUT" 'len(d["deleted"])')" = 1 ] || fail "--cert-only deleted more than the certificate"
[ "$(tool_json "$TOOL_OUT" 'd["portal_contacted"]')" = False ] || fail "JSON does not say the portal was not contacted"
p11 --login --pin "$USER_PIN" --list-objects >"$TEST_DIR/objs.last" 2>/dev/null
grep -E "^Private Key Object" "$TEST_DIR/objs.last" >/dev/null || fail "--cert-only removed the key"
tool_rc 2 delete --label no-such-label --yes
echo "PASS"

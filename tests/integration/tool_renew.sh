#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 240
# Issue 7: p11portal renew against the portal simulator (Sectigo SSL,
# renewById):
#   - same key: a new certificate of the same key is stored, the ledger's
#     new order says renewed_from the old one, the old order is renewed;
#   - new key: a new key pair (new CKA_ID) with its certificate, the old
#     key and certificate stay;
#   - a renewal pending approval: the old certificate stays, its order
#     stays issued until the new one is stored (approval + sync); a second
#     renewal of the same certificate, from two processes at once, is
#     refused: exactly one renewal order at the portal;
#   - --dry-run and --within list without touching anything;
#   - Sectigo device certificates: a new key is enrolled anew (the device
#     renew call reuses the old CSR), the same key goes through renew.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sim_lib.sh"
. "$(dirname "$0")/tool_lib.sh"

SIM_ENROLL_WAIT_MS=2000
sim_start
sim_conf_token sectigo 1001
init_token
keygen EC:prime256v1 dev-a
keygen EC:prime256v1 dev-b
# Profile 1003 waits for approval: its renewals do too.
sim_conf_token sectigo 1003
keygen EC:prime256v1 dev-c
PIDC=$(order_field dev-c portal_id)
run simctl approve "$PIDC" "approved by the test" >/dev/null
tool_rc 0 sync
[ "$(order_field dev-c state)" = issued ] || fail "dev-c not issued after approval + sync"

orders_json() {
    "$P11P_TOOL" orders --json >"$TEST_DIR/orders.json" || fail "orders failed"
}
# order_of <label> <state>: local order id of the label's order in state.
order_of() {
    orders_json
    tool_json "$TEST_DIR/orders.json" \
        "' '.join(str(o['id']) for o in d['orders'] if o['label'] == '$1' and o['state'] == '$2')"
}
# renewals_of <portal id>: ledger orders renewed from it.
renewals_of() {
    python3 -c 'import json,sys
print(sum(1 for o in json.load(open(sys.argv[1]))["orders"] if str(o.get("renewed_from")) == sys.argv[2]))' \
        "$SIM_DIR/ledger.json" "$1"
}
certs_of() { # <CKA_ID hex>: leaf certificate objects with that CKA_ID
    p11 --list-objects --type cert 2>/dev/null | grep -c "ID: *$1\$" || true
}

# --dry-run and --within: nothing expires within 30 days (fresh
# certificates), all within 10 years; nothing changes.
tool_rc 0 renew --within 30d --dry-run
grep 'nothing to renew' "$TOOL_OUT" >/dev/null || fail "--within 30d found something to renew"
tool_rc 0 renew --within 3650d --dry-run --json
[ "$(tool_json "$TOOL_OUT" 'len(d["certificates"])')" = 3 ] || fail "--within 3650d --dry-run did not list 3"
[ "$(simctl journal | grep -c renewById || true)" = 0 ] || fail "--dry-run sent a renewal"

# 1. Same key.
PIDA=$(order_field dev-a portal_id)
IDA=$(key_id dev-a)
tool_rc 0 renew --label dev-a --same-key --yes --json
cat "$TOOL_OUT"
[ "$(tool_json "$TOOL_OUT" 'd["certificates"][0]["state"]')" = issued ] || fail "same-key renewal not issued"
[ "$(renewals_of "$PIDA")" = 1 ] || fail "ledger: $(renewals_of "$PIDA") renewals of $PIDA, expected 1"
[ -n "$(order_of dev-a renewed)" ] || fail "the old order of dev-a is not 'renewed'"
[ "$(certs_of "$IDA")" = 2 ] || fail "dev-a: expected the new and the old certificate (same CKA_ID)"
[ "$(key_id dev-a)" = "$IDA" ] || fail "same-key renewal changed the key"

# 2. New key: a new CKA_ID; the old key and certificate stay.
PIDB=$(order_field dev-b portal_id)
IDB=$(key_id dev-b)
tool_rc 0 renew --label dev-b --new-key --yes --json
cat "$TOOL_OUT"
[ "$(tool_json "$TOOL_OUT" 'd["certificates"][0]["state"]')" = issued ] || fail "new-key renewal not issued"
[ "$(renewals_of "$PIDB")" = 1 ] || fail "ledger: no renewal of $PIDB"
p11 --list-objects --type privkey --login --pin "$USER_PIN" >"$TEST_DIR/privs.txt" 2>/dev/null
[ "$(grep -c 'label: *dev-b$' "$TEST_DIR/privs.txt")" = 2 ] || fail "dev-b: expected the old and the new private key"
NEWIDB=$(grep -A4 'label: *dev-b$' "$TEST_DIR/privs.txt" | awk '$1 == "ID:" {print $2}' | grep -v "^$IDB\$" | head -1)
[ -n "$NEWIDB" ] || fail "dev-b: no key with a new CKA_ID"
[ "$(certs_of "$IDB")" = 1 ] || fail "dev-b: the old certificate is gone"
[ "$(certs_of "$NEWIDB")" = 1 ] || fail "dev-b: no certificate with the new key's CKA_ID $NEWIDB"
[ -n "$(order_of dev-b renewed)" ] || fail "the old order of dev-b is not 'renewed'"

# 3. Pending renewal; two renewals of dev-c at once: one order only.
IDC=$(key_id dev-c)
OLDC=$(order_of dev-c issued)
rc1=0
rc2=0
tool renew --label dev-c --yes >"$TEST_DIR/r1.out" 2>&1 &
p1=$!
STARTED_PIDS+=("$p1")
tool renew --label dev-c --yes >"$TEST_DIR/r2.out" 2>&1 || rc2=$?
wait "$p1" || rc1=$?
cat "$TEST_DIR/r1.out" "$TEST_DIR/r2.out"
echo "concurrent renewals: exit $rc1 and $rc2"
[ "$(renewals_of "$PIDC")" = 1 ] || fail "ledger: $(renewals_of "$PIDC") renewals of $PIDC, expected exactly 1"
case "$rc1 $rc2" in
"3 2" | "2 3") ;;
*) fail "expected one pending renewal (3) and one refused (2), got $rc1 and $rc2" ;;
esac
grep 'already being renewed' "$TEST_DIR/r1.out" "$TEST_DIR/r2.out" >/dev/null || fail "no 'already being renewed'"
# Pending: the old certificate and its issued order stay.
[ "$(order_of dev-c issued)" = "$OLDC" ] || fail "dev-c's order is no longer issued while the renewal is pending"
[ "$(certs_of "$IDC")" = 1 ] || fail "dev-c: the old certificate is gone while the renewal is pending"
# And again later: still refused.
tool_rc 2 renew --label dev-c --yes
# Approved at the portal: the next sync stores it; the old order is renewed.
orders_json
NEWPID=$(tool_json "$TEST_DIR/orders.json" "[o['portal_id'] for o in d['orders'] if o['label'] == 'dev-c' and o['state'] == 'pending_approval'][0]")
run simctl approve "$NEWPID" "approved by the test" >/dev/null
tool_rc 0 sync
[ "$(order_of dev-c renewed)" = "$OLDC" ] || fail "dev-c's old order is not renewed after the new certificate landed"
[ "$(certs_of "$IDC")" = 2 ] || fail "dev-c: expected the new and the old certificate"

# Sectigo device certificates: the portal's device renew call takes no CSR
# (it certifies the old key again), so a new-key renewal is enrolled as a
# new certificate; a same-key one still uses the renew call.
SIM_SECTIGO_FAMILY=device sim_conf_token sectigo 2001
keygen EC:prime256v1 dev-d
tool_rc 0 renew --label dev-d --new-key --yes --json
[ "$(tool_json "$TOOL_OUT" 'd["certificates"][0]["state"]')" = issued ] || fail "device new-key renewal not issued"
[ "$(simctl journal | grep -c 'renew/order' || true)" = 0 ] || fail "a new-key device renewal used the renew call"
tool_rc 0 renew --label dev-d --same-key --yes --json
[ "$(simctl journal | grep -c 'renew/order' || true)" -ge 1 ] || fail "a same-key device renewal did not use the renew call"

ledger_check
echo "PASS"

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 180
# Issue 7: p11portal revoke against the portal simulator (Sectigo SSL):
#   - without --yes and without a terminal: refused (exit 6), nothing sent;
#   - by serial with --reason keyCompromise: the ledger says revoked with
#     Sectigo's reason code 1, the order object says revoked, the
#     certificate object stays on the token;
#   - again: "already revoked", exit 0, nothing sent;
#   - an unknown reason name is exit 2;
#   - sync sees a certificate revoked at the portal (by the portal's
#     admin) and marks its order revoked.
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
[ "$(order_field dev-a state)" = issued ] || fail "dev-a not issued"

# serial_of <label>: the certificate's serial (hex), from the token.
serial_of() {
    "$P11P_TOOL" export --label "$1" >"$TEST_DIR/$1.pem" || fail "export $1 failed"
    openssl x509 -in "$TEST_DIR/$1.pem" -noout -serial | cut -d= -f2
}
revoke_posts() {
    simctl journal | python3 -c 'import json,sys
print(sum(1 for e in json.load(sys.stdin)["entries"] if e["method"] == "POST" and "/revoke" in e["path"]))'
}
ledger_order() { # <portal id> <field>
    python3 -c 'import json,sys
for o in json.load(open(sys.argv[1]))["orders"]:
    if str(o["id"]) == sys.argv[2]: print(o.get(sys.argv[3]))' "$SIM_DIR/ledger.json" "$1" "$2"
}

SERIAL=$(serial_of dev-a)
PID=$(order_field dev-a portal_id)
echo "dev-a: serial $SERIAL, portal order $PID"

# 1. No --yes, no terminal: refused, nothing sent.
tool_rc 2 revoke --serial "$SERIAL" --reason no-such-reason
tool_rc 6 revoke --serial "$SERIAL" --reason keyCompromise </dev/null
[ "$(revoke_posts)" = 0 ] || fail "a revoke was sent without confirmation"
[ "$(order_field dev-a state)" = issued ] || fail "dev-a changed without confirmation"

# 2. By serial, keyCompromise: Sectigo reasonCode 1 in the ledger.
tool_rc 0 revoke --serial "$SERIAL" --reason keyCompromise --yes --json
cat "$TOOL_OUT"
[ "$(tool_json "$TOOL_OUT" 'd["certificates"][0]["ok"]')" = True ] || fail "revoke not ok"
[ "$(ledger_order "$PID" state)" = revoked ] || fail "ledger: order $PID is $(ledger_order "$PID" state)"
[ "$(ledger_order "$PID" revoke_reason_code)" = 1 ] ||
    fail "ledger: reason code $(ledger_order "$PID" revoke_reason_code), expected 1 (keyCompromise)"
[ "$(order_field dev-a state)" = revoked ] || fail "order object of dev-a is $(order_field dev-a state)"
"$P11P_TOOL" export --label dev-a >/dev/null || fail "the revoked certificate is gone from the token"
[ "$(order_field dev-b state)" = issued ] || fail "dev-b was touched"

# 3. Again: already revoked, nothing sent.
posts=$(revoke_posts)
tool_rc 0 revoke --serial "$SERIAL" --yes
grep 'already revoked' "$TOOL_OUT" >/dev/null || fail "second revoke does not say 'already revoked'"
[ "$(revoke_posts)" = "$posts" ] || fail "second revoke was sent to the portal"

# 4. Revoked by the portal's admin: sync notices.
PIDB=$(order_field dev-b portal_id)
run simctl revoke "$PIDB" "revoked by the operator" >/dev/null
tool_rc 0 sync --refresh-interval 0 --json
cat "$TOOL_OUT"
[ "$(order_field dev-b state)" = revoked ] || fail "sync did not mark dev-b revoked"

ledger_check
echo "PASS"

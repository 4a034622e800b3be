#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 240
# Issue 7: p11portal sync against the portal simulator (Sectigo SSL):
#   - orders pending approval at the portal, approved there; two sync
#     processes at once (with latency at the portal so that they overlap):
#     every order issued once, on the token and in the ledger, no request
#     sent twice (journal), both exit 0;
#   - a third run exits at once with "nothing to do";
#   - an order still pending: exit 3;
#   - --json output;
#   - conf/p11portal-sync.service and .timer (systemd-analyze verify where
#     it exists).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sim_lib.sh"
. "$(dirname "$0")/tool_lib.sh"

SIM_ENROLL_WAIT_MS=500
sim_start
sim_conf_token sectigo 1003
init_token
N=4
PIDS=()
for i in $(seq 1 $N); do
    keygen EC:prime256v1 "dev-$i"
    [ "$(order_field "dev-$i" state)" = pending_approval ] || fail "dev-$i is not pending approval"
    PIDS+=("$(order_field "dev-$i" portal_id)")
done
# Approved at the portal; no module session runs before the syncs (a
# session would collect them itself).
for p in "${PIDS[@]}"; do
    run simctl approve "$p" "approved by the test" >/dev/null
done

posts() { # <path regex>: POST requests seen by the portal
    simctl journal | python3 -c 'import json,re,sys
print(sum(1 for e in json.load(sys.stdin)["entries"] if e["method"] == "POST" and re.search(sys.argv[1], e["path"])))' "$1"
}
enrolls=$(posts '/enroll$')
[ "$enrolls" = "$N" ] || fail "$enrolls enroll requests before sync, expected $N"

# Two at once, with 150 ms per portal request so that they overlap.
run simctl latency 150 >/dev/null
rc1=0
rc2=0
tool sync --json >"$TEST_DIR/s1.json" 2>"$TEST_DIR/s1.err" &
p1=$!
STARTED_PIDS+=("$p1")
tool sync --json >"$TEST_DIR/s2.json" 2>"$TEST_DIR/s2.err" || rc2=$?
wait "$p1" || rc1=$?
cat "$TEST_DIR/s1.json" "$TEST_DIR/s2.json"
echo "sync exits: $rc1 $rc2"
[ "$rc1 $rc2" = "0 0" ] || fail "sync exited $rc1 and $rc2, expected 0 and 0"
run simctl latency 0 >/dev/null
for i in $(seq 1 $N); do
    [ "$(order_field "dev-$i" state)" = issued ] || fail "dev-$i is $(order_field "dev-$i" state) after sync"
done
# Together the two runs report every order issued (each run reports what
# changed while it ran, whichever process did it).
python3 - "$TEST_DIR/s1.json" "$TEST_DIR/s2.json" "$N" <<'PY'
import json, sys
seen = set()
for f in sys.argv[1:3]:
    seen |= {c["order"] for c in json.load(open(f))["changes"] if c["to"] == "issued"}
assert len(seen) == int(sys.argv[3]), "issued changes: %r" % sorted(seen)
PY
# Each certificate was downloaded, stored and moved once: one certificate
# object per key (below), one order per key in the ledger, no enroll sent
# again.
[ "$(posts '/enroll$')" = "$N" ] || fail "sync sent enroll requests again"
[ "$(posts '/approve|/renew|/revoke')" = 0 ] || fail "sync sent other requests"
p11 --list-objects --type cert >"$TEST_DIR/certs.txt" 2>/dev/null
for i in $(seq 1 $N); do
    [ "$(grep -c "ID: *$(key_id "dev-$i")\$" "$TEST_DIR/certs.txt")" = 1 ] ||
        fail "dev-$i: not exactly one certificate on the token"
done
ledger_check

# Nothing pending, every certificate checked: nothing to do.
tool_rc 0 sync
grep -x 'nothing to do' "$TOOL_OUT" >/dev/null || { cat "$TOOL_OUT"; fail "third sync did not say 'nothing to do'"; }
tool_rc 0 sync --json
[ "$(tool_json "$TOOL_OUT" 'd["nothing_to_do"]')" = True ] || fail "--json: nothing_to_do is not true"

# An order still pending at the portal: exit 3.
keygen EC:prime256v1 dev-late
tool_rc 3 sync --budget 5
grep -x 'no changes' "$TOOL_OUT" >/dev/null || fail "sync with a pending order: expected 'no changes'"
grep '1 orders still pending' "$TOOL_ERR" >/dev/null || fail "sync does not say what is pending"
tool_rc 2 sync --budget 0

# The systemd units of unattended operation (conf/): they run sync, then
# renew --within 30d --yes, and the timer is daily and persistent.
# systemd-analyze verify checks them (with the tool under test in place of
# /usr/bin/p11portal, which verify wants to exist), where it is installed.
SVC=$P11P_SOURCE_DIR/conf/p11portal-sync.service
TMR=$P11P_SOURCE_DIR/conf/p11portal-sync.timer
grep -E '^ExecStart=/usr/bin/p11portal sync ' "$SVC" >/dev/null || fail "service does not run sync"
grep -E '^ExecStart=/usr/bin/p11portal renew --within 30d --yes ' "$SVC" >/dev/null || fail "service does not renew"
grep -x 'Type=oneshot' "$SVC" >/dev/null || fail "service is not oneshot"
grep -x 'Persistent=true' "$TMR" >/dev/null || fail "timer is not persistent"
grep -E '^RandomizedDelaySec=' "$TMR" >/dev/null || fail "timer has no RandomizedDelaySec"
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$TEST_DIR/units"
    sed "s#/usr/bin/p11portal#$P11P_TOOL#" "$SVC" >"$TEST_DIR/units/p11portal-sync.service"
    cp "$TMR" "$TEST_DIR/units/"
    run systemd-analyze verify --man=no "$TEST_DIR/units/p11portal-sync.service" \
        "$TEST_DIR/units/p11portal-sync.timer" || fail "systemd-analyze verify failed"
else
    echo "systemd-analyze not installed: units not verified"
fi
echo "PASS"

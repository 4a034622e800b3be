#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 300
#
# `p11portal batch --portal-batch` (issue 7 item 2) against the
# simulator's DigiCert batch API (docs/portals/digicert.md "Portal batch
# jobs"):
#  - a job of 6 devices shows as pending approval; one approval
#    (portal-simctl approve-job) issues all: after `p11portal sync` every
#    device's certificate is on the token, the ledger has one order per key,
#    each tagged with the job id, the report says issued;
#  - another job of 4 is rejected (portal-simctl reject-job): every
#    device's order is rejected with the reason, the licences are given back
#    (the portal's balance as before the job), no key objects are left.
# The engine side alone is tested by sim_portal_job.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tool_lib.sh"
. "$(dirname "$0")/sim_lib.sh"

APPROVAL=IOT_5f0c0a6e-51a1-4c1e-9a55-000000000003
sim_start
simctl profile "{\"api\":\"digicert\",\"id\":\"$APPROVAL\",\"quota\":50}" >/dev/null
sim_conf_token digicert "$APPROVAL" \
    "mac_start = 00:1b:c5:00:00:00" "mac_end = 00:1b:c5:00:ff:ff"
init_token

licences() {
    simctl ledger | python3 -c 'import json,sys
print(json.load(sys.stdin)["quota_used"].get(sys.argv[1], 0))' "digicert:$APPROVAL"
}
pending_job() {
    simctl jobs | python3 -c 'import json,sys
j = [x for x in json.load(sys.stdin)["jobs"] if x["status"] == "PENDING_APPROVAL"]
print(j[-1]["id"] if j else "")'
}

# --- a job approved ---
rc=0
tool batch --token p11portal --start-mac 00:1b:c5:00:01:00 --count 6 --portal-batch \
    --wait 0 --report-json "$TEST_DIR/r1.json" >"$TEST_DIR/b1.out" 2>"$TEST_DIR/b1.err" || rc=$?
if [ "$rc" -eq 2 ] && grep 'not available' "$TEST_DIR/b1.err" >/dev/null; then
    skip "p11portal batch --portal-batch is not wired in this build"
fi
[ "$rc" -eq 3 ] || { cat "$TEST_DIR/b1.out" "$TEST_DIR/b1.err"; fail "batch --portal-batch exited $rc, expected 3 (pending)"; }
J1=$(pending_job)
[ -n "$J1" ] || fail "no job pending approval at the portal"
[ "$(tool_json "$TEST_DIR/r1.json" 'sum(1 for x in d["devices"] if x["state"] == "pending_approval")')" -eq 6 ] ||
    fail "the report does not show 6 devices pending approval"
[ "$(licences)" -eq 6 ] || fail "6 licences should be in use"
simctl approve-job "$J1" >/dev/null
tool_rc 0 sync --token p11portal
tool_rc 0 batch --token p11portal --start-mac 00:1b:c5:00:01:00 --count 6 --portal-batch \
    --wait 5 --report-json "$TEST_DIR/r1b.json"
[ "$(tool_json "$TEST_DIR/r1b.json" 'sum(1 for x in d["devices"] if x["state"] == "issued")')" -eq 6 ] ||
    fail "the report does not show 6 devices issued"
python3 - "$SIM_DIR/ledger.json" "$J1" <<'PY' || fail "ledger"
import json, sys
led = json.load(open(sys.argv[1]))
mine = [o for o in led["orders"] if o.get("job_id") == sys.argv[2]]
assert len(mine) == 6 and all(o["state"] == "issued" for o in mine), [(o["id"], o["state"]) for o in mine]
assert len(led["orders"]) == 6, "an order outside the job"
PY
ledger_check
token_check --final
echo "approved job: 6 certificates on the token"

# --- a job rejected ---
before=$(licences)
rc=0
tool batch --token p11portal --start-mac 00:1b:c5:00:02:00 --count 4 --portal-batch \
    --wait 0 --report-json "$TEST_DIR/r2.json" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 3 ] || fail "second batch exited $rc, expected 3"
J2=$(pending_job)
{ [ -n "$J2" ] && [ "$J2" != "$J1" ]; } || fail "no second job pending approval"
[ "$(licences)" -eq $((before + 4)) ] || fail "4 more licences should be in use"
simctl reject-job "$J2" "line 7 has no budget" >/dev/null
tool_rc 0 sync --token p11portal
for i in 0 1 2 3; do
    [ "$(order_field "00:1b:c5:00:02:0$i" state)" = rejected ] || fail "device $i: order not rejected"
    order_field "00:1b:c5:00:02:0$i" error | grep 'line 7 has no budget' >/dev/null ||
        fail "device $i: the order does not say why"
done
[ "$(licences)" -eq "$before" ] || fail "the licences were not given back"
python3 - "$SIM_DIR/ledger.json" "$J2" <<'PY' || fail "ledger"
import json, sys
led = json.load(open(sys.argv[1]))
mine = [o for o in led["orders"] if o.get("job_id") == sys.argv[2]]
assert len(mine) == 4 and all(o["state"] == "rejected" and o["reason"] == "line 7 has no budget" for o in mine)
PY
left=$(p11 --login --pin "$USER_PIN" -O 2>/dev/null | grep -c 'label: *00:1b:c5:00:02:' || true)
[ "$left" -eq 0 ] || fail "$left objects of the rejected devices are left"
ledger_check
echo "rejected job: 4 orders rejected, licences back, no keys left"
echo "PASS"

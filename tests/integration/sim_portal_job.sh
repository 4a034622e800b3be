#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 240
#
# Portal batch jobs (core/enroll/job.c, issue 7 item 2) against the
# simulator's DigiCert batch API, through the engine directly
# (tests/component/t_portal_job.c; tool_portal_batch.sh does the same
# through `p11portal batch --portal-batch`):
#  - keys made with defer_submit are not submitted by the collector;
#  - one job of 5 orders, pending approval; approved with portal-simctl:
#    one collect stores every certificate (job polled once), one ledger
#    order per key, each tagged with the job id;
#  - a job of 3 rejected: every order REJECTED with the reason, key objects
#    gone, the licences given back (balance as before);
#  - a job whose reply is lost (drop_after): reconciled by name, never
#    submitted twice;
#  - a plain enroll beyond the quota: rejected with a quota message.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sim_lib.sh"

T=${P11P_T_PORTAL_JOB:-}
{ [ -n "$T" ] && [ -x "$T" ]; } || skip "t_portal_job not built"
PIN_FILE=$TEST_DIR/user.pin
(umask 077 && printf '%s\n' "$USER_PIN" >"$PIN_FILE")
job() { "${MODULE_ENV[@]}" "$T" "$PIN_FILE" "$@"; }

APPROVAL=IOT_5f0c0a6e-51a1-4c1e-9a55-000000000003
sim_start
simctl profile "{\"api\":\"digicert\",\"id\":\"$APPROVAL\",\"quota\":100}" >/dev/null
SIM_TIMEOUT_MS=2000 sim_conf_token digicert "$APPROVAL"
init_token

left0=$(job licences | awk '{print $2}')
[ "$left0" = 100 ] || fail "licences before: $left0"

# --- a job approved ---
job make 5 ok >"$TEST_DIR/ok.ids" 2>>"$TEST_DIR/t.log"
[ "$(wc -l <"$TEST_DIR/ok.ids")" -eq 5 ] || fail "5 orders expected"
job collect >/dev/null 2>>"$TEST_DIR/t.log"
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["orders"]))' "$SIM_DIR/ledger.json")
[ "$n" -eq 0 ] || fail "deferred orders were submitted by the collector ($n)"
mapfile -t ids <"$TEST_DIR/ok.ids"
out=$(job submit "${ids[@]}" 2>>"$TEST_DIR/t.log")
J1=${out#job }
{ [ -n "$J1" ] && [ "$J1" != "$out" ]; } || fail "submit: $out"
echo "job $J1 submitted"
job orders >"$TEST_DIR/o1" 2>/dev/null
[ "$(grep -c " pending_approval job:$J1#" "$TEST_DIR/o1")" -eq 5 ] || { cat "$TEST_DIR/o1"; fail "orders not pending approval"; }
[ "$(job licences | awk '{print $2}')" = 95 ] || fail "5 licences should be in use"
# A second submission of the same orders is refused (never twice).
rc=0; job submit "${ids[@]}" >/dev/null 2>>"$TEST_DIR/t.log" || rc=$?
[ "$rc" -eq 3 ] || fail "second submission of the same orders: exit $rc"
simctl approve-job "$J1" >/dev/null
simctl journal >/dev/null
before=$(wc -l <"$SIM_DIR/journal.jsonl")
job collect >/dev/null 2>>"$TEST_DIR/t.log"
after=$(wc -l <"$SIM_DIR/journal.jsonl")
job orders >"$TEST_DIR/o2" 2>/dev/null
[ "$(grep -c ' issued ' "$TEST_DIR/o2")" -eq 5 ] || { cat "$TEST_DIR/o2"; fail "not all issued"; }
# One job status GET + one download page: not one request per order.
[ $((after - before)) -eq 2 ] || fail "collect made $((after - before)) requests for one job"
echo "approved: 5 issued with $((after - before)) requests"
python3 - "$SIM_DIR/ledger.json" "$J1" <<'PY' || fail "ledger"
import json, sys
led = json.load(open(sys.argv[1]))
mine = [o for o in led["orders"] if o.get("job_id") == sys.argv[2]]
assert len(mine) == 5 and all(o["state"] == "issued" for o in mine), mine
assert sorted(o["job_index"] for o in mine) == list(range(5))
PY
ledger_check

# --- a job rejected ---
job make 3 no >"$TEST_DIR/no.ids" 2>>"$TEST_DIR/t.log"
mapfile -t ids <"$TEST_DIR/no.ids"
out=$(job submit "${ids[@]}" 2>>"$TEST_DIR/t.log")
J2=${out#job }
[ "$(job licences | awk '{print $2}')" = 92 ] || fail "3 more licences should be in use"
simctl reject-job "$J2" "no budget for line 7" >/dev/null
job collect >/dev/null 2>>"$TEST_DIR/t.log"
job orders >"$TEST_DIR/o3" 2>/dev/null
for id in "${ids[@]}"; do
    grep "^$id rejected " "$TEST_DIR/o3" >/dev/null || { cat "$TEST_DIR/o3"; fail "order $id not rejected"; }
done
[ "$(job licences | awk '{print $2}')" = 95 ] || fail "licences not given back"
grep 'rejected by the portal: .*no budget for line 7' "$TEST_DIR/t.log" >/dev/null || fail "the reason is not logged"
keys=$(p11 --login --pin "$USER_PIN" -O 2>/dev/null | grep -c 'label: *no-' || true)
[ "$keys" -eq 0 ] || fail "$keys key objects of the rejected job are left"
keys=$(p11 --login --pin "$USER_PIN" -O 2>/dev/null | grep -c 'label: *ok-' || true)
[ "$keys" -ge 15 ] || fail "approved keys/certificates missing ($keys objects)"
echo "rejected: 3 orders rejected, keys dropped, licences back"
ledger_check

# --- a job of an auto-approving profile: issued within the submission ---
sed -i "s/^profile = .*/profile = IOT_5f0c0a6e-51a1-4c1e-9a55-000000000001/" "$P11PORTAL_CONF"
job make 2 auto >"$TEST_DIR/auto.ids" 2>>"$TEST_DIR/t.log"
mapfile -t ids <"$TEST_DIR/auto.ids"
job submit "${ids[@]}" >/dev/null 2>>"$TEST_DIR/t.log" || fail "auto job refused"
job orders >"$TEST_DIR/o6" 2>/dev/null
for id in "${ids[@]}"; do
    grep "^$id issued " "$TEST_DIR/o6" >/dev/null || { cat "$TEST_DIR/o6"; fail "order $id of an auto-approved job not issued at once"; }
done
sed -i "s/^profile = .*/profile = $APPROVAL/" "$P11PORTAL_CONF"
echo "auto-approved job: issued within the submission"

# --- a job whose reply is lost: reconciled by name, never sent twice ---
sim_fault '{"type":"drop_after","api":"digicert","method":"POST","path":"/batch-enroll$"}'
job make 2 lost >"$TEST_DIR/lost.ids" 2>>"$TEST_DIR/t.log"
mapfile -t ids <"$TEST_DIR/lost.ids"
job submit "${ids[@]}" >/dev/null 2>>"$TEST_DIR/t.log" || true
job orders >"$TEST_DIR/o4" 2>/dev/null
[ "$(grep -c ' submitting job:name:' "$TEST_DIR/o4")" -eq 2 ] || { cat "$TEST_DIR/o4"; fail "not submitting"; }
# The simulator got the job; the engine waits timeout + 5 s, then finds it.
for _ in $(seq 1 20); do
    job collect >/dev/null 2>>"$TEST_DIR/t.log"
    job orders >"$TEST_DIR/o5" 2>/dev/null
    grep ' pending_approval job:' "$TEST_DIR/o5" >/dev/null && break
    sleep 0.5
done
[ "$(grep -c ' pending_approval job:' "$TEST_DIR/o5")" -eq 2 ] || { cat "$TEST_DIR/o5"; fail "not reconciled"; }
jobs=$(simctl jobs | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))')
[ "$jobs" -eq 4 ] || fail "$jobs jobs at the portal, expected 4 (never twice)"
echo "lost reply: reconciled by name, 4 jobs in all"
ledger_check

# --- a plain enroll beyond the quota: rejected, and the message says so ---
QUOTA=IOT_5f0c0a6e-51a1-4c1e-9a55-000000000005
simctl quota digicert "$QUOTA" 2 >/dev/null
sed -i "s/^profile = .*/profile = $QUOTA/" "$P11PORTAL_CONF"
rc=0
keygen EC:prime256v1 q-1 2>"$TEST_DIR/q.err" || rc=$?
[ "$rc" -ne 0 ] || fail "an enroll beyond the quota succeeded"
grep 'quota exhausted: no licences left' "$TEST_DIR/q.err" >/dev/null || { cat "$TEST_DIR/q.err"; fail "the refusal does not say quota"; }
[ "$(job licences | awk '{print $2}')" = 0 ] || fail "the quota profile should report 0 licences"
echo "quota: plain enroll refused with a quota message"
echo "PASS"

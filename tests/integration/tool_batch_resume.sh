#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 400
#
# Issue 7's proof for p11portal batch: 1,000 devices against the portal
# simulator (DigiCert driver) with faults injected at random enroll
# requests (503 before processing, connection dropped after processing),
# the tool killed with -9 after some hundreds of orders, then the same
# command again. Afterwards: exactly 1,000 certificates on the token for
# 1,000 distinct MACs in sequence, 1,000 orders in the simulator's ledger
# and never two for one key (ledger_check), no lost key and no wrong
# certificate (token_check --final), and the report matching the token.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sim_lib.sh"
. "$(dirname "$0")/tool_lib.sh"

N=${P11P_BATCH_RESUME_N:-1000}
KILL_AT=$((N * 3 / 10))
SIM_ENROLL_WAIT_MS=2000
SIM_TIMEOUT_MS=15000
sim_start
sim_conf_token digicert IOT_5f0c0a6e-51a1-4c1e-9a55-000000000001 \
    "mac_start = 02:00:5e:00:00:00" "mac_end = 02:00:5e:00:ff:ff" \
    "find_max_items = $((N + 200))"
init_token
cd "$TEST_DIR"
DB=$DATA_DIR/p11portal.db
simctl fault '[{"type":"http_error","api":"digicert","method":"POST","path":"/certificate$","probability":0.01,"seed":7,"count":0},
               {"type":"drop_after","api":"digicert","method":"POST","path":"/certificate$","probability":0.01,"seed":11,"count":0}]' >/dev/null

BATCH=(batch --start-mac 02:00:5e:00:10:00 --count "$N" --concurrency 8
    --wait 180 --report-json report.json --report report.csv)

# orders_in_cache: how many orders the token's cache holds.
orders_in_cache() {
    python3 -c 'import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
print(c.execute("SELECT count(*) FROM orders").fetchone()[0])' "$DB" 2>/dev/null || echo 0
}

# 1. First run, killed with -9 once some hundreds of devices have orders.
"$P11P_TOOL" "${BATCH[@]}" --pin-source "$PIN_FILE" -q >run1.out 2>run1.err &
pid=$!
STARTED_PIDS+=("$pid")
n=0
for _ in $(seq 1 600); do
    n=$(orders_in_cache)
    [ "$n" -ge "$KILL_AT" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -9 "$pid" 2>/dev/null || fail "the batch ended before the kill ($n orders): $(tail -3 run1.err)"
wait "$pid" 2>/dev/null || true
echo "killed with $(orders_in_cache) orders in the cache"
[ ! -e report.json ] || fail "a killed run left a report"

# 2. The same command again: continues, collects, completes.
tool_rc 0 "${BATCH[@]}" --json
cat "$TOOL_OUT"
[ "$(tool_json "$TOOL_OUT" 'd["issued"]')" = "$N" ] || fail "not all issued"
[ "$(tool_json "$TOOL_OUT" 'd["done_before"]')" -ge "$KILL_AT" ] || fail "the resumed run redid devices"
faults_report || true

# 3. The simulator: N orders, one per key; the token agrees with it.
ledger_check | tee ledger.txt
grep "^orders=$N max_per_key=1$" ledger.txt >/dev/null || fail "expected $N orders in the ledger, one per key"
token_check --final

# 4. The report: N devices, MACs in sequence, all issued, CKA_IDs and
#    serials distinct and equal to the token's certificates.
p11 --list-objects --type cert >certs.txt 2>/dev/null
python3 - report.json certs.txt "$N" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
n = int(sys.argv[3])
devs = d["devices"]
assert len(devs) == n and d["totals"]["issued"] == n, d["totals"]
start = 0x02005e001000
for i, x in enumerate(devs):
    m = start + i
    want = ":".join("%02x" % ((m >> (8 * k)) & 0xff) for k in range(5, -1, -1))
    assert x["mac"] == want and x["state"] == "issued", x
assert len({x["ckaid"] for x in devs}) == n, "CKA_IDs not distinct"
assert len({x["serial"] for x in devs}) == n, "serials not distinct"
certs, cur = {}, {}
for line in open(sys.argv[2]):
    if not line.startswith(" "):
        cur = {}
        continue
    k, _, v = line.strip().partition(":")
    cur[k] = v.strip()
    if k == "ID" and "label" in cur:
        certs[cur["label"]] = cur
for x in devs:
    c = certs.get(x["mac"])
    assert c is not None, "no certificate for %s" % x["mac"]
    assert c["ID"] == x["ckaid"], (c, x)
    assert c["serial"].lower().lstrip("0") == x["serial"].lower().lstrip("0"), (c, x)
    assert c["subject"].endswith("CN=" + x["mac"]), c
leaves = [l for l in certs if re.match(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$", l)]
assert len(leaves) == n, "%d device certificates on the token" % len(leaves)
print("report = token: %d devices, MACs in sequence, all issued" % n)
PY
echo OK

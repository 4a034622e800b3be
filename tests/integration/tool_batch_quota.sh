#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 300
#
# p11portal batch and the portal's licences (issue 7 item 6), DigiCert
# driver against the simulator: a profile with 12 licences and a batch of
# 30 devices. The portal tells its balance: the batch is refused before it
# starts (exit 4, nothing made). With --force-partial it starts, and stops
# at the first quota refusal (no new device
# starts, the ones in flight finish) and exits 4; the report says exactly
# which devices got certificates, and those are the only keys on the token
# (a refused device's key is removed, its order stays REJECTED). After the
# quota is raised, the same command completes the rest without ordering
# the done devices again: 30 orders in the ledger, one per key.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sim_lib.sh"
. "$(dirname "$0")/tool_lib.sh"

PROFILE=IOT_5f0c0a6e-51a1-4c1e-9a55-000000000005
sim_start
sim_conf_token digicert "$PROFILE" \
    "mac_start = 02:00:5e:01:00:00" "mac_end = 02:00:5e:01:00:ff"
init_token
cd "$TEST_DIR"
simctl profile "{\"api\":\"digicert\",\"id\":\"$PROFILE\",\"mode\":\"issue\",\"quota\":12}" >/dev/null

BATCH=(batch --start-mac 02:00:5e:01:00:00 --count 30 --concurrency 4
    --report-json report.json --report report.csv)

count_keys() {
    p11 --login --pin "$USER_PIN" --list-objects --type privkey 2>/dev/null |
        grep -c "Private Key Object" || true
}

# 1. The portal tells its balance (12) before the start: 30 devices are
#    refused with exit 4, nothing made.
tool_rc 4 "${BATCH[@]}"
grep "has 12 licences left for 30 devices to do" "$TOOL_ERR" >/dev/null ||
    fail "no licence balance message: $(cat "$TOOL_ERR")"
[ "$(count_keys)" = 0 ] || fail "a batch refused for its licences made keys"
"$P11P_TOOL" "${BATCH[@]}" --dry-run >dry.out </dev/null || fail "dry run failed"
grep "portal balance: 12 licences left" dry.out >/dev/null || fail "dry run: no balance: $(cat dry.out)"

# 2. --force-partial: the quota runs out in the middle: exit 4, exactly 12
#    certificates.
tool_rc 4 "${BATCH[@]}" --force-partial
cat "$TOOL_OUT"
grep "stopped at the portal's quota" "$TOOL_OUT" >/dev/null || fail "no quota message"
python3 - report.json >issued1.txt <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
t = d["totals"]
assert t["issued"] == 12, t
assert t["rejected"] >= 1 and t["issued"] + t["rejected"] + t["todo"] == 30, t
for x in d["devices"]:
    assert x["state"] in ("issued", "rejected", "todo"), x
    if x["state"] == "issued":
        assert x["serial"] and x["ckaid"], x
        print(x["mac"], x["order_id"], x["serial"])
    if x["state"] == "rejected":
        assert "licen" in (x["error"] or "").lower(), x
PY
[ "$(wc -l <issued1.txt)" = 12 ] || fail "the report does not name 12 issued devices"
[ "$(count_keys)" = 12 ] || fail "keys of refused devices stayed on the token"
ledger_check

# 3. More licences: the same command completes the rest, the done devices
#    keep their orders and certificates.
simctl profile "{\"api\":\"digicert\",\"id\":\"$PROFILE\",\"mode\":\"issue\",\"quota\":100}" >/dev/null
tool_rc 0 "${BATCH[@]}" --json
[ "$(tool_json "$TOOL_OUT" 'd["done_before"]')" = 12 ] || fail "the done devices were not skipped"
python3 - report.json issued1.txt <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["totals"]["issued"] == 30, d["totals"]
by_mac = {x["mac"]: x for x in d["devices"]}
for line in open(sys.argv[2]):
    mac, oid, serial = line.split()
    x = by_mac[mac]
    assert str(x["order_id"]) == oid and x["serial"] == serial, (x, oid, serial)
print("30 issued; the 12 done before kept their orders and certificates")
PY
[ "$(count_keys)" = 30 ] || fail "expected 30 keys"
ledger_check | tee ledger.txt
grep "^orders=30 max_per_key=1$" ledger.txt >/dev/null || fail "expected 30 orders in the ledger"
token_check --final
echo OK

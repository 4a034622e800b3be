#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 300
#
# p11portal batch over a MAC range (issue 7 item 1), local CA driver:
#   - 50 devices with --increment 2: the JSON and CSV reports name every
#     device (MAC, CKA_ID, serial, state issued), and the token shows 50
#     certificates whose CN is the MAC, each with its key's CKA_ID;
#   - the same command again is a resumed batch with nothing left to do;
#   - Ctrl-C finishes the devices in flight, writes the report, exits 6;
#     the same command then completes the rest;
#   - two processes running the same batch at once order each device once;
#   - --dry-run prints the range and the first and last subject and
#     touches nothing (cache file unchanged, no PIN asked);
#   - a range reaching past the token's mac_end, a token without a MAC
#     range, and bad MAC notation are refused with exit 2 before any key
#     exists.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tool_lib.sh"
need pkcs11-tool python3

token_config p11portal "mac_start = 02:00:00:00:10:00" \
    "mac_end = 02:00:00:00:10:ff"
init_token
cd "$TEST_DIR"
DB=$DATA_DIR/p11portal.db

# count_keys: private keys on the token.
count_keys() {
    p11 --login --pin "$USER_PIN" --list-objects --type privkey 2>/dev/null |
        grep -c "Private Key Object" || true
}

# 1. Refusals before anything starts: nothing on the token afterwards.
tool_rc 2 batch --start-mac 02:00:00:00:10:f0 --count 20
grep "outside token \"p11portal\"'s MAC range" "$TOOL_ERR" >/dev/null ||
    fail "range past mac_end: no clear message"
tool_rc 2 batch --start-mac 02:00:00:00:0f:ff --count 2
tool_rc 2 batch --start-mac ff:ff:ff:ff:ff:fe --count 5 --increment 1
grep "passes ff:ff:ff:ff:ff:ff" "$TOOL_ERR" >/dev/null || fail "no overflow message"
for bad in 02:00:00:00:10 02:00:00:00:10:0g 02:00-00:00:10:00 0200000010000 \
    02.00.00.00.10.00; do
    tool_rc 2 batch --start-mac "$bad" --count 1
    grep "not a 6-byte MAC" "$TOOL_ERR" >/dev/null || fail "bad MAC $bad: no clear message"
done
tool_rc 2 batch --start-mac 02:00:00:00:10:00 --count 0
tool_rc 2 batch --start-mac 02:00:00:00:10:00 --count 500001
tool_rc 2 batch --start-mac 02:00:00:00:10:00 --count 1 --key-type dsa:1024
[ "$(count_keys)" = 0 ] || fail "a refused batch left keys"

# 2. --dry-run: prints, touches nothing, needs no PIN.
sum_before=$(sha256sum "$DB" | cut -d' ' -f1)
"$P11P_TOOL" batch --start-mac 02-00-00-00-10-00 --count 50 --increment 2 \
    --dry-run >dry.out 2>dry.err </dev/null || fail "dry run failed: $(cat dry.err)"
cat dry.out
grep "02:00:00:00:10:00 to 02:00:00:00:10:62, step 2" dry.out >/dev/null || fail "dry run: no range"
grep "subject CN=02:00:00:00:10:62" dry.out >/dev/null || fail "dry run: no last subject"
[ "$(sha256sum "$DB" | cut -d' ' -f1)" = "$sum_before" ] || fail "dry run changed the cache"

# 3. The batch (bare, upper-case notation accepted).
tool_rc 0 batch --start-mac 020000001000 --count 50 --increment 2 \
    --concurrency 8 --report report.csv --report-json report.json
python3 - report.json report.csv <<'PY'
import csv, json, sys
d = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
assert d["totals"]["issued"] == 50, d["totals"]
macs = ["02:00:00:00:10:%02x" % (2 * i) for i in range(50)]
assert [x["mac"] for x in d["devices"]] == macs, "JSON MACs"
assert [r["mac"] for r in rows] == macs, "CSV MACs"
for x, r in zip(d["devices"], rows):
    assert x["state"] == "issued" and r["state"] == "issued", x
    assert x["label"] == x["mac"] and x["ckaid"] and x["serial"], x
    assert r["ckaid"] == x["ckaid"] and r["serial"] == x["serial"], (r, x)
    assert x["not_after"] and x["order_id"], x
print("reports: 50 devices issued, CSV = JSON")
PY

# The token: 50 certificates, CN = MAC, CKA_ID = the key's = the report's.
p11 --login --pin "$USER_PIN" --list-objects >objects.txt 2>/dev/null
python3 - objects.txt report.json <<'PY'
import json, re, sys
objs, cur = [], None
for line in open(sys.argv[1]):
    m = re.match(r"^(\S.*)$", line)
    if m:
        cur = {"kind": m.group(1)}
        objs.append(cur)
        continue
    m = re.match(r"^\s+(label|ID|subject):\s+(.*)$", line)
    if m and cur is not None:
        cur[m.group(1)] = m.group(2).strip()
d = json.load(open(sys.argv[2]))
certs = {o["label"]: o for o in objs if o["kind"].startswith("Certificate") and "label" in o}
keys = {o["label"]: o for o in objs if o["kind"].startswith("Private Key") and "label" in o}
for x in d["devices"]:
    c, k = certs.get(x["mac"]), keys.get(x["mac"])
    assert c and k, "missing objects for %s" % x["mac"]
    assert c["ID"] == k["ID"] == x["ckaid"], (c, k, x)
    assert c["subject"].endswith("CN=" + x["mac"]), c
print("token: 50 certificates, CN = MAC, same CKA_ID as keys and report")
PY
[ "$(count_keys)" = 50 ] || fail "expected 50 keys"

# 4. The same command again: nothing to do, the report unchanged.
cp report.json report1.json
tool_rc 0 batch --start-mac 020000001000 --count 50 --increment 2 \
    --report-json report.json --json
[ "$(tool_json "$TOOL_OUT" 'd["done_before"]')" = 50 ] || fail "resume did not skip the 50"
cmp report.json report1.json || fail "the report changed on a run with nothing to do"
[ "$(count_keys)" = 50 ] || fail "a resumed batch made keys"

# 5. Ctrl-C: the devices in flight finish, the report is written, exit 6;
#    the same command again completes the rest.
orders_in_cache() {
    python3 -c 'import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
print(c.execute("SELECT count(*) FROM orders").fetchone()[0])' "$DB" 2>/dev/null || echo 0
}
INT=(batch --start-mac 02:00:00:00:10:80 --count 100 --concurrency 4
    --report-json int.json)
"$P11P_TOOL" "${INT[@]}" --pin-source "$PIN_FILE" -q >int.out 2>int.err &
pid=$!
STARTED_PIDS+=("$pid")
for _ in $(seq 1 300); do
    [ "$(orders_in_cache)" -ge 55 ] && break
    sleep 0.05
done
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 6 ] || fail "Ctrl-C: exit $rc, expected 6: $(cat int.out int.err)"
grep "interrupted: run the same command again" int.out >/dev/null || fail "no interrupted note"
python3 - int.json <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
assert t["issued"] >= 5 and t["todo"] > 0 and t["issued"] + t["todo"] == 100, t
print("interrupted: %d issued, %d not started" % (t["issued"], t["todo"]))
PY
tool_rc 0 "${INT[@]}"
[ "$(tool_json int.json 'd["totals"]["issued"]')" = 100 ] || fail "the interrupted batch did not complete"
[ "$(count_keys)" = 150 ] || fail "expected 150 keys"

# 6. Two processes run the same batch at once: every device is ordered
#    once (the engine refuses a MAC already on an order, in the same
#    transaction as the insert), both end with every device issued.
TWO=(batch --start-mac 02:00:00:00:10:e4 --count 28 --concurrency 4 -q)
"$P11P_TOOL" "${TWO[@]}" --pin-source "$PIN_FILE" --report-json two-a.json >two-a.out 2>&1 &
pa=$!
STARTED_PIDS+=("$pa")
"$P11P_TOOL" "${TWO[@]}" --pin-source "$PIN_FILE" --report-json two-b.json >two-b.out 2>&1 &
pb=$!
STARTED_PIDS+=("$pb")
rc_a=0 rc_b=0
wait "$pa" || rc_a=$?
wait "$pb" || rc_b=$?
if [ "$rc_a" != 0 ] || [ "$rc_b" != 0 ]; then
    fail "concurrent runs: exit $rc_a and $rc_b: $(cat two-a.out two-b.out)"
fi
cmp two-a.json two-b.json || fail "the two runs' reports differ"
python3 - "$DB" <<'PY'
import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
rows = c.execute("SELECT mac, count(*) FROM orders WHERE mac >= '02:00:00:00:10:e4' GROUP BY mac").fetchall()
assert len(rows) == 28 and all(n == 1 for _, n in rows), rows
print("two concurrent runs: 28 devices, one order each")
PY
[ "$(count_keys)" = 178 ] || fail "expected 178 keys"

# 7. Revoking a whole batch by its report: every device of two-a.json is
#    revoked at the (local) portal, once; a second run says so and sends
#    nothing.
tool_rc 0 revoke --report two-a.json --reason cessationOfOperation --yes --json
[ "$(tool_json "$TOOL_OUT" 'sum(1 for r in d["certificates"] if r["ok"] and r["message"].startswith("revoked"))')" = 28 ] ||
    { cat "$TOOL_OUT"; fail "revoke --report did not revoke the 28 devices"; }
tool_rc 0 revoke --report two-a.json --yes --json
[ "$(tool_json "$TOOL_OUT" 'sum(1 for r in d["certificates"] if r["ok"] and r["message"].startswith("already"))')" = 28 ] ||
    { cat "$TOOL_OUT"; fail "a second revoke --report did not say already revoked"; }

# 8. A token without a MAC range: refused with a message saying so.
token_config p11portal
tool_rc 2 batch --start-mac 02:00:00:00:10:00 --count 1
grep "configure mac_start and mac_end" "$TOOL_ERR" >/dev/null || fail "no hint to configure the MAC range"
echo "OK"

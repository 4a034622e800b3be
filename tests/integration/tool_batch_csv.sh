#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 300
#
# p11portal batch --csv (issue 7 item 1), local CA driver: device rows with
# a MAC or a common name, SANs and custom columns. Each device gets its
# certificate (CN = the row's cn, else its MAC; the SANs asked for) next
# to its key; the report keeps the custom fields. A bad CSV is refused
# with its line number and exit 2 before any key exists; a row whose MAC
# is outside the token's range likewise.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tool_lib.sh"
need pkcs11-tool openssl python3

token_config p11portal "mac_start = 02:00:00:00:20:00" \
    "mac_end = 02:00:00:00:20:ff"
init_token
cd "$TEST_DIR"

count_keys() {
    p11 --login --pin "$USER_PIN" --list-objects --type privkey 2>/dev/null |
        grep -c "Private Key Object" || true
}

# 1. Bad CSVs: refused with the line, nothing made.
printf 'mac,cn,site\n02:00:00:00:20:01,,a\n02:00:00:00:20:zz,,b\n' >bad1.csv
tool_rc 2 batch --csv bad1.csv
grep "bad1.csv, line 3: the mac is not a 6-byte MAC" "$TOOL_ERR" >/dev/null ||
    fail "bad MAC row: no line number: $(cat "$TOOL_ERR")"
printf 'mac,cn\n02:00:00:00:20:01,a\n,\n' >bad2.csv
tool_rc 2 batch --csv bad2.csv
grep "bad2.csv, line 3: the row has neither a mac nor a cn" "$TOOL_ERR" >/dev/null ||
    fail "empty row: $(cat "$TOOL_ERR")"
printf 'cn,label\nx.example,same\ny.example,same\n' >bad3.csv
tool_rc 2 batch --csv bad3.csv
grep "bad3.csv, line 3: the label \"same\" of line 2 again" "$TOOL_ERR" >/dev/null ||
    fail "duplicate label: $(cat "$TOOL_ERR")"
printf 'mac\n02:00:00:00:21:00\n' >bad4.csv
tool_rc 2 batch --csv bad4.csv
grep "bad4.csv, line 2: MAC 02:00:00:00:21:00 is outside" "$TOOL_ERR" >/dev/null ||
    fail "MAC outside the range: $(cat "$TOOL_ERR")"
tool_rc 2 batch --csv missing.csv
[ "$(count_keys)" = 0 ] || fail "a refused CSV left keys"

# 2. A good CSV: MAC rows, CN rows, SANs, custom fields.
cat >devices.csv <<'CSV'
mac,cn,sans,label,site,batch
02:00:00:00:20:01,,,,Berlin,7
02-00-00-00-20-02,gw-2.example,DNS:gw-2.example,,"Hamburg, North",7
,sensor-3.example,"DNS:sensor-3.example,IP:10.0.0.3",s3,Munich,8
,sensor-4.example,,,Bonn,8
CSV
tool_rc 0 batch --csv devices.csv --report report.csv --report-json report.json
python3 - report.json report.csv <<'PY'
import csv, json, sys
d = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
want = [("02:00:00:00:20:01", None, "02:00:00:00:20:01", "Berlin"),
        ("02:00:00:00:20:02", "gw-2.example", "gw-2.example", "Hamburg, North"),
        (None, "sensor-3.example", "s3", "Munich"),
        (None, "sensor-4.example", "sensor-4.example", "Bonn")]
assert len(d["devices"]) == 4 and d["totals"]["issued"] == 4, d["totals"]
for x, r, (mac, cn, label, site) in zip(d["devices"], rows, want):
    assert (x["mac"], x["cn"], x["label"]) == (mac, cn, label), x
    assert x["fields"]["site"] == site and r["site"] == site, (x, r)
    assert x["state"] == "issued" and x["ckaid"] and x["serial"], x
print("report: 4 devices issued with their custom fields")
PY

# The certificates: CN and SANs per row.
check_cert() {
    local label=$1 cn=$2 san=$3 id
    id=$(key_id "$label")
    [ -n "$id" ] || fail "no key $label"
    p11 --read-object --type cert --id "$id" -o "cert-$id.der" >/dev/null 2>&1
    openssl x509 -inform DER -in "cert-$id.der" -noout -subject -ext subjectAltName \
        >"cert-$id.txt" 2>/dev/null || true
    grep "CN *= *$cn\$" "cert-$id.txt" >/dev/null || fail "$label: CN is not $cn: $(cat "cert-$id.txt")"
    if [ -n "$san" ]; then
        grep -F "$san" "cert-$id.txt" >/dev/null || fail "$label: no SAN $san: $(cat "cert-$id.txt")"
    fi
}
check_cert 02:00:00:00:20:01 02:00:00:00:20:01 ""
check_cert gw-2.example gw-2.example "DNS:gw-2.example"
check_cert s3 sensor-3.example "IP Address:10.0.0.3"
check_cert sensor-4.example sensor-4.example ""
[ "$(count_keys)" = 4 ] || fail "expected 4 keys"

# 3. Again: resumed by MAC and by label, nothing new.
tool_rc 0 batch --csv devices.csv --json
[ "$(tool_json "$TOOL_OUT" 'd["done_before"]')" = 4 ] || fail "the CSV batch was not resumed"
[ "$(count_keys)" = 4 ] || fail "a resumed CSV batch made keys"
echo OK

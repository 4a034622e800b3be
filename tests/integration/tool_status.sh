#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 180
# Issue 7: p11portal status. Two tokens: "p11portal" on the local CA (two
# keys: one certificate valid for a year, one expiring within 30 days) and
# "remote", a Sectigo token against the portal simulator. No PIN is
# needed. With the simulator up the remote portal is "reachable"; with it
# down, "unreachable" and the exit code is 3 (docs/tool.md: a portal
# check failed); the local CA is always reachable (exit 0). The check never
# orders anything (the simulator's ledger stays empty).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sim_lib.sh"
. "$(dirname "$0")/tool_lib.sh"

init_token
keygen EC:prime256v1 year-cert
token_config p11portal "term_days = 10"
keygen EC:prime256v1 short-cert

sim_start
cat >>"$P11PORTAL_CONF" <<EOF
[token "remote"]
driver = sectigo
kdf_iterations = 1000
url = $SIM_URL
credentials_file = $SIM_DIR/sectigo.cred
ca_bundle = $SIM_DIR/ca.pem
trust_anchors = $SIM_DIR/ca.pem
profile = 1001
timeout_ms = 3000
family = ssl
auth = password
token_field = requestToken
collect_format = x509
EOF

# Two tokens and no --token: bad input.
rc=0
"$P11P_TOOL" status >/dev/null 2>"$TEST_DIR/err" || rc=$?
[ "$rc" = 2 ] || fail "status with two tokens and no --token exited $rc, expected 2"

# Portal up. No PIN: the tool runs without --pin-source or P11PORTAL_PIN.
"$P11P_TOOL" status --all --json </dev/null >"$TEST_DIR/up.json" || fail "status --all failed with the portal up"
cat "$TEST_DIR/up.json"
j() { tool_json "$TEST_DIR/$1" "$2"; }
[ "$(j up.json 'd["tokens"][0]["token"]')" = p11portal ] || fail "first token is not p11portal"
[ "$(j up.json 'd["tokens"][0]["portal"]["state"]')" = local ] || fail "local CA not shown as local"
[ "$(j up.json 'd["tokens"][0]["keys"]')" = 2 ] || fail "p11portal: not 2 keys"
[ "$(j up.json 'd["tokens"][0]["certificates"]["total"]')" = 2 ] || fail "p11portal: not 2 certificates (chain counted?)"
[ "$(j up.json 'd["tokens"][0]["certificates"]["valid"]')" = 1 ] || fail "p11portal: not 1 valid certificate"
[ "$(j up.json 'd["tokens"][0]["certificates"]["expiring_30d"]')" = 1 ] || fail "p11portal: not 1 expiring certificate"
[ "$(j up.json 'd["tokens"][0]["certificates"]["expired"]')" = 0 ] || fail "p11portal: expired certificates"
[ "$(j up.json 'd["tokens"][0]["orders"]["by_state"]["issued"]')" = 2 ] || fail "p11portal: not 2 issued orders"
[ "$(j up.json 'd["tokens"][0]["orders"]["pending"]')" = 0 ] || fail "p11portal: pending orders"
[ "$(j up.json 'd["tokens"][0]["licences"]')" = None ] || fail "local CA shows licences"
[ "$(j up.json 'd["tokens"][1]["token"]')" = remote ] || fail "second token is not remote"
[ "$(j up.json 'd["tokens"][1]["portal"]["state"]')" = reachable ] || fail "simulator up but not reachable"
[ "$(j up.json 'd["tokens"][1]["keys"]')" = 0 ] || fail "remote: keys on an empty token"

# The table.
tool_rc 0 status --all
grep -E '^TOKEN +DRIVER' "$TOOL_OUT" >/dev/null || fail "no table header"
grep -E '^p11portal +local .* local +soft|^p11portal +local .* local +hsm' "$TOOL_OUT" >/dev/null ||
    fail "no local row in the table"
grep -E '^remote +sectigo +https://127\.0\.0\.1:[0-9]+ +reachable' "$TOOL_OUT" >/dev/null ||
    fail "no reachable remote row in the table"

# The check ordered nothing.
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["orders"]))' "$SIM_DIR/ledger.json")" = 0 ] ||
    fail "status placed an order at the portal"

# Portal down: unreachable, exit 3; the local token alone is fine (0).
kill "$SIM_PID"
wait "$SIM_PID" 2>/dev/null || true
tool_rc 3 status --all --timeout 2
cat "$TOOL_OUT"
grep -E '^remote +sectigo .* unreachable' "$TOOL_OUT" >/dev/null || fail "portal down but not shown unreachable"
grep -E '^remote: portal unreachable' "$TOOL_OUT" >/dev/null || fail "no line saying why"
tool_rc 3 status --token remote --json --timeout 2
[ "$(tool_json "$TOOL_OUT" 'd["tokens"][0]["portal"]["state"]')" = unreachable ] || fail "JSON: not unreachable"
[ "$(tool_json "$TOOL_OUT" 'd["tokens"][0]["portal"]["ok"]')" = False ] || fail "JSON: ok is not false"
tool_rc 0 status --token remote --offline
tool_rc 0 status --token p11portal
tool_rc 2 status --token p11portal --timeout 0
echo "PASS"

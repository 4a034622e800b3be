#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 180
# Issue 7: p11portal orders lists the token's orders from the cache (no
# PIN, no portal) and filters them by state (names and "pending"), age and
# label glob; table and --json; bad filters are exit 2.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sim_lib.sh"
. "$(dirname "$0")/tool_lib.sh"

SIM_ENROLL_WAIT_MS=1000
sim_start
sim_conf_token sectigo 1001
init_token
keygen EC:prime256v1 dev-a
keygen EC:prime256v1 dev-b
# Profile 1003 waits for approval at the portal: the order stays pending.
sim_conf_token sectigo 1003
keygen EC:prime256v1 gw-1

# count ARGS...: how many orders "orders --json ARGS" lists. No PIN: the
# tool runs without the PIN file.
count() {
    local out=$TEST_DIR/orders.json
    "$P11P_TOOL" orders --json "$@" >"$out" || fail "orders $* failed"
    [ "$(tool_json "$out" 'd["count"]')" = "$(tool_json "$out" 'len(d["orders"])')" ] ||
        fail "orders $*: count and list disagree"
    tool_json "$out" 'd["count"]'
}

expect() {
    local want=$1 got
    shift
    got=$(count "$@")
    echo "orders $*: $got"
    [ "$got" = "$want" ] || fail "orders $*: $got orders, expected $want"
}

expect 3
expect 2 --state issued
expect 1 --state pending_approval
expect 1 --state pending
expect 3 --state issued,pending_approval
expect 0 --state rejected,failed
expect 2 --label 'dev-*'
expect 1 --label 'gw-?'
expect 0 --label 'dev-*' --state pending
expect 3 --newer-than 1h
expect 0 --older-than 1h
expect 3 --older-than 0s

# The JSON row of the pending order: its portal id and state.
"$P11P_TOOL" orders --json --state pending >"$TEST_DIR/p.json"
[ "$(tool_json "$TEST_DIR/p.json" 'd["orders"][0]["label"]')" = gw-1 ] || fail "pending order is not gw-1"
[ -n "$(tool_json "$TEST_DIR/p.json" 'd["orders"][0]["portal_id"] or ""')" ] ||
    fail "pending order has no portal id"

# The table: header and one line per order.
tool_rc 0 orders
grep -E '^ID +STATE +LABEL' "$TOOL_OUT" >/dev/null || fail "no table header"
[ "$(grep -c -E '^[0-9]+ ' "$TOOL_OUT")" = 3 ] || fail "table does not list 3 orders"
grep -E 'pending_approval +gw-1' "$TOOL_OUT" >/dev/null || fail "gw-1 not pending_approval in the table"

# Bad filters: exit 2 with a message.
tool_rc 2 orders --state nonsense
grep 'unknown state' "$TOOL_ERR" >/dev/null || fail "no message for a bad state"
tool_rc 2 orders --older-than 7x
tool_rc 2 orders stray-argument
echo "PASS"

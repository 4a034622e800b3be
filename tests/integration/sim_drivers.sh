#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Starts the portal simulator on a free loopback port in a temporary folder,
# runs tests/component/t_portal_drivers against it, stops it.
set -euo pipefail

src=${P11P_SOURCE_DIR:?}
prog=${P11P_T_PORTAL_DRIVERS:?}
sim=$src/tests/portal-sim/portal-sim
if [ ! -x "$sim" ] || ! python3 -c 'import cryptography' 2>/dev/null; then
    echo "SKIP: portal simulator or python3-cryptography missing"
    exit 77
fi

tmp=$(mktemp -d)
simpid=
cleanup() {
    if [ -n "$simpid" ]; then
        kill "$simpid" 2>/dev/null || true
        wait "$simpid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

echo "+ $sim --listen 127.0.0.1:0 --state $tmp/state"
"$sim" --listen 127.0.0.1:0 --state "$tmp/state" >"$tmp/sim.log" 2>&1 &
simpid=$!
for _ in $(seq 1 100); do
    [ -s "$tmp/state/port" ] && break
    if ! kill -0 "$simpid" 2>/dev/null; then
        cat "$tmp/sim.log"
        exit 1
    fi
    sleep 0.1
done
[ -s "$tmp/state/port" ] || { echo "simulator did not start"; cat "$tmp/sim.log"; exit 1; }

echo "+ $prog $tmp/state"
P11PORTAL_LOG=${P11PORTAL_LOG:-warn} "$prog" "$tmp/state"

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Issue 3: kill -9 of the enrolling pkcs11-tool at random points, with
# simulator delays on the enroll and collect requests to widen the windows
# (the order persisted but not sent, sent but not answered, answered but
# not stored). Then new processes (pkcs11-tool -O: C_OpenSession collects)
# take the orders over (a dead holder's order lock is taken over at once)
# and finish them: no duplicate order in the ledger, every key's order
# issued with its certificate, no wrong certificate.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sim_lib.sh"

ROUNDS=${P11P_KILL9_ROUNDS:-8}
SIM_ENROLL_WAIT_MS=3000
SIM_TIMEOUT_MS=4000
sim_start
export P11PORTAL_LOG=${P11PORTAL_LOG:-info}

# kill_rounds <driver> <profile> <api> <enroll path> <collect path>
kill_rounds() {
    local drv=$1 profile=$2 api=$3 enroll=$4 collect=$5 i ms pid
    echo "=== kill -9 during enrollment: $drv"
    rm -rf "$XDG_DATA_HOME/p11portal"
    sim_conf_token "$drv" "$profile"
    init_token
    simctl fault "[{\"type\":\"delay\",\"api\":\"$api\",\"method\":\"POST\",\"path\":\"$enroll\",\"delay_ms\":600,\"count\":0},
                   {\"type\":\"delay\",\"api\":\"$api\",\"method\":\"GET\",\"path\":\"$collect\",\"delay_ms\":300,\"count\":0}]" >/dev/null
    for i in $(seq 1 "$ROUNDS"); do
        ms=$((RANDOM % 1600))
        "${MODULE_ENV[@]}" pkcs11-tool --module "$P11P_MODULE" --login --pin "$USER_PIN" \
            --keypairgen --key-type EC:prime256v1 --label "$drv-kill-$i" --usage-sign \
            >/dev/null 2>>"$TEST_DIR/killed.log" &
        pid=$!
        STARTED_PIDS+=("$pid")
        sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
        kill -9 "$pid" 2>/dev/null && echo "round $i: killed after ${ms} ms" ||
            echo "round $i: finished before ${ms} ms"
        wait "$pid" 2>/dev/null || true
    done
    run simctl clear-faults >/dev/null
    # New processes finish what the killed ones left.
    : >"$TEST_DIR/after.log"
    DRIVE_LOG=$TEST_DIR/after.log P11PORTAL_LOG=warn drive_until_final 90 || true
    echo "orders taken over from killed processes: $(grep -c 'taking the order over' "$TEST_DIR/after.log" || true)"
    token_check --final || fail "$drv: after kill -9"
    token_check --final | grep -E '"(failed|rejected)"' >/dev/null && fail "$drv: an order did not complete"
    ledger_check
}

kill_rounds sectigo 1002 sectigo '/enroll$' '/api/ssl/v1/(collect/)?[0-9]+$'
kill_rounds digicert IOT_5f0c0a6e-51a1-4c1e-9a55-000000000002 digicert '/certificate$' '/certificate/[^/]+$'
echo "PASS"

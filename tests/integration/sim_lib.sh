# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# shellcheck disable=SC2034
#
# Helpers of the tests that drive the token against the portal simulator
# (tests/integration/sim_*.sh, issue 3). Source it after lib.sh:
#   . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/sim_lib.sh"
# It starts one simulator per test on a free loopback port in the test's
# own folder (killed by lib.sh's cleanup, which kills only what the test
# started), writes token configurations pointing at it, and reads the
# simulator's ledger.json to check the two promises of issue 3: never two
# orders for one key, never a lost key or a wrong certificate.

SIM=$P11P_SOURCE_DIR/tests/portal-sim/portal-sim
SIMCTL=$P11P_SOURCE_DIR/tests/portal-sim/portal-simctl
SIM_DIR=$TEST_DIR/sim
SIM_PID=
SIM_URL=

[ -x "$SIM" ] || skip "portal simulator missing"
python3 -c 'import cryptography' 2>/dev/null || skip "python3-cryptography missing"
need pkcs11-tool openssl python3

# sim_start [portal-sim args...]: starts the simulator, waits for its port.
# shellcheck disable=SC2120 # arguments are optional
sim_start() {
    mkdir -p "$SIM_DIR"
    rm -f "$SIM_DIR/port"
    "$SIM" --listen 127.0.0.1:0 --state "$SIM_DIR" "$@" >>"$TEST_DIR/sim.log" 2>&1 &
    SIM_PID=$!
    STARTED_PIDS+=("$SIM_PID")
    local i
    for i in $(seq 1 200); do
        [ -s "$SIM_DIR/port" ] && [ -s "$SIM_DIR/url" ] && break
        kill -0 "$SIM_PID" 2>/dev/null || { cat "$TEST_DIR/sim.log"; fail "simulator died"; }
        sleep 0.05
    done
    [ -s "$SIM_DIR/port" ] || fail "simulator did not start"
    SIM_URL=$(cat "$SIM_DIR/url")
    "$SIMCTL" --state "$SIM_DIR" wait 10 >/dev/null || fail "simulator does not answer"
    : "$i"
}

# simctl COMMAND [ARGS]: the simulator's admin API (portal-simctl).
simctl() {
    "$SIMCTL" --state "$SIM_DIR" "$@"
}

# sim_fault JSON: installs one fault.
sim_fault() {
    simctl fault "$1" >/dev/null
}

# sim_conf_token <driver> <profile> [extra conf lines...]: writes
# $P11PORTAL_CONF with one token "p11portal" of that driver against the
# simulator (refresh_interval_s = 0: every session collects).
sim_conf_token() {
    local driver=$1 profile=$2 line
    shift 2
    {
        echo '[token "p11portal"]'
        echo "driver = $driver"
        echo "kdf_iterations = 1000"
        echo "url = $SIM_URL"
        echo "credentials_file = $SIM_DIR/$driver.cred"
        echo "ca_bundle = $SIM_DIR/ca.pem"
        echo "trust_anchors = $SIM_DIR/ca.pem"
        echo "profile = $profile"
        # shellcheck disable=SC2016 # ${label} is the token's template
        echo 'subject = CN=${label}'
        echo "enroll_wait_ms = ${SIM_ENROLL_WAIT_MS:-5000}"
        echo "timeout_ms = ${SIM_TIMEOUT_MS:-3000}"
        echo "refresh_interval_s = 0"
        if is_hsm; then
            echo "key_backend = hsm"
            echo "hsm_module = $SOFTHSM_MODULE"
            echo "hsm_token_label = $HSM_TOKEN_LABEL"
        fi
        case $driver in
        sectigo)
            echo "family = ${SIM_SECTIGO_FAMILY:-ssl}"
            echo "auth = password"
            echo "token_field = requestToken"
            echo "collect_format = x509"
            ;;
        digicert)
            echo "auth = api_key"
            echo "token_attribute = p11portal_request_token"
            echo "token_in = device"
            ;;
        esac
        for line in "$@"; do
            echo "$line"
        done
    } >"$P11PORTAL_CONF"
}

# ledger_check: asserts from ledger.json at most one order per public key
# (renewals excluded) and prints "orders=N max_per_key=M".
ledger_check() {
    python3 - "$SIM_DIR/ledger.json" <<'PY'
import collections, json, sys
led = json.load(open(sys.argv[1]))
per = collections.Counter(o["spki_sha256"] for o in led["orders"] if not o.get("renewed_from"))
m = max(per.values()) if per else 0
print("orders=%d max_per_key=%d" % (len(led["orders"]), m))
if m > 1:
    for k, v in per.items():
        if v > 1:
            print("DUPLICATE: key %s has %d orders: %s" % (k, v,
                  [(o["id"], o["state"]) for o in led["orders"] if o["spki_sha256"] == k]))
    sys.exit(1)
PY
}

# ledger_states: "id state spki" per order.
ledger_states() {
    python3 -c 'import json,sys
for o in json.load(open(sys.argv[1]))["orders"]: print(o["id"], o["state"], o["spki_sha256"])' \
        "$SIM_DIR/ledger.json"
}

# token_check [--final]: checks the token against the ledger
# (sim_tokencheck.py: no duplicate order, no lost key, no wrong
# certificate; --final: no order still pending). Prints a summary.
token_check() {
    "${MODULE_ENV[@]}" python3 "$P11P_SOURCE_DIR/tests/integration/sim_tokencheck.py" \
        "$P11P_MODULE" "$USER_PIN" "$SIM_DIR/ledger.json" "$@"
}

# order_json <label>: the JSON status (CKA_VALUE) of the order object of
# the key with that label, read with pkcs11-tool as a user would.
order_json() {
    "${MODULE_ENV[@]}" pkcs11-tool --module "$P11P_MODULE" --read-object --type data \
        --label "$1" --application-label "p11portal order" 2>/dev/null
}

# order_field <label> <field>: one field of order_json ("" if absent).
order_field() {
    order_json "$1" | python3 -c 'import json,sys
try: v = json.loads(sys.stdin.read()).get(sys.argv[1], "")
except ValueError: v = ""
print(v)' "$2"
}

# drive_until_final <seconds>: pkcs11-tool -O runs (each C_OpenSession
# and C_FindObjectsInit collects pending orders) until no order object is
# pending, for at most that many seconds. Returns 1 if orders are left.
# The module's log lines of these sessions go to $DRIVE_LOG if set.
drive_until_final() {
    local end=$((SECONDS + $1)) runs=0
    while [ "$SECONDS" -lt "$end" ]; do
        if token_check --final >/dev/null 2>>"${DRIVE_LOG:-/dev/null}"; then
            echo "all orders final after $runs extra sessions"
            return 0
        fi
        for _ in 1 2 3; do
            "${MODULE_ENV[@]}" pkcs11-tool --module "$P11P_MODULE" -O >/dev/null 2>>"${DRIVE_LOG:-/dev/null}" || true
            runs=$((runs + 1))
        done
        sleep 0.3
    done
    token_check --final >/dev/null 2>&1
}

# faults_report: prints each installed fault with how often it fired;
# returns 1 if one never fired.
faults_report() {
    simctl faults | python3 -c 'import json,sys
bad = 0
for f in json.load(sys.stdin)["faults"]:
    print("fault %-18s %-6s %-28s seen %d fired %d" % (f["type"], f.get("method", "*"),
          f.get("path", "*"), f["seen"], f["fired"]))
    bad += f["fired"] == 0 and not f.get("probability")
sys.exit(1 if bad else 0)'
}

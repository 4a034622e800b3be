#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The batch benchmark (issue 7): in one run, against one portal simulator
# with LATENCY ms added to every portal request, measures
#   1. `p11portal batch` of COUNT EC P-256 devices (soft backend,
#      CONCURRENCY in flight)                                  devices/s
#   2. a sequential shell loop of SEQ_COUNT of the same enrollments:
#      `openssl req -newkey ec` + curl enroll + curl collect until issued
#      + the certificate saved                                  devices/s
#   3. the machine's EC P-256 key generation + CSR signing with libcrypto,
#      CONCURRENCY threads (batch_keygen)                       devices/s
#   4. the simulator's own ceiling: bare enroll requests with pre-made CSRs,
#      CONCURRENCY in flight over kept-alive connections (batch_simload),
#      LOAD_COUNT before the batches and LOAD_COUNT after     requests/s
#      (the simulator's cost per order grows with its ledger, a little
#      since ledger.json is written at most twice a second above 2,000
#      orders; the ceiling the batch faced is interpolated at the middle of
#      the batch's ledger range, 4~)
#   5. `p11portal batch` of RSA_COUNT RSA-2048 devices beside the machine's
#      RSA-2048 key + CSR rate at the same concurrency          devices/s
# and prints the ratios (aims: batch/loop >= 50x, batch/min(3,4) >= 0.8x,
# RSA batch/RSA keygen >= 0.8x). A bench, not a test: it reports, it never
# fails on a ratio. docs/performance.md "Batch provisioning" has the
# figures of the last run and the command.
#
#   bench/batch/run.sh [build-dir]    default: build/release (configured
#                                     RelWithDebInfo and built here)
# Environment (defaults): COUNT (10000), CONCURRENCY (32), SEQ_COUNT (200),
# LATENCY (50), LOAD_COUNT (1000), KEYGEN_COUNT (20000), RSA_COUNT (200),
# RSA_KEYGEN_COUNT (100); P11P_TOOL, P11P_MODULE, BATCH_KEYGEN,
# BATCH_SIMLOAD: use these binaries
# instead of building them; PORTAL_SIM: another simulator executable
# (same options). SKIP=list of steps to leave out (e.g. "2 5"); KEEP=1
# keeps the temporary folder (simulator journal and ledger, the token, the
# batch reports and output) for a look at where the time went;
# BATCH_PREFIX="perf record -g -o FILE" runs the batches under a profiler.
# The token uses the sectigo driver (SSL API, certType 1001: issued at
# enroll), soft backend; the loop and the load use the same API.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build/release}
COUNT=${COUNT:-10000}
CONCURRENCY=${CONCURRENCY:-32}
SEQ_COUNT=${SEQ_COUNT:-200}
LATENCY=${LATENCY:-50}
LOAD_COUNT=${LOAD_COUNT:-1000}
KEYGEN_COUNT=${KEYGEN_COUNT:-20000}
RSA_COUNT=${RSA_COUNT:-200}
RSA_KEYGEN_COUNT=${RSA_KEYGEN_COUNT:-100}
SKIP=${SKIP:-}
tool=${P11P_TOOL:-$build/tools/p11portal}
module=${P11P_MODULE:-$build/pkcs11/libp11portal.so}
keygen=${BATCH_KEYGEN:-$build/bench/batch_keygen}
simload=${BATCH_SIMLOAD:-$build/bench/batch_simload}
SIM=${PORTAL_SIM:-$root/tests/portal-sim/portal-sim}
SIMCTL=$root/tests/portal-sim/portal-simctl

if [ -z "${P11P_TOOL:-}${P11P_MODULE:-}${BATCH_KEYGEN:-}${BATCH_SIMLOAD:-}" ]; then
    if [ ! -f "$build/CMakeCache.txt" ]; then
        cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    fi
    cmake --build "$build" -j "$(nproc)" --target p11portal-pkcs11 p11portal-tool \
        batch_keygen batch_simload >/dev/null
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/p11batch.XXXXXX")
simpid=
cleanup() {
    if [ -n "$simpid" ]; then
        kill "$simpid" 2>/dev/null || true
        wait "$simpid" 2>/dev/null || true
    fi
    if [ -n "${KEEP:-}" ]; then
        echo "# kept: $tmp (simulator stopped)"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

skipped() {
    case " $SKIP " in *" $1 "*) return 0 ;; esac
    return 1
}

# ---- the simulator ----
D=$tmp/sim
"$SIM" --listen 127.0.0.1:0 --state "$D" >"$tmp/sim.log" 2>&1 &
simpid=$!
"$SIMCTL" --state "$D" wait 20 >/dev/null
"$SIMCTL" --state "$D" latency "$LATENCY" >/dev/null
U=$(cat "$D/url")

# CPU seconds (user+system) the simulator has used so far.
sim_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$simpid/stat"
}
# Orders in the simulator's ledger (one line each).
sim_orders() {
    grep -c '"spki_sha256"' "$D/ledger.json" || true
}
# Requests the simulator has answered so far (its journal).
sim_requests() {
    wc -l <"$D/journal.jsonl" 2>/dev/null || echo 0
}
now() {
    date +%s.%N
}
# rate N SECONDS
rate() {
    awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }'
}
elapsed() {
    awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'
}

declare -A R   # rates by step
declare -A N   # counts by step
declare -A S   # seconds by step
declare -A NOTE
row() { # key label unit
    printf '%-3s %-58s %7s %9s %10s %s\n' "$1" "$2" "${N[$1]:--}" "${S[$1]:--}" \
        "${R[$1]:--}" "$3"
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(openssl version | cut -d' ' -f1-2)," \
    "simulator latency ${LATENCY} ms per request, concurrency $CONCURRENCY"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 3. the machine: key generation + CSR, CONCURRENCY threads ----
if ! skipped 3; then
    out=$("$keygen" ec "$CONCURRENCY" "$KEYGEN_COUNT")
    N[3]=$(sed -n 's/.* count=\([0-9]*\).*/\1/p' <<<"$out")
    S[3]=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$out")
    R[3]=$(sed -n 's/.* per_s=\([0-9.]*\).*/\1/p' <<<"$out")
fi

# ---- 4. the simulator's ceiling: bare enroll requests ----
# sim_load KEY: LOAD_COUNT bare enrolls; the ledger's size in the middle
# of the run into M[KEY].
declare -A M
sim_load() {
    local c0 n0 out
    c0=$(sim_cpu)
    n0=$(sim_orders)
    out=$("$simload" "$D" "$CONCURRENCY" "$LOAD_COUNT" 1001) || true
    N[$1]=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$out")
    S[$1]=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$out")
    R[$1]=$(sed -n 's/.* per_s=\([0-9.]*\).*/\1/p' <<<"$out")
    M[$1]=$(((n0 + $(sim_orders)) / 2))
    NOTE[$1]="ledger ${n0} -> $(sim_orders) orders; simulator CPU $(awk -v a="$c0" \
        -v b="$(sim_cpu)" -v n="${N[$1]:-0}" \
        'BEGIN { printf "%.2f ms per request", (n > 0 ? (b - a) * 1000 / n : 0) }')"
}
if ! skipped 4; then
    sim_load 4
fi

# ---- 2. the shell way: one at a time ----
L=$(sed -n 's/^login = //p' "$D/sectigo.cred")
P=$(sed -n 's/^password = //p' "$D/sectigo.cred")
C=$(sed -n 's/^customer_uri = //p' "$D/sectigo.cred")
O=$(sed -n 's/^org_id = //p' "$D/sectigo.cred")
# The credentials go to curl through a 0600 config file, not its arguments.
(umask 077 && printf 'header = "login: %s"\nheader = "password: %s"\nheader = "customerUri: %s"\n' \
    "$L" "$P" "$C" >"$tmp/curl.cred")
unset L P C
if ! skipped 2; then
    mkdir -p "$tmp/seq"
    r0=$(sim_requests)
    t0=$(now)
    for i in $(seq 1 "$SEQ_COUNT"); do
        mac=$(printf 'aa:bb:dd:00:%02x:%02x' $((i / 256)) $((i % 256)))
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$tmp/seq/$i.key" -subj "/CN=$mac" -out "$tmp/seq/$i.csr" 2>/dev/null
        csr=$(awk '{printf "%s\\n", $0}' "$tmp/seq/$i.csr")
        id=$(curl -sS --cacert "$D/ca.pem" -K "$tmp/curl.cred" \
            -H 'Content-Type: application/json' \
            -d "{\"orgId\":$O,\"certType\":1001,\"term\":365,\"csr\":\"$csr\",\"comments\":\"seq-$i\"}" \
            "$U/api/ssl/v1/enroll" | sed -n 's/.*"sslId":\([0-9]*\).*/\1/p')
        [ -n "$id" ] || { echo "sequential loop: enroll $i refused" >&2; break; }
        for _ in $(seq 1 50); do
            code=$(curl -sS --cacert "$D/ca.pem" -K "$tmp/curl.cred" -o "$tmp/seq/$i.pem" \
                -w '%{http_code}' "$U/api/ssl/v1/collect/$id?format=x509")
            [ "$code" = 200 ] && break
            sleep 1
        done
        N[2]=$i
    done
    S[2]=$(elapsed "$t0")
    R[2]=$(rate "${N[2]:-0}" "${S[2]}")
    NOTE[2]="$(($(sim_requests) - r0)) portal requests"
fi

# ---- 1 and 5. p11portal batch ----
batch_ready() {
    "$tool" batch --help 2>&1 | grep -e '--start-mac' >/dev/null
}
SO=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
(umask 077 && od -An -N8 -tx1 /dev/urandom | tr -d ' \n' >"$tmp/user.pin")
export XDG_DATA_HOME=$tmp/data P11PORTAL_CONF=$tmp/p11portal.conf
mkdir -p "$XDG_DATA_HOME"
cat >"$P11PORTAL_CONF" <<EOF
[token "batch"]
driver = sectigo
kdf_iterations = 1000
url = $U
credentials_file = $D/sectigo.cred
ca_bundle = $D/ca.pem
trust_anchors = $D/ca.pem
profile = 1001
family = ssl
auth = password
token_field = requestToken
collect_format = x509
subject = CN=\${mac}
mac_start = aa:bb:cc:00:00:00
mac_end = aa:bb:cc:ff:ff:ff
enroll_wait_ms = 60000
timeout_ms = 30000
refresh_interval_s = 0
EOF
p11tool() {
    pkcs11-tool --module "$module" "$@" >/dev/null 2>>"$tmp/p11tool.log"
}
# run_batch KEY START COUNT STEP: one batch, timed from outside; its CPU
# and the simulator's, and the portal requests it made, into NOTE.
run_batch() {
    local key=$1 start=$2 count=$3 step=$4 t0 c0 r0 n0 rc=0
    c0=$(sim_cpu)
    n0=$(sim_orders)
    r0=$(sim_requests)
    t0=$(now)
    # shellcheck disable=SC2086 # BATCH_PREFIX is words: a command prefix
    /usr/bin/time -f '%U %S' -o "$tmp/time.$step" ${BATCH_PREFIX:-} \
        "$tool" batch --token batch --pin-source "$tmp/user.pin" --start-mac "$start" \
        --count "$count" --key-type "$key" --concurrency "$CONCURRENCY" \
        --report-json "$tmp/report.$step.json" >"$tmp/batch.$step.out" 2>&1 || rc=$?
    S[$step]=$(elapsed "$t0")
    N[$step]=$(python3 -c 'import json,sys
try: d = json.load(open(sys.argv[1]))
except (OSError, ValueError): print(0); sys.exit()
if isinstance(d, dict) and "issued" in d.get("totals", {}):
    print(d["totals"]["issued"]); sys.exit()
rows = d.get("devices", []) if isinstance(d, dict) else d
print(sum(1 for r in rows if str(r.get("state", "")).lower() == "issued"))' \
        "$tmp/report.$step.json")
    R[$step]=$(rate "${N[$step]}" "${S[$step]}")
    NOTE[$step]="exit $rc; tool CPU $(tail -1 "$tmp/time.$step" | awk '{printf "%.1f s", $1 + $2}');"
    NOTE[$step]+=" simulator CPU $(awk -v a="$c0" -v b="$(sim_cpu)" 'BEGIN {printf "%.1f s", b - a}');"
    NOTE[$step]+=" $(($(sim_requests) - r0)) portal requests; ledger $n0 -> $(sim_orders) orders"
    M[$step]=$(((n0 + $(sim_orders)) / 2))
    if [ "$rc" -ne 0 ]; then
        tail -5 "$tmp/batch.$step.out" | sed "s/^/# batch $step: /"
    fi
}
# rsa_keygen: the machine's RSA-2048 key + CSR rate (step 5), measured
# right before the RSA batch so that both see the same load.
rsa_keygen() {
    local out
    out=$("$keygen" rsa "$CONCURRENCY" "$RSA_KEYGEN_COUNT")
    N[5k]=$(sed -n 's/.* count=\([0-9]*\).*/\1/p' <<<"$out")
    S[5k]=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$out")
    R[5k]=$(sed -n 's/.* per_s=\([0-9.]*\).*/\1/p' <<<"$out")
}
if batch_ready; then
    p11tool --init-token --label batch --so-pin "$SO"
    p11tool --init-pin --login --login-type so --so-pin "$SO" --pin "$(cat "$tmp/user.pin")"
    if ! skipped 5; then
        rsa_keygen
        run_batch rsa:2048 aa:bb:cc:80:00:00 "$RSA_COUNT" 5
    fi
    if ! skipped 1; then
        run_batch ec:prime256v1 aa:bb:cc:00:00:00 "$COUNT" 1
    fi
else
    NOTE[1]="p11portal batch not available in $tool"
    NOTE[5]=${NOTE[1]}
    if ! skipped 5; then
        rsa_keygen
    fi
fi
unset SO
if ! skipped 4; then
    sim_load 4b
    # The simulator's cost per order is linear in the ledger's size: the
    # ceiling at the middle of the EC batch's range, from the two loads.
    R[4~]=$(awk -v r1="${R[4]:-0}" -v m1="${M[4]:-0}" -v r2="${R[4b]:-0}" \
        -v m2="${M[4b]:-0}" -v m="${M[1]:-${M[4]:-0}}" 'BEGIN {
        if (r1 <= 0 || r2 <= 0 || m2 == m1) { print r1; exit }
        c = 1 / r1 + (1 / r2 - 1 / r1) * (m - m1) / (m2 - m1)
        printf "%.1f", 1 / c }')
    N[4~]="@${M[1]:-${M[4]:-0}}"
fi

# ---- the table and the ratios ----
echo
printf '%-3s %-58s %7s %9s %10s %s\n' "" "measurement" "count" "seconds" "per second" ""
row 1 "p11portal batch, EC P-256, soft backend" "devices/s"
row 2 "openssl req + curl enroll/collect, sequential" "devices/s"
row 3 "EC P-256 key + CSR, libcrypto, $CONCURRENCY threads" "devices/s"
row 4 "simulator ceiling, bare enroll, $CONCURRENCY in flight, before" "requests/s"
row 4b "simulator ceiling, the same, after the batches" "requests/s"
row 4~ "simulator ceiling at the EC batch's mean ledger size" "requests/s"
row 5 "p11portal batch, RSA-2048, soft backend" "devices/s"
row 5k "RSA-2048 key + CSR, libcrypto, $CONCURRENCY threads" "devices/s"
echo
for k in 1 2 4 4b 5; do
    [ -n "${NOTE[$k]:-}" ] && echo "# $k: ${NOTE[$k]}"
done
python3 - "${R[1]:-0}" "${R[2]:-0}" "${R[3]:-0}" "${R[4~]:-${R[4]:-0}}" "${R[5]:-0}" \
    "${R[5k]:-0}" "${R[4]:-0}" <<'PY'
import sys
b, seq, kg, sim, rb, rk, sim0 = (float(x) for x in sys.argv[1:])
def ratio(name, num, den, aim):
    if num <= 0 or den <= 0:
        print("%-52s %8s   (aim >= %sx)" % (name, "n/a", aim))
    else:
        print("%-52s %7.2fx   (aim >= %sx)" % (name, num / den, aim))
print()
ratio("batch / sequential loop", b, seq, 50)
lo = min(x for x in (kg, sim) if x > 0) if (kg > 0 or sim > 0) else 0
which = "key+CSR" if lo == kg else "simulator"
ratio("batch / min(key+CSR, simulator) = %s" % which, b, lo, 0.8)
ratio("batch / simulator ceiling on a fresh ledger", b, sim0, 0.8)
ratio("RSA batch / RSA-2048 key+CSR rate", rb, rk, 0.8)
PY
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Enrollment throughput (issue 3): bench_enroll (COUNT enrollments through
# the module from THREADS threads) against the portal simulator with
# LATENCY ms added to every portal request, beside a sequential loop doing
# the same work with `openssl req` (key + CSR) and `curl` (Sectigo enroll,
# details, collect), SEQ_COUNT times, scaled to COUNT. Prints both and the
# ratio. A bench, not a test.
#   bench/run_enroll.sh [build-dir]   default: build/release
# Environment: COUNT (500), THREADS (8), SEQ_COUNT (100), LATENCY (50);
# BENCH_ENROLL=<binary> and P11P_MODULE=<module> use those instead of
# building them.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build/release}
COUNT=${COUNT:-500}
THREADS=${THREADS:-8}
SEQ_COUNT=${SEQ_COUNT:-100}
LATENCY=${LATENCY:-50}
bench=${BENCH_ENROLL:-$build/bench/bench_enroll}
module=${P11P_MODULE:-$build/pkcs11/libp11portal.so}
if [ -z "${BENCH_ENROLL:-}" ]; then
    if [ ! -f "$build/CMakeCache.txt" ]; then
        cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    fi
    cmake --build "$build" -j "$(nproc)" --target p11portal-pkcs11 bench_enroll >/dev/null
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/p11bench.XXXXXX")
simpid=
cleanup() {
    if [ -n "$simpid" ]; then
        kill "$simpid" 2>/dev/null || true
        wait "$simpid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

"$root/tests/portal-sim/portal-sim" --listen 127.0.0.1:0 --state "$tmp/sim" \
    --latency-ms "$LATENCY" >"$tmp/sim.log" 2>&1 &
simpid=$!
"$root/tests/portal-sim/portal-simctl" --state "$tmp/sim" wait 20 >/dev/null
D=$tmp/sim
U=$(cat "$D/url")
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(openssl version), simulator latency ${LATENCY} ms per request"

# The module: COUNT enrollments from THREADS threads.
out=$("$bench" "$module" "$D" "$COUNT" "$THREADS")
echo "$out" | head -1
mod_s=$(echo "$out" | awk '/^seconds_per_/ {print $2}')

# The shell way: one at a time, key + CSR, enroll, details, collect.
L=$(sed -n 's/^login = //p' "$D/sectigo.cred")
P=$(sed -n 's/^password = //p' "$D/sectigo.cred")
C=$(sed -n 's/^customer_uri = //p' "$D/sectigo.cred")
hdr=(-H "login: $L" -H "password: $P" -H "customerUri: $C")
t0=$(date +%s.%N)
for i in $(seq 1 "$SEQ_COUNT"); do
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$tmp/k.pem" -subj "/CN=seq-$i" -out "$tmp/r.csr" 2>/dev/null
    csr=$(awk '{printf "%s\\n", $0}' "$tmp/r.csr")
    id=$(curl -sS --cacert "$D/ca.pem" "${hdr[@]}" -H 'Content-Type: application/json' \
        -d "{\"orgId\":7,\"certType\":1001,\"term\":365,\"csr\":\"$csr\",\"comments\":\"seq-$i\"}" \
        "$U/api/ssl/v1/enroll" | sed -n 's/.*"sslId":\([0-9]*\).*/\1/p')
    curl -sS --cacert "$D/ca.pem" "${hdr[@]}" "$U/api/ssl/v1/$id" >/dev/null
    curl -sS --cacert "$D/ca.pem" "${hdr[@]}" "$U/api/ssl/v1/collect/$id?format=x509" -o "$tmp/c.pem"
done
seq_s=$(echo "$(date +%s.%N) $t0" | awk '{print $1 - $2}')
python3 - "$mod_s" "$seq_s" "$COUNT" "$SEQ_COUNT" "$THREADS" <<'PY'
import sys
mod, seq, n, sn, th = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
scaled = seq * n / sn
print("openssl req + curl, sequential: %d in %.2f s (%.1f ms each); %d would take %.1f s" % (sn, seq, seq * 1000 / sn, n, scaled))
print("module, %d threads: %d in %.2f s; ratio (sequential / module): %.1fx" % (th, n, mod, scaled / mod))
PY

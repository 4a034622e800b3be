#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs the benchmarks against a release-like build and prints their tables
# (docs/performance.md has the figures of the last run and this command).
#   bench/run.sh [build-dir]     default: build/release (configured here)
# Environment: BENCH_SECONDS, BENCH_OBJECTS, BENCH_SOFTHSM_OBJECTS,
# P11P_SOFTHSM (default /usr/lib/softhsm/libsofthsm2.so).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build/release}
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target p11portal-pkcs11 bench_sign bench_scale >/dev/null

module=$build/pkcs11/libp11portal.so
softhsm=${P11P_SOFTHSM:-/usr/lib/softhsm/libsofthsm2.so}
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(openssl version), $(uname -m)"
echo "# build: $build ($(grep -E '^CMAKE_BUILD_TYPE' "$build/CMakeCache.txt" | cut -d= -f2))"
echo
"$build/bench/bench_sign" "$module" "$softhsm"
echo
"$build/bench/bench_scale" "$module" "$softhsm"

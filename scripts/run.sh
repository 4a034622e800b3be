#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The two commands of the README.
#   ./scripts/run.sh demo   install what is missing, build, run the demo
#   ./scripts/run.sh test   install what is missing, build the dev (gcc) and
#                           the ASan+UBSan trees and run the whole CTest
#                           suite in both; build everything again with clang
#                           (warnings are errors there too) and run the
#                           libFuzzer targets for a bounded time; non-zero if
#                           any test failed (or, with CI=true, was skipped)
# Build trees: build/dev, build/asan and build/clang (override the folder
# with P11P_BUILD_ROOT).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build_root=${P11P_BUILD_ROOT:-$root/build}
jobs=${P11P_JOBS:-$(nproc)}

usage() {
    echo "usage: $0 demo|test" >&2
    exit 2
}

build() { # build <dir> [cmake args...]
    local dir=$1
    shift
    cmake -S "$root" -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
}

run_suite() { # run_suite <dir> <name> [ctest selection...]
    local dir=$1 name=$2 log rc=0
    shift 2
    log="$dir/ctest-summary.log"
    echo "== $name: ctest in $dir"
    (cd "$dir" && ctest --output-on-failure -j "$jobs" -LE bench "$@") | tee "$log" || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "== $name: FAILED (ctest exit $rc)"
        return "$rc"
    fi
    if [ "${CI:-}" = "true" ] && grep -q -- '\*\*\*Skipped\|Not Run' "$log"; then
        echo "== $name: tests were skipped; CI installs everything, so this is a failure"
        grep -- '\*\*\*Skipped\|Not Run' "$log" || true
        return 1
    fi
    return 0
}

[ $# -eq 1 ] || usage
case $1 in
demo)
    ./scripts/install-deps.sh
    build "$build_root/dev"
    P11P_MODULE="$build_root/dev/pkcs11/libp11portal.so" \
        P11P_TOOL="$build_root/dev/tools/p11portal" ./scripts/demo.sh
    ;;
test)
    ./scripts/install-deps.sh
    build "$build_root/dev" -DCMAKE_BUILD_TYPE=Debug
    build "$build_root/asan" -DCMAKE_BUILD_TYPE=Debug -DP11P_SANITIZE=ON
    CC=clang build "$build_root/clang" -DCMAKE_BUILD_TYPE=Debug -DP11P_FUZZ=ON
    rc=0
    run_suite "$build_root/dev" dev || rc=1
    run_suite "$build_root/asan" asan || rc=1
    run_suite "$build_root/clang" clang-fuzz -L fuzz || rc=1
    if [ "$rc" -ne 0 ]; then
        echo "== test: FAILED"
    else
        echo "== test: all suites passed (dev, asan, clang + fuzz)"
    fi
    exit "$rc"
    ;;
*)
    usage
    ;;
esac

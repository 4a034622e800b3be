# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# shellcheck disable=SC2034
#
# Helpers of the p11portal tool's tests (tests/integration/tool_*.sh,
# issue 7). Source after lib.sh (and sim_lib.sh when the test needs the
# portal simulator):
#   . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/tool_lib.sh"
# The tool is $P11P_TOOL (set by tools.cmake). The user PIN goes through a
# 0600 PIN file (--pin-source), never an argument.

P11P_TOOL=${P11P_TOOL:-}
[ -n "$P11P_TOOL" ] || skip "P11P_TOOL is not set"
[ -x "$P11P_TOOL" ] || fail "tool not found: $P11P_TOOL"

PIN_FILE=$TEST_DIR/user.pin
(umask 077 && printf '%s\n' "$USER_PIN" >"$PIN_FILE")

# tool ARGS...: runs the tool with the PIN file; prints what it prints,
# returns its exit code.
tool() {
    "$P11P_TOOL" "$@" --pin-source "$PIN_FILE"
}

# tool_rc EXPECTED ARGS...: runs the tool and fails the test unless it
# exits with EXPECTED and prints no PIN. Output goes to $TEST_DIR/out/tool-N.{out,err} and
# is echoed on failure.
TOOL_N=0
tool_rc() {
    local want=$1 rc=0
    shift
    TOOL_N=$((TOOL_N + 1))
    mkdir -p "$TEST_DIR/out"
    TOOL_OUT=$TEST_DIR/out/tool-$TOOL_N.out
    TOOL_ERR=$TEST_DIR/out/tool-$TOOL_N.err
    tool "$@" >"$TOOL_OUT" 2>"$TOOL_ERR" || rc=$?
    # No secret in what a person sees.
    if grep -F -e "$USER_PIN" -e "$SO_PIN" "$TOOL_OUT" "$TOOL_ERR" >/dev/null; then
        fail "p11portal $1 printed a PIN"
    fi
    if [ "$rc" -ne "$want" ]; then
        echo "--- p11portal $* (exit $rc, expected $want)" >&2
        cat "$TOOL_OUT" "$TOOL_ERR" >&2
        fail "p11portal $1 exited $rc, expected $want"
    fi
}

# tool_json_field FILE EXPR: evaluates a Python expression over the JSON
# document in FILE bound to "d" and prints the result.
tool_json() {
    python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2"
}

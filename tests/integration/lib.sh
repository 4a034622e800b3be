# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Variables set here are used by the scripts that source this file.
# shellcheck disable=SC2034
#
# Shared helpers of the integration tests (STYLE.md 3.14). Source it first:
#   . "$(dirname "$0")/lib.sh"
# It gives each test its own temporary folder (XDG_DATA_HOME, config),
# a cleanup trap that kills only the processes the test started, `run` that
# echoes each command (PINs masked) before running it, wrappers for the
# clients that load the module, and the ASan preload when the module is an
# ASan build (STYLE.md 3.15).

set -euo pipefail

# Canary PINs: distinctive, so secrets_canary.sh can grep for them.
SO_PIN=canary-so-7d2a41
USER_PIN=canary-user-5c1f9e
USER_PIN2=canary-user2-b83e07
WRONG_PIN=canary-wrong-0a9d33

skip() {
    echo "SKIP: $*"
    exit 77
}
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
    done
}

P11P_MODULE=${P11P_MODULE:-}
[ -n "$P11P_MODULE" ] || skip "P11P_MODULE is not set"
[ -f "$P11P_MODULE" ] || fail "module not found: $P11P_MODULE"
P11P_SOURCE_DIR=${P11P_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/p11it.XXXXXX")
export XDG_DATA_HOME=$TEST_DIR/data
export P11PORTAL_CONF=$TEST_DIR/p11portal.conf
DATA_DIR=$XDG_DATA_HOME/p11portal
mkdir -p "$XDG_DATA_HOME"

# A fast configuration: one local token, a cheap KDF (tests log in often).
cat >"$P11PORTAL_CONF" <<CONF
[token "p11portal"]
driver = local
kdf_iterations = 1000
CONF

STARTED_PIDS=()
# start: runs a command in the background and remembers its pid.
start() {
    "$@" &
    STARTED_PIDS+=($!)
}
cleanup() {
    local rc=$? p
    for p in "${STARTED_PIDS[@]}"; do
        kill -9 "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [ "$rc" -ne 0 ] || [ -n "${P11P_KEEP:-}" ]; then
        echo "test folder kept: $TEST_DIR" >&2
    else
        rm -rf "$TEST_DIR"
    fi
}
trap cleanup EXIT

# mask: the command line with the PINs replaced by their names.
mask() {
    local line="$*"
    line=${line//$WRONG_PIN/\$WRONG_PIN}
    line=${line//$SO_PIN/\$SO_PIN}
    line=${line//$USER_PIN2/\$USER_PIN2}
    line=${line//$USER_PIN/\$USER_PIN}
    printf '%s' "$line"
}
run() {
    echo "+ $(mask "$@")" >&2
    "$@"
}

# Clients that load the module. In an ASan build of the module the ASan
# runtime must come first in the process: preload it. Leak checking is off
# for third-party clients: their own leaks at exit are noise (component
# tests keep leak checks on for our code).
MODULE_ENV=()
# (grep without -q reads all of ldd's output: with pipefail, -q could make
# ldd die of SIGPIPE and the test miss the ASan build.)
if ldd "$P11P_MODULE" 2>/dev/null | grep libasan >/dev/null; then
    MODULE_ENV=(env "LD_PRELOAD=$(gcc -print-file-name=libasan.so)"
        "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:verify_asan_link_order=0")
fi

p11() {
    run "${MODULE_ENV[@]}" pkcs11-tool --module "$P11P_MODULE" "$@"
}
p11tool_() {
    run "${MODULE_ENV[@]}" p11tool --provider "$P11P_MODULE" "$@"
}

# init_token: C_InitToken + C_InitPIN with the canary PINs.
init_token() {
    p11 --init-token --label p11portal --so-pin "$SO_PIN" >/dev/null
    p11 --init-pin --login --login-type so --so-pin "$SO_PIN" --pin "$USER_PIN" >/dev/null
}

# keygen <key-type> <label> [pkcs11-tool args...]: key pair generation
# (enrolls with the token's portal).
keygen() {
    local type=$1 label=$2
    shift 2
    p11 --login --pin "$USER_PIN" --keypairgen --key-type "$type" \
        --label "$label" --usage-sign "$@" >/dev/null
}

# key_id <label>: the hex CKA_ID of the public key with that label.
# pkcs11-tool 0.23 ignores --label for --sign and --list-objects: select
# keys by --id.
key_id() {
    p11 --list-objects --type pubkey 2>/dev/null |
        awk -v l="$1" '$1 == "label:" { f = ($0 ~ ("label: *" l "$")) } f && $1 == "ID:" { print $2; exit }'
}

# export_certs <dir>: reads every certificate object into <dir>/N.pem and
# sorts them: <dir>/root.pem (self-signed), <dir>/inter.pem (the others
# that are CAs), and <dir>/leaf-<label>.pem for the rest.
export_certs() {
    local dir=$1 i=0 l subj iss
    mkdir -p "$dir"
    p11 --list-objects --type cert >"$dir/list.txt"
    : >"$dir/inter.pem"
    rm -f "$dir/root.pem"
    awk '/^Certificate Object/ {c=1; next} c && /label:/ {sub(/^[ \t]*label:[ \t]*/, ""); print; c=0}' \
        "$dir/list.txt" | sort -u >"$dir/labels.txt"
    while IFS= read -r l; do
        i=$((i + 1))
        p11 --read-object --type cert --label "$l" --output-file "$dir/$i.der" >/dev/null
        openssl x509 -inform DER -in "$dir/$i.der" -out "$dir/$i.pem"
        subj=$(openssl x509 -in "$dir/$i.pem" -noout -subject -nameopt RFC2253)
        iss=$(openssl x509 -in "$dir/$i.pem" -noout -issuer -nameopt RFC2253)
        if [ "${subj#subject=}" = "${iss#issuer=}" ]; then
            cp "$dir/$i.pem" "$dir/root.pem"
        elif openssl x509 -in "$dir/$i.pem" -noout -ext basicConstraints 2>/dev/null | grep -q 'CA:TRUE'; then
            cat "$dir/$i.pem" >>"$dir/inter.pem"
        else
            cp "$dir/$i.pem" "$dir/leaf-$l.pem"
        fi
    done <"$dir/labels.txt"
    [ -f "$dir/root.pem" ] || fail "no root certificate on the token"
}

# verify_leaf <dir> <label>: the chain on the token verifies the leaf.
verify_leaf() {
    local dir=$1 l=$2
    local args=(-CAfile "$dir/root.pem")
    if [ -s "$dir/inter.pem" ]; then
        args+=(-untrusted "$dir/inter.pem")
    fi
    run openssl verify "${args[@]}" "$dir/leaf-$l.pem"
}

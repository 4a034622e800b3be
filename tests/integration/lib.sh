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
#
# Key backend (issue 5): P11P_TEST_BACKEND=soft (default) or hsm selects the
# backend of the test's token "p11portal". With hsm, lib.sh makes a private
# SoftHSM2 (its own SOFTHSM2_CONF and tokendir in the test folder) with one
# token "backing", and the token keeps its keys there (docs/hsm.md). The
# PINs pass through, so the backing token is initialised with the canary SO
# and user PINs: a test uses the same PINs over either backend. A test that
# must know the backend asks `is_hsm`; the hsm_*.sh tests (hsm_lib.sh) use
# the same SoftHSM2 helpers with PINs of their own.

set -euo pipefail

# Canary PINs: distinctive, so secrets_canary.sh can grep for them.
SO_PIN=canary-so-7d2a41
USER_PIN=canary-user-5c1f9e
USER_PIN2=canary-user2-b83e07
WRONG_PIN=canary-wrong-0a9d33
# The backing token's own PINs, for the tests where they differ from the
# token's (hsm_lib.sh: PIN source mode); canaries too.
HSM_SO_PIN=canary-hsm-so-90d1c3
HSM_USER_PIN=canary-hsm-user-4e77a2

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

P11P_TEST_BACKEND=${P11P_TEST_BACKEND:-soft}
case $P11P_TEST_BACKEND in
soft | hsm) ;;
*) fail "P11P_TEST_BACKEND must be soft or hsm, not '$P11P_TEST_BACKEND'" ;;
esac
SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
# The backing token (hsm backend) and the user PIN that logs into it
# directly (set by hsm_setup).
HSM_TOKEN_LABEL=backing
HSM_PIN=

# is_hsm: true when the token keeps its keys in the backing SoftHSM2.
is_hsm() {
    [ "$P11P_TEST_BACKEND" = hsm ]
}

# token_config <name> [line...]: P11PORTAL_CONF with one local-CA token
# <name> over the selected backend, plus the given lines (at the end of the
# token's section, so a test may append more). A cheap KDF: tests log in
# often.
token_config() {
    local name=$1 l
    shift
    {
        printf '[token "%s"]\n' "$name"
        printf 'driver = local\nkdf_iterations = 1000\n'
        if is_hsm; then
            printf 'key_backend = hsm\nhsm_module = %s\nhsm_token_label = %s\n' \
                "$SOFTHSM_MODULE" "$HSM_TOKEN_LABEL"
        fi
        for l in "$@"; do
            printf '%s\n' "$l"
        done
    } >"$P11PORTAL_CONF"
}

# hsm_setup <so-pin> <user-pin>: a private SoftHSM2 in the test folder with
# one fresh token "backing" with those PINs. Called again, it starts over
# with a fresh token (before the test made any object).
hsm_setup() {
    [ -f "$SOFTHSM_MODULE" ] || skip "SoftHSM2 is not installed ($SOFTHSM_MODULE)"
    need softhsm2-util pkcs11-tool
    export SOFTHSM2_CONF=$TEST_DIR/softhsm2.conf
    rm -rf "$TEST_DIR/softhsm-tokens"
    mkdir -p "$TEST_DIR/softhsm-tokens"
    cat >"$SOFTHSM2_CONF" <<SCONF
directories.tokendir = $TEST_DIR/softhsm-tokens
objectstore.backend = file
log.level = ERROR
SCONF
    run softhsm2-util --init-token --free --label "$HSM_TOKEN_LABEL" \
        --so-pin "$1" --pin "$2" >/dev/null
    HSM_PIN=$2
}

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
    line=${line//$HSM_SO_PIN/\$HSM_SO_PIN}
    line=${line//$HSM_USER_PIN/\$HSM_USER_PIN}
    printf '%s' "$line"
}
run() {
    echo "+ $(mask "$@")" >&2
    "$@"
}

# The test's token "p11portal" over the selected backend.
if is_hsm; then
    # PIN pass-through (docs/hsm.md "PINs"): the token's SO and user PINs
    # are the backing token's.
    hsm_setup "$SO_PIN" "$USER_PIN"
fi
token_config p11portal

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
    local env=("${MODULE_ENV[@]}")
    # Sanitizer build over the hsm backend: with SoftHSM2 loaded, p11tool
    # hangs at exit in p11-kit's destructor; a shim keeps it from freeing
    # its locale (tests/integration/hsm_nofreelocale.c).
    if is_hsm && [ ${#env[@]} -gt 0 ] && [ -n "${P11P_NOFREELOCALE:-}" ]; then
        env[1]="${env[1]}:$P11P_NOFREELOCALE"
    fi
    run "${env[@]}" p11tool --provider "$P11P_MODULE" "$@"
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
        elif openssl x509 -in "$dir/$i.pem" -noout -ext basicConstraints 2>/dev/null | grep 'CA:TRUE' >/dev/null; then
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

# softhsm <pkcs11-tool args...>: pkcs11-tool pointed directly at the
# backing SoftHSM2 token, not through p11portal.
softhsm() {
    run pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$HSM_TOKEN_LABEL" "$@"
}

# backing_keys: one line per private key of the backing token, read
# directly with the backing user PIN: "<hex CKA_ID> <flags>", flags being
# pkcs11-tool's Access and Usage words joined by commas (spaces become
# '_'), e.g. "sensitive,always_sensitive,never_extractable,local,sign".
backing_keys() {
    softhsm --login --pin "$HSM_PIN" --list-objects --type privkey |
        awk '
            function flush() { if (obj) print id, (flags == "" ? "-" : flags) }
            function add(s,   n, i, w) {
                n = split(s, w, /, */)
                for (i = 1; i <= n; i++) {
                    gsub(/^ +| +$/, "", w[i]); gsub(/ /, "_", w[i])
                    if (w[i] != "") flags = flags (flags == "" ? "" : ",") w[i]
                }
            }
            /^Private Key Object/ { flush(); obj = 1; id = "-"; flags = ""; next }
            /^[^ ]/ { flush(); obj = 0; next }
            obj && $1 == "ID:" { id = $2 }
            obj && ($1 == "Access:" || $1 == "Usage:") { sub(/^ *[A-Za-z]+: */, ""); add($0) }
            END { flush() }'
}

# check_backing_keys [--generated] <n> [hex CKA_ID...]: the backing
# SoftHSM2, read directly, holds at least n private keys and one with each
# given CKA_ID; every one is sensitive (CKA_SENSITIVE true) and not
# extractable (CKA_EXTRACTABLE false: pkcs11-tool prints "extractable" only
# when it is true), and was never extractable. With --generated (every key
# was generated by p11portal), none may unwrap or derive either (docs/hsm.md
# "What a backing HSM must offer").
check_backing_keys() {
    local strict='' want keys n id flags
    if [ "$1" = --generated ]; then
        strict=1
        shift
    fi
    want=$1
    shift
    keys=$(backing_keys)
    printf 'backing private keys (CKA_ID flags):\n%s\n' "$keys"
    n=$(printf '%s\n' "$keys" | grep -c . || true)
    [ "$n" -ge "$want" ] || fail "SoftHSM2 holds $n private keys, expected >= $want"
    while read -r id flags; do
        [ -n "$id" ] || continue
        case ",$flags," in
        *,sensitive,*) ;;
        *) fail "backing private key $id is not sensitive ($flags)" ;;
        esac
        case ",$flags," in
        *,extractable,*) fail "backing private key $id is extractable ($flags)" ;;
        esac
        case ",$flags," in
        *,never_extractable,*) ;;
        *) fail "backing private key $id may have been extractable ($flags)" ;;
        esac
        if [ -n "$strict" ]; then
            case ",$flags," in
            *,unwrap,* | *,derive,*)
                fail "backing private key $id may unwrap or derive ($flags)" ;;
            esac
        fi
    done <<<"$keys"
    for id in "$@"; do
        printf '%s\n' "$keys" | grep "^$id " >/dev/null || fail "SoftHSM2 has no private key with CKA_ID $id"
    done
}

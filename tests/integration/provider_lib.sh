# shellcheck shell=bash
# Shared helpers for the OpenSSL provider tests (tests/integration/openssl_*.sh).
# Each test sources this file, calls p11p_prov_setup, and gets:
#   - its own temporary directory ($P11P_TMP) removed at exit,
#   - a fresh SoftHSM2 token (its own SOFTHSM2_CONF and tokendir) when the
#     module under test is SoftHSM2 (P11P_TEST_MODULE, default SoftHSM2),
#   - its own OPENSSL_CONF loading the provider from the build tree,
#   - canary PINs that p11p_prov_check_canaries looks for in every output.
# Commands are echoed before they run (ossl, run), so a failure log can be
# replayed by hand. Exit 77 means skipped.
#
# SoftHSM2 quirks (written down where they matter):
#   - SoftHSM2 2.6 returns CKR_ATTRIBUTE_TYPE_INVALID for vendor attributes,
#     so enrollment options cannot be tested over it.
#   - SoftHSM2 private keys carry no CKA_EC_POINT; the provider reads the
#     public key object with the same CKA_ID.

set -euo pipefail

P11P_TEST_MODULE=${P11P_TEST_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
P11P_SOURCE_DIR=${P11P_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
P11P_BUILD_DIR=${P11P_BUILD_DIR:-$P11P_SOURCE_DIR/build-provider}
P11P_PROVIDER_DIR=${P11P_PROVIDER_DIR:-$P11P_BUILD_DIR/provider}

# Distinctive secrets: they must never appear in any output.
P11P_USER_PIN="CanaryPin-5c1f-7391"
P11P_SO_PIN="CanarySo-8e2d-4471"
P11P_TOKEN_LABEL=${P11P_TOKEN_LABEL:-factory}

P11P_PIDS=()

p11p_prov_cleanup() {
    local rc=$?
    local pid
    for pid in "${P11P_PIDS[@]:-}"; do
        if [ -n "$pid" ]; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [ -n "${P11P_TMP:-}" ] && [ -d "$P11P_TMP" ]; then
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "${P11P_KEEP_TMP:-}" ]; then
            echo "keeping $P11P_TMP" >&2
        else
            rm -rf "$P11P_TMP"
        fi
    fi
    exit "$rc"
}

# Prints and runs a command.
run() {
    echo "+ $*" >&2
    "$@"
}

# Runs openssl with the test configuration; echoes the command first.
ossl() {
    echo "+ openssl $*" >&2
    openssl "$@"
}

# pkcs11-tool loading an ASan build of the module needs the ASan runtime
# first in the process (STYLE.md 3.15); its own leaks are not ours to judge.
P11P_TOOL_ENV=()
p11p_prov_tool_env() {
    local deps
    deps=$(ldd "$P11P_TEST_MODULE" 2>/dev/null || true)
    if [[ "$deps" == *libasan* ]]; then
        P11P_TOOL_ENV=("LD_PRELOAD=$(gcc -print-file-name=libasan.so)"
            "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:verify_asan_link_order=0")
    fi
}

# Runs pkcs11-tool on the module under test, without our provider.
p11tool_cmd() {
    command env "${P11P_TOOL_ENV[@]}" OPENSSL_CONF=/dev/null pkcs11-tool --module "$P11P_TEST_MODULE" "$@"
}

p11tool_run() {
    echo "+ pkcs11-tool --module $P11P_TEST_MODULE $*" >&2
    p11tool_cmd "$@"
}

skip() {
    echo "SKIP: $*" >&2
    exit 77
}

# Environment for every openssl process that may load the provider: when
# the provider was built with ASan, the runtime is preloaded (openssl itself
# is not instrumented; STYLE.md 3.15). Only openssl gets it: pkcs11-tool and
# softhsm2-util run without (their own leaks are not ours to judge).
P11P_OSSL_ENV=()
p11p_prov_sanitizer_env() {
    local lib deps
    # (No "ldd | grep -q": with pipefail, grep's early exit fails ldd.)
    deps=$(ldd "$P11P_PROVIDER_DIR/p11portal.so" 2>/dev/null || true)
    if [[ "$deps" == *libasan* ]]; then
        lib=$(gcc -print-file-name=libasan.so)
        P11P_OSSL_ENV=("LD_PRELOAD=$lib${LD_PRELOAD:+:$LD_PRELOAD}"
            # Slow unwinding: libcrypto and the modules have no frame
            # pointers, and suppressions match only on a full stack.
            "ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}:fast_unwind_on_malloc=0"
            "LSAN_OPTIONS=suppressions=$P11P_SOURCE_DIR/tests/lsan.supp:print_suppressions=0")
        echo "sanitized provider: openssl runs with ${P11P_OSSL_ENV[*]}" >&2
    fi
}

# Every "openssl" in the tests goes through here (sanitizer environment).
openssl() {
    command env "${P11P_OSSL_ENV[@]}" openssl "$@"
}

# True when the module under test is SoftHSM2 (no enrollment, no vendor
# attributes); otherwise it is libp11portal.so.
p11p_prov_is_softhsm() {
    [[ "$P11P_TEST_MODULE" == *softhsm* ]]
}

# Our module: its own configuration (P11PORTAL_CONF) with one local-CA
# token, its cache under a private XDG_DATA_HOME, and the token and user PIN
# initialised with pkcs11-tool (C_InitToken, C_InitPIN). A cheap KDF: the
# tests log in often. P11P_PORTAL_CONF_EXTRA (lines) is appended to the
# token section (a test of another driver sets it before p11p_prov_setup).
# P11P_TEST_BACKEND=hsm keeps the token's keys in a SoftHSM2 token
# (tests/integration/hsm.cmake registers those runs).
p11p_prov_p11portal_token() {
    export XDG_DATA_HOME="$P11P_TMP/data"
    export P11PORTAL_CONF="$P11P_TMP/p11portal.conf"
    mkdir -p "$XDG_DATA_HOME"
    {
        echo "[token \"$P11P_TOKEN_LABEL\"]"
        echo "label = $P11P_TOKEN_LABEL"
        echo "kdf_iterations = 1000"
        if [ -n "${P11P_PORTAL_CONF_EXTRA:-}" ]; then
            printf '%s\n' "$P11P_PORTAL_CONF_EXTRA"
        else
            echo "driver = local"
        fi
        if [ "${P11P_TEST_BACKEND:-soft}" = hsm ]; then
            echo "key_backend = hsm"
            echo "hsm_module = /usr/lib/softhsm/libsofthsm2.so"
            echo "hsm_token_label = backing"
        fi
    } >"$P11PORTAL_CONF"
    if [ "${P11P_TEST_BACKEND:-soft}" = hsm ]; then
        # hsm key backend (issue 5, docs/hsm.md): the keys live in a fresh
        # SoftHSM2 token "backing" (this test's SOFTHSM2_CONF). The PINs
        # pass through, so it gets the test's PINs. (Without our provider:
        # softhsm2-util runs on libcrypto.)
        echo "+ softhsm2-util --init-token --free --label backing --so-pin *** --pin ***" >&2
        OPENSSL_CONF=/dev/null softhsm2-util --init-token --free --label backing \
            --so-pin "$P11P_SO_PIN" --pin "$P11P_USER_PIN" >/dev/null
    fi
    echo "+ pkcs11-tool --module $P11P_TEST_MODULE --init-token --label $P11P_TOKEN_LABEL --so-pin ***" >&2
    p11tool_cmd --init-token --label "$P11P_TOKEN_LABEL" --so-pin "$P11P_SO_PIN" >"$P11P_TMP/out/init-token.log" 2>&1
    echo "+ pkcs11-tool --module $P11P_TEST_MODULE --init-pin --login --login-type so --so-pin *** --pin ***" >&2
    p11tool_cmd --init-pin --login --login-type so --so-pin "$P11P_SO_PIN" --pin "$P11P_USER_PIN" >"$P11P_TMP/out/init-pin.log" 2>&1
}

p11p_prov_setup() {
    command -v openssl >/dev/null || skip "openssl not installed"
    command -v pkcs11-tool >/dev/null || skip "pkcs11-tool (opensc) not installed"
    [ -f "$P11P_PROVIDER_DIR/p11portal.so" ] || skip "provider not built in $P11P_PROVIDER_DIR"
    [ -f "$P11P_TEST_MODULE" ] || skip "module $P11P_TEST_MODULE missing"

    P11P_TMP=$(mktemp -d "${TMPDIR:-/tmp}/p11p-prov.XXXXXX")
    trap p11p_prov_cleanup EXIT
    mkdir -p "$P11P_TMP/tokens" "$P11P_TMP/secret" "$P11P_TMP/out"
    chmod 700 "$P11P_TMP/secret"
    cd "$P11P_TMP/out"
    # A copy of everything the test prints, for the canary check.
    exec > >(tee -a "$P11P_TMP/out/test-stdout.log") \
        2> >(tee -a "$P11P_TMP/out/test-stderr.log" >&2)

    export SOFTHSM2_CONF="$P11P_TMP/softhsm2.conf"
    cat >"$SOFTHSM2_CONF" <<EOC
directories.tokendir = $P11P_TMP/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOC
    printf '%s' "$P11P_USER_PIN" >"$P11P_TMP/secret/pin"
    P11P_PIN_FILE="$P11P_TMP/secret/pin"

    p11p_prov_tool_env
    if p11p_prov_is_softhsm; then
        echo "+ softhsm2-util --init-token --free --label $P11P_TOKEN_LABEL --so-pin *** --pin ***" >&2
        softhsm2-util --init-token --free --label "$P11P_TOKEN_LABEL" \
            --so-pin "$P11P_SO_PIN" --pin "$P11P_USER_PIN" >/dev/null
    elif [ -z "${P11P_PROV_DEFER_TOKEN:-}" ]; then
        # (A test that must start a portal first sets P11P_PROV_DEFER_TOKEN
        # and calls p11p_prov_p11portal_token itself.)
        p11p_prov_p11portal_token
    fi

    # The configuration names the module; the environment variable is the
    # fallback for "-provider p11portal" without a configuration section.
    export P11PORTAL_MODULE="$P11P_TEST_MODULE"
    export OPENSSL_MODULES="$P11P_PROVIDER_DIR"
    export OPENSSL_CONF="$P11P_TMP/openssl.cnf"
    cat >"$OPENSSL_CONF" <<EOC
openssl_conf = openssl_init

[openssl_init]
providers = provider_sect
alg_section = algorithm_sect

# Prefer p11portal where it implements an algorithm, whatever order
# OpenSSL keeps its providers in (conf/openssl-p11portal.cnf).
[algorithm_sect]
default_properties = ?provider=p11portal

[provider_sect]
p11portal = p11portal_sect
default = default_sect

[p11portal_sect]
module = $P11P_PROVIDER_DIR/p11portal.so
pkcs11-module = $P11P_TEST_MODULE
pin-source = file:$P11P_PIN_FILE
activate = 1

[default_sect]
activate = 1
EOC
    P11P_TOKEN_URI="pkcs11:token=$P11P_TOKEN_LABEL"
    p11p_prov_sanitizer_env
}

# pkcs11-tool runs with OPENSSL_CONF=/dev/null: it initialises libcrypto
# and must not load the provider under test.
# Creates a key pair on the token with pkcs11-tool: type label id.
# type: rsa:2048, EC:prime256v1, EC:secp384r1, EC:secp521r1, EC:edwards25519
p11p_prov_keygen() {
    local type=$1 label=$2 id=$3
    local usage=(--usage-sign)
    [[ "$type" == rsa:* ]] && usage+=(--usage-decrypt)
    echo "+ pkcs11-tool --module $P11P_TEST_MODULE --login --pin *** --keypairgen --key-type $type --label $label --id $id ${usage[*]}" >&2
    p11tool_cmd --login --pin "$P11P_USER_PIN" \
        --keypairgen --key-type "$type" --label "$label" --id "$id" \
        "${usage[@]}" >"$P11P_TMP/out/keygen-$label.log" 2>&1
}

# Writes a DER certificate file to the token: file label id.
p11p_prov_put_cert() {
    local file=$1 label=$2 id=$3
    echo "+ pkcs11-tool --module $P11P_TEST_MODULE --login --pin *** --write-object $file --type cert --label $label --id $id" >&2
    p11tool_cmd --login --pin "$P11P_USER_PIN" \
        --write-object "$file" --type cert --label "$label" --id "$id" \
        >"$P11P_TMP/out/cert-$label.log" 2>&1
}

# Starts a command in the background, remembering its pid for cleanup.
# "openssl" is started through env (exec chain), so the pid is openssl's.
p11p_prov_spawn() {
    echo "+ $* &" >&2
    if [ "$1" = openssl ]; then
        shift
        command env "${P11P_OSSL_ENV[@]}" openssl "$@" &
    else
        "$@" &
    fi
    P11P_PIDS+=("$!")
    # shellcheck disable=SC2034 # read by the calling test
    P11P_LAST_PID=$!
}

# Fails if a canary PIN appears in any file under $P11P_TMP/out: every
# output file of the test and a copy of its whole stdout and stderr
# (captured by p11p_prov_setup). The PIN file itself lives elsewhere.
p11p_prov_check_canaries() {
    local hits
    hits=$(grep -rlF -e "$P11P_USER_PIN" -e "$P11P_SO_PIN" "$P11P_TMP/out" 2>/dev/null || true)
    if [ -n "$hits" ]; then
        echo "FAIL: a canary PIN leaked into: $hits" >&2
        return 1
    fi
    echo "canaries: no PIN in any output" >&2
}

# Picks a free loopback TCP port.
p11p_prov_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# A file-based test CA (default provider): ca.key, ca.crt in the cwd.
# Over libp11portal.so the module's CA issued the certificates already:
# ca.crt is then the CA chain read back from the token (p11p_prov_token_ca).
p11p_prov_make_ca() {
    if ! p11p_prov_is_softhsm; then
        p11p_prov_token_ca
        cat root.crt inter.crt >ca.crt
        return 0
    fi
    ossl req -x509 -newkey EC -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout ca.key -subj "/CN=p11p test CA" -days 30 \
        -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign -out ca.crt 2>/dev/null
}

# Issues a certificate for the token key named label (id) from the test CA
# and stores it on the token next to the key: label id [extra x509 args].
# Over libp11portal.so the key was enrolled when it was generated: the
# issued certificate is read back from the token into label.crt instead.
p11p_prov_issue_cert() {
    local label=$1 id=$2
    shift 2
    if ! p11p_prov_is_softhsm; then
        ossl storeutl -certs -out "$label.crt" "$P11P_TOKEN_URI;object=$label;type=cert" >/dev/null
        [ "$(grep -c "BEGIN CERTIFICATE" "$label.crt")" -eq 1 ]
        ossl x509 -in "$label.crt" -outform DER -out "$label.crt.der"
        return 0
    fi
    ossl req -new -key "$P11P_TOKEN_URI;object=$label;type=private" \
        -subj "/CN=$label" -out "$label.csr"
    ossl x509 -req -in "$label.csr" -CA ca.crt -CAkey ca.key -days 30 \
        -set_serial "0x$id$RANDOM" -out "$label.crt" "$@"
    ossl x509 -in "$label.crt" -outform DER -out "$label.crt.der"
    p11p_prov_put_cert "$label.crt.der" "$label" "$id"
}

# Reads the CA certificates on the token (the module's issuing chain) with
# storeutl and sorts them into root.crt (self-signed) and inter.crt (the
# other CA certificates, maybe empty); P11P_CA_COUNT is how many there are.
p11p_prov_token_ca() {
    local f subj iss
    rm -rf token-certs && mkdir token-certs
    ossl storeutl -certs -out token-certs/all.pem "$P11P_TOKEN_URI" >/dev/null
    awk '/-----BEGIN CERTIFICATE-----/ { n++ } n { print > ("token-certs/" n ".pem") }' \
        token-certs/all.pem
    : >root.crt
    : >inter.crt
    P11P_CA_COUNT=0
    for f in token-certs/[0-9]*.pem; do
        if openssl x509 -in "$f" -noout -ext basicConstraints 2>/dev/null | grep "CA:TRUE" >/dev/null; then
            P11P_CA_COUNT=$((P11P_CA_COUNT + 1))
            subj=$(openssl x509 -in "$f" -noout -subject)
            iss=$(openssl x509 -in "$f" -noout -issuer)
            if [ "${subj#subject=}" = "${iss#issuer=}" ]; then
                cat "$f" >>root.crt
            else
                cat "$f" >>inter.crt
            fi
        fi
    done
    [ -s root.crt ] || {
        echo "FAIL: no root CA certificate on the token" >&2
        return 1
    }
    echo "token CA certificates: $P11P_CA_COUNT" >&2
}

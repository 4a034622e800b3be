# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Variables set here are used by the scripts that source this file.
# shellcheck disable=SC2034
#
# Helpers of the hsm backend's integration tests (issue 5, docs/hsm.md), on
# top of lib.sh: a private SoftHSM2 (its own SOFTHSM2_CONF and tokendir in
# the test folder) with one token "backing", and a p11portal configuration
# whose token "station" keeps its keys there. Source it after lib.sh:
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/hsm_lib.sh"
# Then hsm_config [extra config lines...] writes the configuration.

SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
[ -f "$SOFTHSM_MODULE" ] || skip "SoftHSM2 is not installed ($SOFTHSM_MODULE)"
need softhsm2-util pkcs11-tool openssl

# The backing token's PINs (canaries too: they must never be logged).
HSM_SO_PIN=canary-hsm-so-90d1c3
HSM_USER_PIN=canary-hsm-user-4e77a2

export SOFTHSM2_CONF=$TEST_DIR/softhsm2.conf
mkdir -p "$TEST_DIR/softhsm-tokens"
cat >"$SOFTHSM2_CONF" <<CONF
directories.tokendir = $TEST_DIR/softhsm-tokens
objectstore.backend = file
log.level = ERROR
CONF
run softhsm2-util --init-token --free --label backing \
    --so-pin "$HSM_SO_PIN" --pin "$HSM_USER_PIN" >/dev/null

# mask also hides the backing PINs in echoed commands.
mask() {
    local line="$*"
    line=${line//$SO_PIN/\$SO_PIN}
    line=${line//$USER_PIN2/\$USER_PIN2}
    line=${line//$USER_PIN/\$USER_PIN}
    line=${line//$HSM_SO_PIN/\$HSM_SO_PIN}
    line=${line//$HSM_USER_PIN/\$HSM_USER_PIN}
    printf '%s' "$line"
}

# hsm_config [line...]: token "station" with key_backend = hsm over the
# private SoftHSM2, plus the given lines.
hsm_config() {
    {
        printf '[token "station"]\n'
        printf 'driver = local\nkey_backend = hsm\nkdf_iterations = 1000\n'
        printf 'hsm_module = %s\nhsm_token_label = backing\n' "$SOFTHSM_MODULE"
        local l
        for l in "$@"; do
            printf '%s\n' "$l"
        done
    } >"$P11PORTAL_CONF"
}

# softhsm <pkcs11-tool args...>: pkcs11-tool pointed directly at SoftHSM2.
softhsm() {
    run pkcs11-tool --module "$SOFTHSM_MODULE" --token-label backing "$@"
}

# check_backing_keys <n>: SoftHSM2, read directly, holds at least n private
# keys, every one sensitive and not extractable, all token objects.
check_backing_keys() {
    local want=$1 out n
    out=$(softhsm --login --pin "$HSM_USER_PIN" --list-objects --type privkey)
    printf '%s\n' "$out"
    n=$(printf '%s\n' "$out" | grep -c '^Private Key Object' || true)
    [ "$n" -ge "$want" ] || fail "SoftHSM2 holds $n private keys, expected >= $want"
    [ "$(printf '%s\n' "$out" | grep -c 'Access:.*sensitive')" -eq "$n" ] ||
        fail "a backing private key is not sensitive"
    [ "$(printf '%s\n' "$out" | grep -c 'Access:.*never extractable')" -eq "$n" ] ||
        fail "a backing private key may have been extractable"
    if printf '%s\n' "$out" | grep 'Access:' | grep -Eq '(^|[:,] *)extractable'; then
        fail "a backing private key is extractable"
    fi
}

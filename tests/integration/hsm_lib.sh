# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Variables set here are used by lib.sh's functions.
# shellcheck disable=SC2034
#
# Helpers of the hsm backend's own integration tests (issue 5, docs/hsm.md),
# on top of lib.sh, which holds the SoftHSM2 helpers (hsm_setup, softhsm,
# backing_keys, check_backing_keys) shared with the token tests run over
# the hsm backend (P11P_TEST_BACKEND=hsm). Here the backing token "backing"
# gets PINs of its own (HSM_SO_PIN, HSM_USER_PIN), and the p11portal token
# is "station". Source it after lib.sh:
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/hsm_lib.sh"
# Then hsm_config [extra config lines...] writes the configuration.

# These tests are about the hsm backend, whatever P11P_TEST_BACKEND says.
P11P_TEST_BACKEND=hsm
need openssl
hsm_setup "$HSM_SO_PIN" "$HSM_USER_PIN"

# hsm_config [line...]: token "station" with key_backend = hsm over the
# private SoftHSM2, plus the given lines.
hsm_config() {
    token_config station "$@"
}

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 400
#
# p11portal import over the hsm backend (P11P_TEST_BACKEND=hsm, lib.sh's
# private SoftHSM2): tool_import.sh again; there, each imported key is a
# backing SoftHSM2 object, read directly with pkcs11-tool, sensitive and
# not extractable.
set -euo pipefail
P11P_TEST_BACKEND=hsm exec bash "$(dirname "$0")/tool_import.sh"

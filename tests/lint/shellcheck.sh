#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs ShellCheck over every shell script of the repository (STYLE.md 3.14).
. "$(dirname "$0")/files.sh"

if ! command -v shellcheck >/dev/null; then
    echo "SKIP: shellcheck is not installed (apt-get install shellcheck)"
    exit 77
fi
mapfile -t files < <(lint_files '*.sh' '.ci/run')
[ ${#files[@]} -gt 0 ] || { echo "shellcheck: no files"; exit 0; }
if ! shellcheck -x -P SCRIPTDIR "${files[@]}"; then
    echo "shellcheck: findings above"
    exit 1
fi
echo "shellcheck: ok (${#files[@]} scripts)"

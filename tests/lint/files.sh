# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Shared by the lint tests: the repository's files of a kind, tracked or
# new (not ignored), one per line, relative to the repository root. Source
# it, then call: lint_files '*.c' '*.h'
set -euo pipefail

LINT_ROOT=${P11P_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cd "$LINT_ROOT"

lint_files() {
    if git -C "$LINT_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
        git -C "$LINT_ROOT" ls-files --cached --others --exclude-standard -- "$@" |
            while IFS= read -r f; do
                [ -f "$f" ] && printf '%s\n' "$f"
            done
    else
        local args=() p
        for p in "$@"; do
            args+=(-o -name "$p")
        done
        find . -path ./build -prune -o -path './build-*' -prune -o -type f \( -false "${args[@]}" \) -print |
            sed 's|^\./||'
    fi
}

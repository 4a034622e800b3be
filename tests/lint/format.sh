#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Formatting (STYLE.md 3.16): clang-format 14 with the repository's
# .clang-format, in dry-run mode, over every C file. Fix with
# `clang-format -i FILE`.
. "$(dirname "$0")/files.sh"

cf=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$cf" ]; then
    echo "SKIP: clang-format is not installed"
    exit 77
fi
mapfile -t files < <(lint_files '*.c' '*.h')
[ ${#files[@]} -gt 0 ] || { echo "format: no files"; exit 0; }
if ! "$cf" --dry-run -Werror "${files[@]}"; then
    echo "format: files above differ from clang-format; run: $cf -i <file>"
    exit 1
fi
echo "format: ok (${#files[@]} files, $("$cf" --version | head -1))"

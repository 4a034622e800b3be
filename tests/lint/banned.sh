#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Banned functions (STYLE.md 3.6): strcpy, strcat, sprintf, vsprintf, gets,
# strtok, atoi, atol, system, alloca. Use snprintf, strtoul with checks and
# the core/base/str.c helpers. Comment lines are not checked.
. "$(dirname "$0")/files.sh"

re='(^|[^A-Za-z0-9_.>])(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|system|alloca)[[:space:]]*\('
bad=0
while IFS= read -r f; do
    hits=$(grep -n -E "$re" "$f" | grep -v -E '^[0-9]+:[[:space:]]*(/?\*|//)' || true)
    if [ -n "$hits" ]; then
        printf '%s\n' "$hits" | sed "s|^|$f:|"
        bad=$((bad + $(printf '%s\n' "$hits" | wc -l)))
    fi
done < <(lint_files '*.c' '*.h')

if [ "$bad" -ne 0 ]; then
    echo "banned: $bad use(s) of banned functions (STYLE.md 3.6)"
    exit 1
fi
echo "banned: ok"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Banned functions (STYLE.md 3.6): strcpy, strcat, sprintf, vsprintf, gets,
# strtok, atoi, atol, system, alloca. Use snprintf, strtoul with checks and
# the core/base/str.c helpers. Comment lines are not checked. In shell
# scripts, "| grep -q" (see below).
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

# Shell: "producer | grep -q" under pipefail fails at random: grep -q exits
# at the first match and the producer dies of SIGPIPE (CI failed on it).
# Use "grep ... >/dev/null", which reads all of its input.
while IFS= read -r f; do
    hits=$(grep -n -E '\|[[:space:]]*grep[[:space:]]+(-[A-Za-z]*q|--quiet)' "$f" |
        grep -v -E '^[0-9]+:[[:space:]]*#' || true)
    if [ -n "$hits" ]; then
        printf '%s\n' "$hits" | sed "s|^|$f:|"
        bad=$((bad + $(printf '%s\n' "$hits" | wc -l)))
    fi
done < <(lint_files '*.sh')

if [ "$bad" -ne 0 ]; then
    echo "banned: $bad use(s) of banned functions (STYLE.md 3.6)"
    exit 1
fi
echo "banned: ok"

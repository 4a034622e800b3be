#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The docs stay in step with the code: every configuration key of
# core/conf/conf.c is documented in docs/configure.md and shown in
# conf/p11portal.conf.example, and the ulDeviceError table of
# docs/troubleshooting.md lists enum p11p_status (core/base/status.h) in
# order.
. "$(dirname "$0")/files.sh"

bad=0
conf_c=core/conf/conf.c
if [ -f "$conf_c" ]; then
    keys=$(sed -n '/keys_table\[\] = {/,/^};/p' "$conf_c" | grep -o '^ *{ *"[a-z_]*"' | grep -o '"[a-z_]*"' | tr -d '"')
    [ -n "$keys" ] || { echo "docs_sync: no keys found in $conf_c"; exit 1; }
    for k in $keys log; do
        if ! grep -q "| \`$k\` |" docs/configure.md; then
            echo "docs/configure.md: key '$k' is not documented"
            bad=$((bad + 1))
        fi
        if ! grep -q -E "^#? ?$k = " conf/p11portal.conf.example; then
            echo "conf/p11portal.conf.example: key '$k' is missing"
            bad=$((bad + 1))
        fi
    done
fi

status_h=core/base/status.h
want=$(sed -n '/#define P11P_STATUS_LIST/,/^$/p' "$status_h" | grep -o 'X([A-Z_]*' | cut -c3-)
# shellcheck disable=SC2016 # the backquotes are Markdown
have=$(grep -E '^\| [0-9]+ \| `[A-Z_]+` \|' docs/troubleshooting.md | sed -E 's/^\| ([0-9]+) \| `([A-Z_]+)`.*/\1 \2/')
i=0
for name in $want; do
    if ! printf '%s\n' "$have" | grep -x "$i $name" >/dev/null; then
        echo "docs/troubleshooting.md: ulDeviceError $i should be $name"
        bad=$((bad + 1))
    fi
    i=$((i + 1))
done
if [ "$(printf '%s\n' "$have" | grep -c .)" -ne "$i" ]; then
    echo "docs/troubleshooting.md: the ulDeviceError table has extra rows"
    bad=$((bad + 1))
fi

if [ "$bad" -ne 0 ]; then
    echo "docs_sync: $bad difference(s)"
    exit 1
fi
echo "docs_sync: ok"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Layering check (STYLE.md 3.3): every project #include is written from the
# repository root, and a folder includes only the layers its row of the
# table allows. include/p11portal (the public vendor header) is allowed
# everywhere. tests/, bench/ and fuzz targets may include anything.
. "$(dirname "$0")/files.sh"

# folder -> allowed layers (besides itself and include)
allowed_for() {
    case $1 in
    core/base) echo "" ;;
    core/conf) echo "core/base" ;;
    cache) echo "core/base core/conf" ;;
    remote) echo "core/base core/conf" ;;
    core/keys) echo "core/base core/conf cache" ;;
    core/enroll) echo "core/base core/conf cache remote core/keys" ;;
    pkcs11 | tools) echo "core/base core/conf cache remote core/keys core/enroll" ;;
    provider) echo "core/base" ;;
    *) echo "ANY" ;;
    esac
}

# layer_of <path>: the layer a path belongs to.
layer_of() {
    case $1 in
    core/*) echo "$1" | cut -d/ -f1-2 ;;
    *) echo "${1%%/*}" ;;
    esac
}

bad=0
while IFS= read -r f; do
    from=$(layer_of "$f")
    allow=$(allowed_for "$from")
    [ "$allow" = ANY ] && continue
    while IFS=: read -r line inc; do
        path=$(printf '%s' "$inc" | sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/')
        case $path in
        */*) ;;
        *)
            echo "$f:$line: #include \"$path\" is not written from the repository root"
            bad=$((bad + 1))
            continue
            ;;
        esac
        to=$(layer_of "$path")
        [ "$to" = "$from" ] && continue
        [ "$to" = include ] && continue
        [ "$to" = p11portal ] && continue
        ok=0
        for a in $allow; do
            [ "$a" = "$to" ] && ok=1
        done
        if [ "$ok" -eq 0 ]; then
            echo "$f:$line: $from may not include $path (layer $to); allowed: ${allow:-nothing of ours}"
            bad=$((bad + 1))
        fi
    done < <(grep -n -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" || true)
done < <(lint_files '*.c' '*.h')

if [ "$bad" -ne 0 ]; then
    echo "layers: $bad violation(s) of STYLE.md 3.3"
    exit 1
fi
echo "layers: ok"

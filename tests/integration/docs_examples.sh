#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Docs are tested (STYLE.md 3.14). Every fenced block in docs/ opened with
#   ```sh tested
# is run: the blocks of one Markdown file, in order, as one bash script
# with `set -euo pipefail`, in a fresh folder with its own XDG_DATA_HOME
# and no P11PORTAL_CONF (the embedded default). The docs name the module
# as "$MODULE" (set by the reader in the file's first block with
# MODULE=${MODULE:-...}); here MODULE is the built module. The p11portal
# tool is "$P11PORTAL" (P11PORTAL=${P11PORTAL:-p11portal}); here the built
# tool. A file's blocks fail if any command fails.
. "$(dirname "$0")/lib.sh"
need pkcs11-tool openssl

docs=$P11P_SOURCE_DIR/docs
[ -d "$docs" ] || fail "no docs folder at $docs"

# extract <file.md>: prints the tested blocks.
extract() {
    awk '
        /^```sh tested[ \t]*$/ { inb = 1; next }
        inb && /^```[ \t]*$/   { inb = 0; print ""; next }
        inb                    { print }
    ' "$1"
}

total=0
failed=0
while IFS= read -r md; do
    body=$(extract "$md")
    [ -n "$body" ] || continue
    total=$((total + 1))
    rel=${md#"$P11P_SOURCE_DIR"/}
    dir=$TEST_DIR/docs-$total
    mkdir -p "$dir/data"
    script=$dir/example.sh
    {
        echo "set -euo pipefail"
        echo "cd '$dir'"
        printf '%s\n' "$body"
    } >"$script"
    echo "== $rel"
    if (
        unset P11PORTAL_CONF
        export XDG_DATA_HOME=$dir/data MODULE=$P11P_MODULE
        if [ -n "${P11P_TOOL:-}" ]; then
            export P11PORTAL=$P11P_TOOL
        fi
        if [ ${#MODULE_ENV[@]} -gt 0 ]; then
            export "${MODULE_ENV[@]:1}"
        fi
        bash -x "$script"
    ) >"$dir/log" 2>&1; then
        echo "   ok"
    else
        failed=$((failed + 1))
        echo "   FAILED; its output:"
        sed 's/^/   | /' "$dir/log"
    fi
done < <(find "$docs" -name '*.md' | sort)

echo "$total documents with tested examples, $failed failed"
[ "$total" -gt 0 ] || fail "no tested examples found in docs/"
[ "$failed" -eq 0 ] || fail "$failed documents have failing examples"
echo "PASS"

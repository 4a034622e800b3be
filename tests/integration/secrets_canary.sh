#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Secret canaries (STYLE.md 3.14): a full flow at P11PORTAL_LOG=debug with
# distinctive PINs, then every output, log and file of the token (cache
# database with its WAL, the local CA folder) is searched for the PINs.
# Zero hits pass.
. "$(dirname "$0")/lib.sh"
need pkcs11-tool openssl

export P11PORTAL_LOG=debug
out=$TEST_DIR/out
mkdir -p "$out"
cd "$TEST_DIR"

# Every client's stdout and stderr go to files under $out.
p11 --init-token --label p11portal --so-pin "$SO_PIN" >"$out/1.out" 2>"$out/1.err"
p11 --init-pin --login --login-type so --so-pin "$SO_PIN" --pin "$USER_PIN" >"$out/2.out" 2>"$out/2.err"
p11 --login --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 --label canary-key >"$out/3.out" 2>"$out/3.err"
p11 --login --pin "$USER_PIN" --keypairgen --key-type rsa:2048 --label canary-rsa >"$out/4.out" 2>"$out/4.err"
printf 'data' >data.txt
p11 --login --pin "$USER_PIN" --sign --mechanism ECDSA-SHA256 --label canary-key \
    --input-file data.txt --output-file data.sig >"$out/5.out" 2>"$out/5.err"
p11 --login --pin "$WRONG_PIN" --list-objects >"$out/6.out" 2>"$out/6.err" || true
p11 --login --pin "$USER_PIN" --change-pin --new-pin "$USER_PIN2" >"$out/7.out" 2>"$out/7.err"
p11 --login --pin "$USER_PIN2" --list-objects >"$out/8.out" 2>"$out/8.err"
p11 --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN" >"$out/9.out" 2>"$out/9.err"

# The debug log must have been written, or the test proves nothing.
grep -q 'p11portal\[' "$out"/*.err || fail "no debug log lines were written"
echo "debug log lines: $(cat "$out"/*.err | grep -c 'p11portal\[')"

hits=0
for pin in "$SO_PIN" "$USER_PIN" "$USER_PIN2" "$WRONG_PIN"; do
    # The PIN as text, and as hex (a trace that dumps bytes).
    hex=$(printf '%s' "$pin" | od -An -tx1 | tr -d ' \n')
    for needle in "$pin" "$hex"; do
        if grep -r -l -a -i -F -- "$needle" "$out" "$DATA_DIR" 2>/dev/null; then
            echo "canary PIN found in the files above" >&2
            hits=$((hits + 1))
        fi
    done
done
[ "$hits" -eq 0 ] || fail "$hits canary PIN(s) leaked"
ls -la "$DATA_DIR"
echo "PASS"

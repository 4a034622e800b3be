#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Several pkcs11-tool processes generate and enroll keys on one token at
# the same time: all succeed, each key gets its own certificate (distinct
# serials and keys), and the cache is consistent afterwards.
. "$(dirname "$0")/lib.sh"
need pkcs11-tool openssl sqlite3

N=6
init_token
cd "$TEST_DIR"

pids=()
for i in $(seq 1 "$N"); do
    start p11 --login --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 \
        --label "mp-$i" --usage-sign >"gen-$i.log" 2>&1
    pids+=("${STARTED_PIDS[-1]}")
done
rc=0
for p in "${pids[@]}"; do
    wait "$p" || rc=1
done
if [ "$rc" -ne 0 ]; then
    cat gen-*.log >&2
    fail "a parallel keypairgen failed"
fi

export_certs certs
: >serials.txt
: >keys.txt
for i in $(seq 1 "$N"); do
    [ -f "certs/leaf-mp-$i.pem" ] || fail "no certificate for mp-$i"
    verify_leaf certs "mp-$i" >/dev/null
    openssl x509 -in "certs/leaf-mp-$i.pem" -noout -serial >>serials.txt
    openssl x509 -in "certs/leaf-mp-$i.pem" -noout -pubkey | openssl dgst -sha256 >>keys.txt
done
[ "$(sort -u serials.txt | wc -l)" -eq "$N" ] || fail "duplicate certificate serials"
[ "$(sort -u keys.txt | wc -l)" -eq "$N" ] || fail "two certificates share a key"
p11 --login --pin "$USER_PIN" --list-objects >objects.txt
[ "$(grep -c 'p11portal order' objects.txt)" -eq "$N" ] || fail "expected $N order objects"

db=$DATA_DIR/p11portal.db
[ -f "$db" ] || fail "no cache at $db"
[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] || fail "cache integrity check failed"
echo "PASS"

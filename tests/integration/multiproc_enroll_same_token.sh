#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Several pkcs11-tool processes generate and enroll keys on one token at
# the same time: all succeed, each key gets its own certificate (distinct
# serials and keys), and the cache is consistent afterwards. Over the hsm
# backend, the backing SoftHSM2 holds exactly the N keys, sensitive and not
# extractable; with P11P_TEST_HSM_ADOPT=1 every login also adopts backing
# keys, and none of the keys being generated is adopted.
. "$(dirname "$0")/lib.sh"
need pkcs11-tool openssl sqlite3

N=6
init_token
cd "$TEST_DIR"

# gen <i>: one keypairgen, its output in gen-<i>.log. No retry: over the
# hsm backend, SoftHSM2 2.6's file store is not safe for several processes
# (a process reading the token file while another rewrites it fails with
# "Token integrity check failed",
# https://github.com/softhsm/SoftHSMv2/issues/757), and p11portal's
# cross-process lock around backing calls (core/keys/hsm_lock.h) is what
# makes these parallel runs pass.
gen() {
    p11 --login --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 \
        --label "mp-$1" --usage-sign >"gen-$1.log" 2>&1
}

if is_hsm; then
    # Over the hsm backend, the logs say which keys a login adopted.
    export P11PORTAL_LOG=info
fi
pids=()
for i in $(seq 1 "$N"); do
    start gen "$i"
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
# One key pair per keypairgen, no more (over the hsm backend, a key that
# another process's login adopted while it was being generated would show
# here as a second key with the same label).
n=$(grep -c '^Private Key Object' objects.txt || true)
if [ "$n" -ne "$N" ]; then
    grep -h 'adopted backing key' gen-*.log >&2 || true
    fail "$n private keys listed after $N keypairgens"
fi

db=$DATA_DIR/p11portal.db
[ -f "$db" ] || fail "no cache at $db"
[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] || fail "cache integrity check failed"

if is_hsm; then
    # The keys are in the backing SoftHSM2, read directly: exactly N.
    ids=()
    for i in $(seq 1 "$N"); do
        ids+=("$(key_id "mp-$i")")
    done
    check_backing_keys --generated "$N" "${ids[@]}"
    [ "$(backing_keys | wc -l)" -eq "$N" ] || fail "SoftHSM2 holds more than $N keys"
    if [ -n "${P11P_TEST_HSM_ADOPT:-}" ]; then
        # Every login tried to adopt: none took a key being generated.
        if grep -h 'adopted backing key' gen-*.log >&2; then
            fail "a login adopted a key that another process was generating"
        fi
        echo "adoption deferred while keys were pending: $(grep -c 'adoption of backing keys deferred' gen-*.log | awk -F: '{ s += $2 } END { print s + 0 }') time(s)"
    fi
fi
echo "PASS"

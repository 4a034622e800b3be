#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Several pkcs11-tool processes generate and enroll keys on one token at
# the same time: all succeed, each key gets its own certificate (distinct
# serials and keys), and the cache is consistent afterwards. Over the hsm
# backend, the backing SoftHSM2 holds exactly the N keys, sensitive and not
# extractable.
. "$(dirname "$0")/lib.sh"
need pkcs11-tool openssl sqlite3

N=6
init_token
cd "$TEST_DIR"

# gen <i>: one keypairgen, its output in gen-<i>.log.
gen() {
    local i=$1 try
    for try in 1 2 3 4 5 6 7 8; do
        if p11 --login --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 \
            --label "mp-$i" --usage-sign >"gen-$i.log" 2>&1; then
            return 0
        fi
        # SoftHSM2 2.6 quirk (hsm backend only): its file store is not safe
        # for several processes. A process whose C_Initialize reads the
        # token file while another process rewrites it (each login does)
        # does not load the token ("Token integrity check failed",
        # https://github.com/softhsm/SoftHSMv2/issues/757; pkcs11-tool on
        # SoftHSM2 alone fails the same way: "No slot with token named"),
        # and p11portal finds no backing token; the same race in the
        # token-level calls that follow gives CKR_GENERAL_ERROR or
        # CKR_USER_PIN_NOT_INITIALIZED. When such a backing failure made
        # C_OpenSession or C_Login fail, no key or order exists yet: only
        # then the keypairgen is tried again, and the counts below prove
        # that no retry made a second key or order.
        is_hsm || return 1
        grep -Eq 'PKCS11 function C_(OpenSession|Login) failed' "gen-$i.log" || return 1
        grep -Eq 'has no token with label|backing C_[A-Za-z]+ failed' "gen-$i.log" || return 1
        cp "gen-$i.log" "gen-$i.try$try.log"
    done
    return 1
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
    for f in gen-*.try*.log; do
        if [ -e "$f" ]; then
            echo "retried after SoftHSM2 #757: $f"
        fi
    done
fi
echo "PASS"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# kill -9 pkcs11-tool at random moments of key generation and enrollment,
# in a bounded loop. Afterwards the next process opens the token fine, the
# cache passes SQLite's integrity check, and the local CA's ledger holds at
# most one order per public key (never a duplicate order).
. "$(dirname "$0")/lib.sh"
need pkcs11-tool sqlite3

ROUNDS=12
# Collect pending orders at every call.
echo "refresh_interval_s = 0" >>"$P11PORTAL_CONF"
init_token
cd "$TEST_DIR"

# How long one keypairgen takes here, so the kills spread over all of it.
t0=$(date +%s%N)
keygen EC:prime256v1 warm-up
dur_ms=$((($(date +%s%N) - t0) / 1000000 + 1))
echo "one keypairgen takes ${dur_ms} ms"

for i in $(seq 1 "$ROUNDS"); do
    # Kill somewhere in 0..1.2x the keypairgen's duration.
    ms=$((RANDOM % (dur_ms * 12 / 10 + 1)))
    delay=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
    start "${MODULE_ENV[@]}" pkcs11-tool --module "$P11P_MODULE" --login --pin "$USER_PIN" \
        --keypairgen --key-type EC:prime256v1 --label "crash-$i" --usage-sign >/dev/null 2>&1
    pid=${STARTED_PIDS[-1]}
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
echo "killed $ROUNDS keypairgens at random moments"

# The next process works: it lists (and collects what it may), it generates
# and enrolls.
p11 --login --pin "$USER_PIN" --list-objects >objects.txt
p11 --login --pin "$USER_PIN" --list-objects >objects.txt
keygen EC:prime256v1 after-crash || fail "keypairgen after the crashes"
p11 --login --pin "$USER_PIN" --list-objects >objects.txt
grep -q 'label: *after-crash' objects.txt || fail "the new key is not listed"

db=$DATA_DIR/p11portal.db
[ -f "$db" ] || fail "no cache at $db"
res=$(sqlite3 "$db" 'PRAGMA integrity_check')
[ "$res" = ok ] || fail "integrity_check: $res"
# The cache holds at most one order per public key.
dup=$(sqlite3 "$db" 'SELECT hex(pubkey_sha256) FROM orders WHERE pubkey_sha256 IS NOT NULL GROUP BY pubkey_sha256 HAVING count(*) > 1')
[ -z "$dup" ] || fail "the cache has two orders for one key: $dup"
sqlite3 "$db" 'SELECT state, count(*) FROM orders GROUP BY state' | sed 's/^/orders in state /'
# Orders a killed process left SUBMITTING (state 1) stay so until its
# order lock expires (a lease of timeout_ms + enroll_wait_ms + 60 s); then a
# later call reconciles them with the ledger. Instead of waiting ~100 s,
# let the leases expire now (as time would), and collect.
echo "in flight before reconciliation: $(sqlite3 "$db" 'SELECT count(*) FROM orders WHERE state = 1')"
run sqlite3 "$db" 'UPDATE order_locks SET expires = 0'
p11 --login --pin "$USER_PIN" --list-objects >objects.txt
p11 --login --pin "$USER_PIN" --list-objects >objects.txt
sqlite3 "$db" 'SELECT state, count(*) FROM orders GROUP BY state' | sed 's/^/after: orders in state /'
stuck=$(sqlite3 "$db" 'SELECT count(*) FROM orders WHERE state = 1')
[ "$stuck" -eq 0 ] || fail "$stuck order(s) still SUBMITTING after their leases expired"


# The ledger of the local CA: orders/<id>.rec with a spki_sha256= line.
ledger=$DATA_DIR/p11portal.ca/orders
if [ -d "$ledger" ]; then
    n=$(cat "$ledger"/*.rec 2>/dev/null | grep -c '^spki_sha256=' || true)
    dups=$(cat "$ledger"/*.rec 2>/dev/null | grep '^spki_sha256=' | sort | uniq -d)
    echo "ledger: $n orders"
    [ -z "$dups" ] || fail "duplicate orders for one public key: $dups"
    # Every portal order is a cache order that got its certificate.
    issued=$(sqlite3 "$db" 'SELECT count(*) FROM orders WHERE state = 5')
    [ "$n" -eq "$issued" ] || fail "ledger has $n orders, the cache $issued issued ones"
else
    fail "no ledger at $ledger"
fi
echo "PASS"

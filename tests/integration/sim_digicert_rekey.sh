#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# DigiCert reconciliation and a re-keyed device (docs/portals/digicert.md
# "Reconciliation by public key"): a device whose key is replaced keeps its
# common name; the old certificate (another key) is still at the portal.
# A new order for the new key whose request is lost (drop_before: the
# outcome is unknown, the portal has no such order) must not
# wait forever on that old certificate, taking it for its own certificate
# spoiled in transfer: one issued well before the order existed is another
# order's. The new key's order is reconciled, sent again and issued; the
# ledger has one order per key.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sim_lib.sh"

P=IOT_5f0c0a6e-51a1-4c1e-9a55-000000000001
sim_start
SIM_TIMEOUT_MS=2000 sim_conf_token digicert "$P"
init_token

# The device's first key, certified two days "ago".
simctl config '{"ca":{"backdate_minutes":2880}}' >/dev/null
keygen EC:prime256v1 device-7
[ "$(order_field device-7 state)" = issued ] || fail "the first key's order is not issued"
old_id=$(key_id device-7)
p11 --login --pin "$USER_PIN" --delete-object --type privkey --id "$old_id" >/dev/null
p11 --login --pin "$USER_PIN" --delete-object --type pubkey --id "$old_id" >/dev/null
p11 --login --pin "$USER_PIN" --delete-object --type cert --id "$old_id" >/dev/null

# The new key, same common name; its request is lost before the portal
# processes it (the client cannot know: the outcome is unknown).
simctl config '{"ca":{"backdate_minutes":1}}' >/dev/null
sim_fault '{"type":"drop_before","api":"digicert","method":"POST","path":"/iot/api/v1/certificate$","count":1}'
keygen EC:prime256v1 device-7 || true
DRIVE_LOG=$TEST_DIR/drive.log drive_until_final 60 ||
    { cat "$TEST_DIR/drive.log" >&2; fail "the re-keyed device's order never became final"; }
new_id=$(key_id device-7)
[ "$new_id" != "$old_id" ] || fail "no new key"
p11 --list-objects --type cert >certs.txt
grep "ID: *$new_id\$" certs.txt >/dev/null || fail "no certificate for the new key"
ledger_check
[ "$(simctl max-orders-per-key)" = 1 ] || fail "a key was ordered twice"
echo "PASS"

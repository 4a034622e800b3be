#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 240
# Issue 7: p11portal adopt against the portal simulator, per driver
# (Sectigo SSL: list + details + collect; DigiCert: certificate search):
# keys whose certificates are at the portal, the token's certificate
# objects deleted (pkcs11-tool --delete-object, chain included); adopt
# finds them by public key and links them back with the key's CKA_ID and
# their chains (the chain verifies), without a new order at the portal; a
# key the portal refused (kept: keep_key_on_reject) stays without a
# certificate; a second adopt links nothing. Over the hsm backend
# (tool_adopt_hsm) the whole cache is wiped instead, as after a reinstall:
# the keys stay in SoftHSM2, a login adopts them, adopt links their
# certificates and order records back.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sim_lib.sh"
. "$(dirname "$0")/tool_lib.sh"

SIM_ENROLL_WAIT_MS=2000
sim_start

# cert_labels: labels of the token's certificate objects.
cert_labels() {
    p11 --list-objects --type cert 2>/dev/null |
        awk '/^Certificate Object/ {c=1; next} c && /label:/ {sub(/^[ \t]*label:[ \t]*/, ""); print; c=0}' | sort -u
}

flow() {
    local name=$1 driver=$2 profile=$3 reject=$4 l ida idb orders
    echo "=== $name"
    rm -rf "$XDG_DATA_HOME/p11portal"
    sim_conf_token "$driver" "$profile"
    init_token
    keygen EC:prime256v1 "$name-a"
    keygen rsa:2048 "$name-b"
    [ "$(order_field "$name-a" state)" = issued ] || fail "$name-a not issued"
    [ "$(order_field "$name-b" state)" = issued ] || fail "$name-b not issued"
    # A key the portal refused a certificate for, kept on the token.
    sim_conf_token "$driver" "$reject" "keep_key_on_reject = true"
    if keygen EC:prime256v1 "$name-bare" 2>/dev/null; then
        fail "$name: the reject profile issued"
    fi
    [ -n "$(key_id "$name-bare")" ] || fail "$name: the refused key was not kept"
    sim_conf_token "$driver" "$profile"
    ida=$(key_id "$name-a")
    idb=$(key_id "$name-b")
    orders=$(simctl ledger | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["orders"]))')

    if is_hsm; then
        # A reinstall: the whole cache is gone, the keys stay in the HSM.
        # The first login adopts them (hsm_adopt_keys), with their CKA_IDs.
        rm -rf "$XDG_DATA_HOME/p11portal"
        sim_conf_token "$driver" "$profile" "hsm_adopt_keys = true"
        init_token
        p11 --login --pin "$USER_PIN" --list-objects --type privkey >/dev/null
        [ "$(key_id "$name-a")" = "$ida" ] || fail "$name-a: not adopted from the HSM with its CKA_ID"
    else
        # Wipe the certificate objects, chain included.
        while IFS= read -r l; do
            [ -n "$l" ] || continue
            p11 --login --pin "$USER_PIN" --delete-object --type cert --label "$l" >/dev/null
        done < <(cert_labels)
    fi
    [ -z "$(cert_labels)" ] || fail "$name: certificate objects left: $(cert_labels)"

    tool_rc 0 adopt --json
    cat "$TOOL_OUT"
    [ "$(tool_json "$TOOL_OUT" 'd["linked"]')" = 2 ] || fail "$name: adopt linked $(tool_json "$TOOL_OUT" 'd["linked"]'), expected 2"
    p11 --list-objects --type cert >"$TEST_DIR/certs.txt" 2>/dev/null
    grep "ID: *$ida\$" "$TEST_DIR/certs.txt" >/dev/null || fail "$name-a: no certificate with the key's CKA_ID"
    grep "ID: *$idb\$" "$TEST_DIR/certs.txt" >/dev/null || fail "$name-b: no certificate with the key's CKA_ID"
    grep "Simulator Root CA" "$TEST_DIR/certs.txt" >/dev/null || fail "$name: root CA not linked back"
    export_certs "$TEST_DIR/x-$name"
    verify_leaf "$TEST_DIR/x-$name" "$name-a"
    verify_leaf "$TEST_DIR/x-$name" "$name-b"
    [ "$(simctl ledger | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["orders"]))')" = "$orders" ] ||
        fail "$name: adopt placed an order at the portal"
    # The adopted orders are issued, with the portal's order id.
    "$P11P_TOOL" orders --json --state issued --label "$name-a" >"$TEST_DIR/o.json"
    [ "$(tool_json "$TEST_DIR/o.json" 'd["count"]')" -ge 1 ] || fail "$name-a: no issued order after adopt"
    # Nothing left to link.
    tool_rc 0 adopt
    grep '^0 certificates linked' "$TOOL_OUT" >/dev/null || fail "$name: second adopt linked something"
}

flow sectigo-ssl sectigo 1001 1004
P=IOT_5f0c0a6e-51a1-4c1e-9a55-00000000000
flow digicert digicert "${P}1" "${P}4"
ledger_check
echo "PASS"

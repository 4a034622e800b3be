#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Issue 3, "How it is proven", per driver (Sectigo SSL, Sectigo device,
# DigiCert) with pkcs11-tool against the portal simulator:
#   - key generation with the certificate issued and visible (same CKA_ID
#     as the key, chain objects);
#   - approval pending: C_GenerateKeyPair returns CKR_OK, the order object
#     says pending_approval; approved through the simulator; the next
#     session (pkcs11-tool -O) shows the certificate;
#   - decline: the order object says rejected, and why;
#   - synchronous rejection (reject profile): --keypairgen fails, a clear
#     log line, no orphan key;
# and after all of it: one order per key in the ledger, no lost key, no
# wrong certificate. Revoke and renew have no PKCS#11 call: they are left
# to the p11portal tool (issue 7).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sim_lib.sh"

SIM_ENROLL_WAIT_MS=1000
sim_start
export P11PORTAL_LOG=info

# flow <name> <driver> <issue profile> <approval profile> <reject profile>
flow() {
    local name=$1 driver=$2 p_issue=$3 p_appr=$4 p_rej=$5 pid id st err
    echo "=== $name"
    rm -rf "$XDG_DATA_HOME/p11portal"
    sim_conf_token "$driver" "$p_issue"
    init_token

    # 1. Issued at once: certificate with the key's CKA_ID, chain objects.
    keygen EC:prime256v1 "$name-issued" 2>"$TEST_DIR/log"
    [ "$(order_field "$name-issued" state)" = issued ] || fail "$name: not issued: $(order_json "$name-issued")"
    id=$(key_id "$name-issued")
    [ -n "$id" ] || fail "$name: no key"
    p11 --list-objects --type cert >"$TEST_DIR/certs.txt" 2>/dev/null
    grep -q "ID: *$id" "$TEST_DIR/certs.txt" || fail "$name: no certificate with the key's CKA_ID $id"
    grep -q "Simulator Root CA" "$TEST_DIR/certs.txt" || fail "$name: no root CA object"
    grep -q "Simulator Issuing CA" "$TEST_DIR/certs.txt" || fail "$name: no issuing CA object"
    export_certs "$TEST_DIR/x-$name"
    verify_leaf "$TEST_DIR/x-$name" "$name-issued"

    # 2. Approval: pending, approved by the portal, the next session lands it.
    sim_conf_token "$driver" "$p_appr"
    keygen EC:prime256v1 "$name-appr" 2>"$TEST_DIR/log"
    st=$(order_field "$name-appr" state)
    [ "$st" = pending_approval ] || fail "$name: approval order is $st, expected pending_approval"
    pid=$(order_field "$name-appr" portal_id)
    [ -n "$pid" ] || fail "$name: pending order without a portal id"
    run simctl approve "$pid" "approved by the test" >/dev/null
    p11 -O >/dev/null 2>&1
    st=$(order_field "$name-appr" state)
    [ "$st" = issued ] || fail "$name: approved order is $st after the next session"
    id=$(key_id "$name-appr")
    p11 --list-objects --type cert 2>/dev/null | grep "ID: *$id" >/dev/null ||
        fail "$name: approved certificate not on the token"

    # 3. Declined: the order object says rejected and why.
    keygen EC:prime256v1 "$name-decl" 2>"$TEST_DIR/log"
    pid=$(order_field "$name-decl" portal_id)
    run simctl decline "$pid" "no budget for $name" >/dev/null
    p11 -O >/dev/null 2>&1
    st=$(order_field "$name-decl" state)
    err=$(order_field "$name-decl" error)
    [ "$st" = rejected ] || fail "$name: declined order is $st"
    echo "declined order error: $err"
    [ -n "$err" ] || fail "$name: declined order carries no reason"

    # 4. Synchronous rejection: keypairgen fails, a log line, no key left.
    sim_conf_token "$driver" "$p_rej"
    if keygen EC:prime256v1 "$name-rej" 2>"$TEST_DIR/log"; then
        fail "$name: keypairgen succeeded on a rejecting profile"
    fi
    grep 'rejected' "$TEST_DIR/log" || { cat "$TEST_DIR/log"; fail "$name: no log line about the rejection"; }
    [ -z "$(key_id "$name-rej")" ] || fail "$name: orphan key left after a synchronous rejection"
    p11 --login --pin "$USER_PIN" --list-objects --type privkey 2>/dev/null |
        grep -q "label: *$name-rej" && fail "$name: orphan private key"

    token_check --final
}

flow sectigo-ssl sectigo 1001 1003 1004
SIM_SECTIGO_FAMILY=device flow sectigo-device sectigo 2001 2003 2004
P=IOT_5f0c0a6e-51a1-4c1e-9a55-00000000000
flow digicert digicert "${P}1" "${P}3" "${P}4"

# Retry-After is honoured, and the error reaches the order object: a 429
# with Retry-After: 30 on the enroll leaves the order waiting; the next
# sessions do not send it again before that.
echo "=== Retry-After"
rm -rf "$XDG_DATA_HOME/p11portal"
sim_conf_token sectigo 1001
init_token
enroll_posts() {
    simctl journal | python3 -c 'import json,sys
print(sum(1 for e in json.load(sys.stdin)["entries"] if e["method"] == "POST" and "/enroll" in e["path"]))'
}
before=$(enroll_posts)
sim_fault '{"type":"rate_limit","api":"sectigo","method":"POST","path":"/enroll$","retry_after":30}'
keygen EC:prime256v1 ra 2>"$TEST_DIR/log" || fail "keypairgen failed on a 429"
cat "$TEST_DIR/log"
p11 -O >/dev/null 2>&1
p11 -O >/dev/null 2>&1
posts=$(($(enroll_posts) - before))
[ "$posts" = 1 ] || fail "the enroll was sent $posts times within its Retry-After"
err=$(order_field ra error)
echo "order error: $err"
case $err in *429* | *rate*) ;; *) fail "the order object does not carry the 429" ;; esac

ledger_check
echo "PASS"

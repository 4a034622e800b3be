#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# hsm_write_certs = true (docs/hsm.md): an issued certificate is also
# written into the backing token, next to its key (same CKA_ID), so
# station software reading SoftHSM2 directly sees it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hsm_lib.sh"

hsm_config "hsm_write_certs = true"
cd "$TEST_DIR"
p11 --init-token --label station --so-pin "$HSM_SO_PIN" >/dev/null
p11 --init-pin --login --login-type so --so-pin "$HSM_SO_PIN" --pin "$HSM_USER_PIN" >/dev/null
p11 --login --pin "$HSM_USER_PIN" --keypairgen --key-type EC:prime256v1 \
    --label written --usage-sign >/dev/null
p11 --login --pin "$HSM_USER_PIN" --list-objects --type privkey >ours.txt
id=$(awk '$1 == "ID:" { print $2; exit }' ours.txt)
softhsm --list-objects --type cert >backing.txt
cat backing.txt
grep -q "ID: *$id" backing.txt || fail "no certificate with CKA_ID $id in SoftHSM2"
softhsm --read-object --type cert --id "$id" --output-file cert.der >/dev/null
openssl x509 -inform DER -in cert.der -noout -subject | grep 'CN *= *written' >/dev/null ||
    fail "the backing certificate is not the issued one"
p11 --read-object --type cert --id "$id" --output-file ours.der >/dev/null
cmp cert.der ours.der || fail "SoftHSM2 and p11portal hold different certificates"
# The key beside it is the one p11portal generated, sensitive, not
# extractable.
check_backing_keys --generated 1 "$id"
echo "PASS"

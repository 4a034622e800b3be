#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Adoption (docs/hsm.md "Adoption"): a key created in SoftHSM2 with its own
# tools, before p11portal, is listed by p11portal after a user login (same
# CKA_ID and label, sensitive, not extractable) and signs through it; the
# signature verifies with the public key read from SoftHSM2 directly.
# Needs the module to call p11p_keystore_adopt after a user login.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hsm_lib.sh"

hsm_config "# an existing HSM key is adopted at login" "hsm_adopt_keys = true"
cd "$TEST_DIR"
softhsm --login --pin "$HSM_USER_PIN" --keypairgen --key-type EC:prime256v1 \
    --id 0a0b0c --label factory-key --usage-sign >/dev/null
softhsm --read-object --type pubkey --id 0a0b0c --output-file pub.der >/dev/null
openssl pkey -pubin -inform DER -in pub.der -out pub.pem

p11 --init-token --label station --so-pin "$HSM_SO_PIN" >/dev/null
p11 --init-pin --login --login-type so --so-pin "$HSM_SO_PIN" --pin "$HSM_USER_PIN" >/dev/null
p11 --login --pin "$HSM_USER_PIN" --list-objects --type privkey | tee objects.txt
grep -q 'label: *factory-key$' objects.txt || fail "the HSM key was not adopted"
grep -q 'ID: *0a0b0c$' objects.txt || fail "the adopted key lost its CKA_ID"
grep -q 'Access:.*sensitive' objects.txt || fail "the adopted key is not sensitive"
# Adoption changed nothing in SoftHSM2: one key, still sensitive, never
# extractable.
check_backing_keys 1 0a0b0c
[ "$(backing_keys | wc -l)" -eq 1 ] || fail "SoftHSM2 holds more than the adopted key"

printf 'signed by an adopted key\n' >data.txt
p11 --login --pin "$HSM_USER_PIN" --sign --mechanism ECDSA-SHA256 --signature-format openssl \
    --type privkey --id 0a0b0c --input-file data.txt --output-file sig.bin >/dev/null
run openssl dgst -sha256 -verify pub.pem -signature sig.bin data.txt

# A second login adopts nothing twice.
p11 --login --pin "$HSM_USER_PIN" --list-objects --type privkey >again.txt
[ "$(grep -c 'label: *factory-key$' again.txt)" -eq 1 ] || fail "the key was adopted twice"
echo "PASS"

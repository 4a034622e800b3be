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

# A certificate for the adopted key: a CSR signed by it through p11portal
# (the key never leaves SoftHSM2), written as a "p11portal csr" data
# object. The certificate lands next to the key with the HSM's CKA_ID
# (found by public key: the id is not the SHA-1 one p11portal would give).
python3 - pub.der tbs.der <<'PY'
import sys
from cryptography import x509
from cryptography.x509.oid import NameOID
def der(tag, body):
    n = len(body)
    if n < 128:
        l = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        l = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + l + body
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "factory-key")]).public_bytes()
spki = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(der(0x30, b"\x02\x01\x00" + name + spki + b"\xa0\x00"))
PY
p11 --login --pin "$HSM_USER_PIN" --sign --mechanism ECDSA-SHA256 --signature-format openssl \
    --type privkey --id 0a0b0c --input-file tbs.der --output-file csr-sig.bin >/dev/null
python3 - tbs.der csr-sig.bin csr.der <<'PY'
import sys
def der(tag, body):
    n = len(body)
    if n < 128:
        l = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        l = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + l + body
tbs = open(sys.argv[1], "rb").read()
sig = open(sys.argv[2], "rb").read()
alg = bytes.fromhex("300a06082a8648ce3d040302")  # ecdsa-with-SHA256
open(sys.argv[3], "wb").write(der(0x30, tbs + alg + der(0x03, b"\x00" + sig)))
PY
run openssl req -inform DER -in csr.der -verify -noout
p11 --login --pin "$HSM_USER_PIN" --write-object csr.der --type data \
    --application-label "p11portal csr" --label factory-key >/dev/null
p11 --list-objects --type cert >certs.txt
grep -A3 'label: *factory-key$' certs.txt | grep 'ID: *0a0b0c$' >/dev/null ||
    { cat certs.txt; fail "no certificate with the adopted key's CKA_ID"; }
p11 --read-object --type cert --id 0a0b0c --output-file leaf.der >/dev/null
openssl x509 -inform DER -in leaf.der -noout -pubkey >leaf-pub.pem
cmp <(openssl pkey -pubin -in leaf-pub.pem -outform DER) pub.der ||
    fail "the certificate is not for the adopted key"

# A second login adopts nothing twice.
p11 --login --pin "$HSM_USER_PIN" --list-objects --type privkey >again.txt
[ "$(grep -c 'label: *factory-key$' again.txt)" -eq 1 ] || fail "the key was adopted twice"
echo "PASS"

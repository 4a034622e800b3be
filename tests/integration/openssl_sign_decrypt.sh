#!/bin/bash
# Signatures and decryption with token keys through the openssl CLI:
# dgst -sign/-verify for RSA PKCS#1 v1.5 (all SHA-2 and SHA-1), RSA-PSS
# (SHA-256/384/512, salt lengths digest/max/fixed), ECDSA P-256/384/521 and
# Ed25519; pkeyutl -sign over a digest; pkeyutl -decrypt with PKCS#1 v1.5
# and OAEP. Every signature is verified with the exported public key by the
# default provider alone (a different process, no token).
# shellcheck source=tests/integration/provider_lib.sh
source "$(dirname "$0")/provider_lib.sh"
p11p_prov_setup

p11p_prov_keygen rsa:2048 rsa1 01
p11p_prov_keygen EC:prime256v1 ec256 02
p11p_prov_keygen EC:secp384r1 ec384 03
p11p_prov_keygen EC:secp521r1 ec521 04
p11p_prov_keygen EC:edwards25519 ed1 05

key() { echo "$P11P_TOKEN_URI;object=$1;type=private"; }
# Verification runs with no configuration at all: default provider only.
verify_default() {
    echo "+ OPENSSL_CONF=/dev/null openssl $*" >&2
    OPENSSL_CONF=/dev/null openssl "$@"
}

head -c 10000 /dev/urandom >msg.bin
for k in rsa1 ec256 ec384 ec521 ed1; do
    ossl pkey -in "$(key $k)" -pubout -out "$k.pub"
done

# RSA PKCS#1 v1.5
for md in sha1 sha224 sha256 sha384 sha512; do
    ossl dgst -"$md" -sign "$(key rsa1)" -out "rsa-$md.sig" msg.bin
    verify_default dgst -"$md" -verify rsa1.pub -signature "rsa-$md.sig" msg.bin
done
# RSA-PSS
for md in sha256 sha384 sha512; do
    for salt in digest max 20; do
        ossl dgst -"$md" -sigopt rsa_padding_mode:pss -sigopt "rsa_pss_saltlen:$salt" \
            -sign "$(key rsa1)" -out "pss-$md-$salt.sig" msg.bin
        verify_default dgst -"$md" -sigopt rsa_padding_mode:pss -sigopt "rsa_pss_saltlen:$salt" \
            -verify rsa1.pub -signature "pss-$md-$salt.sig" msg.bin
    done
done
# ECDSA
for k in ec256 ec384 ec521; do
    for md in sha256 sha384 sha512; do
        ossl dgst -"$md" -sign "$(key $k)" -out "$k-$md.sig" msg.bin
        verify_default dgst -"$md" -verify "$k.pub" -signature "$k-$md.sig" msg.bin
    done
done
# Ed25519 (one-shot over the message)
ossl pkeyutl -sign -rawin -inkey "$(key ed1)" -in msg.bin -out ed.sig
verify_default pkeyutl -verify -rawin -pubin -inkey ed1.pub -in msg.bin -sigfile ed.sig
# Verification through the provider too (public part in the default provider).
ossl dgst -sha256 -verify "$P11P_TOKEN_URI;object=ec256;type=public" -signature ec256-sha256.sig msg.bin

# pkeyutl -sign over a precomputed digest
ossl dgst -sha256 -binary -out msg.sha256 msg.bin
ossl pkeyutl -sign -inkey "$(key rsa1)" -pkeyopt digest:sha256 -in msg.sha256 -out pk-rsa.sig
verify_default pkeyutl -verify -pubin -inkey rsa1.pub -pkeyopt digest:sha256 -in msg.sha256 -sigfile pk-rsa.sig
ossl pkeyutl -sign -inkey "$(key ec256)" -in msg.sha256 -out pk-ec.sig
verify_default pkeyutl -verify -pubin -inkey ec256.pub -in msg.sha256 -sigfile pk-ec.sig

# A tampered message must not verify.
printf 'x' >>msg.bin
if verify_default dgst -sha256 -verify ec256.pub -signature ec256-sha256.sig msg.bin; then
    echo "FAIL: tampered message verified" >&2
    exit 1
fi

# Decryption: PKCS#1 v1.5 and OAEP.
printf 'secret session key 0123456789' >plain.txt
verify_default pkeyutl -encrypt -pubin -inkey rsa1.pub -in plain.txt -out enc.pkcs1
ossl pkeyutl -decrypt -inkey "$(key rsa1)" -in enc.pkcs1 -out dec.pkcs1
cmp plain.txt dec.pkcs1
verify_default pkeyutl -encrypt -pubin -inkey rsa1.pub -pkeyopt rsa_padding_mode:oaep \
    -in plain.txt -out enc.oaep1
ossl pkeyutl -decrypt -inkey "$(key rsa1)" -pkeyopt rsa_padding_mode:oaep \
    -in enc.oaep1 -out dec.oaep1
cmp plain.txt dec.oaep1
if [[ "$P11P_TEST_MODULE" == *softhsm* || "${P11P_TEST_BACKEND:-soft}" == hsm ]]; then
    # SoftHSM2 2.6 implements CKM_RSA_PKCS_OAEP with SHA-1 only and no label
    # (SoftHSM.cpp, C_DecryptInit: hashAlg must be CKM_SHA_1, source data
    # empty): the SHA-256 and label cases run over our module only.
    echo "SoftHSM2: OAEP SHA-256 and labels skipped (module limitation)" >&2
else
    verify_default pkeyutl -encrypt -pubin -inkey rsa1.pub -pkeyopt rsa_padding_mode:oaep \
        -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_oaep_label:0011223344 \
        -in plain.txt -out enc.oaep256
    ossl pkeyutl -decrypt -inkey "$(key rsa1)" -pkeyopt rsa_padding_mode:oaep \
        -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_oaep_label:0011223344 \
        -in enc.oaep256 -out dec.oaep256
    cmp plain.txt dec.oaep256
fi

# An operation the key does not allow: the error names the URI and CKR_.
if ossl pkeyutl -decrypt -inkey "$(key ec256)" -in enc.pkcs1 -out /dev/null 2>ecdec.err; then
    echo "FAIL: EC decryption succeeded" >&2
    exit 1
fi
cat ecdec.err >&2

p11p_prov_check_canaries
echo PASS

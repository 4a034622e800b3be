#!/bin/bash
# OSSL_STORE over pkcs11: URIs: storeutl -keys/-certs listing and type
# filters, pkey -pubout for every key type, the PIN sources (provider
# pin-source, URI pin-source, URI pin-value, -passin through OpenSSL's UI
# method) and the error for a wrong PIN (names the URI and the CKR_ name,
# never the PIN).
# shellcheck source=tests/integration/provider_lib.sh
source "$(dirname "$0")/provider_lib.sh"
p11p_prov_setup

p11p_prov_keygen rsa:2048 rsa1 01
p11p_prov_keygen EC:prime256v1 ec256 02
p11p_prov_keygen EC:secp384r1 ec384 03
p11p_prov_keygen EC:secp521r1 ec521 04
p11p_prov_keygen EC:edwards25519 ed1 05
p11p_prov_make_ca
p11p_prov_issue_cert ec256 02
if p11p_prov_is_softhsm; then
    ossl x509 -in ca.crt -outform DER -out ca.der
    p11p_prov_put_cert ca.der "p11p test CA" ca
    ncerts=2
else
    # libp11portal.so enrolled every key: five leaves and the CA chain.
    ncerts=$((5 + P11P_CA_COUNT))
fi

ossl storeutl -keys "$P11P_TOKEN_URI" | tee keys.txt
grep -q "Total found: 5" keys.txt
ossl storeutl -certs "$P11P_TOKEN_URI" | tee certs.txt
grep -q "Total found: $ncerts" certs.txt
ossl storeutl -certs -text "$P11P_TOKEN_URI;object=ec256" | tee cert-ec256.txt
grep -Eq "Subject: CN ?= ?ec256" cert-ec256.txt
ossl storeutl "$P11P_TOKEN_URI;type=public" | tee pub.txt
grep -q "Total found: 5" pub.txt
ossl storeutl "$P11P_TOKEN_URI;id=%02" | tee id02.txt
# private key, public key and certificate of one CKA_ID
grep -q "Total found: 3" id02.txt

for k in rsa1 ec256 ec384 ec521 ed1; do
    ossl pkey -in "$P11P_TOKEN_URI;object=$k;type=private" -pubout -out "$k.pub.pem"
    ossl pkey -pubin -in "$k.pub.pem" -noout -text >"$k.pub.txt"
    ossl pkey -pubin -in "$P11P_TOKEN_URI;object=$k;type=public" -pubout -out "$k.pub2.pem"
    cmp "$k.pub.pem" "$k.pub2.pem"
done
grep -q "Public-Key: (2048 bit)" rsa1.pub.txt
grep -q "NIST CURVE: P-384" ec384.pub.txt
grep -q "ED25519 Public-Key" ed1.pub.txt
# The token key and its certificate agree.
ossl x509 -in ec256.crt -noout -pubkey >ec256.crt.pub
cmp ec256.crt.pub ec256.pub.pem

# PIN sources. The provider's pin-source is dropped from the configuration
# for these, so each source is the only one.
sed -i '/^pin-source/d' "$OPENSSL_CONF"
ossl storeutl -keys "$P11P_TOKEN_URI;object=rsa1?pin-source=file:$P11P_PIN_FILE" | tee s1.txt
grep -q "Total found: 1" s1.txt
ossl storeutl -keys -passin "file:$P11P_PIN_FILE" "$P11P_TOKEN_URI;object=rsa1" | tee s2.txt
grep -q "Total found: 1" s2.txt
echo "+ openssl storeutl -keys '$P11P_TOKEN_URI;object=rsa1?pin-value=***'" >&2
openssl storeutl -keys "$P11P_TOKEN_URI;object=rsa1?pin-value=$P11P_USER_PIN" >s3.txt 2>s3.err
grep -q "Total found: 1" s3.txt

# A wrong PIN: the error names the URI and CKR_PIN_INCORRECT, not the PIN.
printf 'WrongPin-0000' >"$P11P_TMP/secret/wrong"
# (storeutl exits 0 even when it found nothing: check what it found.)
ossl storeutl -keys -passin "file:$P11P_TMP/secret/wrong" "$P11P_TOKEN_URI;object=rsa1" >wrong.out 2>wrong.err || true
if ! grep -q "Total found: 0" wrong.out; then
    echo "FAIL: a wrong PIN was accepted" >&2
    exit 1
fi
cat wrong.err >&2
grep -q "CKR_PIN_INCORRECT" wrong.err
grep -q "token=$P11P_TOKEN_LABEL" wrong.err
if grep -q "WrongPin-0000" wrong.err wrong.out; then
    echo "FAIL: the wrong PIN was echoed" >&2
    exit 1
fi

p11p_prov_check_canaries
echo PASS

#!/bin/bash
# Certificates with token keys: req -new (the CSR signed on the token
# verifies) for RSA, RSA-PSS, ECDSA and Ed25519; a self-signed x509 made
# with a token key; a CA-issued certificate stored on the token and
# verified against the chain read back from the token (storeutl -certs);
# cms -sign with the token key and certificate, cms -verify.
# shellcheck source=tests/integration/provider_lib.sh
source "$(dirname "$0")/provider_lib.sh"
p11p_prov_setup

p11p_prov_keygen rsa:2048 rsa1 01
p11p_prov_keygen EC:prime256v1 ec256 02
p11p_prov_keygen EC:edwards25519 ed1 05
key() { echo "$P11P_TOKEN_URI;object=$1;type=private"; }

for k in rsa1 ec256 ed1; do
    ossl req -new -key "$(key $k)" -subj "/CN=$k.example.com/O=p11portal" -out "$k.csr"
    ossl req -in "$k.csr" -verify -noout
done
ossl req -new -key "$(key rsa1)" -sigopt rsa_padding_mode:pss -sha384 \
    -subj "/CN=pss.example.com" -out pss.csr
ossl req -in pss.csr -verify -noout -text | grep "rsassaPss" >/dev/null

# Self-signed certificate with a token key.
ossl req -new -x509 -days 10 -key "$(key ec256)" -subj "/CN=self" -out self.crt
ossl verify -CAfile self.crt self.crt
ossl x509 -in self.crt -noout -pubkey >self.pub
ossl pkey -in "$(key ec256)" -pubout -out ec256.pub
cmp self.pub ec256.pub

# CA-issued certificates on the token, chain read back from the token.
p11p_prov_make_ca
if p11p_prov_is_softhsm; then
    ossl x509 -in ca.crt -outform DER -out ca.der
    p11p_prov_put_cert ca.der "p11p test CA" ca
    ncerts=3
else
    # libp11portal.so enrolled rsa1, ec256 and ed1: three leaves + chain.
    ncerts=$((3 + P11P_CA_COUNT))
fi
p11p_prov_issue_cert rsa1 01
p11p_prov_issue_cert ec256 02
ossl storeutl -certs -out chain.pem "$P11P_TOKEN_URI"
[ "$(grep -c "BEGIN CERTIFICATE" chain.pem)" -eq "$ncerts" ]
ossl storeutl -certs -out leaf.pem "$P11P_TOKEN_URI;object=ec256;type=cert"
ossl verify -CAfile chain.pem leaf.pem
ossl storeutl -certs -out rsa1.leaf.pem "$P11P_TOKEN_URI;object=rsa1;type=cert"
ossl verify -CAfile chain.pem rsa1.leaf.pem

# x509 -signkey: re-sign a certificate with the token key (-clrext: the
# issuer's authority key identifier would no longer match).
ossl x509 -in rsa1.crt -signkey "$(key rsa1)" -clrext -days 5 -out rsa1.self.crt
ossl verify -CAfile rsa1.self.crt rsa1.self.crt

# CMS signing with the token key and its certificate. (-purpose any: the
# local CA of libp11portal.so issues TLS leaves, with no emailProtection.)
printf 'contract text\n' >doc.txt
for k in rsa1 ec256; do
    ossl cms -sign -binary -nodetach -in doc.txt -signer "$k.crt" -inkey "$(key $k)" -outform PEM -out "doc.$k.p7s"
    ossl cms -verify -in "doc.$k.p7s" -inform PEM -CAfile ca.crt -purpose any -out "doc.$k.out"
    cmp doc.txt "doc.$k.out"
done
ossl cms -sign -binary -nodetach -in doc.txt -signer rsa1.crt -inkey "$(key rsa1)" \
    -keyopt rsa_padding_mode:pss -outform PEM -out doc.pss.p7s
ossl cms -verify -in doc.pss.p7s -inform PEM -CAfile ca.crt -purpose any -out doc.pss.out
cmp doc.txt doc.pss.out

p11p_prov_check_canaries
echo PASS

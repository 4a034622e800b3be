#!/bin/bash
# Key generation: genpkey with token options creates the key pair on the
# token (C_GenerateKeyPair) and writes a PEM key reference ("PKCS#11
# PROVIDER URI", pkcs11-provider's layout) that works as -key/-inkey/
# -signkey; plain genpkey stays in memory with the default provider and
# writes an ordinary PKCS#8 key; "-provider p11portal -provider default"
# without a configuration section works through P11PORTAL_MODULE; the
# enrollment options reach the module as vendor attributes (over SoftHSM2,
# which rejects them, the error names the token and the CKR_ name).
# shellcheck source=tests/integration/provider_lib.sh
source "$(dirname "$0")/provider_lib.sh"
p11p_prov_setup

count_keys() {
    ossl storeutl -keys "$P11P_TOKEN_URI" | sed -n 's/^Total found: //p'
}

[ "$(count_keys)" -eq 0 ]

ossl genpkey -algorithm EC -pkeyopt group:P-256 -pkeyopt label:web01 -pkeyopt id:a1b2 -out web01.pem
ossl genpkey -algorithm EC -pkeyopt group:P-384 -pkeyopt label:web02 -out web02.pem
ossl genpkey -algorithm RSA -pkeyopt bits:2048 -pkeyopt label:rsa01 -out rsa01.pem
ossl genpkey -algorithm ED25519 -pkeyopt label:ed01 -out ed01.pem
[ "$(count_keys)" -eq 4 ]
for f in web01 web02 rsa01 ed01; do
    head -1 "$f.pem" | grep -- "-----BEGIN PKCS#11 PROVIDER URI-----" >/dev/null
    ossl asn1parse -in "$f.pem" | tee "$f.asn1"
    grep -q "VISIBLESTRING *:PKCS#11 Provider URI v1.0" "$f.asn1"
    grep -q "UTF8STRING *:pkcs11:.*object=$f" "$f.asn1"
done
# The requested CKA_ID is used; without one, SHA-1 of the public key.
ossl storeutl -keys "$P11P_TOKEN_URI;id=%a1%b2" | grep "Total found: 1" >/dev/null
grep -q "id=%" web02.asn1

# The reference file works wherever a key file is accepted.
for f in web01 web02 rsa01 ed01; do
    ossl req -new -key "$f.pem" -subj "/CN=$f.example.com" -out "$f.csr"
    ossl req -in "$f.csr" -verify -noout
    ossl pkey -in "$f.pem" -pubout -out "$f.pub"
done
printf 'data' >data.txt
ossl dgst -sha256 -sign web01.pem -out data.sig data.txt
ossl dgst -sha256 -verify web01.pub -signature data.sig data.txt
ossl pkeyutl -encrypt -pubin -inkey rsa01.pub -in data.txt -out data.enc
ossl pkeyutl -decrypt -inkey rsa01.pem -in data.enc -out data.dec
cmp data.txt data.dec
ossl req -new -x509 -days 3 -key web02.pem -subj /CN=web02 -out web02.crt
ossl x509 -in web02.crt -signkey web02.pem -days 3 -out web02.resigned.crt
ossl verify -CAfile web02.resigned.crt web02.resigned.crt

# Plain generation stays in memory (TLS key shares take this path too).
ossl genpkey -algorithm EC -pkeyopt group:P-256 -out soft.pem
head -1 soft.pem | grep -- "-----BEGIN PRIVATE KEY-----" >/dev/null
ossl genpkey -algorithm RSA -pkeyopt bits:2048 -out soft-rsa.pem
head -1 soft-rsa.pem | grep -- "-----BEGIN PRIVATE KEY-----" >/dev/null
OPENSSL_CONF=/dev/null openssl pkey -in soft.pem -noout
[ "$(count_keys)" -eq 4 ]

# Command-line loading, no provider section: module from P11PORTAL_MODULE,
# token and PIN from the URI.
echo "+ OPENSSL_CONF=/dev/null openssl genpkey -provider-path $P11P_PROVIDER_DIR -provider p11portal -provider default ..." >&2
OPENSSL_CONF=/dev/null openssl genpkey -provider-path "$P11P_PROVIDER_DIR" \
    -provider p11portal -provider default -algorithm EC -pkeyopt group:P-256 \
    -pkeyopt "pkcs11_uri:$P11P_TOKEN_URI;object=cli01?pin-source=file:$P11P_PIN_FILE" \
    -out cli01.pem
OPENSSL_CONF=/dev/null openssl req -provider-path "$P11P_PROVIDER_DIR" \
    -provider p11portal -provider default -new -key cli01.pem \
    -passin "file:$P11P_PIN_FILE" -subj /CN=cli01 -out cli01.csr
OPENSSL_CONF=/dev/null openssl req -in cli01.csr -verify -noout
[ "$(count_keys)" -eq 5 ]

# Enrollment options become vendor attributes in the private-key template.
if [[ "$P11P_TEST_MODULE" == *softhsm* ]]; then
    if ossl genpkey -algorithm EC -pkeyopt group:P-256 -pkeyopt label:enr01 \
        -pkeyopt subject:CN=enr01 -pkeyopt sans:DNS:enr01.example.com \
        -pkeyopt profile:server -pkeyopt term_days:30 -out enr01.pem 2>enr01.err; then
        echo "FAIL: SoftHSM2 accepted vendor attributes?" >&2
        exit 1
    fi
    cat enr01.err >&2
    grep -q "C_GenerateKeyPair(EC): CKR_ATTRIBUTE_TYPE_INVALID" enr01.err
    grep -q "token=$P11P_TOKEN_LABEL" enr01.err
else
    ossl genpkey -algorithm EC -pkeyopt group:P-256 -pkeyopt label:enr01 \
        -pkeyopt subject:CN=enr01 -pkeyopt sans:DNS:enr01.example.com \
        -out enr01.pem
    ossl storeutl -certs "$P11P_TOKEN_URI;object=enr01" | grep "Total found: 1" >/dev/null
fi

p11p_prov_check_canaries
echo PASS

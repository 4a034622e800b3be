#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# GnuTLS p11tool against the module: the token and its objects are listed
# with RFC 7512 URIs, and a certificate is exported by URI and equals the
# one pkcs11-tool reads. Over the hsm backend (P11P_TEST_BACKEND=hsm) the
# same listing, and the key is in the backing SoftHSM2 with the same CKA_ID.
. "$(dirname "$0")/lib.sh"
need p11tool pkcs11-tool openssl

init_token
keygen EC:prime256v1 p11tool-key
cd "$TEST_DIR"
if is_hsm; then
    check_backing_keys --generated 1 "$(key_id p11tool-key)"
fi

p11tool_ --list-tokens | tee tokens.txt
grep -q 'URL: pkcs11:.*token=p11portal' tokens.txt || fail "no token URL with token=p11portal"
grep -q 'Label: p11portal' tokens.txt || fail "token label not listed"

export GNUTLS_PIN=$USER_PIN
p11tool_ --login --list-all 'pkcs11:token=p11portal' | tee all.txt
grep -q 'URL: pkcs11:.*object=p11tool-key;type=private' all.txt || fail "private key URL not listed"
grep -q 'URL: pkcs11:.*object=p11tool-key;type=cert' all.txt || fail "certificate URL not listed"
grep -q 'URL: pkcs11:.*object=p11tool-key;type=public' all.txt || fail "public key URL not listed"

# Without login: the private key is hidden, the certificate is not.
unset GNUTLS_PIN
p11tool_ --list-all 'pkcs11:token=p11portal' >public.txt
if grep -q 'type=private' public.txt; then
    fail "a private object is listed without login"
fi
grep -q 'object=p11tool-key;type=cert' public.txt || fail "certificate hidden without login"

p11tool_ --list-all-certs 'pkcs11:token=p11portal' | tee certs.txt
[ "$(grep -c 'type=cert' certs.txt)" -ge 2 ] || fail "expected the certificate and its chain"

# Export by URI and compare with pkcs11-tool's read.
p11tool_ --export 'pkcs11:token=p11portal;object=p11tool-key;type=cert' --outfile exported.pem
p11 --read-object --type cert --label p11tool-key --output-file read.der >/dev/null
openssl x509 -in exported.pem -outform DER -out exported.der
cmp exported.der read.der || fail "p11tool and pkcs11-tool disagree on the certificate"

# Every certificate on the token exports by its URI, chain included.
grep -o 'URL: pkcs11:[^ ]*type=cert' certs.txt | cut -d' ' -f2 >cert-urls.txt
n=0
while IFS= read -r url; do
    n=$((n + 1))
    p11tool_ --export "$url" --outfile "cert-$n.pem"
    openssl x509 -in "cert-$n.pem" -noout || fail "export of $url is not a certificate"
done <cert-urls.txt
[ "$n" -ge 3 ] || fail "expected leaf, intermediate and root, exported $n"

# p11tool --export-chain looks issuers up as trusted objects; report what
# it finds, without failing (the chain objects are not CKA_TRUSTED).
p11tool_ --export-chain 'pkcs11:token=p11portal;object=p11tool-key;type=cert' --outfile chain.pem
echo "note: p11tool --export-chain exported $(grep -c 'BEGIN CERTIFICATE' chain.pem) certificate(s)"
echo "PASS"

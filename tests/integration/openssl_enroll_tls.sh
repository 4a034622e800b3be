#!/bin/bash
# Enrollment from the openssl CLI over libp11portal.so (the local CA), with
# the command lines of docs/guides/openssl.md: genpkey with subject and SANs
# generates the key on the token and the module enrolls it; the issued
# certificate is listed by storeutl next to the key and verifies against
# the CA chain read back from the token; req, dgst, cms with the key
# reference file; s_server with the token key and the ISSUED certificate,
# s_client verifying against the local root only (the server sends the
# intermediate) over TLS 1.3 and TLS 1.2. Over SoftHSM2 there is no
# enrollment: skipped (registered over our module only).
# shellcheck source=tests/integration/provider_lib.sh
source "$(dirname "$0")/provider_lib.sh"
p11p_prov_setup
p11p_prov_is_softhsm && skip "enrollment needs libp11portal.so"

# genpkey that enrolls (provider activated and PIN file named in
# openssl.cnf; -provider on the command line as well, as users type it).
ossl genpkey -provider p11portal -provider default -algorithm EC -pkeyopt group:P-256 \
    -pkeyopt label:web01 -pkeyopt subject:CN=web01.example.com \
    -pkeyopt sans:DNS:web01.example.com -out web01.pem
head -1 web01.pem | grep -- "-----BEGIN PKCS#11 PROVIDER URI-----" >/dev/null
ossl genpkey -algorithm RSA -pkeyopt bits:2048 -pkeyopt label:rsa01 \
    -pkeyopt subject:CN=rsa01.example.com -pkeyopt sans:DNS:rsa01.example.com -out rsa01.pem
head -1 rsa01.pem | grep -- "-----BEGIN PKCS#11 PROVIDER URI-----" >/dev/null
# Without "default_properties = ?provider=p11portal" in openssl.cnf,
# OpenSSL 3.0 re-sorts its providers by name when -provider repeats one the
# configuration activated, and the default provider's key generation comes
# first: -propquery '?provider=p11portal' prefers ours again.
grep -v -e '^alg_section' -e '^default_properties' "$OPENSSL_CONF" >noalg.cnf
echo "+ OPENSSL_CONF=noalg.cnf openssl genpkey -provider p11portal -provider default -propquery '?provider=p11portal' ..." >&2
OPENSSL_CONF=noalg.cnf openssl genpkey -provider p11portal -provider default \
    -propquery '?provider=p11portal' -algorithm EC -pkeyopt group:P-256 \
    -pkeyopt label:web02 -pkeyopt subject:CN=web02.example.com -out web02.pem
head -1 web02.pem | grep -- "-----BEGIN PKCS#11 PROVIDER URI-----" >/dev/null

# The issued certificate is on the token, next to its key.
ossl storeutl -certs 'pkcs11:object=web01' | tee web01-certs.txt
grep -q "Total found: 1" web01-certs.txt
ossl storeutl -certs -out web01.crt 'pkcs11:token=factory;object=web01;type=cert'
ossl x509 -in web01.crt -noout -subject -ext subjectAltName | tee web01-subj.txt
grep -Eq "subject=CN ?= ?web01.example.com" web01-subj.txt
grep -q "DNS:web01.example.com" web01-subj.txt
ossl storeutl -keys 'pkcs11:token=factory;object=web01' | grep "Total found: 1" >/dev/null
# Its public key is the token key's.
ossl pkey -in web01.pem -pubout -out web01.pub
ossl x509 -in web01.crt -noout -pubkey >web01.crt.pub
cmp web01.pub web01.crt.pub

# The chain read from the token verifies it.
ossl storeutl -certs -out token-certs.pem 'pkcs11:token=factory'
ossl verify -CAfile token-certs.pem web01.crt
# Strictly: only the self-signed root is trusted, the intermediate is not.
p11p_prov_token_ca
[ "$P11P_CA_COUNT" -ge 1 ]
untrusted=()
[ -s inter.crt ] && untrusted=(-untrusted inter.crt)
ossl verify -CAfile root.crt "${untrusted[@]}" -purpose sslserver web01.crt
ossl storeutl -certs -out rsa01.crt 'pkcs11:token=factory;object=rsa01;type=cert'
ossl verify -CAfile root.crt "${untrusted[@]}" rsa01.crt
# A certificate from elsewhere does not verify against that root.
ossl req -x509 -newkey EC -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
    -subj /CN=other -days 1 -out other.crt 2>/dev/null
if ossl verify -CAfile root.crt other.crt 2>/dev/null; then
    echo "FAIL: a foreign certificate verified against the token root" >&2
    exit 1
fi

# The key reference file works with req, dgst and cms.
ossl req -new -key web01.pem -subj /CN=web01.example.com -out web01.csr
ossl req -in web01.csr -verify -noout
printf 'release 1.2.3\n' >data
ossl dgst -sha256 -sign web01.pem -out data.sig data
ossl dgst -sha256 -verify web01.pub -signature data.sig data
ossl cms -sign -binary -nodetach -in data -signer web01.crt -inkey web01.pem \
    -outform PEM -out data.p7s
ossl cms -verify -in data.p7s -inform PEM -CAfile token-certs.pem -purpose any -out data.out
cmp data data.out
ossl dgst -sha384 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest \
    -sign rsa01.pem -out data.pss.sig data
ossl pkey -in rsa01.pem -pubout -out rsa01.pub
ossl dgst -sha384 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest \
    -verify rsa01.pub -signature data.pss.sig data

# The CA certificates by label (the local CA names them after the token):
# the issuing CA for the server's chain, the root for the client.
ossl storeutl -certs -out chain.pem 'pkcs11:token=factory;object=p11portal%20local%20issuing%20CA%20%28factory%29'
# (storeutl -out also writes its "Total found" line: compare fingerprints.)
fpr() { openssl x509 -in "$1" -noout -fingerprint -sha256; }
[ "$(fpr chain.pem)" = "$(fpr inter.crt)" ]
ossl storeutl -certs -out root.pem 'pkcs11:token=factory;object=p11portal%20local%20root%20CA%20%28factory%29'
[ "$(fpr root.pem)" = "$(fpr root.crt)" ]

# TLS: the token key with its issued certificate; the client trusts the
# local root only.
for key in web01 rsa01; do
    port=$(p11p_prov_free_port)
    p11p_prov_spawn openssl s_server -accept "127.0.0.1:$port" -naccept 10 \
        -key "$key.pem" -cert "pkcs11:token=factory;object=$key;type=cert" \
        -cert_chain chain.pem -quiet
    server=$P11P_LAST_PID
    for _ in $(seq 1 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        kill -0 "$server" 2>/dev/null || {
            echo "FAIL: s_server exited" >&2
            exit 1
        }
        sleep 0.1
    done
    for proto in tls1_3 tls1_2; do
        echo "+ openssl s_client -connect 127.0.0.1:$port -CAfile root.pem -verify_return_error -verify_hostname $key.example.com -brief -$proto" >&2
        timeout 90 env "${P11P_OSSL_ENV[@]}" openssl s_client -connect "127.0.0.1:$port" \
            -CAfile root.pem -verify_return_error -verify_hostname "$key.example.com" \
            -brief "-$proto" </dev/null >"client-$key-$proto.log" 2>&1 || {
            cat "client-$key-$proto.log" >&2
            echo "FAIL: handshake $key $proto" >&2
            exit 1
        }
        cat "client-$key-$proto.log" >&2
        grep -q "Verification: OK" "client-$key-$proto.log"
    done
    grep -q "Protocol version: TLSv1.3" "client-$key-tls1_3.log"
    grep -q "Protocol version: TLSv1.2" "client-$key-tls1_2.log"
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
done

# The shipped snippet (conf/openssl-p11portal.cnf) works as it is, once the
# module and the PIN file are filled in.
sed -e "s|^# pkcs11-module = .*|pkcs11-module = $P11P_TEST_MODULE|" \
    -e "s|^# pin-source = .*|pin-source = file:$P11P_PIN_FILE|" \
    "$P11P_SOURCE_DIR/conf/openssl-p11portal.cnf" >shipped.cnf
echo "+ OPENSSL_CONF=shipped.cnf openssl genpkey -provider p11portal -provider default ... label:web03" >&2
OPENSSL_CONF=shipped.cnf openssl genpkey -provider p11portal -provider default -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt label:web03 -out web03.pem
OPENSSL_CONF=shipped.cnf openssl storeutl -certs 'pkcs11:object=web03' | tee web03-certs.txt
grep -q "Total found: 1" web03-certs.txt

p11p_prov_check_canaries
echo PASS

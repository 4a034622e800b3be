#!/bin/bash
# Re-entrancy (issue 4, STYLE.md 3.8): openssl genpkey with the p11portal
# provider ACTIVATED in openssl.cnf (p11portal first, then default) over a
# token whose driver is a TLS portal (the Sectigo simulator on loopback).
# Inside the provider's keygen call the module enrolls: it builds and signs
# a CSR with OpenSSL and sends it over HTTPS with libcurl (whose TLS runs on
# libcrypto, where our provider is active). Nothing may deadlock or recurse:
# every command is bounded with timeout, the certificate must be issued by
# the portal, and the portal must have seen exactly one order per key.
# Over our module only (the portal is a driver of libp11portal.so).
P11P_PROV_DEFER_TOKEN=1
# shellcheck source=tests/integration/provider_lib.sh
source "$(dirname "$0")/provider_lib.sh"
p11p_prov_setup
p11p_prov_is_softhsm && skip "the portal drivers belong to libp11portal.so"
command -v python3 >/dev/null || skip "python3 needed for the portal simulator"
python3 -c 'import cryptography' 2>/dev/null || skip "python3-cryptography needed for the portal simulator"

SIM=$P11P_SOURCE_DIR/tests/portal-sim/portal-sim
SIMCTL=$P11P_SOURCE_DIR/tests/portal-sim/portal-simctl
STATE=$P11P_TMP/sim
# (The simulator gets no OpenSSL configuration: python3-cryptography must
# not load our provider, nor look for its legacy provider in OPENSSL_MODULES.)
p11p_prov_spawn env -u OPENSSL_MODULES OPENSSL_CONF=/dev/null "$SIM" --listen 127.0.0.1:0 --state "$STATE"
for _ in $(seq 1 300); do
    [ -s "$STATE/port" ] && break
    sleep 0.1
done
[ -s "$STATE/port" ] || {
    echo "FAIL: the portal simulator did not start" >&2
    exit 1
}
run env -u OPENSSL_MODULES OPENSSL_CONF=/dev/null "$SIMCTL" --state "$STATE" wait 10 >/dev/null
URL=$(cat "$STATE/url")

# The token: conf/examples/sectigo-sim.conf pointed at this simulator.
P11P_PORTAL_CONF_EXTRA="driver = sectigo
url = $URL
credentials_file = $STATE/sectigo.cred
ca_bundle = $STATE/ca.pem
trust_anchors = $STATE/ca.pem
subject = CN=\${label}
sans = DNS:\${label}
profile = Sim SSL Instant
term_days = 365
enroll_wait_ms = 20000
family = ssl
auth = password
comments = enrolled by p11portal
token_field = requestToken
collect_format = x509
collect_style = query"
p11p_prov_p11portal_token

# Bounded: a deadlock or an endless recursion ends in a timeout (rc 124).
bounded() {
    local rc=0
    echo "+ timeout 120 openssl $*" >&2
    timeout 120 env "${P11P_OSSL_ENV[@]}" openssl "$@" || rc=$?
    if [ "$rc" -eq 124 ]; then
        echo "FAIL: openssl $1 did not finish in 120 s (deadlock?)" >&2
        exit 1
    fi
    return "$rc"
}

# The provider is activated by openssl.cnf (p11portal first); genpkey
# generates on the token and the module enrolls over HTTPS, inside the call.
grep -A1 '^p11portal = ' "$OPENSSL_CONF" >&2
bounded genpkey -provider p11portal -provider default -algorithm EC -pkeyopt group:P-256 \
    -pkeyopt label:tls01.example.com -out tls01.pem
# The same with the configuration alone.
bounded genpkey -algorithm RSA -pkeyopt bits:2048 -pkeyopt label:tls02.example.com -out tls02.pem
head -1 tls01.pem tls02.pem | grep -c -- "-----BEGIN PKCS#11 PROVIDER URI-----" | grep -x 2 >/dev/null

# Issued by the portal: the certificate is on the token and verifies
# against the portal's root (the chain read back from the token).
for l in tls01.example.com tls02.example.com; do
    bounded storeutl -certs -out "$l.crt" "$P11P_TOKEN_URI;object=$l;type=cert" >/dev/null
    [ "$(grep -c "BEGIN CERTIFICATE" "$l.crt")" -eq 1 ]
done
bounded storeutl -certs -out token-certs.pem "$P11P_TOKEN_URI" >/dev/null
for l in tls01.example.com tls02.example.com; do
    bounded verify -CAfile "$STATE/ca.pem" -untrusted token-certs.pem "$l.crt"
done
# Signing with the enrolled key works in the same kind of process.
printf 'payload' >data
bounded dgst -sha256 -sign tls01.pem -out data.sig data
bounded pkey -in tls01.pem -pubout -out tls01.pub
bounded dgst -sha256 -verify tls01.pub -signature data.sig data

# The portal saw the requests, and one order per key.
run env -u OPENSSL_MODULES OPENSSL_CONF=/dev/null "$SIMCTL" --state "$STATE" max-orders-per-key | tee max.txt
[ "$(tr -d '[:space:]' <max.txt)" = 1 ]
grep -c '"path": *"/api/ssl/v1/enroll' "$STATE/journal.jsonl" | tee enrolls.txt
[ "$(cat enrolls.txt)" -eq 2 ]

p11p_prov_check_canaries
echo PASS

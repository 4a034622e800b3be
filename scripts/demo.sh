#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The main job of p11portal, shown with stock tools on the embedded default
# (no configuration file, no portal account, no network): pkcs11-tool
# generates a key on the token, the embedded local CA issues a certificate
# for it, and the openssl CLI checks the signature and the chain. Then the
# p11portal tool provisions a small factory batch (MAC-address devices) on
# a second, configured token, shows the token's status and orders, and
# exports one device's certificate chain.
#
# Environment: P11P_BUILD_DIR (default build), P11P_MODULE (default
# $P11P_BUILD_DIR/pkcs11/libp11portal.so), P11P_TOOL (default
# $P11P_BUILD_DIR/tools/p11portal). Exits non-zero on any failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${P11P_BUILD_DIR:-$root/build}
module=${P11P_MODULE:-$build/pkcs11/libp11portal.so}
ptool=${P11P_TOOL:-$build/tools/p11portal}

# Demo PINs: obvious on purpose, and never printed (commands below show
# them as $SO_PIN / $USER_PIN; pkcs11-tool does not echo them).
SO_PIN=demo-so-pin-1234
USER_PIN=demo-user-pin-1234
LABEL=demo-device-01

n=0
step() {
    n=$((n + 1))
    printf '\n[%d] %s\n' "$n" "$*"
}
# show: print a command with the PINs masked, then run it.
show() {
    local line="$*"
    line=${line//$SO_PIN/\$SO_PIN}
    line=${line//$USER_PIN/\$USER_PIN}
    line=${line//$module/libp11portal.so}
    line=${line//$ptool/p11portal}
    printf '    $ %s\n' "$line"
    "$@"
}
fail() {
    printf '\nDEMO FAILED: %s\n' "$*" >&2
    exit 1
}
p11() {
    show pkcs11-tool --module "$module" "$@"
}

for tool in pkcs11-tool openssl; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (run ./scripts/install-deps.sh)"
done

if [ -z "${P11P_MODULE:-}" ]; then
    step "Build libp11portal.so if needed (cmake, in $build)."
    cmake -S "$root" -B "$build" >/dev/null
    cmake --build "$build" -j "$(nproc)" --target p11portal-pkcs11 p11portal-tool >/dev/null
fi
[ -f "$module" ] || fail "module not found: $module"
[ -x "$ptool" ] || fail "p11portal tool not found: $ptool"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A private data folder: the token, its cache and the local CA live here
# and vanish afterwards. No P11PORTAL_CONF: the embedded default applies.
export XDG_DATA_HOME=$work/data
unset P11PORTAL_CONF
cd "$work"

echo "p11portal demo: the module $module"
echo "All data goes to a temporary folder: $XDG_DATA_HOME/p11portal"
if [ -e /etc/p11portal/p11portal.conf ]; then
    echo "note: /etc/p11portal/p11portal.conf exists and is used instead of the embedded default"
fi

step "List the slots. With no configuration file there is one token, 'p11portal', backed by the embedded local CA."
p11 --list-token-slots || fail "the module did not load or list its slot"

step "Initialize the token: sets its label and the Security Officer PIN."
p11 --init-token --label p11portal --so-pin "$SO_PIN" || fail "C_InitToken"

step "Set the user PIN (as the Security Officer). The user PIN protects the token's master key."
p11 --init-pin --login --login-type so --so-pin "$SO_PIN" --pin "$USER_PIN" || fail "C_InitPIN"

step "Generate an EC P-256 key pair labelled '$LABEL'. C_GenerateKeyPair also builds a CSR (subject CN=$LABEL), orders a certificate from the local CA and stores what it issues."
p11 --login --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 --label "$LABEL" || fail "C_GenerateKeyPair"

step "List the objects: the private and public key, the issued certificate (same label and ID), the CA chain (intermediate, root) and the order object."
p11 --login --pin "$USER_PIN" --list-objects | tee objects.txt || fail "listing objects"
grep -q 'Private Key Object' objects.txt || fail "no private key object"
grep -q 'Certificate Object' objects.txt || fail "no certificate object"
grep -q 'p11portal order' objects.txt || fail "no order object"

step "Read the order object: the enrollment's state as a small JSON document (pending, rejected or issued)."
p11 --read-object --type data --application-label "p11portal order" --label "$LABEL" --output-file order.json >/dev/null || fail "reading the order object"
printf '    %s\n' "$(cat order.json)"
grep -q '"issued"' order.json || fail "the order is not issued"

step "Read every certificate out of the token (DER), then sort them into leaf, intermediate and root."
# One cert block per "Certificate Object" line; read each by its label.
awk '/^Certificate Object/ {c=1; next} c && /label:/ {sub(/^[ \t]*label:[ \t]*/, ""); print; c=0}' objects.txt >cert-labels.txt
[ -s cert-labels.txt ] || fail "no certificate labels found"
i=0
while IFS= read -r l; do
    i=$((i + 1))
    p11 --read-object --type cert --label "$l" --output-file "cert$i.der" >/dev/null || fail "reading certificate '$l'"
    openssl x509 -inform DER -in "cert$i.der" -out "cert$i.pem" || fail "certificate '$l' is not DER X.509"
    subj=$(openssl x509 -in "cert$i.pem" -noout -subject -nameopt RFC2253)
    iss=$(openssl x509 -in "cert$i.pem" -noout -issuer -nameopt RFC2253)
    if [ "$l" = "$LABEL" ]; then
        cp "cert$i.pem" leaf.pem
    elif [ "${subj#subject=}" = "${iss#issuer=}" ]; then
        cp "cert$i.pem" root.pem
    else
        cat "cert$i.pem" >>intermediate.pem
    fi
done <cert-labels.txt
[ -f leaf.pem ] || fail "no certificate labelled $LABEL"
[ -f root.pem ] || fail "no self-signed root certificate on the token"
[ -f intermediate.pem ] || touch intermediate.pem
echo "    leaf.pem, intermediate.pem, root.pem written"

step "Show who the certificate is for, who issued it and how long it is valid."
show openssl x509 -in leaf.pem -noout -subject -issuer -dates

step "Sign some data with the token key (ECDSA with SHA-256). The private key never leaves the token; pkcs11-tool selects it by its CKA_ID, which the key shares with its certificate."
# pkcs11-tool 0.23 ignores --label for --sign: take the key's ID from the list.
key_id=$(awk -v l="$LABEL" '/^Private Key Object/ {k=1; next} /^[A-Z]/ {k=0} k && $1 == "label:" {f = ($2 == l)} k && f && $1 == "ID:" {print $2; exit}' objects.txt)
[ -n "$key_id" ] || fail "no ID for the private key $LABEL"
echo "the quick brown fox" >data.txt
p11 --login --pin "$USER_PIN" --sign --mechanism ECDSA-SHA256 --signature-format openssl \
    --type privkey --id "$key_id" --input-file data.txt --output-file data.sig || fail "C_Sign"

step "Verify the signature with openssl, using the public key from the issued certificate."
openssl x509 -in leaf.pem -noout -pubkey >pub.pem
show openssl dgst -sha256 -verify pub.pem -signature data.sig data.txt || fail "signature does not verify"

step "Verify the certificate chain: leaf <- intermediate <- root."
untrusted=()
if [ -s intermediate.pem ]; then
    untrusted=(-untrusted intermediate.pem)
fi
show openssl verify -CAfile root.pem "${untrusted[@]}" leaf.pem || fail "chain does not verify"

step "A factory line: a token configured with a MAC-address range (still the embedded local CA, no account). Its configuration file:"
cat >"$work/factory.conf" <<'CONF'
[token "factory"]
driver = local
mac_start = 02:00:5e:10:00:00
mac_end = 02:00:5e:10:ff:ff
CONF
sed 's/^/    /' "$work/factory.conf"
export P11PORTAL_CONF=$work/factory.conf
p11 --init-token --label factory --so-pin "$SO_PIN" >/dev/null || fail "C_InitToken (factory)"
p11 --init-pin --login --login-type so --so-pin "$SO_PIN" --pin "$USER_PIN" >/dev/null || fail "C_InitPIN (factory)"
# The tool reads the PIN from a file only its owner can read (never an
# argument, which would show in ps).
(umask 077 && printf '%s\n' "$USER_PIN" >"$work/pin")

step "What a batch of 8 devices would do (--dry-run touches nothing)."
show "$ptool" batch --start-mac 02:00:5e:10:00:01 --count 8 --dry-run || fail "batch --dry-run"

step "Provision them: for each MAC a key pair on the token, a CSR, an order, the certificate and chain next to the key; a CSV report."
show "$ptool" batch --start-mac 02:00:5e:10:00:01 --count 8 --pin-source "$work/pin" --report report.csv ||
    fail "batch"
cut -d, -f2,5,6,9,10 report.csv | sed "s/^/    /"

step "Run the same command again: it resumes, so nothing is ordered twice."
show "$ptool" batch --start-mac 02:00:5e:10:00:01 --count 8 --pin-source "$work/pin" --report report.csv ||
    fail "batch (resume)"

step "The token's status and its orders."
show "$ptool" status || fail "status"
show "$ptool" orders || fail "orders"

step "Export one device's certificate with its chain (PEM), and check it with openssl."
show "$ptool" export --label 02:00:5e:10:00:05 --chain --out dev5.pem || fail "export"
openssl crl2pkcs7 -nocrl -certfile dev5.pem | openssl pkcs7 -print_certs -noout | grep subject= | sed 's/^/    /'
openssl x509 -in dev5.pem -noout -subject | grep 'CN *= *02:00:5e:10:00:05' >/dev/null || fail "the exported certificate is not device 5's"

printf '\nDemo complete: a key generated on the token got a certificate from the local CA, and openssl verified both the signature and the chain; then a batch of 8 MAC-address devices was provisioned, resumed without a second order, listed and exported.\n'

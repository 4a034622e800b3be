#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 300
#
# p11portal import (issue 7 item 3), soft backend (tool_import_hsm.sh runs
# this over the hsm backend, and then checks in SoftHSM2 itself that the
# imported keys are sensitive and not extractable). Fixtures are made here with the openssl CLI
# and python3's zipfile (no key is committed): a test CA, device keys and
# certificates, PKCS#12 files (modern and legacy RC2), zips of PKCS#12 and
# of PEM files, and CMS packages encrypted to a certificate whose key the
# token generated (its certificate issued by the token's local CA).
# Checked: key, public key and certificate with the same CKA_ID and label;
# a signature with an imported key verifies with the certificate's key; an
# order object per import; the CMS packages decrypt with the token key;
# wrong password, corrupt file, mismatched key and certificate: exit 2,
# the file named, nothing added; a key already there: skipped; --json.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tool_lib.sh"
need pkcs11-tool openssl python3

init_token
cd "$TEST_DIR"
PW_FILE=$TEST_DIR/package.pw
(umask 077 && printf 'canary-p12-pass-61be0c\n' >"$PW_FILE")
PW=canary-p12-pass-61be0c

# ---- fixtures ----
run openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ca.key -out ca.pem -subj "/CN=Import Test CA" -days 30 2>/dev/null
# device <name> <key type args...>: dev-<name>.key and .pem (issued by the CA)
device() {
    local name=$1
    shift
    openssl genpkey "$@" -out "dev-$name.key" 2>/dev/null
    openssl req -new -key "dev-$name.key" -subj "/CN=$name" -out "dev-$name.csr"
    openssl x509 -req -in "dev-$name.csr" -CA ca.pem -CAkey ca.key \
        -CAcreateserial -days 30 -out "dev-$name.pem" 2>/dev/null
}
# p12 <name> [extra pkcs12 args]: dev-<name>.p12 with the CA
p12() {
    local name=$1
    shift
    openssl pkcs12 -export -inkey "dev-$name.key" -in "dev-$name.pem" \
        -certfile ca.pem -passout "file:$PW_FILE" -out "dev-$name.p12" "$@"
}
device rsa1 -algorithm RSA -pkeyopt rsa_keygen_bits:2048
device rx -algorithm RSA -pkeyopt rsa_keygen_bits:2048
device k1 -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1
for n in z1 z2 z3 pa pb m1 m2 c1 c2 c3 c4 legacy; do
    device "$n" -algorithm EC -pkeyopt ec_paramgen_curve:P-256
done
p12 rsa1
p12 legacy -legacy
for n in z1 z2 z3 c1 k1; do p12 "$n"; done

# zip <out> <file>...: a zip of the files, each under a device folder
zip_of() {
    python3 - "$@" <<'PY'
import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for f in sys.argv[2:]:
        z.write(f, "devices/" + os.path.basename(f))
    z.writestr("README.txt", "portal download\n")
PY
}
zip_of p12s.zip dev-z1.p12 dev-z2.p12 dev-z3.p12
zip_of pems.zip dev-pa.key dev-pa.pem dev-pb.key dev-pb.pem ca.pem
# Mismatch: m1's folder holds m1's key and m2's certificate.
cp dev-m1.key m1-key.pem
cp dev-m2.pem m1-cert.pem
zip_of mismatch.zip m1-key.pem m1-cert.pem ca.pem
# One PEM file: key, certificate, CA.
cat dev-c2.key dev-c2.pem ca.pem >c2-bundle.pem

# count_objects: how many objects the token shows after login.
count_objects() {
    p11 --login --pin "$USER_PIN" --list-objects 2>/dev/null | grep -cE '(Object;|^Data object)' || true
}
# id_of <label> <type>: the hex CKA_ID of the object of that type and label
id_of() {
    p11 --login --pin "$USER_PIN" --list-objects --type "$2" 2>/dev/null |
        awk -v l="$1" '$1 == "label:" { f = ($0 ~ ("label: *" l "$")) } f && $1 == "ID:" { print $2; exit }'
}
# check_device <label> <cert pem>: key, public key and certificate objects
# with one CKA_ID, the key's default id (SHA-1 of the public key as
# generated keys get it), and the certificate is the device's.
check_device() {
    local l=$1 pem=$2 kid pid cid
    kid=$(id_of "$l" privkey)
    pid=$(id_of "$l" pubkey)
    cid=$(id_of "$l" cert)
    [ -n "$kid" ] || fail "no private key labelled $l"
    if [ "$kid" != "$pid" ] || [ "$kid" != "$cid" ]; then
        fail "$l: CKA_IDs differ: key $kid, public key $pid, cert $cid"
    fi
    p11 --read-object --type cert --id "$cid" --output-file "got-$l.der" >/dev/null
    openssl x509 -inform DER -in "got-$l.der" -out "got-$l.pem"
    cmp <(openssl x509 -in "got-$l.pem" -outform DER) <(openssl x509 -in "$pem" -outform DER) ||
        fail "$l: the certificate object is not the device's certificate"
}

# ---- PKCS#12 ----
before=$(count_objects)
tool_rc 0 import dev-rsa1.p12 --password-source "$PW_FILE"
cat "$TOOL_OUT"
grep 'imported' "$TOOL_OUT" >/dev/null || fail "no 'imported' row"
p11 --login --pin "$USER_PIN" --list-objects >objects.txt
check_device rsa1 dev-rsa1.pem
# The CA came along as a certificate object.
grep 'label: *Import Test CA' objects.txt >/dev/null || fail "the CA certificate was not stored"
# An order object (ISSUED) for the import.
p11 --list-objects --type data >data.txt
grep -A3 "label: *'rsa1'" data.txt | grep 'p11portal order' >/dev/null || fail "no order object for rsa1"
# 4 objects: private key, public key, certificate, order; + the CA.
after=$(count_objects)
[ "$after" -eq $((before + 5)) ] || fail "expected 5 new objects, got $((after - before))"
# A signature with the imported key verifies with the certificate's key.
printf 'signed by an imported key\n' >data.txt
p11 --login --pin "$USER_PIN" --sign --mechanism SHA256-RSA-PKCS --id "$(id_of rsa1 privkey)" \
    --input-file data.txt --output-file sig.bin >/dev/null
openssl x509 -in dev-rsa1.pem -pubkey -noout >rsa1-pub.pem
run openssl dgst -sha256 -verify rsa1-pub.pem -signature sig.bin data.txt ||
    fail "the imported key's signature does not verify"
# The package password never shows.
if grep -r "$PW" "$TEST_DIR/out" >/dev/null; then
    fail "the package password was printed"
fi

# Again: already present, skipped, nothing added.
before=$(count_objects)
tool_rc 0 import dev-rsa1.p12 --password-source "$PW_FILE" --json
tool_json "$TOOL_OUT" 'd["items"][0]["result"]' | grep '^present$' >/dev/null || fail "re-import not 'present'"
[ "$(count_objects)" -eq "$before" ] || fail "re-import added objects"

# Legacy (RC2-40) PKCS#12, password from the environment.
P11PORTAL_IMPORT_PASSWORD=$PW tool_rc 0 import dev-legacy.p12 --label old-portal
check_device old-portal dev-legacy.pem

# ---- zips ----
tool_rc 0 import p12s.zip --password-source "$PW_FILE" --json
[ "$(tool_json "$TOOL_OUT" 'd["imported"]')" = 3 ] || fail "zip of PKCS#12: not 3 imported"
for n in z1 z2 z3; do check_device "$n" "dev-$n.pem"; done
tool_rc 0 import pems.zip
for n in pa pb; do check_device "$n" "dev-$n.pem"; done
tool_rc 0 import c2-bundle.pem
check_device c2 dev-c2.pem

# ---- refusals: exit 2, the file named, nothing added ----
before=$(count_objects)
(umask 077 && printf 'not-the-password\n' >wrong.pw)
tool_rc 2 import dev-c1.p12 --password-source wrong.pw
grep 'dev-c1.p12' "$TOOL_ERR" | grep 'wrong password' >/dev/null || fail "wrong password: message"
head -c 300 dev-c1.p12 >corrupt.p12
tool_rc 2 import corrupt.p12 --password-source "$PW_FILE"
grep 'corrupt.p12' "$TOOL_ERR" >/dev/null || fail "corrupt: the file is not named"
tool_rc 2 import mismatch.zip
grep 'm1-key.pem' "$TOOL_ERR" | grep 'matches no certificate' >/dev/null || fail "mismatch: message"
# A zip whose second device is bad imports nothing of the first.
zip_of half.zip dev-c1.p12 corrupt.p12
tool_rc 2 import half.zip --password-source "$PW_FILE"
# A key the token cannot hold (secp256k1) beside a good one: nothing.
zip_of k1.zip dev-c1.p12 dev-k1.p12
tool_rc 2 import k1.zip --password-source "$PW_FILE"
grep 'dev-k1.p12' "$TOOL_ERR" | grep 'unsupported' >/dev/null || fail "secp256k1: message"
[ "$(count_objects)" -eq "$before" ] || fail "a refused package left objects"
[ -z "$(id_of c1 privkey)" ] || fail "c1 was half imported"

# ---- CMS: encrypted to a token key ----
keygen rsa:2048 station --usage-decrypt
sid=$(key_id station)
[ -n "$sid" ] || fail "no station key"
p11 --read-object --type cert --id "$sid" --output-file station.der >/dev/null
openssl x509 -inform DER -in station.der -out station.pem
# PKCS#1 v1.5 key transport, DER, around a PKCS#12.
run openssl cms -encrypt -binary -aes256 -outform DER -in dev-c1.p12 -out c1.cms -recip station.pem
tool_rc 0 import c1.cms --password-source "$PW_FILE"
check_device c1 dev-c1.pem
# OAEP key transport, S/MIME, around a zip of PEM files.
zip_of c3.zip dev-c3.key dev-c3.pem ca.pem
run openssl cms -encrypt -binary -aes256 -in c3.zip -out c3.smime -recip station.pem \
    -keyopt rsa_padding_mode:oaep
grep 'application/pkcs7-mime' c3.smime >/dev/null || fail "not S/MIME"
tool_rc 0 import c3.smime
check_device c3 dev-c3.pem
# PEM ("-----BEGIN CMS-----") around a PEM file.
cat dev-c4.key dev-c4.pem >c4-bundle.pem
run openssl cms -encrypt -binary -aes128 -outform PEM -in c4-bundle.pem -out c4.cms.pem -recip station.pem
tool_rc 0 import c4.cms.pem
check_device c4 dev-c4.pem
# Encrypted to an RSA certificate whose key is not on the token: refused,
# named. (dev-rsa1's key is there now: a package to it would decrypt.)
run openssl cms -encrypt -binary -outform DER -in dev-c1.p12 -out other.cms -recip dev-rx.pem
tool_rc 2 import other.cms
grep 'other.cms' "$TOOL_ERR" | grep 'no certificate of this token' >/dev/null || fail "foreign CMS: message"
# Nothing decrypted was left on disk.
leftover=$(find "$TEST_DIR" -newer c3.smime -type f ! -path "$TEST_DIR/out/*" ! -path "$DATA_DIR/*" ! -path "$TEST_DIR/softhsm-tokens/*" \
    ! -name '*.cms' ! -name '*.pem' ! -name '*.der' | head -5)
[ -z "$leftover" ] || fail "files written during the CMS import: $leftover"
# ---- trust anchors: with the token's trust_anchors set, a chain that
# does not verify to them is refused ----
run openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout other-ca.key -out other-ca.pem -subj "/CN=Other CA" -days 30 2>/dev/null
p12 m1
token_config p11portal "trust_anchors = $TEST_DIR/other-ca.pem"
tool_rc 2 import dev-m1.p12 --password-source "$PW_FILE"
grep 'dev-m1.p12' "$TOOL_ERR" | grep 'chain does not verify' >/dev/null || fail "anchors: message"
[ -z "$(id_of m1 privkey)" ] || fail "m1 imported despite its chain"
token_config p11portal "trust_anchors = $TEST_DIR/ca.pem"
tool_rc 0 import dev-m1.p12 --password-source "$PW_FILE"
check_device m1 dev-m1.pem

# ---- hsm backend: the imported keys are backing objects, sensitive, not
# extractable, and may neither unwrap nor derive (read directly from
# SoftHSM2) ----
if is_hsm; then
    keys=$(backing_keys)
    printf 'backing private keys (CKA_ID flags):\n%s\n' "$keys"
    for l in rsa1 old-portal z1 z2 z3 pa pb c1 c2 c3 c4 m1; do
        id=$(id_of "$l" privkey)
        flags=$(printf '%s\n' "$keys" | awk -v id="$id" '$1 == id { print $2 }')
        [ -n "$flags" ] || fail "$l ($id) is not in SoftHSM2"
        case ",$flags," in *,sensitive,*) ;; *) fail "$l: not sensitive ($flags)" ;; esac
        case ",$flags," in *,extractable,*) fail "$l: extractable ($flags)" ;; esac
        case ",$flags," in *,unwrap,* | *,derive,*) fail "$l: may unwrap or derive ($flags)" ;; esac
    done
fi
echo "PASS"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The token's pkcs11-tool flow with key_backend = hsm over SoftHSM2 (issue
# 5), PINs passed through: init token (checks the backing SO PIN, never
# initialises the backing token), init PIN, keypairgen RSA-2048, EC P-256
# and Ed25519 (each enrolls with the local CA), list, sign with every
# mechanism pkcs11-tool offers and verify with openssl and the issued
# certificate, RSA decrypt, read the certificate. Then pkcs11-tool pointed
# directly at SoftHSM2 shows the keys as sensitive and never extractable,
# with the CKA_ID p11portal shows; and deleting a key through p11portal
# deletes it in SoftHSM2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hsm_lib.sh"

hsm_config "# PINs pass through to the backing token"
cd "$TEST_DIR"
p11 --init-token --label station --so-pin "$HSM_SO_PIN" >/dev/null
p11 --init-pin --login --login-type so --so-pin "$HSM_SO_PIN" --pin "$HSM_USER_PIN" >/dev/null
# A wrong user PIN is the backing token's CKR_PIN_INCORRECT.
if p11 --login --pin wrong-pin-123 --list-objects >wrong.txt 2>&1; then
    fail "a wrong PIN was accepted"
fi
grep -q CKR_PIN_INCORRECT wrong.txt || fail "a wrong PIN did not give CKR_PIN_INCORRECT"

printf 'data to be signed by the HSM\n' >data.txt
openssl dgst -sha256 -binary data.txt >data.sha256

keys="rsa:2048:rsa EC:prime256v1:ec EC:edwards25519:ed"
for spec in $keys; do
    type=${spec%:*}
    label=hsm-${type//:/-}
    extra=()
    [ "${spec##*:}" = rsa ] && extra=(--usage-decrypt)
    p11 --login --pin "$HSM_USER_PIN" --keypairgen --key-type "$type" \
        --label "$label" --usage-sign "${extra[@]}" >/dev/null || fail "keypairgen $type"
done
p11 --login --pin "$HSM_USER_PIN" --list-objects | tee objects.txt

# key_id_hsm <label>: like lib.sh's key_id with the backing PIN.
key_id_hsm() {
    p11 --login --pin "$HSM_USER_PIN" --list-objects --type pubkey 2>/dev/null |
        awk -v l="$1" '$1 == "label:" { f = ($0 ~ ("label: *" l "$")) } f && $1 == "ID:" { print $2; exit }'
}

# sign_verify <label> <mechanism> <public key PEM>
sign_verify() {
    local label=$1 mech=$2 pub=$3 in=data.txt md=sha256 extra=()
    case $mech in
    RSA-PKCS-PSS | ECDSA) in=data.sha256 ;;
    esac
    case $mech in
    SHA1-* | ECDSA-SHA1) md=sha1 ;;
    SHA384-* | ECDSA-SHA384) md=sha384 ;;
    SHA512-* | ECDSA-SHA512) md=sha512 ;;
    esac
    [ "$mech" = RSA-PKCS-PSS ] && extra=(--hash-algorithm SHA256 --mgf MGF1-SHA256)
    case $mech in ECDSA*) extra+=(--signature-format openssl) ;; esac
    p11 --login --pin "$HSM_USER_PIN" --sign --mechanism "$mech" "${extra[@]}" \
        --type privkey --id "$(key_id_hsm "$label")" --input-file "$in" --output-file sig.bin >/dev/null
    case $mech in
    RSA-PKCS-PSS)
        run openssl pkeyutl -verify -pubin -inkey "$pub" -in data.sha256 -sigfile sig.bin \
            -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:-1 ;;
    *PSS)
        run openssl dgst -"$md" -verify "$pub" -signature sig.bin \
            -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 data.txt ;;
    ECDSA)
        run openssl pkeyutl -verify -pubin -inkey "$pub" -in data.sha256 -sigfile sig.bin ;;
    EDDSA)
        run openssl pkeyutl -verify -pubin -inkey "$pub" -rawin -in data.txt -sigfile sig.bin ;;
    *)
        run openssl dgst -"$md" -verify "$pub" -signature sig.bin data.txt ;;
    esac || fail "$mech signature of $label does not verify"
}

for spec in $keys; do
    type=${spec%:*}
    label=hsm-${type//:/-}
    id=$(key_id_hsm "$label")
    [ -n "$id" ] || fail "no key $label"
    [ "$(grep -c "label: *$label\$" objects.txt)" -ge 3 ] ||
        fail "$label: expected private key, public key and certificate"
    p11 --read-object --type cert --id "$id" --output-file "$label.der" >/dev/null
    openssl x509 -inform DER -in "$label.der" -noout -subject | grep "CN *= *$label" >/dev/null ||
        fail "$label: wrong certificate subject"
    openssl x509 -inform DER -in "$label.der" -noout -pubkey >"$label.pub.pem"
    case ${spec##*:} in
    rsa) mechs="SHA1-RSA-PKCS SHA256-RSA-PKCS SHA384-RSA-PKCS SHA512-RSA-PKCS RSA-PKCS-PSS SHA256-RSA-PKCS-PSS SHA512-RSA-PKCS-PSS" ;;
    ec) mechs="ECDSA ECDSA-SHA1 ECDSA-SHA256 ECDSA-SHA384 ECDSA-SHA512" ;;
    ed) mechs=EDDSA ;;
    esac
    for m in $mechs; do
        sign_verify "$label" "$m" "$label.pub.pem"
    done
done

# RSA decryption inside the HSM.
printf 'secret message' >plain.txt
run openssl pkeyutl -encrypt -pubin -inkey hsm-rsa-2048.pub.pem -in plain.txt -out ct.bin
p11 --login --pin "$HSM_USER_PIN" --decrypt --mechanism RSA-PKCS --type privkey \
    --id "$(key_id_hsm hsm-rsa-2048)" --input-file ct.bin --output-file pt.bin >/dev/null
cmp plain.txt pt.bin || fail "RSA-PKCS decryption gave the wrong plaintext"

# SoftHSM2 read directly: the keys are there, sensitive, never extractable,
# with the same CKA_ID.
ids=()
for spec in $keys; do
    type=${spec%:*}
    ids+=("$(key_id_hsm "hsm-${type//:/-}")")
done
check_backing_keys --generated 3 "${ids[@]}"

# Deleting through p11portal deletes the backing key.
id=$(key_id_hsm hsm-EC-prime256v1)
p11 --login --pin "$HSM_USER_PIN" --delete-object --type privkey --id "$id"
if backing_keys | grep "^$id " >/dev/null; then
    fail "the backing key $id survived its deletion"
fi
echo "PASS"

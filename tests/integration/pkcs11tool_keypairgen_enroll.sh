#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# pkcs11-tool key pair generation for every key type (Debian 12's OpenSC
# 0.23 syntax: rsa:N, EC:<curve>, EC:edwards25519). Each keypairgen enrolls
# with the local CA: the certificate appears next to the key, with the
# chain and an order object. Every signature mechanism pkcs11-tool offers
# for the key type signs, and openssl verifies with the certificate's
# public key. Then the objects are deleted.
#
# Over the hsm backend (P11P_TEST_BACKEND=hsm) the same, with
# hsm_write_certs = true; then pkcs11-tool pointed directly at the backing
# SoftHSM2 shows every key, with the CKA_ID p11portal shows, sensitive and
# never extractable, next to the same certificate; a key deleted through
# p11portal is gone from SoftHSM2. SoftHSM2 2.6 has no CKM_ECDSA_SHA*:
# p11portal hashes and signs with CKM_ECDSA there (docs/hsm.md), which the
# ECDSA-SHA* signatures below go through unchanged.
. "$(dirname "$0")/lib.sh"
need pkcs11-tool openssl

if is_hsm; then
    token_config p11portal "hsm_write_certs = true"
fi
init_token
cd "$TEST_DIR"
printf 'data to be signed by the token\n' >data.txt
openssl dgst -sha256 -binary data.txt >data.sha256

# sign_verify <label> <mechanism> <kind>
sign_verify() {
    local label=$1 mech=$2 kind=$3 in=data.txt
    local pub=certs/pub-$label.pem sig=$TEST_DIR/sig.bin
    local md
    case $mech in
    RSA-PKCS)
        # Raw PKCS#1 v1.5: the caller supplies the DigestInfo.
        printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20' >di.bin
        cat data.sha256 >>di.bin
        in=di.bin
        ;;
    RSA-PKCS-PSS | ECDSA) in=data.sha256 ;;
    esac
    local extra=()
    case $mech in
    SHA1-* | ECDSA-SHA1) md=sha1 ;;
    SHA224-* | ECDSA-SHA224) md=sha224 ;;
    SHA384-* | ECDSA-SHA384) md=sha384 ;;
    SHA512-* | ECDSA-SHA512) md=sha512 ;;
    *) md=sha256 ;;
    esac
    # pkcs11-tool 0.23 takes the PSS hash and MGF only for the raw
    # RSA-PKCS-PSS; the hashed forms use their own hash, MGF1 with it and a
    # salt of the digest's length.
    if [ "$mech" = RSA-PKCS-PSS ]; then
        extra=(--hash-algorithm SHA256 --mgf MGF1-SHA256)
    fi
    if [ "$kind" = ec ]; then
        extra+=(--signature-format openssl)
    fi
    p11 --login --pin "$USER_PIN" --sign --mechanism "$mech" "${extra[@]}" \
        --type privkey --id "$(key_id "$label")" --input-file "$in" --output-file "$sig" >/dev/null
    case $mech in
    RSA-PKCS)
        run openssl pkeyutl -verify -pubin -inkey "$pub" -in di.bin -sigfile "$sig" \
            -pkeyopt rsa_padding_mode:pkcs1 ;;
    RSA-PKCS-PSS)
        run openssl pkeyutl -verify -pubin -inkey "$pub" -in data.sha256 -sigfile "$sig" \
            -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:-1 ;;
    *PSS)
        run openssl dgst -"$md" -verify "$pub" -signature "$sig" \
            -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 data.txt ;;
    ECDSA)
        run openssl pkeyutl -verify -pubin -inkey "$pub" -in data.sha256 -sigfile "$sig" ;;
    EDDSA)
        run openssl pkeyutl -verify -pubin -inkey "$pub" -rawin -in data.txt -sigfile "$sig" ;;
    *)
        run openssl dgst -"$md" -verify "$pub" -signature "$sig" data.txt ;;
    esac || fail "$mech signature of $label does not verify"
}

rsa_mechs="RSA-PKCS SHA1-RSA-PKCS SHA224-RSA-PKCS SHA256-RSA-PKCS SHA384-RSA-PKCS SHA512-RSA-PKCS RSA-PKCS-PSS SHA1-RSA-PKCS-PSS SHA224-RSA-PKCS-PSS SHA256-RSA-PKCS-PSS SHA384-RSA-PKCS-PSS SHA512-RSA-PKCS-PSS"
ec_mechs="ECDSA ECDSA-SHA1 ECDSA-SHA224 ECDSA-SHA256 ECDSA-SHA384 ECDSA-SHA512"

keys="rsa:2048:rsa rsa:3072:rsa EC:prime256v1:ec EC:secp384r1:ec EC:secp521r1:ec EC:edwards25519:ed"
for spec in $keys; do
    type=${spec%:*}
    kind=${spec##*:}
    label=it-${type//:/-}
    extra=()
    if [ "$kind" = rsa ]; then
        extra=(--usage-decrypt)
    fi
    keygen "$type" "$label" "${extra[@]}" || fail "keypairgen $type"
done

p11 --login --pin "$USER_PIN" --list-objects | tee objects.txt
for spec in $keys; do
    type=${spec%:*}
    label=it-${type//:/-}
    [ "$(grep -c "label: *$label\$" objects.txt)" -ge 3 ] ||
        fail "$label: expected private key, public key and certificate"
done
grep -q 'p11portal order' objects.txt || fail "no order objects listed"

if is_hsm; then
    ids=()
    for spec in $keys; do
        type=${spec%:*}
        ids+=("$(key_id "it-${type//:/-}")")
    done
    check_backing_keys --generated 6 "${ids[@]}"
fi

export_certs certs
for spec in $keys; do
    type=${spec%:*}
    kind=${spec##*:}
    label=it-${type//:/-}
    [ -f "certs/leaf-$label.pem" ] || fail "no certificate for $label"
    verify_leaf certs "$label" || fail "$label: chain does not verify"
    openssl x509 -in "certs/leaf-$label.pem" -noout -pubkey >"certs/pub-$label.pem"
    subject=$(openssl x509 -in "certs/leaf-$label.pem" -noout -subject)
    case $subject in
    *"CN = $label"* | *"CN=$label"*) ;;
    *) fail "$label: subject is '$subject', expected CN=$label" ;;
    esac
    if is_hsm; then
        # hsm_write_certs: the same certificate is in SoftHSM2, next to
        # the key (same CKA_ID).
        softhsm --read-object --type cert --id "$(key_id "$label")" \
            --output-file "certs/backing-$label.der" >/dev/null ||
            fail "$label: no certificate in SoftHSM2"
        openssl x509 -in "certs/leaf-$label.pem" -outform DER -out "certs/leaf-$label.der"
        cmp "certs/leaf-$label.der" "certs/backing-$label.der" ||
            fail "$label: the certificate in SoftHSM2 is not the issued one"
    fi
    case $kind in
    rsa) mechs=$rsa_mechs ;;
    ec) mechs=$ec_mechs ;;
    ed) mechs=EDDSA ;;
    esac
    for m in $mechs; do
        sign_verify "$label" "$m" "$kind"
    done
done

# RSA decryption (pkcs11-tool --decrypt) of data encrypted by openssl.
label=it-rsa-2048
printf 'secret message' >plain.txt
run openssl pkeyutl -encrypt -pubin -inkey "certs/pub-$label.pem" -in plain.txt -out ct.bin
p11 --login --pin "$USER_PIN" --decrypt --mechanism RSA-PKCS --type privkey \
    --id "$(key_id "$label")" --input-file ct.bin --output-file pt.bin >/dev/null
cmp plain.txt pt.bin || fail "RSA-PKCS decryption gave the wrong plaintext"

# Delete: certificate, keys; the label is gone from the listing.
label=it-EC-prime256v1
id=$(key_id "$label")
[ -n "$id" ] || fail "no key id for $label"
p11 --login --pin "$USER_PIN" --delete-object --type cert --id "$id"
p11 --login --pin "$USER_PIN" --delete-object --type privkey --id "$id"
p11 --login --pin "$USER_PIN" --delete-object --type pubkey --id "$id"
p11 --login --pin "$USER_PIN" --list-objects >objects.txt
if grep -q "label: *$label\$" objects.txt && grep -B1 "label: *$label\$" objects.txt | grep 'Key Object\|Certificate Object' >/dev/null; then
    fail "$label objects still listed after delete"
fi
if is_hsm; then
    if backing_keys | grep "^$id " >/dev/null; then
        fail "the backing key $id survived its deletion through p11portal"
    fi
    check_backing_keys --generated 5
fi
echo "PASS"

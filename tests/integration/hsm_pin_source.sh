#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The factory-station mode of the hsm backend (docs/hsm.md "PINs"): the
# backing token's PIN comes from a file (hsm_pin_source = file:PATH, mode
# 0600) and the station's operators use p11portal's own SO and user PINs,
# checked by p11portal. Keygen and signing work with the station PIN; a
# wrong station PIN is refused; the backing PIN never appears in any
# output; a world-readable PIN file is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hsm_lib.sh"

cd "$TEST_DIR"
umask 077
printf '%s\n' "$HSM_USER_PIN" >backing.pin
hsm_config "hsm_pin_source = file:$TEST_DIR/backing.pin" "pin_max_retries = 5"

p11 --init-token --label station --so-pin "$SO_PIN" >/dev/null
p11 --init-pin --login --login-type so --so-pin "$SO_PIN" --pin "$USER_PIN" >/dev/null
if p11 --login --pin "$HSM_USER_PIN" --list-objects >wrong.txt 2>&1; then
    fail "the backing PIN was accepted as the station PIN"
fi
p11 --login --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 \
    --label station-key --usage-sign >keygen.txt 2>&1 || { cat keygen.txt; fail "keypairgen"; }
p11 --login --pin "$USER_PIN" --list-objects >objects.txt
grep -q 'Certificate Object' objects.txt || fail "no certificate issued"
id=$(awk '$1 == "ID:" { print $2; exit }' objects.txt)
printf 'data\n' >data.txt
p11 --login --pin "$USER_PIN" --sign --mechanism ECDSA-SHA256 --signature-format openssl \
    --type privkey --id "$id" --input-file data.txt --output-file sig.bin >/dev/null
p11 --read-object --type cert --id "$id" --output-file cert.der >/dev/null
openssl x509 -inform DER -in cert.der -noout -pubkey >pub.pem
run openssl dgst -sha256 -verify pub.pem -signature sig.bin data.txt
check_backing_keys --generated 1 "$id"

# The backing PIN is in no output of ours.
if grep -rq "$HSM_USER_PIN" ./*.txt; then
    fail "the backing PIN leaked into an output"
fi

# A PIN file readable by others is refused.
chmod 644 backing.pin
if p11 --login --pin "$USER_PIN" --list-objects >loose.txt 2>&1; then
    fail "a world-readable PIN file was used"
fi
grep -q 'readable by its owner only' loose.txt || fail "no hint about the PIN file mode"
echo "PASS"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The openssl CLI checks what the local CA issued through the module: the
# leaf verifies against the chain objects on the token, its public key is
# the token key's, its extensions are those of a TLS leaf, and it does not
# verify against a foreign root. Over the hsm backend
# (P11P_TEST_BACKEND=hsm) the keys are in the backing SoftHSM2, and the
# public keys p11portal shows are SoftHSM2's.
. "$(dirname "$0")/lib.sh"
need pkcs11-tool openssl p11tool

init_token
keygen EC:prime256v1 chain-ec
keygen rsa:2048 chain-rsa
cd "$TEST_DIR"
if is_hsm; then
    check_backing_keys --generated 2 "$(key_id chain-ec)" "$(key_id chain-rsa)"
fi
export_certs certs

for l in chain-ec chain-rsa; do
    verify_leaf certs "$l" || fail "$l does not verify"
    # The leaf's key is the token's key. (Exported with p11tool: OpenSC 0.23's
    # `pkcs11-tool --read-object --type pubkey` of an EC key reads freed
    # memory inside pkcs11-tool, which the ASan run reports.)
    GNUTLS_PIN=$USER_PIN p11tool_ --login --export-pubkey "pkcs11:token=p11portal;object=$l;type=public" --outfile "$l.pub.pem"
    openssl x509 -in "certs/leaf-$l.pem" -noout -pubkey >"$l.cert-pub.pem"
    cmp "$l.pub.pem" "$l.cert-pub.pem" || fail "$l: certificate key is not the token key"
    if is_hsm; then
        # ... and the HSM's key: its public key read from SoftHSM2 directly.
        softhsm --read-object --type pubkey --id "$(key_id "$l")" --output-file "$l.backing.der" >/dev/null
        openssl pkey -pubin -inform DER -in "$l.backing.der" -out "$l.backing.pem"
        cmp "$l.backing.pem" "$l.cert-pub.pem" || fail "$l: certificate key is not the HSM key"
    fi
    run openssl x509 -in "certs/leaf-$l.pem" -noout -ext basicConstraints,keyUsage,extendedKeyUsage | tee ext.txt
    grep -q 'CA:FALSE' ext.txt || fail "$l: leaf is a CA"
    grep -q 'Digital Signature' ext.txt || fail "$l: no digitalSignature"
    run openssl verify -purpose sslserver -CAfile certs/root.pem -untrusted certs/inter.pem "certs/leaf-$l.pem"
done

# The root is a CA and self-signed; the intermediate chains to it.
run openssl verify -CAfile certs/root.pem certs/root.pem
if [ -s certs/inter.pem ]; then
    run openssl verify -CAfile certs/root.pem certs/inter.pem
fi

# A foreign root does not verify the leaf.
run openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout foreign.key -out foreign.pem -subj /CN=foreign-root -days 1 2>/dev/null
if openssl verify -CAfile foreign.pem -untrusted certs/inter.pem certs/leaf-chain-ec.pem >/dev/null 2>&1; then
    fail "the leaf verified against a foreign root"
fi
echo "PASS"

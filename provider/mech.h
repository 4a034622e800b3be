/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Digest -> PKCS#11 hash mechanism and MGF1 generator table, shared by
 * RSA-PSS signing and RSA-OAEP decryption.
 */
#ifndef P11P_PROVIDER_MECH_H
#define P11P_PROVIDER_MECH_H

#include <stdbool.h>

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

/* Maps an OpenSSL digest to CKM_SHA* and CKG_MGF1_SHA*; false if the
 * digest has no PKCS#11 counterpart here. */
bool p11p_prov_mech_hash(const EVP_MD *md, CK_MECHANISM_TYPE *hash,
                         CK_RSA_PKCS_MGF_TYPE *mgf);

#endif

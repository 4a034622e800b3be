/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signature dispatch tables: RSA (PKCS#1 v1.5 and PSS), ECDSA and EdDSA
 * (Ed25519).
 */
#ifndef P11P_PROVIDER_SIG_H
#define P11P_PROVIDER_SIG_H

#include <openssl/core.h>

extern const OSSL_DISPATCH p11p_prov_rsa_signature_functions[];
extern const OSSL_DISPATCH p11p_prov_ecdsa_signature_functions[];
extern const OSSL_DISPATCH p11p_prov_ed25519_signature_functions[];

#endif

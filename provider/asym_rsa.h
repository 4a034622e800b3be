/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RSA asymmetric cipher: decryption on the token (PKCS#1 v1.5, OAEP);
 * encryption with the public part in the default provider.
 */
#ifndef P11P_PROVIDER_ASYM_RSA_H
#define P11P_PROVIDER_ASYM_RSA_H

#include <openssl/core.h>

extern const OSSL_DISPATCH p11p_prov_rsa_asym_cipher_functions[];

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key management dispatch tables for RSA, EC and Ed25519 (provider.c puts
 * them in its algorithm table).
 */
#ifndef P11P_PROVIDER_KMGMT_H
#define P11P_PROVIDER_KMGMT_H

#include <openssl/core.h>

extern const OSSL_DISPATCH p11p_prov_rsa_keymgmt_functions[];
extern const OSSL_DISPATCH p11p_prov_ec_keymgmt_functions[];
extern const OSSL_DISPATCH p11p_prov_ed25519_keymgmt_functions[];

#endif

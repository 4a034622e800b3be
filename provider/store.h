/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OSSL_STORE loader for pkcs11: URIs: private keys, public keys and
 * certificates (a key's certificate and chain are listed with
 * type=cert or without a type). Also the key lookup the decoder uses for
 * PEM key-reference files.
 */
#ifndef P11P_PROVIDER_STORE_H
#define P11P_PROVIDER_STORE_H

#include <openssl/core.h>

struct p11p_prov_ctx;
struct p11p_prov_key;

extern const OSSL_DISPATCH p11p_prov_store_functions[];

/* Finds the key named by uri (a private key if there is one, else a public
 * key), logging in with the URI's PIN attributes, the provider's
 * pin-source or pw_cb. Returns a new reference or NULL (raised). */
struct p11p_prov_key *p11p_prov_store_find_key(struct p11p_prov_ctx *ctx,
                                               const char *uri,
                                               OSSL_PASSPHRASE_CALLBACK *pw_cb,
                                               void *pw_cbarg);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small per-provider cache of fetched digests (EVP_MD of the default
 * provider in the provider's child library context), so that the signing
 * path does not fetch the digest again for every signature. Entries live
 * until the provider is torn down.
 */
#ifndef P11P_PROVIDER_MDCACHE_H
#define P11P_PROVIDER_MDCACHE_H

#include <openssl/evp.h>

struct p11p_prov_ctx;
struct p11p_prov_mdcache;

/* A new, empty cache; NULL on allocation failure. */
struct p11p_prov_mdcache *p11p_prov_mdcache_new(void);

/* Frees the cache and its digests; NULL-safe. */
void p11p_prov_mdcache_free(struct p11p_prov_mdcache *c);

/* Returns a new reference (free with EVP_MD_free) to the digest called
 * name, fetched with "provider=default" from ctx's library context on
 * first use and then from the cache; NULL if no such digest. Thread-safe;
 * the lock is never held across the fetch. */
EVP_MD *p11p_prov_mdcache_get(struct p11p_prov_ctx *ctx, const char *name);

#endif

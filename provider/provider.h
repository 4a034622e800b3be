/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The provider context shared by every operation: core handle and
 * callbacks, the child library context the provider uses for its own
 * software crypto (always with "provider=default"), the provider parameters
 * and the lazily loaded PKCS#11 module.
 */
#ifndef P11P_PROVIDER_PROVIDER_H
#define P11P_PROVIDER_PROVIDER_H

#include <pthread.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>

/* The property query for the software side: public-key operations,
 * digests and in-memory keys always run in the default provider. */
#define P11P_PROV_SOFT_PROPQ "provider=default"

struct p11p_prov_module;
struct p11p_prov_mdcache;
struct p11p_prov_key;

struct p11p_prov_ctx {
    const OSSL_CORE_HANDLE *handle; /* the core's handle for this instance */
    OSSL_LIB_CTX *libctx;           /* child of the application's context */
    /* error callbacks captured at init (provider-base(7)) */
    OSSL_FUNC_core_new_error_fn *core_new_error;
    OSSL_FUNC_core_set_error_debug_fn *core_set_error_debug;
    OSSL_FUNC_core_vset_error_fn *core_vset_error;
    char *module_path; /* "module" parameter, P11PORTAL_MODULE or default */
    char *token_uri;   /* "token" parameter: default token for genpkey */
    char *pin_source;  /* "pin-source" parameter: a file (not the PIN) */
    struct p11p_prov_module *module;   /* loaded on first use */
    struct p11p_prov_mdcache *mdcache; /* digests for the signing path */
    /* The key a URI decoder of another key type looked up last, for the
     * decoder of its own type that OpenSSL tries next (decoder.c): one
     * token lookup per key-reference file instead of one per key type.
     * Guarded by decode_lock; the URI and key are owned. */
    pthread_mutex_t decode_lock;
    pthread_t decode_thread;
    char *decode_uri;
    struct p11p_prov_key *decode_key;
};

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OSSL_provider_init and the algorithm tables of the p11portal provider.
 *
 * Every algorithm carries "provider=p11portal". The provider registers no
 * digests, ciphers, MACs, KDFs or key exchanges: a PKCS#11 module that uses
 * OpenSSL must never call back into us (DESIGN.md, pitfall 1). Key
 * generation goes to a token only when a token, label, id or URI parameter
 * asks for it (pitfall 2, keygen.h). Teardown never calls C_Finalize
 * (pitfall 3, module.h).
 */
#include "provider/provider.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "core/base/fork.h"
#include "core/base/log.h"
#include "provider/asym_rsa.h"
#include "provider/encoder.h"
#include "provider/err.h"
#include "provider/key.h"
#include "provider/kmgmt.h"
#include "provider/mdcache.h"
#include "provider/module.h"
#include "provider/names.h"
#include "provider/sig.h"
#include "provider/store.h"

#ifndef P11P_PROV_DEFAULT_MODULE
#define P11P_PROV_DEFAULT_MODULE "/usr/lib/pkcs11/libp11portal.so"
#endif

/* Provider parameters read from openssl.cnf. "module" itself is taken by
 * OpenSSL (the path of this provider), hence "pkcs11-module". */
#define PARAM_MODULE     "pkcs11-module"
#define PARAM_TOKEN      "token"
#define PARAM_PIN_SOURCE "pin-source"

static OSSL_FUNC_provider_teardown_fn prov_teardown;
static OSSL_FUNC_provider_gettable_params_fn prov_gettable_params;
static OSSL_FUNC_provider_get_params_fn prov_get_params;
static OSSL_FUNC_provider_query_operation_fn prov_query_operation;
static OSSL_FUNC_provider_get_reason_strings_fn prov_get_reason_strings;
static OSSL_FUNC_provider_get_capabilities_fn prov_get_capabilities;

/* clang-format off */
static const OSSL_ALGORITHM keymgmt[] = {
    { P11P_PROV_NAMES_RSA, P11P_PROV_PROPS, p11p_prov_rsa_keymgmt_functions, P11P_PROV_DESC_RSA },
    { P11P_PROV_NAMES_EC, P11P_PROV_PROPS, p11p_prov_ec_keymgmt_functions, P11P_PROV_DESC_EC },
    { P11P_PROV_NAMES_ED25519, P11P_PROV_PROPS, p11p_prov_ed25519_keymgmt_functions, P11P_PROV_DESC_ED25519 },
    { NULL, NULL, NULL, NULL },
};

static const OSSL_ALGORITHM signature[] = {
    { P11P_PROV_NAMES_RSA, P11P_PROV_PROPS, p11p_prov_rsa_signature_functions, P11P_PROV_DESC_RSA },
    { P11P_PROV_NAMES_ECDSA, P11P_PROV_PROPS, p11p_prov_ecdsa_signature_functions, P11P_PROV_DESC_EC },
    { P11P_PROV_NAMES_ED25519, P11P_PROV_PROPS, p11p_prov_ed25519_signature_functions, P11P_PROV_DESC_ED25519 },
    { NULL, NULL, NULL, NULL },
};

static const OSSL_ALGORITHM asym_cipher[] = {
    { P11P_PROV_NAMES_RSA, P11P_PROV_PROPS, p11p_prov_rsa_asym_cipher_functions, P11P_PROV_DESC_RSA },
    { NULL, NULL, NULL, NULL },
};

static const OSSL_ALGORITHM store[] = {
    { "pkcs11", P11P_PROV_PROPS, p11p_prov_store_functions, "p11portal pkcs11: URI store" },
    { NULL, NULL, NULL, NULL },
};

#define URI_ENC_PROPS P11P_PROV_PROPS ",output=pem,structure=" P11P_PROV_URI_STRUCTURE
/* Also under PrivateKeyInfo: PEM_write_bio_PrivateKey (genpkey, pkey)
 * asks for that structure; the default provider's PrivateKeyInfo encoder
 * cannot take a token key (no private export), so ours writes the
 * reference. */
#define URI_PKI_PROPS P11P_PROV_PROPS ",output=pem,structure=PrivateKeyInfo"
#define SPKI_DER_PROPS P11P_PROV_PROPS ",output=der,structure=SubjectPublicKeyInfo"
#define SPKI_PEM_PROPS P11P_PROV_PROPS ",output=pem,structure=SubjectPublicKeyInfo"

static const OSSL_ALGORITHM encoder[] = {
    { P11P_PROV_NAMES_RSA, URI_ENC_PROPS, p11p_prov_rsa_uri_encoder_functions, "PEM key reference" },
    { P11P_PROV_NAMES_EC, URI_ENC_PROPS, p11p_prov_ec_uri_encoder_functions, "PEM key reference" },
    { P11P_PROV_NAMES_ED25519, URI_ENC_PROPS, p11p_prov_ed25519_uri_encoder_functions, "PEM key reference" },
    { P11P_PROV_NAMES_RSA, URI_PKI_PROPS, p11p_prov_rsa_uri_encoder_functions, "PEM key reference" },
    { P11P_PROV_NAMES_EC, URI_PKI_PROPS, p11p_prov_ec_uri_encoder_functions, "PEM key reference" },
    { P11P_PROV_NAMES_ED25519, URI_PKI_PROPS, p11p_prov_ed25519_uri_encoder_functions, "PEM key reference" },
    { P11P_PROV_NAMES_RSA, SPKI_DER_PROPS, p11p_prov_spki_der_encoder_functions, NULL },
    { P11P_PROV_NAMES_EC, SPKI_DER_PROPS, p11p_prov_spki_der_encoder_functions, NULL },
    { P11P_PROV_NAMES_ED25519, SPKI_DER_PROPS, p11p_prov_spki_der_encoder_functions, NULL },
    { P11P_PROV_NAMES_RSA, SPKI_PEM_PROPS, p11p_prov_spki_pem_encoder_functions, NULL },
    { P11P_PROV_NAMES_EC, SPKI_PEM_PROPS, p11p_prov_spki_pem_encoder_functions, NULL },
    { P11P_PROV_NAMES_ED25519, SPKI_PEM_PROPS, p11p_prov_spki_pem_encoder_functions, NULL },
    { NULL, NULL, NULL, NULL },
};

#define URI_DEC_PROPS P11P_PROV_PROPS ",input=der,structure=" P11P_PROV_URI_STRUCTURE

static const OSSL_ALGORITHM decoder[] = {
    { "DER", P11P_PROV_PROPS ",input=pem", p11p_prov_pem_decoder_functions, "PEM key reference to DER" },
    { P11P_PROV_NAMES_RSA, URI_DEC_PROPS, p11p_prov_rsa_uri_decoder_functions, NULL },
    { P11P_PROV_NAMES_EC, URI_DEC_PROPS, p11p_prov_ec_uri_decoder_functions, NULL },
    { P11P_PROV_NAMES_ED25519, URI_DEC_PROPS, p11p_prov_ed25519_uri_decoder_functions, NULL },
    { NULL, NULL, NULL, NULL },
};
/* clang-format on */

static const OSSL_ALGORITHM *
prov_query_operation(void *provctx, int operation_id, int *no_cache)
{
    (void)provctx;
    *no_cache = 0;
    switch (operation_id) {
    case OSSL_OP_KEYMGMT:
        return keymgmt;
    case OSSL_OP_SIGNATURE:
        return signature;
    case OSSL_OP_ASYM_CIPHER:
        return asym_cipher;
    case OSSL_OP_STORE:
        return store;
    case OSSL_OP_ENCODER:
        return encoder;
    case OSSL_OP_DECODER:
        return decoder;
    default:
        return NULL;
    }
}

static const OSSL_PARAM gettable[] = {
    OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, NULL, 0),
    OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, NULL, 0),
    OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, NULL, 0),
    OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, NULL),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *prov_gettable_params(void *provctx)
{
    (void)provctx;
    return gettable;
}

static int prov_get_params(void *provctx, OSSL_PARAM params[])
{
    OSSL_PARAM *p;

    (void)provctx;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, P11P_PROV_NAME)) {
        return 0;
    }
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, P11P_PROV_VERSION)) {
        return 0;
    }
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, P11P_PROV_VERSION)) {
        return 0;
    }
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
    if (p != NULL && !OSSL_PARAM_set_int(p, 1)) {
        return 0;
    }
    return 1;
}

/*
 * TLS groups for EC keys. libssl keeps a group only if EVP_KEYMGMT_fetch of
 * its algorithm returns a keymgmt of the provider that advertised it
 * (ssl_load_groups). When p11portal is loaded before default, "EC" fetches
 * our keymgmt, so without these entries the NIST curves vanish from TLS
 * (no ECDHE on them, no ECDSA certificates in TLS 1.2). Key shares made
 * through our keymgmt stay in memory (keygen.h) and derive with the
 * default provider's ECDH.
 */
struct tls_group {
    const char *name;     /* IANA name */
    const char *internal; /* OpenSSL curve name */
    unsigned int id;      /* TLS NamedGroup */
    unsigned int secbits;
};

static const struct tls_group tls_groups[] = {
    { "secp256r1", "prime256v1", 23, 128 },
    { "secp384r1", "secp384r1", 24, 192 },
    { "secp521r1", "secp521r1", 25, 256 },
    /* NIST aliases, as the default provider lists them */
    { "P-256", "prime256v1", 23, 128 },
    { "P-384", "secp384r1", 24, 192 },
    { "P-521", "secp521r1", 25, 256 },
};

static int prov_get_capabilities(void *provctx, const char *capability,
                                 OSSL_CALLBACK *cb, void *arg)
{
    size_t i;
    int min_tls = 0x0301;  /* TLS 1.0 */
    int max_tls = 0;       /* no maximum */
    int min_dtls = 0xFEFF; /* DTLS 1.0 */
    int max_dtls = 0;

    (void)provctx;
    if (strcmp(capability, "TLS-GROUP") != 0) {
        return 0;
    }
    for (i = 0; i < sizeof(tls_groups) / sizeof(tls_groups[0]); i++) {
        unsigned int id = tls_groups[i].id;
        unsigned int secbits = tls_groups[i].secbits;
        OSSL_PARAM p[10];

        p[0] = OSSL_PARAM_construct_utf8_string(OSSL_CAPABILITY_TLS_GROUP_NAME,
                                                (char *)tls_groups[i].name, 0);
        p[1] = OSSL_PARAM_construct_utf8_string(
            OSSL_CAPABILITY_TLS_GROUP_NAME_INTERNAL,
            (char *)tls_groups[i].internal, 0);
        p[2] = OSSL_PARAM_construct_utf8_string(OSSL_CAPABILITY_TLS_GROUP_ALG,
                                                (char *)"EC", 0);
        p[3] = OSSL_PARAM_construct_uint(OSSL_CAPABILITY_TLS_GROUP_ID, &id);
        p[4] = OSSL_PARAM_construct_uint(
            OSSL_CAPABILITY_TLS_GROUP_SECURITY_BITS, &secbits);
        p[5] = OSSL_PARAM_construct_int(OSSL_CAPABILITY_TLS_GROUP_MIN_TLS,
                                        &min_tls);
        p[6] = OSSL_PARAM_construct_int(OSSL_CAPABILITY_TLS_GROUP_MAX_TLS,
                                        &max_tls);
        p[7] = OSSL_PARAM_construct_int(OSSL_CAPABILITY_TLS_GROUP_MIN_DTLS,
                                        &min_dtls);
        p[8] = OSSL_PARAM_construct_int(OSSL_CAPABILITY_TLS_GROUP_MAX_DTLS,
                                        &max_dtls);
        p[9] = OSSL_PARAM_construct_end();
        if (!cb(p, arg)) {
            return 0;
        }
    }
    return 1;
}

static const OSSL_ITEM *prov_get_reason_strings(void *provctx)
{
    (void)provctx;
    return p11p_prov_err_reasons();
}

static void ctx_free(struct p11p_prov_ctx *ctx)
{
    if (ctx == NULL) {
        return;
    }
    OPENSSL_free(ctx->decode_uri);
    p11p_prov_key_unref(ctx->decode_key);
    pthread_mutex_destroy(&ctx->decode_lock);
    p11p_prov_module_free(ctx->module);
    /* Before the library context the digests were fetched from. */
    p11p_prov_mdcache_free(ctx->mdcache);
    OSSL_LIB_CTX_free(ctx->libctx);
    free(ctx->module_path);
    free(ctx->token_uri);
    free(ctx->pin_source);
    free(ctx);
}

static void prov_teardown(void *provctx)
{
    /* No C_Finalize here: this runs inside OpenSSL's exit path. */
    ctx_free(provctx);
}

static const OSSL_DISPATCH prov_functions[] = {
    { OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))prov_teardown },
    { OSSL_FUNC_PROVIDER_GETTABLE_PARAMS,
      (void (*)(void))prov_gettable_params },
    { OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))prov_get_params },
    { OSSL_FUNC_PROVIDER_QUERY_OPERATION,
      (void (*)(void))prov_query_operation },
    { OSSL_FUNC_PROVIDER_GET_REASON_STRINGS,
      (void (*)(void))prov_get_reason_strings },
    { OSSL_FUNC_PROVIDER_GET_CAPABILITIES,
      (void (*)(void))prov_get_capabilities },
    { 0, NULL },
};

static char *dup_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

/* Declared by <openssl/core.h>; the only exported symbol (the map). */
__attribute__((visibility("default"))) int
OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                   const OSSL_DISPATCH **out, void **provctx)
{
    struct p11p_prov_ctx *ctx = NULL;
    OSSL_FUNC_core_get_params_fn *get_params = NULL;
    const OSSL_DISPATCH *d;
    char *module = NULL, *token = NULL, *pin_source = NULL;
    OSSL_PARAM params[4];
    const char *env;
    int ok = 0;

    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        goto out;
    }
    ctx->handle = handle;
    pthread_mutex_init(&ctx->decode_lock, NULL);
    for (d = in; d->function_id != 0; d++) {
        switch (d->function_id) {
        case OSSL_FUNC_CORE_GET_PARAMS:
            get_params = OSSL_FUNC_core_get_params(d);
            break;
        case OSSL_FUNC_CORE_NEW_ERROR:
            ctx->core_new_error = OSSL_FUNC_core_new_error(d);
            break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            ctx->core_set_error_debug = OSSL_FUNC_core_set_error_debug(d);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR:
            ctx->core_vset_error = OSSL_FUNC_core_vset_error(d);
            break;
        default:
            break;
        }
    }
    if (ctx->core_new_error == NULL || ctx->core_set_error_debug == NULL
        || ctx->core_vset_error == NULL) {
        ctx->core_new_error = NULL; /* P11PV_RAISE then only logs */
    }
    /* The PIN is never a provider parameter: only a file naming it. */
    params[0] = OSSL_PARAM_construct_utf8_ptr(PARAM_MODULE, &module, 0);
    params[1] = OSSL_PARAM_construct_utf8_ptr(PARAM_TOKEN, &token, 0);
    params[2] = OSSL_PARAM_construct_utf8_ptr(PARAM_PIN_SOURCE, &pin_source, 0);
    params[3] = OSSL_PARAM_construct_end();
    if (get_params != NULL && !get_params(handle, params)) {
        goto out;
    }
    env = secure_getenv("P11PORTAL_MODULE");
    if (module != NULL && module[0] != '\0') {
        ctx->module_path = strdup(module);
    } else if (env != NULL && env[0] != '\0') {
        ctx->module_path = strdup(env);
    } else {
        ctx->module_path = strdup(P11P_PROV_DEFAULT_MODULE);
    }
    ctx->token_uri = dup_or_null(token);
    ctx->pin_source = dup_or_null(pin_source);
    ctx->libctx = OSSL_LIB_CTX_new_child(handle, in);
    ctx->module = p11p_prov_module_new();
    ctx->mdcache = p11p_prov_mdcache_new();
    if (ctx->module_path == NULL || ctx->libctx == NULL || ctx->module == NULL
        || ctx->mdcache == NULL) {
        goto out;
    }
    p11p_fork_install();
    P11P_DEBUG("provider",
               "initialised; PKCS#11 module %s (loaded on first use)",
               ctx->module_path);
    *out = prov_functions;
    *provctx = ctx;
    ctx = NULL;
    ok = 1;
out:
    ctx_free(ctx);
    return ok;
}

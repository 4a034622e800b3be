/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key management for RSA, EC (P-256/384/521) and Ed25519 keys (see
 * kmgmt.h). Every question about the public part (bits, security bits, max
 * size, group, encoded public key, default digest) is answered by the
 * default provider's copy of the public key. The private part of a token
 * key is never exported: refusing makes OpenSSL pick our signature and
 * cipher implementations instead of the default provider's.
 */
#include "provider/kmgmt.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "provider/err.h"
#include "provider/key.h"
#include "provider/keygen.h"
#include "provider/provider.h"

static OSSL_FUNC_keymgmt_free_fn km_free;
static OSSL_FUNC_keymgmt_load_fn km_load;
static OSSL_FUNC_keymgmt_has_fn km_has;
static OSSL_FUNC_keymgmt_match_fn km_match;
static OSSL_FUNC_keymgmt_import_fn km_import;
static OSSL_FUNC_keymgmt_export_fn km_export;
static OSSL_FUNC_keymgmt_get_params_fn km_get_params;
static OSSL_FUNC_keymgmt_gettable_params_fn km_gettable_params;
static OSSL_FUNC_keymgmt_set_params_fn km_set_params;
static OSSL_FUNC_keymgmt_settable_params_fn km_settable_params;
static OSSL_FUNC_keymgmt_dup_fn km_dup;
static OSSL_FUNC_keymgmt_validate_fn km_validate;
static OSSL_FUNC_keymgmt_gen_set_params_fn km_gen_set_params;
static OSSL_FUNC_keymgmt_gen_fn km_gen;
static OSSL_FUNC_keymgmt_gen_cleanup_fn km_gen_cleanup;
static OSSL_FUNC_keymgmt_gen_set_template_fn km_gen_set_template;

static void *new_key(void *provctx, int type)
{
    return p11p_prov_key_new(provctx, type);
}

static void km_free(void *keydata)
{
    p11p_prov_key_unref(keydata);
}

static void *km_load(const void *reference, size_t reference_sz)
{
    struct p11p_prov_key *key;

    if (reference == NULL || reference_sz != sizeof(key)) {
        return NULL;
    }
    memcpy(&key, reference, sizeof(key));
    return p11p_prov_key_ref(key);
}

static int km_has(const void *keydata, int selection)
{
    const struct p11p_prov_key *key = keydata;

    if (key == NULL) {
        return 0;
    }
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY)
        && !p11p_prov_key_has_private(key)) {
        return 0;
    }
    if ((selection
         & (OSSL_KEYMGMT_SELECT_PUBLIC_KEY
            | OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS))
        && key->pub == NULL) {
        return 0;
    }
    return 1;
}

static int km_match(const void *keydata1, const void *keydata2, int selection)
{
    const struct p11p_prov_key *a = keydata1;
    const struct p11p_prov_key *b = keydata2;

    if (a->pub == NULL || b->pub == NULL) {
        return 0;
    }
    if (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) {
        /* The private halves cannot be compared; the public ones can. */
        return EVP_PKEY_eq(a->pub, b->pub) == 1;
    }
    if (selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) {
        return EVP_PKEY_parameters_eq(a->pub, b->pub) == 1;
    }
    return 1;
}

static int km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
    struct p11p_prov_key *key = keydata;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *pkey = NULL;
    int ok = 0;
    int sel = EVP_PKEY_PUBLIC_KEY;

    if (key == NULL || key->pub != NULL || key->on_token) {
        goto out;
    }
    if (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) {
        sel = EVP_PKEY_KEYPAIR;
    } else if (!(selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY)) {
        sel = EVP_PKEY_KEY_PARAMETERS;
    }
    pctx = EVP_PKEY_CTX_new_from_name(key->ctx->libctx,
                                      p11p_prov_key_type_name(key->type),
                                      P11P_PROV_SOFT_PROPQ);
    if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) <= 0
        || EVP_PKEY_fromdata(pctx, &pkey, sel, (OSSL_PARAM *)params) <= 0) {
        goto out;
    }
    /* A key that is not on a token stays with the default provider. */
    if (sel == EVP_PKEY_KEYPAIR) {
        key->soft = pkey;
        EVP_PKEY_up_ref(pkey);
    }
    key->pub = pkey;
    pkey = NULL;
    ok = 1;
out:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(pctx);
    return ok;
}

static int km_export(void *keydata, int selection, OSSL_CALLBACK *cb,
                     void *cbarg)
{
    struct p11p_prov_key *key = keydata;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *src;
    int sel;
    int ok = 0;

    if (key == NULL || key->pub == NULL) {
        goto out;
    }
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && key->on_token
        && key->cls == CKO_PRIVATE_KEY) {
        /* Never: see the file comment. */
        goto out;
    }
    src = key->soft != NULL ? key->soft : key->pub;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && key->soft != NULL) {
        sel = EVP_PKEY_KEYPAIR;
    } else if (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) {
        sel = EVP_PKEY_PUBLIC_KEY;
    } else {
        sel = EVP_PKEY_KEY_PARAMETERS;
    }
    if (EVP_PKEY_todata(src, sel, &params) <= 0) {
        goto out;
    }
    ok = cb(params, cbarg);
out:
    OSSL_PARAM_free(params);
    return ok;
}

static const OSSL_PARAM rsa_key_types[] = {
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM ec_key_types[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM ed_key_types[] = {
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *rsa_types(int selection)
{
    (void)selection;
    return rsa_key_types;
}

static const OSSL_PARAM *ec_types(int selection)
{
    (void)selection;
    return ec_key_types;
}

static const OSSL_PARAM *ed_types(int selection)
{
    (void)selection;
    return ed_key_types;
}

static int km_get_params(void *keydata, OSSL_PARAM params[])
{
    struct p11p_prov_key *key = keydata;

    if (key == NULL || key->pub == NULL) {
        return 0;
    }
    return EVP_PKEY_get_params(key->soft != NULL ? key->soft : key->pub,
                               params);
}

static int km_set_params(void *keydata, const OSSL_PARAM params[])
{
    struct p11p_prov_key *key = keydata;

    if (key == NULL || key->pub == NULL) {
        return 0;
    }
    if (key->on_token) {
        /* Token keys are immutable here; ignore like read-only params. */
        return 1;
    }
    /* libssl builds peer key shares this way: copy the group from our key,
     * then set the encoded public key. */
    return EVP_PKEY_set_params(key->soft != NULL ? key->soft : key->pub,
                               (OSSL_PARAM *)params);
}

static const OSSL_PARAM settable[] = {
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *km_settable_params(void *provctx)
{
    (void)provctx;
    return settable;
}

static const OSSL_PARAM gettable[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *km_gettable_params(void *provctx)
{
    (void)provctx;
    return gettable;
}

static void *km_dup(const void *keydata, int selection)
{
    (void)selection;
    /* Key objects are immutable: sharing is a copy. */
    return p11p_prov_key_ref((struct p11p_prov_key *)keydata);
}

static int km_validate(const void *keydata, int selection, int checktype)
{
    (void)checktype;
    return km_has(keydata, selection);
}

static const char *rsa_query(int operation_id)
{
    (void)operation_id;
    return "RSA";
}

static const char *ec_query(int operation_id)
{
    switch (operation_id) {
    case OSSL_OP_SIGNATURE:
        return "ECDSA";
    case OSSL_OP_KEYEXCH:
        return "ECDH";
    default:
        return "EC";
    }
}

static const char *ed_query(int operation_id)
{
    (void)operation_id;
    return "ED25519";
}

static void *gen_init(void *provctx, int selection, const OSSL_PARAM params[],
                      int type)
{
    struct p11p_prov_gen *gen;

    (void)selection;
    gen = OPENSSL_zalloc(sizeof(*gen));
    if (gen == NULL) {
        return NULL;
    }
    gen->ctx = provctx;
    gen->type = type;
    gen->bits = 2048;
    gen->e = 65537;
    gen->no_enroll = -1;
    if (!p11p_prov_gen_set_params(gen, params)) {
        p11p_prov_gen_clear(gen);
        OPENSSL_free(gen);
        return NULL;
    }
    return gen;
}

static int km_gen_set_params(void *genctx, const OSSL_PARAM params[])
{
    return p11p_prov_gen_set_params(genctx, params);
}

static void *km_gen(void *genctx, OSSL_CALLBACK *cb, void *cbarg)
{
    struct p11p_prov_gen *gen = genctx;

    (void)cb;
    (void)cbarg;
    if (p11p_prov_gen_wants_token(gen)) {
        return p11p_prov_gen_token(gen);
    }
    /* Nothing asked for a token: TLS key shares and plain genpkey stay in
     * memory with the default provider (DESIGN.md, pitfall 2). */
    return p11p_prov_gen_soft(gen);
}

/* EVP_PKEY_CTX_new_from_pkey + keygen (libssl's ssl_generate_pkey): the
 * new key takes the group of the template. */
static int km_gen_set_template(void *genctx, void *templ)
{
    struct p11p_prov_gen *gen = genctx;
    struct p11p_prov_key *key = templ;
    char group[64];
    size_t len = 0;

    if (key == NULL || key->pub == NULL) {
        return 0;
    }
    if (gen->type != EVP_PKEY_EC) {
        return 1;
    }
    if (!EVP_PKEY_get_group_name(key->pub, group, sizeof(group), &len)) {
        return 0;
    }
    free(gen->group);
    gen->group = strdup(group);
    return gen->group != NULL;
}

static void km_gen_cleanup(void *genctx)
{
    p11p_prov_gen_clear(genctx);
    OPENSSL_free(genctx);
}

/* Per-type entry points. */
static OSSL_FUNC_keymgmt_new_fn rsa_new;
static OSSL_FUNC_keymgmt_new_fn ec_new;
static OSSL_FUNC_keymgmt_new_fn ed_new;
static OSSL_FUNC_keymgmt_gen_init_fn rsa_gen_init;
static OSSL_FUNC_keymgmt_gen_init_fn ec_gen_init;
static OSSL_FUNC_keymgmt_gen_init_fn ed_gen_init;
static OSSL_FUNC_keymgmt_gen_settable_params_fn rsa_gen_settable;
static OSSL_FUNC_keymgmt_gen_settable_params_fn ec_gen_settable;
static OSSL_FUNC_keymgmt_gen_settable_params_fn ed_gen_settable;

static void *rsa_new(void *provctx)
{
    return new_key(provctx, EVP_PKEY_RSA);
}

static void *ec_new(void *provctx)
{
    return new_key(provctx, EVP_PKEY_EC);
}

static void *ed_new(void *provctx)
{
    return new_key(provctx, EVP_PKEY_ED25519);
}

static void *rsa_gen_init(void *provctx, int selection,
                          const OSSL_PARAM params[])
{
    return gen_init(provctx, selection, params, EVP_PKEY_RSA);
}

static void *ec_gen_init(void *provctx, int selection,
                         const OSSL_PARAM params[])
{
    return gen_init(provctx, selection, params, EVP_PKEY_EC);
}

static void *ed_gen_init(void *provctx, int selection,
                         const OSSL_PARAM params[])
{
    return gen_init(provctx, selection, params, EVP_PKEY_ED25519);
}

static const OSSL_PARAM *rsa_gen_settable(void *genctx, void *provctx)
{
    (void)genctx;
    (void)provctx;
    return p11p_prov_gen_settable(EVP_PKEY_RSA);
}

static const OSSL_PARAM *ec_gen_settable(void *genctx, void *provctx)
{
    (void)genctx;
    (void)provctx;
    return p11p_prov_gen_settable(EVP_PKEY_EC);
}

static const OSSL_PARAM *ed_gen_settable(void *genctx, void *provctx)
{
    (void)genctx;
    (void)provctx;
    return p11p_prov_gen_settable(EVP_PKEY_ED25519);
}

#define COMMON_KEYMGMT_FUNCTIONS                                         \
    { OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free },                 \
        { OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))km_load },             \
        { OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has },               \
        { OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match },           \
        { OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import },         \
        { OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export },         \
        { OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params }, \
        { OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,                             \
          (void (*)(void))km_gettable_params },                          \
        { OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))km_dup },               \
        { OSSL_FUNC_KEYMGMT_SET_PARAMS, (void (*)(void))km_set_params }, \
        { OSSL_FUNC_KEYMGMT_SETTABLE_PARAMS,                             \
          (void (*)(void))km_settable_params },                          \
        { OSSL_FUNC_KEYMGMT_VALIDATE, (void (*)(void))km_validate },     \
        { OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS,                              \
          (void (*)(void))km_gen_set_params },                           \
        { OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))km_gen },               \
        { OSSL_FUNC_KEYMGMT_GEN_SET_TEMPLATE,                            \
          (void (*)(void))km_gen_set_template },                         \
    {                                                                    \
        OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))km_gen_cleanup    \
    }

const OSSL_DISPATCH p11p_prov_rsa_keymgmt_functions[] = {
    { OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))rsa_new },
    { OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))rsa_gen_init },
    { OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, (void (*)(void))rsa_gen_settable },
    { OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))rsa_types },
    { OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))rsa_types },
    { OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))rsa_query },
    COMMON_KEYMGMT_FUNCTIONS,
    { 0, NULL },
};

const OSSL_DISPATCH p11p_prov_ec_keymgmt_functions[] = {
    { OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))ec_new },
    { OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))ec_gen_init },
    { OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, (void (*)(void))ec_gen_settable },
    { OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))ec_types },
    { OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))ec_types },
    { OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))ec_query },
    COMMON_KEYMGMT_FUNCTIONS,
    { 0, NULL },
};

const OSSL_DISPATCH p11p_prov_ed25519_keymgmt_functions[] = {
    { OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))ed_new },
    { OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))ed_gen_init },
    { OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, (void (*)(void))ed_gen_settable },
    { OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))ed_types },
    { OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))ed_types },
    { OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))ed_query },
    COMMON_KEYMGMT_FUNCTIONS,
    { 0, NULL },
};

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pkcs11: store loader (see store.h). The first load() searches every
 * matching token and keeps the results; each load() hands out one object:
 * keys by reference (the key object, which our keymgmt's load() takes a
 * reference on), certificates as DER.
 */
#include "provider/store.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/store.h>

#include "provider/err.h"
#include "provider/key.h"
#include "provider/module.h"
#include "provider/provider.h"
#include "provider/uri.h"

#define MAX_OBJECTS 1024

struct result {
    struct p11p_prov_key *key; /* a reference, or NULL for a certificate */
    unsigned char *der;        /* certificate DER, owned */
    size_t der_len;
    int rank; /* order of output: private keys, public keys, certificates */
};

struct store_ctx {
    struct p11p_prov_ctx *prov; /* borrowed */
    struct p11p_prov_uri *uri;
    int expect; /* OSSL_STORE_INFO_* or 0 */
    bool searched;
    bool failed;
    struct result *results;
    size_t count;
    size_t next;
};

static OSSL_FUNC_store_open_fn st_open;
static OSSL_FUNC_store_settable_ctx_params_fn st_settable_ctx_params;
static OSSL_FUNC_store_set_ctx_params_fn st_set_ctx_params;
static OSSL_FUNC_store_load_fn st_load;
static OSSL_FUNC_store_eof_fn st_eof;
static OSSL_FUNC_store_close_fn st_close;
static OSSL_FUNC_store_export_object_fn st_export_object;

static void *st_open(void *provctx, const char *uri)
{
    struct store_ctx *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx == NULL) {
        return NULL;
    }
    ctx->prov = provctx;
    ctx->uri = p11p_prov_uri_parse(provctx, uri);
    if (ctx->uri == NULL) {
        OPENSSL_free(ctx);
        return NULL;
    }
    return ctx;
}

static const OSSL_PARAM settable[] = {
    OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *st_settable_ctx_params(void *provctx)
{
    (void)provctx;
    return settable;
}

static int st_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct store_ctx *ctx = vctx;
    const OSSL_PARAM *p;

    p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);
    if (p != NULL && !OSSL_PARAM_get_int(p, &ctx->expect)) {
        return 0;
    }
    /* Other criteria (subject, fingerprint) are not supported: the core
     * filters the results itself. */
    return 1;
}

static bool class_wanted(const struct store_ctx *ctx, CK_OBJECT_CLASS cls)
{
    switch (ctx->expect) {
    case OSSL_STORE_INFO_PKEY:
        return cls == CKO_PRIVATE_KEY;
    case OSSL_STORE_INFO_PUBKEY:
        return cls == CKO_PUBLIC_KEY;
    case OSSL_STORE_INFO_CERT:
        return cls == CKO_CERTIFICATE;
    case 0:
        return cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY
               || cls == CKO_CERTIFICATE;
    default:
        return false;
    }
}

static bool needs_login(const struct store_ctx *ctx)
{
    if (ctx->uri->has_class) {
        return ctx->uri->cls == CKO_PRIVATE_KEY
               && class_wanted(ctx, CKO_PRIVATE_KEY);
    }
    return ctx->expect == 0 || ctx->expect == OSSL_STORE_INFO_PKEY;
}

static int cmp_rank(const void *a, const void *b)
{
    return ((const struct result *)a)->rank - ((const struct result *)b)->rank;
}

static CK_RV search_slot(struct store_ctx *ctx, CK_FUNCTION_LIST *fl,
                         CK_SLOT_ID slot)
{
    CK_RV rv;
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    CK_ATTRIBUTE tmpl[3];
    CK_ULONG nt = (CK_ULONG)p11p_prov_uri_template(ctx->uri, tmpl);
    CK_OBJECT_HANDLE handles[MAX_OBJECTS];
    CK_ULONG n = 0;
    CK_ULONG i;

    rv = p11p_prov_session_get(ctx->prov, slot, &session);
    if (rv != CKR_OK) {
        goto out;
    }
    rv = fl->C_FindObjectsInit(session, tmpl, nt);
    if (rv != CKR_OK) {
        P11PV_RAISE(ctx->prov, P11P_PROV_R_PKCS11, "%s: C_FindObjectsInit: %s",
                    ctx->uri->display, p11p_prov_err_ckr_name(rv));
        goto out;
    }
    rv = fl->C_FindObjects(session, handles, MAX_OBJECTS, &n);
    fl->C_FindObjectsFinal(session);
    if (rv != CKR_OK) {
        P11PV_RAISE(ctx->prov, P11P_PROV_R_PKCS11, "%s: C_FindObjects: %s",
                    ctx->uri->display, p11p_prov_err_ckr_name(rv));
        goto out;
    }
    for (i = 0; i < n; i++) {
        CK_OBJECT_CLASS cls = 0;
        CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof(cls) };
        struct result r = { 0 };
        struct result *grown;

        if (fl->C_GetAttributeValue(session, handles[i], &a, 1) != CKR_OK
            || !class_wanted(ctx, cls)) {
            continue;
        }
        if (cls == CKO_CERTIFICATE) {
            if (p11p_prov_key_get_attr(fl, session, handles[i], CKA_VALUE,
                                       &r.der, &r.der_len)
                    != CKR_OK
                || r.der == NULL) {
                free(r.der);
                continue;
            }
            r.rank = 2;
        } else {
            /* A key of a type we do not serve is skipped quietly. */
            ERR_set_mark();
            if (p11p_prov_key_from_token(ctx->prov, slot, session, handles[i],
                                         &r.key)
                != CKR_OK) {
                ERR_pop_to_mark();
                continue;
            }
            ERR_clear_last_mark();
            r.rank = cls == CKO_PRIVATE_KEY ? 0 : 1;
        }
        grown = realloc(ctx->results, (ctx->count + 1) * sizeof(*grown));
        if (grown == NULL) {
            p11p_prov_key_unref(r.key);
            free(r.der);
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        ctx->results = grown;
        ctx->results[ctx->count++] = r;
    }
    rv = CKR_OK;
out:
    p11p_prov_session_put(ctx->prov, slot, session, false);
    return rv;
}

static bool search(struct store_ctx *ctx, OSSL_PASSPHRASE_CALLBACK *pw_cb,
                   void *pw_cbarg)
{
    CK_FUNCTION_LIST *fl = NULL;
    CK_SLOT_ID ids[64];
    size_t n, i;
    struct p11p_prov_pin_req req = { 0 };
    bool ok = false;

    if (p11p_prov_module_get(ctx->prov, &fl) != CKR_OK) {
        goto out;
    }
    req.pin_value =
        ctx->uri->pin != NULL ? (const char *)ctx->uri->pin->data : NULL;
    req.pin_source = ctx->uri->pin_source;
    req.pw_cb = pw_cb;
    req.pw_cbarg = pw_cbarg;
    n = p11p_prov_module_slots(ctx->prov, ids, 64);
    for (i = 0; i < n; i++) {
        CK_TOKEN_INFO info;

        if (!p11p_prov_module_token_info(ctx->prov, ids[i], &info)
            || !(info.flags & CKF_TOKEN_INITIALIZED)
            || !p11p_prov_uri_match_token(ctx->uri, &info)) {
            continue;
        }
        if (needs_login(ctx)
            && p11p_prov_login(ctx->prov, ids[i], &req, ctx->uri->display)
                   != CKR_OK) {
            goto out;
        }
        if (search_slot(ctx, fl, ids[i]) != CKR_OK) {
            goto out;
        }
    }
    if (ctx->count > 1) {
        qsort(ctx->results, ctx->count, sizeof(*ctx->results), cmp_rank);
    }
    ok = true;
out:
    return ok;
}

static int st_load(void *vctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                   OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct store_ctx *ctx = vctx;
    struct result *r;
    OSSL_PARAM params[4];
    int object_type;

    if (!ctx->searched) {
        ctx->searched = true;
        if (!search(ctx, pw_cb, pw_cbarg)) {
            ctx->failed = true;
            return 0;
        }
    }
    if (ctx->next >= ctx->count) {
        return 0;
    }
    r = &ctx->results[ctx->next++];
    if (r->key != NULL) {
        object_type = OSSL_OBJECT_PKEY;
        params[0] =
            OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &object_type);
        params[1] = OSSL_PARAM_construct_utf8_string(
            OSSL_OBJECT_PARAM_DATA_TYPE,
            (char *)p11p_prov_key_type_name(r->key->type), 0);
        params[2] = OSSL_PARAM_construct_octet_string(
            OSSL_OBJECT_PARAM_REFERENCE, &r->key, sizeof(r->key));
        params[3] = OSSL_PARAM_construct_end();
    } else {
        object_type = OSSL_OBJECT_CERT;
        params[0] =
            OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &object_type);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA,
                                                      r->der, r->der_len);
        params[2] = OSSL_PARAM_construct_end();
    }
    return object_cb(params, object_cbarg);
}

static int st_eof(void *vctx)
{
    struct store_ctx *ctx = vctx;

    return ctx->failed || (ctx->searched && ctx->next >= ctx->count);
}

static int st_close(void *vctx)
{
    struct store_ctx *ctx = vctx;
    size_t i;

    if (ctx == NULL) {
        return 1;
    }
    for (i = 0; i < ctx->count; i++) {
        p11p_prov_key_unref(ctx->results[i].key);
        free(ctx->results[i].der);
    }
    free(ctx->results);
    p11p_prov_uri_free(ctx->uri);
    OPENSSL_free(ctx);
    return 1;
}

static int st_export_object(void *vctx, const void *reference,
                            size_t reference_sz, OSSL_CALLBACK *export_cb,
                            void *export_cbarg)
{
    struct p11p_prov_key *key;
    OSSL_PARAM *params = NULL;
    int ok;

    (void)vctx;
    if (reference == NULL || reference_sz != sizeof(key)) {
        return 0;
    }
    memcpy(&key, reference, sizeof(key));
    /* Only the public part ever leaves (kmgmt.c). */
    if (key->pub == NULL
        || EVP_PKEY_todata(key->pub, EVP_PKEY_PUBLIC_KEY, &params) <= 0) {
        return 0;
    }
    ok = export_cb(params, export_cbarg);
    OSSL_PARAM_free(params);
    return ok;
}

struct p11p_prov_key *p11p_prov_store_find_key(struct p11p_prov_ctx *prov,
                                               const char *uri,
                                               OSSL_PASSPHRASE_CALLBACK *pw_cb,
                                               void *pw_cbarg)
{
    struct store_ctx *ctx = st_open(prov, uri);
    struct p11p_prov_key *key = NULL;
    size_t i;

    if (ctx == NULL) {
        return NULL;
    }
    ctx->expect = OSSL_STORE_INFO_PKEY;
    if (ctx->uri->has_class && ctx->uri->cls == CKO_PUBLIC_KEY) {
        ctx->expect = OSSL_STORE_INFO_PUBKEY;
    }
    ctx->searched = true;
    if (search(ctx, pw_cb, pw_cbarg)) {
        for (i = 0; i < ctx->count && key == NULL; i++) {
            key = p11p_prov_key_ref(ctx->results[i].key);
        }
        if (key == NULL) {
            P11PV_RAISE(prov, P11P_PROV_R_NOT_FOUND, "%s: no such key",
                        ctx->uri->display);
        }
    }
    st_close(ctx);
    return key;
}

/* clang-format off */
const OSSL_DISPATCH p11p_prov_store_functions[] = {
    { OSSL_FUNC_STORE_OPEN, (void (*)(void))st_open },
    { OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))st_settable_ctx_params },
    { OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))st_set_ctx_params },
    { OSSL_FUNC_STORE_LOAD, (void (*)(void))st_load },
    { OSSL_FUNC_STORE_EOF, (void (*)(void))st_eof },
    { OSSL_FUNC_STORE_CLOSE, (void (*)(void))st_close },
    { OSSL_FUNC_STORE_EXPORT_OBJECT, (void (*)(void))st_export_object },
    { 0, NULL },
};
/* clang-format on */

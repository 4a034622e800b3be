/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RSA decryption with token keys (see asym_rsa.h). As in sig.c, a shadow
 * EVP_PKEY_CTX of the default provider keeps and checks the parameters
 * (padding, OAEP digest, MGF1 digest, label); decryption reads them back
 * and runs CKM_RSA_PKCS or CKM_RSA_PKCS_OAEP. dupctx copies the shadow;
 * nothing is in flight on the token between calls.
 */
#include "provider/asym_rsa.h"

#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include "provider/err.h"
#include "provider/key.h"
#include "provider/mech.h"
#include "provider/provider.h"

#define MAX_RSA_BYTES 1024

struct asym_ctx {
    struct p11p_prov_ctx *prov; /* borrowed */
    struct p11p_prov_key *key;  /* a reference */
    bool decrypting;
    EVP_PKEY_CTX *shadow; /* parameters; does the work for soft/encrypt */
};

static OSSL_FUNC_asym_cipher_newctx_fn ac_newctx;
static OSSL_FUNC_asym_cipher_freectx_fn ac_freectx;
static OSSL_FUNC_asym_cipher_dupctx_fn ac_dupctx;
static OSSL_FUNC_asym_cipher_encrypt_init_fn ac_encrypt_init;
static OSSL_FUNC_asym_cipher_encrypt_fn ac_encrypt;
static OSSL_FUNC_asym_cipher_decrypt_init_fn ac_decrypt_init;
static OSSL_FUNC_asym_cipher_decrypt_fn ac_decrypt;
static OSSL_FUNC_asym_cipher_get_ctx_params_fn ac_get_ctx_params;
static OSSL_FUNC_asym_cipher_gettable_ctx_params_fn ac_gettable_ctx_params;
static OSSL_FUNC_asym_cipher_set_ctx_params_fn ac_set_ctx_params;
static OSSL_FUNC_asym_cipher_settable_ctx_params_fn ac_settable_ctx_params;

static void *ac_newctx(void *provctx)
{
    struct asym_ctx *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx != NULL) {
        ctx->prov = provctx;
    }
    return ctx;
}

static void ac_freectx(void *vctx)
{
    struct asym_ctx *ctx = vctx;

    if (ctx == NULL) {
        return;
    }
    p11p_prov_key_unref(ctx->key);
    EVP_PKEY_CTX_free(ctx->shadow);
    OPENSSL_free(ctx);
}

static void *ac_dupctx(void *vctx)
{
    struct asym_ctx *src = vctx;
    struct asym_ctx *dst = ac_newctx(src->prov);

    if (dst == NULL) {
        return NULL;
    }
    dst->key = p11p_prov_key_ref(src->key);
    dst->decrypting = src->decrypting;
    if (src->shadow != NULL) {
        dst->shadow = EVP_PKEY_CTX_dup(src->shadow);
        if (dst->shadow == NULL) {
            ac_freectx(dst);
            return NULL;
        }
    }
    return dst;
}

static int init(struct asym_ctx *ctx, void *vkey, bool decrypting,
                const OSSL_PARAM params[])
{
    struct p11p_prov_key *key = vkey;
    EVP_PKEY *base;

    if (key == NULL) {
        key = ctx->key; /* re-initialisation with the previous key */
    }
    if (key == NULL || key->type != EVP_PKEY_RSA || key->pub == NULL) {
        P11PV_RAISE(ctx->prov, P11P_PROV_R_INVALID_ARG, "not an RSA key");
        return 0;
    }
    if (decrypting && !p11p_prov_key_has_private(key)) {
        P11PV_RAISE(ctx->prov, P11P_PROV_R_NO_PRIVATE_KEY,
                    "%s: not a private key", key->uri != NULL ? key->uri : "");
        return 0;
    }
    p11p_prov_key_ref(key);
    p11p_prov_key_unref(ctx->key);
    ctx->key = key;
    ctx->decrypting = decrypting;
    EVP_PKEY_CTX_free(ctx->shadow);
    base = decrypting && key->soft != NULL ? key->soft : key->pub;
    ctx->shadow = EVP_PKEY_CTX_new_from_pkey(ctx->prov->libctx, base,
                                             P11P_PROV_SOFT_PROPQ);
    if (ctx->shadow == NULL
        || (decrypting ? EVP_PKEY_decrypt_init(ctx->shadow)
                       : EVP_PKEY_encrypt_init(ctx->shadow))
               <= 0) {
        return 0;
    }
    if (params != NULL && EVP_PKEY_CTX_set_params(ctx->shadow, params) <= 0) {
        return 0;
    }
    return 1;
}

static int ac_encrypt_init(void *vctx, void *vkey, const OSSL_PARAM params[])
{
    return init(vctx, vkey, false, params);
}

static int ac_decrypt_init(void *vctx, void *vkey, const OSSL_PARAM params[])
{
    return init(vctx, vkey, true, params);
}

static int ac_encrypt(void *vctx, unsigned char *out, size_t *outlen,
                      size_t outsize, const unsigned char *in, size_t inlen)
{
    struct asym_ctx *ctx = vctx;

    *outlen = outsize;
    return ctx->shadow != NULL
           && EVP_PKEY_encrypt(ctx->shadow, out, outlen, in, inlen) > 0;
}

static int ac_decrypt(void *vctx, unsigned char *out, size_t *outlen,
                      size_t outsize, const unsigned char *in, size_t inlen)
{
    struct asym_ctx *ctx = vctx;
    struct p11p_prov_key *key = ctx->key;
    int pad = RSA_PKCS1_PADDING;
    const EVP_MD *md = NULL;
    const EVP_MD *mgf1 = NULL;
    unsigned char *label = NULL;
    int label_len;
    CK_MECHANISM mech = { CKM_RSA_PKCS, NULL, 0 };
    CK_RSA_PKCS_OAEP_PARAMS oaep;
    CK_RSA_PKCS_MGF_TYPE unused_mgf;
    CK_MECHANISM_TYPE unused_hash;
    unsigned char buf[MAX_RSA_BYTES];
    size_t len = sizeof(buf);
    int ok = 0;

    if (key == NULL || ctx->shadow == NULL) {
        goto out;
    }
    if (out == NULL) {
        *outlen = (size_t)EVP_PKEY_get_size(key->pub);
        ok = 1;
        goto out;
    }
    if (key->soft != NULL) {
        *outlen = outsize;
        ok = EVP_PKEY_decrypt(ctx->shadow, out, outlen, in, inlen) > 0;
        goto out;
    }
    EVP_PKEY_CTX_get_rsa_padding(ctx->shadow, &pad);
    if (pad == RSA_PKCS1_OAEP_PADDING) {
        EVP_PKEY_CTX_get_rsa_oaep_md(ctx->shadow, &md);
        EVP_PKEY_CTX_get_rsa_mgf1_md(ctx->shadow, &mgf1);
        label_len = EVP_PKEY_CTX_get0_rsa_oaep_label(ctx->shadow, &label);
        if (md == NULL) {
            md = EVP_sha1();
        }
        if (!p11p_prov_mech_hash(md, &oaep.hashAlg, &unused_mgf)
            || !p11p_prov_mech_hash(mgf1 != NULL ? mgf1 : md, &unused_hash,
                                    &oaep.mgf)) {
            P11PV_RAISE(ctx->prov, P11P_PROV_R_UNSUPPORTED,
                        "%s: OAEP digest %s has no PKCS#11 mechanism", key->uri,
                        EVP_MD_get0_name(md));
            goto out;
        }
        oaep.source = CKZ_DATA_SPECIFIED;
        oaep.pSourceData = label_len > 0 ? label : NULL;
        oaep.ulSourceDataLen = label_len > 0 ? (CK_ULONG)label_len : 0;
        mech.mechanism = CKM_RSA_PKCS_OAEP;
        mech.pParameter = &oaep;
        mech.ulParameterLen = sizeof(oaep);
    } else if (pad != RSA_PKCS1_PADDING) {
        P11PV_RAISE(ctx->prov, P11P_PROV_R_UNSUPPORTED,
                    "%s: RSA padding mode %d not supported for token keys",
                    key->uri, pad);
        goto out;
    }
    if (p11p_prov_key_op(key, false, &mech, in, inlen, buf, &len) != CKR_OK) {
        goto out;
    }
    if (len > outsize) {
        P11PV_RAISE(ctx->prov, P11P_PROV_R_INVALID_ARG,
                    "%s: output buffer too small", key->uri);
        goto out;
    }
    memcpy(out, buf, len);
    *outlen = len;
    ok = 1;
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    return ok;
}

static int ac_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    struct asym_ctx *ctx = vctx;

    return ctx->shadow != NULL
           && EVP_PKEY_CTX_get_params(ctx->shadow, params) > 0;
}

static int ac_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct asym_ctx *ctx = vctx;

    if (params == NULL) {
        return 1;
    }
    return ctx->shadow != NULL
           && EVP_PKEY_CTX_set_params(ctx->shadow, params) > 0;
}

static const OSSL_PARAM static_params[] = {
    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *ac_gettable_ctx_params(void *vctx, void *provctx)
{
    struct asym_ctx *ctx = vctx;

    (void)provctx;
    if (ctx != NULL && ctx->shadow != NULL) {
        return EVP_PKEY_CTX_gettable_params(ctx->shadow);
    }
    return static_params;
}

static const OSSL_PARAM *ac_settable_ctx_params(void *vctx, void *provctx)
{
    struct asym_ctx *ctx = vctx;

    (void)provctx;
    if (ctx != NULL && ctx->shadow != NULL) {
        return EVP_PKEY_CTX_settable_params(ctx->shadow);
    }
    return static_params;
}

/* clang-format off */
const OSSL_DISPATCH p11p_prov_rsa_asym_cipher_functions[] = {
    { OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))ac_newctx },
    { OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))ac_freectx },
    { OSSL_FUNC_ASYM_CIPHER_DUPCTX, (void (*)(void))ac_dupctx },
    { OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT, (void (*)(void))ac_encrypt_init },
    { OSSL_FUNC_ASYM_CIPHER_ENCRYPT, (void (*)(void))ac_encrypt },
    { OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))ac_decrypt_init },
    { OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))ac_decrypt },
    { OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, (void (*)(void))ac_get_ctx_params },
    { OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))ac_gettable_ctx_params },
    { OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, (void (*)(void))ac_set_ctx_params },
    { OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))ac_settable_ctx_params },
    { 0, NULL },
};
/* clang-format on */

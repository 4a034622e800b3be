/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signatures with token keys (see sig.h).
 *
 * Parameters (digest, padding, PSS salt length, MGF1 digest) are kept and
 * checked by a "shadow" EVP_PKEY_CTX of the default provider over the
 * key's public part, initialised for the same operation: it accepts exactly
 * what the default provider accepts and produces the AlgorithmIdentifier
 * that req, x509, cms and TLS need. Signing reads the resolved parameters
 * back from it and runs one PKCS#11 operation on the digest (CKM_RSA_PKCS
 * over a DigestInfo, CKM_RSA_PKCS_PSS, CKM_ECDSA) or, for Ed25519, on the
 * message (CKM_EDDSA). Digests are computed here with the default
 * provider's digests (we register none). Verification and keys that are not
 * on a token stay with the default provider.
 *
 * The signing path of a token key is kept short (issue 4, "bench"): the
 * shadow is made only when a parameter is set or read (PSS, an
 * AlgorithmIdentifier); plain "digest and sign" uses the defaults
 * (PKCS#1 v1.5, the init digest) with no shadow at all. Digests come from
 * the provider's cache (mdcache.h), the running digest context is made on
 * the first update, the one-shot digest_sign avoids the context copy that
 * EVP_DigestSignFinal makes otherwise, and the DigestInfo and the ECDSA
 * DER are written without allocations (sigenc.h). The session comes from
 * the slot's pool and the object handle from the key (key.h): no
 * C_FindObjects or attribute read on the way.
 *
 * dupctx copies the running digest and the shadow; the token operation is
 * single-part, so nothing is in flight on the token and duplicating is
 * always safe.
 */
#include "provider/sig.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "provider/err.h"
#include "provider/key.h"
#include "provider/mdcache.h"
#include "provider/mech.h"
#include "provider/provider.h"
#include "provider/sigenc.h"

#define MAX_SIG_LEN 1024 /* RSA-8192 */

/* AlgorithmIdentifier of Ed25519 (RFC 8410): SEQUENCE { OID 1.3.101.112 } */
static const unsigned char ed25519_aid[] = { 0x30, 0x05, 0x06, 0x03,
                                             0x2b, 0x65, 0x70 };

struct sig_ctx {
    struct p11p_prov_ctx *prov; /* borrowed */
    int type;                   /* the key type this table serves */
    struct p11p_prov_key *key;  /* a reference */
    bool signing;
    EVP_PKEY_CTX *shadow; /* parameters; does the work for soft/verify;
                             NULL until needed for a token key */
    EVP_MD *md;           /* digest of the operation (a reference) or NULL */
    EVP_MD_CTX *mdctx;    /* running digest of digest-sign/verify */
    bool md_started;      /* mdctx initialised with md for this operation */
};

static OSSL_FUNC_signature_freectx_fn sig_freectx;
static OSSL_FUNC_signature_dupctx_fn sig_dupctx;
static OSSL_FUNC_signature_sign_init_fn sig_sign_init;
static OSSL_FUNC_signature_verify_init_fn sig_verify_init;
static OSSL_FUNC_signature_sign_fn sig_sign;
static OSSL_FUNC_signature_verify_fn sig_verify;
static OSSL_FUNC_signature_digest_sign_init_fn sig_digest_sign_init;
static OSSL_FUNC_signature_digest_verify_init_fn sig_digest_verify_init;
static OSSL_FUNC_signature_digest_sign_update_fn sig_digest_update;
static OSSL_FUNC_signature_digest_sign_final_fn sig_digest_sign_final;
static OSSL_FUNC_signature_digest_sign_fn sig_digest_sign;
static OSSL_FUNC_signature_digest_verify_final_fn sig_digest_verify_final;
static OSSL_FUNC_signature_get_ctx_params_fn sig_get_ctx_params;
static OSSL_FUNC_signature_gettable_ctx_params_fn sig_gettable_ctx_params;
static OSSL_FUNC_signature_set_ctx_params_fn sig_set_ctx_params;
static OSSL_FUNC_signature_settable_ctx_params_fn sig_settable_ctx_params;
static OSSL_FUNC_signature_digest_sign_fn ed_digest_sign;
static OSSL_FUNC_signature_digest_verify_fn ed_digest_verify;
static OSSL_FUNC_signature_get_ctx_params_fn ed_get_ctx_params;
static OSSL_FUNC_signature_gettable_ctx_params_fn ed_gettable_ctx_params;

static void *new_ctx(void *provctx, int type)
{
    struct sig_ctx *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx != NULL) {
        ctx->prov = provctx;
        ctx->type = type;
    }
    return ctx;
}

static void sig_freectx(void *vctx)
{
    struct sig_ctx *ctx = vctx;

    if (ctx == NULL) {
        return;
    }
    p11p_prov_key_unref(ctx->key);
    EVP_PKEY_CTX_free(ctx->shadow);
    EVP_MD_free(ctx->md);
    EVP_MD_CTX_free(ctx->mdctx);
    OPENSSL_free(ctx);
}

static void *sig_dupctx(void *vctx)
{
    struct sig_ctx *src = vctx;
    struct sig_ctx *dst = NULL;
    struct sig_ctx *ret = NULL;

    dst = new_ctx(src->prov, src->type);
    if (dst == NULL) {
        goto out;
    }
    dst->key = p11p_prov_key_ref(src->key);
    dst->signing = src->signing;
    if (src->shadow != NULL) {
        dst->shadow = EVP_PKEY_CTX_dup(src->shadow);
        if (dst->shadow == NULL) {
            goto out;
        }
    }
    if (src->md != NULL) {
        if (!EVP_MD_up_ref(src->md)) {
            goto out;
        }
        dst->md = src->md;
    }
    if (src->mdctx != NULL && src->md_started) {
        dst->mdctx = EVP_MD_CTX_new();
        if (dst->mdctx == NULL || !EVP_MD_CTX_copy_ex(dst->mdctx, src->mdctx)) {
            goto out;
        }
        dst->md_started = true;
    }
    ret = dst;
    dst = NULL;
out:
    sig_freectx(dst);
    return ret;
}

/* Makes the shadow if there is none yet: a default-provider context over
 * the public part (or the soft key) initialised for the operation, with
 * the operation's digest. */
static int ensure_shadow(struct sig_ctx *ctx)
{
    EVP_PKEY *base;
    OSSL_PARAM p[2];
    int ok = 0;

    if (ctx->shadow != NULL) {
        return 1;
    }
    if (ctx->key == NULL || ctx->type == EVP_PKEY_ED25519) {
        return 0;
    }
    base =
        ctx->signing && ctx->key->soft != NULL ? ctx->key->soft : ctx->key->pub;
    ctx->shadow = EVP_PKEY_CTX_new_from_pkey(ctx->prov->libctx, base,
                                             P11P_PROV_SOFT_PROPQ);
    if (ctx->shadow == NULL) {
        goto out;
    }
    if ((ctx->signing ? EVP_PKEY_sign_init(ctx->shadow)
                      : EVP_PKEY_verify_init(ctx->shadow))
        <= 0) {
        goto out;
    }
    if (ctx->md != NULL) {
        p[0] = OSSL_PARAM_construct_utf8_string(
            OSSL_SIGNATURE_PARAM_DIGEST, (char *)EVP_MD_get0_name(ctx->md), 0);
        p[1] = OSSL_PARAM_construct_end();
        if (EVP_PKEY_CTX_set_params(ctx->shadow, p) <= 0) {
            goto out;
        }
    }
    ok = 1;
out:
    if (!ok) {
        EVP_PKEY_CTX_free(ctx->shadow);
        ctx->shadow = NULL;
    }
    return ok;
}

/* After a parameter change: the shadow's digest is the operation's. */
static void refresh_md(struct sig_ctx *ctx, const OSSL_PARAM params[])
{
    const EVP_MD *md = NULL;

    if (params == NULL
        || OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST) == NULL
        || ctx->md_started
        || EVP_PKEY_CTX_get_signature_md(ctx->shadow, &md) <= 0 || md == NULL
        || md == ctx->md || !EVP_MD_up_ref((EVP_MD *)md)) {
        return;
    }
    EVP_MD_free(ctx->md);
    ctx->md = (EVP_MD *)md;
}

/* Common init: takes the key; builds the shadow for RSA/ECDSA now when it
 * is needed (verification, a soft key, parameters), else on first use. */
static int init(struct sig_ctx *ctx, void *vkey, bool signing,
                const OSSL_PARAM params[])
{
    struct p11p_prov_key *key = vkey;
    int ok = 0;

    if (key == NULL) {
        /* Re-initialisation (EVP_DigestSignInit with a NULL key): keep the
         * key of the previous init. */
        key = ctx->key;
    }
    if (key == NULL || key->type != ctx->type || key->pub == NULL) {
        P11PV_RAISE(
            ctx->prov, P11P_PROV_R_INVALID_ARG,
            "%s key for a %s signature, or a key without its public part",
            key != NULL ? p11p_prov_key_type_name(key->type) : "no",
            p11p_prov_key_type_name(ctx->type));
        goto out;
    }
    if (signing && !p11p_prov_key_has_private(key)) {
        P11PV_RAISE(ctx->prov, P11P_PROV_R_NO_PRIVATE_KEY,
                    "%s: not a private key", key->uri != NULL ? key->uri : "");
        goto out;
    }
    p11p_prov_key_ref(key);
    p11p_prov_key_unref(ctx->key);
    ctx->key = key;
    ctx->signing = signing;
    EVP_PKEY_CTX_free(ctx->shadow);
    ctx->shadow = NULL;
    EVP_MD_free(ctx->md);
    ctx->md = NULL;
    ctx->md_started = false;
    if (ctx->type == EVP_PKEY_ED25519) {
        ok = 1;
        goto out;
    }
    if ((!signing || key->soft != NULL || params != NULL)
        && !ensure_shadow(ctx)) {
        goto out;
    }
    if (params != NULL && EVP_PKEY_CTX_set_params(ctx->shadow, params) <= 0) {
        goto out;
    }
    refresh_md(ctx, params);
    ok = 1;
out:
    return ok;
}

static int sig_sign_init(void *vctx, void *vkey, const OSSL_PARAM params[])
{
    return init(vctx, vkey, true, params);
}

static int sig_verify_init(void *vctx, void *vkey, const OSSL_PARAM params[])
{
    return init(vctx, vkey, false, params);
}

static int digest_init(struct sig_ctx *ctx, const char *mdname, void *vkey,
                       bool signing, const OSSL_PARAM params[])
{
    OSSL_PARAM p[2];
    int ok = 0;

    if (!init(ctx, vkey, signing, NULL)) {
        goto out;
    }
    if (mdname == NULL || mdname[0] == '\0') {
        mdname = "SHA256";
    }
    ctx->md = p11p_prov_mdcache_get(ctx->prov, mdname);
    if (ctx->md == NULL) {
        P11PV_RAISE(ctx->prov, P11P_PROV_R_INVALID_ARG, "unknown digest %s",
                    mdname);
        goto out;
    }
    if (ctx->shadow != NULL) {
        /* Checks that the digest suits the key and padding too. */
        p[0] = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST,
                                                (char *)mdname, 0);
        p[1] = OSSL_PARAM_construct_end();
        if (EVP_PKEY_CTX_set_params(ctx->shadow, p) <= 0) {
            goto out;
        }
    }
    if (params != NULL
        && (!ensure_shadow(ctx)
            || EVP_PKEY_CTX_set_params(ctx->shadow, params) <= 0)) {
        goto out;
    }
    ok = 1;
out:
    return ok;
}

/* Starts the running digest on first use (the one-shot path needs none). */
static int start_digest(struct sig_ctx *ctx)
{
    if (ctx->md_started) {
        return 1;
    }
    if (ctx->md == NULL) {
        return 0;
    }
    if (ctx->mdctx == NULL) {
        ctx->mdctx = EVP_MD_CTX_new();
        if (ctx->mdctx == NULL) {
            return 0;
        }
    }
    if (!EVP_DigestInit_ex2(ctx->mdctx, ctx->md, NULL)) {
        return 0;
    }
    ctx->md_started = true;
    return 1;
}

static int sig_digest_sign_init(void *vctx, const char *mdname, void *vkey,
                                const OSSL_PARAM params[])
{
    return digest_init(vctx, mdname, vkey, true, params);
}

static int sig_digest_verify_init(void *vctx, const char *mdname, void *vkey,
                                  const OSSL_PARAM params[])
{
    return digest_init(vctx, mdname, vkey, false, params);
}

static int sig_digest_update(void *vctx, const unsigned char *data,
                             size_t datalen)
{
    struct sig_ctx *ctx = vctx;

    return start_digest(ctx) && EVP_DigestUpdate(ctx->mdctx, data, datalen);
}

/* DER DigestInfo for PKCS#1 v1.5 (RFC 8017, 9.2). */
static int digest_info(const EVP_MD *md, const unsigned char *dgst,
                       size_t dgstlen, unsigned char **out)
{
    X509_SIG *xs = X509_SIG_new();
    X509_ALGOR *alg = NULL;
    ASN1_OCTET_STRING *os = NULL;
    int len = -1;

    *out = NULL;
    if (xs == NULL) {
        goto out;
    }
    X509_SIG_getm(xs, &alg, &os);
    if (!X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL,
                         NULL)
        || !ASN1_OCTET_STRING_set(os, dgst, (int)dgstlen)) {
        goto out;
    }
    len = i2d_X509_SIG(xs, out);
out:
    X509_SIG_free(xs);
    return len;
}

static int sign_rsa(struct sig_ctx *ctx, unsigned char *sig, size_t *siglen,
                    size_t sigsize, const unsigned char *tbs, size_t tbslen)
{
    struct p11p_prov_key *key = ctx->key;
    int pad = RSA_PKCS1_PADDING;
    const EVP_MD *md = NULL;
    const EVP_MD *mgf1 = NULL;
    unsigned char *di = NULL;
    unsigned char di_buf[19 + EVP_MAX_MD_SIZE];
    size_t di_fast;
    int di_len;
    CK_MECHANISM mech = { CKM_RSA_PKCS, NULL, 0 };
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_RSA_PKCS_MGF_TYPE unused_mgf;
    const unsigned char *in = tbs;
    size_t inlen = tbslen;
    size_t outlen = sigsize;
    int ok = 0;

    if (ctx->shadow != NULL) {
        EVP_PKEY_CTX_get_rsa_padding(ctx->shadow, &pad);
        EVP_PKEY_CTX_get_signature_md(ctx->shadow, &md);
    } else {
        md = ctx->md; /* no parameter was set: PKCS#1 v1.5 */
    }
    if (md != NULL && tbslen != (size_t)EVP_MD_get_size(md)) {
        P11PV_RAISE(ctx->prov, P11P_PROV_R_INVALID_ARG,
                    "%s: input is not a %s digest", key->uri,
                    EVP_MD_get0_name(md));
        goto out;
    }
    if (pad == RSA_PKCS1_PADDING) {
        if (md != NULL) {
            di_fast = p11p_prov_sigenc_digest_info(
                EVP_MD_get_type(md), tbs, tbslen, di_buf, sizeof(di_buf));
            if (di_fast > 0) {
                in = di_buf;
                inlen = di_fast;
            } else {
                di_len = digest_info(md, tbs, tbslen, &di);
                if (di_len <= 0) {
                    goto out;
                }
                in = di;
                inlen = (size_t)di_len;
            }
        }
    } else if (pad == RSA_PKCS1_PSS_PADDING) {
        int saltlen = RSA_PSS_SALTLEN_AUTO;
        int bits = EVP_PKEY_get_bits(key->pub);
        int hlen;
        int max;

        if (md == NULL) {
            P11PV_RAISE(ctx->prov, P11P_PROV_R_INVALID_ARG,
                        "%s: RSA-PSS needs a digest", key->uri);
            goto out;
        }
        EVP_PKEY_CTX_get_rsa_mgf1_md(ctx->shadow, &mgf1);
        EVP_PKEY_CTX_get_rsa_pss_saltlen(ctx->shadow, &saltlen);
        hlen = EVP_MD_get_size(md);
        /* emLen = ceil((modBits - 1) / 8), RFC 8017 9.1.1. */
        max = (bits - 1 + 7) / 8 - hlen - 2;
        if (saltlen == RSA_PSS_SALTLEN_DIGEST) {
            saltlen = hlen;
        } else if (saltlen < 0) {
            saltlen = max; /* AUTO and MAX when signing */
        }
        if (saltlen > max) {
            P11PV_RAISE(ctx->prov, P11P_PROV_R_INVALID_ARG,
                        "%s: PSS salt length %d too long", key->uri, saltlen);
            goto out;
        }
        if (!p11p_prov_mech_hash(md, &pss.hashAlg, &unused_mgf)
            || !p11p_prov_mech_hash(mgf1 != NULL ? mgf1 : md, &unused_mgf,
                                    &pss.mgf)) {
            P11PV_RAISE(ctx->prov, P11P_PROV_R_UNSUPPORTED,
                        "%s: digest %s has no PKCS#11 mechanism", key->uri,
                        EVP_MD_get0_name(md));
            goto out;
        }
        pss.sLen = (CK_ULONG)saltlen;
        mech.mechanism = CKM_RSA_PKCS_PSS;
        mech.pParameter = &pss;
        mech.ulParameterLen = sizeof(pss);
    } else {
        P11PV_RAISE(ctx->prov, P11P_PROV_R_UNSUPPORTED,
                    "%s: RSA padding mode %d not supported for token keys",
                    key->uri, pad);
        goto out;
    }
    if (p11p_prov_key_op(key, true, &mech, in, inlen, sig, &outlen) != CKR_OK) {
        goto out;
    }
    *siglen = outlen;
    ok = 1;
out:
    OPENSSL_free(di);
    return ok;
}

static int sign_ecdsa(struct sig_ctx *ctx, unsigned char *sig, size_t *siglen,
                      size_t sigsize, const unsigned char *tbs, size_t tbslen)
{
    CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
    unsigned char raw[2 * 66];
    size_t rawlen = sizeof(raw);
    int ok = 0;

    if (p11p_prov_key_op(ctx->key, true, &mech, tbs, tbslen, raw, &rawlen)
        != CKR_OK) {
        goto out;
    }
    if (!p11p_prov_sigenc_ecdsa_der(raw, rawlen, sig, sigsize, siglen)) {
        P11PV_RAISE(ctx->prov, P11P_PROV_R_CRYPTO,
                    "%s: C_Sign returned %zu bytes, not an ECDSA r||s that "
                    "fits %zu bytes",
                    ctx->key->uri != NULL ? ctx->key->uri : "pkcs11:", rawlen,
                    sigsize);
        goto out;
    }
    ok = 1;
out:
    return ok;
}

static int sig_sign(void *vctx, unsigned char *sig, size_t *siglen,
                    size_t sigsize, const unsigned char *tbs, size_t tbslen)
{
    struct sig_ctx *ctx = vctx;

    if (ctx->key == NULL || (ctx->key->soft != NULL && ctx->shadow == NULL)) {
        return 0;
    }
    if (sig == NULL) {
        *siglen = (size_t)EVP_PKEY_get_size(ctx->key->pub);
        return 1;
    }
    if (ctx->key->soft != NULL) {
        *siglen = sigsize;
        return EVP_PKEY_sign(ctx->shadow, sig, siglen, tbs, tbslen) > 0;
    }
    if (ctx->type == EVP_PKEY_RSA) {
        return sign_rsa(ctx, sig, siglen, sigsize, tbs, tbslen);
    }
    return sign_ecdsa(ctx, sig, siglen, sigsize, tbs, tbslen);
}

static int sig_verify(void *vctx, const unsigned char *sig, size_t siglen,
                      const unsigned char *tbs, size_t tbslen)
{
    struct sig_ctx *ctx = vctx;

    if (ctx->shadow == NULL) {
        return 0;
    }
    return EVP_PKEY_verify(ctx->shadow, sig, siglen, tbs, tbslen) > 0;
}

static int sig_digest_sign_final(void *vctx, unsigned char *sig, size_t *siglen,
                                 size_t sigsize)
{
    struct sig_ctx *ctx = vctx;
    unsigned char dgst[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (ctx->md == NULL) {
        return 0;
    }
    if (sig == NULL) {
        return sig_sign(ctx, NULL, siglen, 0, NULL, 0);
    }
    if (!start_digest(ctx) || !EVP_DigestFinal_ex(ctx->mdctx, dgst, &dlen)) {
        return 0;
    }
    ctx->md_started = false;
    return sig_sign(ctx, sig, siglen, sigsize, dgst, dlen);
}

/* One-shot digest-and-sign (EVP_DigestSign): no running digest and no
 * context copy. */
static int sig_digest_sign(void *vctx, unsigned char *sig, size_t *siglen,
                           size_t sigsize, const unsigned char *tbs,
                           size_t tbslen)
{
    struct sig_ctx *ctx = vctx;
    unsigned char dgst[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (ctx->md == NULL) {
        return 0;
    }
    if (sig == NULL) {
        return sig_sign(ctx, NULL, siglen, 0, NULL, 0);
    }
    if (!EVP_Digest(tbs, tbslen, dgst, &dlen, ctx->md, NULL)) {
        return 0;
    }
    return sig_sign(ctx, sig, siglen, sigsize, dgst, dlen);
}

static int sig_digest_verify_final(void *vctx, const unsigned char *sig,
                                   size_t siglen)
{
    struct sig_ctx *ctx = vctx;
    unsigned char dgst[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (!start_digest(ctx) || !EVP_DigestFinal_ex(ctx->mdctx, dgst, &dlen)) {
        return 0;
    }
    ctx->md_started = false;
    return sig_verify(ctx, sig, siglen, dgst, dlen);
}

static int sig_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    struct sig_ctx *ctx = vctx;

    if (!ensure_shadow(ctx)) {
        return 0;
    }
    return EVP_PKEY_CTX_get_params(ctx->shadow, params) > 0;
}

static int sig_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct sig_ctx *ctx = vctx;

    if (params == NULL || params[0].key == NULL) {
        return 1;
    }
    if (!ensure_shadow(ctx)
        || EVP_PKEY_CTX_set_params(ctx->shadow, params) <= 0) {
        return 0;
    }
    refresh_md(ctx, params);
    return 1;
}

static const OSSL_PARAM static_gettable[] = {
    OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM static_settable[] = {
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_PROPERTIES, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *sig_gettable_ctx_params(void *vctx, void *provctx)
{
    struct sig_ctx *ctx = vctx;

    (void)provctx;
    if (ctx != NULL && ensure_shadow(ctx)) {
        return EVP_PKEY_CTX_gettable_params(ctx->shadow);
    }
    return static_gettable;
}

static const OSSL_PARAM *sig_settable_ctx_params(void *vctx, void *provctx)
{
    struct sig_ctx *ctx = vctx;

    (void)provctx;
    if (ctx != NULL && ensure_shadow(ctx)) {
        return EVP_PKEY_CTX_settable_params(ctx->shadow);
    }
    return static_settable;
}

/* --- Ed25519: one-shot over the message --- */

static int ed_digest_sign(void *vctx, unsigned char *sig, size_t *siglen,
                          size_t sigsize, const unsigned char *tbs,
                          size_t tbslen)
{
    struct sig_ctx *ctx = vctx;
    CK_MECHANISM mech = { CKM_EDDSA, NULL, 0 };
    EVP_MD_CTX *md = NULL;
    size_t outlen = sigsize;
    int ok = 0;

    if (ctx->key == NULL) {
        goto out;
    }
    if (sig == NULL) {
        *siglen = 64;
        ok = 1;
        goto out;
    }
    if (ctx->key->soft != NULL) {
        md = EVP_MD_CTX_new();
        *siglen = sigsize;
        ok =
            md != NULL
            && EVP_DigestSignInit_ex(md, NULL, NULL, ctx->prov->libctx,
                                     P11P_PROV_SOFT_PROPQ, ctx->key->soft, NULL)
            && EVP_DigestSign(md, sig, siglen, tbs, tbslen);
        goto out;
    }
    if (p11p_prov_key_op(ctx->key, true, &mech, tbs, tbslen, sig, &outlen)
        != CKR_OK) {
        goto out;
    }
    *siglen = outlen;
    ok = 1;
out:
    EVP_MD_CTX_free(md);
    return ok;
}

static int ed_digest_verify(void *vctx, const unsigned char *sig, size_t siglen,
                            const unsigned char *tbs, size_t tbslen)
{
    struct sig_ctx *ctx = vctx;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok;

    ok = md != NULL && ctx->key != NULL
         && EVP_DigestVerifyInit_ex(md, NULL, NULL, ctx->prov->libctx,
                                    P11P_PROV_SOFT_PROPQ, ctx->key->pub, NULL)
         && EVP_DigestVerify(md, sig, siglen, tbs, tbslen) > 0;
    EVP_MD_CTX_free(md);
    return ok;
}

static int ed_digest_init(struct sig_ctx *ctx, const char *mdname, void *vkey,
                          bool signing)
{
    if (mdname != NULL && mdname[0] != '\0') {
        P11PV_RAISE(ctx->prov, P11P_PROV_R_INVALID_ARG,
                    "Ed25519 takes no digest (got %s)", mdname);
        return 0;
    }
    return init(ctx, vkey, signing, NULL);
}

static OSSL_FUNC_signature_digest_sign_init_fn ed_digest_sign_init;
static OSSL_FUNC_signature_digest_verify_init_fn ed_digest_verify_init;

static int ed_digest_sign_init(void *vctx, const char *mdname, void *vkey,
                               const OSSL_PARAM params[])
{
    (void)params;
    return ed_digest_init(vctx, mdname, vkey, true);
}

static int ed_digest_verify_init(void *vctx, const char *mdname, void *vkey,
                                 const OSSL_PARAM params[])
{
    (void)params;
    return ed_digest_init(vctx, mdname, vkey, false);
}

static int ed_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    OSSL_PARAM *p;

    (void)vctx;
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID);
    if (p != NULL
        && !OSSL_PARAM_set_octet_string(p, ed25519_aid, sizeof(ed25519_aid))) {
        return 0;
    }
    return 1;
}

static const OSSL_PARAM ed_gettable[] = {
    OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *ed_gettable_ctx_params(void *vctx, void *provctx)
{
    (void)vctx;
    (void)provctx;
    return ed_gettable;
}

/* --- per-type constructors and tables --- */

static OSSL_FUNC_signature_newctx_fn rsa_newctx;
static OSSL_FUNC_signature_newctx_fn ecdsa_newctx;
static OSSL_FUNC_signature_newctx_fn ed_newctx;

static void *rsa_newctx(void *provctx, const char *propq)
{
    (void)propq;
    return new_ctx(provctx, EVP_PKEY_RSA);
}

static void *ecdsa_newctx(void *provctx, const char *propq)
{
    (void)propq;
    return new_ctx(provctx, EVP_PKEY_EC);
}

static void *ed_newctx(void *provctx, const char *propq)
{
    (void)propq;
    return new_ctx(provctx, EVP_PKEY_ED25519);
}

/* clang-format off */
#define DIGEST_SIG_FUNCTIONS \
    { OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx }, \
    { OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx }, \
    { OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))sig_sign_init }, \
    { OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sig_sign }, \
    { OSSL_FUNC_SIGNATURE_VERIFY_INIT, (void (*)(void))sig_verify_init }, \
    { OSSL_FUNC_SIGNATURE_VERIFY, (void (*)(void))sig_verify }, \
    { OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_digest_sign_init }, \
    { OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))sig_digest_update }, \
    { OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_digest_sign_final }, \
    { OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))sig_digest_sign }, \
    { OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, (void (*)(void))sig_digest_verify_init }, \
    { OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE, (void (*)(void))sig_digest_update }, \
    { OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL, (void (*)(void))sig_digest_verify_final }, \
    { OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_ctx_params }, \
    { OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))sig_gettable_ctx_params }, \
    { OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_ctx_params }, \
    { OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))sig_settable_ctx_params }

const OSSL_DISPATCH p11p_prov_rsa_signature_functions[] = {
    { OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))rsa_newctx },
    DIGEST_SIG_FUNCTIONS,
    { 0, NULL },
};

const OSSL_DISPATCH p11p_prov_ecdsa_signature_functions[] = {
    { OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))ecdsa_newctx },
    DIGEST_SIG_FUNCTIONS,
    { 0, NULL },
};

const OSSL_DISPATCH p11p_prov_ed25519_signature_functions[] = {
    { OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))ed_newctx },
    { OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx },
    { OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx },
    { OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))ed_digest_sign_init },
    { OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))ed_digest_sign },
    { OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, (void (*)(void))ed_digest_verify_init },
    { OSSL_FUNC_SIGNATURE_DIGEST_VERIFY, (void (*)(void))ed_digest_verify },
    { OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))ed_get_ctx_params },
    { OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))ed_gettable_ctx_params },
    { 0, NULL },
};
/* clang-format on */

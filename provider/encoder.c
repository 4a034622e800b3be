/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Encoders for token keys: the PEM key reference and SubjectPublicKeyInfo
 * (see encoder.h). Keys that are not on a token are left to the default
 * provider's encoders (our export gives it the whole key).
 */
#include "provider/encoder.h"

#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/pem.h>

#include "provider/key.h"
#include "provider/names.h"
#include "provider/provider.h"

static OSSL_FUNC_encoder_newctx_fn enc_newctx;
static OSSL_FUNC_encoder_freectx_fn enc_freectx;
static OSSL_FUNC_encoder_does_selection_fn uri_does_selection;
static OSSL_FUNC_encoder_does_selection_fn spki_does_selection;
static OSSL_FUNC_encoder_encode_fn uri_encode;
static OSSL_FUNC_encoder_encode_fn spki_der_encode;
static OSSL_FUNC_encoder_encode_fn spki_pem_encode;

static void *enc_newctx(void *provctx)
{
    return provctx; /* stateless: the provider context is enough */
}

static void enc_freectx(void *ctx)
{
    (void)ctx;
}

static int uri_does_selection(void *provctx, int selection)
{
    (void)provctx;
    return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0;
}

static int spki_does_selection(void *provctx, int selection)
{
    (void)provctx;
    return (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0;
}

/* DER of SEQUENCE { VisibleString desc, UTF8String uri }. */
static int uri_der(const char *uri, unsigned char **out)
{
    STACK_OF(ASN1_TYPE) *seq = sk_ASN1_TYPE_new_null();
    ASN1_TYPE *desc = ASN1_TYPE_new();
    ASN1_TYPE *u = ASN1_TYPE_new();
    ASN1_STRING *s1 = ASN1_STRING_type_new(V_ASN1_VISIBLESTRING);
    ASN1_STRING *s2 = ASN1_STRING_type_new(V_ASN1_UTF8STRING);
    int len = -1;

    *out = NULL;
    if (seq == NULL || desc == NULL || u == NULL || s1 == NULL || s2 == NULL
        || !ASN1_STRING_set(s1, P11P_PROV_URI_DESC, -1)
        || !ASN1_STRING_set(s2, uri, -1)) {
        goto out;
    }
    ASN1_TYPE_set(desc, V_ASN1_VISIBLESTRING, s1);
    s1 = NULL;
    ASN1_TYPE_set(u, V_ASN1_UTF8STRING, s2);
    s2 = NULL;
    if (!sk_ASN1_TYPE_push(seq, desc)) {
        goto out;
    }
    desc = NULL;
    if (!sk_ASN1_TYPE_push(seq, u)) {
        goto out;
    }
    u = NULL;
    len = i2d_ASN1_SEQUENCE_ANY(seq, out);
out:
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    ASN1_TYPE_free(desc);
    ASN1_TYPE_free(u);
    ASN1_STRING_free(s1);
    ASN1_STRING_free(s2);
    return len;
}

static int soft_encode(struct p11p_prov_ctx *prov, OSSL_CORE_BIO *cout,
                       const struct p11p_prov_key *key, int selection,
                       OSSL_PASSPHRASE_CALLBACK *cb, void *cbarg)
{
    OSSL_ENCODER_CTX *ectx = NULL;
    BIO *out = BIO_new_from_core_bio(prov->libctx, cout);
    int ok = 0;

    ectx = OSSL_ENCODER_CTX_new_for_pkey(
        key->soft, selection, "PEM", "PrivateKeyInfo", P11P_PROV_SOFT_PROPQ);
    if (out == NULL || ectx == NULL
        || (cb != NULL
            && !OSSL_ENCODER_CTX_set_passphrase_cb(ectx, cb, cbarg))) {
        goto out;
    }
    ok = OSSL_ENCODER_to_bio(ectx, out);
out:
    OSSL_ENCODER_CTX_free(ectx);
    BIO_free(out);
    return ok;
}

static int uri_encode(void *vctx, OSSL_CORE_BIO *cout, const void *obj_raw,
                      const OSSL_PARAM obj_abstract[], int selection,
                      OSSL_PASSPHRASE_CALLBACK *cb, void *cbarg)
{
    struct p11p_prov_ctx *prov = vctx;
    const struct p11p_prov_key *key = obj_raw;
    BIO *out = NULL;
    unsigned char *der = NULL;
    int len;
    int ok = 0;

    (void)obj_abstract;
    if (key != NULL && key->soft != NULL) {
        /* An in-memory key: an ordinary PKCS#8 file, written by the
         * default provider (with the caller's passphrase, if any). */
        ok = soft_encode(prov, cout, key, selection, cb, cbarg);
        goto out;
    }
    if (key == NULL || !key->on_token || key->uri == NULL) {
        goto out;
    }
    len = uri_der(key->uri, &der);
    out = BIO_new_from_core_bio(prov->libctx, cout);
    if (len <= 0 || out == NULL) {
        goto out;
    }
    ok = PEM_write_bio(out, P11P_PROV_PEM_LABEL, "", der, len) > 0;
out:
    OPENSSL_free(der);
    BIO_free(out);
    return ok;
}

static int spki_encode(struct p11p_prov_ctx *prov, OSSL_CORE_BIO *cout,
                       const struct p11p_prov_key *key, const char *type)
{
    OSSL_ENCODER_CTX *ectx = NULL;
    BIO *out = NULL;
    int ok = 0;

    if (key == NULL || key->pub == NULL) {
        goto out;
    }
    out = BIO_new_from_core_bio(prov->libctx, cout);
    ectx = OSSL_ENCODER_CTX_new_for_pkey(
        key->pub, OSSL_KEYMGMT_SELECT_PUBLIC_KEY, type, "SubjectPublicKeyInfo",
        P11P_PROV_SOFT_PROPQ);
    if (out == NULL || ectx == NULL) {
        goto out;
    }
    ok = OSSL_ENCODER_to_bio(ectx, out);
out:
    OSSL_ENCODER_CTX_free(ectx);
    BIO_free(out);
    return ok;
}

static int spki_der_encode(void *vctx, OSSL_CORE_BIO *cout, const void *obj_raw,
                           const OSSL_PARAM obj_abstract[], int selection,
                           OSSL_PASSPHRASE_CALLBACK *cb, void *cbarg)
{
    (void)obj_abstract;
    (void)selection;
    (void)cb;
    (void)cbarg;
    return spki_encode(vctx, cout, obj_raw, "DER");
}

static int spki_pem_encode(void *vctx, OSSL_CORE_BIO *cout, const void *obj_raw,
                           const OSSL_PARAM obj_abstract[], int selection,
                           OSSL_PASSPHRASE_CALLBACK *cb, void *cbarg)
{
    (void)obj_abstract;
    (void)selection;
    (void)cb;
    (void)cbarg;
    return spki_encode(vctx, cout, obj_raw, "PEM");
}

/* clang-format off */
#define URI_ENCODER \
    { OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))enc_newctx }, \
    { OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx }, \
    { OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))uri_does_selection }, \
    { OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))uri_encode }, \
    { 0, NULL }

const OSSL_DISPATCH p11p_prov_rsa_uri_encoder_functions[] = { URI_ENCODER };
const OSSL_DISPATCH p11p_prov_ec_uri_encoder_functions[] = { URI_ENCODER };
const OSSL_DISPATCH p11p_prov_ed25519_uri_encoder_functions[] = { URI_ENCODER };

const OSSL_DISPATCH p11p_prov_spki_der_encoder_functions[] = {
    { OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))enc_newctx },
    { OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx },
    { OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))spki_does_selection },
    { OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))spki_der_encode },
    { 0, NULL },
};

const OSSL_DISPATCH p11p_prov_spki_pem_encoder_functions[] = {
    { OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))enc_newctx },
    { OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx },
    { OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))spki_does_selection },
    { OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))spki_pem_encode },
    { 0, NULL },
};
/* clang-format on */

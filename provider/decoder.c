/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decoders for the PEM key reference (see encoder.h): PEM -> DER with the
 * structure "pk11-uri" (only for our PEM label), then DER -> a token key
 * by reference, one decoder per key type. Anything else is left alone: a
 * decoder that does not recognise its input returns 1 with no object.
 * OpenSSL tries the key-type decoders one after the other on the same
 * input: the first looks the key up on the token, and one of another type
 * leaves it in the provider's stash for the next (one lookup per file).
 */
#include <pthread.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "provider/encoder.h"
#include "provider/key.h"
#include "provider/names.h"
#include "provider/provider.h"
#include "provider/store.h"

#define MAX_REF_FILE (16 * 1024)

struct dec_ctx {
    struct p11p_prov_ctx *prov; /* borrowed */
    int type;                   /* key type, 0 for the PEM decoder */
};

static OSSL_FUNC_decoder_freectx_fn dec_freectx;
static OSSL_FUNC_decoder_does_selection_fn dec_does_selection;
static OSSL_FUNC_decoder_decode_fn pem_decode;
static OSSL_FUNC_decoder_decode_fn uri_decode;
static OSSL_FUNC_decoder_export_object_fn dec_export_object;

static void *new_ctx(void *provctx, int type)
{
    struct dec_ctx *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx != NULL) {
        ctx->prov = provctx;
        ctx->type = type;
    }
    return ctx;
}

static void dec_freectx(void *ctx)
{
    OPENSSL_free(ctx);
}

static int dec_does_selection(void *provctx, int selection)
{
    (void)provctx;
    return selection == 0 || (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0;
}

static int pem_decode(void *vctx, OSSL_CORE_BIO *cin, int selection,
                      OSSL_CALLBACK *data_cb, void *data_cbarg,
                      OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct dec_ctx *ctx = vctx;
    BIO *in = BIO_new_from_core_bio(ctx->prov->libctx, cin);
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    OSSL_PARAM params[3];
    int ok = 1; /* empty-handed unless it is ours */

    (void)selection;
    (void)pw_cb;
    (void)pw_cbarg;
    if (in == NULL) {
        return 0;
    }
    ERR_set_mark();
    if (PEM_read_bio(in, &name, &header, &data, &len) <= 0
        || strcmp(name, P11P_PROV_PEM_LABEL) != 0 || len > MAX_REF_FILE) {
        ERR_pop_to_mark();
        goto out;
    }
    ERR_clear_last_mark();
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, data,
                                                  (size_t)len);
    params[1] = OSSL_PARAM_construct_utf8_string(
        OSSL_OBJECT_PARAM_DATA_STRUCTURE, (char *)P11P_PROV_URI_STRUCTURE, 0);
    params[2] = OSSL_PARAM_construct_end();
    ok = data_cb(params, data_cbarg);
out:
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(in);
    return ok;
}

/* Parses SEQUENCE { VisibleString, UTF8String } into a new C string. */
static char *parse_uri_der(const unsigned char *der, long len)
{
    const unsigned char *p = der;
    STACK_OF(ASN1_TYPE) *seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, len);
    ASN1_TYPE *u;
    char *uri = NULL;

    if (seq == NULL || sk_ASN1_TYPE_num(seq) != 2
        || ASN1_TYPE_get(sk_ASN1_TYPE_value(seq, 0)) != V_ASN1_VISIBLESTRING
        || ASN1_TYPE_get(sk_ASN1_TYPE_value(seq, 1)) != V_ASN1_UTF8STRING) {
        goto out;
    }
    u = sk_ASN1_TYPE_value(seq, 1);
    uri = OPENSSL_strndup(
        (const char *)ASN1_STRING_get0_data(u->value.utf8string),
        (size_t)ASN1_STRING_length(u->value.utf8string));
    if (uri != NULL && strncmp(uri, "pkcs11:", 7) != 0) {
        OPENSSL_free(uri);
        uri = NULL;
    }
out:
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    return uri;
}

/* Takes the key stashed by a decoder of another type for the same URI in
 * this thread (a new reference), or NULL. */
static struct p11p_prov_key *stash_take(struct p11p_prov_ctx *prov,
                                        const char *uri)
{
    struct p11p_prov_key *key = NULL;

    pthread_mutex_lock(&prov->decode_lock);
    if (prov->decode_key != NULL
        && pthread_equal(prov->decode_thread, pthread_self())
        && strcmp(prov->decode_uri, uri) == 0) {
        key = prov->decode_key;
        prov->decode_key = NULL;
        OPENSSL_free(prov->decode_uri);
        prov->decode_uri = NULL;
    }
    pthread_mutex_unlock(&prov->decode_lock);
    return key;
}

/* Leaves key (a new reference) for the decoder of its type that OpenSSL
 * tries next, replacing whatever was there. */
static void stash_put(struct p11p_prov_ctx *prov, const char *uri,
                      struct p11p_prov_key *key)
{
    char *copy = OPENSSL_strdup(uri);
    char *old_uri;
    struct p11p_prov_key *old_key;

    if (copy == NULL) {
        return;
    }
    p11p_prov_key_ref(key);
    pthread_mutex_lock(&prov->decode_lock);
    old_uri = prov->decode_uri;
    old_key = prov->decode_key;
    prov->decode_uri = copy;
    prov->decode_key = key;
    prov->decode_thread = pthread_self();
    pthread_mutex_unlock(&prov->decode_lock);
    OPENSSL_free(old_uri);
    p11p_prov_key_unref(old_key);
}

static int uri_decode(void *vctx, OSSL_CORE_BIO *cin, int selection,
                      OSSL_CALLBACK *data_cb, void *data_cbarg,
                      OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct dec_ctx *ctx = vctx;
    BIO *in = BIO_new_from_core_bio(ctx->prov->libctx, cin);
    unsigned char buf[MAX_REF_FILE];
    int len;
    char *uri = NULL;
    struct p11p_prov_key *key = NULL;
    OSSL_PARAM params[4];
    int object_type = OSSL_OBJECT_PKEY;
    int ok = 1; /* empty-handed unless it is ours */

    (void)selection;
    if (in == NULL) {
        return 0;
    }
    len = BIO_read(in, buf, sizeof(buf));
    if (len <= 0) {
        goto out;
    }
    ERR_set_mark();
    uri = parse_uri_der(buf, len);
    ERR_pop_to_mark();
    if (uri == NULL) {
        goto out;
    }
    key = stash_take(ctx->prov, uri);
    if (key == NULL) {
        key = p11p_prov_store_find_key(ctx->prov, uri, pw_cb, pw_cbarg);
    }
    if (key == NULL) {
        ok = 0; /* ours, but not found: the raised error explains */
        goto out;
    }
    if (key->type != ctx->type) {
        stash_put(ctx->prov, uri, key);
        goto out;
    }
    params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &object_type);
    params[1] = OSSL_PARAM_construct_utf8_string(
        OSSL_OBJECT_PARAM_DATA_TYPE, (char *)p11p_prov_key_type_name(key->type),
        0);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE,
                                                  &key, sizeof(key));
    params[3] = OSSL_PARAM_construct_end();
    ok = data_cb(params, data_cbarg);
out:
    p11p_prov_key_unref(key);
    OPENSSL_free(uri);
    BIO_free(in);
    return ok;
}

static int dec_export_object(void *vctx, const void *reference,
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
    if (key->pub == NULL
        || EVP_PKEY_todata(key->pub, EVP_PKEY_PUBLIC_KEY, &params) <= 0) {
        return 0;
    }
    ok = export_cb(params, export_cbarg);
    OSSL_PARAM_free(params);
    return ok;
}

static OSSL_FUNC_decoder_newctx_fn pem_newctx;
static OSSL_FUNC_decoder_newctx_fn rsa_newctx;
static OSSL_FUNC_decoder_newctx_fn ec_newctx;
static OSSL_FUNC_decoder_newctx_fn ed_newctx;

static void *pem_newctx(void *provctx)
{
    return new_ctx(provctx, 0);
}

static void *rsa_newctx(void *provctx)
{
    return new_ctx(provctx, EVP_PKEY_RSA);
}

static void *ec_newctx(void *provctx)
{
    return new_ctx(provctx, EVP_PKEY_EC);
}

static void *ed_newctx(void *provctx)
{
    return new_ctx(provctx, EVP_PKEY_ED25519);
}

/* clang-format off */
const OSSL_DISPATCH p11p_prov_pem_decoder_functions[] = {
    { OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))pem_newctx },
    { OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dec_freectx },
    { OSSL_FUNC_DECODER_DECODE, (void (*)(void))pem_decode },
    { 0, NULL },
};

#define URI_DECODER(newctx) \
    { OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))newctx }, \
    { OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dec_freectx }, \
    { OSSL_FUNC_DECODER_DOES_SELECTION, (void (*)(void))dec_does_selection }, \
    { OSSL_FUNC_DECODER_DECODE, (void (*)(void))uri_decode }, \
    { OSSL_FUNC_DECODER_EXPORT_OBJECT, (void (*)(void))dec_export_object }, \
    { 0, NULL }

const OSSL_DISPATCH p11p_prov_rsa_uri_decoder_functions[] = { URI_DECODER(rsa_newctx) };
const OSSL_DISPATCH p11p_prov_ec_uri_decoder_functions[] = { URI_DECODER(ec_newctx) };
const OSSL_DISPATCH p11p_prov_ed25519_uri_decoder_functions[] = { URI_DECODER(ed_newctx) };
/* clang-format on */

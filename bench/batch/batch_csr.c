/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key generation and PKCS#10 requests for the batch benchmark: one
 * EVP_PKEY_CTX per generator, a request per key, signed with SHA-256.
 */
#include "bench/batch/batch_csr.h"

#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

struct batch_keygen {
    enum batch_key_type type;
    EVP_PKEY_CTX *ctx;
};

static const struct {
    const char *name;
    enum batch_key_type type;
} key_types[] = {
    { "ec", BATCH_KEY_EC_P256 },
    { "rsa", BATCH_KEY_RSA_2048 },
};

int batch_key_type_parse(const char *s, enum batch_key_type *out)
{
    for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++) {
        if (strcmp(s, key_types[i].name) == 0) {
            *out = key_types[i].type;
            return 0;
        }
    }
    return -1;
}

struct batch_keygen *batch_keygen_new(enum batch_key_type type)
{
    struct batch_keygen *g = NULL;
    struct batch_keygen *ret = NULL;
    int ok = 0;

    g = OPENSSL_zalloc(sizeof(*g));
    if (g == NULL) {
        goto out;
    }
    g->type = type;
    g->ctx = EVP_PKEY_CTX_new_from_name(
        NULL, type == BATCH_KEY_EC_P256 ? "EC" : "RSA", NULL);
    if (g->ctx == NULL || EVP_PKEY_keygen_init(g->ctx) != 1) {
        goto out;
    }
    if (type == BATCH_KEY_EC_P256) {
        ok = EVP_PKEY_CTX_set_group_name(g->ctx, "P-256") == 1;
    } else {
        ok = EVP_PKEY_CTX_set_rsa_keygen_bits(g->ctx, 2048) == 1;
    }
    if (!ok) {
        goto out;
    }
    ret = g;
    g = NULL;
out:
    if (ret == NULL) {
        fprintf(stderr, "batch_csr: cannot set up key generation\n");
        ERR_print_errors_fp(stderr);
    }
    batch_keygen_free(g);
    return ret;
}

void batch_keygen_free(struct batch_keygen *g)
{
    if (g == NULL) {
        return;
    }
    EVP_PKEY_CTX_free(g->ctx);
    OPENSSL_free(g);
}

/* Fills the request's SubjectPublicKeyInfo of a P-256 key from its encoded
 * point: id-ecPublicKey, prime256v1, the point as the bit string. */
static int set_spki_ec(X509_REQ *req, EVP_PKEY *key)
{
    unsigned char point[80];
    size_t len = 0;
    unsigned char *copy = NULL;
    X509_PUBKEY *xpk = X509_REQ_get_X509_PUBKEY(req);

    if (xpk == NULL
        || EVP_PKEY_get_octet_string_param(key,
                                           OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                           point, sizeof(point), &len)
               != 1) {
        return -1;
    }
    copy = OPENSSL_memdup(point, len);
    if (copy == NULL) {
        return -1;
    }
    if (X509_PUBKEY_set0_param(xpk, OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
                               V_ASN1_OBJECT, OBJ_nid2obj(NID_X9_62_prime256v1),
                               copy, (int)len)
        != 1) {
        OPENSSL_free(copy);
        return -1;
    }
    return 0;
}

int batch_keygen_csr(struct batch_keygen *g, const char *cn,
                     unsigned char **der, size_t *der_len)
{
    EVP_PKEY *key = NULL;
    X509_REQ *req = NULL;
    X509_NAME *name = NULL;
    unsigned char *out = NULL;
    int n = 0;
    int rc = -1;

    if (EVP_PKEY_keygen(g->ctx, &key) != 1) {
        goto out;
    }
    req = X509_REQ_new();
    name = X509_NAME_new();
    if (req == NULL || name == NULL
        || X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                      (const unsigned char *)cn, -1, -1, 0)
               != 1
        || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1
        || X509_REQ_set_subject_name(req, name) != 1) {
        goto out;
    }
    if (g->type == BATCH_KEY_EC_P256 ? set_spki_ec(req, key) != 0
                                     : X509_REQ_set_pubkey(req, key) != 1) {
        goto out;
    }
    if (X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
        goto out;
    }
    n = i2d_X509_REQ(req, &out);
    if (n <= 0) {
        goto out;
    }
    *der = out;
    *der_len = (size_t)n;
    out = NULL;
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "batch_csr: key or CSR for \"%s\" failed\n", cn);
        ERR_print_errors_fp(stderr);
    }
    OPENSSL_free(out);
    X509_NAME_free(name);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    return rc;
}

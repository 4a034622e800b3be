/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealing for the soft backend: PBKDF2 of the PIN, AES-256-GCM wrapping of
 * the master key and sealing of PKCS#8 private keys (formats in seal.h).
 * All crypto fetches from the private libctx; every plaintext is wiped.
 */
#include "core/keys/seal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "core/base/log.h"
#include "core/base/ossl.h"

#define COMP       "keys"
#define GCM_IV     12
#define GCM_TAG    16
#define BLOB_MAGIC "P1K1"
#define MASTER_AAD "p11portal master v1"
#define KEY_AAD    "p11portal key v1" BLOB_MAGIC

enum p11p_status p11p_seal_derive(const struct p11p_secret *pin,
                                  const unsigned char *salt, size_t salt_len,
                                  uint32_t iterations, struct p11p_secret **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    struct p11p_secret *key = NULL;
    OSSL_PARAM params[5];
    unsigned int iter = iterations;
    static const char digest[] = "SHA256";
    /* PIN bytes are passed as given; an empty PIN is allowed by PKCS#11. */
    static const unsigned char empty[1];

    *out = NULL;
    if (pin == NULL || iterations == 0) {
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    key = p11p_secret_new(P11P_SEAL_KEY_LEN);
    if (key == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    kdf = EVP_KDF_fetch(p11p_ossl_libctx(), "PBKDF2", NULL);
    kctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    if (kctx == NULL) {
        p11p_ossl_log_errors(COMP, "PBKDF2 unavailable");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    params[0] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_PASSWORD,
        pin->len > 0 ? (void *)pin->data : (void *)empty, pin->len);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                  (void *)salt, salt_len);
    params[2] = OSSL_PARAM_construct_uint(OSSL_KDF_PARAM_ITER, &iter);
    params[3] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                                 (char *)digest, 0);
    params[4] = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(kctx, key->data, key->len, params) != 1) {
        p11p_ossl_log_errors(COMP, "deriving the PIN key");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    *out = key;
    key = NULL;
    rc = P11P_OK;
out:
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    p11p_secret_free(key);
    return rc;
}

enum p11p_status p11p_seal_new_master(struct p11p_secret **out)
{
    struct p11p_secret *m = p11p_secret_new(P11P_SEAL_KEY_LEN);

    *out = NULL;
    if (m == NULL) {
        return P11P_ERR_NOMEM;
    }
    if (RAND_priv_bytes_ex(p11p_ossl_libctx(), m->data, m->len, 0) != 1) {
        p11p_ossl_log_errors(COMP, "generating the master key");
        p11p_secret_free(m);
        return P11P_ERR_CRYPTO;
    }
    *out = m;
    return P11P_OK;
}

static EVP_CIPHER *fetch_gcm(void)
{
    EVP_CIPHER *c = EVP_CIPHER_fetch(p11p_ossl_libctx(), "AES-256-GCM", NULL);

    if (c == NULL) {
        p11p_ossl_log_errors(COMP, "AES-256-GCM unavailable");
    }
    return c;
}

enum p11p_status p11p_seal_encrypt(const unsigned char *key32,
                                   const unsigned char *aad, size_t aad_len,
                                   const unsigned char *pt, size_t pt_len,
                                   unsigned char **out, size_t *out_len)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    EVP_CIPHER *cipher = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *buf = NULL;
    size_t total = GCM_IV + pt_len + GCM_TAG;
    int n = 0, fin = 0;

    *out = NULL;
    *out_len = 0;
    if (pt_len > INT32_MAX || aad_len > INT32_MAX) {
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    buf = malloc(total);
    cipher = fetch_gcm();
    ctx = EVP_CIPHER_CTX_new();
    if (buf == NULL || cipher == NULL || ctx == NULL) {
        rc = buf == NULL || ctx == NULL ? P11P_ERR_NOMEM : P11P_ERR_CRYPTO;
        goto out;
    }
    if (RAND_bytes_ex(p11p_ossl_libctx(), buf, GCM_IV, 0) != 1
        || EVP_EncryptInit_ex2(ctx, cipher, key32, buf, NULL) != 1
        || EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1
        || EVP_EncryptUpdate(ctx, buf + GCM_IV, &n, pt, (int)pt_len) != 1
        || EVP_EncryptFinal_ex(ctx, buf + GCM_IV + n, &fin) != 1
        || (size_t)(n + fin) != pt_len
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG,
                               buf + GCM_IV + pt_len)
               != 1) {
        p11p_ossl_log_errors(COMP, "AES-256-GCM encryption");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    *out = buf;
    *out_len = total;
    buf = NULL;
    rc = P11P_OK;
out:
    free(buf);
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cipher);
    return rc;
}

enum p11p_status p11p_seal_decrypt(const unsigned char *key32,
                                   const unsigned char *aad, size_t aad_len,
                                   const unsigned char *in, size_t in_len,
                                   struct p11p_secret **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    EVP_CIPHER *cipher = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    struct p11p_secret *pt = NULL;
    size_t ct_len;
    int n = 0, fin = 0;

    *out = NULL;
    if (in_len < GCM_IV + GCM_TAG || in_len > INT32_MAX
        || aad_len > INT32_MAX) {
        rc = P11P_ERR_CORRUPT;
        goto out;
    }
    ct_len = in_len - GCM_IV - GCM_TAG;
    pt = p11p_secret_new(ct_len);
    cipher = fetch_gcm();
    ctx = EVP_CIPHER_CTX_new();
    if (pt == NULL || cipher == NULL || ctx == NULL) {
        rc = pt == NULL || ctx == NULL ? P11P_ERR_NOMEM : P11P_ERR_CRYPTO;
        goto out;
    }
    if (EVP_DecryptInit_ex2(ctx, cipher, key32, in, NULL) != 1
        || EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1
        || EVP_DecryptUpdate(ctx, pt->data, &n, in + GCM_IV, (int)ct_len) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG,
                               (void *)(in + in_len - GCM_TAG))
               != 1) {
        p11p_ossl_log_errors(COMP, "AES-256-GCM decryption");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    if (EVP_DecryptFinal_ex(ctx, pt->data + n, &fin) != 1) {
        /* The tag did not verify: wrong key or altered data. */
        ERR_clear_error();
        rc = P11P_ERR_AUTH;
        goto out;
    }
    *out = pt;
    pt = NULL;
    rc = P11P_OK;
out:
    p11p_secret_free(pt);
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cipher);
    return rc;
}

/* AAD of a master key record: MASTER_AAD || role || iterations || salt. */
static size_t master_aad(const struct p11p_cache_auth *a, unsigned char *buf,
                         size_t cap)
{
    size_t n = sizeof(MASTER_AAD) - 1;

    if (cap < n + 5 + a->salt_len) {
        return 0;
    }
    memcpy(buf, MASTER_AAD, n);
    buf[n++] = (unsigned char)a->role;
    buf[n++] = (unsigned char)(a->iterations >> 24);
    buf[n++] = (unsigned char)(a->iterations >> 16);
    buf[n++] = (unsigned char)(a->iterations >> 8);
    buf[n++] = (unsigned char)a->iterations;
    memcpy(buf + n, a->salt, a->salt_len);
    return n + a->salt_len;
}

enum p11p_status p11p_seal_wrap_master(const struct p11p_secret *master,
                                       const struct p11p_secret *pin,
                                       enum p11p_cache_role role,
                                       uint32_t iterations,
                                       struct p11p_cache_auth *out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_cache_auth a;
    struct p11p_secret *kek = NULL;
    unsigned char aad[128];
    size_t aad_len;

    memset(&a, 0, sizeof(a));
    memset(out, 0, sizeof(*out));
    if (master == NULL || master->len != P11P_SEAL_KEY_LEN) {
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    a.role = role;
    memcpy(a.kdf, P11P_SEAL_KDF, sizeof(P11P_SEAL_KDF));
    a.salt_len = P11P_SEAL_SALT_LEN;
    a.iterations = iterations;
    if (RAND_bytes_ex(p11p_ossl_libctx(), a.salt, a.salt_len, 0) != 1) {
        p11p_ossl_log_errors(COMP, "generating a salt");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    rc = p11p_seal_derive(pin, a.salt, a.salt_len, iterations, &kek);
    if (rc != P11P_OK) {
        goto out;
    }
    aad_len = master_aad(&a, aad, sizeof(aad));
    rc = p11p_seal_encrypt(kek->data, aad, aad_len, master->data, master->len,
                           &a.wrapped, &a.wrapped_len);
    if (rc != P11P_OK) {
        goto out;
    }
    *out = a;
    memset(&a, 0, sizeof(a));
    rc = P11P_OK;
out:
    p11p_secret_free(kek);
    free(a.wrapped);
    return rc;
}

enum p11p_status p11p_seal_unwrap_master(const struct p11p_cache_auth *a,
                                         const struct p11p_secret *pin,
                                         struct p11p_secret **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_secret *kek = NULL, *master = NULL;
    unsigned char aad[128];
    size_t aad_len;

    *out = NULL;
    if (strcmp(a->kdf, P11P_SEAL_KDF) != 0
        || a->wrapped_len != GCM_IV + P11P_SEAL_KEY_LEN + GCM_TAG) {
        P11P_ERROR(
            COMP,
            "the PIN record of role %d uses an unknown format (kdf \"%s\", %zu bytes); the cache file is damaged or from a newer p11portal",
            (int)a->role, a->kdf, a->wrapped_len);
        rc = P11P_ERR_CORRUPT;
        goto out;
    }
    rc = p11p_seal_derive(pin, a->salt, a->salt_len, a->iterations, &kek);
    if (rc != P11P_OK) {
        goto out;
    }
    aad_len = master_aad(a, aad, sizeof(aad));
    rc = p11p_seal_decrypt(kek->data, aad, aad_len, a->wrapped, a->wrapped_len,
                           &master);
    if (rc != P11P_OK) {
        goto out;
    }
    *out = master;
    master = NULL;
    rc = P11P_OK;
out:
    p11p_secret_free(kek);
    p11p_secret_free(master);
    return rc;
}

enum p11p_status p11p_seal_key(const struct p11p_secret *master, EVP_PKEY *priv,
                               struct p11p_cache_keyblob *out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    unsigned char *der = NULL, *sealed = NULL, *blob = NULL;
    int der_len = 0;
    size_t sealed_len = 0;

    memset(out, 0, sizeof(*out));
    if (master == NULL || master->len != P11P_SEAL_KEY_LEN || priv == NULL) {
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    p8 = EVP_PKEY2PKCS8(priv);
    if (p8 == NULL || (der_len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0) {
        p11p_ossl_log_errors(COMP, "encoding a private key");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    rc = p11p_seal_encrypt(master->data, (const unsigned char *)KEY_AAD,
                           sizeof(KEY_AAD) - 1, der, (size_t)der_len, &sealed,
                           &sealed_len);
    if (rc != P11P_OK) {
        goto out;
    }
    blob = malloc(4 + sealed_len);
    if (blob == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    memcpy(blob, BLOB_MAGIC, 4);
    memcpy(blob + 4, sealed, sealed_len);
    memcpy(out->backend, "soft", sizeof("soft"));
    out->blob = blob;
    out->blob_len = 4 + sealed_len;
    blob = NULL;
    rc = P11P_OK;
out:
    if (der != NULL) {
        OPENSSL_clear_free(der, (size_t)der_len);
    }
    PKCS8_PRIV_KEY_INFO_free(p8);
    free(sealed);
    free(blob);
    return rc;
}

enum p11p_status p11p_seal_unseal_key(const struct p11p_secret *master,
                                      const unsigned char *blob,
                                      size_t blob_len, EVP_PKEY **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_secret *der = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    EVP_PKEY *pkey = NULL;
    const unsigned char *p;

    *out = NULL;
    if (master == NULL || master->len != P11P_SEAL_KEY_LEN) {
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    if (blob == NULL || blob_len < 4 || memcmp(blob, BLOB_MAGIC, 4) != 0) {
        P11P_ERROR(
            COMP,
            "a soft key blob has an unknown format; the cache file is damaged or from a newer p11portal");
        rc = P11P_ERR_CORRUPT;
        goto out;
    }
    rc = p11p_seal_decrypt(master->data, (const unsigned char *)KEY_AAD,
                           sizeof(KEY_AAD) - 1, blob + 4, blob_len - 4, &der);
    if (rc == P11P_ERR_AUTH || rc == P11P_ERR_CORRUPT) {
        P11P_ERROR(
            COMP,
            "a soft key blob does not decrypt under this token's master key: it was altered or belongs to another token");
        rc = P11P_ERR_CORRUPT;
        goto out;
    }
    if (rc != P11P_OK) {
        goto out;
    }
    p = der->data;
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)der->len);
    if (p8 != NULL) {
        pkey = EVP_PKCS82PKEY_ex(p8, p11p_ossl_libctx(), NULL);
    }
    if (pkey == NULL) {
        p11p_ossl_log_errors(COMP, "decoding an unsealed private key");
        rc = P11P_ERR_CORRUPT;
        goto out;
    }
    *out = pkey;
    pkey = NULL;
    rc = P11P_OK;
out:
    PKCS8_PRIV_KEY_INFO_free(p8);
    EVP_PKEY_free(pkey);
    p11p_secret_free(der);
    return rc;
}

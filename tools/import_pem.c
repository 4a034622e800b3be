/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal import: PEM files (import.h). Keys (PKCS#8, encrypted PKCS#8,
 * traditional RSA/EC, with or without PEM encryption) and certificates
 * are collected into a pool, from one file or from every PEM entry of a
 * zip; then each key is paired with the certificate that holds its public
 * key (never by file name) and given the chain that certificate's issuers
 * form in the pool. A key without a certificate, or an end-entity
 * certificate without a key, refuses the package.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include "tools/import.h"

#define CHAIN_MAX 10

struct pool_key {
    char *name;
    EVP_PKEY *key;
};
struct pool_cert {
    char *name;
    X509 *x;
    bool used; /* paired with a key, or in a chain */
};
struct p11p_import_pem_pool {
    struct pool_key *keys;
    size_t n_keys, cap_keys;
    struct pool_cert *certs;
    size_t n_certs, cap_certs;
};

struct p11p_import_pem_pool *p11p_import_pem_pool_new(void)
{
    return calloc(1, sizeof(struct p11p_import_pem_pool));
}

void p11p_import_pem_pool_free(struct p11p_import_pem_pool *pool)
{
    if (pool == NULL) {
        return;
    }
    for (size_t i = 0; i < pool->n_keys; i++) {
        free(pool->keys[i].name);
        EVP_PKEY_free(pool->keys[i].key);
    }
    for (size_t i = 0; i < pool->n_certs; i++) {
        free(pool->certs[i].name);
        X509_free(pool->certs[i].x);
    }
    free(pool->keys);
    free(pool->certs);
    free(pool);
}

static enum p11p_status add_key(struct p11p_import_pem_pool *pool,
                                const char *name, EVP_PKEY *key)
{
    if (pool->n_keys == pool->cap_keys) {
        size_t cap = pool->cap_keys == 0 ? 8 : pool->cap_keys * 2;
        struct pool_key *nk = realloc(pool->keys, cap * sizeof(*nk));
        if (nk == NULL) {
            EVP_PKEY_free(key);
            return P11P_ERR_NOMEM;
        }
        pool->keys = nk;
        pool->cap_keys = cap;
    }
    pool->keys[pool->n_keys].name = strdup(name);
    if (pool->keys[pool->n_keys].name == NULL) {
        EVP_PKEY_free(key);
        return P11P_ERR_NOMEM;
    }
    pool->keys[pool->n_keys++].key = key;
    return P11P_OK;
}

static enum p11p_status add_cert(struct p11p_import_pem_pool *pool,
                                 const char *name, X509 *x)
{
    if (pool->n_certs == pool->cap_certs) {
        size_t cap = pool->cap_certs == 0 ? 8 : pool->cap_certs * 2;
        struct pool_cert *nc = realloc(pool->certs, cap * sizeof(*nc));
        if (nc == NULL) {
            X509_free(x);
            return P11P_ERR_NOMEM;
        }
        pool->certs = nc;
        pool->cap_certs = cap;
    }
    pool->certs[pool->n_certs].name = strdup(name);
    if (pool->certs[pool->n_certs].name == NULL) {
        X509_free(x);
        return P11P_ERR_NOMEM;
    }
    pool->certs[pool->n_certs].used = false;
    pool->certs[pool->n_certs++].x = x;
    return P11P_OK;
}

/* PEM password callback over the package password. */
static int pass_cb(char *buf, int size, int rwflag, void *u)
{
    const struct p11p_secret *pw =
        p11p_import_pass_get((struct p11p_import_pass *)u);
    (void)rwflag;
    if (pw == NULL || pw->len > (size_t)size) {
        return -1;
    }
    memcpy(buf, pw->data, pw->len);
    return (int)pw->len;
}

static bool is_cert_name(const char *pname)
{
    static const char *const names[] = { PEM_STRING_X509, PEM_STRING_X509_OLD,
                                         PEM_STRING_X509_TRUSTED };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(pname, names[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* One private key block (data: its DER, already without PEM encryption,
 * except for PKCS#8 encryption). */
static EVP_PKEY *read_key(const char *pname, const unsigned char *data,
                          long len, struct p11p_import_pass *pp)
{
    const unsigned char *p = data;
    EVP_PKEY *key = NULL;

    if (strcmp(pname, PEM_STRING_PKCS8) == 0) {
        X509_SIG *sig = d2i_X509_SIG(NULL, &p, len);
        const struct p11p_secret *pw =
            sig != NULL ? p11p_import_pass_get(pp) : NULL;
        PKCS8_PRIV_KEY_INFO *p8 =
            pw != NULL
                ? PKCS8_decrypt(sig, (const char *)pw->data, (int)pw->len)
                : NULL;
        key = p8 != NULL ? EVP_PKCS82PKEY(p8) : NULL;
        PKCS8_PRIV_KEY_INFO_free(p8);
        X509_SIG_free(sig);
        return key;
    }
    return d2i_AutoPrivateKey(NULL, &p, len);
}

enum p11p_status p11p_import_pem_read(struct p11p_import_pem_pool *pool,
                                      const char *name, const unsigned char *d,
                                      size_t n, struct p11p_import_pass *pp,
                                      struct p11p_import_err *err)
{
    BIO *bio = BIO_new_mem_buf(d, (int)n);
    char *pname = NULL, *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    size_t found = 0;
    enum p11p_status rc = P11P_OK;

    if (bio == NULL) {
        return P11P_ERR_NOMEM;
    }
    while (rc == P11P_OK
           && PEM_read_bio(bio, &pname, &header, &data, &len) == 1) {
        bool is_key = strstr(pname, "PRIVATE KEY") != NULL;
        EVP_CIPHER_INFO ci;

        if (is_cert_name(pname)) {
            const unsigned char *p = data;
            X509 *x = d2i_X509(NULL, &p, len);
            rc = x != NULL ? add_cert(pool, name, x)
                           : p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                                              "%s: a certificate does not "
                                              "parse (corrupt?)",
                                              name);
            found++;
        } else if (is_key) {
            EVP_PKEY *key = NULL;
            if (PEM_get_EVP_CIPHER_INFO(header, &ci) == 1
                && PEM_do_header(&ci, data, &len, pass_cb, pp) == 1) {
                key = read_key(pname, data, len, pp);
            }
            rc = key != NULL ? add_key(pool, name, key)
                             : p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                                                "%s: a private key does not "
                                                "decrypt or parse (wrong "
                                                "password or corrupt)",
                                                name);
            found++;
        }
        OPENSSL_free(pname);
        OPENSSL_free(header);
        OPENSSL_clear_free(data, (size_t)len);
        pname = header = NULL;
        data = NULL;
    }
    ERR_clear_error(); /* the end of the data reads as an error */
    BIO_free(bio);
    if (rc == P11P_OK && found == 0) {
        rc = p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                              "%s: no key or certificate in this PEM file",
                              name);
    }
    return rc;
}

/* The issuer of x among the pool's certificates, or -1. */
static int find_issuer(struct p11p_import_pem_pool *pool, X509 *x)
{
    for (size_t i = 0; i < pool->n_certs; i++) {
        X509 *c = pool->certs[i].x;
        if (c != x && X509_cmp(c, x) != 0
            && X509_check_issued(c, x) == X509_V_OK) {
            return (int)i;
        }
    }
    return -1;
}

static bool is_ca(X509 *x)
{
    return X509_check_ca(x) != 0;
}

enum p11p_status p11p_import_pem_pair(struct p11p_import_pem_pool *pool,
                                      struct p11p_import_pkg *pkg,
                                      struct p11p_import_err *err)
{
    enum p11p_status rc = P11P_OK;

    for (size_t k = 0; rc == P11P_OK && k < pool->n_keys; k++) {
        int leaf = -1;
        STACK_OF(X509) *chain = NULL;
        X509 *cur;

        for (size_t c = 0; leaf < 0 && c < pool->n_certs; c++) {
            if (EVP_PKEY_eq(X509_get0_pubkey(pool->certs[c].x),
                            pool->keys[k].key)
                == 1) {
                leaf = (int)c;
            }
        }
        ERR_clear_error();
        if (leaf < 0) {
            rc = p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                                  "%s: the private key matches no "
                                  "certificate of the package",
                                  pool->keys[k].name);
            break;
        }
        pool->certs[leaf].used = true;
        chain = sk_X509_new_null();
        cur = pool->certs[leaf].x;
        for (int depth = 0; chain != NULL && depth < CHAIN_MAX; depth++) {
            int i = X509_check_issued(cur, cur) == X509_V_OK
                        ? -1
                        : find_issuer(pool, cur);
            if (i < 0) {
                break;
            }
            pool->certs[i].used = true;
            cur = pool->certs[i].x;
            if (X509_up_ref(cur) != 1 || sk_X509_push(chain, cur) <= 0) {
                X509_free(cur);
                break;
            }
        }
        if (chain == NULL || X509_up_ref(pool->certs[leaf].x) != 1) {
            sk_X509_free(chain);
            rc = P11P_ERR_NOMEM;
            break;
        }
        rc = p11p_import_pkg_add(pkg, pool->keys[k].name, pool->keys[k].key,
                                 pool->certs[leaf].x, chain);
        pool->keys[k].key = NULL; /* taken */
    }
    for (size_t c = 0; rc == P11P_OK && c < pool->n_certs; c++) {
        if (!pool->certs[c].used && !is_ca(pool->certs[c].x)) {
            char cn[128] = "";
            X509_NAME_get_text_by_NID(X509_get_subject_name(pool->certs[c].x),
                                      NID_commonName, cn, sizeof(cn));
            rc = p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                                  "%s: the certificate of \"%s\" has no "
                                  "private key in the package",
                                  pool->certs[c].name, cn);
        }
    }
    return rc;
}

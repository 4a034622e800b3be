/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Chain parsing and normalisation by issuer/subject; see chain.h. All
 * OpenSSL objects come from the private library context.
 */
#include "remote/chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/base/log.h"
#include "core/base/ossl.h"
#include "core/base/str.h"

struct certset {
    X509 *c[P11P_CHAIN_MAX];
    size_t n;
    bool overflow;
};

static void certset_free(struct certset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        X509_free(s->c[i]);
    }
    s->n = 0;
}

/* Takes ownership of x; drops exact duplicates. */
static void certset_add(struct certset *s, X509 *x)
{
    for (size_t i = 0; i < s->n; i++) {
        if (X509_cmp(s->c[i], x) == 0) {
            X509_free(x);
            return;
        }
    }
    if (s->n >= P11P_CHAIN_MAX) {
        s->overflow = true;
        X509_free(x);
        return;
    }
    s->c[s->n++] = x;
}

static X509 *der_to_x509(const unsigned char *der, long len)
{
    X509 *x = X509_new_ex(p11p_ossl_libctx(), NULL);
    const unsigned char *p = der;

    if (x == NULL) {
        return NULL;
    }
    if (d2i_X509(&x, &p, len) == NULL || p != der + len) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static bool add_pkcs7(struct certset *s, const unsigned char *der, long len)
{
    const unsigned char *p = der;
    PKCS7 *p7 = d2i_PKCS7(NULL, &p, len);
    STACK_OF(X509) *certs = NULL;
    bool ok = false;

    if (p7 == NULL) {
        return false;
    }
    if (PKCS7_type_is_signed(p7) && p7->d.sign != NULL) {
        certs = p7->d.sign->cert;
    }
    for (int i = 0; certs != NULL && i < sk_X509_num(certs); i++) {
        X509 *c = sk_X509_value(certs, i);
        if (c != NULL && X509_up_ref(c) == 1) {
            certset_add(s, c);
            ok = true;
        }
    }
    PKCS7_free(p7);
    return ok;
}

static bool parse_pem(struct certset *s, const unsigned char *data, size_t len,
                      char *why, size_t whysz)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    bool any = false;
    bool ok = true;

    if (bio == NULL) {
        return false;
    }
    for (;;) {
        char *name = NULL;
        char *header = NULL;
        unsigned char *der = NULL;
        long dlen = 0;
        if (PEM_read_bio(bio, &name, &header, &der, &dlen) != 1) {
            break;
        }
        if (strcmp(name, "CERTIFICATE") == 0
            || strcmp(name, "X509 CERTIFICATE") == 0) {
            X509 *x = der_to_x509(der, dlen);
            if (x == NULL) {
                snprintf(why, whysz, "a CERTIFICATE block does not decode");
                ok = false;
            } else {
                certset_add(s, x);
                any = true;
            }
        } else if (strcmp(name, "PKCS7") == 0) {
            if (!add_pkcs7(s, der, dlen)) {
                snprintf(
                    why, whysz,
                    "a PKCS7 block does not decode or has no certificates");
                ok = false;
            } else {
                any = true;
            }
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
        if (!ok) {
            break;
        }
    }
    BIO_free(bio);
    ERR_clear_error();
    if (ok && !any) {
        snprintf(why, whysz, "no certificate found in the reply");
    }
    return ok && any;
}

static bool issued(X509 *issuer, X509 *subject)
{
    return X509_check_issued(issuer, subject) == X509_V_OK;
}

enum p11p_status p11p_chain_cert_spki_sha256(const unsigned char *der,
                                             size_t len, unsigned char out[32])
{
    enum p11p_status rc = P11P_ERR_PROTOCOL;
    X509 *x = NULL;
    unsigned char *spki = NULL;
    int spki_len = 0;
    EVP_MD *md = NULL;
    unsigned int mdlen = 0;

    if (len > 1024 * 1024) {
        goto out;
    }
    x = der_to_x509(der, (long)len);
    if (x == NULL) {
        goto out;
    }
    spki_len = i2d_PUBKEY(X509_get0_pubkey(x), &spki);
    md = EVP_MD_fetch(p11p_ossl_libctx(), "SHA256", NULL);
    if (spki_len <= 0 || md == NULL
        || EVP_Digest(spki, (size_t)spki_len, out, &mdlen, md, NULL) != 1) {
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    rc = P11P_OK;
out:
    OPENSSL_free(spki);
    EVP_MD_free(md);
    X509_free(x);
    ERR_clear_error();
    return rc;
}

enum p11p_status p11p_chain_cert_serial(const unsigned char *der, size_t len,
                                        char *out, size_t outsz)
{
    enum p11p_status rc = P11P_ERR_PROTOCOL;
    X509 *x = NULL;
    BIGNUM *bn = NULL;
    char *hex = NULL;

    if (len > 1024 * 1024) {
        goto out;
    }
    x = der_to_x509(der, (long)len);
    if (x == NULL) {
        goto out;
    }
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    if (hex == NULL || !p11p_str_copy(out, outsz, hex)) {
        goto out;
    }
    rc = P11P_OK;
out:
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(x);
    ERR_clear_error();
    return rc;
}

static enum p11p_status store_der(X509 *x, unsigned char **out, size_t *out_len)
{
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    unsigned char *copy = NULL;

    if (len <= 0) {
        return P11P_ERR_CRYPTO;
    }
    copy = malloc((size_t)len);
    if (copy == NULL) {
        OPENSSL_free(der);
        return P11P_ERR_NOMEM;
    }
    memcpy(copy, der, (size_t)len);
    OPENSSL_free(der);
    *out = copy;
    *out_len = (size_t)len;
    return P11P_OK;
}

enum p11p_status p11p_chain_parse(const unsigned char *data, size_t len,
                                  const unsigned char *expect_spki_sha256,
                                  struct p11p_remote_result *res, char *why,
                                  size_t whysz)
{
    enum p11p_status rc = P11P_ERR_PROTOCOL;
    struct certset set;
    bool used[P11P_CHAIN_MAX];
    size_t leaf = P11P_CHAIN_MAX;
    size_t nleaf = 0;
    size_t cur = 0;
    unsigned char *leaf_der = NULL;
    size_t leaf_len = 0;
    unsigned char got[32];

    memset(&set, 0, sizeof(set));
    memset(used, 0, sizeof(used));
    if (whysz > 0) {
        why[0] = '\0';
    }
    if (data == NULL || len == 0 || len > 4 * 1024 * 1024) {
        snprintf(why, whysz, "empty or oversized certificate reply");
        goto out;
    }
    if (data[0] == 0x30) {
        X509 *x = der_to_x509(data, (long)len);
        if (x != NULL) {
            certset_add(&set, x);
        } else if (!add_pkcs7(&set, data, (long)len)) {
            snprintf(why, whysz,
                     "DER reply is neither a certificate nor a PKCS#7");
            goto out;
        }
    } else if (!parse_pem(&set, data, len, why, whysz)) {
        goto out;
    }
    if (set.overflow) {
        snprintf(why, whysz, "more than %d certificates in the reply",
                 P11P_CHAIN_MAX);
        goto out;
    }
    /* The leaf: the one certificate that issued none of the others. */
    for (size_t i = 0; i < set.n; i++) {
        bool is_issuer = false;
        for (size_t j = 0; j < set.n && !is_issuer; j++) {
            if (i != j && issued(set.c[i], set.c[j])) {
                is_issuer = true;
            }
        }
        if (!is_issuer) {
            leaf = i;
            nleaf++;
        }
    }
    if (nleaf != 1) {
        snprintf(why, whysz, "%s",
                 nleaf == 0
                     ? "no leaf certificate (every certificate issued another)"
                     : "more than one leaf certificate in the reply");
        goto out;
    }
    rc = store_der(set.c[leaf], &leaf_der, &leaf_len);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = P11P_ERR_PROTOCOL;
    if (expect_spki_sha256 != NULL) {
        if (p11p_chain_cert_spki_sha256(leaf_der, leaf_len, got) != P11P_OK
            || CRYPTO_memcmp(got, expect_spki_sha256, 32) != 0) {
            snprintf(why, whysz, "certificate for a different key");
            goto out;
        }
    }
    used[leaf] = true;
    cur = leaf;
    for (;;) {
        size_t next = P11P_CHAIN_MAX;
        if (issued(set.c[cur], set.c[cur])) {
            break; /* self-signed: the root */
        }
        for (size_t j = 0; j < set.n; j++) {
            if (!used[j] && issued(set.c[j], set.c[cur])) {
                next = j;
                break;
            }
        }
        if (next == P11P_CHAIN_MAX) {
            break;
        }
        unsigned char *der = NULL;
        size_t dlen = 0;
        rc = store_der(set.c[next], &der, &dlen);
        if (rc == P11P_OK) {
            rc = p11p_remote_result_add_chain(res, der, dlen);
        }
        free(der);
        if (rc != P11P_OK) {
            goto out;
        }
        rc = P11P_ERR_PROTOCOL;
        used[next] = true;
        cur = next;
    }
    for (size_t j = 0; j < set.n; j++) {
        if (!used[j]) {
            P11P_DEBUG(
                "remote",
                "a certificate of the reply is not in the leaf's chain; ignored");
        }
    }
    res->cert_der = leaf_der;
    res->cert_len = leaf_len;
    leaf_der = NULL;
    rc = P11P_OK;
out:
    free(leaf_der);
    certset_free(&set);
    ERR_clear_error();
    return rc;
}

static const struct {
    const char *group;
    const char *name;
} curve_names[] = {
    { "prime256v1", "P-256" },
    { "secp384r1", "P-384" },
    { "secp521r1", "P-521" },
};

enum p11p_status p11p_chain_csr_key(const unsigned char *der, size_t len,
                                    char alg[16], char param[16],
                                    unsigned char spki_sha256[32])
{
    enum p11p_status rc = P11P_ERR_INVALID_INPUT;
    X509_REQ *req = NULL;
    const unsigned char *p = der;
    EVP_PKEY *pk = NULL;
    unsigned char *spki = NULL;
    int spki_len = 0;
    EVP_MD *md = NULL;
    unsigned int mdlen = 0;
    char group[64];

    req = X509_REQ_new_ex(p11p_ossl_libctx(), NULL);
    if (req == NULL || len > 64 * 1024
        || d2i_X509_REQ(&req, &p, (long)len) == NULL) {
        goto out;
    }
    pk = X509_REQ_get0_pubkey(req);
    if (pk == NULL) {
        goto out;
    }
    param[0] = '\0';
    if (EVP_PKEY_is_a(pk, "RSA")) {
        p11p_str_copy(alg, 16, "RSA");
        snprintf(param, 16, "%d", EVP_PKEY_get_bits(pk));
    } else if (EVP_PKEY_is_a(pk, "EC")) {
        size_t glen = 0;
        p11p_str_copy(alg, 16, "EC");
        if (EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group),
                                           &glen)
            == 1) {
            p11p_str_copy(param, 16, group);
            for (size_t i = 0; i < sizeof(curve_names) / sizeof(curve_names[0]);
                 i++) {
                if (strcmp(group, curve_names[i].group) == 0) {
                    p11p_str_copy(param, 16, curve_names[i].name);
                }
            }
        }
    } else if (EVP_PKEY_is_a(pk, "ED25519")) {
        p11p_str_copy(alg, 16, "ED25519");
    } else if (EVP_PKEY_is_a(pk, "ED448")) {
        p11p_str_copy(alg, 16, "ED448");
    } else {
        p11p_str_copy(alg, 16, "UNKNOWN");
    }
    spki_len = i2d_PUBKEY(pk, &spki);
    md = EVP_MD_fetch(p11p_ossl_libctx(), "SHA256", NULL);
    if (spki_len <= 0 || md == NULL
        || EVP_Digest(spki, (size_t)spki_len, spki_sha256, &mdlen, md, NULL)
               != 1) {
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    rc = P11P_OK;
out:
    OPENSSL_free(spki);
    EVP_MD_free(md);
    X509_REQ_free(req);
    ERR_clear_error();
    return rc;
}

enum p11p_status p11p_chain_csr_encode(const unsigned char *der, size_t len,
                                       bool pem, char **out)
{
    static const char head[] = "-----BEGIN CERTIFICATE REQUEST-----\n";
    static const char tail[] = "-----END CERTIFICATE REQUEST-----\n";
    size_t b64len = 4 * ((len + 2) / 3);
    char *b64 = NULL;
    char *s = NULL;
    size_t n = 0;

    *out = NULL;
    if (len == 0 || len > 64 * 1024) {
        return P11P_ERR_INVALID_INPUT;
    }
    b64 = malloc(b64len + 1);
    s = malloc(b64len + b64len / 64 + 2 + sizeof(head) + sizeof(tail));
    if (b64 == NULL || s == NULL) {
        free(b64);
        free(s);
        return P11P_ERR_NOMEM;
    }
    EVP_EncodeBlock((unsigned char *)b64, der, (int)len);
    if (!pem) {
        memcpy(s, b64, b64len + 1);
    } else {
        memcpy(s, head, sizeof(head) - 1);
        n = sizeof(head) - 1;
        for (size_t i = 0; i < b64len; i += 64) {
            size_t chunk = b64len - i < 64 ? b64len - i : 64;
            memcpy(s + n, b64 + i, chunk);
            n += chunk;
            s[n++] = '\n';
        }
        memcpy(s + n, tail, sizeof(tail));
    }
    free(b64);
    *out = s;
    return P11P_OK;
}

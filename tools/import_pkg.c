/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal import: the package model shared by the readers (import.h):
 * the device list, format detection by content, error text, DER lists.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>

#include "tools/import.h"

void p11p_import_pkg_free(struct p11p_import_pkg *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        free(p->devs[i].name);
        EVP_PKEY_free(p->devs[i].priv);
        X509_free(p->devs[i].cert);
        sk_X509_pop_free(p->devs[i].chain, X509_free);
    }
    free(p->devs);
    memset(p, 0, sizeof(*p));
}

enum p11p_status p11p_import_pkg_add(struct p11p_import_pkg *p,
                                     const char *name, EVP_PKEY *priv,
                                     X509 *cert, STACK_OF(X509) * chain)
{
    struct p11p_import_dev *d;
    enum p11p_status rc = P11P_ERR_NOMEM;

    if (chain == NULL) {
        chain = sk_X509_new_null();
    }
    if (p->n == p->cap) {
        size_t cap = p->cap == 0 ? 8 : p->cap * 2;
        struct p11p_import_dev *nd = realloc(p->devs, cap * sizeof(*nd));
        if (nd == NULL) {
            goto out;
        }
        p->devs = nd;
        p->cap = cap;
    }
    d = &p->devs[p->n];
    d->name = strdup(name);
    if (d->name == NULL || chain == NULL) {
        free(d->name);
        goto out;
    }
    d->priv = priv;
    d->cert = cert;
    d->chain = chain;
    p->n++;
    return P11P_OK;
out:
    EVP_PKEY_free(priv);
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    return rc;
}

/* True if the first bytes (up to 1 KiB) contain s. */
static bool head_has(const unsigned char *d, size_t n, const char *s)
{
    size_t len = strlen(s);
    size_t lim = n < 1024 ? n : 1024;
    for (size_t i = 0; i + len <= lim; i++) {
        if (memcmp(d + i, s, len) == 0) {
            return true;
        }
    }
    return false;
}

/* DER: a PKCS#12 PFX, or a CMS ContentInfo of type enveloped data. */
static enum p11p_import_kind detect_der(const unsigned char *d, size_t n)
{
    const unsigned char *p = d;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)n);
    CMS_ContentInfo *cms = NULL;
    enum p11p_import_kind k = P11P_IMPORT_UNKNOWN;

    if (p12 != NULL) {
        PKCS12_free(p12);
        return P11P_IMPORT_P12;
    }
    p = d;
    cms = d2i_CMS_ContentInfo(NULL, &p, (long)n);
    if (cms != NULL && OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_enveloped) {
        k = P11P_IMPORT_CMS;
    }
    CMS_ContentInfo_free(cms);
    ERR_clear_error();
    return k;
}

enum p11p_import_kind p11p_import_detect(const unsigned char *d, size_t n)
{
    if (n >= 4 && memcmp(d, "PK\x03\x04", 4) == 0) {
        return P11P_IMPORT_ZIP;
    }
    if (head_has(d, n, "application/pkcs7-mime")
        || head_has(d, n, "application/x-pkcs7-mime")
        || head_has(d, n, "-----BEGIN CMS-----")
        || head_has(d, n, "-----BEGIN PKCS7-----")) {
        return P11P_IMPORT_CMS;
    }
    if (head_has(d, n, "-----BEGIN ")) {
        return P11P_IMPORT_PEM;
    }
    if (n >= 2 && d[0] == 0x30) {
        return detect_der(d, n);
    }
    return P11P_IMPORT_UNKNOWN;
}

const char *p11p_import_kind_name(enum p11p_import_kind k)
{
    static const char *const names[] = {
        [P11P_IMPORT_UNKNOWN] = "unknown", [P11P_IMPORT_P12] = "PKCS#12",
        [P11P_IMPORT_ZIP] = "zip",         [P11P_IMPORT_PEM] = "PEM",
        [P11P_IMPORT_CMS] = "CMS",
    };
    return (size_t)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

enum p11p_status p11p_import_errf(struct p11p_import_err *err,
                                  enum p11p_status st, const char *fmt, ...)
{
    va_list ap;

    err->st = st;
    va_start(ap, fmt);
    vsnprintf(err->why, sizeof(err->why), fmt, ap);
    va_end(ap);
    return st;
}

void p11p_import_ders_free(unsigned char **ders, size_t *lens, size_t n)
{
    for (size_t i = 0; ders != NULL && i < n; i++) {
        OPENSSL_free(ders[i]);
    }
    free(ders);
    free(lens);
}

enum p11p_status p11p_import_ders(STACK_OF(X509) * sk, unsigned char ***out,
                                  size_t **out_lens, size_t *out_n)
{
    size_t n = (size_t)sk_X509_num(sk);
    unsigned char **ders = calloc(n + 1, sizeof(*ders));
    size_t *lens = calloc(n + 1, sizeof(*lens));

    if (ders == NULL || lens == NULL) {
        p11p_import_ders_free(ders, lens, 0);
        return P11P_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        int len = i2d_X509(sk_X509_value(sk, (int)i), &ders[i]);
        if (len <= 0) {
            p11p_import_ders_free(ders, lens, n);
            return P11P_ERR_CRYPTO;
        }
        lens[i] = (size_t)len;
    }
    *out = ders;
    *out_lens = lens;
    *out_n = n;
    return P11P_OK;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate checks before storing (see verify.h): key match by SPKI DER
 * and chain verification with an X509_STORE in the core's libctx.
 */
#include "core/enroll/verify.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "core/base/log.h"
#include "core/base/ossl.h"

static X509 *parse_cert(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = X509_new_ex(p11p_ossl_libctx(), NULL);
    if (x == NULL || d2i_X509(&x, &p, (long)len) == NULL || p != der + len) {
        X509_free(x);
        return NULL;
    }
    return x;
}

enum p11p_status p11p_verify_key_match(const unsigned char *cert,
                                       size_t cert_len,
                                       const unsigned char *spki,
                                       size_t spki_len)
{
    X509 *x = parse_cert(cert, cert_len);
    unsigned char *der = NULL;
    int n = x != NULL ? i2d_PUBKEY(X509_get0_pubkey(x), &der) : -1;
    enum p11p_status rc = P11P_ERR_PROTOCOL;

    if (n > 0 && (size_t)n == spki_len && memcmp(der, spki, spki_len) == 0) {
        rc = P11P_OK;
    }
    OPENSSL_free(der);
    X509_free(x);
    return rc;
}

static enum p11p_status add_ders(STACK_OF(X509) * sk,
                                 const struct p11p_verify_ders *l)
{
    for (size_t i = 0; l != NULL && i < l->n; i++) {
        X509 *x = parse_cert(l->der[i], l->len[i]);
        if (x == NULL) {
            return P11P_ERR_PROTOCOL;
        }
        if (sk_X509_push(sk, x) <= 0) {
            X509_free(x);
            return P11P_ERR_NOMEM;
        }
    }
    return P11P_OK;
}

static enum p11p_status add_pem_file(STACK_OF(X509) * sk, const char *path,
                                     char *why, size_t why_size)
{
    BIO *bio = BIO_new_file(path, "r");
    X509 *x = NULL;
    enum p11p_status rc = P11P_OK;

    if (bio == NULL) {
        snprintf(why, why_size, "cannot read trust_anchors file %s", path);
        return P11P_ERR_CONFIG;
    }
    for (;;) {
        x = X509_new_ex(p11p_ossl_libctx(), NULL);
        if (x == NULL) {
            rc = P11P_ERR_NOMEM;
            break;
        }
        if (PEM_read_bio_X509(bio, &x, NULL, NULL) == NULL) {
            X509_free(x);
            break;
        }
        if (sk_X509_push(sk, x) <= 0) {
            X509_free(x);
            rc = P11P_ERR_NOMEM;
            break;
        }
    }
    ERR_clear_error(); /* the end of the file reads as an error */
    BIO_free(bio);
    if (rc == P11P_OK && sk_X509_num(sk) == 0) {
        snprintf(why, why_size, "no certificate in trust_anchors file %s",
                 path);
        rc = P11P_ERR_CONFIG;
    }
    return rc;
}

enum p11p_status p11p_verify_chain(const char *token, const unsigned char *cert,
                                   size_t cert_len,
                                   const struct p11p_verify_ders *chain,
                                   const struct p11p_verify_ders *anchors,
                                   const char *anchors_file, char *why,
                                   size_t why_size)
{
    enum p11p_status rc = P11P_ERR_PROTOCOL;
    X509 *leaf = NULL;
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    STACK_OF(X509) *trusted = sk_X509_new_null();
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new_ex(p11p_ossl_libctx(), NULL);

    snprintf(why, why_size, "chain does not verify");
    if (untrusted == NULL || trusted == NULL || store == NULL || ctx == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    leaf = parse_cert(cert, cert_len);
    if (leaf == NULL) {
        snprintf(why, why_size, "the certificate does not parse");
        goto out;
    }
    if (add_ders(untrusted, chain) != P11P_OK) {
        snprintf(why, why_size, "a chain certificate does not parse");
        goto out;
    }
    if (anchors != NULL && anchors->n > 0) {
        rc = add_ders(trusted, anchors);
    } else if (anchors_file != NULL) {
        rc = add_pem_file(trusted, anchors_file, why, why_size);
    } else {
        rc = P11P_OK;
        for (int i = 0; i < sk_X509_num(untrusted); i++) {
            X509 *c = sk_X509_value(untrusted, i);
            if (X509_check_issued(c, c) == X509_V_OK && X509_up_ref(c) == 1
                && sk_X509_push(trusted, c) <= 0) {
                X509_free(c);
                rc = P11P_ERR_NOMEM;
            }
        }
        P11P_WARN("enroll",
                  "token \"%s\": no trust_anchors configured; the chain is "
                  "checked against its own root, which pins nothing",
                  token);
    }
    if (rc != P11P_OK) {
        goto out;
    }
    rc = P11P_ERR_PROTOCOL;
    for (int i = 0; i < sk_X509_num(trusted); i++) {
        if (X509_STORE_add_cert(store, sk_X509_value(trusted, i)) != 1) {
            ERR_clear_error(); /* a duplicate */
        }
    }
    if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    if (X509_verify_cert(ctx) != 1) {
        snprintf(why, why_size, "chain does not verify: %s",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        ERR_clear_error();
        goto out;
    }
    rc = P11P_OK;
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_pop_free(untrusted, X509_free);
    sk_X509_pop_free(trusted, X509_free);
    X509_free(leaf);
    return rc;
}

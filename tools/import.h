/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal import (issue 7, docs/guides/import.md): reading the packages
 * portals hand out for portal-generated keys into devices (key +
 * certificate + chain) that p11p_enroll_import stores. One reader per
 * format: import_p12.c (PKCS#12), import_pem.c (PEM, and pairing keys with
 * certificates by public key), import_zip.c (zip of either, libzip),
 * import_cms.c (CMS EnvelopedData decrypted with a key of the token),
 * import_pass.c (the package password). Everything decrypted stays in
 * memory (wiped buffers, EVP_PKEY_free), never in a file.
 */
#ifndef P11P_TOOLS_IMPORT_H
#define P11P_TOOLS_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/base/secret.h"
#include "core/base/status.h"
#include "tools/tool.h"

/* One device of a package. */
struct p11p_import_dev {
    char *name; /* "file" or "file:entry" */
    EVP_PKEY *priv;
    X509 *cert;
    STACK_OF(X509) * chain; /* CA certificates (may be empty) */
};

/* What a package holds. */
struct p11p_import_pkg {
    struct p11p_import_dev *devs;
    size_t n, cap;
};

void p11p_import_pkg_free(struct p11p_import_pkg *p); /* the fields */

/* Adds a device (takes priv, cert and chain, also on failure). */
enum p11p_status p11p_import_pkg_add(struct p11p_import_pkg *p,
                                     const char *name, EVP_PKEY *priv,
                                     X509 *cert, STACK_OF(X509) * chain);

/* The formats, detected by content. */
enum p11p_import_kind {
    P11P_IMPORT_UNKNOWN = 0,
    P11P_IMPORT_P12,
    P11P_IMPORT_ZIP,
    P11P_IMPORT_PEM,
    P11P_IMPORT_CMS,
};
enum p11p_import_kind p11p_import_detect(const unsigned char *d, size_t n);
const char *p11p_import_kind_name(enum p11p_import_kind k);

/* The package password, asked for once when a package needs one: the
 * --password-source FILE (first line, mode 0600), P11PORTAL_IMPORT_PASSWORD,
 * or a prompt on the terminal (echo off). */
struct p11p_import_pass {
    const struct p11p_tool *t;
    const char *source; /* --password-source, or NULL */
    struct p11p_secret *pw;
    bool failed; /* none available: said once */
};
/* The password (borrowed from pp), or NULL (explained on stderr once). */
const struct p11p_secret *p11p_import_pass_get(struct p11p_import_pass *pp);
void p11p_import_pass_clear(struct p11p_import_pass *pp);

/* Why a package was refused, for the message and the exit code. */
struct p11p_import_err {
    enum p11p_status st; /* P11P_ERR_INVALID_INPUT: bad input (exit 2) */
    char why[512];
};

/* Readers: each adds the devices of one package to pkg. name names the
 * package in messages. On failure err says why (never the password). */
enum p11p_status p11p_import_p12_read(struct p11p_import_pkg *pkg,
                                      const char *name, const unsigned char *d,
                                      size_t n, struct p11p_import_pass *pp,
                                      struct p11p_import_err *err);

/* PEM: collects keys and certificates (of one file, or of every PEM entry
 * of a zip) into a pool; p11p_import_pem_pair then pairs keys with their
 * certificates by public key and gives each its chain. */
struct p11p_import_pem_pool;
struct p11p_import_pem_pool *p11p_import_pem_pool_new(void);
void p11p_import_pem_pool_free(struct p11p_import_pem_pool *pool);
enum p11p_status p11p_import_pem_read(struct p11p_import_pem_pool *pool,
                                      const char *name, const unsigned char *d,
                                      size_t n, struct p11p_import_pass *pp,
                                      struct p11p_import_err *err);
enum p11p_status p11p_import_pem_pair(struct p11p_import_pem_pool *pool,
                                      struct p11p_import_pkg *pkg,
                                      struct p11p_import_err *err);

enum p11p_status p11p_import_zip_read(struct p11p_import_pkg *pkg,
                                      const char *name, const unsigned char *d,
                                      size_t n, struct p11p_import_pass *pp,
                                      struct p11p_import_err *err);

/* CMS EnvelopedData: finds the recipient's key on the token (certificate
 * objects matched by issuer and serial or subject key id, the private key
 * with the same CKA_ID), decrypts the content-encryption key with it
 * (RSA PKCS#1 v1.5 or OAEP, as the recipient info says) and the content
 * with that. *out is the content (a wiped buffer). */
enum p11p_status p11p_import_cms_decrypt(struct p11p_tool *t, const char *name,
                                         const unsigned char *d, size_t n,
                                         struct p11p_secret **out,
                                         struct p11p_import_err *err);

/* Sets err (printf format) and returns st. */
enum p11p_status p11p_import_errf(struct p11p_import_err *err,
                                  enum p11p_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The chain certificates of stack as DER arrays (for p11p_enroll_import).
 * Free with p11p_import_ders_free. */
enum p11p_status p11p_import_ders(STACK_OF(X509) * sk, unsigned char ***out,
                                  size_t **out_lens, size_t *out_n);
void p11p_import_ders_free(unsigned char **ders, size_t *lens, size_t n);

#endif

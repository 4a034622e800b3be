/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal import: PKCS#12 (.p12/.pfx) with a password (import.h). The
 * MAC is checked first, so that a wrong password says so. PKCS#12 files
 * of older portals encrypt with RC2-40 (or RC4, single DES), which
 * OpenSSL 3 keeps in its "legacy" provider: when the default provider
 * cannot decrypt a file, the legacy provider is loaded into the tool's
 * default library context once and the file is read again; when that
 * provider is missing the message says so. (PKCS12_parse reads in the
 * default context: OpenSSL 3.0 has no way to parse a PFX in another one.
 * The tool itself never loads the p11portal provider.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>

#include "tools/import.h"

static OSSL_PROVIDER *legacy;
static OSSL_PROVIDER *deflt;

/* Loads the legacy provider (and keeps the default one) once. */
static bool load_legacy(void)
{
    if (legacy == NULL) {
        deflt = OSSL_PROVIDER_load(NULL, "default");
        legacy = OSSL_PROVIDER_load(NULL, "legacy");
        ERR_clear_error();
    }
    return legacy != NULL;
}

static enum p11p_status parse(PKCS12 *p12, const struct p11p_secret *pw,
                              EVP_PKEY **key, X509 **cert, STACK_OF(X509) * *ca)
{
    *key = NULL;
    *cert = NULL;
    *ca = NULL;
    if (PKCS12_parse(p12, (const char *)pw->data, key, cert, ca) == 1) {
        return P11P_OK;
    }
    EVP_PKEY_free(*key);
    X509_free(*cert);
    sk_X509_pop_free(*ca, X509_free);
    *key = NULL;
    *cert = NULL;
    *ca = NULL;
    return P11P_ERR_CRYPTO;
}

enum p11p_status p11p_import_p12_read(struct p11p_import_pkg *pkg,
                                      const char *name, const unsigned char *d,
                                      size_t n, struct p11p_import_pass *pp,
                                      struct p11p_import_err *err)
{
    const unsigned char *p = d;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)n);
    const struct p11p_secret *pw = NULL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    STACK_OF(X509) *ca = NULL;
    enum p11p_status rc;

    if (p12 == NULL) {
        rc = p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                              "%s: not a PKCS#12 file (corrupt?)", name);
        goto out;
    }
    pw = p11p_import_pass_get(pp);
    if (pw == NULL) {
        rc = p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                              "%s: no password for this PKCS#12 file", name);
        goto out;
    }
    if (PKCS12_mac_present(p12)
        && PKCS12_verify_mac(p12, (const char *)pw->data, (int)pw->len) != 1) {
        rc = p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                              "%s: wrong password (the PKCS#12 MAC does not "
                              "verify; or the file is damaged)",
                              name);
        goto out;
    }
    rc = parse(p12, pw, &key, &cert, &ca);
    if (rc != P11P_OK) {
        ERR_clear_error();
        if (!load_legacy()) {
            rc = p11p_import_errf(
                err, P11P_ERR_INVALID_INPUT,
                "%s: cannot decrypt the PKCS#12 file; if it uses legacy "
                "encryption (RC2-40, RC4, DES) OpenSSL's legacy provider is "
                "needed and could not be loaded (OPENSSL_MODULES)",
                name);
            goto out;
        }
        rc = parse(p12, pw, &key, &cert, &ca);
    }
    if (rc != P11P_OK) {
        rc = p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                              "%s: cannot decrypt the PKCS#12 file (wrong "
                              "password or unsupported encryption)",
                              name);
        goto out;
    }
    if (key == NULL || cert == NULL) {
        rc = p11p_import_errf(
            err, P11P_ERR_INVALID_INPUT, "%s: %s", name,
            key == NULL ? "the PKCS#12 file holds no private key"
            : sk_X509_num(ca) > 0
                ? "the private key matches no certificate of the file"
                : "the PKCS#12 file holds no certificate");
        goto out;
    }
    rc = p11p_import_pkg_add(pkg, name, key, cert, ca);
    key = NULL;
    cert = NULL;
    ca = NULL;
out:
    ERR_clear_error();
    EVP_PKEY_free(key);
    X509_free(cert);
    sk_X509_pop_free(ca, X509_free);
    PKCS12_free(p12);
    return rc;
}

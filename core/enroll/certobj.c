/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate object attributes from a DER X.509 certificate
 * (p11p_certobj_attrs, declared in enroll.h): what C_GetAttributeValue of a
 * CKO_CERTIFICATE / CKC_X_509 object returns (PKCS#11 3.0 section 4.6.3).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/base/log.h"
#include "core/base/ossl.h"
#include "core/enroll/enroll.h"

/* CK_DATE from an ASN1_TIME (YYYYMMDD characters). */
static bool to_ck_date(const ASN1_TIME *t, CK_DATE *out)
{
    struct tm tm;
    char buf[32];
    if (ASN1_TIME_to_tm(t, &tm) != 1 || tm.tm_year + 1900 > 9999
        || tm.tm_year + 1900 < 0 || tm.tm_mon < 0 || tm.tm_mon > 11
        || tm.tm_mday < 1 || tm.tm_mday > 31) {
        return false;
    }
    snprintf(buf, sizeof(buf), "%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday);
    memcpy(out->year, buf, 4);
    memcpy(out->month, buf + 4, 2);
    memcpy(out->day, buf + 6, 2);
    return true;
}

static enum p11p_status set_sha1(struct p11p_attrlist *l,
                                 CK_ATTRIBUTE_TYPE type,
                                 const unsigned char *data, size_t len,
                                 size_t keep)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD *sha1 = EVP_MD_fetch(p11p_ossl_libctx(), "SHA1", NULL);
    enum p11p_status rc = P11P_ERR_CRYPTO;

    if (sha1 != NULL && EVP_Digest(data, len, md, &mdlen, sha1, NULL) == 1) {
        rc = p11p_attrlist_set(l, type, md, keep < mdlen ? keep : mdlen);
    }
    EVP_MD_free(sha1);
    return rc;
}

/* i2d of X509_NAME / ASN1_INTEGER / PUBKEY into an attribute. */
static enum p11p_status set_i2d(struct p11p_attrlist *l, CK_ATTRIBUTE_TYPE type,
                                int n, unsigned char *der)
{
    enum p11p_status rc =
        n > 0 ? p11p_attrlist_set(l, type, der, (size_t)n) : P11P_ERR_CRYPTO;
    OPENSSL_free(der);
    return rc;
}

enum p11p_status p11p_certobj_attrs(const unsigned char *der, size_t len,
                                    const char *label,
                                    const unsigned char *ckaid,
                                    size_t ckaid_len, CK_ULONG category,
                                    struct p11p_attrlist *out)
{
    enum p11p_status rc = P11P_ERR_INVALID_INPUT;
    const unsigned char *p = der;
    X509 *x = X509_new_ex(p11p_ossl_libctx(), NULL);
    unsigned char *tmp = NULL;
    CK_DATE date;
    const ASN1_BIT_STRING *pubbits = NULL;
    const ASN1_OCTET_STRING *akid = NULL;
    int n = 0;

    if (x == NULL || d2i_X509(&x, &p, (long)len) == NULL || p != der + len) {
        P11P_ERROR("enroll",
                   "certificate object: %zu bytes are not a DER "
                   "X.509 certificate",
                   len);
        goto out;
    }
    rc = p11p_attrlist_set_ulong(out, CKA_CLASS, CKO_CERTIFICATE);
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_ulong(out, CKA_CERTIFICATE_TYPE, CKC_X_509);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_bool(out, CKA_TOKEN, true);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_bool(out, CKA_PRIVATE, false);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_bool(out, CKA_MODIFIABLE, true);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_bool(out, CKA_TRUSTED, false);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_ulong(out, CKA_CERTIFICATE_CATEGORY, category);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set(out, CKA_VALUE, der, len);
    }
    if (rc == P11P_OK) {
        tmp = NULL;
        n = i2d_X509_NAME(X509_get_subject_name(x), &tmp);
        rc = set_i2d(out, CKA_SUBJECT, n, tmp);
    }
    if (rc == P11P_OK) {
        tmp = NULL;
        n = i2d_X509_NAME(X509_get_issuer_name(x), &tmp);
        rc = set_i2d(out, CKA_ISSUER, n, tmp);
    }
    if (rc == P11P_OK) {
        tmp = NULL;
        n = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &tmp);
        rc = set_i2d(out, CKA_SERIAL_NUMBER, n, tmp);
    }
    if (rc == P11P_OK) {
        tmp = NULL;
        n = i2d_PUBKEY(X509_get0_pubkey(x), &tmp);
        rc = set_i2d(out, CKA_PUBLIC_KEY_INFO, n, tmp);
    }
    if (rc == P11P_OK && to_ck_date(X509_get0_notBefore(x), &date)) {
        rc = p11p_attrlist_set(out, CKA_START_DATE, &date, sizeof(date));
    }
    if (rc == P11P_OK && to_ck_date(X509_get0_notAfter(x), &date)) {
        rc = p11p_attrlist_set(out, CKA_END_DATE, &date, sizeof(date));
    }
    pubbits = X509_get0_pubkey_bitstr(x);
    if (rc == P11P_OK && pubbits != NULL) {
        rc = set_sha1(out, CKA_HASH_OF_SUBJECT_PUBLIC_KEY, pubbits->data,
                      (size_t)pubbits->length, 20);
    }
    /* The issuer's key hash: the authority key id when it is a SHA-1. */
    akid = X509_get0_authority_key_id(x);
    if (rc == P11P_OK && akid != NULL && ASN1_STRING_length(akid) == 20) {
        rc = p11p_attrlist_set(out, CKA_HASH_OF_ISSUER_PUBLIC_KEY,
                               ASN1_STRING_get0_data(akid), 20);
    }
    if (rc == P11P_OK) {
        rc = set_sha1(out, CKA_CHECK_VALUE, der, len, 3);
    }
    if (rc == P11P_OK && label != NULL) {
        rc = p11p_attrlist_set_str(out, CKA_LABEL, label);
    }
    if (rc == P11P_OK && ckaid != NULL) {
        rc = p11p_attrlist_set(out, CKA_ID, ckaid, ckaid_len);
    }
out:
    X509_free(x);
    return rc;
}

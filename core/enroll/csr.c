/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CSR building (see csr.h): subject and SAN parsing, the signing mechanism
 * per key type (one table), signing the TBS through a callback (the key
 * backend in production), and setting the signature into the request.
 */
#include "core/enroll/csr.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/base/log.h"
#include "core/base/ossl.h"

#define SUBJECT_MAX 2048
#define SIG_MAX     1024

/* How a key type signs a CSR. */
struct sign_alg {
    const char *key_type; /* EVP_PKEY_is_a name */
    int min_bits;         /* the row applies from this size */
    CK_MECHANISM_TYPE mech;
    int sig_nid;
    int param_type; /* V_ASN1_NULL (RSA) or V_ASN1_UNDEF */
    bool ecdsa;     /* PKCS#11 r||s, to be DER-encoded */
};

/* clang-format off */
static const struct sign_alg sign_algs_table[] = {
    { "RSA",     0,   CKM_SHA256_RSA_PKCS, NID_sha256WithRSAEncryption, V_ASN1_NULL,  false },
    { "EC",      384, CKM_ECDSA_SHA512,    NID_ecdsa_with_SHA512,       V_ASN1_UNDEF, true },
    { "EC",      320, CKM_ECDSA_SHA384,    NID_ecdsa_with_SHA384,       V_ASN1_UNDEF, true },
    { "EC",      0,   CKM_ECDSA_SHA256,    NID_ecdsa_with_SHA256,       V_ASN1_UNDEF, true },
    { "ED25519", 0,   CKM_EDDSA,           NID_ED25519,                 V_ASN1_UNDEF, false },
};
/* clang-format on */

/* P-521 (521 bits) takes SHA-512, P-384 SHA-384, P-256 SHA-256. */
static const struct sign_alg *find_sign_alg(EVP_PKEY *pub)
{
    int bits = EVP_PKEY_get_bits(pub);
    for (size_t i = 0; i < sizeof(sign_algs_table) / sizeof(sign_algs_table[0]);
         i++) {
        if (EVP_PKEY_is_a(pub, sign_algs_table[i].key_type)
            && (sign_algs_table[i].min_bits == 0
                || bits > sign_algs_table[i].min_bits)) {
            return &sign_algs_table[i];
        }
    }
    return NULL;
}

/* Splits s at unescaped sep into "type=value" items and adds them. */
enum p11p_status p11p_csr_parse_subject(const char *subject, X509_NAME **out)
{
    enum p11p_status rc = P11P_ERR_INVALID_INPUT;
    X509_NAME *name = NULL;
    char *buf = NULL;
    size_t len = subject != NULL ? strlen(subject) : 0;
    char sep = ',';
    const char *p = subject;
    size_t n = 0;
    size_t entries = 0;

    *out = NULL;
    if (len == 0 || len > SUBJECT_MAX) {
        P11P_ERROR("enroll", "subject \"%s\": empty or longer than %d bytes",
                   subject != NULL ? subject : "", SUBJECT_MAX);
        goto out;
    }
    if (*p == '/') {
        sep = '/';
        p++;
    }
    name = X509_NAME_new();
    buf = malloc(len + 1);
    if (name == NULL || buf == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        /* One item, unescaped, into buf. */
        n = 0;
        while (*p != '\0' && *p != sep) {
            if (*p == '\\' && p[1] != '\0') {
                p++;
            }
            buf[n++] = *p++;
        }
        buf[n] = '\0';
        char *item = buf;
        while (*item == ' ') {
            item++;
        }
        char *eq = strchr(item, '=');
        if (eq == NULL || eq == item) {
            P11P_ERROR("enroll", "subject \"%s\": \"%s\" is not TYPE=value",
                       subject, item);
            goto out;
        }
        char *tend = eq;
        while (tend > item && tend[-1] == ' ') {
            tend--;
        }
        *tend = '\0';
        char *value = eq + 1;
        while (*value == ' ') {
            value++;
        }
        char *vend = value + strlen(value);
        while (vend > value && vend[-1] == ' ') {
            *--vend = '\0';
        }
        if (*value == '\0') {
            P11P_ERROR("enroll", "subject \"%s\": %s has an empty value",
                       subject, item);
            goto out;
        }
        if (X509_NAME_add_entry_by_txt(name, item, MBSTRING_UTF8,
                                       (const unsigned char *)value, -1, -1, 0)
            != 1) {
            p11p_ossl_log_errors("enroll", "subject attribute");
            P11P_ERROR("enroll",
                       "subject \"%s\": unknown attribute type or bad value "
                       "for %s",
                       subject, item);
            goto out;
        }
        entries++;
        if (*p == '\0') {
            break;
        }
        p++; /* the separator */
        if (*p == '\0') {
            break; /* a trailing separator */
        }
    }
    if (entries == 0) {
        P11P_ERROR("enroll", "subject \"%s\": no attributes", subject);
        goto out;
    }
    *out = name;
    name = NULL;
    rc = P11P_OK;
out:
    free(buf);
    X509_NAME_free(name);
    return rc;
}

static enum p11p_status add_sans(X509_REQ *req, const char *sans)
{
    enum p11p_status rc = P11P_ERR_INVALID_INPUT;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    X509_EXTENSION *ext = NULL;

    if (sans == NULL || sans[0] == '\0') {
        return P11P_OK;
    }
    ext = X509V3_EXT_nconf_nid(NULL, NULL, NID_subject_alt_name, sans);
    if (ext == NULL) {
        p11p_ossl_log_errors("enroll", "subjectAltName");
        P11P_ERROR("enroll",
                   "subject alternative names \"%s\": expected "
                   "DNS:name,IP:address,email:addr,URI:uri",
                   sans);
        goto out;
    }
    exts = sk_X509_EXTENSION_new_null();
    if (exts == NULL || sk_X509_EXTENSION_push(exts, ext) <= 0) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    ext = NULL; /* owned by exts */
    if (X509_REQ_add_extensions(req, exts) != 1) {
        p11p_ossl_log_errors("enroll", "adding the extension request");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    rc = P11P_OK;
out:
    X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

/* PKCS#11 ECDSA r||s -> DER ECDSA-Sig-Value. */
static enum p11p_status ecdsa_to_der(const unsigned char *sig, size_t len,
                                     unsigned char **out, size_t *out_len)
{
    enum p11p_status rc = P11P_ERR_CRYPTO;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = NULL;
    BIGNUM *s = NULL;
    unsigned char *der = NULL;
    int n;

    *out = NULL;
    if (es == NULL || len == 0 || len % 2 != 0) {
        goto out;
    }
    r = BN_bin2bn(sig, (int)(len / 2), NULL);
    s = BN_bin2bn(sig + len / 2, (int)(len / 2), NULL);
    if (r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        goto out;
    }
    r = NULL;
    s = NULL;
    n = i2d_ECDSA_SIG(es, &der);
    if (n <= 0) {
        goto out;
    }
    *out = der;
    *out_len = (size_t)n;
    rc = P11P_OK;
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return rc;
}

/* Puts the signature and its algorithm into req. */
static enum p11p_status set_signature(X509_REQ *req, const struct sign_alg *a,
                                      const unsigned char *sig, size_t len)
{
    enum p11p_status rc = P11P_ERR_CRYPTO;
    X509_ALGOR *alg = X509_ALGOR_new();
    ASN1_BIT_STRING *bits = ASN1_BIT_STRING_new();
    unsigned char *der = NULL;
    size_t der_len = 0;

    if (alg == NULL || bits == NULL
        || X509_ALGOR_set0(alg, OBJ_nid2obj(a->sig_nid), a->param_type, NULL)
               != 1) {
        goto out;
    }
    if (a->ecdsa) {
        rc = ecdsa_to_der(sig, len, &der, &der_len);
        if (rc != P11P_OK) {
            goto out;
        }
        rc = P11P_ERR_CRYPTO;
        sig = der;
        len = der_len;
    }
    if (ASN1_BIT_STRING_set(bits, (unsigned char *)sig, (int)len) != 1) {
        goto out;
    }
    /* No unused bits: keep trailing zero bytes of the signature. */
    bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    if (X509_REQ_set1_signature_algo(req, alg) != 1) {
        goto out;
    }
    X509_REQ_set0_signature(req, bits);
    bits = NULL;
    rc = P11P_OK;
out:
    if (rc != P11P_OK) {
        p11p_ossl_log_errors("enroll", "setting the CSR signature");
    }
    OPENSSL_free(der);
    ASN1_BIT_STRING_free(bits);
    X509_ALGOR_free(alg);
    return rc;
}

/*
 * Fills the request's SubjectPublicKeyInfo from the key's encoded point
 * (EC named curves, Ed25519) without X509_REQ_set_pubkey, which on OpenSSL
 * 3.0 runs the encoder machinery: ~400 us against ~17 us per CSR for P-256
 * (DESIGN.md "Performance budget"; measured with a loop of 3000 requests,
 * same DER out). Returns false when the key is of another kind (RSA): the
 * caller then takes the slow path.
 */
static bool set_spki_fast(X509_REQ *req, EVP_PKEY *pub)
{
    unsigned char point[160];
    size_t len = 0;
    char group[64];
    int alg_nid = NID_undef;
    int curve = NID_undef;
    unsigned char *copy = NULL;
    X509_PUBKEY *xpk = X509_REQ_get_X509_PUBKEY(req);

    if (xpk == NULL
        || EVP_PKEY_get_octet_string_param(pub,
                                           OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                           point, sizeof(point), &len)
               != 1) {
        ERR_clear_error();
        return false;
    }
    if (EVP_PKEY_is_a(pub, "EC")) {
        if (EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME,
                                           group, sizeof(group), NULL)
            != 1) {
            ERR_clear_error();
            return false;
        }
        curve = OBJ_txt2nid(group);
        if (curve == NID_undef) {
            curve = EC_curve_nist2nid(group);
        }
        alg_nid = NID_X9_62_id_ecPublicKey;
    } else if (EVP_PKEY_is_a(pub, "ED25519")) {
        alg_nid = NID_ED25519;
    }
    if (alg_nid == NID_undef
        || (alg_nid == NID_X9_62_id_ecPublicKey && curve == NID_undef)) {
        return false;
    }
    copy = OPENSSL_memdup(point, len);
    if (copy == NULL) {
        return false;
    }
    if (X509_PUBKEY_set0_param(
            xpk, OBJ_nid2obj(alg_nid),
            curve != NID_undef ? V_ASN1_OBJECT : V_ASN1_UNDEF,
            curve != NID_undef ? OBJ_nid2obj(curve) : NULL, copy, (int)len)
        != 1) {
        OPENSSL_free(copy);
        ERR_clear_error();
        return false;
    }
    return true;
}

enum p11p_status p11p_csr_build_with(EVP_PKEY *pub, const char *subject,
                                     const char *sans, p11p_csr_sign_fn sign,
                                     void *ctx, unsigned char **out,
                                     size_t *out_len)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    X509_REQ *req = NULL;
    X509_NAME *name = NULL;
    unsigned char *tbs = NULL;
    unsigned char *der = NULL;
    unsigned char sig[SIG_MAX];
    size_t sig_len = sizeof(sig);
    const struct sign_alg *a = NULL;
    CK_MECHANISM mech = { 0, NULL, 0 };
    int n;

    *out = NULL;
    a = find_sign_alg(pub);
    if (a == NULL) {
        P11P_ERROR("enroll", "no CSR signature algorithm for a %s key",
                   EVP_PKEY_get0_type_name(pub));
        rc = P11P_ERR_UNSUPPORTED;
        goto out;
    }
    rc = p11p_csr_parse_subject(subject, &name);
    if (rc != P11P_OK) {
        goto out;
    }
    req = X509_REQ_new_ex(p11p_ossl_libctx(), NULL);
    if (req == NULL || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1
        || X509_REQ_set_subject_name(req, name) != 1
        || (!set_spki_fast(req, pub) && X509_REQ_set_pubkey(req, pub) != 1)) {
        p11p_ossl_log_errors("enroll", "building the CSR");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    rc = add_sans(req, sans);
    if (rc != P11P_OK) {
        goto out;
    }
    n = i2d_re_X509_REQ_tbs(req, &tbs);
    if (n <= 0) {
        p11p_ossl_log_errors("enroll", "encoding the CSR info");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    mech.mechanism = a->mech;
    rc = sign(ctx, &mech, tbs, (size_t)n, sig, &sig_len);
    if (rc != P11P_OK) {
        P11P_ERROR("enroll", "signing the CSR for \"%s\" failed: %s", subject,
                   p11p_status_text(rc));
        goto out;
    }
    rc = set_signature(req, a, sig, sig_len);
    if (rc != P11P_OK) {
        goto out;
    }
    n = i2d_X509_REQ(req, &der);
    if (n <= 0) {
        p11p_ossl_log_errors("enroll", "encoding the CSR");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    *out = malloc((size_t)n);
    if (*out == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    memcpy(*out, der, (size_t)n);
    *out_len = (size_t)n;
    rc = P11P_OK;
out:
    OPENSSL_free(tbs);
    OPENSSL_free(der);
    X509_NAME_free(name);
    X509_REQ_free(req);
    return rc;
}

/* Signs through the key backend. */
static enum p11p_status sign_with_key(void *ctx, const CK_MECHANISM *mech,
                                      const unsigned char *tbs, size_t tbs_len,
                                      unsigned char *sig, size_t *sig_len)
{
    struct p11p_key *key = ctx;
    struct p11p_key_op *op = NULL;
    enum p11p_status rc;

    rc = p11p_key_op_init(key, P11P_KEY_OP_SIGN, mech, &op);
    if (rc == P11P_OK && p11p_key_op_max_output(op) > *sig_len) {
        rc = P11P_ERR_INTERNAL;
    }
    if (rc == P11P_OK) {
        rc = p11p_key_op_oneshot(op, tbs, tbs_len, sig, sig_len);
    }
    p11p_key_op_free(op);
    return rc;
}

enum p11p_status p11p_csr_build(struct p11p_key *key, const char *subject,
                                const char *sans, unsigned char **out,
                                size_t *out_len)
{
    return p11p_csr_build_with(p11p_key_get0_public(key), subject, sans,
                               sign_with_key, key, out, out_len);
}

enum p11p_status p11p_csr_inspect(const unsigned char *der, size_t len,
                                  EVP_PKEY **out_pub, char **out_subject)
{
    enum p11p_status rc = P11P_ERR_INVALID_INPUT;
    X509_REQ *req = X509_REQ_new_ex(p11p_ossl_libctx(), NULL);
    const unsigned char *p = der;
    EVP_PKEY *pub = NULL;
    char *subj = NULL;

    *out_pub = NULL;
    if (out_subject != NULL) {
        *out_subject = NULL;
    }
    if (req == NULL || d2i_X509_REQ(&req, &p, (long)len) == NULL
        || p != der + len) {
        P11P_ERROR("enroll",
                   "the CSR (%zu bytes) is not a DER PKCS#10 "
                   "request",
                   len);
        goto out;
    }
    pub = X509_REQ_get_pubkey(req);
    if (pub == NULL
        || X509_REQ_verify_ex(req, pub, p11p_ossl_libctx(), NULL) != 1) {
        p11p_ossl_log_errors("enroll", "CSR signature");
        P11P_ERROR("enroll", "the CSR's signature does not verify");
        goto out;
    }
    if (out_subject != NULL) {
        subj = X509_NAME_oneline(X509_REQ_get_subject_name(req), NULL, 0);
        if (subj == NULL) {
            rc = P11P_ERR_NOMEM;
            goto out;
        }
        *out_subject = strdup(subj);
        if (*out_subject == NULL) {
            rc = P11P_ERR_NOMEM;
            goto out;
        }
    }
    *out_pub = pub;
    pub = NULL;
    rc = P11P_OK;
out:
    OPENSSL_free(subj);
    EVP_PKEY_free(pub);
    X509_REQ_free(req);
    return rc;
}

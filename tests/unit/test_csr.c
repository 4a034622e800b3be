/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/enroll/csr.c: subject parsing, SAN extension request,
 * and CSRs for RSA, EC P-256/384/521 and Ed25519 keys signed through a
 * PKCS#11-style callback (ECDSA as raw r||s, as a token returns it), each
 * checked with OpenSSL.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/enroll/csr.h"
#include "tests/unit/check.h"

#ifdef P11P_TEST_KEY_STUBS
/* core/keys is not built yet: csr.c's backend path is not used here. */
enum p11p_status p11p_key_op_init(struct p11p_key *k,
                                  enum p11p_key_op_kind kind,
                                  const CK_MECHANISM *mech,
                                  struct p11p_key_op **inout)
{
    (void)k, (void)kind, (void)mech, (void)inout;
    return P11P_ERR_UNSUPPORTED;
}
enum p11p_status p11p_key_op_oneshot(struct p11p_key_op *op,
                                     const unsigned char *in, size_t inlen,
                                     unsigned char *out, size_t *out_len)
{
    (void)op, (void)in, (void)inlen, (void)out, (void)out_len;
    return P11P_ERR_UNSUPPORTED;
}
size_t p11p_key_op_max_output(const struct p11p_key_op *op)
{
    (void)op;
    return 0;
}
void p11p_key_op_free(struct p11p_key_op *op)
{
    (void)op;
}
EVP_PKEY *p11p_key_get0_public(const struct p11p_key *k)
{
    (void)k;
    return NULL;
}
#endif

struct signer {
    EVP_PKEY *key;
    CK_MECHANISM_TYPE last_mech;
};

/* Signs like a PKCS#11 token: hash-and-sign mechanisms, ECDSA as r||s. */
static enum p11p_status test_sign(void *ctx, const CK_MECHANISM *mech,
                                  const unsigned char *tbs, size_t tbs_len,
                                  unsigned char *sig, size_t *sig_len)
{
    struct signer *s = ctx;
    const char *md = NULL;
    unsigned char der[1024];
    size_t der_len = sizeof(der);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    enum p11p_status rc = P11P_ERR_CRYPTO;

    s->last_mech = mech->mechanism;
    switch (mech->mechanism) {
    case CKM_SHA256_RSA_PKCS:
    case CKM_ECDSA_SHA256:
        md = "SHA256";
        break;
    case CKM_ECDSA_SHA384:
        md = "SHA384";
        break;
    case CKM_ECDSA_SHA512:
        md = "SHA512";
        break;
    default:
        md = NULL;
    }
    if (EVP_DigestSignInit_ex(m, NULL, md, NULL, NULL, s->key, NULL) != 1
        || EVP_DigestSign(m, der, &der_len, tbs, tbs_len) != 1) {
        goto out;
    }
    if (EVP_PKEY_is_a(s->key, "EC")) {
        const unsigned char *p = der;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
        int half = (EVP_PKEY_get_bits(s->key) + 7) / 8;
        BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, half);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + half, half);
        *sig_len = (size_t)(2 * half);
        ECDSA_SIG_free(es);
    } else {
        memcpy(sig, der, der_len);
        *sig_len = der_len;
    }
    rc = P11P_OK;
out:
    EVP_MD_CTX_free(m);
    return rc;
}

static X509_REQ *parse(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    return d2i_X509_REQ(NULL, &p, (long)len);
}

static void check_key(EVP_PKEY *key, CK_MECHANISM_TYPE want_mech, int rounds)
{
    struct signer s = { key, 0 };
    /* ECDSA signatures vary in length; several rounds hit short r/s. */
    for (int i = 0; i < rounds; i++) {
        unsigned char *der = NULL;
        size_t len = 0;
        CHECK_RV(p11p_csr_build_with(key, "CN=dev01,O=Acme Corp,C=US",
                                     "DNS:dev01.example.com,IP:192.0.2.7,"
                                     "email:ops@example.com,URI:urn:x:1",
                                     test_sign, &s, &der, &len),
                 P11P_OK);
        CHECK_RV(s.last_mech, want_mech);
        X509_REQ *req = der != NULL ? parse(der, len) : NULL;
        CHECK(req != NULL);
        if (req != NULL) {
            CHECK(X509_REQ_verify(req, key) == 1);
            char cn[64] = "";
            X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req),
                                      NID_commonName, cn, sizeof(cn));
            CHECK_STR_EQ(cn, "dev01");
            CHECK_INT_EQ(X509_NAME_entry_count(X509_REQ_get_subject_name(req)),
                         3);
            STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
            CHECK(exts != NULL && sk_X509_EXTENSION_num(exts) == 1);
            GENERAL_NAMES *gens =
                X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
            CHECK(gens != NULL && sk_GENERAL_NAME_num(gens) == 4);
            GENERAL_NAMES_free(gens);
            sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
            EVP_PKEY *pub = NULL;
            char *subj = NULL;
            CHECK_RV(p11p_csr_inspect(der, len, &pub, &subj), P11P_OK);
            CHECK(pub != NULL && EVP_PKEY_eq(pub, key) == 1);
            CHECK_STR_EQ(subj, "/CN=dev01/O=Acme Corp/C=US");
            EVP_PKEY_free(pub);
            free(subj);
        }
        X509_REQ_free(req);
        free(der);
    }
}

static void test_key_types(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    check_key(k, CKM_SHA256_RSA_PKCS, 1);
    EVP_PKEY_free(k);
    const char *curves[] = { "P-256", "P-384", "P-521" };
    CK_MECHANISM_TYPE mechs[] = { CKM_ECDSA_SHA256, CKM_ECDSA_SHA384,
                                  CKM_ECDSA_SHA512 };
    for (int i = 0; i < 3; i++) {
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);
        check_key(k, mechs[i], 20);
        EVP_PKEY_free(k);
    }
    k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    check_key(k, CKM_EDDSA, 1);
    EVP_PKEY_free(k);
}

static void test_subjects(void)
{
    X509_NAME *n = NULL;
    char *s = NULL;

    CHECK_RV(p11p_csr_parse_subject("/C=US/O=Acme/CN=a", &n), P11P_OK);
    s = n != NULL ? X509_NAME_oneline(n, NULL, 0) : NULL;
    CHECK_STR_EQ(s, "/C=US/O=Acme/CN=a");
    OPENSSL_free(s);
    X509_NAME_free(n);
    n = NULL;
    CHECK_RV(p11p_csr_parse_subject(" CN = a\\,b , O=x/y ", &n), P11P_OK);
    s = n != NULL ? X509_NAME_oneline(n, NULL, 0) : NULL;
    CHECK_STR_EQ(s, "/CN=a,b/O=x\\/y");
    OPENSSL_free(s);
    X509_NAME_free(n);
    n = NULL;
    CHECK_RV(p11p_csr_parse_subject("CN=00:11:22:33:44:55", &n), P11P_OK);
    X509_NAME_free(n);
    n = NULL;
    CHECK_RV(p11p_csr_parse_subject("", &n), P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_csr_parse_subject("CN", &n), P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_csr_parse_subject("XX=1", &n), P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_csr_parse_subject("CN=", &n), P11P_ERR_INVALID_INPUT);
    CHECK(n == NULL);
}

static void test_errors(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    struct signer s = { k, 0 };
    unsigned char *der = NULL;
    size_t len = 0;
    EVP_PKEY *pub = NULL;

    CHECK_RV(
        p11p_csr_build_with(k, "CN=x", "BOGUS:1", test_sign, &s, &der, &len),
        P11P_ERR_INVALID_INPUT);
    CHECK_RV(
        p11p_csr_build_with(k, "nonsense", NULL, test_sign, &s, &der, &len),
        P11P_ERR_INVALID_INPUT);
    CHECK(der == NULL);
    CHECK_RV(p11p_csr_build_with(k, "CN=x", NULL, test_sign, &s, &der, &len),
             P11P_OK);
    if (der != NULL) {
        der[len - 2] ^= 0x40; /* break the signature */
        CHECK_RV(p11p_csr_inspect(der, len, &pub, NULL),
                 P11P_ERR_INVALID_INPUT);
        CHECK_RV(p11p_csr_inspect(der, len - 1, &pub, NULL),
                 P11P_ERR_INVALID_INPUT);
        CHECK(pub == NULL);
    }
    free(der);
    EVP_PKEY_free(k);
}

int main(void)
{
    CHECK_RUN(test_subjects);
    CHECK_RUN(test_key_types);
    CHECK_RUN(test_errors);
    return check_summary();
}

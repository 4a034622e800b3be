/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/keys (soft backend over a real cache): token and PIN
 * life cycle (init, init PIN, login, wrong PIN counting, lockout and reset,
 * PIN change keeping keys, re-initialisation wiping), key generation for
 * every type, loading (cached), sign + verify for every mechanism,
 * multi-part equal to one-shot, the ECDSA r||s format checked
 * independently, RSA decrypt with PKCS#1 v1.5 and OAEP, op reuse, and the
 * public-key attribute helpers.
 */
#include <ftw.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "core/base/ossl.h"
#include "core/keys/backend.h"
#include "tests/unit/check.h"

static char tmpdir[64];
static struct p11p_cache *cache;
static struct p11p_keystore *ks;
static char conf_name[] = "unit";
static char conf_soft[] = "soft";
static char conf_hsm[] = "hsm";
static char conf_bogus[] = "bogus";
static struct p11p_conf_token conf = {
    .name = conf_name,
    .key_backend = conf_soft,
    .kdf_iterations = 1000,
    .pin_max_retries = 3,
};

static struct p11p_secret *pin(const char *s)
{
    return p11p_secret_dup(s, strlen(s));
}

static enum p11p_status login(enum p11p_cache_role role, const char *p)
{
    struct p11p_secret *s = pin(p);
    enum p11p_status rc = p11p_keystore_login(ks, role, s);
    p11p_secret_free(s);
    return rc;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void test_open_backends(void)
{
    struct p11p_conf_token c = conf;
    struct p11p_keystore *k = NULL;

    c.key_backend = conf_hsm;
    CHECK_RV(p11p_keystore_open(&c, cache, &k), P11P_ERR_CONFIG);
    c.key_backend = conf_bogus;
    CHECK_RV(p11p_keystore_open(&c, cache, &k), P11P_ERR_CONFIG);
    CHECK(k == NULL);
    CHECK_RV(p11p_keystore_open(&conf, cache, &ks), P11P_OK);
    CHECK_STR_EQ(p11p_keystore_backend_name(ks), "soft");
    p11p_keystore_close(NULL);
}

static void test_token_life(void)
{
    struct p11p_keystore_info info;
    struct p11p_secret *so = pin("so-pin"), *user = pin("1234");
    char *s = NULL;

    CHECK_RV(p11p_keystore_info(ks, &info), P11P_OK);
    CHECK(!info.initialized && !info.user_pin_set);
    CHECK_RV(login(P11P_ROLE_USER, "1234"), P11P_ERR_NOT_FOUND);
    CHECK_RV(p11p_keystore_init_token(ks, so, "factory"), P11P_OK);
    CHECK_RV(p11p_keystore_info(ks, &info), P11P_OK);
    CHECK(info.initialized && !info.user_pin_set);
    CHECK_INT_EQ(info.max_retries, 3);
    CHECK_RV(p11p_cache_meta_get(cache, "label", &s), P11P_OK);
    CHECK_STR_EQ(s, "factory");
    free(s);
    CHECK_RV(p11p_cache_meta_get(cache, "serial", &s), P11P_OK);
    CHECK(s != NULL && strlen(s) == 16);
    free(s);

    /* init_pin needs the SO. */
    CHECK_RV(p11p_keystore_init_pin(ks, user), P11P_ERR_AUTH);
    CHECK_RV(login(P11P_ROLE_SO, "so-pin"), P11P_OK);
    CHECK(p11p_keystore_is_logged_in(ks, P11P_ROLE_SO));
    CHECK(!p11p_keystore_is_logged_in(ks, P11P_ROLE_USER));
    CHECK_RV(p11p_keystore_init_pin(ks, user), P11P_OK);
    p11p_keystore_logout(ks);
    CHECK(!p11p_keystore_is_logged_in(ks, P11P_ROLE_SO));
    CHECK_RV(p11p_keystore_info(ks, &info), P11P_OK);
    CHECK(info.user_pin_set);

    /* A wrong PIN is counted; a good one resets the count. */
    CHECK_RV(login(P11P_ROLE_USER, "9999"), P11P_ERR_AUTH);
    CHECK_RV(p11p_keystore_info(ks, &info), P11P_OK);
    CHECK_INT_EQ(info.user_fails, 1);
    CHECK_RV(login(P11P_ROLE_USER, "1234"), P11P_OK);
    CHECK(p11p_keystore_is_logged_in(ks, P11P_ROLE_USER));
    CHECK_RV(p11p_keystore_info(ks, &info), P11P_OK);
    CHECK_INT_EQ(info.user_fails, 0);
    p11p_secret_free(so);
    p11p_secret_free(user);
}

/* ---- sign / verify ---- */

struct mech_case {
    CK_MECHANISM_TYPE mech;
    bool hashed; /* the mechanism hashes: multi-part allowed */
    bool deterministic;
    size_t raw_len; /* raw mechanisms: input length (0: data as is) */
};

static enum p11p_status sign_once(struct p11p_key *k, CK_MECHANISM *m,
                                  struct p11p_key_op **op,
                                  const unsigned char *in, size_t inlen,
                                  unsigned char *sig, size_t *sig_len)
{
    enum p11p_status rc = p11p_key_op_init(k, P11P_KEY_OP_SIGN, m, op);
    if (rc != P11P_OK) {
        return rc;
    }
    *sig_len = p11p_key_op_max_output(*op);
    return p11p_key_op_oneshot(*op, in, inlen, sig, sig_len);
}

static void run_case(struct p11p_key *k, CK_MECHANISM *m, bool hashed,
                     bool deterministic, const unsigned char *in, size_t inlen)
{
    EVP_PKEY *pub = p11p_key_get0_public(k);
    struct p11p_key_op *op = NULL, *first;
    unsigned char sig[1024], sig2[1024];
    size_t sig_len = 0, sig2_len = 0;

    CHECK_RV(sign_once(k, m, &op, in, inlen, sig, &sig_len), P11P_OK);
    CHECK_RV(p11p_keyattrs_verify(pub, m, in, inlen, sig, sig_len), P11P_OK);
    /* A changed signature does not verify. */
    sig[sig_len / 2] ^= 1;
    CHECK_RV(p11p_keyattrs_verify(pub, m, in, inlen, sig, sig_len),
             P11P_ERR_AUTH);
    sig[sig_len / 2] ^= 1;
    /* The op is reused for the same key and mechanism. */
    first = op;
    CHECK_RV(sign_once(k, m, &op, in, inlen, sig2, &sig2_len), P11P_OK);
    CHECK(op == first);
    CHECK_RV(p11p_keyattrs_verify(pub, m, in, inlen, sig2, sig2_len), P11P_OK);
    if (hashed) {
        /* Multi-part in three pieces equals one-shot. */
        CHECK_RV(p11p_key_op_init(k, P11P_KEY_OP_SIGN, m, &op), P11P_OK);
        CHECK_RV(p11p_key_op_update(op, in, 3), P11P_OK);
        CHECK_RV(p11p_key_op_update(op, in + 3, 10), P11P_OK);
        CHECK_RV(p11p_key_op_update(op, in + 13, inlen - 13), P11P_OK);
        sig2_len = p11p_key_op_max_output(op);
        CHECK_RV(p11p_key_op_final(op, sig2, &sig2_len), P11P_OK);
        CHECK_RV(p11p_keyattrs_verify(pub, m, in, inlen, sig2, sig2_len),
                 P11P_OK);
        if (deterministic) {
            CHECK_MEM_EQ(sig, sig_len, sig2, sig2_len);
        }
    } else {
        CHECK_RV(p11p_key_op_update(op, in, inlen), P11P_ERR_UNSUPPORTED);
    }
    p11p_key_op_free(op);
}

static const unsigned char msg[] = "the quick brown fox jumps over the dog";

/* Generates a key of spec, loads it from its blob and returns it. */
static struct p11p_key *gen_load(CK_KEY_TYPE kt, unsigned bits, int nid,
                                 struct p11p_cache_keyblob *blob_out)
{
    struct p11p_keygen_spec spec = { .key_type = kt,
                                     .bits = bits,
                                     .curve_nid = nid };
    struct p11p_cache_keyblob blob;
    struct p11p_key *k = NULL, *k2 = NULL;
    EVP_PKEY *pub = NULL;

    CHECK_RV(p11p_keystore_generate(ks, &spec, &pub, &blob), P11P_OK);
    CHECK(pub != NULL);
    CHECK_RV(p11p_keystore_load(ks, &blob, &k), P11P_OK);
    CHECK(k != NULL && EVP_PKEY_eq(pub, p11p_key_get0_public(k)) == 1);
    /* A second load is the same key. */
    CHECK_RV(p11p_keystore_load(ks, &blob, &k2), P11P_OK);
    CHECK(k2 == k);
    p11p_key_unref(k2);
    EVP_PKEY_free(pub);
    if (blob_out != NULL) {
        *blob_out = blob;
    } else {
        p11p_cache_keyblob_clear(&blob);
    }
    return k;
}

static void test_rsa(void)
{
    static const CK_MECHANISM_TYPE hashed[] = {
        CKM_SHA1_RSA_PKCS, CKM_SHA224_RSA_PKCS, CKM_SHA256_RSA_PKCS,
        CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS
    };
    static const struct {
        CK_MECHANISM_TYPE mech, hash;
        CK_RSA_PKCS_MGF_TYPE mgf;
        size_t hlen;
    } pss[] = {
        { CKM_SHA1_RSA_PKCS_PSS, CKM_SHA_1, CKG_MGF1_SHA1, 20 },
        { CKM_SHA224_RSA_PKCS_PSS, CKM_SHA224, CKG_MGF1_SHA224, 28 },
        { CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32 },
        { CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 48 },
        { CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 64 },
    };
    /* DigestInfo prefix of SHA-256 (RFC 8017 9.2 note 1). */
    static const unsigned char di256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06,
                                           0x09, 0x60, 0x86, 0x48, 0x01,
                                           0x65, 0x03, 0x04, 0x02, 0x01,
                                           0x05, 0x00, 0x04, 0x20 };
    struct p11p_key *k = gen_load(CKK_RSA, 2048, 0, NULL);
    CK_MECHANISM m = { 0, NULL, 0 };
    unsigned char digestinfo[sizeof(di256) + 32];
    unsigned char h[64];
    unsigned char sig_raw[512], sig_hashed[512];
    size_t raw_len = 0, hashed_len = 0;
    struct p11p_key_op *op = NULL;

    if (k == NULL) {
        return;
    }
    for (size_t i = 0; i < sizeof(hashed) / sizeof(hashed[0]); i++) {
        m.mechanism = hashed[i];
        run_case(k, &m, true, true, msg, sizeof(msg));
    }
    /* CKM_RSA_PKCS over a DigestInfo equals CKM_SHA256_RSA_PKCS. */
    memcpy(digestinfo, di256, sizeof(di256));
    SHA256(msg, sizeof(msg), digestinfo + sizeof(di256));
    m.mechanism = CKM_RSA_PKCS;
    run_case(k, &m, false, true, digestinfo, sizeof(digestinfo));
    CHECK_RV(sign_once(k, &m, &op, digestinfo, sizeof(digestinfo), sig_raw,
                       &raw_len),
             P11P_OK);
    m.mechanism = CKM_SHA256_RSA_PKCS;
    CHECK_RV(sign_once(k, &m, &op, msg, sizeof(msg), sig_hashed, &hashed_len),
             P11P_OK);
    CHECK_MEM_EQ(sig_raw, raw_len, sig_hashed, hashed_len);
    p11p_key_op_free(op);
    op = NULL;

    /* PSS: hashed forms, and the raw form over a hash. */
    for (size_t i = 0; i < sizeof(pss) / sizeof(pss[0]); i++) {
        CK_RSA_PKCS_PSS_PARAMS pp = { pss[i].hash, pss[i].mgf, pss[i].hlen };
        m.mechanism = pss[i].mech;
        m.pParameter = &pp;
        m.ulParameterLen = sizeof(pp);
        run_case(k, &m, true, false, msg, sizeof(msg));
        m.mechanism = CKM_RSA_PKCS_PSS;
        EVP_Digest(msg, sizeof(msg), h, NULL,
                   EVP_get_digestbyname(i == 0   ? "SHA1"
                                        : i == 1 ? "SHA224"
                                        : i == 2 ? "SHA256"
                                        : i == 3 ? "SHA384"
                                                 : "SHA512"),
                   NULL);
        run_case(k, &m, false, false, h, pss[i].hlen);
        /* A hash of the wrong length is refused. */
        CHECK_RV(sign_once(k, &m, &op, h, pss[i].hlen - 1, sig_raw, &raw_len),
                 P11P_ERR_INVALID_INPUT);
        p11p_key_op_free(op);
        op = NULL;
    }
    /* Different parameters: a new op. */
    {
        CK_RSA_PKCS_PSS_PARAMS p1 = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
        CK_RSA_PKCS_PSS_PARAMS p2 = { CKM_SHA256, CKG_MGF1_SHA256, 0 };
        struct p11p_key_op *first;
        m.mechanism = CKM_SHA256_RSA_PKCS_PSS;
        m.pParameter = &p1;
        m.ulParameterLen = sizeof(p1);
        CHECK_RV(p11p_key_op_init(k, P11P_KEY_OP_SIGN, &m, &op), P11P_OK);
        first = op;
        m.pParameter = &p2;
        CHECK_RV(p11p_key_op_init(k, P11P_KEY_OP_SIGN, &m, &op), P11P_OK);
        CHECK(op != first || op == NULL);
        /* A parameter block of the wrong size is refused. */
        m.ulParameterLen = 3;
        CHECK_RV(p11p_key_op_init(k, P11P_KEY_OP_SIGN, &m, &op),
                 P11P_ERR_INVALID_INPUT);
        p11p_key_op_free(op);
        op = NULL;
    }
    /* An EC mechanism on an RSA key. */
    m.mechanism = CKM_ECDSA;
    m.pParameter = NULL;
    m.ulParameterLen = 0;
    CHECK_RV(p11p_key_op_init(k, P11P_KEY_OP_SIGN, &m, &op),
             P11P_ERR_INVALID_INPUT);
    m.mechanism = CKM_MD5_RSA_PKCS;
    CHECK_RV(p11p_key_op_init(k, P11P_KEY_OP_SIGN, &m, &op),
             P11P_ERR_UNSUPPORTED);
    p11p_key_unref(k);
}

/* Encrypts with OpenSSL's default provider, decrypts through the op. */
static void test_rsa_decrypt(void)
{
    struct p11p_key *k = gen_load(CKK_RSA, 2048, 0, NULL);
    EVP_PKEY_CTX *ctx = NULL;
    unsigned char ct[256], pt[256];
    size_t ct_len = sizeof(ct), pt_len;
    struct p11p_key_op *op = NULL;
    CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
    static const unsigned char label[] = "label";
    CK_RSA_PKCS_OAEP_PARAMS oaep = { CKM_SHA256, CKG_MGF1_SHA256,
                                     CKZ_DATA_SPECIFIED, (void *)label, 5 };

    if (k == NULL) {
        return;
    }
    /* PKCS#1 v1.5 */
    ctx = EVP_PKEY_CTX_new(p11p_key_get0_public(k), NULL);
    CHECK(ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1
          && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1
          && EVP_PKEY_encrypt(ctx, ct, &ct_len, msg, sizeof(msg)) == 1);
    EVP_PKEY_CTX_free(ctx);
    CHECK_RV(p11p_key_op_init(k, P11P_KEY_OP_DECRYPT, &m, &op), P11P_OK);
    CHECK_INT_EQ(p11p_key_op_max_output(op), 256);
    pt_len = sizeof(pt);
    CHECK_RV(p11p_key_op_oneshot(op, ct, ct_len, pt, &pt_len), P11P_OK);
    CHECK_MEM_EQ(pt, pt_len, msg, sizeof(msg));
    CHECK_RV(p11p_key_op_update(op, ct, ct_len), P11P_ERR_UNSUPPORTED);
    ct[5] ^= 1;
    pt_len = sizeof(pt);
    CHECK(p11p_key_op_oneshot(op, ct, ct_len, pt, &pt_len) != P11P_OK);

    /* OAEP SHA-256 with a label. */
    ct_len = sizeof(ct);
    ctx = EVP_PKEY_CTX_new(p11p_key_get0_public(k), NULL);
    CHECK(ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1
          && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1
          && EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) == 1
          && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1
          && EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, OPENSSL_memdup(label, 5), 5)
                 == 1
          && EVP_PKEY_encrypt(ctx, ct, &ct_len, msg, sizeof(msg)) == 1);
    EVP_PKEY_CTX_free(ctx);
    m.mechanism = CKM_RSA_PKCS_OAEP;
    m.pParameter = &oaep;
    m.ulParameterLen = sizeof(oaep);
    CHECK_RV(p11p_key_op_init(k, P11P_KEY_OP_DECRYPT, &m, &op), P11P_OK);
    pt_len = sizeof(pt);
    CHECK_RV(p11p_key_op_oneshot(op, ct, ct_len, pt, &pt_len), P11P_OK);
    CHECK_MEM_EQ(pt, pt_len, msg, sizeof(msg));
    /* Another label does not decrypt. */
    oaep.ulSourceDataLen = 4;
    CHECK_RV(p11p_key_op_init(k, P11P_KEY_OP_DECRYPT, &m, &op), P11P_OK);
    pt_len = sizeof(pt);
    CHECK(p11p_key_op_oneshot(op, ct, ct_len, pt, &pt_len) != P11P_OK);
    /* OAEP SHA-1 without a label. */
    oaep.hashAlg = CKM_SHA_1;
    oaep.mgf = CKG_MGF1_SHA1;
    oaep.source = 0;
    oaep.pSourceData = NULL;
    oaep.ulSourceDataLen = 0;
    ct_len = sizeof(ct);
    ctx = EVP_PKEY_CTX_new(p11p_key_get0_public(k), NULL);
    CHECK(ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1
          && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1
          && EVP_PKEY_encrypt(ctx, ct, &ct_len, msg, sizeof(msg)) == 1);
    EVP_PKEY_CTX_free(ctx);
    CHECK_RV(p11p_key_op_init(k, P11P_KEY_OP_DECRYPT, &m, &op), P11P_OK);
    pt_len = sizeof(pt);
    CHECK_RV(p11p_key_op_oneshot(op, ct, ct_len, pt, &pt_len), P11P_OK);
    CHECK_MEM_EQ(pt, pt_len, msg, sizeof(msg));
    p11p_key_op_free(op);
    p11p_key_unref(k);
}

/* Converts r||s to an ECDSA_SIG and verifies with plain OpenSSL. */
static bool verify_rs_independently(EVP_PKEY *pub, const unsigned char *h,
                                    size_t hlen, const unsigned char *sig,
                                    size_t sig_len)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)(sig_len / 2), NULL);
    BIGNUM *s = BN_bin2bn(sig + sig_len / 2, (int)(sig_len / 2), NULL);
    unsigned char *der = NULL;
    int der_len;
    EVP_PKEY_CTX *ctx = NULL;
    bool ok = false;

    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return false;
    }
    der_len = i2d_ECDSA_SIG(es, &der);
    ctx = EVP_PKEY_CTX_new(pub, NULL);
    ok = der_len > 0 && ctx != NULL && EVP_PKEY_verify_init(ctx) == 1
         && EVP_PKEY_verify(ctx, der, (size_t)der_len, h, hlen) == 1;
    EVP_PKEY_CTX_free(ctx);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    return ok;
}

static void test_ec(void)
{
    static const CK_MECHANISM_TYPE hashed[] = {
        CKM_ECDSA_SHA1, CKM_ECDSA_SHA224, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384,
        CKM_ECDSA_SHA512
    };
    static const struct {
        int nid;
        size_t sig_len;
    } curves[] = { { NID_X9_62_prime256v1, 64 },
                   { NID_secp384r1, 96 },
                   { NID_secp521r1, 132 } };

    for (size_t c = 0; c < sizeof(curves) / sizeof(curves[0]); c++) {
        struct p11p_key *k = gen_load(CKK_EC, 0, curves[c].nid, NULL);
        CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
        struct p11p_key_op *op = NULL;
        unsigned char h[32], sig[200];
        size_t sig_len = 0;

        if (k == NULL) {
            continue;
        }
        for (size_t i = 0; i < sizeof(hashed) / sizeof(hashed[0]); i++) {
            m.mechanism = hashed[i];
            run_case(k, &m, true, false, msg, sizeof(msg));
        }
        m.mechanism = CKM_ECDSA;
        SHA256(msg, sizeof(msg), h);
        run_case(k, &m, false, false, h, sizeof(h));
        /* Fixed-width r||s, and it is a valid signature for OpenSSL. */
        for (int i = 0; i < 20; i++) {
            CHECK_RV(sign_once(k, &m, &op, h, sizeof(h), sig, &sig_len),
                     P11P_OK);
            CHECK_INT_EQ(sig_len, curves[c].sig_len);
            CHECK(verify_rs_independently(p11p_key_get0_public(k), h, sizeof(h),
                                          sig, sig_len));
        }
        /* Too small an output buffer. */
        sig_len = curves[c].sig_len - 1;
        CHECK_RV(p11p_key_op_oneshot(op, h, sizeof(h), sig, &sig_len),
                 P11P_ERR_INVALID_INPUT);
        p11p_key_op_free(op);
        p11p_key_unref(k);
    }
}

static void test_ed25519(void)
{
    struct p11p_key *k = gen_load(CKK_EC_EDWARDS, 0, NID_ED25519, NULL);
    CK_MECHANISM m = { CKM_EDDSA, NULL, 0 };
    struct p11p_key_op *op = NULL;
    unsigned char sig[64], sig2[64];
    size_t sig_len = 0, sig2_len = 0;

    if (k == NULL) {
        return;
    }
    run_case(k, &m, false, true, msg, sizeof(msg));
    /* Deterministic: the reused context signs the same bytes again. */
    CHECK_RV(sign_once(k, &m, &op, msg, sizeof(msg), sig, &sig_len), P11P_OK);
    CHECK_RV(sign_once(k, &m, &op, msg, sizeof(msg), sig2, &sig2_len), P11P_OK);
    CHECK_MEM_EQ(sig, sig_len, sig2, sig2_len);
    CHECK_INT_EQ(sig_len, 64);
    CHECK_RV(p11p_key_op_final(op, sig, &sig_len), P11P_ERR_UNSUPPORTED);
    /* An op on another key is replaced. */
    {
        struct p11p_key *k2 = gen_load(CKK_EC_EDWARDS, 0, NID_ED25519, NULL);
        struct p11p_key_op *first = op;
        CHECK_RV(sign_once(k2, &m, &op, msg, sizeof(msg), sig2, &sig2_len),
                 P11P_OK);
        CHECK(op != first || op == NULL);
        CHECK(memcmp(sig, sig2, 64) != 0);
        CHECK_RV(p11p_keyattrs_verify(p11p_key_get0_public(k2), &m, msg,
                                      sizeof(msg), sig2, sig2_len),
                 P11P_OK);
        CHECK_RV(p11p_keyattrs_verify(p11p_key_get0_public(k), &m, msg,
                                      sizeof(msg), sig2, sig2_len),
                 P11P_ERR_AUTH);
        p11p_key_unref(k2);
    }
    p11p_key_op_free(op);
    p11p_key_unref(k);
}

static void test_big_rsa(void)
{
    struct p11p_key *k3 = gen_load(CKK_RSA, 3072, 0, NULL);
    struct p11p_key *k4 = gen_load(CKK_RSA, 4096, 0, NULL);
    CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
    struct p11p_keygen_spec bad = { .key_type = CKK_RSA, .bits = 1024 };
    struct p11p_keygen_spec badc = { .key_type = CKK_EC, .curve_nid = 1 };
    struct p11p_cache_keyblob blob;
    EVP_PKEY *pub = NULL;

    if (k3 != NULL) {
        run_case(k3, &m, true, true, msg, sizeof(msg));
        CHECK_INT_EQ(EVP_PKEY_get_bits(p11p_key_get0_public(k3)), 3072);
    }
    if (k4 != NULL) {
        run_case(k4, &m, true, true, msg, sizeof(msg));
        CHECK_INT_EQ(EVP_PKEY_get_bits(p11p_key_get0_public(k4)), 4096);
    }
    CHECK_RV(p11p_keystore_generate(ks, &bad, &pub, &blob),
             P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_keystore_generate(ks, &badc, &pub, &blob),
             P11P_ERR_UNSUPPORTED);
    p11p_key_unref(k3);
    p11p_key_unref(k4);
}

/* ---- PIN changes keep keys; lockout; re-initialisation ---- */

static void test_pins_keep_keys(void)
{
    struct p11p_cache_keyblob blob;
    struct p11p_key *k = gen_load(CKK_EC, 0, NID_X9_62_prime256v1, &blob);
    struct p11p_key *k2 = NULL;
    struct p11p_secret *old = pin("1234"), *neu = pin("4321"),
                       *bad = pin("0000"), *reset = pin("5555");
    struct p11p_keystore_info info;

    p11p_key_unref(k);
    /* Logout drops keys: loading needs a login. */
    p11p_keystore_logout(ks);
    CHECK_RV(p11p_keystore_load(ks, &blob, &k2), P11P_ERR_AUTH);

    /* C_SetPIN (user): wrong old PIN counted; right one re-wraps. */
    CHECK_RV(p11p_keystore_set_pin(ks, P11P_ROLE_USER, bad, neu),
             P11P_ERR_AUTH);
    CHECK_RV(p11p_keystore_set_pin(ks, P11P_ROLE_USER, old, neu), P11P_OK);
    CHECK_RV(login(P11P_ROLE_USER, "1234"), P11P_ERR_AUTH);
    CHECK_RV(login(P11P_ROLE_USER, "4321"), P11P_OK);
    CHECK_RV(p11p_keystore_load(ks, &blob, &k2), P11P_OK);
    p11p_key_unref(k2);
    k2 = NULL;
    p11p_keystore_logout(ks);

    /* Lockout after 3 wrong PINs, even with the right one then. */
    CHECK_RV(login(P11P_ROLE_USER, "0000"), P11P_ERR_AUTH);
    CHECK_RV(login(P11P_ROLE_USER, "0000"), P11P_ERR_AUTH);
    CHECK_RV(p11p_keystore_info(ks, &info), P11P_OK);
    CHECK_INT_EQ(info.user_fails, 2);
    CHECK(!info.user_locked);
    CHECK_RV(login(P11P_ROLE_USER, "0000"), P11P_ERR_AUTH);
    CHECK_RV(login(P11P_ROLE_USER, "4321"), P11P_ERR_PIN_LOCKED);
    CHECK_RV(p11p_keystore_info(ks, &info), P11P_OK);
    CHECK(info.user_locked);

    /* The SO resets the user PIN (C_InitPIN): unlocked, keys kept. */
    CHECK_RV(login(P11P_ROLE_SO, "so-pin"), P11P_OK);
    CHECK_RV(p11p_keystore_load(ks, &blob, &k2), P11P_ERR_AUTH); /* SO */
    CHECK_RV(p11p_keystore_init_pin(ks, reset), P11P_OK);
    p11p_keystore_logout(ks);
    CHECK_RV(p11p_keystore_info(ks, &info), P11P_OK);
    CHECK(!info.user_locked && info.user_fails == 0);
    CHECK_RV(login(P11P_ROLE_USER, "5555"), P11P_OK);
    CHECK_RV(p11p_keystore_load(ks, &blob, &k2), P11P_OK);
    p11p_key_unref(k2);
    k2 = NULL;

    /* A tampered blob does not load. */
    blob.blob[blob.blob_len - 3] ^= 1;
    fprintf(stderr, "(an error line about a soft key blob is expected)\n");
    CHECK_RV(p11p_keystore_load(ks, &blob, &k2), P11P_ERR_CORRUPT);
    blob.blob[blob.blob_len - 3] ^= 1;
    CHECK_RV(p11p_keystore_destroy(ks, &blob), P11P_OK);

    /* C_SetPIN of the SO. */
    p11p_keystore_logout(ks);
    {
        struct p11p_secret *so = pin("so-pin"), *so2 = pin("so-pin-2");
        CHECK_RV(p11p_keystore_set_pin(ks, P11P_ROLE_SO, so, so2), P11P_OK);
        CHECK_RV(login(P11P_ROLE_SO, "so-pin"), P11P_ERR_AUTH);
        CHECK_RV(login(P11P_ROLE_SO, "so-pin-2"), P11P_OK);
        p11p_keystore_logout(ks);

        /* Re-initialisation: wrong SO PIN refused; right one wipes and
         * makes a new master key, so the old blob is dead. */
        CHECK_RV(p11p_keystore_init_token(ks, so, "again"), P11P_ERR_AUTH);
        CHECK_RV(p11p_keystore_init_token(ks, so2, "again"), P11P_OK);
        CHECK_RV(p11p_keystore_info(ks, &info), P11P_OK);
        CHECK(info.initialized && !info.user_pin_set);
        CHECK_RV(login(P11P_ROLE_SO, "so-pin-2"), P11P_OK);
        CHECK_RV(p11p_keystore_init_pin(ks, reset), P11P_OK);
        p11p_keystore_logout(ks);
        CHECK_RV(login(P11P_ROLE_USER, "5555"), P11P_OK);
        fprintf(stderr, "(an error line about a soft key blob is expected)\n");
        CHECK_RV(p11p_keystore_load(ks, &blob, &k2), P11P_ERR_CORRUPT);
        p11p_secret_free(so);
        p11p_secret_free(so2);
    }
    p11p_cache_keyblob_clear(&blob);
    p11p_secret_free(old);
    p11p_secret_free(neu);
    p11p_secret_free(bad);
    p11p_secret_free(reset);
}

/* ---- public-key attributes ---- */

static void check_attrs(EVP_PKEY *pub)
{
    struct p11p_attrlist l = { 0 };
    EVP_PKEY *back = NULL;
    unsigned char id[20], want[20], h[32];
    CK_ULONG kt = 0;

    CHECK_RV(p11p_keyattrs_add_public(pub, &l), P11P_OK);
    CHECK(p11p_attrlist_get_ulong(&l, CKA_KEY_TYPE, &kt));
    CHECK(p11p_attrlist_get0(&l, CKA_PUBLIC_KEY_INFO) != NULL);
    /* From the attributes, with and without the SPKI. */
    CHECK_RV(p11p_keyattrs_to_public(&l, &back), P11P_OK);
    CHECK(back != NULL && EVP_PKEY_eq(pub, back) == 1);
    EVP_PKEY_free(back);
    back = NULL;
    p11p_attrlist_remove(&l, CKA_PUBLIC_KEY_INFO);
    CHECK_RV(p11p_keyattrs_to_public(&l, &back), P11P_OK);
    CHECK(back != NULL && EVP_PKEY_eq(pub, back) == 1);
    EVP_PKEY_free(back);

    CHECK_RV(p11p_keyattrs_default_id(pub, id), P11P_OK);
    if (kt == CKK_RSA) {
        const CK_ATTRIBUTE *n = p11p_attrlist_get0(&l, CKA_MODULUS);
        CHECK(n != NULL && ((unsigned char *)n->pValue)[0] != 0);
        SHA1(n->pValue, n->ulValueLen, want);
        CHECK_MEM_EQ(id, 20, want, 20);
    } else {
        const CK_ATTRIBUTE *pt = p11p_attrlist_get0(&l, CKA_EC_POINT);
        const unsigned char *p = pt->pValue;
        size_t hdr = p[1] == 0x81 ? 3 : 2;
        CHECK_INT_EQ(p[0], 0x04);
        CHECK_INT_EQ(pt->ulValueLen - hdr, p[hdr - 1]);
        if (kt == CKK_EC) {
            CHECK_INT_EQ(p[hdr], 0x04); /* uncompressed */
        } else {
            const CK_ATTRIBUTE *pa = p11p_attrlist_get0(&l, CKA_EC_PARAMS);
            CHECK_MEM_EQ(pa->pValue, pa->ulValueLen, "\x06\x03\x2b\x65\x70", 5);
            CHECK_INT_EQ(pt->ulValueLen, 34);
        }
        SHA1(p + hdr, pt->ulValueLen - hdr, want);
        CHECK_MEM_EQ(id, 20, want, 20);
    }
    CHECK_RV(p11p_keyattrs_spki_sha256(pub, h), P11P_OK);
    {
        unsigned char *spki = NULL;
        int len = i2d_PUBKEY(pub, &spki);
        SHA256(spki, (size_t)len, want);
        CHECK_MEM_EQ(h, 20, want, 20);
        OPENSSL_free(spki);
    }
    p11p_attrlist_clear(&l);
}

static void test_keyattrs(void)
{
    static const struct {
        CK_KEY_TYPE kt;
        unsigned bits;
        int nid;
    } cases[] = { { CKK_RSA, 2048, 0 },
                  { CKK_EC, 0, NID_X9_62_prime256v1 },
                  { CKK_EC, 0, NID_secp384r1 },
                  { CKK_EC, 0, NID_secp521r1 },
                  { CKK_EC_EDWARDS, 0, NID_ED25519 } };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct p11p_key *k =
            gen_load(cases[i].kt, cases[i].bits, cases[i].nid, NULL);
        if (k != NULL) {
            check_attrs(p11p_key_get0_public(k));
        }
        p11p_key_unref(k);
    }
    /* Ed25519 named by the curve-name string is accepted too. */
    {
        struct p11p_attrlist l = { 0 };
        EVP_PKEY *back = NULL;
        static const unsigned char name[] = "\x13\x0c"
                                            "edwards25519";
        unsigned char point[34] = { 0x04, 0x20, 1, 2, 3 };
        p11p_attrlist_set_ulong(&l, CKA_KEY_TYPE, CKK_EC_EDWARDS);
        p11p_attrlist_set(&l, CKA_EC_PARAMS, name, 14);
        p11p_attrlist_set(&l, CKA_EC_POINT, point, sizeof(point));
        CHECK_RV(p11p_keyattrs_to_public(&l, &back), P11P_OK);
        EVP_PKEY_free(back);
        back = NULL;
        p11p_attrlist_set(&l, CKA_EC_POINT, point, 33); /* bad DER */
        CHECK_RV(p11p_keyattrs_to_public(&l, &back), P11P_ERR_INVALID_INPUT);
        p11p_attrlist_clear(&l);
    }
}

/* ---- threads and processes ---- */

static struct p11p_cache_keyblob shared_blob;

static void *sign_thread(void *arg)
{
    CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
    struct p11p_key_op *op = NULL;
    struct p11p_key *k = NULL;
    unsigned char sig[64];
    size_t sig_len;
    long bad = 0;

    (void)arg;
    for (int i = 0; i < 100; i++) {
        if (p11p_keystore_load(ks, &shared_blob, &k) != P11P_OK) {
            bad++;
            continue;
        }
        sig_len = sizeof(sig);
        if (p11p_key_op_init(k, P11P_KEY_OP_SIGN, &m, &op) != P11P_OK
            || p11p_key_op_oneshot(op, msg, sizeof(msg), sig, &sig_len)
                   != P11P_OK
            || p11p_keyattrs_verify(p11p_key_get0_public(k), &m, msg,
                                    sizeof(msg), sig, sig_len)
                   != P11P_OK) {
            bad++;
        }
        /* The op keeps its own reference to the key. */
        p11p_key_unref(k);
        k = NULL;
    }
    p11p_key_op_free(op);
    return (void *)bad;
}

static void test_threads(void)
{
    struct p11p_key *k =
        gen_load(CKK_EC, 0, NID_X9_62_prime256v1, &shared_blob);
    pthread_t th[4];
    void *res;

    p11p_key_unref(k);
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_create(&th[i], NULL, sign_thread, NULL) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], &res);
        CHECK_INT_EQ((long)res, 0);
    }
    p11p_cache_keyblob_clear(&shared_blob);
}

/* A wrong PIN in another process counts here too. */
static void test_fail_count_across_processes(void)
{
    struct p11p_keystore_info info;
    char path[128];
    pid_t pid;
    int status = 0;

    snprintf(path, sizeof(path), "%s/keys.db", tmpdir);
    p11p_keystore_logout(ks);
    pid = fork();
    if (pid == 0) {
        struct p11p_cache *c2 = NULL;
        struct p11p_keystore *k2 = NULL;
        struct p11p_secret *bad = pin("bad-pin");
        p11p_keystore_discard(ks);
        p11p_cache_discard(cache);
        if (p11p_cache_open(path, &c2) != P11P_OK
            || p11p_keystore_open(&conf, c2, &k2) != P11P_OK
            || p11p_keystore_login(k2, P11P_ROLE_USER, bad) != P11P_ERR_AUTH) {
            _exit(1);
        }
        _exit(0);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_RV(p11p_keystore_info(ks, &info), P11P_OK);
    CHECK_INT_EQ(info.user_fails, 1);
    CHECK_RV(login(P11P_ROLE_USER, "5555"), P11P_OK);
    CHECK_RV(p11p_keystore_info(ks, &info), P11P_OK);
    CHECK_INT_EQ(info.user_fails, 0);
}

static void test_not_logged_in(void)
{
    struct p11p_keygen_spec spec = { .key_type = CKK_EC,
                                     .curve_nid = NID_X9_62_prime256v1 };
    struct p11p_cache_keyblob blob;
    EVP_PKEY *pub = NULL;

    p11p_keystore_logout(ks);
    CHECK_RV(p11p_keystore_generate(ks, &spec, &pub, &blob), P11P_ERR_AUTH);
    CHECK(pub == NULL);
}

int main(void)
{
    char path[128];

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/p11p-test-keys-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/keys.db", tmpdir);
    if (p11p_cache_open(path, &cache) != P11P_OK) {
        return 1;
    }
    CHECK_RUN(test_open_backends);
    if (ks == NULL) {
        return check_summary();
    }
    CHECK_RUN(test_token_life);
    CHECK_RUN(test_rsa);
    CHECK_RUN(test_rsa_decrypt);
    CHECK_RUN(test_ec);
    CHECK_RUN(test_ed25519);
    CHECK_RUN(test_big_rsa);
    CHECK_RUN(test_keyattrs);
    CHECK_RUN(test_pins_keep_keys);
    CHECK_RUN(test_threads);
    CHECK_RUN(test_fail_count_across_processes);
    CHECK_RUN(test_not_logged_in);
    p11p_keystore_close(ks);
    p11p_cache_close(cache);
    if (check_failures == 0) {
        nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    return check_summary();
}

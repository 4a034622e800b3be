/* SPDX-License-Identifier: Apache-2.0 */
/*
 * t_sign: every key type the design lists (RSA 2048/3072/4096 with 4096 once,
 * EC P-256/384/521, Ed25519) signs with every mechanism, single- and
 * multi-part; OpenSSL verifies each signature from the token's public
 * attributes; RSA decrypts PKCS#1 v1.5 and OAEP ciphertext made by OpenSSL;
 * digests match OpenSSL's; C_GenerateRandom; mechanism list and info agree.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "tests/component/p11t.h"
#include "tests/unit/check.h"

static struct p11t T;
static CK_SESSION_HANDLE S;

static const unsigned char MSG[] =
    "p11portal component test message, long enough to split in parts";

enum family {
    FAM_RSA,
    FAM_EC,
    FAM_ED
};

struct sigmech {
    CK_MECHANISM_TYPE mech;
    enum family fam;
    const char *md;  /* hash applied by the mechanism, NULL: raw/prehash */
    const char *pre; /* hash the caller applies first (raw mechanisms) */
    bool pss;
    bool multipart;
};

/* clang-format off */
static const struct sigmech MECHS[] = {
    { CKM_RSA_PKCS,            FAM_RSA, NULL,     "SHA256", false, false },
    { CKM_SHA1_RSA_PKCS,       FAM_RSA, "SHA1",   NULL,     false, true },
    { CKM_SHA224_RSA_PKCS,     FAM_RSA, "SHA224", NULL,     false, true },
    { CKM_SHA256_RSA_PKCS,     FAM_RSA, "SHA256", NULL,     false, true },
    { CKM_SHA384_RSA_PKCS,     FAM_RSA, "SHA384", NULL,     false, true },
    { CKM_SHA512_RSA_PKCS,     FAM_RSA, "SHA512", NULL,     false, true },
    { CKM_RSA_PKCS_PSS,        FAM_RSA, NULL,     "SHA256", true,  false },
    { CKM_SHA1_RSA_PKCS_PSS,   FAM_RSA, "SHA1",   NULL,     true,  true },
    { CKM_SHA224_RSA_PKCS_PSS, FAM_RSA, "SHA224", NULL,     true,  true },
    { CKM_SHA256_RSA_PKCS_PSS, FAM_RSA, "SHA256", NULL,     true,  true },
    { CKM_SHA384_RSA_PKCS_PSS, FAM_RSA, "SHA384", NULL,     true,  true },
    { CKM_SHA512_RSA_PKCS_PSS, FAM_RSA, "SHA512", NULL,     true,  true },
    { CKM_ECDSA,               FAM_EC,  NULL,     "SHA256", false, false },
    { CKM_ECDSA_SHA1,          FAM_EC,  "SHA1",   NULL,     false, true },
    { CKM_ECDSA_SHA224,        FAM_EC,  "SHA224", NULL,     false, true },
    { CKM_ECDSA_SHA256,        FAM_EC,  "SHA256", NULL,     false, true },
    { CKM_ECDSA_SHA384,        FAM_EC,  "SHA384", NULL,     false, true },
    { CKM_ECDSA_SHA512,        FAM_EC,  "SHA512", NULL,     false, true },
    { CKM_EDDSA,               FAM_ED,  NULL,     NULL,     false, false },
};
/* clang-format on */
#define N_MECHS (sizeof(MECHS) / sizeof(MECHS[0]))

static CK_MECHANISM_TYPE hash_mech(const char *md)
{
    if (strcmp(md, "SHA1") == 0) {
        return CKM_SHA_1;
    }
    if (strcmp(md, "SHA224") == 0) {
        return CKM_SHA224;
    }
    if (strcmp(md, "SHA384") == 0) {
        return CKM_SHA384;
    }
    if (strcmp(md, "SHA512") == 0) {
        return CKM_SHA512;
    }
    return CKM_SHA256;
}

static CK_RSA_PKCS_MGF_TYPE mgf_of(const char *md)
{
    if (strcmp(md, "SHA1") == 0) {
        return CKG_MGF1_SHA1;
    }
    if (strcmp(md, "SHA224") == 0) {
        return CKG_MGF1_SHA224;
    }
    if (strcmp(md, "SHA384") == 0) {
        return CKG_MGF1_SHA384;
    }
    if (strcmp(md, "SHA512") == 0) {
        return CKG_MGF1_SHA512;
    }
    return CKG_MGF1_SHA256;
}

/* r||s -> DER ECDSA-Sig-Value. */
static unsigned char *ecdsa_der(const unsigned char *sig, size_t len,
                                size_t *out_len)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)(len / 2), NULL);
    BIGNUM *s = BN_bin2bn(sig + len / 2, (int)(len / 2), NULL);
    unsigned char *der = NULL;
    int n;

    ECDSA_SIG_set0(es, r, s);
    n = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    *out_len = n > 0 ? (size_t)n : 0;
    return n > 0 ? der : NULL;
}

/* The data the token signs for this mechanism (a prehash for raw ones). */
static size_t tbs_for(const struct sigmech *m, unsigned char *out)
{
    unsigned int n = 0;
    if (m->pre == NULL) {
        memcpy(out, MSG, sizeof(MSG));
        return sizeof(MSG);
    }
    EVP_Digest(MSG, sizeof(MSG), out, &n, EVP_get_digestbyname(m->pre), NULL);
    if (m->mech == CKM_RSA_PKCS) {
        /* Raw PKCS#1: sign a DigestInfo as a real client does. */
        static const unsigned char di256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06,
                                               0x09, 0x60, 0x86, 0x48, 0x01,
                                               0x65, 0x03, 0x04, 0x02, 0x01,
                                               0x05, 0x00, 0x04, 0x20 };
        memmove(out + sizeof(di256), out, n);
        memcpy(out, di256, sizeof(di256));
        n += sizeof(di256);
    }
    return n;
}

static bool ossl_verify(EVP_PKEY *pk, const struct sigmech *m,
                        const unsigned char *tbs, size_t tbs_len,
                        const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *der = NULL;
    bool ok = false;

    if (m->fam == FAM_EC) {
        size_t dl = 0;
        der = ecdsa_der(sig, sig_len, &dl);
        if (der == NULL) {
            return false;
        }
        sig = der;
        sig_len = dl;
    }
    if (m->md != NULL || m->fam == FAM_ED) {
        mctx = EVP_MD_CTX_new();
        if (EVP_DigestVerifyInit_ex(mctx, &pctx, m->md, NULL, NULL, pk, NULL)
            != 1) {
            goto out;
        }
        if (m->pss) {
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
            EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, m->md, NULL);
        }
        ok = EVP_DigestVerify(mctx, sig, sig_len, tbs, tbs_len) == 1;
        goto out;
    }
    pctx = EVP_PKEY_CTX_new(pk, NULL);
    if (EVP_PKEY_verify_init(pctx) != 1) {
        goto out;
    }
    if (m->fam == FAM_RSA && m->pss) {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_signature_md(pctx, EVP_get_digestbyname(m->pre));
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_get_digestbyname(m->pre));
    } else if (m->fam == FAM_RSA) {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING);
    }
    ok = EVP_PKEY_verify(pctx, sig, sig_len, tbs, tbs_len) == 1;
    EVP_PKEY_CTX_free(pctx);
    pctx = NULL;
out:
    if (mctx != NULL) {
        EVP_MD_CTX_free(mctx); /* frees pctx too */
    } else {
        EVP_PKEY_CTX_free(pctx);
    }
    OPENSSL_free(der);
    return ok;
}

static void sign_one(const char *what, const struct sigmech *m,
                     CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv, EVP_PKEY *pk)
{
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_MECHANISM mech = { m->mech, NULL, 0 };
    unsigned char tbs[sizeof(MSG) + 64];
    unsigned char sig[1024], sig2[1024];
    CK_ULONG sl = 0, sl2 = sizeof(sig2);
    size_t tl = tbs_for(m, tbs);
    size_t half = tl / 2;
    int before = check_failures;

    if (m->pss) {
        const char *md = m->md != NULL ? m->md : m->pre;
        pss.hashAlg = hash_mech(md);
        pss.mgf = mgf_of(md);
        pss.sLen = (CK_ULONG)EVP_MD_get_size(EVP_get_digestbyname(md));
        mech.pParameter = &pss;
        mech.ulParameterLen = sizeof(pss);
    }
    /* Single part, with a length query first. */
    CHECK_RV(T.f->C_SignInit(S, &mech, priv), CKR_OK);
    CHECK_RV(T.f->C_Sign(S, tbs, tl, NULL, &sl), CKR_OK);
    CHECK(sl > 0 && sl <= sizeof(sig));
    CHECK_RV(T.f->C_Sign(S, tbs, tl, sig, &sl), CKR_OK);
    CHECK(ossl_verify(pk, m, tbs, tl, sig, sl));
    CHECK_RV(T.f->C_VerifyInit(S, &mech, pub), CKR_OK);
    CHECK_RV(T.f->C_Verify(S, tbs, tl, sig, sl), CKR_OK);
    sig[sl / 2] ^= 0x01;
    CHECK_RV(T.f->C_VerifyInit(S, &mech, pub), CKR_OK);
    CHECK_RV(T.f->C_Verify(S, tbs, tl, sig, sl), CKR_SIGNATURE_INVALID);

    if (m->multipart) {
        CHECK_RV(T.f->C_SignInit(S, &mech, priv), CKR_OK);
        CHECK_RV(T.f->C_SignUpdate(S, tbs, half), CKR_OK);
        CHECK_RV(T.f->C_SignUpdate(S, tbs + half, tl - half), CKR_OK);
        CHECK_RV(T.f->C_SignFinal(S, sig2, &sl2), CKR_OK);
        CHECK(ossl_verify(pk, m, tbs, tl, sig2, sl2));
        CHECK_RV(T.f->C_VerifyInit(S, &mech, pub), CKR_OK);
        CHECK_RV(T.f->C_VerifyUpdate(S, tbs, half), CKR_OK);
        CHECK_RV(T.f->C_VerifyUpdate(S, tbs + half, tl - half), CKR_OK);
        CHECK_RV(T.f->C_VerifyFinal(S, sig2, sl2), CKR_OK);
    }
    if (check_failures != before) {
        fprintf(stderr, "  ... key %s, mechanism 0x%lx\n", what, m->mech);
    }
}

static void sign_all(const char *what, enum family fam, CK_OBJECT_HANDLE pub,
                     CK_OBJECT_HANDLE priv)
{
    EVP_PKEY *pk = p11t_pubkey(&T, S, pub);
    CHECK(pk != NULL);
    if (pk == NULL) {
        return;
    }
    for (size_t i = 0; i < N_MECHS; i++) {
        if (MECHS[i].fam == fam) {
            sign_one(what, &MECHS[i], pub, priv, pk);
        }
    }
    EVP_PKEY_free(pk);
}

static void decrypt_all(CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv)
{
    static const unsigned char secret[] = "a session key 0123456789abcdef";
    EVP_PKEY *pk = p11t_pubkey(&T, S, pub);
    const char *oaep_md[] = { "SHA1", "SHA256" };

    CHECK(pk != NULL);
    if (pk == NULL) {
        return;
    }
    for (int i = 0; i < 3; i++) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
        unsigned char ct[512], pt[512];
        size_t cl = sizeof(ct);
        CK_ULONG pl = sizeof(pt);
        CK_RSA_PKCS_OAEP_PARAMS oaep;
        CK_MECHANISM mech = { CKM_RSA_PKCS, NULL, 0 };

        EVP_PKEY_encrypt_init(ctx);
        if (i == 0) {
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING);
        } else {
            const char *md = oaep_md[i - 1];
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING);
            EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL);
            EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, md, NULL);
            memset(&oaep, 0, sizeof(oaep));
            oaep.hashAlg = hash_mech(md);
            oaep.mgf = mgf_of(md);
            oaep.source = CKZ_DATA_SPECIFIED;
            mech.mechanism = CKM_RSA_PKCS_OAEP;
            mech.pParameter = &oaep;
            mech.ulParameterLen = sizeof(oaep);
        }
        CHECK(EVP_PKEY_encrypt(ctx, ct, &cl, secret, sizeof(secret)) == 1);
        EVP_PKEY_CTX_free(ctx);
        CHECK_RV(T.f->C_DecryptInit(S, &mech, priv), CKR_OK);
        CHECK_RV(T.f->C_Decrypt(S, ct, cl, pt, &pl), CKR_OK);
        CHECK_MEM_EQ(pt, pl, secret, sizeof(secret));
        /* A corrupted ciphertext does not decrypt to the secret. */
        ct[cl - 1] ^= 0x5a;
        pl = sizeof(pt);
        CHECK_RV(T.f->C_DecryptInit(S, &mech, priv), CKR_OK);
        CHECK(T.f->C_Decrypt(S, ct, cl, pt, &pl) != CKR_OK
              || pl != sizeof(secret)
              || memcmp(pt, secret, sizeof(secret)) != 0);
    }
    EVP_PKEY_free(pk);
}

static void test_setup(void)
{
    CHECK_RV(p11t_init(&T), CKR_OK);
    CHECK_RV(p11t_init_token(&T), CKR_OK);
    CHECK_RV(p11t_open_user(&T, &S), CKR_OK);
}

static void test_rsa(void)
{
    static const CK_ULONG bits[] = { 2048, 3072, 4096 };
    for (size_t i = 0; i < 3; i++) {
        CK_OBJECT_HANDLE pub = 0, priv = 0;
        char label[32];
        CK_ULONG mbits = 0;

        snprintf(label, sizeof(label), "sign-rsa-%lu", bits[i]);
        CHECK_RV(p11t_gen_rsa(&T, S, bits[i], label, true, &pub, &priv),
                 CKR_OK);
        CHECK_RV(p11t_get_ulong(&T, S, pub, CKA_MODULUS_BITS, &mbits), CKR_OK);
        CHECK_INT_EQ(mbits, bits[i]);
        sign_all(label, FAM_RSA, pub, priv);
        if (bits[i] == 2048) {
            decrypt_all(pub, priv);
        }
    }
}

static void test_ec(void)
{
    static const char *curves[] = { "P-256", "P-384", "P-521" };
    for (size_t i = 0; i < 3; i++) {
        CK_OBJECT_HANDLE pub = 0, priv = 0;
        char label[32];

        snprintf(label, sizeof(label), "sign-ec-%s", curves[i]);
        CHECK_RV(p11t_gen_ec(&T, S, curves[i], label, true, &pub, &priv),
                 CKR_OK);
        sign_all(label, FAM_EC, pub, priv);
    }
}

static void test_ed25519(void)
{
    CK_OBJECT_HANDLE pub = 0, priv = 0;

    CHECK_RV(p11t_gen_ed25519(&T, S, "sign-ed25519", true, &pub, &priv),
             CKR_OK);
    sign_all("ed25519", FAM_ED, pub, priv);
}

static void test_wrong_mech_for_key(void)
{
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };

    CHECK_RV(p11t_gen_ec(&T, S, "P-256", "sign-wrong", false, &pub, &priv),
             CKR_OK);
    CHECK_RV(T.f->C_SignInit(S, &m, priv), CKR_KEY_TYPE_INCONSISTENT);
    m.mechanism = CKM_ECDSA_SHA256;
    /* A public key cannot sign. */
    CHECK(T.f->C_SignInit(S, &m, pub) != CKR_OK);
}

static void test_digests(void)
{
    static const char *mds[] = { "SHA1", "SHA224", "SHA256", "SHA384",
                                 "SHA512" };
    for (size_t i = 0; i < 5; i++) {
        CK_MECHANISM m = { hash_mech(mds[i]), NULL, 0 };
        unsigned char want[64], got[64];
        unsigned int wl = 0;
        CK_ULONG gl = sizeof(got);

        EVP_Digest(MSG, sizeof(MSG), want, &wl, EVP_get_digestbyname(mds[i]),
                   NULL);
        CHECK_RV(T.f->C_DigestInit(S, &m), CKR_OK);
        CHECK_RV(T.f->C_Digest(S, (CK_BYTE *)MSG, sizeof(MSG), got, &gl),
                 CKR_OK);
        CHECK_MEM_EQ(got, gl, want, wl);
        gl = sizeof(got);
        CHECK_RV(T.f->C_DigestInit(S, &m), CKR_OK);
        CHECK_RV(T.f->C_DigestUpdate(S, (CK_BYTE *)MSG, 10), CKR_OK);
        CHECK_RV(T.f->C_DigestUpdate(S, (CK_BYTE *)MSG + 10, sizeof(MSG) - 10),
                 CKR_OK);
        CHECK_RV(T.f->C_DigestFinal(S, got, &gl), CKR_OK);
        CHECK_MEM_EQ(got, gl, want, wl);
    }
}

static void test_random(void)
{
    unsigned char a[32], b[32], zero[32];

    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    memset(zero, 0, sizeof(zero));
    CHECK_RV(T.f->C_GenerateRandom(S, a, sizeof(a)), CKR_OK);
    CHECK_RV(T.f->C_GenerateRandom(S, b, sizeof(b)), CKR_OK);
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    CHECK(memcmp(a, zero, sizeof(a)) != 0);
}

static bool in_list(const CK_MECHANISM_TYPE *l, CK_ULONG n, CK_MECHANISM_TYPE m)
{
    for (CK_ULONG i = 0; i < n; i++) {
        if (l[i] == m) {
            return true;
        }
    }
    return false;
}

static void test_mechanism_list(void)
{
    CK_MECHANISM_TYPE list[128];
    CK_ULONG n = 0;
    CK_MECHANISM_INFO mi;
    static const CK_MECHANISM_TYPE more[] = { CKM_RSA_PKCS_KEY_PAIR_GEN,
                                              CKM_EC_KEY_PAIR_GEN,
                                              CKM_EC_EDWARDS_KEY_PAIR_GEN,
                                              CKM_RSA_PKCS_OAEP,
                                              CKM_SHA_1,
                                              CKM_SHA224,
                                              CKM_SHA256,
                                              CKM_SHA384,
                                              CKM_SHA512 };

    CHECK_RV(T.f->C_GetMechanismList(T.slot, NULL, &n), CKR_OK);
    CHECK(n > 0 && n <= 128);
    if (n > 1) {
        CK_ULONG small = 1;
        CHECK_RV(T.f->C_GetMechanismList(T.slot, list, &small),
                 CKR_BUFFER_TOO_SMALL);
    }
    n = 128;
    CHECK_RV(T.f->C_GetMechanismList(T.slot, list, &n), CKR_OK);
    for (size_t i = 0; i < N_MECHS; i++) {
        CK_RV rv = T.f->C_GetMechanismInfo(T.slot, MECHS[i].mech, &mi);
        CHECK(in_list(list, n, MECHS[i].mech));
        CHECK_RV(rv, CKR_OK);
        if (rv == CKR_OK) {
            CHECK((mi.flags & (CKF_SIGN | CKF_VERIFY))
                  == (CKF_SIGN | CKF_VERIFY));
        }
        if (rv == CKR_OK && MECHS[i].fam == FAM_RSA) {
            CHECK(mi.ulMinKeySize <= 2048 && mi.ulMaxKeySize >= 4096);
        }
        if (rv == CKR_OK && MECHS[i].fam == FAM_EC) {
            CHECK(mi.ulMinKeySize <= 256 && mi.ulMaxKeySize >= 521);
        }
    }
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
        CHECK(in_list(list, n, more[i]));
    }
    /* Every listed mechanism has info, and the info's flags are honest. */
    for (CK_ULONG i = 0; i < n; i++) {
        CHECK_RV(T.f->C_GetMechanismInfo(T.slot, list[i], &mi), CKR_OK);
        CHECK(mi.flags != 0);
    }
    CHECK_RV(T.f->C_GetMechanismInfo(T.slot, CKM_RSA_PKCS_OAEP, &mi), CKR_OK);
    CHECK(mi.flags & CKF_DECRYPT);
    CHECK_RV(T.f->C_GetMechanismInfo(T.slot, CKM_EC_KEY_PAIR_GEN, &mi), CKR_OK);
    CHECK(mi.flags & CKF_GENERATE_KEY_PAIR);
    CHECK_RV(T.f->C_GetMechanismInfo(T.slot, CKM_SHA256, &mi), CKR_OK);
    CHECK(mi.flags & CKF_DIGEST);
}

int main(int argc, char **argv)
{
    p11t_setup(&T, argc, argv, P11T_CONF_FAST);
    CHECK_RUN(test_setup);
    if (check_failures == 0) {
        CHECK_RUN(test_mechanism_list);
        CHECK_RUN(test_ec);
        CHECK_RUN(test_ed25519);
        CHECK_RUN(test_rsa);
        CHECK_RUN(test_wrong_mech_for_key);
        CHECK_RUN(test_digests);
        CHECK_RUN(test_random);
    }
    p11t_teardown(&T);
    return check_summary();
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkcs11/mech.c: the table is consistent (unique types, flags match the
 * operations, sizes sane, names known) and the parameter validators
 * accept and refuse what the spec says.
 */
#include "pkcs11/mech.h"
#include "pkcs11/names.h"
#include "tests/unit/check.h"

static void test_table(void)
{
    size_t n = 0;
    const struct p11p_mech *t = p11p_mech_table(&n);

    CHECK(n >= 28);
    for (size_t i = 0; i < n; i++) {
        CHECK(p11p_names_lookup(P11P_NAMES_CKM, t[i].type) != NULL);
        CHECK(p11p_mech_find(t[i].type) == &t[i]);
        for (size_t j = i + 1; j < n; j++) {
            CHECK(t[i].type != t[j].type);
        }
        CHECK(t[i].check_param != NULL);
        CHECK(((t[i].ops & P11P_MECH_SIGN) != 0)
              == ((t[i].info_flags & CKF_SIGN) != 0));
        CHECK(((t[i].ops & P11P_MECH_VERIFY) != 0)
              == ((t[i].info_flags & CKF_VERIFY) != 0));
        CHECK(((t[i].ops & P11P_MECH_DECRYPT) != 0)
              == ((t[i].info_flags & CKF_DECRYPT) != 0));
        CHECK(((t[i].ops & P11P_MECH_DIGEST) != 0)
              == ((t[i].info_flags & CKF_DIGEST) != 0));
        CHECK(((t[i].ops & P11P_MECH_KEYGEN) != 0)
              == ((t[i].info_flags & CKF_GENERATE_KEY_PAIR) != 0));
        CHECK(t[i].min_bits <= t[i].max_bits);
        if (t[i].ops & P11P_MECH_DIGEST) {
            CHECK(t[i].md_name != NULL);
            CHECK(t[i].key_type == CK_UNAVAILABLE_INFORMATION);
        } else {
            CHECK(t[i].min_bits > 0);
        }
        if (t[i].ops & (P11P_MECH_SIGN | P11P_MECH_VERIFY)) {
            CHECK(t[i].raw == (t[i].md_name == NULL));
        }
    }
    /* What the design lists. */
    static const CK_MECHANISM_TYPE must[] = {
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        CKM_EC_KEY_PAIR_GEN,
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        CKM_RSA_PKCS,
        CKM_SHA1_RSA_PKCS,
        CKM_SHA224_RSA_PKCS,
        CKM_SHA256_RSA_PKCS,
        CKM_SHA384_RSA_PKCS,
        CKM_SHA512_RSA_PKCS,
        CKM_RSA_PKCS_PSS,
        CKM_SHA1_RSA_PKCS_PSS,
        CKM_SHA224_RSA_PKCS_PSS,
        CKM_SHA256_RSA_PKCS_PSS,
        CKM_SHA384_RSA_PKCS_PSS,
        CKM_SHA512_RSA_PKCS_PSS,
        CKM_RSA_PKCS_OAEP,
        CKM_ECDSA,
        CKM_ECDSA_SHA1,
        CKM_ECDSA_SHA224,
        CKM_ECDSA_SHA256,
        CKM_ECDSA_SHA384,
        CKM_ECDSA_SHA512,
        CKM_EDDSA,
        CKM_SHA_1,
        CKM_SHA224,
        CKM_SHA256,
        CKM_SHA384,
        CKM_SHA512,
    };
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++) {
        CHECK(p11p_mech_find(must[i]) != NULL);
    }
    CHECK(p11p_mech_find(CKM_AES_CBC) == NULL);
    /* OAEP decrypts only. */
    CHECK(p11p_mech_find(CKM_RSA_PKCS_OAEP)->ops == P11P_MECH_DECRYPT);
}

static void test_check(void)
{
    const struct p11p_mech *m = NULL;
    CK_MECHANISM ecdsa = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_MECHANISM aes = { CKM_AES_CBC, NULL, 0 };
    CK_BYTE junk[4] = { 0 };
    CK_MECHANISM ecdsa_param = { CKM_ECDSA, junk, sizeof(junk) };
    CK_MECHANISM null_param = { CKM_ECDSA, NULL, 4 };

    CHECK_RV(p11p_mech_check(NULL, P11P_MECH_SIGN, &m), CKR_ARGUMENTS_BAD);
    CHECK_RV(p11p_mech_check(&ecdsa, P11P_MECH_SIGN, &m), CKR_OK);
    CHECK(m != NULL && m->type == CKM_ECDSA_SHA256);
    CHECK_RV(p11p_mech_check(&ecdsa, P11P_MECH_DECRYPT, &m),
             CKR_MECHANISM_INVALID);
    CHECK_RV(p11p_mech_check(&aes, P11P_MECH_SIGN, &m), CKR_MECHANISM_INVALID);
    CHECK_RV(p11p_mech_check(&ecdsa_param, P11P_MECH_SIGN, &m),
             CKR_MECHANISM_PARAM_INVALID);
    CHECK_RV(p11p_mech_check(&null_param, P11P_MECH_SIGN, &m),
             CKR_MECHANISM_PARAM_INVALID);
}

static void test_pss(void)
{
    const struct p11p_mech *m = NULL;
    CK_RSA_PKCS_PSS_PARAMS ok = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
    CK_RSA_PKCS_PSS_PARAMS bad_mgf = { CKM_SHA256, CKG_MGF1_SHA1, 32 };
    CK_RSA_PKCS_PSS_PARAMS bad_hash = { CKM_MD5, CKG_MGF1_SHA1, 32 };
    CK_RSA_PKCS_PSS_PARAMS other = { CKM_SHA384, CKG_MGF1_SHA384, 48 };
    CK_MECHANISM raw = { CKM_RSA_PKCS_PSS, &ok, sizeof(ok) };
    CK_MECHANISM hashed = { CKM_SHA256_RSA_PKCS_PSS, &ok, sizeof(ok) };
    CK_MECHANISM mismatch = { CKM_SHA256_RSA_PKCS_PSS, &other, sizeof(other) };
    CK_MECHANISM mgf = { CKM_RSA_PKCS_PSS, &bad_mgf, sizeof(bad_mgf) };
    CK_MECHANISM hash = { CKM_RSA_PKCS_PSS, &bad_hash, sizeof(bad_hash) };
    CK_MECHANISM none = { CKM_RSA_PKCS_PSS, NULL, 0 };
    CK_MECHANISM shortp = { CKM_RSA_PKCS_PSS, &ok, sizeof(ok) - 1 };

    CHECK_RV(p11p_mech_check(&raw, P11P_MECH_SIGN, &m), CKR_OK);
    CHECK_RV(p11p_mech_check(&hashed, P11P_MECH_VERIFY, &m), CKR_OK);
    CHECK_RV(p11p_mech_check(&mismatch, P11P_MECH_SIGN, &m),
             CKR_MECHANISM_PARAM_INVALID);
    CHECK_RV(p11p_mech_check(&mgf, P11P_MECH_SIGN, &m),
             CKR_MECHANISM_PARAM_INVALID);
    CHECK_RV(p11p_mech_check(&hash, P11P_MECH_SIGN, &m),
             CKR_MECHANISM_PARAM_INVALID);
    CHECK_RV(p11p_mech_check(&none, P11P_MECH_SIGN, &m),
             CKR_MECHANISM_PARAM_INVALID);
    CHECK_RV(p11p_mech_check(&shortp, P11P_MECH_SIGN, &m),
             CKR_MECHANISM_PARAM_INVALID);
}

static void test_oaep(void)
{
    const struct p11p_mech *m = NULL;
    CK_BYTE label[3] = { 1, 2, 3 };
    CK_RSA_PKCS_OAEP_PARAMS ok = { CKM_SHA256, CKG_MGF1_SHA256,
                                   CKZ_DATA_SPECIFIED, NULL, 0 };
    CK_RSA_PKCS_OAEP_PARAMS labeled = { CKM_SHA_1, CKG_MGF1_SHA1,
                                        CKZ_DATA_SPECIFIED, label, 3 };
    CK_RSA_PKCS_OAEP_PARAMS bad_src = { CKM_SHA_1, CKG_MGF1_SHA1, 7, NULL, 0 };
    CK_RSA_PKCS_OAEP_PARAMS null_label = { CKM_SHA_1, CKG_MGF1_SHA1,
                                           CKZ_DATA_SPECIFIED, NULL, 3 };
    CK_MECHANISM a = { CKM_RSA_PKCS_OAEP, &ok, sizeof(ok) };
    CK_MECHANISM b = { CKM_RSA_PKCS_OAEP, &labeled, sizeof(labeled) };
    CK_MECHANISM c = { CKM_RSA_PKCS_OAEP, &bad_src, sizeof(bad_src) };
    CK_MECHANISM d = { CKM_RSA_PKCS_OAEP, &null_label, sizeof(null_label) };

    CHECK_RV(p11p_mech_check(&a, P11P_MECH_DECRYPT, &m), CKR_OK);
    CHECK_RV(p11p_mech_check(&b, P11P_MECH_DECRYPT, &m), CKR_OK);
    CHECK_RV(p11p_mech_check(&c, P11P_MECH_DECRYPT, &m),
             CKR_MECHANISM_PARAM_INVALID);
    CHECK_RV(p11p_mech_check(&d, P11P_MECH_DECRYPT, &m),
             CKR_MECHANISM_PARAM_INVALID);
    CHECK_RV(p11p_mech_check(&a, P11P_MECH_SIGN, &m), CKR_MECHANISM_INVALID);
}

int main(void)
{
    CHECK_RUN(test_table);
    CHECK_RUN(test_check);
    CHECK_RUN(test_pss);
    CHECK_RUN(test_oaep);
    return check_summary();
}

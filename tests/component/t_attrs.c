/* SPDX-License-Identifier: Apache-2.0 */
/*
 * t_attrs: C_GetAttributeValue's standard semantics (PKCS#11 3.0 §5.7.5):
 * length query, CKR_BUFFER_TOO_SMALL, CKR_ATTRIBUTE_SENSITIVE,
 * CKR_ATTRIBUTE_TYPE_INVALID, every attribute of the template processed
 * even when some fail; and the key attributes the design promises.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/component/p11t.h"
#include "tests/unit/check.h"

static struct p11t T;
static CK_SESSION_HANDLE S;
static CK_OBJECT_HANDLE PUB, PRIV;

#define LABEL      "attrs-key"
#define BOGUS_TYPE ((CK_ATTRIBUTE_TYPE)0x7ff0beefUL)

static void test_setup(void)
{
    CHECK_RV(p11t_init(&T), CKR_OK);
    CHECK_RV(p11t_init_token(&T), CKR_OK);
    CHECK_RV(p11t_open_user(&T, &S), CKR_OK);
    CHECK_RV(p11t_gen_ec(&T, S, "P-256", LABEL, false, &PUB, &PRIV), CKR_OK);
}

static void test_length_query(void)
{
    CK_ATTRIBUTE a = { CKA_LABEL, NULL, 0 };
    char buf[64];

    CHECK_RV(T.f->C_GetAttributeValue(S, PRIV, &a, 1), CKR_OK);
    CHECK_INT_EQ(a.ulValueLen, strlen(LABEL));
    a.pValue = buf;
    a.ulValueLen = sizeof(buf);
    CHECK_RV(T.f->C_GetAttributeValue(S, PRIV, &a, 1), CKR_OK);
    CHECK_MEM_EQ(buf, a.ulValueLen, LABEL, strlen(LABEL));
}

static void test_buffer_too_small(void)
{
    char buf[2];
    CK_ATTRIBUTE a = { CKA_LABEL, buf, sizeof(buf) };

    CHECK_RV(T.f->C_GetAttributeValue(S, PRIV, &a, 1), CKR_BUFFER_TOO_SMALL);
    CHECK_RV(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
}

static void test_sensitive(void)
{
    CK_ATTRIBUTE a = { CKA_VALUE, NULL, 0 };
    CK_BBOOL sens = CK_FALSE, extr = CK_TRUE, asens = CK_FALSE,
             nextr = CK_FALSE, local = CK_FALSE;
    CK_ATTRIBUTE flags[] = {
        { CKA_SENSITIVE, &sens, sizeof(sens) },
        { CKA_EXTRACTABLE, &extr, sizeof(extr) },
        { CKA_ALWAYS_SENSITIVE, &asens, sizeof(asens) },
        { CKA_NEVER_EXTRACTABLE, &nextr, sizeof(nextr) },
        { CKA_LOCAL, &local, sizeof(local) },
    };

    CHECK_RV(T.f->C_GetAttributeValue(S, PRIV, &a, 1), CKR_ATTRIBUTE_SENSITIVE);
    CHECK_RV(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CHECK_RV(T.f->C_GetAttributeValue(S, PRIV, flags, 5), CKR_OK);
    CHECK(sens == CK_TRUE);
    CHECK(extr == CK_FALSE);
    CHECK(asens == CK_TRUE);
    CHECK(nextr == CK_TRUE);
    CHECK(local == CK_TRUE);
}

static void test_type_invalid(void)
{
    CK_ATTRIBUTE a = { BOGUS_TYPE, NULL, 0 };
    CK_ATTRIBUTE m = { CKA_MODULUS, NULL, 0 }; /* not an EC attribute */

    CHECK_RV(T.f->C_GetAttributeValue(S, PRIV, &a, 1),
             CKR_ATTRIBUTE_TYPE_INVALID);
    CHECK_RV(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CHECK_RV(T.f->C_GetAttributeValue(S, PUB, &m, 1),
             CKR_ATTRIBUTE_TYPE_INVALID);
    CHECK_RV(m.ulValueLen, CK_UNAVAILABLE_INFORMATION);
}

static void test_mixed(void)
{
    CK_OBJECT_CLASS klass = 0;
    CK_KEY_TYPE kt = 0;
    char label[64];
    CK_BYTE small[1];
    CK_ULONG rv;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &klass, sizeof(klass) },
        { CKA_VALUE, NULL, 0 },              /* sensitive */
        { BOGUS_TYPE, NULL, 0 },             /* invalid */
        { CKA_LABEL, label, sizeof(label) }, /* fine */
        { CKA_ID, small, sizeof(small) },    /* too small */
        { CKA_KEY_TYPE, &kt, sizeof(kt) },   /* fine, after the failures */
    };

    rv = T.f->C_GetAttributeValue(S, PRIV, t, 6);
    CHECK(rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID
          || rv == CKR_BUFFER_TOO_SMALL);
    CHECK_RV(klass, CKO_PRIVATE_KEY);
    CHECK_RV(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CHECK_RV(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CHECK_MEM_EQ(label, t[3].ulValueLen, LABEL, strlen(LABEL));
    CHECK_RV(t[4].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CHECK_RV(kt, CKK_EC);
    CHECK_RV(t[5].ulValueLen, sizeof(kt));
}

static void test_ids_pair(void)
{
    unsigned char *a = NULL, *b = NULL;
    CK_ULONG al = 0, bl = 0;

    CHECK_RV(p11t_get_attr(&T, S, PRIV, CKA_ID, &a, &al), CKR_OK);
    CHECK_RV(p11t_get_attr(&T, S, PUB, CKA_ID, &b, &bl), CKR_OK);
    CHECK(al > 0);
    CHECK_INT_EQ(al, 20); /* SHA-1 of the public key when not given */
    CHECK_MEM_EQ(a, al, b, bl);
    free(a);
    free(b);
}

static void test_public_readable(void)
{
    unsigned char *pt = NULL, *params = NULL;
    CK_ULONG ptl = 0, pl = 0;
    size_t rl = 0;

    CHECK_RV(p11t_get_attr(&T, S, PUB, CKA_EC_POINT, &pt, &ptl), CKR_OK);
    CHECK_RV(p11t_get_attr(&T, S, PUB, CKA_EC_PARAMS, &params, &pl), CKR_OK);
    if (pt != NULL) {
        p11t_ec_point_raw(pt, ptl, &rl);
        CHECK_INT_EQ(rl, 65);
        CHECK_INT_EQ(ptl, 67); /* DER OCTET STRING, as the spec says */
    }
    free(pt);
    free(params);
}

int main(int argc, char **argv)
{
    p11t_setup(&T, argc, argv, P11T_CONF_FAST);
    CHECK_RUN(test_setup);
    if (check_failures == 0) {
        CHECK_RUN(test_length_query);
        CHECK_RUN(test_buffer_too_small);
        CHECK_RUN(test_sensitive);
        CHECK_RUN(test_type_invalid);
        CHECK_RUN(test_mixed);
        CHECK_RUN(test_ids_pair);
        CHECK_RUN(test_public_readable);
    }
    p11t_teardown(&T);
    return check_summary();
}

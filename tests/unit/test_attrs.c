/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkcs11/attrs.c (template helpers and the C_GetAttributeValue copy-out
 * rule) and pkcs11/ckr.c (status mapping, allowed return sets).
 */
#include <stdlib.h>
#include <string.h>

#include "pkcs11/attrs.h"
#include "pkcs11/ckr.h"
#include "tests/unit/check.h"

static void test_find_and_read(void)
{
    CK_ULONG cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    char label[] = "lab";
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_TOKEN, &yes, 1 },
        { CKA_LABEL, label, 3 },
        { CKA_ID, NULL, 0 },
    };
    CK_ULONG v = 0;
    bool b = false, present = false;
    char *s = NULL;

    CHECK(p11p_attrs_find(t, 4, CKA_LABEL) == &t[2]);
    CHECK(p11p_attrs_find(t, 4, CKA_VALUE) == NULL);
    CHECK(p11p_attrs_find(NULL, 0, CKA_VALUE) == NULL);
    CHECK(p11p_attrs_get_ulong(t, 4, CKA_CLASS, &v) && v == CKO_DATA);
    CHECK(!p11p_attrs_get_ulong(t, 4, CKA_TOKEN, &v)); /* wrong size */
    CHECK(p11p_attrs_get_bool(t, 4, CKA_TOKEN, &b) && b);
    CHECK(!p11p_attrs_get_bool(t, 4, CKA_CLASS, &b));
    s = p11p_attrs_dup_str(t, 4, CKA_LABEL, &present);
    CHECK(present);
    CHECK_STR_EQ(s, "lab");
    free(s);
    s = p11p_attrs_dup_str(t, 4, CKA_ID, &present);
    CHECK(present);
    CHECK_STR_EQ(s, "");
    free(s);
    s = p11p_attrs_dup_str(t, 4, CKA_VALUE, &present);
    CHECK(!present && s == NULL);
}

static void test_match(void)
{
    struct p11p_attrlist l = { 0 };
    char lab[] = "web01", other[] = "web02";
    CK_ATTRIBUTE yes[] = { { CKA_LABEL, lab, 5 } };
    CK_ATTRIBUTE no[] = { { CKA_LABEL, other, 5 } };
    CK_ATTRIBUTE shorter[] = { { CKA_LABEL, lab, 4 } };
    CK_ATTRIBUTE absent[] = { { CKA_ID, lab, 5 } };

    CHECK_RV(p11p_attrlist_set(&l, CKA_LABEL, lab, 5), P11P_OK);
    CHECK(p11p_attrs_match(NULL, 0, &l));
    CHECK(p11p_attrs_match(yes, 1, &l));
    CHECK(!p11p_attrs_match(no, 1, &l));
    CHECK(!p11p_attrs_match(shorter, 1, &l));
    CHECK(!p11p_attrs_match(absent, 1, &l));
    p11p_attrlist_clear(&l);
}

static void test_copy_out(void)
{
    unsigned char buf[8];
    CK_ATTRIBUTE a = { CKA_VALUE, NULL, 0 };

    /* Length query. */
    CHECK_RV(p11p_attrs_copy_out(&a, "abcdef", 6), CKR_OK);
    CHECK_INT_EQ(a.ulValueLen, 6);
    /* Too small: CK_UNAVAILABLE_INFORMATION and CKR_BUFFER_TOO_SMALL. */
    a.pValue = buf;
    a.ulValueLen = 3;
    CHECK_RV(p11p_attrs_copy_out(&a, "abcdef", 6), CKR_BUFFER_TOO_SMALL);
    CHECK(a.ulValueLen == CK_UNAVAILABLE_INFORMATION);
    /* Fits. */
    a.ulValueLen = sizeof(buf);
    CHECK_RV(p11p_attrs_copy_out(&a, "abcdef", 6), CKR_OK);
    CHECK_INT_EQ(a.ulValueLen, 6);
    CHECK_MEM_EQ(buf, 6, "abcdef", 6);
    /* Empty value. */
    a.ulValueLen = sizeof(buf);
    CHECK_RV(p11p_attrs_copy_out(&a, "", 0), CKR_OK);
    CHECK_INT_EQ(a.ulValueLen, 0);
}

static void test_to_list(void)
{
    struct p11p_attrlist l = { 0 };
    CK_ULONG cls = CKO_CERTIFICATE;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) },
                         { CKA_LABEL, NULL, 0 } };
    CK_ULONG v = 0;

    CHECK_RV(p11p_attrs_to_list(t, 2, &l), P11P_OK);
    CHECK_INT_EQ(l.n, 2);
    CHECK(p11p_attrlist_get_ulong(&l, CKA_CLASS, &v) && v == cls);
    CHECK(p11p_attrlist_get0(&l, CKA_LABEL)->ulValueLen == 0);
    p11p_attrlist_clear(&l);
}

static void test_ckr(void)
{
    /* Every status maps to a code; the STYLE.md 3.5 table. */
    CHECK_RV(p11p_ckr_from_status(P11P_OK), CKR_OK);
    CHECK_RV(p11p_ckr_from_status(P11P_ERR_NOMEM), CKR_HOST_MEMORY);
    CHECK_RV(p11p_ckr_from_status(P11P_ERR_IO), CKR_DEVICE_ERROR);
    CHECK_RV(p11p_ckr_from_status(P11P_ERR_CORRUPT), CKR_DEVICE_ERROR);
    CHECK_RV(p11p_ckr_from_status(P11P_ERR_AUTH), CKR_PIN_INCORRECT);
    CHECK_RV(p11p_ckr_from_status(P11P_ERR_PIN_LOCKED), CKR_PIN_LOCKED);
    CHECK_RV(p11p_ckr_from_status(P11P_ERR_REJECTED), CKR_FUNCTION_FAILED);
    CHECK_RV(p11p_ckr_from_status(P11P_ERR_PROTOCOL), CKR_FUNCTION_FAILED);
    CHECK_RV(p11p_ckr_from_status(P11P_ERR_INTERNAL), CKR_GENERAL_ERROR);
    for (int st = 0; st < P11P_STATUS_COUNT; st++) {
        CK_RV rv = p11p_ckr_from_status((enum p11p_status)st);

        CHECK(st == P11P_OK ? rv == CKR_OK : rv != CKR_OK);
    }
    /* Allowed sets: common codes everywhere, specific ones per function. */
    for (int fn = 0; fn < P11P_FN_COUNT; fn++) {
        CHECK(p11p_ckr_allowed((enum p11p_fn)fn, CKR_OK));
        CHECK(p11p_ckr_allowed((enum p11p_fn)fn, CKR_FUNCTION_NOT_SUPPORTED));
        CHECK(p11p_ckr_allowed((enum p11p_fn)fn, CKR_HOST_MEMORY));
        CHECK(strncmp(p11p_ckr_fn_name((enum p11p_fn)fn), "C_", 2) == 0);
    }
    CHECK_STR_EQ(p11p_ckr_fn_name(P11P_FN_SIGN_INIT), "C_SignInit");
    CHECK_STR_EQ(p11p_ckr_fn_name(P11P_FN_MESSAGE_VERIFY_FINAL),
                 "C_MessageVerifyFinal");
    CHECK(p11p_ckr_allowed(P11P_FN_SIGN, CKR_BUFFER_TOO_SMALL));
    CHECK(p11p_ckr_allowed(P11P_FN_SIGN, CKR_SESSION_HANDLE_INVALID));
    CHECK(!p11p_ckr_allowed(P11P_FN_SIGN, CKR_OPERATION_ACTIVE));
    CHECK(p11p_ckr_allowed(P11P_FN_SIGN_INIT, CKR_OPERATION_ACTIVE));
    CHECK(p11p_ckr_allowed(P11P_FN_VERIFY, CKR_SIGNATURE_INVALID));
    CHECK(!p11p_ckr_allowed(P11P_FN_SIGN, CKR_SIGNATURE_INVALID));
    CHECK(
        p11p_ckr_allowed(P11P_FN_GET_ATTRIBUTE_VALUE, CKR_ATTRIBUTE_SENSITIVE));
    CHECK(p11p_ckr_allowed(P11P_FN_GET_SLOT_INFO, CKR_SLOT_ID_INVALID));
    CHECK(!p11p_ckr_allowed(P11P_FN_GET_INFO, CKR_SLOT_ID_INVALID));
    CHECK(p11p_ckr_allowed(P11P_FN_LOGIN, CKR_USER_ALREADY_LOGGED_IN));
    CHECK(p11p_ckr_allowed(P11P_FN_WAIT_FOR_SLOT_EVENT, CKR_NO_EVENT));
    CHECK(!p11p_ckr_allowed(P11P_FN_COUNT, CKR_OK));
}

int main(void)
{
    CHECK_RUN(test_find_and_read);
    CHECK_RUN(test_match);
    CHECK_RUN(test_copy_out);
    CHECK_RUN(test_to_list);
    CHECK_RUN(test_ckr);
    return check_summary();
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * t_contract: the PKCS#11 calling contract of the module. NULL pointers,
 * bad handles, wrong session state, calls before C_Initialize and after
 * C_Finalize, the 3.0 interface getters and a full function table.
 */
#include <stdlib.h>
#include <string.h>

#include "include/p11portal/pkcs11-vendor.h"
#include "tests/component/p11t.h"
#include "tests/unit/check.h"

static struct p11t T;

#define BAD_SESSION ((CK_SESSION_HANDLE)0x7ead5e55UL)
#define BAD_OBJECT  ((CK_OBJECT_HANDLE)0x7eadbeefUL)

/* 2.40: version + 68 functions; 3.0 adds 24 more. */
#define N_FUNCS_2_40 68
#define N_FUNCS_3_0  (68 + 24)

static void check_table(void *list, size_t n, const char *what)
{
    /* The functions follow the CK_VERSION; all are pointers. */
    void *first = &((CK_FUNCTION_LIST *)list)->C_Initialize;
    void **fns = first;
    size_t nulls = 0;
    for (size_t i = 0; i < n; i++) {
        if (fns[i] == NULL) {
            fprintf(stderr, "%s: function slot %zu is NULL\n", what, i);
            nulls++;
        }
    }
    CHECK_INT_EQ(nulls, 0);
}

static void test_before_init(void)
{
    CK_INFO info;
    CK_ULONG n = 0;
    CK_SESSION_HANDLE s;

    CHECK_RV(T.f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(T.f->C_GetSlotList(CK_FALSE, NULL, &n),
             CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(T.f->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s),
             CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(T.f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(T.f->C_CloseSession(1), CKR_CRYPTOKI_NOT_INITIALIZED);
}

static void test_function_lists(void)
{
    p11t_get_interface_list_fn gil =
        (p11t_get_interface_list_fn)p11t_sym(&T, "C_GetInterfaceList");
    p11t_get_interface_fn gi =
        (p11t_get_interface_fn)p11t_sym(&T, "C_GetInterface");
    struct p11t_interface list[8];
    struct p11t_interface *iface = NULL;
    CK_ULONG n = 0;
    CK_VERSION v240 = { 2, 40 };
    CK_VERSION v300 = { 3, 0 };
    bool seen_30 = false, seen_240 = false;

    check_table(T.f, N_FUNCS_2_40, "C_GetFunctionList");
    CHECK_INT_EQ(T.f->version.major, 2);
    CHECK(gil != NULL);
    CHECK(gi != NULL);
    if (gil == NULL || gi == NULL) {
        return;
    }
    CHECK_RV(gil(NULL, NULL), CKR_ARGUMENTS_BAD);
    CHECK_RV(gil(NULL, &n), CKR_OK);
    CHECK(n >= 2 && n <= 8);
    if (n > 1) {
        CK_ULONG small = 1;
        CHECK_RV(gil(list, &small), CKR_BUFFER_TOO_SMALL);
    }
    n = 8;
    CHECK_RV(gil(list, &n), CKR_OK);
    for (CK_ULONG i = 0; i < n && i < 8; i++) {
        CK_VERSION *ver = list[i].functions;
        CHECK_STR_EQ((char *)list[i].name, "PKCS 11");
        CHECK(ver != NULL);
        if (ver == NULL) {
            continue;
        }
        if (ver->major == 3) {
            seen_30 = true;
            check_table(list[i].functions, N_FUNCS_3_0, "3.0 interface");
        } else if (ver->major == 2 && ver->minor == 40) {
            seen_240 = true;
            check_table(list[i].functions, N_FUNCS_2_40, "2.40 interface");
        }
    }
    CHECK(seen_30);
    CHECK(seen_240);

    CHECK_RV(gi(NULL, NULL, &iface, 0), CKR_OK);
    CHECK(iface != NULL && ((CK_VERSION *)iface->functions)->major == 3);
    CHECK_RV(gi((CK_UTF8CHAR *)"PKCS 11", &v240, &iface, 0), CKR_OK);
    CHECK(iface != NULL && ((CK_VERSION *)iface->functions)->major == 2);
    CHECK_RV(gi((CK_UTF8CHAR *)"PKCS 11", &v300, &iface, 0), CKR_OK);
    CHECK(iface != NULL && ((CK_VERSION *)iface->functions)->major == 3);
    CHECK_RV(gi((CK_UTF8CHAR *)"Vendor nope", NULL, &iface, 0),
             CKR_ARGUMENTS_BAD);
    CHECK_RV(gi(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
}

static void test_init_twice(void)
{
    CK_INFO info;

    CHECK_RV(T.f->C_Initialize(NULL), CKR_OK);
    T.initialized = true;
    CHECK_RV(T.f->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    CHECK_RV(T.f->C_Finalize((void *)&info), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_GetInfo(&info), CKR_OK);
    CHECK_INT_EQ(info.cryptokiVersion.major, 2);
}

static void test_null_pointers(void)
{
    CK_SLOT_ID slots[4];
    CK_ULONG n = 4;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    CK_MECHANISM_INFO mi;
    CK_OBJECT_HANDLE h;
    CK_ULONG count = 0;
    CK_BYTE buf[16];

    CHECK_RV(T.f->C_GetSlotList(CK_FALSE, NULL, NULL), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_GetSlotList(CK_FALSE, slots, &n), CKR_OK);
    CHECK(n >= 1);
    T.slot = slots[0];
    CHECK_RV(T.f->C_GetSlotInfo(T.slot, NULL), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_GetSlotInfo(0x7777, &si), CKR_SLOT_ID_INVALID);
    CHECK_RV(T.f->C_GetTokenInfo(T.slot, NULL), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_GetTokenInfo(0x7777, &ti), CKR_SLOT_ID_INVALID);
    CHECK_RV(T.f->C_GetMechanismList(T.slot, NULL, NULL), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_GetMechanismInfo(T.slot, CKM_SHA256, NULL),
             CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_GetMechanismInfo(T.slot, CKM_DES_ECB, &mi),
             CKR_MECHANISM_INVALID);
    CHECK_RV(T.f->C_OpenSession(T.slot, CKF_SERIAL_SESSION, NULL, NULL, NULL),
             CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_OpenSession(T.slot, 0, NULL, NULL, &s),
             CKR_SESSION_PARALLEL_NOT_SUPPORTED);
    CHECK_RV(T.f->C_OpenSession(0x7777, CKF_SERIAL_SESSION, NULL, NULL, &s),
             CKR_SLOT_ID_INVALID);
    CHECK_RV(T.f->C_OpenSession(T.slot, CKF_SERIAL_SESSION, NULL, NULL, &s),
             CKR_OK);
    CHECK_RV(T.f->C_GetSessionInfo(s, NULL), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_GenerateRandom(s, NULL, 16), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_GenerateRandom(s, buf, sizeof(buf)), CKR_OK);
    CHECK_RV(T.f->C_FindObjectsInit(s, NULL, 1), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_FindObjectsInit(s, NULL, 0), CKR_OK);
    CHECK_RV(T.f->C_FindObjects(s, NULL, 1, &count), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_FindObjects(s, &h, 1, NULL), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_FindObjectsFinal(s), CKR_OK);
    CHECK_RV(T.f->C_GetAttributeValue(s, BAD_OBJECT, NULL, 1),
             CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_DigestInit(s, NULL), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_CloseSession(s), CKR_OK);
}

static void test_bad_handles(void)
{
    CK_SESSION_INFO info;
    CK_MECHANISM m = { CKM_SHA256, NULL, 0 };
    CK_BYTE buf[16];
    CK_ULONG len = sizeof(buf);
    CK_ATTRIBUTE a = { CKA_LABEL, NULL, 0 };
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;

    CHECK_RV(T.f->C_GetSessionInfo(BAD_SESSION, &info),
             CKR_SESSION_HANDLE_INVALID);
    CHECK_RV(T.f->C_CloseSession(BAD_SESSION), CKR_SESSION_HANDLE_INVALID);
    CHECK_RV(T.f->C_CloseSession(CK_INVALID_HANDLE),
             CKR_SESSION_HANDLE_INVALID);
    CHECK_RV(T.f->C_Login(BAD_SESSION, CKU_USER, (CK_UTF8CHAR *)"x", 1),
             CKR_SESSION_HANDLE_INVALID);
    CHECK_RV(T.f->C_DigestInit(BAD_SESSION, &m), CKR_SESSION_HANDLE_INVALID);
    CHECK_RV(T.f->C_FindObjectsInit(BAD_SESSION, NULL, 0),
             CKR_SESSION_HANDLE_INVALID);
    CHECK_RV(T.f->C_GenerateRandom(BAD_SESSION, buf, sizeof(buf)),
             CKR_SESSION_HANDLE_INVALID);
    CHECK_RV(T.f->C_Sign(BAD_SESSION, buf, 4, buf, &len),
             CKR_SESSION_HANDLE_INVALID);

    CHECK_RV(T.f->C_OpenSession(T.slot, CKF_SERIAL_SESSION, NULL, NULL, &s),
             CKR_OK);
    CHECK_RV(T.f->C_GetAttributeValue(s, BAD_OBJECT, &a, 1),
             CKR_OBJECT_HANDLE_INVALID);
    CHECK_RV(T.f->C_GetAttributeValue(s, CK_INVALID_HANDLE, &a, 1),
             CKR_OBJECT_HANDLE_INVALID);
    CHECK_RV(T.f->C_CloseSession(s), CKR_OK);
    /* Closed handles are invalid. */
    CHECK_RV(T.f->C_GetSessionInfo(s, &info), CKR_SESSION_HANDLE_INVALID);
}

static void test_operation_state(void)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_MECHANISM m = { CKM_SHA256, NULL, 0 };
    CK_BYTE out[64];
    CK_ULONG len = sizeof(out);
    CK_OBJECT_HANDLE h[4];
    CK_ULONG n = 0;

    CHECK_RV(T.f->C_OpenSession(T.slot, CKF_SERIAL_SESSION, NULL, NULL, &s),
             CKR_OK);
    CHECK_RV(T.f->C_Digest(s, (CK_BYTE *)"abc", 3, out, &len),
             CKR_OPERATION_NOT_INITIALIZED);
    CHECK_RV(T.f->C_DigestUpdate(s, (CK_BYTE *)"abc", 3),
             CKR_OPERATION_NOT_INITIALIZED);
    len = sizeof(out);
    CHECK_RV(T.f->C_Sign(s, (CK_BYTE *)"abc", 3, out, &len),
             CKR_OPERATION_NOT_INITIALIZED);
    CHECK_RV(T.f->C_FindObjects(s, h, 4, &n), CKR_OPERATION_NOT_INITIALIZED);
    CHECK_RV(T.f->C_FindObjectsFinal(s), CKR_OPERATION_NOT_INITIALIZED);
    CHECK_RV(T.f->C_DigestInit(s, &m), CKR_OK);
    CHECK_RV(T.f->C_DigestInit(s, &m), CKR_OPERATION_ACTIVE);
    len = sizeof(out);
    CHECK_RV(T.f->C_Digest(s, (CK_BYTE *)"abc", 3, out, &len), CKR_OK);
    CHECK_INT_EQ(len, 32);
    /* The operation ended with the successful C_Digest. */
    len = sizeof(out);
    CHECK_RV(T.f->C_Digest(s, (CK_BYTE *)"abc", 3, out, &len),
             CKR_OPERATION_NOT_INITIALIZED);
    CHECK_RV(T.f->C_FindObjectsInit(s, NULL, 0), CKR_OK);
    CHECK_RV(T.f->C_FindObjectsInit(s, NULL, 0), CKR_OPERATION_ACTIVE);
    CHECK_RV(T.f->C_FindObjectsFinal(s), CKR_OK);
    CHECK_RV(T.f->C_CloseSession(s), CKR_OK);
}

static void test_not_logged_in(void)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE pub, priv;

    CHECK_RV(p11t_init_token(&T), CKR_OK);
    CHECK_RV(T.f->C_OpenSession(T.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                NULL, NULL, &s),
             CKR_OK);
    CHECK_RV(T.f->C_Logout(s), CKR_USER_NOT_LOGGED_IN);
    CHECK_RV(
        T.f->C_InitPIN(s, (CK_UTF8CHAR *)P11T_USER_PIN, strlen(P11T_USER_PIN)),
        CKR_USER_NOT_LOGGED_IN);
    CHECK_RV(
        p11t_gen_ec(&T, s, "P-256", "contract-nologin", false, &pub, &priv),
        CKR_USER_NOT_LOGGED_IN);
    CHECK_RV(T.f->C_Login(s, 0x4242, (CK_UTF8CHAR *)P11T_USER_PIN,
                          strlen(P11T_USER_PIN)),
             CKR_USER_TYPE_INVALID);
    CHECK_RV(T.f->C_Login(s, CKU_USER, NULL, 8), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_InitToken(T.slot, (CK_UTF8CHAR *)P11T_SO_PIN,
                              strlen(P11T_SO_PIN), NULL),
             CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_CloseSession(s), CKR_OK);
}

/* Argument and handle checks of calls that need a logged-in user (the
 * login check may come first, so these run logged in). */
static void test_logged_in_args(void)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_MECHANISM ms = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_MECHANISM bad = { CKM_DES_ECB, NULL, 0 };
    CK_OBJECT_HANDLE h = 0, pub = 0, priv = 0;

    CHECK_RV(p11t_open_user(&T, &s), CKR_OK);
    CHECK_RV(T.f->C_SignInit(s, NULL, BAD_OBJECT), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_SignInit(s, &ms, BAD_OBJECT), CKR_KEY_HANDLE_INVALID);
    CHECK_RV(T.f->C_GenerateKeyPair(s, NULL, NULL, 0, NULL, 0, &h, &h),
             CKR_ARGUMENTS_BAD);
    CHECK_RV(p11t_gen_ec(&T, s, "P-256", "contract-key", false, &pub, &priv),
             CKR_OK);
    CHECK_RV(T.f->C_SignInit(s, &bad, priv), CKR_MECHANISM_INVALID);
    CHECK_RV(T.f->C_VerifyInit(s, NULL, pub), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_DecryptInit(s, NULL, priv), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_CreateObject(s, NULL, 1, &h), CKR_ARGUMENTS_BAD);
    CHECK_RV(T.f->C_SetAttributeValue(s, pub, NULL, 1), CKR_ARGUMENTS_BAD);
    {
        CK_BYTE buf[128];
        CK_ULONG len = sizeof(buf);
        CK_MECHANISM md = { CKM_SHA256, NULL, 0 };
        CHECK_RV(T.f->C_DigestInit(s, &md), CKR_OK);
        CHECK_RV(T.f->C_Digest(s, buf, 4, buf, NULL), CKR_ARGUMENTS_BAD);
        CHECK_RV(T.f->C_SignInit(s, &ms, priv), CKR_OK);
        CHECK_RV(T.f->C_Sign(s, buf, 4, buf, NULL), CKR_ARGUMENTS_BAD);
        /* A short buffer: CKR_BUFFER_TOO_SMALL and the needed length; the
         * operation stays active. */
        len = 8;
        CHECK_RV(T.f->C_SignInit(s, &ms, priv), CKR_OK);
        CHECK_RV(T.f->C_Sign(s, buf, 4, buf, &len), CKR_BUFFER_TOO_SMALL);
        CHECK_INT_EQ(len, 64);
        CHECK_RV(T.f->C_Sign(s, buf, 4, buf, &len), CKR_OK);
    }
    CHECK_RV(T.f->C_SignInit(s, &ms, priv), CKR_OK);
    CHECK_RV(T.f->C_SignInit(s, &ms, priv), CKR_OPERATION_ACTIVE);
    CHECK_RV(T.f->C_Logout(s), CKR_OK);
    CHECK_RV(T.f->C_CloseSession(s), CKR_OK);
}

static void test_unsupported(void)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
    CK_ULONG len = 0;
    CK_OBJECT_HANDLE h;

    CHECK_RV(T.f->C_OpenSession(T.slot, CKF_SERIAL_SESSION, NULL, NULL, &s),
             CKR_OK);
    CHECK_RV(T.f->C_GetOperationState(s, NULL, &len),
             CKR_FUNCTION_NOT_SUPPORTED);
    CHECK_RV(T.f->C_SignRecoverInit(s, &m, BAD_OBJECT),
             CKR_FUNCTION_NOT_SUPPORTED);
    CHECK_RV(T.f->C_VerifyRecoverInit(s, &m, BAD_OBJECT),
             CKR_FUNCTION_NOT_SUPPORTED);
    CHECK_RV(T.f->C_WrapKey(s, &m, BAD_OBJECT, BAD_OBJECT, NULL, &len),
             CKR_FUNCTION_NOT_SUPPORTED);
    CHECK_RV(T.f->C_DeriveKey(s, &m, BAD_OBJECT, NULL, 0, &h),
             CKR_FUNCTION_NOT_SUPPORTED);
    CHECK_RV(T.f->C_GetFunctionStatus(s), CKR_FUNCTION_NOT_PARALLEL);
    CHECK_RV(T.f->C_CancelFunction(s), CKR_FUNCTION_NOT_PARALLEL);
    CHECK_RV(T.f->C_CloseSession(s), CKR_OK);
}

static void test_after_finalize(void)
{
    CK_INFO info;
    CK_ULONG n = 0;

    CHECK_RV(p11t_finalize(&T), CKR_OK);
    CHECK_RV(T.f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(T.f->C_GetSlotList(CK_FALSE, NULL, &n),
             CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(T.f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
    /* And it comes back. */
    CHECK_RV(p11t_init(&T), CKR_OK);
    CHECK_RV(T.f->C_GetInfo(&info), CKR_OK);
}

int main(int argc, char **argv)
{
    p11t_setup(&T, argc, argv, P11T_CONF_FAST);
    CHECK_RUN(test_before_init);
    CHECK_RUN(test_function_lists);
    CHECK_RUN(test_init_twice);
    CHECK_RUN(test_null_pointers);
    CHECK_RUN(test_bad_handles);
    CHECK_RUN(test_operation_state);
    CHECK_RUN(test_not_logged_in);
    CHECK_RUN(test_logged_in_args);
    CHECK_RUN(test_unsupported);
    CHECK_RUN(test_after_finalize);
    p11t_teardown(&T);
    return check_summary();
}

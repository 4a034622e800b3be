/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkcs11/entry.c: no NULL slot in either function list, the versions and
 * the interface getters, and the "not initialised" answer of every entry
 * point before C_Initialize, the C_Initialize/C_Finalize life cycle with
 * the pReserved configuration path, and fork (the child must initialise
 * again). Runs the embedded default token in a temporary XDG_DATA_HOME.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkcs11/entry.h"
#include "tests/unit/check.h"

static void test_no_null_slot(void)
{
    const CK_FUNCTION_LIST *l2 = p11p_entry_list_240();
    const CK_FUNCTION_LIST_3_0 *l3 = p11p_entry_list_30();
    const unsigned char *p = NULL;
    size_t n2 = (sizeof(*l2) - sizeof(CK_VERSION)) / sizeof(void (*)(void));
    size_t n3 = (sizeof(*l3) - sizeof(CK_VERSION)) / sizeof(void (*)(void));

    CHECK_INT_EQ(n2, 68);
    CHECK_INT_EQ(n3, 92);
    p = (const unsigned char *)l2 + offsetof(CK_FUNCTION_LIST, C_Initialize);
    for (size_t i = 0; i < n2; i++) {
        void (*fn)(void) = NULL;

        memcpy(&fn, p + i * sizeof(fn), sizeof(fn));
        if (fn == NULL) {
            CHECK_FAIL_AT("2.40 list: slot %zu is NULL", i);
        }
        check_count++;
    }
    p = (const unsigned char *)l3
        + offsetof(CK_FUNCTION_LIST_3_0, C_Initialize);
    for (size_t i = 0; i < n3; i++) {
        void (*fn)(void) = NULL;

        memcpy(&fn, p + i * sizeof(fn), sizeof(fn));
        if (fn == NULL) {
            CHECK_FAIL_AT("3.0 list: slot %zu is NULL", i);
        }
        check_count++;
    }
    CHECK_INT_EQ(l2->version.major, 2);
    CHECK_INT_EQ(l2->version.minor, 40);
    CHECK_INT_EQ(l3->version.major, 3);
    CHECK_INT_EQ(l3->version.minor, 0);
    /* The 2.40 part of both lists is the same code. */
    CHECK((void *)l2->C_SignInit == (void *)l3->C_SignInit);
    CHECK((void *)l2->C_WaitForSlotEvent == (void *)l3->C_WaitForSlotEvent);
}

static void test_getters(void)
{
    CK_FUNCTION_LIST_PTR fl = NULL;
    CK_INTERFACE list[4];
    CK_INTERFACE_PTR itf = NULL;
    CK_ULONG count = 0;
    CK_VERSION v240 = { 2, 40 }, v30 = { 3, 0 }, v99 = { 9, 9 };

    CHECK_RV(C_GetFunctionList(NULL), CKR_ARGUMENTS_BAD);
    CHECK_RV(C_GetFunctionList(&fl), CKR_OK);
    CHECK((const void *)fl == (const void *)p11p_entry_list_240());

    CHECK_RV(C_GetInterfaceList(NULL, NULL), CKR_ARGUMENTS_BAD);
    CHECK_RV(C_GetInterfaceList(NULL, &count), CKR_OK);
    CHECK_INT_EQ(count, 2);
    count = 1;
    CHECK_RV(C_GetInterfaceList(list, &count), CKR_BUFFER_TOO_SMALL);
    CHECK_INT_EQ(count, 2);
    CHECK_RV(C_GetInterfaceList(list, &count), CKR_OK);
    CHECK_STR_EQ((const char *)list[0].pInterfaceName, "PKCS 11");
    CHECK_STR_EQ((const char *)list[1].pInterfaceName, "PKCS 11");

    CHECK_RV(C_GetInterface(NULL, NULL, &itf, 0), CKR_OK);
    CHECK(itf != NULL && itf->pFunctionList == (void *)p11p_entry_list_30());
    CHECK_RV(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &itf, 0),
             CKR_OK);
    CHECK(itf != NULL && itf->pFunctionList == (void *)p11p_entry_list_240());
    CHECK_RV(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &itf, 0),
             CKR_OK);
    CHECK_RV(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v99, &itf, 0),
             CKR_ARGUMENTS_BAD);
    CHECK_RV(C_GetInterface((CK_UTF8CHAR_PTR) "Vendor X", NULL, &itf, 0),
             CKR_ARGUMENTS_BAD);
    CHECK_RV(C_GetInterface(NULL, NULL, &itf, CKF_INTERFACE_FORK_SAFE),
             CKR_ARGUMENTS_BAD);
    CHECK_RV(C_GetInterface(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
}

static void test_not_initialized(void)
{
    const CK_FUNCTION_LIST_3_0 *f = p11p_entry_list_30();
    CK_INFO info;
    CK_ULONG count = 0;
    CK_SESSION_HANDLE h = 0;
    CK_BYTE buf[8];

    CHECK_RV(f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(f->C_GetSlotList(CK_FALSE, NULL, &count),
             CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(f->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h),
             CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(f->C_Sign(1, buf, 1, buf, &count), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(f->C_EncryptInit(1, NULL, 0), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(f->C_MessageSignInit(1, NULL, 0), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(f->C_SessionCancel(1, 0), CKR_CRYPTOKI_NOT_INITIALIZED);
}

static void test_initialize_args(void)
{
    const CK_FUNCTION_LIST *f = p11p_entry_list_240();
    CK_C_INITIALIZE_ARGS mixed = { 0 };
    CK_C_INITIALIZE_ARGS cbs_only = { 0 };

    /* Some callbacks without the others: CKR_ARGUMENTS_BAD. */
    mixed.CreateMutex = (CK_CREATEMUTEX)(void (*)(void))test_getters;
    CHECK_RV(f->C_Initialize(&mixed), CKR_ARGUMENTS_BAD);
    /* All callbacks without CKF_OS_LOCKING_OK: CKR_CANT_LOCK. */
    cbs_only.CreateMutex = (CK_CREATEMUTEX)(void (*)(void))test_getters;
    cbs_only.DestroyMutex = (CK_DESTROYMUTEX)(void (*)(void))test_getters;
    cbs_only.LockMutex = (CK_LOCKMUTEX)(void (*)(void))test_getters;
    cbs_only.UnlockMutex = (CK_UNLOCKMUTEX)(void (*)(void))test_getters;
    CHECK_RV(f->C_Initialize(&cbs_only), CKR_CANT_LOCK);
}

static char tmpdir[] = "/tmp/p11p-test-entry-XXXXXX";

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void test_life_cycle(void)
{
    const CK_FUNCTION_LIST *f = p11p_entry_list_240();
    CK_C_INITIALIZE_ARGS os = { 0 };
    CK_INFO info;
    CK_ULONG count = 0;

    os.flags = CKF_OS_LOCKING_OK;
    CHECK_RV(f->C_Initialize(NULL), CKR_OK);
    CHECK_RV(f->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    CHECK_RV(f->C_GetInfo(&info), CKR_OK);
    CHECK_RV(f->C_GetSlotList(CK_FALSE, NULL, &count), CKR_OK);
    CHECK_INT_EQ(count, 1);
    CHECK_RV(f->C_Finalize((void *)1), CKR_ARGUMENTS_BAD);
    CHECK_RV(f->C_Finalize(NULL), CKR_OK);
    /* A second (or late) C_Finalize. */
    CHECK_RV(f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(f->C_Initialize(&os), CKR_OK);
    CHECK_RV(f->C_Finalize(NULL), CKR_OK);
}

/* pReserved: a string naming a file is the configuration path; any other
 * string is ignored. */
static void test_reserved_path(void)
{
    const CK_FUNCTION_LIST *f = p11p_entry_list_240();
    CK_C_INITIALIZE_ARGS a = { 0 };
    CK_TOKEN_INFO ti;
    CK_SLOT_ID slots[4];
    CK_ULONG count = 4;
    char good[512], bad[512];
    char nss_params[] = "configdir='sql:/nonexistent' flags=readOnly";
    FILE *fp = NULL;

    snprintf(good, sizeof(good), "%s/good.conf", tmpdir);
    snprintf(bad, sizeof(bad), "%s/bad.conf", tmpdir);
    fp = fopen(good, "w");
    CHECK(fp != NULL);
    if (fp == NULL) {
        return;
    }
    fprintf(fp,
            "[token \"alpha\"]\ndriver = local\ndata_dir = %s/alpha\n"
            "[token \"beta\"]\ndriver = local\ndata_dir = %s/beta\n",
            tmpdir, tmpdir);
    fclose(fp);
    fp = fopen(bad, "w");
    CHECK(fp != NULL);
    if (fp == NULL) {
        return;
    }
    fprintf(fp, "[token \"x\"]\nno_such_key = 1\n");
    fclose(fp);

    a.flags = CKF_OS_LOCKING_OK;
    a.pReserved = good;
    CHECK_RV(f->C_Initialize(&a), CKR_OK);
    CHECK_RV(f->C_GetSlotList(CK_TRUE, slots, &count), CKR_OK);
    CHECK_INT_EQ(count, 2);
    CHECK_RV(f->C_GetTokenInfo(1, &ti), CKR_OK);
    CHECK_MEM_EQ(ti.manufacturerID, 9, "p11portal", 9);
    CHECK_MEM_EQ(ti.model, 5, "local", 5);
    CHECK_RV(f->C_GetTokenInfo(2, &ti), CKR_SLOT_ID_INVALID);
    CHECK_RV(f->C_Finalize(NULL), CKR_OK);

    a.pReserved = bad;
    CHECK_RV(f->C_Initialize(&a), CKR_FUNCTION_FAILED);
    CHECK_RV(f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);

    /* NSS-style parameter strings are not files: ignored. */
    a.pReserved = nss_params;
    CHECK_RV(f->C_Initialize(&a), CKR_OK);
    count = 4;
    CHECK_RV(f->C_GetSlotList(CK_TRUE, slots, &count), CKR_OK);
    CHECK_INT_EQ(count, 1);
    CHECK_RV(f->C_Finalize(NULL), CKR_OK);
}

static void test_fork(void)
{
    const CK_FUNCTION_LIST *f = p11p_entry_list_240();
    CK_SESSION_HANDLE h = 0;
    CK_INFO info;
    pid_t pid = 0;
    int status = 0;

    CHECK_RV(f->C_Initialize(NULL), CKR_OK);
    CHECK_RV(f->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
    pid = fork();
    if (pid == 0) {
        CK_SESSION_HANDLE h2 = 0;
        int bad = 0;

        /* The child: nothing works until it initialises again. */
        bad += f->C_GetInfo(&info) != CKR_CRYPTOKI_NOT_INITIALIZED;
        bad += f->C_CloseSession(h) != CKR_CRYPTOKI_NOT_INITIALIZED;
        bad += f->C_Initialize(NULL) != CKR_OK;
        bad += f->C_GetInfo(&info) != CKR_OK;
        bad += f->C_CloseSession(h) != CKR_SESSION_HANDLE_INVALID;
        bad +=
            f->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h2) != CKR_OK;
        bad += f->C_Finalize(NULL) != CKR_OK;
        _exit(bad);
    }
    CHECK(pid > 0);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The parent is unaffected. */
    CHECK_RV(f->C_GetInfo(&info), CKR_OK);
    CHECK_RV(f->C_CloseSession(h), CKR_OK);
    CHECK_RV(f->C_CloseSession(h), CKR_SESSION_HANDLE_INVALID);
    CHECK_RV(f->C_Finalize(NULL), CKR_OK);
}

int main(void)
{
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    setenv("XDG_DATA_HOME", tmpdir, 1);
    unsetenv("P11PORTAL_CONF");
    CHECK_RUN(test_no_null_slot);
    CHECK_RUN(test_getters);
    CHECK_RUN(test_not_initialized);
    CHECK_RUN(test_initialize_args);
    CHECK_RUN(test_life_cycle);
    CHECK_RUN(test_reserved_path);
    CHECK_RUN(test_fork);
    nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return check_summary();
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * t_fork: after fork() the child gets CKR_CRYPTOKI_NOT_INITIALIZED from
 * every call until it calls C_Initialize, and then works (login, find,
 * sign); the parent keeps working, before and after the child ran.
 */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/component/p11t.h"
#include "tests/unit/check.h"

#define LABEL "fork-key"

static struct p11t T;

static CK_RV sign_once(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key)
{
    CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
    unsigned char sig[128];
    CK_ULONG sl = sizeof(sig);
    CK_RV rv = T.f->C_SignInit(s, &m, key);
    if (rv == CKR_OK) {
        rv = T.f->C_Sign(s, (CK_BYTE *)"fork", 4, sig, &sl);
    }
    return rv;
}

static void child(CK_SESSION_HANDLE parent_session)
{
    CK_INFO info;
    CK_SESSION_INFO si;
    CK_ULONG n = 0;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE h[2];
    CK_OBJECT_CLASS pk = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &pk, sizeof(pk) },
        { CKA_LABEL, P11T_V(LABEL), strlen(LABEL) },
    };

    CHECK_RV(T.f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(T.f->C_GetSlotList(CK_TRUE, NULL, &n),
             CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(T.f->C_GetSessionInfo(parent_session, &si),
             CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV(sign_once(parent_session, 1), CKR_CRYPTOKI_NOT_INITIALIZED);
    T.initialized = false;
    CHECK_RV(p11t_init(&T), CKR_OK);
    /* The parent's session does not exist in the child's new library. */
    CHECK_RV(T.f->C_GetSessionInfo(parent_session, &si),
             CKR_SESSION_HANDLE_INVALID);
    CHECK_RV(p11t_open_user(&T, &s), CKR_OK);
    CHECK_RV(p11t_find(&T, s, t, 2, h, 2, &n), CKR_OK);
    CHECK_INT_EQ(n, 1);
    if (n == 1) {
        CHECK_RV(sign_once(s, h[0]), CKR_OK);
    }
    CHECK_RV(T.f->C_CloseSession(s), CKR_OK);
    CHECK_RV(p11t_finalize(&T), CKR_OK);
}

static void test_fork(void)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    pid_t pid;
    int status = 0;

    CHECK_RV(p11t_init(&T), CKR_OK);
    CHECK_RV(p11t_init_token(&T), CKR_OK);
    CHECK_RV(p11t_open_user(&T, &s), CKR_OK);
    CHECK_RV(p11t_gen_ec(&T, s, "P-256", LABEL, false, &pub, &priv), CKR_OK);
    CHECK_RV(sign_once(s, priv), CKR_OK);
    if (check_failures != 0) {
        return;
    }
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        child(s);
        _exit(check_summary());
    }
    CHECK(pid > 0);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The parent's state is untouched by the child. */
    CHECK_RV(sign_once(s, priv), CKR_OK);
    CHECK_RV(T.f->C_CloseSession(s), CKR_OK);
}

int main(int argc, char **argv)
{
    p11t_setup(&T, argc, argv, P11T_CONF_FAST);
    CHECK_RUN(test_fork);
    p11t_teardown(&T);
    return check_summary();
}

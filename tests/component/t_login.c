/* SPDX-License-Identifier: Apache-2.0 */
/*
 * t_login: PINs and session states. Wrong PIN, the retry counter flags
 * (CKF_USER_PIN_COUNT_LOW, _FINAL_TRY, _LOCKED) with pin_max_retries = 3,
 * lockout, unlock by the SO through C_InitPIN, C_SetPIN, RO and RW session
 * states, and the SO/RO session rules of PKCS#11 3.0 §5.6.
 */
#include <string.h>

#include "tests/component/p11t.h"
#include "tests/unit/check.h"

static struct p11t T;

#define WRONG_PIN "canary-wrong-0a9d33"

static CK_FLAGS token_flags(void)
{
    CK_TOKEN_INFO ti;
    memset(&ti, 0, sizeof(ti));
    if (T.f->C_GetTokenInfo(T.slot, &ti) != CKR_OK) {
        return 0;
    }
    return ti.flags;
}

static CK_RV login(CK_SESSION_HANDLE s, CK_USER_TYPE who, const char *pin)
{
    return T.f->C_Login(s, who, (CK_UTF8CHAR *)pin, strlen(pin));
}

static CK_STATE state_of(CK_SESSION_HANDLE s)
{
    CK_SESSION_INFO si;
    memset(&si, 0, sizeof(si));
    if (T.f->C_GetSessionInfo(s, &si) != CKR_OK) {
        return (CK_STATE)-1;
    }
    return si.state;
}

static void test_token_flags(void)
{
    CK_FLAGS f;

    CHECK_RV(p11t_init(&T), CKR_OK);
    f = token_flags();
    CHECK(f & CKF_RNG);
    CHECK(f & CKF_LOGIN_REQUIRED);
    CHECK(!(f & CKF_TOKEN_INITIALIZED));
    CHECK_RV(p11t_init_token(&T), CKR_OK);
    f = token_flags();
    CHECK(f & CKF_TOKEN_INITIALIZED);
    CHECK(f & CKF_USER_PIN_INITIALIZED);
}

static void test_session_states(void)
{
    CK_SESSION_HANDLE ro = CK_INVALID_HANDLE, rw = CK_INVALID_HANDLE;
    CK_SESSION_HANDLE so = CK_INVALID_HANDLE;
    CK_OBJECT_CLASS klass = CKO_DATA;
    CK_BBOOL tok = CK_TRUE;
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE data[] = {
        { CKA_CLASS, &klass, sizeof(klass) },
        { CKA_TOKEN, &tok, sizeof(tok) },
        { CKA_LABEL, P11T_V("ro-data"), 7 },
    };

    CHECK_RV(T.f->C_OpenSession(T.slot, CKF_SERIAL_SESSION, NULL, NULL, &ro),
             CKR_OK);
    CHECK_RV(state_of(ro), CKS_RO_PUBLIC_SESSION);
    CHECK_RV(T.f->C_OpenSession(T.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                NULL, NULL, &rw),
             CKR_OK);
    CHECK_RV(state_of(rw), CKS_RW_PUBLIC_SESSION);
    /* SO login with an RO session open is refused. */
    CHECK_RV(login(rw, CKU_SO, P11T_SO_PIN), CKR_SESSION_READ_ONLY_EXISTS);
    CHECK_RV(login(ro, CKU_USER, P11T_USER_PIN), CKR_OK);
    CHECK_RV(state_of(ro), CKS_RO_USER_FUNCTIONS);
    CHECK_RV(state_of(rw), CKS_RW_USER_FUNCTIONS);
    CHECK_RV(login(rw, CKU_USER, P11T_USER_PIN), CKR_USER_ALREADY_LOGGED_IN);
    CHECK_RV(login(rw, CKU_SO, P11T_SO_PIN),
             CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
    /* A token object cannot be created in an RO session. */
    CHECK_RV(T.f->C_CreateObject(ro, data, 3, &h), CKR_SESSION_READ_ONLY);
    CHECK_RV(T.f->C_SetPIN(ro, (CK_UTF8CHAR *)P11T_USER_PIN,
                           strlen(P11T_USER_PIN), (CK_UTF8CHAR *)"x1234567", 8),
             CKR_SESSION_READ_ONLY);
    CHECK_RV(T.f->C_Logout(ro), CKR_OK);
    CHECK_RV(state_of(rw), CKS_RW_PUBLIC_SESSION);
    CHECK_RV(T.f->C_CloseSession(ro), CKR_OK);
    /* Now SO can log in; an RO session cannot be opened beside it. */
    CHECK_RV(login(rw, CKU_SO, P11T_SO_PIN), CKR_OK);
    CHECK_RV(state_of(rw), CKS_RW_SO_FUNCTIONS);
    CHECK_RV(T.f->C_OpenSession(T.slot, CKF_SERIAL_SESSION, NULL, NULL, &so),
             CKR_SESSION_READ_WRITE_SO_EXISTS);
    CHECK_RV(T.f->C_Logout(rw), CKR_OK);
    CHECK_RV(T.f->C_CloseAllSessions(T.slot), CKR_OK);
    CHECK_RV(state_of(rw), (CK_STATE)-1); /* handle gone */
}

static void test_retry_counter(void)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_FLAGS f;

    CHECK_RV(T.f->C_OpenSession(T.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                NULL, NULL, &s),
             CKR_OK);
    /* A wrong PIN is remembered across a restart of the library (the
     * counter lives in the cache), then a good one resets the counter. */
    CHECK_RV(login(s, CKU_USER, WRONG_PIN), CKR_PIN_INCORRECT);
    CHECK(token_flags() & CKF_USER_PIN_COUNT_LOW);
    CHECK_RV(p11t_finalize(&T), CKR_OK);
    CHECK_RV(p11t_init(&T), CKR_OK);
    CHECK(token_flags() & CKF_USER_PIN_COUNT_LOW);
    CHECK_RV(T.f->C_OpenSession(T.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                NULL, NULL, &s),
             CKR_OK);
    CHECK_RV(login(s, CKU_USER, P11T_USER_PIN), CKR_OK);
    CHECK_RV(T.f->C_Logout(s), CKR_OK);
    f = token_flags();
    CHECK(!(f
            & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY
               | CKF_USER_PIN_LOCKED)));

    /* Three wrong PINs lock (pin_max_retries = 3). */
    CHECK_RV(login(s, CKU_USER, WRONG_PIN), CKR_PIN_INCORRECT);
    f = token_flags();
    CHECK(f & CKF_USER_PIN_COUNT_LOW);
    CHECK(!(f & CKF_USER_PIN_FINAL_TRY));
    CHECK_RV(login(s, CKU_USER, WRONG_PIN), CKR_PIN_INCORRECT);
    f = token_flags();
    CHECK(f & CKF_USER_PIN_FINAL_TRY);
    CHECK(!(f & CKF_USER_PIN_LOCKED));
    /* The attempt that locks may say either (SoftHSM says INCORRECT). */
    {
        CK_RV rv = login(s, CKU_USER, WRONG_PIN);
        CHECK(rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED);
    }
    CHECK(token_flags() & CKF_USER_PIN_LOCKED);
    CHECK_RV(login(s, CKU_USER, WRONG_PIN), CKR_PIN_LOCKED);
    /* Locked: even the right PIN is refused. */
    CHECK_RV(login(s, CKU_USER, P11T_USER_PIN), CKR_PIN_LOCKED);

    /* The SO unlocks by setting a new user PIN. */
    CHECK_RV(login(s, CKU_SO, P11T_SO_PIN), CKR_OK);
    CHECK_RV(T.f->C_InitPIN(s, (CK_UTF8CHAR *)P11T_USER_PIN2,
                            strlen(P11T_USER_PIN2)),
             CKR_OK);
    CHECK_RV(T.f->C_Logout(s), CKR_OK);
    CHECK(!(token_flags() & CKF_USER_PIN_LOCKED));
    CHECK_RV(login(s, CKU_USER, P11T_USER_PIN), CKR_PIN_INCORRECT);
    CHECK_RV(login(s, CKU_USER, P11T_USER_PIN2), CKR_OK);
    CHECK_RV(T.f->C_Logout(s), CKR_OK);
    CHECK_RV(T.f->C_CloseSession(s), CKR_OK);
}

static void test_set_pin(void)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;

    CHECK_RV(T.f->C_OpenSession(T.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                NULL, NULL, &s),
             CKR_OK);
    CHECK_RV(login(s, CKU_USER, P11T_USER_PIN2), CKR_OK);
    CHECK_RV(T.f->C_SetPIN(s, (CK_UTF8CHAR *)WRONG_PIN, strlen(WRONG_PIN),
                           (CK_UTF8CHAR *)P11T_USER_PIN, strlen(P11T_USER_PIN)),
             CKR_PIN_INCORRECT);
    CHECK_RV(T.f->C_SetPIN(s, (CK_UTF8CHAR *)P11T_USER_PIN2,
                           strlen(P11T_USER_PIN2), (CK_UTF8CHAR *)P11T_USER_PIN,
                           strlen(P11T_USER_PIN)),
             CKR_OK);
    CHECK_RV(T.f->C_Logout(s), CKR_OK);
    CHECK_RV(login(s, CKU_USER, P11T_USER_PIN2), CKR_PIN_INCORRECT);
    CHECK_RV(login(s, CKU_USER, P11T_USER_PIN), CKR_OK);
    CHECK_RV(T.f->C_Logout(s), CKR_OK);
    /* The new PIN survives a restart of the library. */
    CHECK_RV(T.f->C_CloseSession(s), CKR_OK);
    CHECK_RV(p11t_finalize(&T), CKR_OK);
    CHECK_RV(p11t_init(&T), CKR_OK);
    CHECK_RV(T.f->C_OpenSession(T.slot, CKF_SERIAL_SESSION, NULL, NULL, &s),
             CKR_OK);
    CHECK_RV(login(s, CKU_USER, P11T_USER_PIN), CKR_OK);
    CHECK_RV(T.f->C_CloseSession(s), CKR_OK);
}

int main(int argc, char **argv)
{
    p11t_setup(&T, argc, argv, P11T_CONF_FAST);
    CHECK_RUN(test_token_flags);
    if (check_failures == 0) {
        CHECK_RUN(test_session_states);
        CHECK_RUN(test_retry_counter);
        CHECK_RUN(test_set_pin);
    }
    p11t_teardown(&T);
    return check_summary();
}

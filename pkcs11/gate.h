/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The call gate (STYLE.md 3.9): every entry point goes in through
 * p11p_gate_enter and out through p11p_gate_leave. Enter checks the fork
 * generation and initialisation, looks up the session (taking a
 * reference) and checks the login state; leave drops the reference,
 * writes the trace line at debug level and, in debug builds, checks the
 * return code against the function's allowed set (ckr.c).
 */
#ifndef P11P_PKCS11_GATE_H
#define P11P_PKCS11_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include "pkcs11/ckr.h"
#include "pkcs11/pkcs11-3.h"
#include "pkcs11/session.h"

enum p11p_need {
    P11P_NEED_NOTHING,   /* no check at all (C_Initialize, getters) */
    P11P_NEED_INIT,      /* initialised; no session */
    P11P_NEED_SESSION,   /* a valid session, any login state */
    P11P_NEED_PUBLIC_RW, /* an RW session */
    P11P_NEED_USER,      /* the user logged in */
    P11P_NEED_USER_RW,   /* the user logged in, RW session */
    P11P_NEED_SO,        /* the SO logged in */
};

struct p11p_call {
    enum p11p_fn fn;
    struct p11p_session *session; /* referenced, or NULL */
    CK_SESSION_HANDLE handle;
    bool trace;  /* debug trace enabled for this call */
    uint64_t t0; /* start, microseconds (trace only) */
    char args[192];
};

/* Returns CKR_OK and fills call, or the gate's refusal
 * (CKR_CRYPTOKI_NOT_INITIALIZED, CKR_SESSION_HANDLE_INVALID,
 * CKR_USER_NOT_LOGGED_IN, CKR_SESSION_READ_ONLY). Always pair with
 * p11p_gate_leave, whatever it returns. */
CK_RV p11p_gate_enter(struct p11p_call *call, enum p11p_fn fn,
                      CK_SESSION_HANDLE h, enum p11p_need need);

/* Records decoded arguments for the trace (only when call->trace). */
void p11p_gate_args(struct p11p_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Ends the call and returns rv. */
CK_RV p11p_gate_leave(struct p11p_call *call, CK_RV rv);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The call gate (see gate.h). The fast path of a call with tracing off is
 * an atomic load of the initialised flag, a compare of the fork
 * generation, one locked table lookup and an atomic reference count: no
 * getpid(), no allocation, no formatting.
 */
#include "pkcs11/gate.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "core/base/log.h"
#include "pkcs11/module.h"
#include "pkcs11/names.h"
#include "pkcs11/slot.h"

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static CK_RV check_need(const struct p11p_session *s, enum p11p_need need)
{
    bool user = p11p_slot_is_logged_in(s->token, CKU_USER);
    bool rw = p11p_session_is_rw(s);

    switch (need) {
    case P11P_NEED_NOTHING:
    case P11P_NEED_INIT:
    case P11P_NEED_SESSION:
        return CKR_OK;
    case P11P_NEED_PUBLIC_RW:
        return rw ? CKR_OK : CKR_SESSION_READ_ONLY;
    case P11P_NEED_USER:
        return user ? CKR_OK : CKR_USER_NOT_LOGGED_IN;
    case P11P_NEED_USER_RW:
        if (!user) {
            return CKR_USER_NOT_LOGGED_IN;
        }
        return rw ? CKR_OK : CKR_SESSION_READ_ONLY;
    case P11P_NEED_SO:
        return p11p_slot_is_logged_in(s->token, CKU_SO)
                   ? CKR_OK
                   : CKR_USER_NOT_LOGGED_IN;
    }
    return CKR_GENERAL_ERROR;
}

CK_RV p11p_gate_enter(struct p11p_call *call, enum p11p_fn fn,
                      CK_SESSION_HANDLE h, enum p11p_need need)
{
    call->fn = fn;
    call->session = NULL;
    call->handle = h;
    call->args[0] = '\0';
    call->trace = p11p_log_enabled(P11P_LOG_DEBUG, "pkcs11");
    call->t0 = call->trace ? now_us() : 0;
    if (need == P11P_NEED_NOTHING) {
        return CKR_OK;
    }
    if (!p11p_module_is_ready()) {
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    if (need == P11P_NEED_INIT) {
        return CKR_OK;
    }
    call->session = p11p_session_lookup(h);
    if (call->session == NULL) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    return check_need(call->session, need);
}

void p11p_gate_args(struct p11p_call *call, const char *fmt, ...)
{
    va_list ap;

    if (!call->trace) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(call->args, sizeof(call->args), fmt, ap);
    va_end(ap);
}

CK_RV p11p_gate_leave(struct p11p_call *call, CK_RV rv)
{
    p11p_session_unref(call->session);
    call->session = NULL;
    if (call->trace) {
        uint64_t us = now_us() - call->t0;

        if (call->handle != CK_INVALID_HANDLE) {
            P11P_DEBUG("pkcs11", "%s(session=%lu%s%s) = %s (%llu.%03llu ms)",
                       p11p_ckr_fn_name(call->fn), (unsigned long)call->handle,
                       call->args[0] ? ", " : "", call->args, p11p_names_rv(rv),
                       (unsigned long long)(us / 1000),
                       (unsigned long long)(us % 1000));
        } else {
            P11P_DEBUG("pkcs11", "%s(%s) = %s (%llu.%03llu ms)",
                       p11p_ckr_fn_name(call->fn), call->args,
                       p11p_names_rv(rv), (unsigned long long)(us / 1000),
                       (unsigned long long)(us % 1000));
        }
    }
#ifndef NDEBUG
    if (!p11p_ckr_allowed(call->fn, rv)) {
        P11P_ERROR(
            "pkcs11",
            "%s returned %s (0x%lx), which the PKCS#11 specification does not list for it",
            p11p_ckr_fn_name(call->fn), p11p_names_rv(rv), (unsigned long)rv);
    }
#endif
    return rv;
}

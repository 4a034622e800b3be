/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session table (see session.h). Handles are table index + 1; a freed
 * entry may be reused by a later session. Sessions are reference counted:
 * the table holds one reference and every call in flight one more, so a
 * session closed by another thread is freed when its last call leaves.
 */
#include "pkcs11/session.h"

#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/enroll/enroll.h"
#include "pkcs11/crypt.h"
#include "pkcs11/module.h"

/* C_OpenSession may collect pending orders within this budget (DESIGN.md
 * "Enrollment" step 5; rate-limited inside the engine). */

static void session_free(struct p11p_session *s)
{
    for (int k = 0; k < P11P_OP_COUNT; k++) {
        p11p_session_op_end(s, (enum p11p_op_kind)k);
    }
    p11p_crypt_op_free(&s->sign);
    p11p_crypt_op_free(&s->verify);
    p11p_crypt_op_free(&s->decrypt);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void p11p_session_unref(struct p11p_session *s)
{
    if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1) {
        session_free(s);
    }
}

struct p11p_session *p11p_session_lookup(CK_SESSION_HANDLE h)
{
    struct p11p_module *m = p11p_module_get();
    struct p11p_session *s = NULL;

    pthread_rwlock_rdlock(&m->lock);
    if (h != CK_INVALID_HANDLE && h <= m->n_sessions) {
        s = m->sessions[h - 1];
        if (s != NULL) {
            atomic_fetch_add(&s->refs, 1);
        }
    }
    pthread_rwlock_unlock(&m->lock);
    return s;
}

bool p11p_session_is_rw(const struct p11p_session *s)
{
    return (s->flags & CKF_RW_SESSION) != 0;
}

void p11p_session_set_status(struct p11p_session *s, enum p11p_status st)
{
    atomic_store(&s->last_status, (int)st);
}

/* Puts s in a free table entry. Caller holds the module lock. */
static CK_RV table_insert_locked(struct p11p_module *m, struct p11p_session *s)
{
    size_t i = 0;
    struct p11p_session **grown = NULL;

    for (i = 0; i < m->n_sessions; i++) {
        if (m->sessions[i] == NULL) {
            break;
        }
    }
    if (i == m->n_sessions) {
        size_t n = m->n_sessions ? m->n_sessions * 2 : 16;
        grown = realloc(m->sessions, n * sizeof(*grown));
        if (grown == NULL) {
            return CKR_HOST_MEMORY;
        }
        memset(grown + m->n_sessions, 0, (n - m->n_sessions) * sizeof(*grown));
        m->sessions = grown;
        m->n_sessions = n;
    }
    m->sessions[i] = s;
    s->handle = i + 1;
    return CKR_OK;
}

CK_RV p11p_session_open(CK_SLOT_ID slot, CK_FLAGS flags,
                        CK_SESSION_HANDLE_PTR out)
{
    struct p11p_module *m = p11p_module_get();
    struct p11p_token *t = p11p_module_token(slot);
    struct p11p_session *s = NULL;
    CK_RV rv = CKR_OK;

    if (t == NULL) {
        return CKR_SLOT_ID_INVALID;
    }
    if (out == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    if (!(flags & CKF_SERIAL_SESSION)) {
        return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    }
    rv = p11p_slot_open(t);
    if (rv != CKR_OK) {
        return rv;
    }
    if (!(flags & CKF_RW_SESSION) && p11p_slot_is_logged_in(t, CKU_SO)) {
        return CKR_SESSION_READ_WRITE_SO_EXISTS;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return CKR_HOST_MEMORY;
    }
    s->token = t;
    s->flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
    atomic_init(&s->refs, 1);
    atomic_init(&s->last_status, 0);
    pthread_mutex_init(&s->lock, NULL);

    pthread_rwlock_wrlock(&m->lock);
    rv = table_insert_locked(m, s);
    if (rv == CKR_OK) {
        pthread_mutex_lock(&t->lock);
        t->n_sessions++;
        if (flags & CKF_RW_SESSION) {
            t->n_rw_sessions++;
        }
        pthread_mutex_unlock(&t->lock);
        *out = s->handle;
        s = NULL;
    }
    pthread_rwlock_unlock(&m->lock);
    if (s != NULL) {
        session_free(s);
        return rv;
    }
    /* Collect pending orders, time-boxed and rate-limited by the engine;
     * no lock is held here. Failure is not the application's problem. */
    if (t->enroll != NULL && t->conf->collect_budget_ms > 0) {
        (void)p11p_enroll_collect(t->enroll, t->conf->collect_budget_ms, false,
                                  NULL);
    }
    return CKR_OK;
}

/* Drops a session's token counts; the last session logs the token out. */
static void token_detach(struct p11p_session *s)
{
    struct p11p_token *t = s->token;

    pthread_mutex_lock(&t->lock);
    t->n_sessions--;
    if (s->flags & CKF_RW_SESSION) {
        t->n_rw_sessions--;
    }
    if (t->n_sessions == 0) {
        p11p_slot_logout_locked(t);
    }
    pthread_mutex_unlock(&t->lock);
}

CK_RV p11p_session_close(struct p11p_session *s)
{
    struct p11p_module *m = p11p_module_get();
    bool removed = false;

    pthread_rwlock_wrlock(&m->lock);
    if (s->handle <= m->n_sessions && m->sessions[s->handle - 1] == s) {
        m->sessions[s->handle - 1] = NULL;
        removed = true;
    }
    pthread_rwlock_unlock(&m->lock);
    if (!removed) {
        return CKR_SESSION_HANDLE_INVALID; /* closed by another thread */
    }
    token_detach(s);
    p11p_session_unref(s); /* the table's reference */
    return CKR_OK;
}

CK_RV p11p_session_close_all(CK_SLOT_ID slot)
{
    struct p11p_module *m = p11p_module_get();
    struct p11p_token *t = p11p_module_token(slot);

    if (t == NULL) {
        return CKR_SLOT_ID_INVALID;
    }
    for (;;) {
        struct p11p_session *s = NULL;

        pthread_rwlock_wrlock(&m->lock);
        for (size_t i = 0; i < m->n_sessions && s == NULL; i++) {
            if (m->sessions[i] != NULL && m->sessions[i]->token == t) {
                s = m->sessions[i];
                m->sessions[i] = NULL;
            }
        }
        pthread_rwlock_unlock(&m->lock);
        if (s == NULL) {
            break;
        }
        token_detach(s);
        p11p_session_unref(s);
    }
    return CKR_OK;
}

void p11p_session_free_all_locked(bool discard)
{
    struct p11p_module *m = p11p_module_get();

    for (size_t i = 0; i < m->n_sessions; i++) {
        struct p11p_session *s = m->sessions[i];

        if (s == NULL) {
            continue;
        }
        m->sessions[i] = NULL;
        if (discard) {
            /* Inherited state of a forked child: its locks may be held;
             * release the memory of the operations only. */
            pthread_mutex_init(&s->lock, NULL);
        }
        p11p_session_unref(s);
    }
    free(m->sessions);
    m->sessions = NULL;
    m->n_sessions = 0;
}

CK_RV p11p_session_get_info(struct p11p_session *s, CK_SESSION_INFO_PTR info)
{
    bool rw = p11p_session_is_rw(s);

    if (info == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    memset(info, 0, sizeof(*info));
    info->slotID = s->token->slot_id;
    info->flags = s->flags;
    if (p11p_slot_is_logged_in(s->token, CKU_SO)) {
        info->state = CKS_RW_SO_FUNCTIONS;
    } else if (p11p_slot_is_logged_in(s->token, CKU_USER)) {
        info->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    } else {
        info->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
    }
    info->ulDeviceError = (CK_ULONG)atomic_load(&s->last_status);
    return CKR_OK;
}

CK_RV p11p_session_cancel(struct p11p_session *s, CK_FLAGS flags)
{
    static const struct {
        CK_FLAGS flag;
        enum p11p_op_kind kind;
    } rows[] = {
        { CKF_FIND_OBJECTS, P11P_OP_FIND }, { CKF_SIGN, P11P_OP_SIGN },
        { CKF_VERIFY, P11P_OP_VERIFY },     { CKF_DECRYPT, P11P_OP_DECRYPT },
        { CKF_DIGEST, P11P_OP_DIGEST },
    };

    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (flags & rows[i].flag) {
            p11p_session_op_end(s, rows[i].kind);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return CKR_OK;
}

CK_RV p11p_session_op_begin(struct p11p_session *s, enum p11p_op_kind kind)
{
    if (s->active[kind]) {
        return CKR_OPERATION_ACTIVE;
    }
    s->active[kind] = true;
    return CKR_OK;
}

CK_RV p11p_session_op_require(const struct p11p_session *s,
                              enum p11p_op_kind kind)
{
    return s->active[kind] ? CKR_OK : CKR_OPERATION_NOT_INITIALIZED;
}

void p11p_session_op_end(struct p11p_session *s, enum p11p_op_kind kind)
{
    switch (kind) {
    case P11P_OP_FIND:
        free(s->find_ids);
        s->find_ids = NULL;
        s->find_n = 0;
        s->find_pos = 0;
        break;
    case P11P_OP_SIGN:
        p11p_crypt_op_reset(&s->sign);
        break;
    case P11P_OP_VERIFY:
        p11p_crypt_op_reset(&s->verify);
        break;
    case P11P_OP_DECRYPT:
        p11p_crypt_op_reset(&s->decrypt);
        break;
    case P11P_OP_DIGEST:
        EVP_MD_CTX_free(s->md);
        s->md = NULL;
        break;
    case P11P_OP_COUNT:
        break;
    }
    s->active[kind] = false;
}

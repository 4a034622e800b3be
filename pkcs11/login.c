/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Login state over the key backend (core/keys/backend.h). Login is per
 * token (PKCS#11 semantics): one login serves every session of the
 * application. The PIN's slow KDF runs without the token lock held, so
 * signing threads on other sessions are not stalled by a login. PINs live
 * only in struct p11p_secret and are never logged.
 */
#include "pkcs11/login.h"

#include "core/base/log.h"
#include "core/base/secret.h"
#include "pkcs11/ckr.h"
#include "pkcs11/module.h"

static CK_RV pin_secret(CK_UTF8CHAR_PTR pin, CK_ULONG len,
                        struct p11p_secret **out)
{
    if (pin == NULL) {
        /* No protected authentication path. */
        return CKR_ARGUMENTS_BAD;
    }
    if (len < P11P_MIN_PIN_LEN || len > P11P_MAX_PIN_LEN) {
        return CKR_PIN_LEN_RANGE;
    }
    *out = p11p_secret_dup(pin, len);
    return *out != NULL ? CKR_OK : CKR_HOST_MEMORY;
}

static CK_RV pin_status(struct p11p_session *s, enum p11p_status st,
                        CK_USER_TYPE user)
{
    if (st == P11P_OK) {
        return CKR_OK;
    }
    p11p_session_set_status(s, st);
    switch (st) {
    case P11P_ERR_AUTH:
        return CKR_PIN_INCORRECT;
    case P11P_ERR_PIN_LOCKED:
        return CKR_PIN_LOCKED;
    case P11P_ERR_NOT_FOUND:
        if (user == CKU_USER) {
            return CKR_USER_PIN_NOT_INITIALIZED;
        }
        P11P_WARN("pkcs11",
                  "token \"%s\" is not initialised: run C_InitToken first",
                  s->token->conf->name);
        return CKR_FUNCTION_FAILED;
    default:
        return p11p_ckr_from_status(st);
    }
}

CK_RV p11p_login(struct p11p_session *s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                 CK_ULONG len)
{
    struct p11p_token *t = s->token;
    struct p11p_secret *secret = NULL;
    CK_ULONG now = 0;
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    if (user == CKU_CONTEXT_SPECIFIC) {
        /* No key of ours has CKA_ALWAYS_AUTHENTICATE. */
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    if (user != CKU_USER && user != CKU_SO) {
        return CKR_USER_TYPE_INVALID;
    }
    pthread_mutex_lock(&t->lock);
    now = atomic_load(&t->login);
    if (now == user) {
        rv = CKR_USER_ALREADY_LOGGED_IN;
    } else if (now != P11P_LOGIN_NONE) {
        rv = CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
    } else if (user == CKU_SO && t->n_rw_sessions < t->n_sessions) {
        rv = CKR_SESSION_READ_ONLY_EXISTS;
    }
    pthread_mutex_unlock(&t->lock);
    if (rv != CKR_OK) {
        return rv;
    }
    rv = pin_secret(pin, len, &secret);
    if (rv != CKR_OK) {
        return rv;
    }
    st = p11p_keystore_login(
        t->ks, user == CKU_SO ? P11P_ROLE_SO : P11P_ROLE_USER, secret);
    p11p_secret_free(secret);
    rv = pin_status(s, st, user);
    if (rv != CKR_OK) {
        P11P_INFO("pkcs11", "token \"%s\": %s login failed: %s", t->conf->name,
                  user == CKU_SO ? "SO" : "user", p11p_status_text(st));
        return rv;
    }
    pthread_mutex_lock(&t->lock);
    now = atomic_load(&t->login);
    if (now == P11P_LOGIN_NONE) {
        atomic_store(&t->login, user);
    } else if (now != user) {
        rv = CKR_USER_ANOTHER_ALREADY_LOGGED_IN; /* lost a race */
    }
    pthread_mutex_unlock(&t->lock);
    if (rv == CKR_OK && user == CKU_USER && t->conf->hsm_adopt_keys) {
        /* hsm backend: keys already in the backing token become objects
         * (issue 5, adoption; opt-in: it races with key generation in other
         * processes, see docs/hsm.md); a no-op for soft. Failures are
         * logged by the backend and never fail the login. */
        size_t adopted = 0;
        (void)p11p_keystore_adopt(t->ks, t->cache, &adopted);
    }
    return rv;
}

CK_RV p11p_login_logout(struct p11p_session *s)
{
    struct p11p_token *t = s->token;
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&t->lock);
    if (atomic_load(&t->login) == P11P_LOGIN_NONE) {
        rv = CKR_USER_NOT_LOGGED_IN;
    } else {
        p11p_slot_logout_locked(t);
    }
    pthread_mutex_unlock(&t->lock);
    return rv;
}

CK_RV p11p_login_init_pin(struct p11p_session *s, CK_UTF8CHAR_PTR pin,
                          CK_ULONG len)
{
    struct p11p_secret *secret = NULL;
    enum p11p_status st = P11P_OK;
    CK_RV rv = pin_secret(pin, len, &secret);

    if (rv != CKR_OK) {
        return rv;
    }
    st = p11p_keystore_init_pin(s->token->ks, secret);
    p11p_secret_free(secret);
    return pin_status(s, st, CKU_USER);
}

CK_RV p11p_login_set_pin(struct p11p_session *s, CK_UTF8CHAR_PTR old_pin,
                         CK_ULONG old_len, CK_UTF8CHAR_PTR new_pin,
                         CK_ULONG new_len)
{
    CK_USER_TYPE who =
        p11p_slot_is_logged_in(s->token, CKU_SO) ? CKU_SO : CKU_USER;
    struct p11p_secret *old_secret = NULL;
    struct p11p_secret *new_secret = NULL;
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    rv = pin_secret(old_pin, old_len, &old_secret);
    if (rv == CKR_OK) {
        rv = pin_secret(new_pin, new_len, &new_secret);
    }
    if (rv == CKR_OK) {
        st = p11p_keystore_set_pin(
            s->token->ks, who == CKU_SO ? P11P_ROLE_SO : P11P_ROLE_USER,
            old_secret, new_secret);
        rv = pin_status(s, st, who);
    }
    p11p_secret_free(old_secret);
    p11p_secret_free(new_secret);
    return rv;
}

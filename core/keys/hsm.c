/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hsm key backend (issue 5, DESIGN.md "Key backends", docs/hsm.md):
 * the keystore row p11p_hsm_backend. Every private key lives inside a
 * backing PKCS#11 module (hsm_module.c); keys and operations are in
 * hsm_key.c, adoption and certificate writing in hsm_adopt.c.
 *
 * Login, two modes (hsm_pin.h, pin.h):
 * - pass-through (no hsm_pin_source): p11portal's SO and user PINs are the
 *   backing token's; C_Login, C_InitPIN and C_SetPIN go to the backing
 *   token, whose own counters and lock apply (its CKF_*_PIN_* flags are
 *   mapped into struct p11p_keystore_info).
 * - PIN source: p11portal's PINs are its own (soft verifier); a user login
 *   checks the p11portal PIN, then logs into the backing token with the PIN
 *   read from the source. The SO of p11portal never logs into the backing
 *   token.
 * A backing login is held by one backing session kept open until logout
 * (closing a module's last session logs the application out).
 *
 * C_InitToken never initialises the backing token (that would destroy the
 * HSM's keys): it checks the SO PIN (pass-through: by an SO login to the
 * backing token), then wipes p11portal's cache (objects, orders; the
 * backing keys stay and can be adopted again) and sets the label.
 */
#include "core/keys/hsm.h"

#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/base/str.h"
#include "core/keys/seal.h"

#define COMP "keys"
/* Backing tokens expose PIN state as flags, not counts: encode them as
 * counts against a limit of 3 (fails 1: COUNT_LOW, 2: FINAL_TRY). */
#define FLAG_RETRIES 3u

static struct p11p_hsm_ks *hsm(struct p11p_keystore *ks)
{
    return (struct p11p_hsm_ks *)ks;
}

bool p11p_hsm_is_user(struct p11p_hsm_ks *ks)
{
    bool in;

    pthread_mutex_lock(&ks->mu);
    in = ks->role == P11P_ROLE_USER;
    pthread_mutex_unlock(&ks->mu);
    return in;
}

/* ---- backing login ---- */

/* Ends p11portal's login; logs the backing token out if we logged it in. */
static void logout_locked(struct p11p_hsm_ks *ks)
{
    if (ks->has_login_sess && p11p_hsm_module_is_usable(ks->tok)) {
        p11p_hsm_module_enter(ks->tok, false);
        ks->tok->fl->C_Logout(ks->login_sess);
        p11p_hsm_module_leave(ks->tok, false);
        p11p_hsm_module_session_put(ks->tok, ks->login_sess, true);
    }
    ks->has_login_sess = false;
    ks->role = -1;
}

/* Logs the backing token in as user_type with pin and records role. */
static enum p11p_status backing_login(struct p11p_hsm_ks *ks,
                                      CK_USER_TYPE user_type,
                                      enum p11p_cache_role role,
                                      const struct p11p_secret *pin,
                                      const char *what)
{
    struct p11p_hsm_token *t = ks->tok;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    enum p11p_status rc;
    CK_RV rv;

    rc = p11p_hsm_module_session_get(t, &s);
    if (rc != P11P_OK) {
        return rc;
    }
    p11p_hsm_module_enter(t, true);
    rv = t->fl->C_Login(s, user_type, pin->data, pin->len);
    p11p_hsm_module_leave(t, true);
    if (rv == CKR_USER_ALREADY_LOGGED_IN) {
        /* Another part of this process logged the token in: the login is
         * per application (PKCS#11 2.40 section 5.6). */
        P11P_INFO(
            COMP,
            "token \"%s\": backing token \"%s\" was already logged in by this process",
            t->name, t->label);
        rv = CKR_OK;
    }
    if (rv != CKR_OK) {
        p11p_hsm_module_session_put(t, s, true);
        return p11p_hsm_module_fail(t, "C_Login", rv, what);
    }
    pthread_mutex_lock(&ks->mu);
    logout_locked(ks); /* a previous login of ours, if any */
    ks->login_sess = s;
    ks->has_login_sess = true;
    ks->role = (int)role;
    pthread_mutex_unlock(&ks->mu);
    return P11P_OK;
}

/* ---- the vtable ---- */

static void ks_free(struct p11p_hsm_ks *ks)
{
    if (ks == NULL) {
        return;
    }
    if (p11p_hsm_module_is_usable(ks->tok)) {
        pthread_mutex_lock(&ks->mu);
        logout_locked(ks);
        pthread_mutex_unlock(&ks->mu);
        pthread_mutex_destroy(&ks->mu);
    }
    p11p_hsm_module_token_unref(ks->tok);
    free(ks->pin_source);
    free(ks);
}

static enum p11p_status hsm_open(const struct p11p_conf_token *conf,
                                 struct p11p_cache *cache,
                                 struct p11p_keystore **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_hsm_ks *ks = NULL;

    *out = NULL;
    ks = calloc(1, sizeof(*ks));
    if (ks == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    pthread_mutex_init(&ks->mu, NULL);
    ks->role = -1;
    ks->cache = cache;
    ks->write_certs = conf->hsm_write_certs;
    if (conf->hsm_pin_source != NULL
        && (ks->pin_source = p11p_str_dup(conf->hsm_pin_source)) == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    rc = p11p_hsm_module_token_open(conf, &ks->tok);
    if (rc != P11P_OK) {
        goto out;
    }
    p11p_pin_setup(&ks->pin, conf, cache, ks->tok->name);
    P11P_INFO(
        COMP,
        "token \"%s\": keys in backing token \"%s\" (serial %s) of %s, PINs %s",
        ks->tok->name, ks->tok->label, ks->tok->serial, ks->tok->path,
        ks->pin_source != NULL
            ? "checked by p11portal, backing PIN from hsm_pin_source"
            : "passed through");
    *out = &ks->base;
    ks = NULL;
    rc = P11P_OK;
out:
    ks_free(ks);
    return rc;
}

static void hsm_close(struct p11p_keystore *ks)
{
    ks_free(hsm(ks));
}

static void hsm_discard(struct p11p_keystore *base)
{
    struct p11p_hsm_ks *ks = hsm(base);

    /* In the child: the backing sessions and login are the parent's;
     * forget them (the token struct knows its pid and calls nothing). */
    ks->has_login_sess = false;
    ks_free(ks);
}

/* Counts encoded from backing flags (see FLAG_RETRIES). */
static void map_flags(CK_FLAGS f, CK_FLAGS low, CK_FLAGS final, CK_FLAGS lock,
                      unsigned *fails, bool *locked)
{
    *locked = (f & lock) != 0;
    *fails = (f & final) ? FLAG_RETRIES - 1 : (f & low) ? 1 : 0;
}

static enum p11p_status hsm_info(struct p11p_keystore *base,
                                 struct p11p_keystore_info *out)
{
    struct p11p_hsm_ks *ks = hsm(base);
    CK_TOKEN_INFO ti;
    enum p11p_status rc;
    bool user_locked = false;
    unsigned dummy = 0;

    rc = p11p_hsm_module_token_info(ks->tok, &ti);
    if (rc != P11P_OK) {
        return rc;
    }
    if (ks->pin_source == NULL) {
        out->initialized = (ti.flags & CKF_TOKEN_INITIALIZED) != 0;
        out->user_pin_set = (ti.flags & CKF_USER_PIN_INITIALIZED) != 0;
        out->max_retries = FLAG_RETRIES;
        map_flags(ti.flags, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
                  CKF_USER_PIN_LOCKED, &out->user_fails, &out->user_locked);
        map_flags(ti.flags, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY,
                  CKF_SO_PIN_LOCKED, &out->so_fails, &out->so_locked);
        return P11P_OK;
    }
    out->max_retries = ks->pin.max_retries;
    rc = p11p_pin_state(&ks->pin, P11P_ROLE_SO, &out->initialized,
                        &out->so_fails, &out->so_locked);
    if (rc == P11P_OK) {
        rc = p11p_pin_state(&ks->pin, P11P_ROLE_USER, &out->user_pin_set,
                            &out->user_fails, &out->user_locked);
    }
    /* A locked backing user PIN locks the station too. */
    map_flags(ti.flags, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
              CKF_USER_PIN_LOCKED, &dummy, &user_locked);
    out->user_locked = out->user_locked || user_locked;
    return rc;
}

/* Pass-through: proves pin is the backing SO PIN (an SO login, then out). */
static enum p11p_status check_backing_so(struct p11p_hsm_ks *ks,
                                         const struct p11p_secret *pin)
{
    struct p11p_hsm_token *t = ks->tok;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    enum p11p_status rc;
    CK_RV rv;

    rc = p11p_hsm_module_session_get(t, &s);
    if (rc != P11P_OK) {
        return rc;
    }
    p11p_hsm_module_enter(t, true);
    rv = t->fl->C_Login(s, CKU_SO, pin->data, pin->len);
    if (rv == CKR_OK) {
        t->fl->C_Logout(s);
    }
    p11p_hsm_module_leave(t, true);
    p11p_hsm_module_session_put(t, s, true);
    return rv == CKR_OK
               ? P11P_OK
               : p11p_hsm_module_fail(t, "C_Login", rv,
                                      "checking the SO PIN for C_InitToken");
}

/* Wraps a fresh random value under pin: the verifier record of role (the
 * value protects nothing; it only proves the PIN). Free out with
 * p11p_cache_auth_clear. Slow. */
static enum p11p_status make_verifier(struct p11p_hsm_ks *ks,
                                      enum p11p_cache_role role,
                                      const struct p11p_secret *pin,
                                      struct p11p_cache_auth *out)
{
    struct p11p_secret *value = NULL;
    enum p11p_status rc;

    rc = p11p_seal_new_master(&value);
    if (rc == P11P_OK) {
        rc = p11p_seal_wrap_master(value, pin, role, ks->pin.iterations, out);
    }
    p11p_secret_free(value);
    return rc;
}

/* Stores a fresh verifier of role for pin (PIN-source mode). Slow. */
static enum p11p_status put_verifier(struct p11p_hsm_ks *ks,
                                     enum p11p_cache_role role,
                                     const struct p11p_secret *pin)
{
    struct p11p_secret *value = NULL;
    enum p11p_status rc;

    rc = p11p_seal_new_master(&value);
    if (rc == P11P_OK) {
        rc = p11p_pin_put(&ks->pin, role, value, pin);
    }
    p11p_secret_free(value);
    return rc;
}

static enum p11p_status hsm_init_token(struct p11p_keystore *base,
                                       const struct p11p_secret *so_pin,
                                       const char *label)
{
    struct p11p_hsm_ks *ks = hsm(base);
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_cache_auth rec;
    bool has_rec = false;

    memset(&rec, 0, sizeof(rec));
    pthread_mutex_lock(&ks->mu);
    logout_locked(ks);
    pthread_mutex_unlock(&ks->mu);
    if (ks->pin_source == NULL) {
        rc = check_backing_so(ks, so_pin);
    } else {
        rc = p11p_pin_verify(&ks->pin, P11P_ROLE_SO, so_pin, NULL);
        if (rc == P11P_ERR_NOT_FOUND) {
            rc = P11P_OK; /* first initialisation */
        }
        if (rc == P11P_OK) {
            rc = make_verifier(ks, P11P_ROLE_SO, so_pin, &rec);
            has_rec = rc == P11P_OK;
        }
    }
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_pin_init_token(&ks->pin, has_rec ? &rec : NULL, label);
    if (rc != P11P_OK) {
        goto out;
    }
    P11P_INFO(
        COMP,
        "token \"%s\": initialised (label \"%s\"); the keys of backing token \"%s\" were kept",
        ks->tok->name, label, ks->tok->label);
out:
    p11p_cache_auth_clear(&rec);
    return rc;
}

static enum p11p_status hsm_login(struct p11p_keystore *base,
                                  enum p11p_cache_role role,
                                  const struct p11p_secret *pin)
{
    struct p11p_hsm_ks *ks = hsm(base);
    struct p11p_secret *backing = NULL;
    enum p11p_status rc;

    if (ks->pin_source == NULL) {
        return backing_login(ks, role == P11P_ROLE_SO ? CKU_SO : CKU_USER, role,
                             pin, NULL);
    }
    rc = p11p_pin_verify(&ks->pin, role, pin, NULL);
    if (rc != P11P_OK) {
        return rc;
    }
    if (role == P11P_ROLE_SO) {
        pthread_mutex_lock(&ks->mu);
        logout_locked(ks);
        ks->role = P11P_ROLE_SO;
        pthread_mutex_unlock(&ks->mu);
        return P11P_OK;
    }
    rc = p11p_hsm_pin_read_source(ks->tok->name, ks->pin_source, &backing);
    if (rc == P11P_OK) {
        rc = backing_login(ks, CKU_USER, P11P_ROLE_USER, backing,
                           "logging in with the PIN of hsm_pin_source");
        if (rc == P11P_ERR_AUTH) {
            rc = P11P_ERR_CONFIG; /* the source is wrong, not the user */
        }
    }
    p11p_secret_free(backing);
    return rc;
}

static void hsm_logout(struct p11p_keystore *base)
{
    struct p11p_hsm_ks *ks = hsm(base);

    pthread_mutex_lock(&ks->mu);
    logout_locked(ks);
    pthread_mutex_unlock(&ks->mu);
}

static bool hsm_is_logged_in(struct p11p_keystore *base,
                             enum p11p_cache_role role)
{
    struct p11p_hsm_ks *ks = hsm(base);
    bool in;

    pthread_mutex_lock(&ks->mu);
    in = ks->role == (int)role;
    pthread_mutex_unlock(&ks->mu);
    return in;
}

/* The backing session holding a login of role, if that is ours. */
static bool login_session(struct p11p_hsm_ks *ks, int role,
                          CK_SESSION_HANDLE *out)
{
    bool ok;

    pthread_mutex_lock(&ks->mu);
    ok = ks->role == role && ks->has_login_sess;
    *out = ks->login_sess;
    pthread_mutex_unlock(&ks->mu);
    return ok;
}

static enum p11p_status hsm_init_pin(struct p11p_keystore *base,
                                     const struct p11p_secret *pin)
{
    struct p11p_hsm_ks *ks = hsm(base);
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_RV rv;

    if (ks->pin_source != NULL) {
        if (!hsm_is_logged_in(base, P11P_ROLE_SO)) {
            P11P_WARN(COMP, "token \"%s\": C_InitPIN needs the SO logged in",
                      ks->tok->name);
            return P11P_ERR_AUTH;
        }
        return put_verifier(ks, P11P_ROLE_USER, pin);
    }
    if (!login_session(ks, P11P_ROLE_SO, &s)) {
        P11P_WARN(COMP, "token \"%s\": C_InitPIN needs the SO logged in",
                  ks->tok->name);
        return P11P_ERR_AUTH;
    }
    p11p_hsm_module_enter(ks->tok, true);
    rv = ks->tok->fl->C_InitPIN(s, pin->data, pin->len);
    p11p_hsm_module_leave(ks->tok, true);
    return rv == CKR_OK ? P11P_OK
                        : p11p_hsm_module_fail(ks->tok, "C_InitPIN", rv, NULL);
}

static enum p11p_status hsm_set_pin(struct p11p_keystore *base,
                                    enum p11p_cache_role role,
                                    const struct p11p_secret *old_pin,
                                    const struct p11p_secret *new_pin)
{
    struct p11p_hsm_ks *ks = hsm(base);
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    enum p11p_status rc;
    bool borrowed = false;
    CK_RV rv;

    if (ks->pin_source != NULL) {
        rc = p11p_pin_verify(&ks->pin, role, old_pin, NULL);
        return rc == P11P_OK ? put_verifier(ks, role, new_pin) : rc;
    }
    /* C_SetPIN acts on the logged-in role, or the user when nobody is
     * logged in (PKCS#11 2.40 section 5.6). */
    borrowed = login_session(ks, (int)role, &s);
    if (!borrowed) {
        if (role == P11P_ROLE_SO) {
            return P11P_ERR_AUTH;
        }
        rc = p11p_hsm_module_session_get(ks->tok, &s);
        if (rc != P11P_OK) {
            return rc;
        }
    }
    p11p_hsm_module_enter(ks->tok, true);
    rv = ks->tok->fl->C_SetPIN(s, old_pin->data, old_pin->len, new_pin->data,
                               new_pin->len);
    p11p_hsm_module_leave(ks->tok, true);
    if (!borrowed) {
        p11p_hsm_module_session_put(ks->tok, s, true);
    }
    return rv == CKR_OK ? P11P_OK
                        : p11p_hsm_module_fail(ks->tok, "C_SetPIN", rv, NULL);
}

static enum p11p_status hsm_generate(struct p11p_keystore *base,
                                     const struct p11p_keygen_spec *spec,
                                     EVP_PKEY **out_pub,
                                     struct p11p_cache_keyblob *out_blob)
{
    return p11p_hsm_key_generate(hsm(base), spec, out_pub, out_blob);
}

static enum p11p_status hsm_import(struct p11p_keystore *base, EVP_PKEY *priv,
                                   const struct p11p_keygen_spec *spec,
                                   struct p11p_cache_keyblob *out_blob)
{
    return p11p_hsm_import_key(hsm(base), priv, spec, out_blob);
}

static enum p11p_status hsm_load(struct p11p_keystore *base,
                                 const struct p11p_cache_keyblob *blob,
                                 struct p11p_key **out)
{
    return p11p_hsm_key_load(hsm(base), blob, out);
}

static enum p11p_status hsm_destroy(struct p11p_keystore *base,
                                    const struct p11p_cache_keyblob *blob)
{
    return p11p_hsm_key_destroy(hsm(base), blob);
}

const struct p11p_keystore_backend p11p_hsm_backend = {
    .name = "hsm",
    .open = hsm_open,
    .close = hsm_close,
    .discard = hsm_discard,
    .info = hsm_info,
    .init_token = hsm_init_token,
    .login = hsm_login,
    .logout = hsm_logout,
    .is_logged_in = hsm_is_logged_in,
    .init_pin = hsm_init_pin,
    .set_pin = hsm_set_pin,
    .generate = hsm_generate,
    .import = hsm_import,
    .load = hsm_load,
    .destroy = hsm_destroy,
};

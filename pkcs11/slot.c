/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Slots and tokens (see slot.h): one slot per configured token, its lazily
 * opened runtime, token info from the keystore's login state and the
 * cache's metadata, the mechanism list from mech.c, C_InitToken, and the
 * map of loaded private keys that keeps C_SignInit off SQLite.
 */
#include "pkcs11/slot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/ossl.h"
#include "core/base/secret.h"
#include "core/base/str.h"
#include "pkcs11/ckr.h"
#include "pkcs11/mech.h"
#include "pkcs11/module.h"

#define SERIAL_LEN 16
/* How long a read of the cache generation is trusted by the signing path
 * (see store_generation). */
#define KEY_RECHECK_MS 10u

CK_RV p11p_slot_token_new(const struct p11p_conf_token *conf, CK_SLOT_ID id,
                          struct p11p_token **out)
{
    struct p11p_token *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        return CKR_HOST_MEMORY;
    }
    t->slot_id = id;
    t->conf = conf;
    pthread_mutex_init(&t->lock, NULL);
    atomic_init(&t->login, P11P_LOGIN_NONE);
    atomic_init(&t->login_epoch, 0);
    atomic_init(&t->gen, 0);
    atomic_init(&t->gen_read_ms, 0);
    *out = t;
    return CKR_OK;
}

static void keys_clear_locked(struct p11p_token *t)
{
    for (size_t i = 0; i < t->n_keys; i++) {
        p11p_key_unref(t->keys[i].key);
    }
    t->n_keys = 0;
}

void p11p_slot_token_free(struct p11p_token *t)
{
    if (t == NULL) {
        return;
    }
    keys_clear_locked(t);
    free(t->keys);
    p11p_enroll_free(t->enroll);
    p11p_keystore_close(t->ks);
    p11p_cache_close(t->cache);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

void p11p_slot_token_discard(struct p11p_token *t)
{
    if (t == NULL) {
        return;
    }
    keys_clear_locked(t);
    free(t->keys);
    p11p_enroll_discard(t->enroll);
    p11p_keystore_discard(t->ks);
    p11p_cache_discard(t->cache);
    /* The parent may have held the lock at fork time: do not destroy. */
    free(t);
}

/* Reads the token serial, creating it once (16 hex characters). */
static enum p11p_status load_serial(struct p11p_token *t)
{
    enum p11p_status st = P11P_OK;
    struct p11p_cache_txn *txn = NULL;
    char *serial = NULL;
    unsigned char rnd[SERIAL_LEN / 2];
    char hex[SERIAL_LEN + 1];

    st = p11p_cache_meta_get(t->cache, "serial", &serial);
    if (st != P11P_OK || serial != NULL) {
        goto out;
    }
    if (RAND_bytes_ex(p11p_ossl_libctx(), rnd, sizeof(rnd), 0) != 1) {
        st = P11P_ERR_CRYPTO;
        goto out;
    }
    p11p_str_hex(rnd, sizeof(rnd), hex);
    st = p11p_cache_txn_begin(t->cache, &txn);
    if (st != P11P_OK) {
        goto out;
    }
    st = p11p_cache_meta_set(txn, "serial", hex);
    if (st != P11P_OK) {
        goto out;
    }
    st = p11p_cache_txn_commit(txn);
    txn = NULL;
    if (st != P11P_OK) {
        goto out;
    }
    /* Another process may have won the race: read back what is stored. */
    st = p11p_cache_meta_get(t->cache, "serial", &serial);
out:
    p11p_cache_txn_rollback(txn);
    if (st == P11P_OK && serial != NULL) {
        p11p_str_copy(t->serial, sizeof(t->serial), serial);
    }
    free(serial);
    return st;
}

CK_RV p11p_slot_open(struct p11p_token *t)
{
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&t->lock);
    if (t->opened) {
        goto out;
    }
    st = p11p_cache_open(t->conf->cache_path, &t->cache);
    if (st != P11P_OK) {
        P11P_ERROR("pkcs11", "token \"%s\": cannot open its cache %s: %s",
                   t->conf->name, t->conf->cache_path, p11p_status_text(st));
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    st = load_serial(t);
    if (st == P11P_OK) {
        st = p11p_keystore_open(t->conf, t->cache, &t->ks);
    }
    if (st == P11P_OK) {
        st = p11p_enroll_new(t->conf, t->cache, t->ks, &t->enroll);
    }
    if (st != P11P_OK) {
        P11P_ERROR("pkcs11", "token \"%s\": cannot open: %s", t->conf->name,
                   p11p_status_text(st));
        p11p_enroll_free(t->enroll);
        p11p_keystore_close(t->ks);
        p11p_cache_close(t->cache);
        t->enroll = NULL;
        t->ks = NULL;
        t->cache = NULL;
        rv = p11p_ckr_from_status(st);
        goto out;
    }
    t->opened = true;
out:
    pthread_mutex_unlock(&t->lock);
    return rv;
}

bool p11p_slot_is_logged_in(const struct p11p_token *t, CK_USER_TYPE role)
{
    return atomic_load(&t->login) == role;
}

void p11p_slot_logout_locked(struct p11p_token *t)
{
    keys_clear_locked(t);
    if (t->ks != NULL) {
        p11p_keystore_logout(t->ks);
    }
    atomic_store(&t->login, P11P_LOGIN_NONE);
    atomic_fetch_add(&t->login_epoch, 1);
}

static bool keys_find_locked(struct p11p_token *t, CK_OBJECT_HANDLE h,
                             struct p11p_keyslot *out)
{
    for (size_t i = 0; i < t->n_keys; i++) {
        if (t->keys[i].handle == h) {
            *out = t->keys[i];
            out->key = p11p_key_ref(t->keys[i].key);
            return true;
        }
    }
    return false;
}

/* Reads the key's object and loads it through the keystore (no lock). */
static CK_RV load_key(struct p11p_token *t, CK_OBJECT_HANDLE h,
                      struct p11p_keyslot *out)
{
    struct p11p_cache_object obj = { 0 };
    struct p11p_cache_keyblob blob = { 0 };
    struct p11p_key *key = NULL;
    const CK_ATTRIBUTE *mod = NULL;
    const CK_ATTRIBUTE *allowed = NULL;
    CK_ULONG kt = 0;
    bool flag = false;
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    st = p11p_cache_object_get(t->cache, (int64_t)h, &obj);
    if (st == P11P_ERR_NOT_FOUND) {
        rv = CKR_KEY_HANDLE_INVALID;
        goto out;
    }
    if (st != P11P_OK) {
        rv = p11p_ckr_from_status(st);
        goto out;
    }
    if (obj.klass != CKO_PRIVATE_KEY) {
        rv = CKR_KEY_TYPE_INCONSISTENT;
        goto out;
    }
    st = p11p_cache_keyblob_get(t->cache, (int64_t)h, &blob);
    if (st == P11P_ERR_NOT_FOUND) {
        rv = CKR_KEY_HANDLE_INVALID;
        goto out;
    }
    if (st == P11P_OK) {
        st = p11p_keystore_load(t->ks, &blob, &key);
    }
    if (st == P11P_ERR_AUTH) {
        rv = CKR_USER_NOT_LOGGED_IN;
        goto out;
    }
    if (st != P11P_OK) {
        rv = p11p_ckr_from_status(st);
        goto out;
    }
    memset(out, 0, sizeof(*out));
    out->handle = h;
    out->key_type = p11p_attrlist_get_ulong(&obj.attrs, CKA_KEY_TYPE, &kt)
                        ? kt
                        : CK_UNAVAILABLE_INFORMATION;
    out->can_sign =
        !p11p_attrlist_get_bool(&obj.attrs, CKA_SIGN, &flag) || flag;
    out->can_decrypt = p11p_attrlist_get_bool(&obj.attrs, CKA_DECRYPT, &flag)
                           ? flag
                           : kt == CKK_RSA;
    mod = p11p_attrlist_get0(&obj.attrs, CKA_MODULUS);
    out->modulus_bytes = mod != NULL ? mod->ulValueLen : 0;
    allowed = p11p_attrlist_get0(&obj.attrs, CKA_ALLOWED_MECHANISMS);
    if (allowed != NULL && allowed->ulValueLen >= sizeof(CK_MECHANISM_TYPE)) {
        size_t n = allowed->ulValueLen / sizeof(CK_MECHANISM_TYPE);

        out->allowed_overflow = n > P11P_KEY_MAX_ALLOWED;
        out->n_allowed = out->allowed_overflow ? 0 : n;
        memcpy(out->allowed, allowed->pValue,
               out->n_allowed * sizeof(CK_MECHANISM_TYPE));
    }
    out->key = key;
    key = NULL;
out:
    p11p_key_unref(key);
    p11p_cache_keyblob_clear(&blob);
    p11p_cache_object_clear(&obj);
    return rv;
}

/* The store's generation as this token last read it, read again when
 * it is older than KEY_RECHECK_MS. A read costs an SQLite point lookup,
 * ~4 us, three times the signing overhead budget (DESIGN.md); a clock read
 * costs ~25 ns. So a key destroyed by another process is noticed within
 * KEY_RECHECK_MS, at a cost of one read per interval. Racing readers both
 * store a value that was current when read: harmless. */
static enum p11p_status store_generation(struct p11p_token *t, uint64_t *out)
{
    enum p11p_status rc = P11P_OK;
    uint64_t now = p11p_clock_mono_ms();
    uint64_t gen = atomic_load(&t->gen);

    if (now - atomic_load(&t->gen_read_ms) >= KEY_RECHECK_MS
        || atomic_load(&t->gen_read_ms) == 0) {
        rc = p11p_cache_generation(t->cache, &gen);
        if (rc != P11P_OK) {
            goto out;
        }
        atomic_store(&t->gen, gen);
        atomic_store(&t->gen_read_ms, now != 0 ? now : 1);
    }
    *out = gen;
out:
    return rc;
}

/* A mapped key is still valid at generation gen: its object is still in
 * the cache (ids are never reused, so the handle names the same key). On
 * success the map entry records gen, so the check runs once per change of
 * the store. CKR_KEY_HANDLE_INVALID (entry dropped) if it was destroyed,
 * by this or another process. */
static CK_RV key_recheck(struct p11p_token *t, CK_OBJECT_HANDLE h, uint64_t gen)
{
    struct p11p_cache_object obj = { 0 };
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    st = p11p_cache_object_get(t->cache, (int64_t)h, &obj);
    if (st == P11P_ERR_NOT_FOUND) {
        P11P_DEBUG("pkcs11", "key %lu was destroyed; dropping it from the map",
                   (unsigned long)h);
        p11p_slot_key_forget(t, h);
        rv = CKR_KEY_HANDLE_INVALID;
        goto out;
    }
    if (st != P11P_OK) {
        rv = p11p_ckr_from_status(st);
        goto out;
    }
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n_keys; i++) {
        if (t->keys[i].handle == h) {
            t->keys[i].gen = gen;
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
out:
    p11p_cache_object_clear(&obj);
    return rv;
}

CK_RV p11p_slot_key_get(struct p11p_token *t, CK_OBJECT_HANDLE h,
                        struct p11p_keyslot *out)
{
    struct p11p_keyslot ks = { 0 };
    struct p11p_keyslot *grown = NULL;
    unsigned long epoch = atomic_load(&t->login_epoch);
    uint64_t gen = 0;
    bool found = false;
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    if (!p11p_slot_is_logged_in(t, CKU_USER)) {
        rv = CKR_USER_NOT_LOGGED_IN;
        goto out;
    }
    st = store_generation(t, &gen);
    if (st != P11P_OK) {
        rv = p11p_ckr_from_status(st);
        goto out;
    }
    pthread_mutex_lock(&t->lock);
    found = keys_find_locked(t, h, &ks);
    pthread_mutex_unlock(&t->lock);
    if (found && ks.gen != gen) {
        rv = key_recheck(t, h, gen);
        if (rv != CKR_OK) {
            goto out;
        }
        ks.gen = gen;
    }
    if (found) {
        *out = ks;
        ks.key = NULL;
        goto out;
    }
    rv = load_key(t, h, &ks);
    if (rv != CKR_OK) {
        goto out;
    }
    ks.gen = gen;
    pthread_mutex_lock(&t->lock);
    if (atomic_load(&t->login_epoch) != epoch) {
        rv = CKR_USER_NOT_LOGGED_IN; /* logged out meanwhile */
    } else if (!keys_find_locked(t, h, out)) {
        if (t->n_keys == t->keys_alloc) {
            size_t n = t->keys_alloc ? t->keys_alloc * 2 : 8;
            grown = realloc(t->keys, n * sizeof(*grown));
            if (grown != NULL) {
                t->keys = grown;
                t->keys_alloc = n;
            }
        }
        *out = ks;
        out->key = p11p_key_ref(ks.key);
        if (t->n_keys < t->keys_alloc) {
            t->keys[t->n_keys++] = ks; /* the map keeps ks's reference */
            ks.key = NULL;
        }
    }
    pthread_mutex_unlock(&t->lock);
out:
    p11p_key_unref(ks.key);
    return rv;
}

bool p11p_slot_key_allows(const struct p11p_keyslot *ks, CK_MECHANISM_TYPE mech)
{
    if (ks->allowed_overflow) {
        return false;
    }
    if (ks->n_allowed == 0) {
        return true;
    }
    for (size_t i = 0; i < ks->n_allowed; i++) {
        if (ks->allowed[i] == mech) {
            return true;
        }
    }
    return false;
}

void p11p_slot_key_forget(struct p11p_token *t, CK_OBJECT_HANDLE h)
{
    struct p11p_key *gone = NULL;

    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n_keys; i++) {
        if (t->keys[i].handle == h) {
            gone = t->keys[i].key;
            t->keys[i] = t->keys[--t->n_keys];
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
    p11p_key_unref(gone);
}

CK_RV p11p_slot_get_list(CK_BBOOL present, CK_SLOT_ID_PTR list,
                         CK_ULONG_PTR count)
{
    struct p11p_module *m = p11p_module_get();

    (void)present; /* our tokens are always present */
    if (count == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    if (list == NULL) {
        *count = m->n_tokens;
        return CKR_OK;
    }
    if (*count < m->n_tokens) {
        *count = m->n_tokens;
        return CKR_BUFFER_TOO_SMALL;
    }
    for (size_t i = 0; i < m->n_tokens; i++) {
        list[i] = i;
    }
    *count = m->n_tokens;
    return CKR_OK;
}

CK_RV p11p_slot_get_info(CK_SLOT_ID id, CK_SLOT_INFO_PTR info)
{
    struct p11p_token *t = p11p_module_token(id);
    char desc[64];

    if (t == NULL) {
        return CKR_SLOT_ID_INVALID;
    }
    if (info == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    memset(info, 0, sizeof(*info));
    snprintf(desc, sizeof(desc), "p11portal %s (%s)", t->conf->name,
             t->conf->driver != NULL ? t->conf->driver : "local");
    p11p_str_pad(info->slotDescription, sizeof(info->slotDescription), desc);
    p11p_str_pad(info->manufacturerID, sizeof(info->manufacturerID),
                 "p11portal");
    info->flags = CKF_TOKEN_PRESENT;
    info->hardwareVersion.major = 0;
    info->firmwareVersion.major = 0;
    info->firmwareVersion.minor = 1;
    return CKR_OK;
}

/* PIN counter flags (2.40 table 11) from the keystore's failure counts. */
static CK_FLAGS pin_flags(unsigned fails, unsigned max, bool locked,
                          CK_FLAGS low, CK_FLAGS final, CK_FLAGS lock)
{
    if (locked) {
        return lock;
    }
    if (max != 0 && fails + 1 == max) {
        return final;
    }
    return fails > 0 ? low : 0;
}

CK_RV p11p_slot_get_token_info(CK_SLOT_ID id, CK_TOKEN_INFO_PTR info)
{
    struct p11p_token *t = p11p_module_token(id);
    struct p11p_keystore_info ki = { 0 };
    char *label = NULL;
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    if (t == NULL) {
        return CKR_SLOT_ID_INVALID;
    }
    if (info == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    rv = p11p_slot_open(t);
    if (rv != CKR_OK) {
        return rv;
    }
    st = p11p_keystore_info(t->ks, &ki);
    if (st == P11P_OK) {
        st = p11p_cache_meta_get(t->cache, "label", &label);
    }
    if (st != P11P_OK) {
        return p11p_ckr_from_status(st);
    }
    memset(info, 0, sizeof(*info));
    p11p_str_pad(info->label, sizeof(info->label),
                 label != NULL            ? label
                 : t->conf->label != NULL ? t->conf->label
                                          : t->conf->name);
    free(label);
    p11p_str_pad(info->manufacturerID, sizeof(info->manufacturerID),
                 "p11portal");
    p11p_str_pad(info->model, sizeof(info->model),
                 t->conf->driver != NULL ? t->conf->driver : "local");
    p11p_str_pad(info->serialNumber, sizeof(info->serialNumber), t->serial);
    info->flags = CKF_RNG | CKF_LOGIN_REQUIRED;
    if (ki.initialized) {
        info->flags |= CKF_TOKEN_INITIALIZED;
    }
    if (ki.user_pin_set) {
        info->flags |= CKF_USER_PIN_INITIALIZED;
    }
    info->flags |= pin_flags(ki.user_fails, ki.max_retries, ki.user_locked,
                             CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
                             CKF_USER_PIN_LOCKED);
    info->flags |= pin_flags(ki.so_fails, ki.max_retries, ki.so_locked,
                             CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY,
                             CKF_SO_PIN_LOCKED);
    pthread_mutex_lock(&t->lock);
    info->ulSessionCount = t->n_sessions;
    info->ulRwSessionCount = t->n_rw_sessions;
    pthread_mutex_unlock(&t->lock);
    info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulMaxPinLen = P11P_MAX_PIN_LEN;
    info->ulMinPinLen = P11P_MIN_PIN_LEN;
    info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->firmwareVersion.minor = 1;
    memset(info->utcTime, ' ', sizeof(info->utcTime));
    return CKR_OK;
}

CK_RV p11p_slot_get_mechanism_list(CK_SLOT_ID id, CK_MECHANISM_TYPE_PTR list,
                                   CK_ULONG_PTR count)
{
    size_t n = 0;
    const struct p11p_mech *mechs = p11p_mech_table(&n);

    if (p11p_module_token(id) == NULL) {
        return CKR_SLOT_ID_INVALID;
    }
    if (count == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    if (list == NULL) {
        *count = n;
        return CKR_OK;
    }
    if (*count < n) {
        *count = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    for (size_t i = 0; i < n; i++) {
        list[i] = mechs[i].type;
    }
    *count = n;
    return CKR_OK;
}

CK_RV p11p_slot_get_mechanism_info(CK_SLOT_ID id, CK_MECHANISM_TYPE type,
                                   CK_MECHANISM_INFO_PTR info)
{
    const struct p11p_mech *m = p11p_mech_find(type);

    if (p11p_module_token(id) == NULL) {
        return CKR_SLOT_ID_INVALID;
    }
    if (info == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    if (m == NULL) {
        return CKR_MECHANISM_INVALID;
    }
    info->ulMinKeySize = m->min_bits;
    info->ulMaxKeySize = m->max_bits;
    info->flags = m->info_flags;
    return CKR_OK;
}

CK_RV p11p_slot_init_token(CK_SLOT_ID id, CK_UTF8CHAR_PTR pin, CK_ULONG len,
                           CK_UTF8CHAR_PTR label32)
{
    struct p11p_token *t = p11p_module_token(id);
    struct p11p_secret *so_pin = NULL;
    char label[33];
    size_t n = 32;
    bool busy = false;
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    if (t == NULL) {
        rv = CKR_SLOT_ID_INVALID;
        goto out;
    }
    if (pin == NULL || label32 == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    if (len < P11P_MIN_PIN_LEN || len > P11P_MAX_PIN_LEN) {
        rv = CKR_PIN_LEN_RANGE;
        goto out;
    }
    rv = p11p_slot_open(t);
    if (rv != CKR_OK) {
        goto out;
    }
    /* The label is 32 blank-padded bytes, not NUL-terminated. */
    memcpy(label, label32, 32);
    while (n > 0 && label[n - 1] == ' ') {
        n--;
    }
    label[n] = '\0';
    pthread_mutex_lock(&t->lock);
    busy = t->n_sessions > 0;
    pthread_mutex_unlock(&t->lock);
    if (busy) {
        rv = CKR_SESSION_EXISTS;
        goto out;
    }
    so_pin = p11p_secret_dup(pin, len);
    if (so_pin == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    st = p11p_keystore_init_token(t->ks, so_pin, label);
    if (st != P11P_OK) {
        P11P_INFO("pkcs11", "C_InitToken on token \"%s\": %s", t->conf->name,
                  p11p_status_text(st));
        rv = p11p_ckr_from_status(st);
        goto out;
    }
    /* Every object and key is gone: forget the loaded ones. */
    pthread_mutex_lock(&t->lock);
    p11p_slot_logout_locked(t);
    pthread_mutex_unlock(&t->lock);
out:
    p11p_secret_free(so_pin);
    return rv;
}

CK_RV p11p_slot_wait_for_event(CK_FLAGS flags, CK_SLOT_ID_PTR slot)
{
    if (slot == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    /* Tokens never come or go: nothing to report, and nothing to wait for
     * in a module that starts no threads. */
    return (flags & CKF_DONT_BLOCK) ? CKR_NO_EVENT : CKR_FUNCTION_NOT_SUPPORTED;
}

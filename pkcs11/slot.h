/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One slot per configured token: the token runtime (cache, keystore,
 * enrollment engine, opened lazily on first use without network or
 * scans), login state, the loaded-key map of the signing hot path, and the
 * slot/token/mechanism queries and C_InitToken.
 */
#ifndef P11P_PKCS11_SLOT_H
#define P11P_PKCS11_SLOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "core/conf/conf.h"
#include "core/enroll/enroll.h"
#include "core/keys/backend.h"
#include "pkcs11/pkcs11-3.h"

#define P11P_LOGIN_NONE      ((CK_ULONG)-1)
#define P11P_MIN_PIN_LEN     4
#define P11P_MAX_PIN_LEN     256
#define P11P_KEY_MAX_ALLOWED 16

/* A private key ready for the signing hot path (filled on first use after
 * login, cleared at logout). */
struct p11p_keyslot {
    CK_OBJECT_HANDLE handle;
    struct p11p_key *key; /* a reference */
    CK_KEY_TYPE key_type;
    bool can_sign;
    bool can_decrypt;
    size_t modulus_bytes; /* RSA: modulus length; 0 otherwise */
    /* CKA_ALLOWED_MECHANISMS (n_allowed 0: any); a longer list than fits
     * allows none, so a key is never used beyond what it says. */
    CK_MECHANISM_TYPE allowed[P11P_KEY_MAX_ALLOWED];
    size_t n_allowed;
    bool allowed_overflow;
    uint64_t gen; /* cache generation at which the key was last seen */
};

/* True if the keyslot's CKA_ALLOWED_MECHANISMS permits mech. */
bool p11p_slot_key_allows(const struct p11p_keyslot *ks,
                          CK_MECHANISM_TYPE mech);

struct p11p_token {
    CK_SLOT_ID slot_id;
    const struct p11p_conf_token *conf; /* borrowed from the module conf */
    pthread_mutex_t lock;               /* token lock */
    bool opened;                        /* runtime below is open */
    struct p11p_cache *cache;
    struct p11p_keystore *ks;
    struct p11p_enroll *enroll;
    atomic_ulong login;       /* CKU_USER, CKU_SO or P11P_LOGIN_NONE */
    atomic_ulong login_epoch; /* bumped at every logout */
    CK_ULONG n_sessions;      /* under the token lock */
    CK_ULONG n_rw_sessions;
    atomic_uint_fast64_t gen;         /* cache generation last read */
    atomic_uint_fast64_t gen_read_ms; /* when (monotonic ms; 0: never) */
    struct p11p_keyslot *keys;        /* under the token lock */
    size_t n_keys;
    size_t keys_alloc;
    char serial[17];
};

/* Creates the token of conf for slot id (nothing opened yet). */
CK_RV p11p_slot_token_new(const struct p11p_conf_token *conf, CK_SLOT_ID id,
                          struct p11p_token **out);
/* Closes and frees; NULL-safe. */
void p11p_slot_token_free(struct p11p_token *t);
/* In a forked child: forgets cache, keystore and engine without closing
 * them (p11p_*_discard), then frees. NULL-safe. */
void p11p_slot_token_discard(struct p11p_token *t);

/* Opens the runtime on first use (cache, keystore, engine). Takes the
 * token lock. CKR_DEVICE_ERROR (logged) if the cache cannot be opened. */
CK_RV p11p_slot_open(struct p11p_token *t);

/* True if role (CKU_USER or CKU_SO) is logged in. Lock-free. */
bool p11p_slot_is_logged_in(const struct p11p_token *t, CK_USER_TYPE role);

/* Returns the keyslot of private key handle with a new key reference in
 * out->key (release with p11p_key_unref). Loads and caches the key on
 * first use: CKR_KEY_HANDLE_INVALID if there is no such visible private
 * key, CKR_USER_NOT_LOGGED_IN without a user login. The cache's generation
 * is read again at most every few milliseconds (slot.c KEY_RECHECK_MS);
 * when it moved since the key was last seen, the key's object is looked up
 * again, so a key destroyed by another process is CKR_KEY_HANDLE_INVALID
 * at the first C_SignInit after that interval. */
CK_RV p11p_slot_key_get(struct p11p_token *t, CK_OBJECT_HANDLE handle,
                        struct p11p_keyslot *out);

/* Forgets one key of the map (C_DestroyObject). Takes the token lock. */
void p11p_slot_key_forget(struct p11p_token *t, CK_OBJECT_HANDLE handle);

/* Logs the token out: keystore logout, key map cleared, epoch bumped.
 * Caller holds the token lock. */
void p11p_slot_logout_locked(struct p11p_token *t);

CK_RV p11p_slot_get_list(CK_BBOOL present, CK_SLOT_ID_PTR list,
                         CK_ULONG_PTR count);
CK_RV p11p_slot_get_info(CK_SLOT_ID id, CK_SLOT_INFO_PTR info);
CK_RV p11p_slot_get_token_info(CK_SLOT_ID id, CK_TOKEN_INFO_PTR info);
CK_RV p11p_slot_get_mechanism_list(CK_SLOT_ID id, CK_MECHANISM_TYPE_PTR list,
                                   CK_ULONG_PTR count);
CK_RV p11p_slot_get_mechanism_info(CK_SLOT_ID id, CK_MECHANISM_TYPE type,
                                   CK_MECHANISM_INFO_PTR info);
CK_RV p11p_slot_init_token(CK_SLOT_ID id, CK_UTF8CHAR_PTR pin, CK_ULONG len,
                           CK_UTF8CHAR_PTR label);
CK_RV p11p_slot_wait_for_event(CK_FLAGS flags, CK_SLOT_ID_PTR slot);

#endif

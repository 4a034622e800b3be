/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside core/keys/: the backing PKCS#11 module of the hsm backend (issue
 * 5, docs/hsm.md). Loads a module once per process and path (dlopen
 * RTLD_LOCAL|RTLD_NOW, C_GetFunctionList or the 3.0 C_GetInterface),
 * initialises it with CKF_OS_LOCKING_OK (tolerating an application that
 * initialised it first, and then never finalising it), finds the backing
 * token by label or serial, and keeps a small pool of backing sessions.
 * Every backing failure goes through p11p_hsm_module_fail, which logs it
 * once with the CKR_ name, the module path and the token label, and maps
 * it to a status.
 *
 * Fork: a backing token remembers the pid that opened it; in another
 * process (a forked child) it never calls the module again, it only frees
 * memory, and the next open initialises the module afresh.
 */
#ifndef P11P_CORE_KEYS_HSM_MODULE_H
#define P11P_CORE_KEYS_HSM_MODULE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <p11-kit/pkcs11.h>

#include "core/base/status.h"
#include "core/conf/conf.h"

struct p11p_hsm_module; /* one loaded library, shared per path */

/* The backing token of one p11portal token: shared by the keystore, its
 * keys and their operations (reference counted). */
struct p11p_hsm_token {
    atomic_uint refs;
    struct p11p_hsm_module *mod;
    CK_FUNCTION_LIST *fl; /* borrowed from mod */
    const char *path;     /* the module path, borrowed from mod */
    CK_SLOT_ID slot;
    char *name;           /* the p11portal token name, for logs */
    char label[33];       /* backing token label, trimmed */
    char serial[17];      /* backing token serial, trimmed */
    pid_t pid;            /* the process that opened it */
    atomic_uint emulated; /* bit i: hsm_key.c's hashed mechanism i is
                             missing in the backing module (hashed here) */
    pthread_mutex_t mu;   /* guards the pool */
    CK_SESSION_HANDLE *pool;
    size_t n_pool;
    size_t cap_pool;
};

/* Loads conf->hsm_module (once per process and path), initialises it and
 * finds the backing token (conf->hsm_token_label or hsm_token_serial;
 * P11P_ERR_CONFIG, logged, if missing, absent or ambiguous). Returns a new
 * reference in *out. Never opens a session. */
enum p11p_status p11p_hsm_module_token_open(const struct p11p_conf_token *conf,
                                            struct p11p_hsm_token **out);

struct p11p_hsm_token *p11p_hsm_module_token_ref(struct p11p_hsm_token *t);

/* Drops a reference; the last one closes the pooled sessions and releases
 * the module (C_Finalize only if we initialised it, in this process).
 * NULL-safe. */
void p11p_hsm_module_token_unref(struct p11p_hsm_token *t);

/* Whether this process may call the backing module through t (false in a
 * forked child). */
bool p11p_hsm_module_is_usable(const struct p11p_hsm_token *t);

/* Takes a read-write backing session from the pool, opening one when the
 * pool is empty. */
enum p11p_status p11p_hsm_module_session_get(struct p11p_hsm_token *t,
                                             CK_SESSION_HANDLE *out);

/* Returns a session to the pool; clean false (an operation may still be
 * active in it) closes it instead. */
void p11p_hsm_module_session_put(struct p11p_hsm_token *t, CK_SESSION_HANDLE h,
                                 bool clean);

/*
 * The cross-process lock around backing calls. SoftHSM2's file store
 * rewrites a token's files in place (truncate, then write): a process that
 * reads them meanwhile (C_GetTokenInfo, C_FindObjects, even C_Sign) sees a
 * half-written token and fails with CKR_GENERAL_ERROR ("Token integrity
 * check failed", SoftHSMv2 issue 757). So every backing call of
 * p11portal runs under an flock on <data_dir>/hsm.lock: shared for calls
 * that only read (one flock per process, however many threads read),
 * exclusive for calls that write the store (C_GenerateKeyPair,
 * C_CreateObject, C_DestroyObject, C_SetAttributeValue, C_Login, C_InitPIN,
 * C_SetPIN, C_InitToken). Processes of p11portal sharing a data folder are
 * serialised; other applications writing the backing token are not. Enter
 * and leave pair up around one call (never across an application's
 * calls). No lock file (no data folder): no-ops.
 */
void p11p_hsm_module_enter(struct p11p_hsm_token *t, bool write);
void p11p_hsm_module_leave(struct p11p_hsm_token *t, bool write);

/*
 * Keys generated (or imported) in the backing token whose p11portal
 * objects are not committed to the cache yet: adoption (hsm_adopt.c) must
 * not take them for foreign keys. Generation holds the shared side of
 * <data_dir>/hsm-pending.lock from before the backing call until the
 * caller committed the key's objects (p11p_keystore_pending_done);
 * adoption runs only when it gets the exclusive side at once (else it is
 * deferred to the next login). A crashed process drops its lock with its
 * descriptors.
 */
void p11p_hsm_module_pending_begin(struct p11p_hsm_token *t);
void p11p_hsm_module_pending_end(struct p11p_hsm_token *t);
bool p11p_hsm_module_pending_try_exclusive(struct p11p_hsm_token *t);
void p11p_hsm_module_pending_exclusive_end(struct p11p_hsm_token *t);

/* Reads the backing CK_TOKEN_INFO. */
enum p11p_status p11p_hsm_module_token_info(struct p11p_hsm_token *t,
                                            CK_TOKEN_INFO *out);

/* Logs a failed backing call once ("token "station": backing C_Sign
 * failed: CKR_KEY_HANDLE_INVALID (module /usr/lib/..., token "backing")
 * while <what>") and returns its status (CKR_PIN_INCORRECT ->
 * P11P_ERR_AUTH, CKR_PIN_LOCKED -> P11P_ERR_PIN_LOCKED, ...). what may be
 * NULL. */
enum p11p_status p11p_hsm_module_fail(const struct p11p_hsm_token *t,
                                      const char *fn, CK_RV rv,
                                      const char *what);

/* The status a backing CK_RV maps to (no log). */
enum p11p_status p11p_hsm_module_status(CK_RV rv);

/* "CKR_PIN_INCORRECT", or "CKR_0x%lx" in buf for unknown codes. */
const char *p11p_hsm_module_rv_name(CK_RV rv, char *buf, size_t len);

#endif

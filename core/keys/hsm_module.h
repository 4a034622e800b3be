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

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Global module state: C_Initialize, C_Finalize, C_GetInfo, the token
 * (slot) array and the session table.
 *
 * Lock order (the only place it is written): module -> token -> session.
 * The module lock (a non-recursive rwlock: lookups read, changes write)
 * covers the session table and the token array only; it
 * is never held across SQLite, key operations or network I/O. Tokens and
 * sessions have their own non-recursive mutexes; sessions are reference
 * counted so work runs without the module lock.
 */
#ifndef P11P_PKCS11_MODULE_H
#define P11P_PKCS11_MODULE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/conf/conf.h"
#include "pkcs11/pkcs11-3.h"

struct p11p_token;
struct p11p_session;

struct p11p_module {
    pthread_rwlock_t lock; /* module lock: tokens[], sessions[]; read for
                              lookups, write for changes */
    atomic_bool initialized;
    atomic_ulong fork_gen; /* p11p_fork_generation() at C_Initialize */
    struct p11p_conf *conf;
    struct p11p_token **tokens; /* slot id = index */
    size_t n_tokens;
    struct p11p_session **sessions; /* handle = index + 1; NULL = free */
    size_t n_sessions;
};

/* The one module instance (never NULL). */
struct p11p_module *p11p_module_get(void);

/* True when initialised in this process (not an inherited state after
 * fork). One atomic load and a compare: the gate calls it on every call. */
bool p11p_module_is_ready(void);

/* C_Initialize (STYLE.md 3.8): locking arguments, optional config path in
 * pReserved (a string naming an existing file is used as the configuration
 * path; other strings are ignored with a debug line), config load (error:
 * CKR_FUNCTION_FAILED), one token per configured token. No network, no
 * table scans: tokens open lazily. In a forked child it discards the
 * inherited state without closing it. */
CK_RV p11p_module_initialize(CK_VOID_PTR args);

/* C_Finalize: closes sessions and tokens. CKR_CRYPTOKI_NOT_INITIALIZED if
 * not initialised (a second call, or a late call from an exit path). */
CK_RV p11p_module_finalize(CK_VOID_PTR reserved);

/* C_GetInfo. */
CK_RV p11p_module_get_info(CK_INFO_PTR info);

/* The token of a slot (borrowed; lives until C_Finalize) or NULL. */
struct p11p_token *p11p_module_token(CK_SLOT_ID id);

#endif

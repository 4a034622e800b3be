/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Global state, C_Initialize, C_Finalize and C_GetInfo (see module.h).
 *
 * Lock order: module -> token -> session. Non-recursive mutexes only.
 *
 * C_Initialize arguments (STYLE.md 3.8):
 * - no arguments, or CKF_OS_LOCKING_OK (with or without callbacks): OS
 *   mutexes;
 * - all four callbacks without the flag: CKR_CANT_LOCK (we cannot use
 *   application mutexes);
 * - some callbacks NULL and some not: CKR_ARGUMENTS_BAD;
 * - pReserved: SoftHSM refuses anything non-NULL, but p11-kit passes
 *   x-init-reserved strings and NSS passes its parameter strings there. We
 *   accept a NUL-terminated string that names an existing regular file as
 *   the configuration path (as kmsp11 does) and ignore any other string,
 *   with a debug line. Documented in docs/troubleshooting.md.
 */
#include "pkcs11/module.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "core/base/fork.h"
#include "core/base/log.h"
#include "core/base/str.h"
#include "pkcs11/session.h"
#include "pkcs11/slot.h"

#define P11P_LIB_VERSION_MAJOR 0
#define P11P_LIB_VERSION_MINOR 1
#define P11P_RESERVED_MAX      4096

static struct p11p_module module_g = {
    .lock = PTHREAD_RWLOCK_INITIALIZER,
};

struct p11p_module *p11p_module_get(void)
{
    return &module_g;
}

bool p11p_module_is_ready(void)
{
    return atomic_load_explicit(&module_g.initialized, memory_order_acquire)
           && atomic_load_explicit(&module_g.fork_gen, memory_order_relaxed)
                  == p11p_fork_generation();
}

struct p11p_token *p11p_module_token(CK_SLOT_ID id)
{
    if (id >= module_g.n_tokens) {
        return NULL;
    }
    return module_g.tokens[id];
}

static CK_RV check_locking(const CK_C_INITIALIZE_ARGS *a)
{
    int n = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL)
            + (a->LockMutex != NULL) + (a->UnlockMutex != NULL);

    if (n != 0 && n != 4) {
        return CKR_ARGUMENTS_BAD;
    }
    if (n == 4 && !(a->flags & CKF_OS_LOCKING_OK)) {
        P11P_WARN(
            "pkcs11",
            "C_Initialize: application mutex callbacks without CKF_OS_LOCKING_OK are not supported");
        return CKR_CANT_LOCK;
    }
    return CKR_OK;
}

/* pReserved as an optional config path (see the file comment). */
static const char *reserved_path(const void *reserved)
{
    const char *s = reserved;
    struct stat st;

    if (s == NULL) {
        return NULL;
    }
    if (memchr(s, '\0', P11P_RESERVED_MAX) == NULL) {
        P11P_DEBUG("pkcs11",
                   "C_Initialize: pReserved is not a short string; ignored");
        return NULL;
    }
    if (stat(s, &st) != 0 || !S_ISREG(st.st_mode)) {
        P11P_DEBUG(
            "pkcs11",
            "C_Initialize: pReserved \"%.64s\" is not a configuration file; ignored",
            s);
        return NULL;
    }
    P11P_DEBUG("pkcs11", "C_Initialize: configuration from pReserved: %s", s);
    return s;
}

/* Frees tokens and sessions; discard (forked child) forgets inherited
 * connections without closing them. Caller holds the module lock. */
static void release_locked(bool discard)
{
    p11p_session_free_all_locked(discard);
    for (size_t i = 0; i < module_g.n_tokens; i++) {
        if (discard) {
            p11p_slot_token_discard(module_g.tokens[i]);
        } else {
            p11p_slot_token_free(module_g.tokens[i]);
        }
    }
    free(module_g.tokens);
    module_g.tokens = NULL;
    module_g.n_tokens = 0;
    p11p_conf_free(module_g.conf);
    module_g.conf = NULL;
}

CK_RV p11p_module_initialize(CK_VOID_PTR args)
{
    const CK_C_INITIALIZE_ARGS *a = args;
    const char *path = NULL;
    struct p11p_conf *conf = NULL;
    struct p11p_token **tokens = NULL;
    size_t n = 0;
    unsigned long gen = 0;
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    p11p_fork_install();
    gen = p11p_fork_generation();
    if (a != NULL) {
        rv = check_locking(a);
        if (rv != CKR_OK) {
            return rv;
        }
        path = reserved_path(a->pReserved);
    }
    if (atomic_load(&module_g.initialized)
        && atomic_load(&module_g.fork_gen) != gen) {
        /* A forked child: the parent's mutex may have been held at fork
         * time, and its connections must not be closed here. */
        pthread_rwlock_init(&module_g.lock, NULL);
        release_locked(true);
        atomic_store(&module_g.initialized, false);
    }
    pthread_rwlock_wrlock(&module_g.lock);
    if (atomic_load(&module_g.initialized)) {
        rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
        goto out;
    }
    st = p11p_conf_load(path, &conf);
    if (st != P11P_OK) {
        /* conf.c logged FILE:LINE: key. */
        rv = st == P11P_ERR_NOMEM ? CKR_HOST_MEMORY : CKR_FUNCTION_FAILED;
        goto out;
    }
    if (conf->log_target != NULL) {
        p11p_log_set_target(conf->log_target);
    }
    tokens = calloc(conf->n_tokens ? conf->n_tokens : 1, sizeof(*tokens));
    if (tokens == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    for (n = 0; n < conf->n_tokens; n++) {
        rv = p11p_slot_token_new(&conf->tokens[n], n, &tokens[n]);
        if (rv != CKR_OK) {
            goto out;
        }
    }
    module_g.conf = conf;
    module_g.tokens = tokens;
    module_g.n_tokens = n;
    conf = NULL;
    tokens = NULL;
    atomic_store(&module_g.fork_gen, gen);
    atomic_store_explicit(&module_g.initialized, true, memory_order_release);
    P11P_DEBUG("pkcs11", "initialised with %zu token(s)", module_g.n_tokens);
    rv = CKR_OK;
out:
    pthread_rwlock_unlock(&module_g.lock);
    for (size_t i = 0; tokens != NULL && i < n; i++) {
        p11p_slot_token_free(tokens[i]);
    }
    free(tokens);
    p11p_conf_free(conf);
    return rv;
}

CK_RV p11p_module_finalize(CK_VOID_PTR reserved)
{
    CK_RV rv = CKR_OK;

    if (reserved != NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    if (!p11p_module_is_ready()) {
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    pthread_rwlock_wrlock(&module_g.lock);
    if (!atomic_load(&module_g.initialized)) {
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
        goto out;
    }
    atomic_store(&module_g.initialized, false);
    if (OPENSSL_init_crypto(0, NULL) != 1) {
        /* A late call from an exit path after OPENSSL_cleanup(): freeing
         * keys and contexts now would touch a dead libcrypto. Forget the
         * state instead; the process is ending (DESIGN.md, provider
         * pitfall 3). */
        P11P_DEBUG(
            "pkcs11",
            "C_Finalize after OpenSSL cleanup: state left to the process exit");
        goto out;
    }
    release_locked(false);
out:
    pthread_rwlock_unlock(&module_g.lock);
    return rv;
}

CK_RV p11p_module_get_info(CK_INFO_PTR info)
{
    if (info == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    memset(info, 0, sizeof(*info));
    info->cryptokiVersion.major = 2; /* 3.0 through C_GetInterface */
    info->cryptokiVersion.minor = 40;
    p11p_str_pad(info->manufacturerID, sizeof(info->manufacturerID),
                 "p11portal");
    p11p_str_pad(info->libraryDescription, sizeof(info->libraryDescription),
                 "p11portal PKCS#11 module");
    info->libraryVersion.major = P11P_LIB_VERSION_MAJOR;
    info->libraryVersion.minor = P11P_LIB_VERSION_MINOR;
    return CKR_OK;
}

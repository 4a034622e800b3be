/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The backing PKCS#11 module of the hsm backend (see hsm_module.h): the
 * per-process registry of loaded modules, finding the backing token, the
 * session pool, and the one place that names and maps backing CK_RVs.
 * This file knows nothing of keys or PINs (hsm.c, hsm_key.c, hsm_pin.c).
 */
#include "core/keys/hsm_module.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/log.h"
#include "core/base/str.h"
#include "core/keys/hsm_lock.h"

#define COMP      "keys"
#define MAX_SLOTS 256u

struct p11p_hsm_module {
    char *path;
    void *dl;
    CK_FUNCTION_LIST *fl;
    bool owns_init; /* we called C_Initialize successfully: we finalize */
    pid_t pid;      /* the process that initialised it */
    unsigned refs;  /* guarded by registry_mu */
    struct p11p_hsm_module *next;

    /* The cross-process locks (see hsm_module.h): the backing store, and
     * keys generated but not yet committed to the cache. */
    struct p11p_hsm_lock store;
    struct p11p_hsm_lock pending;
};

/* Loaded modules, one per path; a second token on the same module shares
 * the load and the initialisation. */
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct p11p_hsm_module *registry;

/* ---- CK_RV names and statuses ---- */

#define RV(x, st) \
    {             \
        x, #x, st \
    }
static const struct {
    CK_RV rv;
    const char *name;
    enum p11p_status st;
} rv_table[] = {
    RV(CKR_OK, P11P_OK),
    RV(CKR_HOST_MEMORY, P11P_ERR_NOMEM),
    RV(CKR_SLOT_ID_INVALID, P11P_ERR_CONFIG),
    RV(CKR_GENERAL_ERROR, P11P_ERR_IO),
    RV(CKR_FUNCTION_FAILED, P11P_ERR_IO),
    RV(CKR_ARGUMENTS_BAD, P11P_ERR_INVALID_INPUT),
    RV(CKR_ATTRIBUTE_READ_ONLY, P11P_ERR_UNSUPPORTED),
    RV(CKR_ATTRIBUTE_SENSITIVE, P11P_ERR_UNSUPPORTED),
    RV(CKR_ATTRIBUTE_TYPE_INVALID, P11P_ERR_UNSUPPORTED),
    RV(CKR_ATTRIBUTE_VALUE_INVALID, P11P_ERR_INVALID_INPUT),
    RV(CKR_DATA_INVALID, P11P_ERR_INVALID_INPUT),
    RV(CKR_DATA_LEN_RANGE, P11P_ERR_INVALID_INPUT),
    RV(CKR_DEVICE_ERROR, P11P_ERR_IO),
    RV(CKR_DEVICE_MEMORY, P11P_ERR_IO),
    RV(CKR_DEVICE_REMOVED, P11P_ERR_IO),
    RV(CKR_ENCRYPTED_DATA_INVALID, P11P_ERR_INVALID_INPUT),
    RV(CKR_ENCRYPTED_DATA_LEN_RANGE, P11P_ERR_INVALID_INPUT),
    RV(CKR_FUNCTION_CANCELED, P11P_ERR_BUSY),
    RV(CKR_FUNCTION_NOT_SUPPORTED, P11P_ERR_UNSUPPORTED),
    RV(CKR_KEY_HANDLE_INVALID, P11P_ERR_NOT_FOUND),
    RV(CKR_KEY_SIZE_RANGE, P11P_ERR_UNSUPPORTED),
    RV(CKR_KEY_TYPE_INCONSISTENT, P11P_ERR_INVALID_INPUT),
    RV(CKR_KEY_FUNCTION_NOT_PERMITTED, P11P_ERR_UNSUPPORTED),
    RV(CKR_MECHANISM_INVALID, P11P_ERR_UNSUPPORTED),
    RV(CKR_MECHANISM_PARAM_INVALID, P11P_ERR_INVALID_INPUT),
    RV(CKR_OBJECT_HANDLE_INVALID, P11P_ERR_NOT_FOUND),
    RV(CKR_OPERATION_ACTIVE, P11P_ERR_BUSY),
    RV(CKR_OPERATION_NOT_INITIALIZED, P11P_ERR_INTERNAL),
    RV(CKR_PIN_INCORRECT, P11P_ERR_AUTH),
    RV(CKR_PIN_INVALID, P11P_ERR_INVALID_INPUT),
    RV(CKR_PIN_LEN_RANGE, P11P_ERR_INVALID_INPUT),
    RV(CKR_PIN_EXPIRED, P11P_ERR_AUTH),
    RV(CKR_PIN_LOCKED, P11P_ERR_PIN_LOCKED),
    RV(CKR_SESSION_CLOSED, P11P_ERR_IO),
    RV(CKR_SESSION_COUNT, P11P_ERR_BUSY),
    RV(CKR_SESSION_HANDLE_INVALID, P11P_ERR_IO),
    RV(CKR_SESSION_READ_ONLY, P11P_ERR_INTERNAL),
    RV(CKR_SESSION_EXISTS, P11P_ERR_BUSY),
    RV(CKR_SESSION_READ_ONLY_EXISTS, P11P_ERR_BUSY),
    RV(CKR_SIGNATURE_INVALID, P11P_ERR_AUTH),
    RV(CKR_SIGNATURE_LEN_RANGE, P11P_ERR_AUTH),
    RV(CKR_TEMPLATE_INCOMPLETE, P11P_ERR_UNSUPPORTED),
    RV(CKR_TEMPLATE_INCONSISTENT, P11P_ERR_UNSUPPORTED),
    RV(CKR_TOKEN_NOT_PRESENT, P11P_ERR_IO),
    RV(CKR_TOKEN_NOT_RECOGNIZED, P11P_ERR_IO),
    RV(CKR_TOKEN_WRITE_PROTECTED, P11P_ERR_UNSUPPORTED),
    RV(CKR_USER_ALREADY_LOGGED_IN, P11P_OK),
    RV(CKR_USER_NOT_LOGGED_IN, P11P_ERR_AUTH),
    RV(CKR_USER_PIN_NOT_INITIALIZED, P11P_ERR_NOT_FOUND),
    RV(CKR_USER_TYPE_INVALID, P11P_ERR_INVALID_INPUT),
    RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN, P11P_ERR_BUSY),
    RV(CKR_USER_TOO_MANY_TYPES, P11P_ERR_BUSY),
    RV(CKR_BUFFER_TOO_SMALL, P11P_ERR_INTERNAL),
    RV(CKR_CRYPTOKI_NOT_INITIALIZED, P11P_ERR_IO),
    RV(CKR_CRYPTOKI_ALREADY_INITIALIZED, P11P_OK),
    RV(CKR_CANT_LOCK, P11P_ERR_CONFIG),
    RV(CKR_NEED_TO_CREATE_THREADS, P11P_ERR_CONFIG),
    RV(CKR_DOMAIN_PARAMS_INVALID, P11P_ERR_UNSUPPORTED),
    RV(CKR_CURVE_NOT_SUPPORTED, P11P_ERR_UNSUPPORTED),
};
#undef RV

const char *p11p_hsm_module_rv_name(CK_RV rv, char *buf, size_t len)
{
    for (size_t i = 0; i < sizeof(rv_table) / sizeof(rv_table[0]); i++) {
        if (rv_table[i].rv == rv) {
            return rv_table[i].name;
        }
    }
    snprintf(buf, len, "CKR_0x%lx", (unsigned long)rv);
    return buf;
}

enum p11p_status p11p_hsm_module_status(CK_RV rv)
{
    for (size_t i = 0; i < sizeof(rv_table) / sizeof(rv_table[0]); i++) {
        if (rv_table[i].rv == rv) {
            return rv_table[i].st;
        }
    }
    return P11P_ERR_IO; /* vendor codes: the device failed */
}

enum p11p_status p11p_hsm_module_fail(const struct p11p_hsm_token *t,
                                      const char *fn, CK_RV rv,
                                      const char *what)
{
    char buf[32];
    const char *name = p11p_hsm_module_rv_name(rv, buf, sizeof(buf));
    enum p11p_status st = p11p_hsm_module_status(rv);

    if (st == P11P_ERR_AUTH || st == P11P_ERR_PIN_LOCKED) {
        P11P_WARN(
            COMP,
            "token \"%s\": backing %s failed: %s (module %s, token \"%s\")%s%s",
            t->name, fn, name, t->path, t->label, what != NULL ? " while " : "",
            what != NULL ? what : "");
    } else {
        P11P_ERROR(
            COMP,
            "token \"%s\": backing %s failed: %s (module %s, token \"%s\")%s%s",
            t->name, fn, name, t->path, t->label, what != NULL ? " while " : "",
            what != NULL ? what : "");
    }
    return st == P11P_OK ? P11P_ERR_IO : st;
}

/* ---- loading ---- */

/* PKCS#11 3.0 section 5.2 CK_INTERFACE and C_GetInterface, which the
 * p11-kit 0.24 header does not declare. */
struct ck_interface {
    CK_CHAR *name;
    void *functions;
    CK_FLAGS flags;
};
typedef CK_RV (*p11p_hsm_get_interface_fn)(CK_UTF8CHAR *name,
                                           CK_VERSION *version,
                                           struct ck_interface **out,
                                           CK_FLAGS flags);

/* A failure before a backing token exists. */
static enum p11p_status fail_module(const char *token, const char *path,
                                    const char *fn, CK_RV rv)
{
    char buf[32];

    P11P_ERROR(COMP, "token \"%s\": backing module %s: %s failed: %s", token,
               path, fn, p11p_hsm_module_rv_name(rv, buf, sizeof(buf)));
    return P11P_ERR_CONFIG;
}

static enum p11p_status get_function_list(const char *token, void *dl,
                                          const char *path,
                                          CK_FUNCTION_LIST **out)
{
    CK_C_GetFunctionList get_list = NULL;
    p11p_hsm_get_interface_fn get_iface = NULL;
    struct ck_interface *iface = NULL;
    CK_RV rv;

    *(void **)&get_list = dlsym(dl, "C_GetFunctionList");
    if (get_list != NULL) {
        rv = get_list(out);
        return rv == CKR_OK && *out != NULL
                   ? P11P_OK
                   : fail_module(token, path, "C_GetFunctionList", rv);
    }
    /* A 3.0-only module: its 3.0 list starts with the 2.x layout. */
    *(void **)&get_iface = dlsym(dl, "C_GetInterface");
    if (get_iface == NULL) {
        P11P_ERROR(
            COMP,
            "token \"%s\": %s is not a PKCS#11 module (no C_GetFunctionList or C_GetInterface); check hsm_module",
            token, path);
        return P11P_ERR_CONFIG;
    }
    rv = get_iface((CK_UTF8CHAR *)"PKCS 11", NULL, &iface, 0);
    if (rv != CKR_OK || iface == NULL || iface->functions == NULL) {
        return fail_module(token, path, "C_GetInterface", rv);
    }
    *out = iface->functions;
    return P11P_OK;
}

/* ---- the cross-process locks ---- */

/* The module whose exclusive section this thread is in, and how deeply
 * (calls inside an exclusive section enter again: no-ops). */
static _Thread_local struct p11p_hsm_module *held_excl;
static _Thread_local unsigned held_depth;

void p11p_hsm_module_enter(struct p11p_hsm_token *t, bool write)
{
    struct p11p_hsm_module *mod = t->mod;

    if (mod == NULL) {
        return;
    }
    if (held_excl == mod) {
        held_depth++;
        return;
    }
    if (!write) {
        p11p_hsm_lock_shared(&mod->store);
        return;
    }
    p11p_hsm_lock_exclusive(&mod->store);
    held_excl = mod;
    held_depth = 1;
}

void p11p_hsm_module_leave(struct p11p_hsm_token *t, bool write)
{
    struct p11p_hsm_module *mod = t->mod;

    if (mod == NULL) {
        return;
    }
    if (held_excl == mod) {
        if (--held_depth > 0) {
            return;
        }
        held_excl = NULL;
        write = true;
    }
    p11p_hsm_lock_release(&mod->store, write);
}

void p11p_hsm_module_pending_begin(struct p11p_hsm_token *t)
{
    if (t->mod != NULL) {
        p11p_hsm_lock_shared(&t->mod->pending);
    }
}

void p11p_hsm_module_pending_end(struct p11p_hsm_token *t)
{
    if (t->mod != NULL) {
        p11p_hsm_lock_release(&t->mod->pending, false);
    }
}

bool p11p_hsm_module_pending_try_exclusive(struct p11p_hsm_token *t)
{
    return t->mod == NULL || p11p_hsm_lock_try_exclusive(&t->mod->pending);
}

void p11p_hsm_module_pending_exclusive_end(struct p11p_hsm_token *t)
{
    if (t->mod != NULL) {
        p11p_hsm_lock_release(&t->mod->pending, true);
    }
}

/* Initialises mod in this process. */
static enum p11p_status init_module(const char *token,
                                    struct p11p_hsm_module *mod)
{
    CK_C_INITIALIZE_ARGS args;
    CK_RV rv;

    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    p11p_hsm_lock_shared(&mod->store); /* the module reads its store */
    rv = mod->fl->C_Initialize(&args);
    p11p_hsm_lock_release(&mod->store, false);
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        /* Someone else in this process initialised it: theirs to
         * finalize. */
        P11P_DEBUG(
            COMP,
            "token \"%s\": backing module %s was already initialised by the application",
            token, mod->path);
        mod->owns_init = false;
    } else if (rv != CKR_OK) {
        return fail_module(token, mod->path, "C_Initialize", rv);
    } else {
        mod->owns_init = true;
    }
    mod->pid = getpid();
    return P11P_OK;
}

static void module_release(struct p11p_hsm_module *mod)
{
    struct p11p_hsm_module **pp;
    bool last;

    pthread_mutex_lock(&registry_mu);
    last = --mod->refs == 0;
    if (last) {
        for (pp = &registry; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == mod) {
                *pp = mod->next;
                break;
            }
        }
    }
    pthread_mutex_unlock(&registry_mu);
    if (!last) {
        return;
    }
    if (mod->owns_init && mod->pid == getpid()) {
        mod->fl->C_Finalize(NULL);
    }
    /* In a forked child the library stays mapped: its state belongs to
     * the parent's image and the next open initialises it again. */
    if (mod->pid == getpid()) {
        dlclose(mod->dl);
    }
    p11p_hsm_lock_close(&mod->store);
    p11p_hsm_lock_close(&mod->pending);
    free(mod->path);
    free(mod);
}

static enum p11p_status module_acquire(const char *token, const char *path,
                                       const char *data_dir,
                                       struct p11p_hsm_module **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_hsm_module *mod = NULL;

    *out = NULL;
    pthread_mutex_lock(&registry_mu);
    for (mod = registry; mod != NULL; mod = mod->next) {
        if (strcmp(mod->path, path) == 0) {
            break;
        }
    }
    if (mod != NULL) {
        rc = P11P_OK;
        if (mod->pid != getpid()) {
            /* Inherited through fork: the parent's flock and counters are
             * not ours (an flock is shared with the parent's descriptor). */
            p11p_hsm_lock_reopen(&mod->store, token);
            p11p_hsm_lock_reopen(&mod->pending, token);
            rc = init_module(token, mod);
        }
        if (rc == P11P_OK) {
            mod->refs++;
            *out = mod;
        }
        mod = NULL;
        goto out;
    }
    mod = calloc(1, sizeof(*mod));
    if (mod == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    p11p_hsm_lock_open(&mod->store, data_dir, "hsm.lock", token);
    p11p_hsm_lock_open(&mod->pending, data_dir, "hsm-pending.lock", token);
    mod->path = p11p_str_dup(path);
    if (mod->path == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    mod->dl = dlopen(path, RTLD_LOCAL | RTLD_NOW);
    if (mod->dl == NULL) {
        P11P_ERROR(
            COMP,
            "token \"%s\": cannot load the backing module: %s; check hsm_module",
            token, dlerror());
        rc = P11P_ERR_CONFIG;
        goto out;
    }
    rc = get_function_list(token, mod->dl, path, &mod->fl);
    if (rc == P11P_OK) {
        rc = init_module(token, mod);
    }
    if (rc != P11P_OK) {
        goto out;
    }
    mod->refs = 1;
    mod->next = registry;
    registry = mod;
    *out = mod;
    mod = NULL;
    rc = P11P_OK;
out:
    pthread_mutex_unlock(&registry_mu);
    if (mod != NULL) {
        if (mod->dl != NULL) {
            dlclose(mod->dl);
        }
        p11p_hsm_lock_close(&mod->store);
        p11p_hsm_lock_close(&mod->pending);
        free(mod->path);
        free(mod);
    }
    return rc;
}

/* ---- the backing token ---- */

/* A blank-padded CK_TOKEN_INFO field as a trimmed C string. */
static void trim_field(const unsigned char *field, size_t len, char *out)
{
    while (len > 0 && field[len - 1] == ' ') {
        len--;
    }
    memcpy(out, field, len);
    out[len] = '\0';
}

static enum p11p_status find_slot(struct p11p_hsm_token *t,
                                  const struct p11p_conf_token *conf)
{
    CK_SLOT_ID slots[MAX_SLOTS];
    CK_ULONG n = MAX_SLOTS;
    CK_TOKEN_INFO ti;
    char label[33], serial[17];
    size_t found = 0;
    CK_RV rv;

    p11p_hsm_module_enter(t, false);
    rv = t->fl->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK) {
        p11p_hsm_module_leave(t, false);
        return fail_module(t->name, t->path, "C_GetSlotList", rv);
    }
    for (CK_ULONG i = 0; i < n; i++) {
        rv = t->fl->C_GetTokenInfo(slots[i], &ti);
        if (rv != CKR_OK) {
            P11P_DEBUG(COMP,
                       "token \"%s\": slot %lu of %s: C_GetTokenInfo "
                       "failed (0x%lx), skipped",
                       t->name, (unsigned long)slots[i], t->path,
                       (unsigned long)rv);
            continue;
        }
        trim_field(ti.label, sizeof(ti.label), label);
        trim_field(ti.serialNumber, sizeof(ti.serialNumber), serial);
        if ((conf->hsm_token_label != NULL
             && strcmp(conf->hsm_token_label, label) != 0)
            || (conf->hsm_token_serial != NULL
                && strcmp(conf->hsm_token_serial, serial) != 0)) {
            continue;
        }
        if (found++ == 0) {
            t->slot = slots[i];
            memcpy(t->label, label, sizeof(t->label));
            memcpy(t->serial, serial, sizeof(t->serial));
        }
    }
    p11p_hsm_module_leave(t, false);
    if (found == 1) {
        return P11P_OK;
    }
    P11P_ERROR(
        COMP,
        "token \"%s\" (%s): backing module %s has %s token with label \"%s\" serial \"%s\"; check hsm_token_label / hsm_token_serial (list tokens with: pkcs11-tool --module %s --list-token-slots)",
        t->name, conf->source != NULL ? conf->source : "?", t->path,
        found == 0 ? "no" : "more than one",
        conf->hsm_token_label != NULL ? conf->hsm_token_label : "*",
        conf->hsm_token_serial != NULL ? conf->hsm_token_serial : "*", t->path);
    return P11P_ERR_CONFIG;
}

enum p11p_status p11p_hsm_module_token_open(const struct p11p_conf_token *conf,
                                            struct p11p_hsm_token **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_hsm_token *t = NULL;
    const char *name = conf->name != NULL ? conf->name : "?";

    *out = NULL;
    if (conf->hsm_module == NULL
        || (conf->hsm_token_label == NULL && conf->hsm_token_serial == NULL)) {
        P11P_ERROR(
            COMP,
            "token \"%s\" (%s): key_backend = hsm needs hsm_module and hsm_token_label or hsm_token_serial",
            name, conf->source != NULL ? conf->source : "?");
        rc = P11P_ERR_CONFIG;
        goto out;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL || (t->name = p11p_str_dup(name)) == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    atomic_init(&t->refs, 1);
    atomic_init(&t->emulated, 0);
    pthread_mutex_init(&t->mu, NULL);
    t->pid = getpid();
    rc = module_acquire(name, conf->hsm_module, conf->data_dir, &t->mod);
    if (rc != P11P_OK) {
        goto out;
    }
    t->fl = t->mod->fl;
    t->path = t->mod->path;
    rc = find_slot(t, conf);
    if (rc != P11P_OK) {
        goto out;
    }
    P11P_DEBUG(
        COMP,
        "token \"%s\": backing token \"%s\" (serial %s) in slot %lu of %s",
        name, t->label, t->serial, (unsigned long)t->slot, t->path);
    *out = t;
    t = NULL;
    rc = P11P_OK;
out:
    p11p_hsm_module_token_unref(t);
    return rc;
}

struct p11p_hsm_token *p11p_hsm_module_token_ref(struct p11p_hsm_token *t)
{
    if (t != NULL) {
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    }
    return t;
}

bool p11p_hsm_module_is_usable(const struct p11p_hsm_token *t)
{
    return t != NULL && t->pid == getpid();
}

void p11p_hsm_module_token_unref(struct p11p_hsm_token *t)
{
    if (t == NULL
        || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    if (p11p_hsm_module_is_usable(t)) {
        p11p_hsm_module_enter(t, false);
        for (size_t i = 0; i < t->n_pool; i++) {
            t->fl->C_CloseSession(t->pool[i]);
        }
        p11p_hsm_module_leave(t, false);
        pthread_mutex_destroy(&t->mu);
    }
    /* In a forked child the sessions are the parent's: forget them. */
    if (t->mod != NULL) {
        module_release(t->mod);
    }
    free(t->pool);
    free(t->name);
    free(t);
}

enum p11p_status p11p_hsm_module_session_get(struct p11p_hsm_token *t,
                                             CK_SESSION_HANDLE *out)
{
    CK_RV rv;

    pthread_mutex_lock(&t->mu);
    if (t->n_pool > 0) {
        *out = t->pool[--t->n_pool];
        pthread_mutex_unlock(&t->mu);
        return P11P_OK;
    }
    pthread_mutex_unlock(&t->mu);
    p11p_hsm_module_enter(t, false);
    rv = t->fl->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                              NULL, NULL, out);
    p11p_hsm_module_leave(t, false);
    if (rv != CKR_OK) {
        return p11p_hsm_module_fail(t, "C_OpenSession", rv, NULL);
    }
    return P11P_OK;
}

void p11p_hsm_module_session_put(struct p11p_hsm_token *t, CK_SESSION_HANDLE h,
                                 bool clean)
{
    CK_SESSION_HANDLE *grown;

    if (!p11p_hsm_module_is_usable(t)) {
        return;
    }
    if (clean) {
        pthread_mutex_lock(&t->mu);
        if (t->n_pool == t->cap_pool) {
            size_t cap = t->cap_pool != 0 ? 2 * t->cap_pool : 8;
            grown = realloc(t->pool, cap * sizeof(*grown));
            if (grown != NULL) {
                t->pool = grown;
                t->cap_pool = cap;
            }
        }
        if (t->n_pool < t->cap_pool) {
            t->pool[t->n_pool++] = h;
            pthread_mutex_unlock(&t->mu);
            return;
        }
        pthread_mutex_unlock(&t->mu);
    }
    p11p_hsm_module_enter(t, false);
    t->fl->C_CloseSession(h);
    p11p_hsm_module_leave(t, false);
}

enum p11p_status p11p_hsm_module_token_info(struct p11p_hsm_token *t,
                                            CK_TOKEN_INFO *out)
{
    CK_RV rv;

    p11p_hsm_module_enter(t, false);
    rv = t->fl->C_GetTokenInfo(t->slot, out);
    p11p_hsm_module_leave(t, false);

    return rv == CKR_OK ? P11P_OK
                        : p11p_hsm_module_fail(t, "C_GetTokenInfo", rv, NULL);
}

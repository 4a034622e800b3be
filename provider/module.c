/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading and initialising the PKCS#11 module, slots, session pools, login
 * and fork handling (see module.h). Speaks PKCS#11 only.
 */
#include "provider/module.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/ui.h>

#include "core/base/fork.h"
#include "core/base/log.h"
#include "core/base/secret.h"
#include "provider/err.h"
#include "provider/provider.h"

#define MAX_SLOTS   64
#define MAX_IDLE    16
#define MAX_PIN_LEN 256

/* PKCS#11 3.0 interface structures: p11-kit 0.24's pkcs11.h predates them.
 * Layout from the PKCS#11 3.0 specification, section 3.6 (CK_INTERFACE). */
struct ck3_interface {
    CK_UTF8CHAR *name;
    void *function_list;
    CK_FLAGS flags;
};
typedef CK_RV (*get_interface_fn)(CK_UTF8CHAR *name, CK_VERSION *version,
                                  struct ck3_interface **iface, CK_FLAGS flags);

struct slot {
    CK_SLOT_ID id;
    CK_TOKEN_INFO info;
    bool logged_in;
    CK_SESSION_HANDLE login_session; /* kept open: the login lives on it */
    bool has_login_session;
    struct p11p_secret *pin; /* kept for re-login in a forked child */
    CK_SESSION_HANDLE idle[MAX_IDLE];
    size_t nidle;
};

struct p11p_prov_module {
    pthread_mutex_t init_lock; /* (re)initialisation only */
    pthread_mutex_t lock;      /* slots, pools; never held across a call */
    void *dl;
    CK_FUNCTION_LIST *fl;
    unsigned long fork_gen;
    /* fork generation + 1 once initialised in that generation, 0 before:
     * read without a lock on every operation (atomic, acquire/release) */
    unsigned long ready;
    unsigned long epoch; /* atomic */
    struct slot slots[MAX_SLOTS];
    size_t nslots;
};

static struct p11p_prov_module *module_new(void)
{
    struct p11p_prov_module *m = calloc(1, sizeof(*m));

    if (m == NULL) {
        return NULL;
    }
    pthread_mutex_init(&m->init_lock, NULL);
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

void p11p_prov_module_free(struct p11p_prov_module *m)
{
    size_t i;

    if (m == NULL) {
        return;
    }
    for (i = 0; i < m->nslots; i++) {
        p11p_secret_free(m->slots[i].pin);
    }
    pthread_mutex_destroy(&m->init_lock);
    pthread_mutex_destroy(&m->lock);
    /* No C_Finalize and no dlclose (module.h). */
    free(m);
}

static CK_RV load_library(struct p11p_prov_ctx *ctx, struct p11p_prov_module *m)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    get_interface_fn get_interface;
    CK_C_GetFunctionList get_function_list;
    struct ck3_interface *iface = NULL;
    CK_VERSION v30 = { 3, 0 };

    m->dl = dlopen(ctx->module_path, RTLD_NOW | RTLD_LOCAL);
    if (m->dl == NULL) {
        P11PV_RAISE(ctx, P11P_PROV_R_MODULE_LOAD,
                    "cannot load PKCS#11 module %s: %s", ctx->module_path,
                    dlerror());
        rv = CKR_LIBRARY_LOAD_FAILED;
        goto out;
    }
    *(void **)(&get_interface) = dlsym(m->dl, "C_GetInterface");
    if (get_interface != NULL) {
        rv = get_interface((CK_UTF8CHAR *)"PKCS 11", &v30, &iface, 0);
        if (rv == CKR_OK && iface != NULL && iface->function_list != NULL) {
            /* The 3.0 list starts with the 2.40 one (same order). */
            m->fl = iface->function_list;
            P11P_DEBUG("provider", "%s: PKCS#11 3.0 interface",
                       ctx->module_path);
            rv = CKR_OK;
            goto out;
        }
    }
    *(void **)(&get_function_list) = dlsym(m->dl, "C_GetFunctionList");
    if (get_function_list == NULL) {
        P11PV_RAISE(
            ctx, P11P_PROV_R_MODULE_LOAD,
            "PKCS#11 module %s exports neither C_GetInterface nor C_GetFunctionList",
            ctx->module_path);
        rv = CKR_LIBRARY_LOAD_FAILED;
        goto out;
    }
    rv = get_function_list(&m->fl);
    if (rv != CKR_OK || m->fl == NULL) {
        P11PV_RAISE(ctx, P11P_PROV_R_MODULE_LOAD, "%s: C_GetFunctionList: %s",
                    ctx->module_path, p11p_prov_err_ckr_name(rv));
        rv = rv == CKR_OK ? CKR_GENERAL_ERROR : rv;
        goto out;
    }
    rv = CKR_OK;
out:
    return rv;
}

/* Called with init_lock held. Reads the slot list and token infos. */
static CK_RV read_slots(struct p11p_prov_ctx *ctx, struct p11p_prov_module *m)
{
    CK_RV rv;
    CK_SLOT_ID ids[MAX_SLOTS];
    CK_ULONG n = MAX_SLOTS;
    CK_ULONG i;
    size_t j, k;

    rv = m->fl->C_GetSlotList(CK_TRUE, ids, &n);
    if (rv != CKR_OK) {
        P11PV_RAISE(ctx, P11P_PROV_R_PKCS11, "%s: C_GetSlotList: %s",
                    ctx->module_path, p11p_prov_err_ckr_name(rv));
        return rv;
    }
    pthread_mutex_lock(&m->lock);
    for (i = 0; i < n; i++) {
        struct slot *s = NULL;

        for (j = 0; j < m->nslots; j++) {
            if (m->slots[j].id == ids[i]) {
                s = &m->slots[j];
            }
        }
        if (s == NULL && m->nslots < MAX_SLOTS) {
            s = &m->slots[m->nslots++];
            memset(s, 0, sizeof(*s));
            s->id = ids[i];
        }
        if (s == NULL) {
            continue;
        }
        /* Sessions inherited over fork are forgotten, not closed. */
        s->nidle = 0;
        s->logged_in = false;
        s->has_login_session = false;
        for (k = 0; k < MAX_IDLE; k++) {
            s->idle[k] = CK_INVALID_HANDLE;
        }
    }
    pthread_mutex_unlock(&m->lock);
    for (j = 0; j < m->nslots; j++) {
        CK_TOKEN_INFO info;

        if (m->fl->C_GetTokenInfo(m->slots[j].id, &info) == CKR_OK) {
            pthread_mutex_lock(&m->lock);
            m->slots[j].info = info;
            pthread_mutex_unlock(&m->lock);
        }
    }
    return CKR_OK;
}

CK_RV p11p_prov_module_get(struct p11p_prov_ctx *ctx, CK_FUNCTION_LIST **out)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    struct p11p_prov_module *m;
    CK_C_INITIALIZE_ARGS args;
    unsigned long gen = p11p_fork_generation();
    bool locked = false;

    *out = NULL;
    m = ctx->module;
    if (m != NULL && __atomic_load_n(&m->ready, __ATOMIC_ACQUIRE) == gen + 1) {
        *out = m->fl;
        return CKR_OK;
    }
    if (m == NULL) {
        /* ctx->module is created in provider init; this is a fallback. */
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    pthread_mutex_lock(&m->init_lock);
    locked = true;
    if (__atomic_load_n(&m->ready, __ATOMIC_ACQUIRE) == gen + 1) {
        rv = CKR_OK;
        goto out;
    }
    if (m->fl == NULL) {
        rv = load_library(ctx, m);
        if (rv != CKR_OK) {
            goto out;
        }
    }
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    rv = m->fl->C_Initialize(&args);
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        /* Another user of the module in this process (or a module that
         * does not see the fork) initialised it already. */
        rv = CKR_OK;
    }
    if (rv != CKR_OK) {
        P11PV_RAISE(ctx, P11P_PROV_R_MODULE_LOAD, "%s: C_Initialize: %s",
                    ctx->module_path, p11p_prov_err_ckr_name(rv));
        goto out;
    }
    rv = read_slots(ctx, m);
    if (rv != CKR_OK) {
        goto out;
    }
    m->fork_gen = gen;
    __atomic_add_fetch(&m->epoch, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&m->ready, gen + 1, __ATOMIC_RELEASE);
    P11P_DEBUG("provider", "%s initialised (fork generation %lu)",
               ctx->module_path, gen);
    rv = CKR_OK;
out:
    if (locked) {
        pthread_mutex_unlock(&m->init_lock);
    }
    if (rv == CKR_OK) {
        *out = m->fl;
    }
    return rv;
}

unsigned long p11p_prov_module_epoch(struct p11p_prov_ctx *ctx)
{
    return ctx->module != NULL
               ? __atomic_load_n(&ctx->module->epoch, __ATOMIC_RELAXED)
               : 0;
}

size_t p11p_prov_module_slots(struct p11p_prov_ctx *ctx, CK_SLOT_ID *out,
                              size_t max)
{
    struct p11p_prov_module *m = ctx->module;
    size_t i, n = 0;

    pthread_mutex_lock(&m->lock);
    for (i = 0; i < m->nslots && n < max; i++) {
        out[n++] = m->slots[i].id;
    }
    pthread_mutex_unlock(&m->lock);
    return n;
}

static struct slot *find_slot_locked(struct p11p_prov_module *m, CK_SLOT_ID id)
{
    size_t i;

    for (i = 0; i < m->nslots; i++) {
        if (m->slots[i].id == id) {
            return &m->slots[i];
        }
    }
    return NULL;
}

bool p11p_prov_module_token_info(struct p11p_prov_ctx *ctx, CK_SLOT_ID slot,
                                 CK_TOKEN_INFO *out)
{
    struct p11p_prov_module *m = ctx->module;
    struct slot *s;
    bool found = false;

    pthread_mutex_lock(&m->lock);
    s = find_slot_locked(m, slot);
    if (s != NULL) {
        *out = s->info;
        found = true;
    }
    pthread_mutex_unlock(&m->lock);
    return found;
}

CK_RV p11p_prov_session_get(struct p11p_prov_ctx *ctx, CK_SLOT_ID slot,
                            CK_SESSION_HANDLE *out)
{
    CK_RV rv;
    CK_FUNCTION_LIST *fl = NULL;
    struct p11p_prov_module *m = ctx->module;
    struct slot *s;
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;

    *out = CK_INVALID_HANDLE;
    rv = p11p_prov_module_get(ctx, &fl);
    if (rv != CKR_OK) {
        return rv;
    }
    pthread_mutex_lock(&m->lock);
    s = find_slot_locked(m, slot);
    if (s != NULL && s->nidle > 0) {
        h = s->idle[--s->nidle];
    }
    pthread_mutex_unlock(&m->lock);
    if (s == NULL) {
        P11PV_RAISE(ctx, P11P_PROV_R_NOT_FOUND, "%s: no token in slot %lu",
                    ctx->module_path, (unsigned long)slot);
        return CKR_SLOT_ID_INVALID;
    }
    if (h != CK_INVALID_HANDLE) {
        *out = h;
        return CKR_OK;
    }
    rv = fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                           NULL, &h);
    if (rv == CKR_TOKEN_WRITE_PROTECTED) {
        rv = fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h);
    }
    if (rv != CKR_OK) {
        P11PV_RAISE(ctx, P11P_PROV_R_PKCS11, "%s: C_OpenSession(slot %lu): %s",
                    ctx->module_path, (unsigned long)slot,
                    p11p_prov_err_ckr_name(rv));
        return rv;
    }
    *out = h;
    return CKR_OK;
}

void p11p_prov_session_put(struct p11p_prov_ctx *ctx, CK_SLOT_ID slot,
                           CK_SESSION_HANDLE session, bool broken)
{
    struct p11p_prov_module *m = ctx->module;
    struct slot *s;
    bool pooled = false;

    if (session == CK_INVALID_HANDLE || m == NULL || m->fl == NULL) {
        return;
    }
    pthread_mutex_lock(&m->lock);
    s = find_slot_locked(m, slot);
    if (!broken && s != NULL && m->fork_gen == p11p_fork_generation()
        && s->nidle < MAX_IDLE) {
        s->idle[s->nidle++] = session;
        pooled = true;
    }
    pthread_mutex_unlock(&m->lock);
    if (!pooled && !broken && m->fork_gen == p11p_fork_generation()) {
        m->fl->C_CloseSession(session);
    }
}

bool p11p_prov_login_needed(struct p11p_prov_ctx *ctx, CK_SLOT_ID slot)
{
    struct p11p_prov_module *m = ctx->module;
    struct slot *s;
    bool needed = false;

    pthread_mutex_lock(&m->lock);
    s = find_slot_locked(m, slot);
    if (s != NULL) {
        needed = (s->info.flags & CKF_LOGIN_REQUIRED) && !s->logged_in;
    }
    pthread_mutex_unlock(&m->lock);
    return needed;
}

/* Reads a PIN from "file:/path" or "/path"; the first line, without the
 * line end. Returns NULL (and raises) on failure. */
static struct p11p_secret *read_pin_source(struct p11p_prov_ctx *ctx,
                                           const char *source)
{
    struct p11p_secret *pin = NULL;
    struct p11p_secret *buf = NULL;
    FILE *f = NULL;
    const char *path = source;
    size_t len;

    if (strncmp(path, "file:", 5) == 0) {
        path += 5;
    }
    buf = p11p_secret_new(MAX_PIN_LEN + 1);
    if (buf == NULL) {
        goto out;
    }
    f = fopen(path, "re");
    if (f == NULL) {
        P11PV_RAISE(ctx, P11P_PROV_R_PIN_SOURCE,
                    "cannot open PIN source %s: %s", path, strerror(errno));
        goto out;
    }
    len = fread(buf->data, 1, MAX_PIN_LEN, f);
    while (len > 0
           && (buf->data[len - 1] == '\n' || buf->data[len - 1] == '\r')) {
        len--;
    }
    if (memchr(buf->data, '\n', len) != NULL) {
        len =
            (size_t)((unsigned char *)memchr(buf->data, '\n', len) - buf->data);
    }
    pin = p11p_secret_dup(buf->data, len);
out:
    if (f != NULL) {
        fclose(f);
    }
    p11p_secret_free(buf);
    return pin;
}

/* Asks through OpenSSL's passphrase callback or default UI method. */
static struct p11p_secret *prompt_pin(const struct p11p_prov_pin_req *req,
                                      const CK_TOKEN_INFO *info)
{
    struct p11p_secret *buf = NULL;
    struct p11p_secret *pin = NULL;
    char label[33];
    char info_text[80];
    size_t len = 0;
    size_t n;

    memcpy(label, info->label, 32);
    n = 32;
    while (n > 0 && label[n - 1] == ' ') {
        n--;
    }
    label[n] = '\0';
    snprintf(info_text, sizeof(info_text), "PIN for token %s", label);
    buf = p11p_secret_new(MAX_PIN_LEN + 1);
    if (buf == NULL) {
        goto out;
    }
    if (req->pw_cb != NULL) {
        OSSL_PARAM params[2];

        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PASSPHRASE_PARAM_INFO,
                                                     info_text, 0);
        params[1] = OSSL_PARAM_construct_end();
        if (!req->pw_cb((char *)buf->data, MAX_PIN_LEN, &len, params,
                        req->pw_cbarg)) {
            goto out;
        }
    } else if (req->allow_ui) {
        char prompt[100];

        snprintf(prompt, sizeof(prompt), "Enter %s:", info_text);
        if (UI_UTIL_read_pw_string((char *)buf->data, MAX_PIN_LEN, prompt, 0)
            != 0) {
            goto out;
        }
        len = strlen((char *)buf->data);
    } else {
        goto out;
    }
    pin = p11p_secret_dup(buf->data, len);
out:
    p11p_secret_free(buf);
    return pin;
}

CK_RV p11p_prov_login(struct p11p_prov_ctx *ctx, CK_SLOT_ID slot,
                      const struct p11p_prov_pin_req *req, const char *uri)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    CK_FUNCTION_LIST *fl = NULL;
    struct p11p_prov_module *m = ctx->module;
    struct slot *s;
    struct p11p_secret *pin = NULL;
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    CK_TOKEN_INFO info;

    rv = p11p_prov_module_get(ctx, &fl);
    if (rv != CKR_OK) {
        goto out;
    }
    if (!p11p_prov_login_needed(ctx, slot)) {
        rv = CKR_OK;
        goto out;
    }
    pthread_mutex_lock(&m->lock);
    s = find_slot_locked(m, slot);
    if (s != NULL) {
        info = s->info;
        if (s->pin != NULL) {
            pin = p11p_secret_dup(s->pin->data, s->pin->len);
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (s == NULL) {
        rv = CKR_SLOT_ID_INVALID;
        goto out;
    }
    if (req != NULL && req->pin_value != NULL) {
        p11p_secret_free(pin);
        pin = p11p_secret_dup(req->pin_value, strlen(req->pin_value));
    } else if (req != NULL && req->pin_source != NULL) {
        p11p_secret_free(pin);
        pin = read_pin_source(ctx, req->pin_source);
    } else if (pin == NULL && ctx->pin_source != NULL) {
        pin = read_pin_source(ctx, ctx->pin_source);
    }
    if (pin == NULL && req != NULL
        && !(info.flags & CKF_PROTECTED_AUTHENTICATION_PATH)) {
        pin = prompt_pin(req, &info);
    }
    if (pin == NULL && !(info.flags & CKF_PROTECTED_AUTHENTICATION_PATH)) {
        P11PV_RAISE(
            ctx, P11P_PROV_R_LOGIN,
            "%s: login required and no PIN available (give pin-source in the URI, the provider's pin-source parameter, or a terminal for the prompt)",
            uri != NULL ? uri : ctx->module_path);
        rv = CKR_PIN_INCORRECT;
        goto out;
    }
    /* A dedicated session, kept open for good: a login ends when the last
     * session of the application closes (PKCS#11 2.40, section 5.6). */
    rv = fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &session);
    if (rv != CKR_OK) {
        P11PV_RAISE(ctx, P11P_PROV_R_PKCS11, "%s: C_OpenSession: %s",
                    uri != NULL ? uri : ctx->module_path,
                    p11p_prov_err_ckr_name(rv));
        goto out;
    }
    rv = fl->C_Login(session, CKU_USER, pin != NULL ? pin->data : NULL,
                     pin != NULL ? (CK_ULONG)pin->len : 0);
    if (rv == CKR_USER_ALREADY_LOGGED_IN) {
        rv = CKR_OK;
    }
    if (rv != CKR_OK) {
        P11PV_RAISE(ctx, P11P_PROV_R_LOGIN, "%s: C_Login: %s",
                    uri != NULL ? uri : ctx->module_path,
                    p11p_prov_err_ckr_name(rv));
        goto out;
    }
    pthread_mutex_lock(&m->lock);
    s = find_slot_locked(m, slot);
    if (s != NULL) {
        s->logged_in = true;
        s->login_session = session;
        s->has_login_session = true;
        session = CK_INVALID_HANDLE;
        if (pin != NULL && s->pin == NULL) {
            s->pin = pin;
            pin = NULL;
        }
    }
    pthread_mutex_unlock(&m->lock);
    rv = CKR_OK;
out:
    if (session != CK_INVALID_HANDLE) {
        fl->C_CloseSession(session);
    }
    p11p_secret_free(pin);
    return rv;
}

struct p11p_prov_module *p11p_prov_module_new(void)
{
    return module_new();
}

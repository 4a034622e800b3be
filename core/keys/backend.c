/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key backend table and the dispatch of backend.h: each p11p_keystore_*
 * call checks its arguments and calls the backend's row; each p11p_key_*
 * call goes through the key's ops. Reference counting of keys lives here.
 * The backends themselves are soft.c (and hsm.c, issue 5); how to add one
 * is described in internal.h.
 */
#include "core/keys/backend.h"

#include <string.h>

#include "core/base/log.h"
#include "core/keys/internal.h"

#define COMP "keys"

struct backend_row {
    const char *name;
    const struct p11p_keystore_backend *backend; /* NULL: not built yet */
};

static const struct backend_row backends[] = {
    { "soft", &p11p_soft_backend },
    { "hsm", &p11p_hsm_backend },
};

enum p11p_status p11p_keystore_open(const struct p11p_conf_token *conf,
                                    struct p11p_cache *cache,
                                    struct p11p_keystore **out)
{
    enum p11p_status rc = P11P_ERR_CONFIG;
    const char *name;
    struct p11p_keystore *ks = NULL;

    *out = NULL;
    if (conf == NULL || cache == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    name = conf->key_backend != NULL ? conf->key_backend : "soft";
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (strcmp(backends[i].name, name) != 0) {
            continue;
        }
        if (backends[i].backend == NULL) {
            P11P_ERROR(
                COMP,
                "token \"%s\" (%s): key_backend = %s: the %s backend is not built yet",
                conf->name != NULL ? conf->name : "?",
                conf->source != NULL ? conf->source : "?", name, name);
            return P11P_ERR_CONFIG;
        }
        rc = backends[i].backend->open(conf, cache, &ks);
        if (rc == P11P_OK) {
            ks->backend = backends[i].backend;
            *out = ks;
        }
        return rc;
    }
    P11P_ERROR(
        COMP,
        "token \"%s\" (%s): unknown key_backend \"%s\" (known: soft, hsm)",
        conf->name != NULL ? conf->name : "?",
        conf->source != NULL ? conf->source : "?", name);
    return rc;
}

void p11p_keystore_close(struct p11p_keystore *ks)
{
    if (ks != NULL) {
        ks->backend->close(ks);
    }
}

void p11p_keystore_discard(struct p11p_keystore *ks)
{
    if (ks != NULL) {
        ks->backend->discard(ks);
    }
}

const char *p11p_keystore_backend_name(const struct p11p_keystore *ks)
{
    return ks != NULL ? ks->backend->name : "(none)";
}

enum p11p_status p11p_keystore_info(struct p11p_keystore *ks,
                                    struct p11p_keystore_info *out)
{
    if (ks == NULL || out == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    memset(out, 0, sizeof(*out));
    return ks->backend->info(ks, out);
}

enum p11p_status p11p_keystore_init_token(struct p11p_keystore *ks,
                                          const struct p11p_secret *so_pin,
                                          const char *label)
{
    if (ks == NULL || so_pin == NULL || label == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    return ks->backend->init_token(ks, so_pin, label);
}

enum p11p_status p11p_keystore_login(struct p11p_keystore *ks,
                                     enum p11p_cache_role role,
                                     const struct p11p_secret *pin)
{
    if (ks == NULL || pin == NULL
        || (role != P11P_ROLE_SO && role != P11P_ROLE_USER)) {
        return P11P_ERR_INVALID_INPUT;
    }
    return ks->backend->login(ks, role, pin);
}

void p11p_keystore_logout(struct p11p_keystore *ks)
{
    if (ks != NULL) {
        ks->backend->logout(ks);
    }
}

bool p11p_keystore_is_logged_in(struct p11p_keystore *ks,
                                enum p11p_cache_role role)
{
    return ks != NULL && ks->backend->is_logged_in(ks, role);
}

enum p11p_status p11p_keystore_init_pin(struct p11p_keystore *ks,
                                        const struct p11p_secret *pin)
{
    if (ks == NULL || pin == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    return ks->backend->init_pin(ks, pin);
}

enum p11p_status p11p_keystore_set_pin(struct p11p_keystore *ks,
                                       enum p11p_cache_role role,
                                       const struct p11p_secret *old_pin,
                                       const struct p11p_secret *new_pin)
{
    if (ks == NULL || old_pin == NULL || new_pin == NULL
        || (role != P11P_ROLE_SO && role != P11P_ROLE_USER)) {
        return P11P_ERR_INVALID_INPUT;
    }
    return ks->backend->set_pin(ks, role, old_pin, new_pin);
}

enum p11p_status p11p_keystore_generate(struct p11p_keystore *ks,
                                        const struct p11p_keygen_spec *spec,
                                        EVP_PKEY **out_pub,
                                        struct p11p_cache_keyblob *out_blob)
{
    enum p11p_status rc;

    if (out_pub != NULL) {
        *out_pub = NULL;
    }
    if (ks == NULL || spec == NULL || out_pub == NULL || out_blob == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    memset(out_blob, 0, sizeof(*out_blob));
    p11p_keystore_pending_hold(ks);
    rc = ks->backend->generate(ks, spec, out_pub, out_blob);
    if (rc != P11P_OK) {
        p11p_keystore_pending_done(ks);
    }
    return rc;
}

enum p11p_status p11p_keystore_import(struct p11p_keystore *ks, EVP_PKEY *priv,
                                      const struct p11p_keygen_spec *spec,
                                      struct p11p_cache_keyblob *out_blob)
{
    enum p11p_status rc;

    if (ks == NULL || priv == NULL || out_blob == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    memset(out_blob, 0, sizeof(*out_blob));
    p11p_keystore_pending_hold(ks);
    rc = ks->backend->import(ks, priv, spec, out_blob);
    if (rc != P11P_OK) {
        p11p_keystore_pending_done(ks);
    }
    return rc;
}

enum p11p_status p11p_keystore_load(struct p11p_keystore *ks,
                                    const struct p11p_cache_keyblob *blob,
                                    struct p11p_key **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (ks == NULL || blob == NULL || out == NULL || blob->blob == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    if (strncmp(blob->backend, ks->backend->name, sizeof(blob->backend)) != 0) {
        P11P_ERROR(
            COMP,
            "a key of the %.16s backend cannot be used by the %s backend of this token",
            blob->backend, ks->backend->name);
        return P11P_ERR_CONFIG;
    }
    return ks->backend->load(ks, blob, out);
}

enum p11p_status p11p_keystore_destroy(struct p11p_keystore *ks,
                                       const struct p11p_cache_keyblob *blob)
{
    if (ks == NULL || blob == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    return ks->backend->destroy(ks, blob);
}

struct p11p_key *p11p_key_ref(struct p11p_key *k)
{
    if (k != NULL) {
        atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
    }
    return k;
}

void p11p_key_unref(struct p11p_key *k)
{
    if (k != NULL
        && atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) == 1) {
        k->ops->free(k);
    }
}

EVP_PKEY *p11p_key_get0_public(const struct p11p_key *k)
{
    return k != NULL ? k->pub : NULL;
}

enum p11p_status p11p_key_op_init(struct p11p_key *k,
                                  enum p11p_key_op_kind kind,
                                  const CK_MECHANISM *mech,
                                  struct p11p_key_op **inout)
{
    if (k == NULL || mech == NULL || inout == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    /* An op of another backend's keys cannot be reused. */
    if (*inout != NULL && (*inout)->ops != k->ops) {
        p11p_key_op_free(*inout);
        *inout = NULL;
    }
    return k->ops->op_init(k, kind, mech, inout);
}

enum p11p_status p11p_key_op_update(struct p11p_key_op *op,
                                    const unsigned char *in, size_t inlen)
{
    if (op == NULL || (in == NULL && inlen > 0)) {
        return P11P_ERR_INVALID_INPUT;
    }
    return op->ops->op_update(op, in, inlen);
}

enum p11p_status p11p_key_op_final(struct p11p_key_op *op, unsigned char *out,
                                   size_t *out_len)
{
    if (op == NULL || out == NULL || out_len == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    return op->ops->op_final(op, out, out_len);
}

enum p11p_status p11p_key_op_oneshot(struct p11p_key_op *op,
                                     const unsigned char *in, size_t inlen,
                                     unsigned char *out, size_t *out_len)
{
    if (op == NULL || (in == NULL && inlen > 0) || out == NULL
        || out_len == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    return op->ops->op_oneshot(op, in, inlen, out, out_len);
}

size_t p11p_key_op_max_output(const struct p11p_key_op *op)
{
    return op != NULL ? op->ops->op_max_output(op) : 0;
}

void p11p_key_op_free(struct p11p_key_op *op)
{
    if (op != NULL) {
        op->ops->op_free(op);
    }
}

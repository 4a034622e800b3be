/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PIN records of a token (pin.h): verification with the shared
 * failure counter and lock, storing a record, its state, and the cache
 * side of C_InitToken. Used by soft.c and by hsm.c in PIN-source mode, so
 * that both backends count, lock and store PINs alike. The wrapping itself
 * is seal.c's; what the wrapped value means is the caller's business.
 */
#include "core/keys/pin.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "core/base/log.h"
#include "core/base/ossl.h"
#include "core/base/str.h"
#include "core/keys/seal.h"

#define COMP               "keys"
#define DEFAULT_ITERATIONS 600000u

static const char *const role_names[] = { "SO", "user" };

void p11p_pin_setup(struct p11p_pin *p, const struct p11p_conf_token *conf,
                    struct p11p_cache *cache, const char *token)
{
    p->cache = cache;
    p->token = token;
    p->max_retries = conf->pin_max_retries;
    p->iterations =
        conf->kdf_iterations != 0 ? conf->kdf_iterations : DEFAULT_ITERATIONS;
}

/* Records a wrong PIN (see pin.h) and says whether it locked the role.
 * Returns P11P_ERR_AUTH once counted. */
static enum p11p_status count_failure(const struct p11p_pin *p,
                                      enum p11p_cache_role role)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_cache_txn *t = NULL;
    struct p11p_cache_auth a;
    uint32_t fails;

    memset(&a, 0, sizeof(a));
    rc = p11p_cache_txn_begin(p->cache, &t);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_cache_auth_get(p->cache, role, &a);
    if (rc != P11P_OK) {
        goto out;
    }
    fails = a.fail_count < UINT32_MAX ? a.fail_count + 1 : a.fail_count;
    rc = p11p_cache_auth_set_fails(t, role, fails);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_cache_txn_commit(t);
    t = NULL;
    if (rc != P11P_OK) {
        goto out;
    }
    if (p->max_retries != 0 && fails >= p->max_retries) {
        P11P_WARN(
            COMP,
            "token \"%s\": wrong %s PIN (%u of %u): the %s PIN is now locked",
            p->token, role_names[role], fails, p->max_retries,
            role_names[role]);
    } else if (p->max_retries != 0) {
        P11P_WARN(COMP, "token \"%s\": wrong %s PIN (%u of %u tries)", p->token,
                  role_names[role], fails, p->max_retries);
    } else {
        P11P_WARN(COMP, "token \"%s\": wrong %s PIN (%u wrong tries)", p->token,
                  role_names[role], fails);
    }
    rc = P11P_ERR_AUTH;
out:
    p11p_cache_txn_rollback(t);
    p11p_cache_auth_clear(&a);
    return rc;
}

static enum p11p_status reset_failures(const struct p11p_pin *p,
                                       enum p11p_cache_role role)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_cache_txn *t = NULL;

    rc = p11p_cache_txn_begin(p->cache, &t);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_cache_auth_set_fails(t, role, 0);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_cache_txn_commit(t);
    t = NULL;
out:
    p11p_cache_txn_rollback(t);
    return rc;
}

enum p11p_status p11p_pin_verify(const struct p11p_pin *p,
                                 enum p11p_cache_role role,
                                 const struct p11p_secret *pin,
                                 struct p11p_secret **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_cache_auth a;
    struct p11p_secret *value = NULL;

    memset(&a, 0, sizeof(a));
    rc = p11p_cache_auth_get(p->cache, role, &a);
    if (rc != P11P_OK) {
        goto out;
    }
    if (p->max_retries != 0 && a.fail_count >= p->max_retries) {
        P11P_WARN(COMP,
                  "token \"%s\": the %s PIN is locked after %u wrong tries",
                  p->token, role_names[role], a.fail_count);
        rc = P11P_ERR_PIN_LOCKED;
        goto out;
    }
    rc = p11p_seal_unwrap_master(&a, pin, &value);
    if (rc == P11P_ERR_AUTH) {
        rc = count_failure(p, role);
        goto out;
    }
    if (rc != P11P_OK) {
        goto out;
    }
    if (a.fail_count != 0) {
        rc = reset_failures(p, role);
        if (rc != P11P_OK) {
            goto out;
        }
    }
    if (out != NULL) {
        *out = value;
        value = NULL;
    }
    rc = P11P_OK;
out:
    p11p_secret_free(value);
    p11p_cache_auth_clear(&a);
    return rc;
}

enum p11p_status p11p_pin_put(const struct p11p_pin *p,
                              enum p11p_cache_role role,
                              const struct p11p_secret *value,
                              const struct p11p_secret *pin)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_cache_auth rec;
    struct p11p_cache_txn *t = NULL;

    memset(&rec, 0, sizeof(rec));
    rc = p11p_seal_wrap_master(value, pin, role, p->iterations, &rec);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_cache_txn_begin(p->cache, &t);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_cache_auth_put(t, &rec);
    if (rc == P11P_OK && role == P11P_ROLE_USER) {
        rc = p11p_cache_meta_set(t, "user_pin_set", "1");
    }
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_cache_txn_commit(t);
    t = NULL;
out:
    p11p_cache_txn_rollback(t);
    p11p_cache_auth_clear(&rec);
    return rc;
}

enum p11p_status p11p_pin_state(const struct p11p_pin *p,
                                enum p11p_cache_role role, bool *exists,
                                unsigned *fails, bool *locked)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_cache_auth a;

    memset(&a, 0, sizeof(a));
    rc = p11p_cache_auth_get(p->cache, role, &a);
    if (rc == P11P_ERR_NOT_FOUND) {
        *exists = false;
        *fails = 0;
        *locked = false;
        rc = P11P_OK;
        goto out;
    }
    if (rc != P11P_OK) {
        goto out;
    }
    *exists = true;
    *fails = a.fail_count;
    *locked = p->max_retries != 0 && a.fail_count >= p->max_retries;
out:
    p11p_cache_auth_clear(&a);
    return rc;
}

enum p11p_status p11p_pin_init_token(const struct p11p_pin *p,
                                     const struct p11p_cache_auth *so_rec,
                                     const char *label)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_cache_txn *t = NULL;
    char *serial = NULL;
    unsigned char r[8];
    char fresh[17];

    rc = p11p_cache_meta_get(p->cache, "serial", &serial);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_cache_txn_begin(p->cache, &t);
    if (rc != P11P_OK) {
        goto out;
    }
    if ((rc = p11p_cache_wipe(t)) != P11P_OK
        || (so_rec != NULL && (rc = p11p_cache_auth_put(t, so_rec)) != P11P_OK)
        || (rc = p11p_cache_meta_set(t, "initialized", "1")) != P11P_OK
        || (rc = p11p_cache_meta_set(t, "label", label)) != P11P_OK) {
        goto out;
    }
    if (serial == NULL) {
        if (RAND_bytes_ex(p11p_ossl_libctx(), r, sizeof(r), 0) != 1) {
            P11P_ERROR(COMP,
                       "token \"%s\": no random bytes for the token serial",
                       p->token);
            rc = P11P_ERR_CRYPTO;
            goto out;
        }
        p11p_str_hex(r, sizeof(r), fresh);
        rc = p11p_cache_meta_set(t, "serial", fresh);
        if (rc != P11P_OK) {
            goto out;
        }
    }
    rc = p11p_cache_txn_commit(t);
    t = NULL;
out:
    p11p_cache_txn_rollback(t);
    free(serial);
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PIN sources and the soft PIN verifier of the hsm backend (hsm_pin.h).
 * The verifier reuses the soft backend's wrapping (seal.c) so both
 * backends count, lock and store PINs alike; the wrapped value itself
 * protects nothing and is never used.
 */
#include "core/keys/hsm_pin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/log.h"
#include "core/keys/seal.h"

#define COMP "keys"

static const char *const role_names[] = { "SO", "user" };

/* Reads at most P11P_HSM_PIN_MAX bytes of the file's first line. */
static enum p11p_status read_file_pin(const char *token, const char *path,
                                      struct p11p_secret **out)
{
    enum p11p_status rc = P11P_ERR_CONFIG;
    struct p11p_secret *buf = NULL;
    struct stat st;
    size_t len = 0;
    ssize_t n;
    int fd = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        P11P_ERROR(COMP, "token \"%s\": hsm_pin_source: cannot open %s: %s",
                   token, path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
        || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        P11P_ERROR(
            COMP,
            "token \"%s\": hsm_pin_source: %s must be a regular file readable by its owner only (chmod 600)",
            token, path);
        goto out;
    }
    buf = p11p_secret_new(P11P_HSM_PIN_MAX + 1);
    if (buf == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    while (len < buf->len
           && (n = read(fd, buf->data + len, buf->len - len)) != 0) {
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            P11P_ERROR(COMP, "token \"%s\": hsm_pin_source: reading %s: %s",
                       token, path, strerror(errno));
            goto out;
        }
        len += (size_t)n;
    }
    for (size_t i = 0; i < len; i++) {
        if (buf->data[i] == '\n' || buf->data[i] == '\r') {
            len = i;
            break;
        }
    }
    if (len == 0 || len > P11P_HSM_PIN_MAX) {
        P11P_ERROR(
            COMP,
            "token \"%s\": hsm_pin_source: %s holds no PIN on its first line (or one longer than %u bytes)",
            token, path, P11P_HSM_PIN_MAX);
        goto out;
    }
    *out = p11p_secret_dup(buf->data, len);
    rc = *out != NULL ? P11P_OK : P11P_ERR_NOMEM;
out:
    if (fd >= 0) {
        close(fd);
    }
    p11p_secret_free(buf);
    return rc;
}

enum p11p_status p11p_hsm_pin_read_source(const char *token, const char *source,
                                          struct p11p_secret **out)
{
    const char *v;

    *out = NULL;
    if (strncmp(source, "file:", 5) == 0 && source[5] != '\0') {
        return read_file_pin(token, source + 5, out);
    }
    if (strncmp(source, "env:", 4) == 0 && source[4] != '\0') {
        v = secure_getenv(source + 4);
        if (v == NULL || v[0] == '\0' || strlen(v) > P11P_HSM_PIN_MAX) {
            P11P_ERROR(
                COMP,
                "token \"%s\": hsm_pin_source: environment variable %s is not set, empty or too long",
                token, source + 4);
            return P11P_ERR_CONFIG;
        }
        *out = p11p_secret_dup(v, strlen(v));
        return *out != NULL ? P11P_OK : P11P_ERR_NOMEM;
    }
    P11P_ERROR(
        COMP,
        "token \"%s\": hsm_pin_source \"%s\": expected file:PATH or env:VAR",
        token, source);
    return P11P_ERR_CONFIG;
}

/* Adds one to the failure count of role, inside BEGIN IMMEDIATE so that
 * concurrent processes count every failure (as soft.c does). */
static enum p11p_status count_failure(const struct p11p_hsm_pin *p,
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

static enum p11p_status reset_failures(const struct p11p_hsm_pin *p,
                                       enum p11p_cache_role role)
{
    enum p11p_status rc;
    struct p11p_cache_txn *t = NULL;

    rc = p11p_cache_txn_begin(p->cache, &t);
    if (rc == P11P_OK) {
        rc = p11p_cache_auth_set_fails(t, role, 0);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_commit(t);
        t = NULL;
    }
    p11p_cache_txn_rollback(t);
    return rc;
}

enum p11p_status p11p_hsm_pin_verify(const struct p11p_hsm_pin *p,
                                     enum p11p_cache_role role,
                                     const struct p11p_secret *pin)
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
    if (rc == P11P_OK && a.fail_count != 0) {
        rc = reset_failures(p, role);
    }
out:
    p11p_secret_free(value);
    p11p_cache_auth_clear(&a);
    return rc;
}

enum p11p_status p11p_hsm_pin_make_record(const struct p11p_hsm_pin *p,
                                          enum p11p_cache_role role,
                                          const struct p11p_secret *pin,
                                          struct p11p_cache_auth *out)
{
    struct p11p_secret *value = NULL;
    enum p11p_status rc;

    rc = p11p_seal_new_master(&value);
    if (rc == P11P_OK) {
        rc = p11p_seal_wrap_master(value, pin, role, p->iterations, out);
    }
    p11p_secret_free(value);
    return rc;
}

enum p11p_status p11p_hsm_pin_set(const struct p11p_hsm_pin *p,
                                  enum p11p_cache_role role,
                                  const struct p11p_secret *pin)
{
    enum p11p_status rc;
    struct p11p_cache_auth rec;
    struct p11p_cache_txn *t = NULL;

    memset(&rec, 0, sizeof(rec));
    rc = p11p_hsm_pin_make_record(p, role, pin, &rec);
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_begin(p->cache, &t);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_auth_put(t, &rec);
    }
    if (rc == P11P_OK && role == P11P_ROLE_USER) {
        rc = p11p_cache_meta_set(t, "user_pin_set", "1");
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_commit(t);
        t = NULL;
    }
    p11p_cache_txn_rollback(t);
    p11p_cache_auth_clear(&rec);
    return rc;
}

enum p11p_status p11p_hsm_pin_state(const struct p11p_hsm_pin *p,
                                    enum p11p_cache_role role, bool *exists,
                                    unsigned *fails, bool *locked)
{
    struct p11p_cache_auth a;
    enum p11p_status rc;

    memset(&a, 0, sizeof(a));
    *exists = false;
    *fails = 0;
    *locked = false;
    rc = p11p_cache_auth_get(p->cache, role, &a);
    if (rc == P11P_ERR_NOT_FOUND) {
        return P11P_OK;
    }
    if (rc != P11P_OK) {
        return rc;
    }
    *exists = true;
    *fails = a.fail_count;
    *locked = p->max_retries != 0 && a.fail_count >= p->max_retries;
    p11p_cache_auth_clear(&a);
    return P11P_OK;
}

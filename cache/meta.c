/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token metadata (small key/value pairs), the soft backend's authentication
 * records, the named sequences (MAC addresses) and the wipe of
 * C_InitToken. Sequences survive a wipe so that a re-initialised token
 * never hands out a MAC twice; so do "serial" and "generation".
 */
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "cache/internal.h"
#include "core/base/log.h"
#include "core/base/str.h"

#define COMP "cache"

static const struct p11p_sql SQL_META_GET = {
    P11P_SQL_META_GET, "SELECT value FROM meta WHERE key = ?1"
};
static const struct p11p_sql SQL_META_SET = {
    P11P_SQL_META_SET, "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
};
static const struct p11p_sql SQL_AUTH_GET = {
    P11P_SQL_AUTH_GET, "SELECT kdf, salt, iterations, wrapped, fail_count "
                       "FROM auth WHERE role = ?1"
};
static const struct p11p_sql SQL_AUTH_PUT = {
    P11P_SQL_AUTH_PUT,
    "INSERT OR REPLACE INTO auth(role, kdf, salt, iterations, wrapped, "
    "fail_count) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"
};
static const struct p11p_sql SQL_AUTH_FAILS = {
    P11P_SQL_AUTH_FAILS, "UPDATE auth SET fail_count = ?2 WHERE role = ?1"
};
static const struct p11p_sql SQL_SEQ_GET = {
    P11P_SQL_SEQ_GET, "SELECT next FROM sequences WHERE name = ?1"
};
static const struct p11p_sql SQL_SEQ_PUT = {
    P11P_SQL_SEQ_PUT, "INSERT OR REPLACE INTO sequences(name, next) "
                      "VALUES(?1, ?2)"
};

/* C_InitToken: everything but sequences and the kept meta keys. Child
 * rows first, though ON DELETE CASCADE would also remove key blobs. */
static const char *const wipe_sql[] = {
    "DELETE FROM keyblobs",
    "DELETE FROM objects",
    "DELETE FROM order_locks",
    "DELETE FROM orders",
    "DELETE FROM auth",
    "DELETE FROM meta WHERE key NOT IN ('serial', 'generation')",
};

enum p11p_status p11p_cache_meta_get(struct p11p_cache *c, const char *key,
                                     char **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_db_conn *conn = NULL;
    sqlite3_stmt *st = NULL;
    char *value = NULL;

    *out = NULL;
    if (c == NULL || key == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_borrow(c, &conn);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_db_stmt(c, conn, &SQL_META_GET, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    p11p_db_bind_text(st, 1, key);
    rc = p11p_db_step_row(c, conn->db, st, "reading token metadata");
    if (rc == P11P_OK) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        value = p11p_str_dup(v != NULL ? v : "");
        if (value == NULL) {
            rc = P11P_ERR_NOMEM;
            goto out;
        }
    } else if (rc != P11P_ERR_NOT_FOUND) {
        goto out;
    }
    *out = value;
    value = NULL;
    rc = P11P_OK;
out:
    p11p_db_done(st);
    p11p_db_release(c, conn);
    free(value);
    return rc;
}

enum p11p_status p11p_cache_meta_set(struct p11p_cache_txn *t, const char *key,
                                     const char *value)
{
    enum p11p_status rc;
    sqlite3_stmt *st = NULL;

    if (t == NULL || key == NULL || value == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_stmt(t->c, t->conn, &SQL_META_SET, &st);
    if (rc == P11P_OK) {
        p11p_db_bind_text(st, 1, key);
        p11p_db_bind_text(st, 2, value);
        rc = p11p_db_exec_stmt(t->c, t->conn->db, st, "writing token metadata");
    }
    p11p_db_done(st);
    return rc;
}

void p11p_cache_auth_clear(struct p11p_cache_auth *a)
{
    if (a == NULL) {
        return;
    }
    free(a->wrapped);
    memset(a, 0, sizeof(*a));
}

enum p11p_status p11p_cache_auth_get(struct p11p_cache *c,
                                     enum p11p_cache_role role,
                                     struct p11p_cache_auth *out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_db_conn *conn = NULL;
    sqlite3_stmt *st = NULL;
    struct p11p_cache_auth a;
    const char *kdf;
    size_t salt_len, wrapped_len;

    memset(&a, 0, sizeof(a));
    if (c == NULL || out == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_borrow(c, &conn);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_db_stmt(c, conn, &SQL_AUTH_GET, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    sqlite3_bind_int(st, 1, (int)role);
    rc = p11p_db_step_row(c, conn->db, st, "reading an auth record");
    if (rc != P11P_OK) {
        goto out;
    }
    kdf = (const char *)sqlite3_column_text(st, 0);
    salt_len = (size_t)sqlite3_column_bytes(st, 1);
    wrapped_len = (size_t)sqlite3_column_bytes(st, 3);
    if (kdf == NULL || !p11p_str_copy(a.kdf, sizeof(a.kdf), kdf)
        || salt_len > sizeof(a.salt) || wrapped_len == 0
        || sqlite3_column_int64(st, 2) <= 0
        || sqlite3_column_int64(st, 2) > UINT32_MAX) {
        P11P_ERROR(
            COMP,
            "the auth record of role %d in %s is malformed; the cache file is damaged",
            (int)role, c->path);
        rc = P11P_ERR_CORRUPT;
        goto out;
    }
    a.role = role;
    if (salt_len > 0) {
        memcpy(a.salt, sqlite3_column_blob(st, 1), salt_len);
    }
    a.salt_len = salt_len;
    a.iterations = (uint32_t)sqlite3_column_int64(st, 2);
    a.wrapped = malloc(wrapped_len);
    if (a.wrapped == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    memcpy(a.wrapped, sqlite3_column_blob(st, 3), wrapped_len);
    a.wrapped_len = wrapped_len;
    a.fail_count = (uint32_t)sqlite3_column_int64(st, 4);
    *out = a;
    memset(&a, 0, sizeof(a));
    rc = P11P_OK;
out:
    p11p_db_done(st);
    p11p_db_release(c, conn);
    p11p_cache_auth_clear(&a);
    return rc;
}

enum p11p_status p11p_cache_auth_put(struct p11p_cache_txn *t,
                                     const struct p11p_cache_auth *a)
{
    enum p11p_status rc;
    sqlite3_stmt *st = NULL;

    if (t == NULL || a == NULL || a->wrapped == NULL || a->wrapped_len == 0
        || a->salt_len > sizeof(a->salt)
        || memchr(a->kdf, '\0', sizeof(a->kdf)) == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_stmt(t->c, t->conn, &SQL_AUTH_PUT, &st);
    if (rc == P11P_OK) {
        sqlite3_bind_int(st, 1, (int)a->role);
        p11p_db_bind_text(st, 2, a->kdf);
        p11p_db_bind_bytes(st, 3, a->salt, a->salt_len);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)a->iterations);
        p11p_db_bind_bytes(st, 5, a->wrapped, a->wrapped_len);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)a->fail_count);
        rc = p11p_db_exec_stmt(t->c, t->conn->db, st, "writing an auth record");
    }
    p11p_db_done(st);
    return rc;
}

enum p11p_status p11p_cache_auth_set_fails(struct p11p_cache_txn *t,
                                           enum p11p_cache_role role,
                                           uint32_t fail_count)
{
    enum p11p_status rc;
    sqlite3_stmt *st = NULL;

    if (t == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_stmt(t->c, t->conn, &SQL_AUTH_FAILS, &st);
    if (rc == P11P_OK) {
        sqlite3_bind_int(st, 1, (int)role);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)fail_count);
        rc = p11p_db_exec_stmt(t->c, t->conn->db, st, "counting a failed PIN");
    }
    if (rc == P11P_OK && sqlite3_changes(t->conn->db) == 0) {
        rc = P11P_ERR_NOT_FOUND;
    }
    p11p_db_done(st);
    return rc;
}

enum p11p_status p11p_cache_seq_next(struct p11p_cache_txn *t, const char *name,
                                     uint64_t start, uint64_t increment,
                                     uint64_t end, uint64_t *out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    sqlite3_stmt *st = NULL;
    uint64_t v = start;

    *out = 0;
    if (t == NULL || name == NULL || increment == 0) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_stmt(t->c, t->conn, &SQL_SEQ_GET, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    p11p_db_bind_text(st, 1, name);
    rc = p11p_db_step_row(t->c, t->conn->db, st, "reading a sequence");
    if (rc == P11P_OK) {
        /* Stored as the 64-bit pattern of the unsigned value. */
        v = (uint64_t)sqlite3_column_int64(st, 0);
    } else if (rc != P11P_ERR_NOT_FOUND) {
        goto out;
    }
    p11p_db_done(st);
    st = NULL;
    /* A value whose successor would overflow is not handed out either:
     * the stored next value must stay past every value returned. */
    if (v > end || v > UINT64_MAX - increment) {
        P11P_WARN(COMP, "sequence %s in %s is exhausted (next %llu, end %llu)",
                  name, t->c->path, (unsigned long long)v,
                  (unsigned long long)end);
        rc = P11P_ERR_EXHAUSTED;
        goto out;
    }
    rc = p11p_db_stmt(t->c, t->conn, &SQL_SEQ_PUT, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    p11p_db_bind_text(st, 1, name);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(v + increment));
    rc = p11p_db_exec_stmt(t->c, t->conn->db, st, "advancing a sequence");
    if (rc != P11P_OK) {
        goto out;
    }
    *out = v;
    rc = P11P_OK;
out:
    p11p_db_done(st);
    return rc;
}

enum p11p_status p11p_cache_seq_peek(struct p11p_cache *c, const char *name,
                                     uint64_t *out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_db_conn *conn = NULL;
    sqlite3_stmt *st = NULL;

    if (c == NULL || name == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_borrow(c, &conn);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_db_stmt(c, conn, &SQL_SEQ_GET, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    p11p_db_bind_text(st, 1, name);
    rc = p11p_db_step_row(c, conn->db, st, "reading a sequence");
    if (rc != P11P_OK) {
        goto out;
    }
    *out = (uint64_t)sqlite3_column_int64(st, 0);
    rc = P11P_OK;
out:
    p11p_db_done(st);
    p11p_db_release(c, conn);
    return rc;
}

enum p11p_status p11p_cache_wipe(struct p11p_cache_txn *t)
{
    enum p11p_status rc = P11P_OK;

    if (t == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    for (size_t i = 0; i < sizeof(wipe_sql) / sizeof(wipe_sql[0]); i++) {
        rc = p11p_db_exec(t->c, t->conn->db, wipe_sql[i], "wiping the token");
        if (rc != P11P_OK) {
            break;
        }
    }
    return rc;
}

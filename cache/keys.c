/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key blobs: the backend material of a private key object (sealed PKCS#8
 * for soft, a backing-object reference for hsm). One row per object,
 * deleted with it (ON DELETE CASCADE). secure_delete overwrites the pages
 * of a deleted blob.
 */
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "cache/internal.h"
#include "core/base/log.h"
#include "core/base/str.h"

#define COMP "cache"

static const struct p11p_sql SQL_KEY_INSERT = {
    P11P_SQL_KEY_INSERT,
    "INSERT INTO keyblobs(object_id, backend, blob) VALUES(?1, ?2, ?3)"
};
static const struct p11p_sql SQL_KEY_GET = {
    P11P_SQL_KEY_GET, "SELECT backend, blob FROM keyblobs WHERE object_id = ?1"
};

enum p11p_status p11p_keys_blob_insert(struct p11p_cache_txn *t, int64_t id,
                                       const struct p11p_cache_keyblob *key)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    sqlite3_stmt *st = NULL;

    if (key->blob == NULL || key->blob_len == 0
        || memchr(key->backend, '\0', sizeof(key->backend)) == NULL) {
        P11P_ERROR(COMP, "object %lld: empty or malformed key blob",
                   (long long)id);
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_stmt(t->c, t->conn, &SQL_KEY_INSERT, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    p11p_db_bind_text(st, 2, key->backend);
    p11p_db_bind_bytes(st, 3, key->blob, key->blob_len);
    rc = p11p_db_exec_stmt(t->c, t->conn->db, st, "inserting a key blob");
out:
    p11p_db_done(st);
    return rc;
}

enum p11p_status p11p_cache_keyblob_get(struct p11p_cache *c, int64_t id,
                                        struct p11p_cache_keyblob *out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_db_conn *conn = NULL;
    sqlite3_stmt *st = NULL;
    unsigned char *blob = NULL;
    const char *backend;
    size_t len;

    if (c == NULL || out == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    memset(out, 0, sizeof(*out));
    rc = p11p_db_borrow(c, &conn);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_db_stmt(c, conn, &SQL_KEY_GET, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    rc = p11p_db_step_row(c, conn->db, st, "reading a key blob");
    if (rc != P11P_OK) {
        goto out;
    }
    backend = (const char *)sqlite3_column_text(st, 0);
    len = (size_t)sqlite3_column_bytes(st, 1);
    if (backend == NULL || len == 0) {
        P11P_ERROR(
            COMP,
            "key blob of object %lld in %s is empty; the cache file is damaged",
            (long long)id, c->path);
        rc = P11P_ERR_CORRUPT;
        goto out;
    }
    blob = malloc(len);
    if (blob == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    memcpy(blob, sqlite3_column_blob(st, 1), len);
    if (!p11p_str_copy(out->backend, sizeof(out->backend), backend)) {
        P11P_ERROR(COMP,
                   "key blob of object %lld in %s names an unknown backend",
                   (long long)id, c->path);
        rc = P11P_ERR_CORRUPT;
        goto out;
    }
    out->blob = blob;
    out->blob_len = len;
    blob = NULL;
    rc = P11P_OK;
out:
    p11p_db_done(st);
    p11p_db_release(c, conn);
    free(blob);
    if (rc != P11P_OK && out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

void p11p_cache_keyblob_clear(struct p11p_cache_keyblob *k)
{
    if (k == NULL) {
        return;
    }
    free(k->blob);
    memset(k, 0, sizeof(*k));
}

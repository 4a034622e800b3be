/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token objects: insert, update, delete, get and the indexed find. The
 * attribute list is stored as one encoded blob (core/base/attrlist.h); the
 * indexed columns (class, label, ckaid, value_sha256) are derived from it
 * here on every insert and update, so they can never disagree with it.
 */
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "cache/internal.h"
#include "core/base/log.h"

#define COMP "cache"

static const struct p11p_sql SQL_OBJ_INSERT = {
    P11P_SQL_OBJ_INSERT,
    "INSERT INTO objects(class, label, ckaid, value_sha256, order_id, attrs) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"
};
static const struct p11p_sql SQL_OBJ_UPDATE = {
    P11P_SQL_OBJ_UPDATE,
    "UPDATE objects SET class = ?1, label = ?2, ckaid = ?3, "
    "value_sha256 = ?4, order_id = ?5, attrs = ?6 WHERE id = ?7"
};
static const struct p11p_sql SQL_OBJ_DELETE = {
    P11P_SQL_OBJ_DELETE, "DELETE FROM objects WHERE id = ?1"
};
static const struct p11p_sql SQL_OBJ_GET = {
    P11P_SQL_OBJ_GET, "SELECT class, order_id, attrs FROM objects WHERE id = ?1"
};

/* Find: the condition of each filter field (bit i of the mask). The text of
 * slot P11P_SQL_OBJ_FIND0 + mask is composed from these constants only;
 * every value is bound. */
static const char *const find_terms[4] = {
    "class = ?1",
    "label = ?2",
    "ckaid = ?3",
    "value_sha256 = ?4",
};

/* The values of the indexed columns, borrowed from an attribute list. */
struct derived {
    CK_OBJECT_CLASS klass;
    const CK_ATTRIBUTE *label;
    const CK_ATTRIBUTE *ckaid;
    unsigned char value_sha256[32];
    bool has_value;
};

static enum p11p_status derive(struct p11p_cache *c,
                               const struct p11p_cache_object *obj,
                               struct derived *d)
{
    const CK_ATTRIBUTE *value;
    CK_ULONG klass;

    memset(d, 0, sizeof(*d));
    d->klass = obj->klass;
    if (p11p_attrlist_get_ulong(&obj->attrs, CKA_CLASS, &klass)) {
        d->klass = klass;
    }
    d->label = p11p_attrlist_get0(&obj->attrs, CKA_LABEL);
    d->ckaid = p11p_attrlist_get0(&obj->attrs, CKA_ID);
    value = p11p_attrlist_get0(&obj->attrs, CKA_VALUE);
    if (value != NULL) {
        if (EVP_Digest(value->pValue, value->ulValueLen, d->value_sha256, NULL,
                       c->sha256, NULL)
            != 1) {
            P11P_ERROR(COMP, "hashing an object value failed");
            return P11P_ERR_CRYPTO;
        }
        d->has_value = true;
    }
    return P11P_OK;
}

static int bind_attr(sqlite3_stmt *st, int idx, const CK_ATTRIBUTE *a)
{
    if (a == NULL) {
        return sqlite3_bind_null(st, idx);
    }
    return p11p_db_bind_bytes(st, idx, a->pValue, a->ulValueLen);
}

/* Binds ?1..?6 of insert and update. */
static enum p11p_status bind_row(struct p11p_cache *c, sqlite3 *db,
                                 sqlite3_stmt *st,
                                 const struct p11p_cache_object *obj,
                                 const struct derived *d)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    unsigned char *enc = NULL;
    size_t enc_len = 0;
    int src = SQLITE_OK;

    rc = p11p_attrlist_encode(&obj->attrs, &enc, &enc_len);
    if (rc != P11P_OK) {
        goto out;
    }
    if (sqlite3_bind_int64(st, 1, (sqlite3_int64)d->klass) != SQLITE_OK
        || bind_attr(st, 2, d->label) != SQLITE_OK
        || bind_attr(st, 3, d->ckaid) != SQLITE_OK
        || (d->has_value ? p11p_db_bind_bytes(st, 4, d->value_sha256, 32)
                         : sqlite3_bind_null(st, 4))
               != SQLITE_OK
        || sqlite3_bind_int64(st, 5, obj->order_id) != SQLITE_OK
        || (src = p11p_db_bind_bytes(st, 6, enc, enc_len)) != SQLITE_OK) {
        rc = p11p_db_fail(c, db, "binding an object", src);
        goto out;
    }
    rc = P11P_OK;
out:
    free(enc);
    return rc;
}

enum p11p_status p11p_cache_object_insert(struct p11p_cache_txn *t,
                                          struct p11p_cache_object *obj,
                                          const struct p11p_cache_keyblob *key)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    sqlite3_stmt *st = NULL;
    struct derived d;
    int64_t id;

    if (t == NULL || obj == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = derive(t->c, obj, &d);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_db_stmt(t->c, t->conn, &SQL_OBJ_INSERT, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = bind_row(t->c, t->conn->db, st, obj, &d);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_db_exec_stmt(t->c, t->conn->db, st, "inserting an object");
    if (rc != P11P_OK) {
        goto out;
    }
    id = sqlite3_last_insert_rowid(t->conn->db);
    if (key != NULL) {
        rc = p11p_keys_blob_insert(t, id, key);
        if (rc != P11P_OK) {
            goto out;
        }
    }
    obj->id = id;
    obj->klass = d.klass;
    rc = P11P_OK;
out:
    p11p_db_done(st);
    return rc;
}

enum p11p_status p11p_cache_object_update(struct p11p_cache_txn *t,
                                          const struct p11p_cache_object *obj)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    sqlite3_stmt *st = NULL;
    struct derived d;

    if (t == NULL || obj == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = derive(t->c, obj, &d);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_db_stmt(t->c, t->conn, &SQL_OBJ_UPDATE, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = bind_row(t->c, t->conn->db, st, obj, &d);
    if (rc != P11P_OK) {
        goto out;
    }
    sqlite3_bind_int64(st, 7, obj->id);
    rc = p11p_db_exec_stmt(t->c, t->conn->db, st, "updating an object");
    if (rc != P11P_OK) {
        goto out;
    }
    rc = sqlite3_changes(t->conn->db) == 0 ? P11P_ERR_NOT_FOUND : P11P_OK;
out:
    p11p_db_done(st);
    return rc;
}

enum p11p_status p11p_cache_object_delete(struct p11p_cache_txn *t, int64_t id)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    sqlite3_stmt *st = NULL;

    if (t == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    /* The key blob goes with it: ON DELETE CASCADE (foreign_keys=ON). */
    rc = p11p_db_stmt(t->c, t->conn, &SQL_OBJ_DELETE, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    rc = p11p_db_exec_stmt(t->c, t->conn->db, st, "deleting an object");
    if (rc != P11P_OK) {
        goto out;
    }
    rc = sqlite3_changes(t->conn->db) == 0 ? P11P_ERR_NOT_FOUND : P11P_OK;
out:
    p11p_db_done(st);
    return rc;
}

static enum p11p_status get_on(struct p11p_cache *c, struct p11p_db_conn *conn,
                               int64_t id, struct p11p_cache_object *out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    sqlite3_stmt *st = NULL;
    struct p11p_attrlist attrs = { 0 };

    memset(out, 0, sizeof(*out));
    rc = p11p_db_stmt(c, conn, &SQL_OBJ_GET, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    rc = p11p_db_step_row(c, conn->db, st, "reading an object");
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_attrlist_decode(&attrs, sqlite3_column_blob(st, 2),
                              (size_t)sqlite3_column_bytes(st, 2));
    if (rc != P11P_OK) {
        P11P_ERROR(
            COMP,
            "object %lld in %s: its stored attributes do not decode; the cache file is damaged",
            (long long)id, c->path);
        rc = P11P_ERR_CORRUPT;
        goto out;
    }
    out->id = id;
    out->klass = (CK_OBJECT_CLASS)sqlite3_column_int64(st, 0);
    out->order_id = sqlite3_column_int64(st, 1);
    out->attrs = attrs;
    memset(&attrs, 0, sizeof(attrs));
    rc = P11P_OK;
out:
    p11p_db_done(st);
    p11p_attrlist_clear(&attrs);
    return rc;
}

enum p11p_status p11p_cache_object_get(struct p11p_cache *c, int64_t id,
                                       struct p11p_cache_object *out)
{
    enum p11p_status rc;
    struct p11p_db_conn *conn = NULL;

    if (c == NULL || out == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_borrow(c, &conn);
    if (rc == P11P_OK) {
        rc = get_on(c, conn, id, out);
    }
    p11p_db_release(c, conn);
    return rc;
}

enum p11p_status p11p_cache_object_get_txn(struct p11p_cache_txn *t, int64_t id,
                                           struct p11p_cache_object *out)
{
    if (t == NULL || out == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    return get_on(t->c, t->conn, id, out);
}

void p11p_cache_object_clear(struct p11p_cache_object *o)
{
    if (o == NULL) {
        return;
    }
    p11p_attrlist_clear(&o->attrs);
    memset(o, 0, sizeof(*o));
}

/* Composes "SELECT id FROM objects WHERE a AND b ORDER BY id" for mask. */
static char *compose_find(unsigned mask)
{
    size_t cap = 160;
    char *sql = malloc(cap);
    size_t n;
    bool first = true;

    if (sql == NULL) {
        return NULL;
    }
    n = (size_t)snprintf(sql, cap, "SELECT id FROM objects");
    for (unsigned i = 0; i < 4; i++) {
        if ((mask & (1u << i)) == 0) {
            continue;
        }
        n += (size_t)snprintf(sql + n, cap - n, "%s%s",
                              first ? " WHERE " : " AND ", find_terms[i]);
        first = false;
    }
    snprintf(sql + n, cap - n, " ORDER BY id");
    return sql;
}

enum p11p_status p11p_cache_object_find(struct p11p_cache *c,
                                        const struct p11p_cache_filter *f,
                                        int64_t **out_ids, size_t *out_n)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_db_conn *conn = NULL;
    sqlite3_stmt *st = NULL;
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    unsigned mask = 0;
    int src;

    *out_ids = NULL;
    *out_n = 0;
    if (c == NULL || f == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    mask = (f->has_class ? 1u : 0u) | (f->label != NULL ? 2u : 0u)
           | (f->ckaid != NULL ? 4u : 0u) | (f->value_sha256 != NULL ? 8u : 0u);
    rc = p11p_db_borrow(c, &conn);
    if (rc != P11P_OK) {
        goto out;
    }
    if (conn->find_sql[mask] == NULL) {
        conn->find_sql[mask] = compose_find(mask);
        if (conn->find_sql[mask] == NULL) {
            rc = P11P_ERR_NOMEM;
            goto out;
        }
    }
    rc = p11p_db_stmt_text(c, conn,
                           (enum p11p_sql_slot)(P11P_SQL_OBJ_FIND0 + mask),
                           conn->find_sql[mask], &st);
    if (rc != P11P_OK) {
        goto out;
    }
    if (f->has_class) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)f->klass);
    }
    if (f->label != NULL) {
        p11p_db_bind_bytes(st, 2, f->label, f->label_len);
    }
    if (f->ckaid != NULL) {
        p11p_db_bind_bytes(st, 3, f->ckaid, f->ckaid_len);
    }
    if (f->value_sha256 != NULL) {
        p11p_db_bind_bytes(st, 4, f->value_sha256, 32);
    }
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            int64_t *nids = realloc(ids, ncap * sizeof(*ids));
            if (nids == NULL) {
                rc = P11P_ERR_NOMEM;
                goto out;
            }
            ids = nids;
            cap = ncap;
        }
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    if (src != SQLITE_DONE) {
        rc = p11p_db_fail(c, conn->db, "finding objects", src);
        goto out;
    }
    *out_ids = n == 0 ? NULL : ids;
    *out_n = n;
    if (n != 0) {
        ids = NULL;
    }
    rc = P11P_OK;
out:
    p11p_db_done(st);
    p11p_db_release(c, conn);
    free(ids);
    return rc;
}

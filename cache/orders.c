/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Orders (enrollments) and their locks. An order changes state only by
 * compare-and-set (UPDATE ... WHERE id = ? AND state = ?; sqlite3_changes
 * says whether this process won). Locks make one process at a time submit
 * or poll an order; an expired lock is taken over so that a crashed holder
 * cannot keep it. The state machine itself is in core/enroll/order.c.
 */
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "cache/internal.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/str.h"

#define COMP "cache"

#define ORDER_COLS                                                       \
    "id, state, request_token, driver, profile, label, ckaid, subject, " \
    "sans, mac, term_days, csr, pubkey_sha256, portal_id, last_error, "  \
    "priv_object_id, pub_object_id, cert_object_id, data_object_id, "    \
    "renews_order_id, created, updated, next_attempt, attempts"

/* ?1..?23 are the fields after id, in ORDER_COLS order. */
static const struct p11p_sql SQL_ORD_INSERT = {
    P11P_SQL_ORD_INSERT,
    "INSERT INTO orders(state, request_token, driver, profile, label, ckaid, "
    "subject, sans, mac, term_days, csr, pubkey_sha256, portal_id, "
    "last_error, priv_object_id, pub_object_id, cert_object_id, "
    "data_object_id, renews_order_id, created, updated, next_attempt, "
    "attempts) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
    "?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)"
};
static const struct p11p_sql SQL_ORD_UPDATE = {
    P11P_SQL_ORD_UPDATE,
    "UPDATE orders SET state = ?1, request_token = ?2, driver = ?3, "
    "profile = ?4, label = ?5, ckaid = ?6, subject = ?7, sans = ?8, "
    "mac = ?9, term_days = ?10, csr = ?11, pubkey_sha256 = ?12, "
    "portal_id = ?13, last_error = ?14, priv_object_id = ?15, "
    "pub_object_id = ?16, cert_object_id = ?17, data_object_id = ?18, "
    "renews_order_id = ?19, created = ?20, updated = ?21, "
    "next_attempt = ?22, attempts = ?23 WHERE id = ?24 AND state = ?25"
};
static const struct p11p_sql SQL_ORD_EXISTS = {
    P11P_SQL_ORD_EXISTS, "SELECT 1 FROM orders WHERE id = ?1"
};
static const struct p11p_sql SQL_ORD_GET = { P11P_SQL_ORD_GET,
                                             "SELECT " ORDER_COLS
                                             " FROM orders WHERE id = ?1" };
static const struct p11p_sql SQL_ORD_TOKEN = {
    P11P_SQL_ORD_TOKEN,
    "SELECT " ORDER_COLS " FROM orders WHERE request_token = ?1"
};
/* ?1..?11: the states of the mask (-1 for unused), ?12 due_before (0 =
 * any), ?13 limit (-1 = none). IN on the first column uses
 * orders_state_next. */
static const struct p11p_sql SQL_ORD_LIST = {
    P11P_SQL_ORD_LIST,
    "SELECT " ORDER_COLS " FROM orders WHERE state IN (?1, ?2, ?3, ?4, ?5, "
    "?6, ?7, ?8, ?9, ?10, ?11) AND (?12 = 0 OR next_attempt <= ?12) "
    "ORDER BY id LIMIT ?13"
};
/* Taken when free, expired, or already ours (refresh). */
static const struct p11p_sql SQL_LOCK_ACQUIRE = {
    P11P_SQL_LOCK_ACQUIRE,
    "INSERT INTO order_locks(order_id, owner, expires) VALUES(?1, ?2, ?3) "
    "ON CONFLICT(order_id) DO UPDATE SET owner = excluded.owner, "
    "expires = excluded.expires WHERE order_locks.expires <= ?4 "
    "OR order_locks.owner = excluded.owner"
};
static const struct p11p_sql SQL_LOCK_RELEASE = {
    P11P_SQL_LOCK_RELEASE,
    "DELETE FROM order_locks WHERE order_id = ?1 AND owner = ?2"
};

void p11p_order_clear(struct p11p_order *o)
{
    if (o == NULL) {
        return;
    }
    free(o->driver);
    free(o->profile);
    free(o->label);
    free(o->subject);
    free(o->sans);
    free(o->mac);
    free(o->csr_der);
    free(o->portal_id);
    free(o->last_error);
    memset(o, 0, sizeof(*o));
}

static int bind_order(sqlite3_stmt *st, const struct p11p_order *o)
{
    int rc = SQLITE_OK;

#define B(call)            \
    if (rc == SQLITE_OK) { \
        rc = (call);       \
    }
    B(sqlite3_bind_int(st, 1, (int)o->state));
    B(sqlite3_bind_text(st, 2, o->request_token, -1, SQLITE_TRANSIENT));
    B(p11p_db_bind_text(st, 3, o->driver));
    B(p11p_db_bind_text(st, 4, o->profile));
    B(p11p_db_bind_text(st, 5, o->label));
    B(p11p_db_bind_bytes(st, 6, o->ckaid, o->ckaid_len));
    B(p11p_db_bind_text(st, 7, o->subject));
    B(p11p_db_bind_text(st, 8, o->sans));
    B(p11p_db_bind_text(st, 9, o->mac));
    B(sqlite3_bind_int64(st, 10, (sqlite3_int64)o->term_days));
    B(o->csr_der != NULL ? p11p_db_bind_bytes(st, 11, o->csr_der, o->csr_len)
                         : sqlite3_bind_null(st, 11));
    B(p11p_db_bind_bytes(st, 12, o->pubkey_sha256, 32));
    B(p11p_db_bind_text(st, 13, o->portal_id));
    B(p11p_db_bind_text(st, 14, o->last_error));
    B(sqlite3_bind_int64(st, 15, o->priv_object_id));
    B(sqlite3_bind_int64(st, 16, o->pub_object_id));
    B(sqlite3_bind_int64(st, 17, o->cert_object_id));
    B(sqlite3_bind_int64(st, 18, o->data_object_id));
    B(sqlite3_bind_int64(st, 19, o->renews_order_id));
    B(sqlite3_bind_int64(st, 20, o->created));
    B(sqlite3_bind_int64(st, 21, o->updated));
    B(sqlite3_bind_int64(st, 22, o->next_attempt));
    B(sqlite3_bind_int64(st, 23, (sqlite3_int64)o->attempts));
#undef B
    return rc;
}

static enum p11p_status col_text(sqlite3_stmt *st, int col, char **out)
{
    const unsigned char *s = sqlite3_column_text(st, col);

    *out = NULL;
    if (s == NULL) {
        return sqlite3_column_type(st, col) == SQLITE_NULL ? P11P_OK
                                                           : P11P_ERR_NOMEM;
    }
    *out = p11p_str_dup((const char *)s);
    return *out != NULL ? P11P_OK : P11P_ERR_NOMEM;
}

/* Reads the current row (ORDER_COLS) into out. */
static enum p11p_status read_order(struct p11p_cache *c, sqlite3_stmt *st,
                                   struct p11p_order *out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_order o;
    const char *tok = (const char *)sqlite3_column_text(st, 2);
    size_t n;

    memset(&o, 0, sizeof(o));
    o.id = sqlite3_column_int64(st, 0);
    o.state = (enum p11p_order_state)sqlite3_column_int(st, 1);
    if ((int)o.state < 0 || (int)o.state >= P11P_ORDER_STATE_COUNT
        || tok == NULL
        || !p11p_str_copy(o.request_token, sizeof(o.request_token), tok)) {
        P11P_ERROR(
            COMP,
            "order %lld in %s has an invalid state or request token; the cache file is damaged",
            (long long)o.id, c->path);
        rc = P11P_ERR_CORRUPT;
        goto out;
    }
    if ((rc = col_text(st, 3, &o.driver)) != P11P_OK
        || (rc = col_text(st, 4, &o.profile)) != P11P_OK
        || (rc = col_text(st, 5, &o.label)) != P11P_OK
        || (rc = col_text(st, 7, &o.subject)) != P11P_OK
        || (rc = col_text(st, 8, &o.sans)) != P11P_OK
        || (rc = col_text(st, 9, &o.mac)) != P11P_OK
        || (rc = col_text(st, 13, &o.portal_id)) != P11P_OK
        || (rc = col_text(st, 14, &o.last_error)) != P11P_OK) {
        goto out;
    }
    n = (size_t)sqlite3_column_bytes(st, 6);
    if (n > sizeof(o.ckaid)) {
        rc = P11P_ERR_CORRUPT;
        goto out;
    }
    if (n > 0) {
        memcpy(o.ckaid, sqlite3_column_blob(st, 6), n);
    }
    o.ckaid_len = n;
    o.term_days = (unsigned)sqlite3_column_int64(st, 10);
    if (sqlite3_column_type(st, 11) != SQLITE_NULL) {
        n = (size_t)sqlite3_column_bytes(st, 11);
        o.csr_der = malloc(n == 0 ? 1 : n);
        if (o.csr_der == NULL) {
            rc = P11P_ERR_NOMEM;
            goto out;
        }
        if (n > 0) {
            memcpy(o.csr_der, sqlite3_column_blob(st, 11), n);
        }
        o.csr_len = n;
    }
    if ((size_t)sqlite3_column_bytes(st, 12) == 32) {
        memcpy(o.pubkey_sha256, sqlite3_column_blob(st, 12), 32);
    }
    o.priv_object_id = sqlite3_column_int64(st, 15);
    o.pub_object_id = sqlite3_column_int64(st, 16);
    o.cert_object_id = sqlite3_column_int64(st, 17);
    o.data_object_id = sqlite3_column_int64(st, 18);
    o.renews_order_id = sqlite3_column_int64(st, 19);
    o.created = sqlite3_column_int64(st, 20);
    o.updated = sqlite3_column_int64(st, 21);
    o.next_attempt = sqlite3_column_int64(st, 22);
    o.attempts = (uint32_t)sqlite3_column_int64(st, 23);
    *out = o;
    memset(&o, 0, sizeof(o));
    rc = P11P_OK;
out:
    p11p_order_clear(&o);
    return rc;
}

static bool order_valid(const struct p11p_order *o)
{
    return (int)o->state >= 0 && (int)o->state < P11P_ORDER_STATE_COUNT
           && memchr(o->request_token, '\0', sizeof(o->request_token)) != NULL
           && o->request_token[0] != '\0' && o->ckaid_len <= sizeof(o->ckaid);
}

enum p11p_status p11p_cache_order_insert(struct p11p_cache_txn *t,
                                         struct p11p_order *order)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    sqlite3_stmt *st = NULL;
    int64_t now = p11p_clock_now();
    struct p11p_order row;
    int src;

    if (t == NULL || order == NULL || !order_valid(order)) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_stmt(t->c, t->conn, &SQL_ORD_INSERT, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    row = *order;
    row.created = now;
    row.updated = now;
    src = bind_order(st, &row);
    if (src != SQLITE_OK) {
        rc = p11p_db_fail(t->c, t->conn->db, "binding an order", src);
        goto out;
    }
    src = sqlite3_step(st);
    if (src == SQLITE_CONSTRAINT_UNIQUE) {
        P11P_WARN(COMP, "an order with request token %s already exists in %s",
                  order->request_token, t->c->path);
        rc = P11P_ERR_EXISTS;
        goto out;
    }
    if (src != SQLITE_DONE) {
        rc = p11p_db_fail(t->c, t->conn->db, "inserting an order", src);
        goto out;
    }
    order->id = sqlite3_last_insert_rowid(t->conn->db);
    order->created = now;
    order->updated = now;
    rc = P11P_OK;
out:
    p11p_db_done(st);
    return rc;
}

enum p11p_status p11p_cache_order_update(struct p11p_cache_txn *t,
                                         struct p11p_order *order,
                                         enum p11p_order_state expect_state)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    sqlite3_stmt *st = NULL;
    struct p11p_order row;
    int64_t now = p11p_clock_now();
    int src;

    if (t == NULL || order == NULL || !order_valid(order)) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_stmt(t->c, t->conn, &SQL_ORD_UPDATE, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    row = *order;
    row.updated = now;
    src = bind_order(st, &row);
    if (src == SQLITE_OK) {
        src = sqlite3_bind_int64(st, 24, order->id);
    }
    if (src == SQLITE_OK) {
        src = sqlite3_bind_int(st, 25, (int)expect_state);
    }
    if (src != SQLITE_OK) {
        rc = p11p_db_fail(t->c, t->conn->db, "binding an order", src);
        goto out;
    }
    src = sqlite3_step(st);
    if (src == SQLITE_CONSTRAINT_UNIQUE) {
        P11P_WARN(COMP, "order %lld: request token %s is used by another order",
                  (long long)order->id, order->request_token);
        rc = P11P_ERR_EXISTS;
        goto out;
    }
    if (src != SQLITE_DONE) {
        rc = p11p_db_fail(t->c, t->conn->db, "updating an order", src);
        goto out;
    }
    if (sqlite3_changes(t->conn->db) == 1) {
        order->updated = now;
        rc = P11P_OK;
        goto out;
    }
    /* Lost the compare-and-set, or the order is gone. */
    p11p_db_done(st);
    rc = p11p_db_stmt(t->c, t->conn, &SQL_ORD_EXISTS, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    sqlite3_bind_int64(st, 1, order->id);
    rc = p11p_db_step_row(t->c, t->conn->db, st, "reading an order");
    if (rc == P11P_OK) {
        P11P_DEBUG(COMP,
                   "order %lld: state changed by another process (expected %d)",
                   (long long)order->id, (int)expect_state);
        rc = P11P_ERR_BUSY;
    }
out:
    p11p_db_done(st);
    return rc;
}

/* Runs a one-row order query on conn (id or token bound by the caller). */
static enum p11p_status get_one(struct p11p_cache *c, struct p11p_db_conn *conn,
                                sqlite3_stmt *st, struct p11p_order *out)
{
    enum p11p_status rc;

    rc = p11p_db_step_row(c, conn->db, st, "reading an order");
    if (rc == P11P_OK) {
        rc = read_order(c, st, out);
    }
    return rc;
}

static enum p11p_status get_by_id(struct p11p_cache *c,
                                  struct p11p_db_conn *conn, int64_t id,
                                  struct p11p_order *out)
{
    enum p11p_status rc;
    sqlite3_stmt *st = NULL;

    rc = p11p_db_stmt(c, conn, &SQL_ORD_GET, &st);
    if (rc == P11P_OK) {
        sqlite3_bind_int64(st, 1, id);
        rc = get_one(c, conn, st, out);
    }
    p11p_db_done(st);
    return rc;
}

enum p11p_status p11p_cache_order_get(struct p11p_cache *c, int64_t id,
                                      struct p11p_order *out)
{
    enum p11p_status rc;
    struct p11p_db_conn *conn = NULL;

    if (c == NULL || out == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_borrow(c, &conn);
    if (rc == P11P_OK) {
        rc = get_by_id(c, conn, id, out);
    }
    p11p_db_release(c, conn);
    return rc;
}

enum p11p_status p11p_cache_order_get_txn(struct p11p_cache_txn *t, int64_t id,
                                          struct p11p_order *out)
{
    if (t == NULL || out == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    return get_by_id(t->c, t->conn, id, out);
}

enum p11p_status p11p_cache_order_find_token(struct p11p_cache *c,
                                             const char *request_token,
                                             struct p11p_order *out)
{
    enum p11p_status rc;
    struct p11p_db_conn *conn = NULL;
    sqlite3_stmt *st = NULL;

    if (c == NULL || request_token == NULL || out == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_borrow(c, &conn);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_db_stmt(c, conn, &SQL_ORD_TOKEN, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    p11p_db_bind_text(st, 1, request_token);
    rc = get_one(c, conn, st, out);
out:
    p11p_db_done(st);
    p11p_db_release(c, conn);
    return rc;
}

void p11p_cache_order_list_free(struct p11p_order *orders, size_t n)
{
    if (orders == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        p11p_order_clear(&orders[i]);
    }
    free(orders);
}

enum p11p_status p11p_cache_order_list(struct p11p_cache *c,
                                       uint32_t state_mask, int64_t due_before,
                                       size_t limit, struct p11p_order **out,
                                       size_t *out_n)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_db_conn *conn = NULL;
    sqlite3_stmt *st = NULL;
    struct p11p_order *list = NULL;
    size_t n = 0, cap = 0;
    int src;

    *out = NULL;
    *out_n = 0;
    if (c == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_borrow(c, &conn);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_db_stmt(c, conn, &SQL_ORD_LIST, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    for (int s = 0; s < P11P_ORDER_STATE_COUNT; s++) {
        sqlite3_bind_int(st, s + 1, (state_mask & (1u << s)) != 0 ? s : -1);
    }
    sqlite3_bind_int64(st, 12, due_before);
    sqlite3_bind_int64(st, 13, limit == 0 ? -1 : (sqlite3_int64)limit);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap == 0 ? 8 : cap * 2;
            struct p11p_order *nl = realloc(list, ncap * sizeof(*list));
            if (nl == NULL) {
                rc = P11P_ERR_NOMEM;
                goto out;
            }
            list = nl;
            cap = ncap;
        }
        rc = read_order(c, st, &list[n]);
        if (rc != P11P_OK) {
            goto out;
        }
        n++;
    }
    if (src != SQLITE_DONE) {
        rc = p11p_db_fail(c, conn->db, "listing orders", src);
        goto out;
    }
    *out = n == 0 ? NULL : list;
    *out_n = n;
    if (n != 0) {
        list = NULL;
    }
    rc = P11P_OK;
out:
    p11p_db_done(st);
    p11p_db_release(c, conn);
    p11p_cache_order_list_free(list, n);
    return rc;
}

enum p11p_status p11p_cache_lock_acquire(struct p11p_cache *c, int64_t id,
                                         const char *owner, unsigned ttl_s)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_db_conn *conn = NULL;
    sqlite3_stmt *st = NULL;
    int64_t now = p11p_clock_now();

    if (c == NULL || owner == NULL || owner[0] == '\0') {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_borrow(c, &conn);
    if (rc != P11P_OK) {
        goto out;
    }
    /* One statement in autocommit mode: atomic across processes. */
    rc = p11p_db_stmt(c, conn, &SQL_LOCK_ACQUIRE, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    p11p_db_bind_text(st, 2, owner);
    sqlite3_bind_int64(st, 3, now + (int64_t)ttl_s);
    sqlite3_bind_int64(st, 4, now);
    rc = p11p_db_exec_stmt(c, conn->db, st, "taking an order lock");
    if (rc != P11P_OK) {
        goto out;
    }
    rc = sqlite3_changes(conn->db) == 1 ? P11P_OK : P11P_ERR_BUSY;
out:
    p11p_db_done(st);
    p11p_db_release(c, conn);
    return rc;
}

enum p11p_status p11p_cache_lock_release(struct p11p_cache *c, int64_t id,
                                         const char *owner)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_db_conn *conn = NULL;
    sqlite3_stmt *st = NULL;

    if (c == NULL || owner == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_borrow(c, &conn);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_db_stmt(c, conn, &SQL_LOCK_RELEASE, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    p11p_db_bind_text(st, 2, owner);
    rc = p11p_db_exec_stmt(c, conn->db, st, "releasing an order lock");
out:
    p11p_db_done(st);
    p11p_db_release(c, conn);
    return rc;
}

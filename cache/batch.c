/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Orders found by MAC and by label (issue 7, p11portal batch): whether an
 * explicit MAC is already on an order of the token (checked inside the
 * transaction that inserts the order), and the newest order of a device,
 * from which a batch resumes and rebuilds its report. Uses the indexes
 * orders_mac and orders_label (schema version 2). The statements are
 * prepared per call: these paths run once per device, not per operation.
 */
#include <sqlite3.h>

#include "cache/cache.h"
#include "cache/internal.h"

/* Orders that do not hold their MAC: the portal refused them (no
 * certificate, the licence given back), so the device may be ordered
 * again. */
static const char SQL_MAC_USED[] =
    "SELECT 1 FROM orders WHERE mac = ?1 AND state <> ?2 LIMIT 1";
static const char SQL_NEWEST_BY_MAC[] =
    "SELECT max(id) FROM orders WHERE mac = ?1";
static const char SQL_NEWEST_BY_LABEL[] =
    "SELECT max(id) FROM orders WHERE label = ?1";

/* Runs sql (one text parameter, and the REJECTED state as ?2 when it has
 * one) on conn: *out_row true if it returned a row with a non-NULL first
 * column, whose value goes to *out_v. */
static enum p11p_status one_value(struct p11p_cache *c,
                                  struct p11p_db_conn *conn, const char *sql,
                                  const char *arg, bool *out_row,
                                  int64_t *out_v)
{
    sqlite3_stmt *st = NULL;
    enum p11p_status rc;
    int src = sqlite3_prepare_v2(conn->db, sql, -1, &st, NULL);

    if (src != SQLITE_OK) {
        rc = p11p_db_fail(c, conn->db, "preparing an order lookup", src);
        goto out;
    }
    p11p_db_bind_text(st, 1, arg);
    if (sqlite3_bind_parameter_count(st) > 1) {
        sqlite3_bind_int(st, 2, P11P_ORDER_REJECTED);
    }
    rc = p11p_db_step_row(c, conn->db, st, "looking up an order");
    if (rc == P11P_OK && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *out_row = true;
        *out_v = sqlite3_column_int64(st, 0);
    } else if (rc == P11P_ERR_NOT_FOUND || rc == P11P_OK) {
        *out_row = false;
        rc = P11P_OK;
    }
out:
    sqlite3_finalize(st);
    return rc;
}

enum p11p_status p11p_cache_order_mac_used(struct p11p_cache_txn *t,
                                           const char *mac, bool *out)
{
    bool row = false;
    int64_t v = 0;
    enum p11p_status rc;

    if (t == NULL || mac == NULL || out == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = one_value(t->c, t->conn, SQL_MAC_USED, mac, &row, &v);
    if (rc == P11P_OK) {
        *out = row;
    }
    return rc;
}

static enum p11p_status newest(struct p11p_cache *c, const char *sql,
                               const char *arg, int64_t *out_id)
{
    struct p11p_db_conn *conn = NULL;
    bool row = false;
    int64_t v = 0;
    enum p11p_status rc;

    if (c == NULL || arg == NULL || out_id == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_borrow(c, &conn);
    if (rc != P11P_OK) {
        return rc;
    }
    rc = one_value(c, conn, sql, arg, &row, &v);
    p11p_db_release(c, conn);
    if (rc == P11P_OK && !row) {
        rc = P11P_ERR_NOT_FOUND;
    }
    if (rc == P11P_OK) {
        *out_id = v;
    }
    return rc;
}

enum p11p_status p11p_cache_order_newest_by_mac(struct p11p_cache *c,
                                                const char *mac,
                                                int64_t *out_id)
{
    return newest(c, SQL_NEWEST_BY_MAC, mac, out_id);
}

enum p11p_status p11p_cache_order_newest_by_label(struct p11p_cache *c,
                                                  const char *label,
                                                  int64_t *out_id)
{
    return newest(c, SQL_NEWEST_BY_LABEL, label, out_id);
}

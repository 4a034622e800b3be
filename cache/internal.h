/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside cache/: the connection pool, the per-connection statement cache and
 * the error mapping shared by the record files (objects.c, keys.c, orders.c,
 * meta.c) and the schema (schema.c). Nothing here is seen outside cache/.
 *
 * Statements: every SQL text is a `static const struct p11p_sql` next to the
 * code that runs it, with a fixed slot in enum p11p_sql_slot; a connection
 * prepares each slot once and keeps it (hot paths: object_get, find by
 * label). p11p_db_stmt hands out a reset statement with cleared bindings;
 * the caller resets it again when done (p11p_db_done).
 */
#ifndef P11P_CACHE_INTERNAL_H
#define P11P_CACHE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "cache/cache.h"

#define P11P_CACHE_BUSY_TIMEOUT_MS 5000
#define P11P_CACHE_POOL_MAX        4 /* idle connections kept per cache */

/* Every cached statement has a slot. Find statements take 16 slots, one per
 * combination of filter fields (bit 0 class, 1 label, 2 ckaid, 3 value). */
enum p11p_sql_slot {
    P11P_SQL_BEGIN,
    P11P_SQL_COMMIT,
    P11P_SQL_ROLLBACK,
    P11P_SQL_GEN_BUMP,
    P11P_SQL_GEN_GET,
    P11P_SQL_OBJ_INSERT,
    P11P_SQL_OBJ_UPDATE,
    P11P_SQL_OBJ_DELETE,
    P11P_SQL_OBJ_GET,
    P11P_SQL_OBJ_FIND0,
    P11P_SQL_OBJ_FIND_LAST = P11P_SQL_OBJ_FIND0 + 15,
    P11P_SQL_KEY_INSERT,
    P11P_SQL_KEY_GET,
    P11P_SQL_ORD_INSERT,
    P11P_SQL_ORD_UPDATE,
    P11P_SQL_ORD_EXISTS,
    P11P_SQL_ORD_GET,
    P11P_SQL_ORD_TOKEN,
    P11P_SQL_ORD_LIST,
    P11P_SQL_LOCK_ACQUIRE,
    P11P_SQL_LOCK_RELEASE,
    P11P_SQL_META_GET,
    P11P_SQL_META_SET,
    P11P_SQL_AUTH_GET,
    P11P_SQL_AUTH_PUT,
    P11P_SQL_AUTH_FAILS,
    P11P_SQL_SEQ_GET,
    P11P_SQL_SEQ_PUT,
    P11P_SQL_SLOT_COUNT
};

struct p11p_sql {
    enum p11p_sql_slot slot;
    const char *text;
};

/* One SQLite connection and its prepared statements. Used by one thread at
 * a time: it is either in the pool's free list or borrowed. */
struct p11p_db_conn {
    sqlite3 *db;
    sqlite3_stmt *stmts[P11P_SQL_SLOT_COUNT];
    char *find_sql[16]; /* composed text of the find slots */
    struct p11p_db_conn *next;
};

struct p11p_cache {
    char *path;
    pthread_mutex_t mu; /* guards idle and n_idle only */
    struct p11p_db_conn *idle;
    size_t n_idle;
    EVP_MD *sha256; /* for the value_sha256 column */
};

struct p11p_cache_txn {
    struct p11p_cache *c;
    struct p11p_db_conn *conn;
};

/* ---- db.c ---- */

/* Borrows an idle connection or opens a new one (never waits for another
 * thread, so a thread holding a txn can still read). */
enum p11p_status p11p_db_borrow(struct p11p_cache *c,
                                struct p11p_db_conn **out);
/* Gives a connection back; one left inside a transaction is closed. */
void p11p_db_release(struct p11p_cache *c, struct p11p_db_conn *conn);

/* The prepared statement of sql on conn, reset and unbound. */
enum p11p_status p11p_db_stmt(struct p11p_cache *c, struct p11p_db_conn *conn,
                              const struct p11p_sql *sql, sqlite3_stmt **out);
/* Same for a find slot whose text is composed by the caller. */
enum p11p_status p11p_db_stmt_text(struct p11p_cache *c,
                                   struct p11p_db_conn *conn,
                                   enum p11p_sql_slot slot, const char *text,
                                   sqlite3_stmt **out);
/* Resets a statement after use (NULL-safe). */
void p11p_db_done(sqlite3_stmt *st);

/* Logs an SQLite failure once (operation, path, sqlite3_errmsg) and maps
 * it: BUSY/LOCKED -> P11P_ERR_BUSY, CORRUPT/NOTADB -> P11P_ERR_CORRUPT,
 * NOMEM -> P11P_ERR_NOMEM, anything else -> P11P_ERR_IO. */
enum p11p_status p11p_db_fail(struct p11p_cache *c, sqlite3 *db, const char *op,
                              int rc);

/* Runs a statement that returns no row (SQLITE_DONE expected). */
enum p11p_status p11p_db_exec_stmt(struct p11p_cache *c, sqlite3 *db,
                                   sqlite3_stmt *st, const char *op);

/* Steps a statement that returns at most one row: P11P_OK with the row
 * ready to read, P11P_ERR_NOT_FOUND when there is none (not logged), or
 * the failure logged and mapped by p11p_db_fail (op names the read). */
enum p11p_status p11p_db_step_row(struct p11p_cache *c, sqlite3 *db,
                                  sqlite3_stmt *st, const char *op);

/* Runs literal SQL without caching (schema, pragmas). */
enum p11p_status p11p_db_exec(struct p11p_cache *c, sqlite3 *db,
                              const char *sql, const char *op);

/* Binds a byte string; a zero-length one is bound as an empty blob, not as
 * NULL (sqlite3_bind_blob treats a NULL pointer as SQL NULL). */
int p11p_db_bind_bytes(sqlite3_stmt *st, int idx, const void *p, size_t len);
/* Binds text or NULL. */
int p11p_db_bind_text(sqlite3_stmt *st, int idx, const char *s);

/* Starts BEGIN IMMEDIATE on conn (used by txn_begin and migrations). */
enum p11p_status p11p_db_begin(struct p11p_cache *c, struct p11p_db_conn *conn);

/* ---- schema.c ---- */

/* Migrates the database to the current version, one BEGIN IMMEDIATE
 * transaction per step. P11P_ERR_CONFIG if it is newer than this code. */
enum p11p_status p11p_schema_migrate(struct p11p_cache *c,
                                     struct p11p_db_conn *conn);

/* ---- keys.c ---- */

/* Inserts the key blob of object id inside a transaction. */
enum p11p_status p11p_keys_blob_insert(struct p11p_cache_txn *t, int64_t id,
                                       const struct p11p_cache_keyblob *key);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The database file and its connections: creating the file safely (0600,
 * folders 0700, mode checked), the pragmas, a small connection pool, the
 * per-connection statement cache, transactions, fork discard and the
 * generation counter. The records themselves are in objects.c, keys.c,
 * orders.c and meta.c; the schema in schema.c.
 *
 * Generation: a counter in meta ("generation") that every write transaction
 * increments just before COMMIT. PRAGMA data_version was the alternative,
 * but it is per connection (a pool gives each thread a different baseline)
 * and does not move for the connection's own commits; a counter stored in
 * the database is one number every process and every connection agrees on,
 * costs one small UPDATE per write transaction and one point read to query.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache.h"
#include "cache/internal.h"
#include "core/base/log.h"
#include "core/base/ossl.h"
#include "core/base/str.h"

#define COMP "cache"

static const struct p11p_sql SQL_BEGIN = { P11P_SQL_BEGIN, "BEGIN IMMEDIATE" };
static const struct p11p_sql SQL_COMMIT = { P11P_SQL_COMMIT, "COMMIT" };
static const struct p11p_sql SQL_ROLLBACK = { P11P_SQL_ROLLBACK, "ROLLBACK" };
static const struct p11p_sql SQL_GEN_BUMP = {
    P11P_SQL_GEN_BUMP, "INSERT INTO meta(key, value) VALUES('generation', 1) "
                       "ON CONFLICT(key) DO UPDATE SET "
                       "value = CAST(value AS INTEGER) + 1"
};
static const struct p11p_sql SQL_GEN_GET = {
    P11P_SQL_GEN_GET, "SELECT CAST(value AS INTEGER) FROM meta "
                      "WHERE key = 'generation'"
};

/* Pragmas of every connection; busy_timeout first so that switching to WAL
 * waits for a concurrent opener. */
static const char *const conn_pragmas[] = {
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",
};

enum p11p_status p11p_db_fail(struct p11p_cache *c, sqlite3 *db, const char *op,
                              int rc)
{
    const char *path = c != NULL && c->path != NULL ? c->path : "(cache)";
    const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        P11P_WARN(COMP, "%s on %s: database busy after %d ms (%s)", op, path,
                  P11P_CACHE_BUSY_TIMEOUT_MS, msg);
        return P11P_ERR_BUSY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        P11P_ERROR(
            COMP,
            "%s on %s: the cache file is damaged (%s, sqlite %d); move it away to start an empty token",
            op, path, msg, rc);
        return P11P_ERR_CORRUPT;
    case SQLITE_NOMEM:
        P11P_ERROR(COMP, "%s on %s: out of memory", op, path);
        return P11P_ERR_NOMEM;
    default:
        P11P_ERROR(COMP, "%s on %s: %s (sqlite %d)", op, path, msg, rc);
        return P11P_ERR_IO;
    }
}

int p11p_db_bind_bytes(sqlite3_stmt *st, int idx, const void *p, size_t len)
{
    static const unsigned char empty[1];

    if (p == NULL && len != 0) {
        return SQLITE_MISUSE;
    }
    return sqlite3_bind_blob64(st, idx, len == 0 ? empty : p, len,
                               SQLITE_TRANSIENT);
}

int p11p_db_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
    if (s == NULL) {
        return sqlite3_bind_null(st, idx);
    }
    return sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
}

void p11p_db_done(sqlite3_stmt *st)
{
    if (st != NULL) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

enum p11p_status p11p_db_exec(struct p11p_cache *c, sqlite3 *db,
                              const char *sql, const char *op)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK) {
        return p11p_db_fail(c, db, op, rc);
    }
    return P11P_OK;
}

enum p11p_status p11p_db_exec_stmt(struct p11p_cache *c, sqlite3 *db,
                                   sqlite3_stmt *st, const char *op)
{
    int rc = sqlite3_step(st);

    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        return p11p_db_fail(c, db, op, rc);
    }
    return P11P_OK;
}

enum p11p_status p11p_db_stmt_text(struct p11p_cache *c,
                                   struct p11p_db_conn *conn,
                                   enum p11p_sql_slot slot, const char *text,
                                   sqlite3_stmt **out)
{
    int rc;

    *out = NULL;
    if (conn->stmts[slot] == NULL) {
        rc = sqlite3_prepare_v3(conn->db, text, -1, SQLITE_PREPARE_PERSISTENT,
                                &conn->stmts[slot], NULL);
        if (rc != SQLITE_OK) {
            return p11p_db_fail(c, conn->db, "preparing a statement", rc);
        }
    }
    *out = conn->stmts[slot];
    return P11P_OK;
}

enum p11p_status p11p_db_stmt(struct p11p_cache *c, struct p11p_db_conn *conn,
                              const struct p11p_sql *sql, sqlite3_stmt **out)
{
    return p11p_db_stmt_text(c, conn, sql->slot, sql->text, out);
}

static void conn_close(struct p11p_db_conn *conn)
{
    if (conn == NULL) {
        return;
    }
    for (size_t i = 0; i < P11P_SQL_SLOT_COUNT; i++) {
        sqlite3_finalize(conn->stmts[i]);
    }
    for (size_t i = 0; i < 16; i++) {
        free(conn->find_sql[i]);
    }
    sqlite3_close_v2(conn->db);
    free(conn);
}

static enum p11p_status conn_open(struct p11p_cache *c,
                                  struct p11p_db_conn **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_db_conn *conn = NULL;
    int src;

    *out = NULL;
    conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    /* NOMUTEX: a connection is used by one thread at a time (pool). */
    src = sqlite3_open_v2(c->path, &conn->db,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        rc = p11p_db_fail(c, conn->db, "opening", src);
        goto out;
    }
    sqlite3_extended_result_codes(conn->db, 1);
    src = sqlite3_busy_timeout(conn->db, P11P_CACHE_BUSY_TIMEOUT_MS);
    if (src != SQLITE_OK) {
        rc = p11p_db_fail(c, conn->db, "setting the busy timeout", src);
        goto out;
    }
    for (size_t i = 0; i < sizeof(conn_pragmas) / sizeof(conn_pragmas[0]);
         i++) {
        rc = p11p_db_exec(c, conn->db, conn_pragmas[i], conn_pragmas[i]);
        if (rc != P11P_OK) {
            goto out;
        }
    }
    *out = conn;
    conn = NULL;
    rc = P11P_OK;
out:
    conn_close(conn);
    return rc;
}

enum p11p_status p11p_db_borrow(struct p11p_cache *c, struct p11p_db_conn **out)
{
    struct p11p_db_conn *conn = NULL;

    *out = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->idle != NULL) {
        conn = c->idle;
        c->idle = conn->next;
        c->n_idle--;
        conn->next = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (conn == NULL) {
        return conn_open(c, out);
    }
    *out = conn;
    return P11P_OK;
}

void p11p_db_release(struct p11p_cache *c, struct p11p_db_conn *conn)
{
    if (conn == NULL) {
        return;
    }
    if (!sqlite3_get_autocommit(conn->db)) {
        /* A failed rollback left it inside a transaction: drop it. */
        conn_close(conn);
        return;
    }
    pthread_mutex_lock(&c->mu);
    if (c->n_idle < P11P_CACHE_POOL_MAX) {
        conn->next = c->idle;
        c->idle = conn;
        c->n_idle++;
        conn = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    conn_close(conn);
}

/* mkdir -p of the parent folders of path, each created with mode 0700. */
static enum p11p_status make_parents(const char *path)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    char *dir = p11p_str_dup(path);

    if (dir == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            P11P_ERROR(COMP, "cannot create the folder %s of the cache %s: %s",
                       dir, path, strerror(errno));
            rc = P11P_ERR_CONFIG;
            goto out;
        }
        *p = '/';
    }
    rc = P11P_OK;
out:
    free(dir);
    return rc;
}

/* Creates the file with mode 0600 if it does not exist (never through the
 * umask), then checks its type and mode. Done before SQLite opens it: we
 * never open or close the file while SQLite holds it. */
static enum p11p_status prepare_file(const char *path)
{
    struct stat st;
    int fd;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        close(fd);
    } else if (errno != EEXIST) {
        P11P_ERROR(COMP, "cannot create the cache %s: %s", path,
                   strerror(errno));
        return P11P_ERR_CONFIG;
    }
    if (stat(path, &st) != 0) {
        P11P_ERROR(COMP, "cannot stat the cache %s: %s", path, strerror(errno));
        return P11P_ERR_CONFIG;
    }
    if (!S_ISREG(st.st_mode)) {
        P11P_ERROR(COMP, "the cache %s is not a regular file", path);
        return P11P_ERR_CONFIG;
    }
    if ((st.st_mode & 0077) != 0) {
        P11P_ERROR(
            COMP,
            "the cache %s has mode %04o: it holds sealed keys and must not be accessible to group or others; run chmod 600 %s",
            path, (unsigned)(st.st_mode & 07777), path);
        return P11P_ERR_CONFIG;
    }
    return P11P_OK;
}

static void cache_free(struct p11p_cache *c, bool close_conns)
{
    struct p11p_db_conn *conn;

    if (c == NULL) {
        return;
    }
    while ((conn = c->idle) != NULL) {
        c->idle = conn->next;
        if (close_conns) {
            conn_close(conn);
        } else {
            /* Discarded: the sqlite3 handle and its statements are
             * deliberately leaked; closing would drop the parent's locks. */
            for (size_t i = 0; i < 16; i++) {
                free(conn->find_sql[i]);
            }
            free(conn);
        }
    }
    if (close_conns) {
        /* After fork another (now gone) thread may have held it. */
        pthread_mutex_destroy(&c->mu);
    }
    EVP_MD_free(c->sha256);
    free(c->path);
    free(c);
}

enum p11p_status p11p_cache_open(const char *path, struct p11p_cache **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_cache *c = NULL;
    struct p11p_db_conn *conn = NULL;

    *out = NULL;
    if (path == NULL || path[0] == '\0') {
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    if (sqlite3_threadsafe() == 0) {
        P11P_ERROR(COMP, "SQLite was built without thread support");
        rc = P11P_ERR_CONFIG;
        goto out;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->path = p11p_str_dup(path);
    if (c->path == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    c->sha256 = EVP_MD_fetch(p11p_ossl_libctx(), "SHA256", NULL);
    if (c->sha256 == NULL) {
        p11p_ossl_log_errors(COMP, "fetching SHA256");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    rc = make_parents(path);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = prepare_file(path);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = conn_open(c, &conn);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_schema_migrate(c, conn);
    if (rc != P11P_OK) {
        goto out;
    }
    p11p_db_release(c, conn);
    conn = NULL;
    *out = c;
    c = NULL;
    rc = P11P_OK;
out:
    conn_close(conn);
    cache_free(c, true);
    return rc;
}

void p11p_cache_close(struct p11p_cache *c)
{
    cache_free(c, true);
}

void p11p_cache_discard(struct p11p_cache *c)
{
    cache_free(c, false);
}

enum p11p_status p11p_cache_generation(struct p11p_cache *c, uint64_t *out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_db_conn *conn = NULL;
    sqlite3_stmt *st = NULL;
    uint64_t gen = 0; /* no row yet: a store never written */

    rc = p11p_db_borrow(c, &conn);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_db_stmt(c, conn, &SQL_GEN_GET, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_db_step_row(c, conn->db, st, "reading the generation");
    if (rc == P11P_OK) {
        gen = (uint64_t)sqlite3_column_int64(st, 0);
    } else if (rc != P11P_ERR_NOT_FOUND) {
        goto out;
    }
    *out = gen;
    rc = P11P_OK;
out:
    p11p_db_done(st);
    p11p_db_release(c, conn);
    return rc;
}

enum p11p_status p11p_db_step_row(struct p11p_cache *c, sqlite3 *db,
                                  sqlite3_stmt *st, const char *op)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    int src = sqlite3_step(st);

    if (src == SQLITE_ROW) {
        rc = P11P_OK;
    } else if (src == SQLITE_DONE) {
        rc = P11P_ERR_NOT_FOUND;
    } else {
        rc = p11p_db_fail(c, db, op, src);
    }
    return rc;
}

enum p11p_status p11p_db_begin(struct p11p_cache *c, struct p11p_db_conn *conn)
{
    enum p11p_status rc;
    sqlite3_stmt *st = NULL;

    rc = p11p_db_stmt(c, conn, &SQL_BEGIN, &st);
    if (rc == P11P_OK) {
        rc = p11p_db_exec_stmt(c, conn->db, st, "starting a transaction");
    }
    p11p_db_done(st);
    return rc;
}

enum p11p_status p11p_cache_txn_begin(struct p11p_cache *c,
                                      struct p11p_cache_txn **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_cache_txn *t = NULL;

    *out = NULL;
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    t->c = c;
    rc = p11p_db_borrow(c, &t->conn);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_db_begin(c, t->conn);
    if (rc != P11P_OK) {
        goto out;
    }
    *out = t;
    t = NULL;
    rc = P11P_OK;
out:
    if (t != NULL) {
        p11p_db_release(c, t->conn);
        free(t);
    }
    return rc;
}

static void txn_end(struct p11p_cache_txn *t, bool rollback)
{
    sqlite3_stmt *st = NULL;

    if (rollback && !sqlite3_get_autocommit(t->conn->db)
        && p11p_db_stmt(t->c, t->conn, &SQL_ROLLBACK, &st) == P11P_OK) {
        (void)p11p_db_exec_stmt(t->c, t->conn->db, st, "rolling back");
        p11p_db_done(st);
    }
    p11p_db_release(t->c, t->conn);
    free(t);
}

enum p11p_status p11p_cache_txn_commit(struct p11p_cache_txn *t)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    sqlite3_stmt *st = NULL;

    if (t == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_db_stmt(t->c, t->conn, &SQL_GEN_BUMP, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_db_exec_stmt(t->c, t->conn->db, st, "bumping the generation");
    p11p_db_done(st);
    st = NULL;
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_db_stmt(t->c, t->conn, &SQL_COMMIT, &st);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_db_exec_stmt(t->c, t->conn->db, st, "committing");
out:
    p11p_db_done(st);
    txn_end(t, rc != P11P_OK);
    return rc;
}

void p11p_cache_txn_rollback(struct p11p_cache_txn *t)
{
    if (t != NULL) {
        txn_end(t, true);
    }
}

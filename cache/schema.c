/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The schema and its versions (STYLE.md 3.13, tpm2-pkcs11's db.c pattern):
 * a one-row schema_version table and an ordered, append-only array of
 * migrations; migrations[v] takes a database from version v to v + 1 and
 * runs in its own BEGIN IMMEDIATE transaction (SQLite DDL is
 * transactional, so a crash leaves the old or the new version). Never edit
 * a published migration: append a new one. docs/internals/cache-schema.md
 * describes the tables.
 *
 * Opening reads one row; it never scans a table.
 */
#include <sqlite3.h>

#include "cache/internal.h"
#include "core/base/log.h"

#define COMP "cache"

/* Version 0 -> 1: the first schema. */
static const char migrate_0_to_1[] =
    "CREATE TABLE objects ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " class INTEGER NOT NULL,"
    " label BLOB,"
    " ckaid BLOB,"
    " value_sha256 BLOB,"
    " order_id INTEGER NOT NULL DEFAULT 0,"
    " attrs BLOB NOT NULL);"
    "CREATE INDEX objects_class_label ON objects(class, label);"
    "CREATE INDEX objects_label ON objects(label);"
    "CREATE INDEX objects_ckaid ON objects(ckaid);"
    "CREATE INDEX objects_value ON objects(value_sha256);"
    "CREATE TABLE keyblobs ("
    " object_id INTEGER PRIMARY KEY"
    "  REFERENCES objects(id) ON DELETE CASCADE,"
    " backend TEXT NOT NULL,"
    " blob BLOB NOT NULL);"
    "CREATE TABLE orders ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " state INTEGER NOT NULL,"
    " request_token TEXT NOT NULL UNIQUE,"
    " driver TEXT,"
    " profile TEXT,"
    " label TEXT,"
    " ckaid BLOB,"
    " subject TEXT,"
    " sans TEXT,"
    " mac TEXT,"
    " term_days INTEGER NOT NULL DEFAULT 0,"
    " csr BLOB,"
    " pubkey_sha256 BLOB,"
    " portal_id TEXT,"
    " last_error TEXT,"
    " priv_object_id INTEGER NOT NULL DEFAULT 0,"
    " pub_object_id INTEGER NOT NULL DEFAULT 0,"
    " cert_object_id INTEGER NOT NULL DEFAULT 0,"
    " data_object_id INTEGER NOT NULL DEFAULT 0,"
    " renews_order_id INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL,"
    " next_attempt INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX orders_state_next ON orders(state, next_attempt);"
    "CREATE TABLE order_locks ("
    " order_id INTEGER PRIMARY KEY,"
    " owner TEXT NOT NULL,"
    " expires INTEGER NOT NULL);"
    "CREATE TABLE sequences (name TEXT PRIMARY KEY, next INTEGER NOT NULL);"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO meta(key, value) VALUES('generation', 1);"
    "CREATE TABLE auth ("
    " role INTEGER PRIMARY KEY,"
    " kdf TEXT NOT NULL,"
    " salt BLOB NOT NULL,"
    " iterations INTEGER NOT NULL,"
    " wrapped BLOB NOT NULL,"
    " fail_count INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE schema_version (version INTEGER NOT NULL);"
    "INSERT INTO schema_version(version) VALUES(0);";

/* Version 1 -> 2 (issue 7, p11portal batch): orders found by MAC (an
 * explicit MAC is refused when an order of the token already has it) and
 * by label (a batch resumes CSV rows without a MAC by their label). IF NOT
 * EXISTS: a database set back to version 1 by hand migrates again. */
static const char migrate_1_to_2[] =
    "CREATE INDEX IF NOT EXISTS orders_mac ON orders(mac);"
    "CREATE INDEX IF NOT EXISTS orders_label ON orders(label);";

/* migrations[v]: version v -> v + 1. Append only. */
static const char *const migrations[] = {
    migrate_0_to_1,
    migrate_1_to_2,
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

int p11p_cache_schema_version(void)
{
    return SCHEMA_VERSION;
}

/* Reads the version inside the current transaction: 0 for an empty file. */
static enum p11p_status read_version(struct p11p_cache *c, sqlite3 *db,
                                     int *out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    sqlite3_stmt *st = NULL;
    int src;
    int version = 0;

    src = sqlite3_prepare_v2(db,
                             "SELECT count(*) FROM sqlite_master WHERE "
                             "type = 'table' AND name = 'schema_version'",
                             -1, &st, NULL);
    if (src != SQLITE_OK || (src = sqlite3_step(st)) != SQLITE_ROW) {
        rc = p11p_db_fail(c, db, "reading the schema", src);
        goto out;
    }
    if (sqlite3_column_int(st, 0) != 0) {
        sqlite3_finalize(st);
        st = NULL;
        src = sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version",
                                 -1, &st, NULL);
        if (src != SQLITE_OK || (src = sqlite3_step(st)) != SQLITE_ROW) {
            rc = p11p_db_fail(c, db, "reading the schema version", src);
            goto out;
        }
        version = sqlite3_column_int(st, 0);
    }
    *out = version;
    rc = P11P_OK;
out:
    sqlite3_finalize(st);
    return rc;
}

static enum p11p_status write_version(struct p11p_cache *c, sqlite3 *db,
                                      int version)
{
    sqlite3_stmt *st = NULL;
    int src;

    src = sqlite3_prepare_v2(db, "UPDATE schema_version SET version = ?", -1,
                             &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_int(st, 1, version);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE) {
        return p11p_db_fail(c, db, "writing the schema version", src);
    }
    return P11P_OK;
}

enum p11p_status p11p_schema_migrate(struct p11p_cache *c,
                                     struct p11p_db_conn *conn)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    int version = 0;
    bool in_txn = false;

    for (;;) {
        rc = p11p_db_begin(c, conn);
        if (rc != P11P_OK) {
            goto out;
        }
        in_txn = true;
        rc = read_version(c, conn->db, &version);
        if (rc != P11P_OK) {
            goto out;
        }
        if (version > SCHEMA_VERSION || version < 0) {
            P11P_ERROR(
                COMP,
                "the cache %s has schema version %d but this p11portal knows only up to %d: it was written by a newer p11portal; upgrade, or use another cache_path",
                c->path, version, SCHEMA_VERSION);
            rc = P11P_ERR_CONFIG;
            goto out;
        }
        if (version == SCHEMA_VERSION) {
            break;
        }
        rc = p11p_db_exec(c, conn->db, migrations[version],
                          "migrating the schema");
        if (rc != P11P_OK) {
            goto out;
        }
        rc = write_version(c, conn->db, version + 1);
        if (rc != P11P_OK) {
            goto out;
        }
        rc = p11p_db_exec(c, conn->db, "COMMIT", "committing a migration");
        if (rc != P11P_OK) {
            goto out;
        }
        in_txn = false;
        P11P_INFO(COMP, "migrated the cache %s to schema version %d", c->path,
                  version + 1);
    }
    rc = p11p_db_exec(c, conn->db, "COMMIT", "reading the schema");
    if (rc == P11P_OK) {
        in_txn = false;
    }
out:
    if (in_txn && !sqlite3_get_autocommit(conn->db)) {
        (void)sqlite3_exec(conn->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

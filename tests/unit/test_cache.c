/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of cache/: opening (modes, folders, schema versions), every
 * record API with its errors, compare-and-set, locks with expiry,
 * sequences with exhaustion and rollback, wipe, the generation counter, a
 * corrupt attribute blob, threads, two processes on one file, and kill -9
 * in the middle of writes followed by an integrity check.
 */
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>
#include <sqlite3.h>

#include "cache/cache.h"
#include "tests/unit/check.h"

static char tmpdir[64];

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

/* Runs SQL on the file directly (to forge fixtures). */
static int raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);

    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    sqlite3_close(db);
    return rc;
}

static struct p11p_cache *open_fresh(const char *name)
{
    char path[256];
    struct p11p_cache *c = NULL;

    path_in(path, sizeof(path), name);
    CHECK_RV(p11p_cache_open(path, &c), P11P_OK);
    return c;
}

static void make_obj(struct p11p_cache_object *o, CK_OBJECT_CLASS klass,
                     const char *label, const char *id, const char *value)
{
    memset(o, 0, sizeof(*o));
    o->klass = klass;
    CHECK_RV(p11p_attrlist_set_ulong(&o->attrs, CKA_CLASS, klass), P11P_OK);
    CHECK_RV(p11p_attrlist_set_str(&o->attrs, CKA_LABEL, label), P11P_OK);
    CHECK_RV(p11p_attrlist_set_str(&o->attrs, CKA_ID, id), P11P_OK);
    if (value != NULL) {
        CHECK_RV(p11p_attrlist_set_str(&o->attrs, CKA_VALUE, value), P11P_OK);
    }
}

static int64_t insert_obj(struct p11p_cache *c, CK_OBJECT_CLASS klass,
                          const char *label, const char *id, const char *value,
                          bool with_key)
{
    struct p11p_cache_txn *t = NULL;
    struct p11p_cache_object o;
    struct p11p_cache_keyblob kb = { "soft", (unsigned char *)"sealed", 6 };
    int64_t oid = 0;

    make_obj(&o, klass, label, id, value);
    CHECK_RV(p11p_cache_txn_begin(c, &t), P11P_OK);
    if (t != NULL) {
        CHECK_RV(p11p_cache_object_insert(t, &o, with_key ? &kb : NULL),
                 P11P_OK);
        CHECK_RV(p11p_cache_txn_commit(t), P11P_OK);
        oid = o.id;
    }
    p11p_cache_object_clear(&o);
    return oid;
}

static void test_open_modes(void)
{
    char path[256];
    struct p11p_cache *c = NULL;
    struct stat st;

    /* Nested folders are created 0700, the file 0600. */
    path_in(path, sizeof(path), "a/b/t.db");
    CHECK_RV(p11p_cache_open(path, &c), P11P_OK);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    path_in(path, sizeof(path), "a/b");
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);
    /* SQLite gives the WAL and shared-memory files the mode of the
     * database. */
    path_in(path, sizeof(path), "a/b/t.db-wal");
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    path_in(path, sizeof(path), "a/b/t.db-shm");
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    p11p_cache_close(c);
    c = NULL;

    /* A group/world-readable file is refused. */
    path_in(path, sizeof(path), "open.db");
    CHECK_RV(p11p_cache_open(path, &c), P11P_OK);
    p11p_cache_close(c);
    c = NULL;
    CHECK(chmod(path, 0644) == 0);
    CHECK_RV(p11p_cache_open(path, &c), P11P_ERR_CONFIG);
    CHECK(c == NULL);
    CHECK(chmod(path, 0600) == 0);
    CHECK_RV(p11p_cache_open(path, &c), P11P_OK);
    p11p_cache_close(c);
    c = NULL;

    /* A file that is not a database. */
    path_in(path, sizeof(path), "garbage.db");
    {
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        if (f != NULL) {
            for (int i = 0; i < 512; i++) {
                fputs("not a database ", f);
            }
            fclose(f);
        }
        CHECK(chmod(path, 0600) == 0);
    }
    CHECK_RV(p11p_cache_open(path, &c), P11P_ERR_CORRUPT);
    CHECK_RV(p11p_cache_open("", &c), P11P_ERR_INVALID_INPUT);
    p11p_cache_close(NULL);
    p11p_cache_discard(NULL);
}

static void test_schema_versions(void)
{
    char path[256];
    struct p11p_cache *c = NULL;
    int64_t id;

    CHECK_INT_EQ(p11p_cache_schema_version(), 2);
    path_in(path, sizeof(path), "schema.db");
    c = open_fresh("schema.db");
    id = insert_obj(c, CKO_DATA, "kept", "k", NULL, false);
    p11p_cache_close(c);
    c = NULL;

    /* A database of a future version is refused, and left alone. */
    CHECK_INT_EQ(raw_exec(path, "UPDATE schema_version SET version = 99"),
                 SQLITE_OK);
    CHECK_RV(p11p_cache_open(path, &c), P11P_ERR_CONFIG);
    CHECK(c == NULL);

    /* Back at version 1 (the fixture): opens with its data. */
    CHECK_INT_EQ(raw_exec(path, "UPDATE schema_version SET version = 1"),
                 SQLITE_OK);
    CHECK_RV(p11p_cache_open(path, &c), P11P_OK);
    if (c != NULL) {
        struct p11p_cache_object o;
        CHECK_RV(p11p_cache_object_get(c, id, &o), P11P_OK);
        p11p_cache_object_clear(&o);
    }
    p11p_cache_close(c);
}

static void test_objects(void)
{
    struct p11p_cache *c = open_fresh("objects.db");
    struct p11p_cache_txn *t = NULL;
    struct p11p_cache_object o, got;
    struct p11p_cache_keyblob kb;
    struct p11p_cache_filter f;
    unsigned char sha[32];
    int64_t *ids = NULL;
    size_t n = 0;
    int64_t a, b, cc, d;
    char *label;

    if (c == NULL) {
        return;
    }
    a = insert_obj(c, CKO_PRIVATE_KEY, "web01", "id1", NULL, true);
    b = insert_obj(c, CKO_CERTIFICATE, "web01", "id1", "certbytes", false);
    cc = insert_obj(c, CKO_CERTIFICATE, "web02", "id2", "other", false);
    CHECK(a > 0 && b > a && cc > b);

    CHECK_RV(p11p_cache_object_get(c, b, &got), P11P_OK);
    CHECK_INT_EQ(got.id, b);
    CHECK_INT_EQ(got.klass, CKO_CERTIFICATE);
    label = p11p_attrlist_get_str(&got.attrs, CKA_LABEL);
    CHECK_STR_EQ(label, "web01");
    free(label);
    p11p_cache_object_clear(&got);
    CHECK_RV(p11p_cache_object_get(c, 9999, &got), P11P_ERR_NOT_FOUND);

    /* Key blobs. */
    CHECK_RV(p11p_cache_keyblob_get(c, a, &kb), P11P_OK);
    CHECK_STR_EQ(kb.backend, "soft");
    CHECK_MEM_EQ(kb.blob, kb.blob_len, "sealed", 6);
    p11p_cache_keyblob_clear(&kb);
    CHECK_RV(p11p_cache_keyblob_get(c, b, &kb), P11P_ERR_NOT_FOUND);

    /* Finds. */
    memset(&f, 0, sizeof(f));
    f.label = "web01";
    f.label_len = 5;
    CHECK_RV(p11p_cache_object_find(c, &f, &ids, &n), P11P_OK);
    CHECK_INT_EQ(n, 2);
    if (n == 2) {
        CHECK_INT_EQ(ids[0], a);
        CHECK_INT_EQ(ids[1], b);
    }
    free(ids);
    f.has_class = true;
    f.klass = CKO_CERTIFICATE;
    CHECK_RV(p11p_cache_object_find(c, &f, &ids, &n), P11P_OK);
    CHECK_INT_EQ(n, 1);
    free(ids);
    memset(&f, 0, sizeof(f));
    f.ckaid = (const unsigned char *)"id2";
    f.ckaid_len = 3;
    CHECK_RV(p11p_cache_object_find(c, &f, &ids, &n), P11P_OK);
    CHECK(n == 1 && ids[0] == cc);
    free(ids);
    memset(&f, 0, sizeof(f));
    SHA256((const unsigned char *)"certbytes", 9, sha);
    f.value_sha256 = sha;
    CHECK_RV(p11p_cache_object_find(c, &f, &ids, &n), P11P_OK);
    CHECK(n == 1 && ids[0] == b);
    free(ids);
    memset(&f, 0, sizeof(f));
    f.label = "nobody";
    f.label_len = 6;
    CHECK_RV(p11p_cache_object_find(c, &f, &ids, &n), P11P_OK);
    CHECK(n == 0 && ids == NULL);
    memset(&f, 0, sizeof(f));
    CHECK_RV(p11p_cache_object_find(c, &f, &ids, &n), P11P_OK);
    CHECK_INT_EQ(n, 3);
    free(ids);

    /* Update: the indexed label follows the attributes. */
    CHECK_RV(p11p_cache_txn_begin(c, &t), P11P_OK);
    CHECK_RV(p11p_cache_object_get_txn(t, cc, &o), P11P_OK);
    CHECK_RV(p11p_attrlist_set_str(&o.attrs, CKA_LABEL, "renamed"), P11P_OK);
    o.order_id = 7;
    CHECK_RV(p11p_cache_object_update(t, &o), P11P_OK);
    o.id = 9999;
    CHECK_RV(p11p_cache_object_update(t, &o), P11P_ERR_NOT_FOUND);
    p11p_cache_object_clear(&o);
    CHECK_RV(p11p_cache_txn_commit(t), P11P_OK);
    memset(&f, 0, sizeof(f));
    f.label = "renamed";
    f.label_len = 7;
    CHECK_RV(p11p_cache_object_find(c, &f, &ids, &n), P11P_OK);
    CHECK(n == 1 && ids[0] == cc);
    free(ids);
    CHECK_RV(p11p_cache_object_get(c, cc, &got), P11P_OK);
    CHECK_INT_EQ(got.order_id, 7);
    p11p_cache_object_clear(&got);

    /* Delete takes the key blob along; ids are never reused. */
    CHECK_RV(p11p_cache_txn_begin(c, &t), P11P_OK);
    CHECK_RV(p11p_cache_object_delete(t, a), P11P_OK);
    CHECK_RV(p11p_cache_object_delete(t, a), P11P_ERR_NOT_FOUND);
    CHECK_RV(p11p_cache_txn_commit(t), P11P_OK);
    CHECK_RV(p11p_cache_keyblob_get(c, a, &kb), P11P_ERR_NOT_FOUND);
    CHECK_RV(p11p_cache_txn_begin(c, &t), P11P_OK);
    CHECK_RV(p11p_cache_object_delete(t, cc), P11P_OK);
    CHECK_RV(p11p_cache_txn_commit(t), P11P_OK);
    d = insert_obj(c, CKO_DATA, "x", "x", NULL, false);
    CHECK(d > cc);

    /* A rolled-back insert leaves nothing. */
    make_obj(&o, CKO_DATA, "gone", "g", NULL);
    CHECK_RV(p11p_cache_txn_begin(c, &t), P11P_OK);
    CHECK_RV(p11p_cache_object_insert(t, &o, NULL), P11P_OK);
    p11p_cache_txn_rollback(t);
    CHECK_RV(p11p_cache_object_get(c, o.id, &got), P11P_ERR_NOT_FOUND);
    p11p_cache_object_clear(&o);
    p11p_cache_txn_rollback(NULL);
    p11p_cache_close(c);
}

static void test_corrupt_attrs(void)
{
    char path[256];
    struct p11p_cache *c = open_fresh("corrupt.db");
    struct p11p_cache_object got;
    int64_t id;

    if (c == NULL) {
        return;
    }
    path_in(path, sizeof(path), "corrupt.db");
    id = insert_obj(c, CKO_DATA, "x", "x", NULL, false);
    CHECK_INT_EQ(raw_exec(path, "UPDATE objects SET attrs = X'50314131ffff'"),
                 SQLITE_OK);
    fprintf(stderr, "(an error line about object %lld is expected)\n",
            (long long)id);
    CHECK_RV(p11p_cache_object_get(c, id, &got), P11P_ERR_CORRUPT);
    CHECK_INT_EQ(got.attrs.n, 0);
    p11p_cache_close(c);
}

static void fill_order(struct p11p_order *o, const char *token)
{
    memset(o, 0, sizeof(*o));
    o->state = P11P_ORDER_NEW;
    snprintf(o->request_token, sizeof(o->request_token), "%s", token);
    o->driver = strdup("local");
    o->label = strdup("web01");
    o->subject = strdup("CN=web01");
    memcpy(o->ckaid, "\x01\x02", 2);
    o->ckaid_len = 2;
    o->term_days = 365;
    o->csr_der = malloc(3);
    memcpy(o->csr_der, "csr", 3);
    o->csr_len = 3;
    memset(o->pubkey_sha256, 0xab, 32);
    o->priv_object_id = 11;
    o->pub_object_id = 12;
    o->next_attempt = 100;
}

static void test_orders(void)
{
    struct p11p_cache *c = open_fresh("orders.db");
    struct p11p_cache_txn *t = NULL;
    struct p11p_order o1, o2, dup, got;
    struct p11p_order *list = NULL;
    size_t n = 0;

    if (c == NULL) {
        return;
    }
    fill_order(&o1, "tok-1");
    fill_order(&o2, "tok-2");
    fill_order(&dup, "tok-1");
    o2.next_attempt = 500;
    CHECK_RV(p11p_cache_txn_begin(c, &t), P11P_OK);
    CHECK_RV(p11p_cache_order_insert(t, &o1), P11P_OK);
    CHECK_RV(p11p_cache_order_insert(t, &o2), P11P_OK);
    CHECK_RV(p11p_cache_order_insert(t, &dup), P11P_ERR_EXISTS);
    CHECK_RV(p11p_cache_txn_commit(t), P11P_OK);
    CHECK(o1.id > 0 && o2.id > o1.id && o1.created > 0);

    CHECK_RV(p11p_cache_order_get(c, o1.id, &got), P11P_OK);
    CHECK_STR_EQ(got.request_token, "tok-1");
    CHECK_STR_EQ(got.driver, "local");
    CHECK(got.profile == NULL);
    CHECK_STR_EQ(got.subject, "CN=web01");
    CHECK_MEM_EQ(got.ckaid, got.ckaid_len, "\x01\x02", 2);
    CHECK_MEM_EQ(got.csr_der, got.csr_len, "csr", 3);
    CHECK_INT_EQ(got.pubkey_sha256[31], 0xab);
    CHECK_INT_EQ(got.priv_object_id, 11);
    CHECK_INT_EQ(got.term_days, 365);
    p11p_order_clear(&got);
    CHECK_RV(p11p_cache_order_get(c, 999, &got), P11P_ERR_NOT_FOUND);
    CHECK_RV(p11p_cache_order_find_token(c, "tok-2", &got), P11P_OK);
    CHECK_INT_EQ(got.id, o2.id);
    p11p_order_clear(&got);
    CHECK_RV(p11p_cache_order_find_token(c, "nope", &got), P11P_ERR_NOT_FOUND);

    /* Compare-and-set. */
    CHECK_RV(p11p_cache_txn_begin(c, &t), P11P_OK);
    o1.state = P11P_ORDER_SUBMITTING;
    o1.portal_id = strdup("P-77");
    CHECK_RV(p11p_cache_order_update(t, &o1, P11P_ORDER_NEW), P11P_OK);
    o1.state = P11P_ORDER_SUBMITTED;
    CHECK_RV(p11p_cache_order_update(t, &o1, P11P_ORDER_NEW), P11P_ERR_BUSY);
    o1.id = 999;
    CHECK_RV(p11p_cache_order_update(t, &o1, P11P_ORDER_NEW),
             P11P_ERR_NOT_FOUND);
    o1.id = o2.id - 1;
    CHECK_RV(p11p_cache_order_get_txn(t, o1.id, &got), P11P_OK);
    CHECK_INT_EQ(got.state, P11P_ORDER_SUBMITTING);
    CHECK_STR_EQ(got.portal_id, "P-77");
    p11p_order_clear(&got);
    CHECK_RV(p11p_cache_txn_commit(t), P11P_OK);

    /* Lists: by state, due time and limit, oldest first. */
    CHECK_RV(p11p_cache_order_list(c, 1u << P11P_ORDER_NEW, 0, 0, &list, &n),
             P11P_OK);
    CHECK(n == 1 && list[0].id == o2.id);
    p11p_cache_order_list_free(list, n);
    CHECK_RV(p11p_cache_order_list(
                 c, (1u << P11P_ORDER_NEW) | (1u << P11P_ORDER_SUBMITTING), 0,
                 0, &list, &n),
             P11P_OK);
    CHECK(n == 2 && list[0].id < list[1].id);
    p11p_cache_order_list_free(list, n);
    CHECK_RV(p11p_cache_order_list(c, 0x7ff, 200, 0, &list, &n), P11P_OK);
    CHECK(n == 1 && list[0].id == o1.id);
    p11p_cache_order_list_free(list, n);
    CHECK_RV(p11p_cache_order_list(c, 0x7ff, 0, 1, &list, &n), P11P_OK);
    CHECK_INT_EQ(n, 1);
    p11p_cache_order_list_free(list, n);
    CHECK_RV(p11p_cache_order_list(c, 1u << P11P_ORDER_ISSUED, 0, 0, &list, &n),
             P11P_OK);
    CHECK(n == 0 && list == NULL);

    /* Locks. */
    CHECK_RV(p11p_cache_lock_acquire(c, o1.id, "proc-a", 60), P11P_OK);
    CHECK_RV(p11p_cache_lock_acquire(c, o1.id, "proc-b", 60), P11P_ERR_BUSY);
    CHECK_RV(p11p_cache_lock_acquire(c, o1.id, "proc-a", 60), P11P_OK);
    CHECK_RV(p11p_cache_lock_release(c, o1.id, "proc-b"), P11P_OK);
    CHECK_RV(p11p_cache_lock_acquire(c, o1.id, "proc-b", 60), P11P_ERR_BUSY);
    CHECK_RV(p11p_cache_lock_release(c, o1.id, "proc-a"), P11P_OK);
    CHECK_RV(p11p_cache_lock_acquire(c, o1.id, "proc-b", 0), P11P_OK);
    /* ttl 0: already expired, so another owner takes it over. */
    CHECK_RV(p11p_cache_lock_acquire(c, o1.id, "proc-c", 60), P11P_OK);
    CHECK_RV(p11p_cache_lock_acquire(c, o1.id, "proc-b", 60), P11P_ERR_BUSY);

    p11p_order_clear(&o1);
    p11p_order_clear(&o2);
    p11p_order_clear(&dup);
    p11p_order_clear(NULL);
    p11p_cache_close(c);
}

static void test_meta_auth_seq_wipe(void)
{
    struct p11p_cache *c = open_fresh("meta.db");
    struct p11p_cache_txn *t = NULL;
    struct p11p_cache_auth a, got;
    uint64_t v = 0, g1 = 0, g2 = 0;
    char *s = NULL;
    int64_t id;

    if (c == NULL) {
        return;
    }
    CHECK_RV(p11p_cache_meta_get(c, "label", &s), P11P_OK);
    CHECK(s == NULL);
    CHECK_RV(p11p_cache_generation(c, &g1), P11P_OK);
    CHECK_RV(p11p_cache_txn_begin(c, &t), P11P_OK);
    CHECK_RV(p11p_cache_meta_set(t, "label", "factory"), P11P_OK);
    CHECK_RV(p11p_cache_meta_set(t, "serial", "0123456789abcdef"), P11P_OK);
    CHECK_RV(p11p_cache_txn_commit(t), P11P_OK);
    CHECK_RV(p11p_cache_generation(c, &g2), P11P_OK);
    CHECK(g2 != g1);
    CHECK_RV(p11p_cache_meta_get(c, "label", &s), P11P_OK);
    CHECK_STR_EQ(s, "factory");
    free(s);

    /* Auth records. */
    memset(&a, 0, sizeof(a));
    a.role = P11P_ROLE_USER;
    snprintf(a.kdf, sizeof(a.kdf), "pbkdf2-sha256");
    memset(a.salt, 7, 16);
    a.salt_len = 16;
    a.iterations = 1000;
    a.wrapped = (unsigned char *)"wrappedkey";
    a.wrapped_len = 10;
    CHECK_RV(p11p_cache_auth_get(c, P11P_ROLE_USER, &got), P11P_ERR_NOT_FOUND);
    CHECK_RV(p11p_cache_txn_begin(c, &t), P11P_OK);
    CHECK_RV(p11p_cache_auth_put(t, &a), P11P_OK);
    CHECK_RV(p11p_cache_auth_set_fails(t, P11P_ROLE_USER, 3), P11P_OK);
    CHECK_RV(p11p_cache_auth_set_fails(t, P11P_ROLE_SO, 1), P11P_ERR_NOT_FOUND);
    CHECK_RV(p11p_cache_txn_commit(t), P11P_OK);
    CHECK_RV(p11p_cache_auth_get(c, P11P_ROLE_USER, &got), P11P_OK);
    CHECK_STR_EQ(got.kdf, "pbkdf2-sha256");
    CHECK_MEM_EQ(got.salt, got.salt_len, a.salt, 16);
    CHECK_INT_EQ(got.iterations, 1000);
    CHECK_MEM_EQ(got.wrapped, got.wrapped_len, "wrappedkey", 10);
    CHECK_INT_EQ(got.fail_count, 3);
    p11p_cache_auth_clear(&got);
    p11p_cache_auth_clear(NULL);

    /* Sequences: start, increment, rollback gives back, exhaustion. */
    CHECK_RV(p11p_cache_seq_peek(c, "mac", &v), P11P_ERR_NOT_FOUND);
    CHECK_RV(p11p_cache_txn_begin(c, &t), P11P_OK);
    CHECK_RV(p11p_cache_seq_next(t, "mac", 10, 2, 14, &v), P11P_OK);
    CHECK_INT_EQ(v, 10);
    CHECK_RV(p11p_cache_seq_next(t, "mac", 10, 2, 14, &v), P11P_OK);
    CHECK_INT_EQ(v, 12);
    CHECK_RV(p11p_cache_txn_commit(t), P11P_OK);
    CHECK_RV(p11p_cache_seq_peek(c, "mac", &v), P11P_OK);
    CHECK_INT_EQ(v, 14);
    CHECK_RV(p11p_cache_txn_begin(c, &t), P11P_OK);
    CHECK_RV(p11p_cache_seq_next(t, "mac", 10, 2, 14, &v), P11P_OK);
    CHECK_INT_EQ(v, 14);
    p11p_cache_txn_rollback(t);
    CHECK_RV(p11p_cache_txn_begin(c, &t), P11P_OK);
    CHECK_RV(p11p_cache_seq_next(t, "mac", 10, 2, 14, &v), P11P_OK);
    CHECK_INT_EQ(v, 14);
    CHECK_RV(p11p_cache_seq_next(t, "mac", 10, 2, 14, &v), P11P_ERR_EXHAUSTED);
    CHECK_RV(p11p_cache_seq_next(t, "big", UINT64_MAX - 1, 1, UINT64_MAX, &v),
             P11P_OK);
    CHECK(v == UINT64_MAX - 1);
    CHECK_RV(p11p_cache_seq_next(t, "big", 0, 1, UINT64_MAX, &v),
             P11P_ERR_EXHAUSTED);
    CHECK_RV(p11p_cache_seq_next(t, "zero", 0, 0, 10, &v),
             P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_cache_txn_commit(t), P11P_OK);

    /* Wipe: objects, keys, orders, auth, meta go; sequences and the serial
     * stay; ids keep growing. */
    id = insert_obj(c, CKO_PRIVATE_KEY, "k", "k", NULL, true);
    CHECK_RV(p11p_cache_txn_begin(c, &t), P11P_OK);
    CHECK_RV(p11p_cache_wipe(t), P11P_OK);
    CHECK_RV(p11p_cache_txn_commit(t), P11P_OK);
    {
        struct p11p_cache_object o;
        struct p11p_cache_keyblob kb;
        CHECK_RV(p11p_cache_object_get(c, id, &o), P11P_ERR_NOT_FOUND);
        CHECK_RV(p11p_cache_keyblob_get(c, id, &kb), P11P_ERR_NOT_FOUND);
    }
    CHECK_RV(p11p_cache_auth_get(c, P11P_ROLE_USER, &got), P11P_ERR_NOT_FOUND);
    CHECK_RV(p11p_cache_meta_get(c, "label", &s), P11P_OK);
    CHECK(s == NULL);
    CHECK_RV(p11p_cache_meta_get(c, "serial", &s), P11P_OK);
    CHECK_STR_EQ(s, "0123456789abcdef");
    free(s);
    CHECK_RV(p11p_cache_seq_peek(c, "mac", &v), P11P_OK);
    CHECK_INT_EQ(v, 16);
    CHECK(insert_obj(c, CKO_DATA, "n", "n", NULL, false) > id);
    p11p_cache_close(c);
}

/* ---- threads ---- */

static struct p11p_cache *thread_cache;

static void *thread_main(void *arg)
{
    long k = (long)arg;
    char label[32];
    int bad = 0;

    for (int i = 0; i < 50; i++) {
        struct p11p_cache_txn *t = NULL;
        struct p11p_cache_object o, got;
        struct p11p_cache_filter f;
        int64_t *ids = NULL;
        size_t n = 0;

        snprintf(label, sizeof(label), "t%ld-%d", k, i);
        memset(&o, 0, sizeof(o));
        o.klass = CKO_DATA;
        p11p_attrlist_set_str(&o.attrs, CKA_LABEL, label);
        if (p11p_cache_txn_begin(thread_cache, &t) != P11P_OK
            || p11p_cache_object_insert(t, &o, NULL) != P11P_OK
            || p11p_cache_txn_commit(t) != P11P_OK) {
            bad++;
        }
        memset(&f, 0, sizeof(f));
        f.label = label;
        f.label_len = strlen(label);
        if (p11p_cache_object_find(thread_cache, &f, &ids, &n) != P11P_OK
            || n != 1 || ids[0] != o.id) {
            bad++;
        }
        free(ids);
        if (p11p_cache_object_get(thread_cache, o.id, &got) != P11P_OK) {
            bad++;
        }
        p11p_cache_object_clear(&got);
        p11p_cache_object_clear(&o);
    }
    return (void *)(long)bad;
}

static void test_threads(void)
{
    pthread_t th[6];
    void *res;

    thread_cache = open_fresh("threads.db");
    if (thread_cache == NULL) {
        return;
    }
    for (long i = 0; i < 6; i++) {
        CHECK(pthread_create(&th[i], NULL, thread_main, (void *)i) == 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], &res);
        CHECK_INT_EQ((long)res, 0);
    }
    p11p_cache_close(thread_cache);
    thread_cache = NULL;
}

/* ---- processes ---- */

static void test_two_processes_see(void)
{
    char path[256];
    struct p11p_cache *c = open_fresh("procs.db");
    struct p11p_cache_filter f;
    int64_t *ids = NULL;
    size_t n = 0;
    uint64_t g1 = 0, g2 = 0;
    pid_t pid;
    int status = 0;

    if (c == NULL) {
        return;
    }
    path_in(path, sizeof(path), "procs.db");
    memset(&f, 0, sizeof(f));
    f.label = "from-child";
    f.label_len = 10;
    CHECK_RV(p11p_cache_object_find(c, &f, &ids, &n), P11P_OK);
    CHECK_INT_EQ(n, 0);
    CHECK_RV(p11p_cache_generation(c, &g1), P11P_OK);
    pid = fork();
    if (pid == 0) {
        struct p11p_cache *cc = NULL;
        p11p_cache_discard(c);
        if (p11p_cache_open(path, &cc) != P11P_OK
            || insert_obj(cc, CKO_DATA, "from-child", "c", NULL, false) <= 0) {
            _exit(1);
        }
        p11p_cache_close(cc);
        _exit(check_failures == 0 ? 0 : 1);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Seen without reopening, and the generation moved. */
    CHECK_RV(p11p_cache_object_find(c, &f, &ids, &n), P11P_OK);
    CHECK_INT_EQ(n, 1);
    free(ids);
    CHECK_RV(p11p_cache_generation(c, &g2), P11P_OK);
    CHECK(g2 != g1);
    p11p_cache_close(c);
}

#define SEQ_PER_PROC 200

static void seq_child(const char *path, int fd)
{
    struct p11p_cache *c = NULL;

    if (p11p_cache_open(path, &c) != P11P_OK) {
        _exit(1);
    }
    for (int i = 0; i < SEQ_PER_PROC; i++) {
        struct p11p_cache_txn *t = NULL;
        uint64_t v = 0;
        if (p11p_cache_txn_begin(c, &t) != P11P_OK
            || p11p_cache_seq_next(t, "mac", 1000, 3, 1000000, &v) != P11P_OK
            || p11p_cache_txn_commit(t) != P11P_OK
            || write(fd, &v, sizeof(v)) != (ssize_t)sizeof(v)) {
            _exit(2);
        }
    }
    p11p_cache_close(c);
    _exit(0);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_seq_two_processes(void)
{
    char path[256];
    struct p11p_cache *c = open_fresh("seq.db");
    uint64_t vals[2 * SEQ_PER_PROC];
    size_t got = 0;
    int fds[2][2];
    pid_t pids[2];
    int status = 0;

    p11p_cache_close(c);
    path_in(path, sizeof(path), "seq.db");
    for (int k = 0; k < 2; k++) {
        CHECK(pipe(fds[k]) == 0);
        pids[k] = fork();
        if (pids[k] == 0) {
            close(fds[k][0]);
            seq_child(path, fds[k][1]);
        }
        close(fds[k][1]);
    }
    for (int k = 0; k < 2; k++) {
        ssize_t r;
        while ((r = read(fds[k][0], &vals[got], sizeof(vals[0])))
                   == (ssize_t)sizeof(vals[0])
               && got < 2 * SEQ_PER_PROC) {
            got++;
        }
        close(fds[k][0]);
        CHECK(waitpid(pids[k], &status, 0) == pids[k]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK_INT_EQ(got, 2 * SEQ_PER_PROC);
    qsort(vals, got, sizeof(vals[0]), cmp_u64);
    for (size_t i = 1; i < got; i++) {
        CHECK(vals[i] != vals[i - 1]);
    }
}

/* ---- crash safety: kill -9 mid-write ---- */

static void crash_child(const char *path, unsigned seed)
{
    struct p11p_cache *c = NULL;
    char token[40];

    if (p11p_cache_open(path, &c) != P11P_OK) {
        _exit(1);
    }
    for (unsigned i = 0;; i++) {
        struct p11p_cache_txn *t = NULL;
        struct p11p_cache_object priv, pub;
        struct p11p_cache_keyblob kb = { "soft", (unsigned char *)"blob", 4 };
        struct p11p_order o;

        make_obj(&priv, CKO_PRIVATE_KEY, "k", "id", NULL);
        make_obj(&pub, CKO_PUBLIC_KEY, "k", "id", NULL);
        snprintf(token, sizeof(token), "crash-%u-%u", seed, i);
        fill_order(&o, token);
        if (p11p_cache_txn_begin(c, &t) != P11P_OK
            || p11p_cache_object_insert(t, &priv, &kb) != P11P_OK
            || p11p_cache_object_insert(t, &pub, NULL) != P11P_OK) {
            _exit(2);
        }
        o.priv_object_id = priv.id;
        o.pub_object_id = pub.id;
        if (p11p_cache_order_insert(t, &o) != P11P_OK
            || p11p_cache_txn_commit(t) != P11P_OK) {
            _exit(3);
        }
        p11p_order_clear(&o);
        p11p_cache_object_clear(&priv);
        p11p_cache_object_clear(&pub);
    }
}

static int count_rows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int n = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK
        && sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

static void test_kill9(void)
{
    char path[256];
    struct p11p_cache *c = open_fresh("crash.db");
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    p11p_cache_close(c);
    path_in(path, sizeof(path), "crash.db");
    srand((unsigned)time(NULL));
    for (unsigned round = 0; round < 20; round++) {
        pid_t pid = fork();
        int status = 0;
        if (pid == 0) {
            crash_child(path, round);
        }
        usleep((useconds_t)(1000 + rand() % 40000));
        kill(pid, SIGKILL);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFSIGNALED(status));
        /* The cache opens again after every crash. */
        c = NULL;
        CHECK_RV(p11p_cache_open(path, &c), P11P_OK);
        p11p_cache_close(c);
    }
    CHECK_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL)
              == SQLITE_OK
          && sqlite3_step(st) == SQLITE_ROW);
    CHECK_STR_EQ((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    CHECK(count_rows(db, "SELECT count(*) FROM orders") > 0);
    /* Every committed transaction is whole. */
    CHECK_INT_EQ(count_rows(db, "SELECT count(*) FROM objects o WHERE "
                                "class = 3 AND NOT EXISTS (SELECT 1 FROM "
                                "keyblobs k WHERE k.object_id = o.id)"),
                 0);
    CHECK_INT_EQ(count_rows(db, "SELECT count(*) FROM orders r WHERE NOT "
                                "EXISTS (SELECT 1 FROM objects o WHERE "
                                "o.id = r.priv_object_id) OR NOT EXISTS "
                                "(SELECT 1 FROM objects o WHERE o.id = "
                                "r.pub_object_id)"),
                 0);
    CHECK_INT_EQ(count_rows(db, "SELECT count(*) FROM objects")
                     - 2 * count_rows(db, "SELECT count(*) FROM orders"),
                 0);
    sqlite3_close(db);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/p11p-test-cache-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    CHECK_RUN(test_open_modes);
    CHECK_RUN(test_schema_versions);
    CHECK_RUN(test_objects);
    CHECK_RUN(test_corrupt_attrs);
    CHECK_RUN(test_orders);
    CHECK_RUN(test_meta_auth_seq_wipe);
    CHECK_RUN(test_threads);
    CHECK_RUN(test_two_processes_see);
    CHECK_RUN(test_seq_two_processes);
    CHECK_RUN(test_kill9);
    if (check_failures == 0
        && nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    return check_summary();
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The token's persistent store: the whole API of cache/ (STYLE.md 3.13).
 * Typed records in, typed records out; all SQL lives in cache/. SQLite in WAL
 * mode, file mode 0600, synchronous=FULL, secure_delete, schema versioned
 * with migrations. A crash at any instruction leaves a consistent database.
 *
 * Threads: a struct p11p_cache may be used by many threads at once. Reads
 * take a pooled connection for one statement; writes happen inside a
 * transaction (struct p11p_cache_txn, BEGIN IMMEDIATE) that owns its
 * connection until commit or rollback. Never hold a txn across network I/O.
 *
 * Processes: many processes may open the same file. Object ids are never
 * reused (AUTOINCREMENT), so an id seen once always names the same object.
 *
 * Fork: in a child, call p11p_cache_discard (never close inherited
 * connections) and open again.
 */
#ifndef P11P_CACHE_CACHE_H
#define P11P_CACHE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#include "core/base/attrlist.h"
#include "core/base/status.h"

struct p11p_cache;
struct p11p_cache_txn;

/* ---- opening ---- */

/* Opens (creating if needed, with parent folders of mode 0700) the database
 * at path and migrates it to the current schema. Refuses a group- or
 * world-readable file with P11P_ERR_CONFIG and a log line naming it.
 * Never scans tables: cost is flat in the number of objects. */
enum p11p_status p11p_cache_open(const char *path, struct p11p_cache **out);

/* Closes all connections. NULL-safe. */
void p11p_cache_close(struct p11p_cache *c);

/* After fork, in the child: forgets the inherited connections without
 * closing them (closing would drop the parent's POSIX locks) and frees the
 * rest. NULL-safe. */
void p11p_cache_discard(struct p11p_cache *c);

/* The schema version this code writes. */
int p11p_cache_schema_version(void);

/* A number that changes whenever any process commits a change to the
 * store. Cheap (no table scan). */
enum p11p_status p11p_cache_generation(struct p11p_cache *c, uint64_t *out);

/* ---- transactions ---- */

/* Starts a write transaction (BEGIN IMMEDIATE; waits up to the busy
 * timeout, a few seconds, then P11P_ERR_BUSY). */
enum p11p_status p11p_cache_txn_begin(struct p11p_cache *c,
                                      struct p11p_cache_txn **out);

/* Commits and frees t. On failure the transaction is rolled back and t is
 * freed all the same. */
enum p11p_status p11p_cache_txn_commit(struct p11p_cache_txn *t);

/* Rolls back and frees t. NULL-safe. */
void p11p_cache_txn_rollback(struct p11p_cache_txn *t);

/* ---- token metadata: small key/value pairs ---- */
/* Known keys: "label", "serial", "initialized" ("1"), "user_pin_set". */

/* *out is a new string, or NULL if the key is absent (still P11P_OK). */
enum p11p_status p11p_cache_meta_get(struct p11p_cache *c, const char *key,
                                     char **out);
enum p11p_status p11p_cache_meta_set(struct p11p_cache_txn *t, const char *key,
                                     const char *value);

/* ---- authentication records (soft backend) ---- */

enum p11p_cache_role {
    P11P_ROLE_SO = 0,
    P11P_ROLE_USER = 1,
};

/* The master key wrapped under a PIN-derived key. Not secret at rest (it is
 * encrypted), but never logged. */
struct p11p_cache_auth {
    enum p11p_cache_role role;
    char kdf[16]; /* "pbkdf2-sha256" */
    unsigned char salt[32];
    size_t salt_len;
    uint32_t iterations;
    unsigned char *wrapped; /* AES-256-GCM: iv || ciphertext || tag */
    size_t wrapped_len;
    uint32_t fail_count; /* consecutive wrong PINs */
};

/* P11P_ERR_NOT_FOUND if the role has no PIN yet. Free with
 * p11p_cache_auth_clear. */
enum p11p_status p11p_cache_auth_get(struct p11p_cache *c,
                                     enum p11p_cache_role role,
                                     struct p11p_cache_auth *out);
enum p11p_status p11p_cache_auth_put(struct p11p_cache_txn *t,
                                     const struct p11p_cache_auth *a);
/* Sets fail_count (0 after a good PIN, +1 after a bad one). */
enum p11p_status p11p_cache_auth_set_fails(struct p11p_cache_txn *t,
                                           enum p11p_cache_role role,
                                           uint32_t fail_count);
void p11p_cache_auth_clear(struct p11p_cache_auth *a);

/* ---- objects ---- */

/* One token object. attrs holds every non-secret attribute (CKA_CLASS,
 * CKA_LABEL, CKA_ID, CKA_VALUE of certificates, ...). The indexed columns
 * are copies of attributes, kept in step by the cache. */
struct p11p_cache_object {
    int64_t id;            /* row id: the object handle; set by insert */
    CK_OBJECT_CLASS klass; /* copy of CKA_CLASS */
    struct p11p_attrlist attrs;
    int64_t order_id; /* the order that created or concerns it, 0 if none */
};

/* A key backend's blob for a private key object: sealed key material (soft)
 * or a reference into the backing HSM (hsm). */
struct p11p_cache_keyblob {
    char backend[16]; /* "soft" or "hsm" */
    unsigned char *blob;
    size_t blob_len;
};

/* Indexed pre-filter for finds: each field is optional. The caller matches
 * the full template on the rows returned. */
struct p11p_cache_filter {
    bool has_class;
    CK_OBJECT_CLASS klass;
    const char *label;          /* exact, NUL-terminated; NULL = any */
    size_t label_len;           /* length of label (labels may hold any byte) */
    const unsigned char *ckaid; /* NULL = any */
    size_t ckaid_len;
    const unsigned char *value_sha256; /* 32 bytes of SHA-256(CKA_VALUE);
                                          NULL = any */
};

/* Inserts obj (its id is set on success) and, when key is not NULL, its
 * key blob. */
enum p11p_status p11p_cache_object_insert(struct p11p_cache_txn *t,
                                          struct p11p_cache_object *obj,
                                          const struct p11p_cache_keyblob *key);

/* Replaces the attributes (and order id) of object obj->id.
 * P11P_ERR_NOT_FOUND if it is gone. */
enum p11p_status p11p_cache_object_update(struct p11p_cache_txn *t,
                                          const struct p11p_cache_object *obj);

/* Deletes an object and its key blob. P11P_ERR_NOT_FOUND if absent. */
enum p11p_status p11p_cache_object_delete(struct p11p_cache_txn *t, int64_t id);

/* Loads one object. P11P_ERR_NOT_FOUND if absent; P11P_ERR_CORRUPT (logged
 * with the row id) if its stored attributes do not decode. Free with
 * p11p_cache_object_clear. */
enum p11p_status p11p_cache_object_get(struct p11p_cache *c, int64_t id,
                                       struct p11p_cache_object *out);

/* Same, inside a transaction (reads what the transaction wrote). */
enum p11p_status p11p_cache_object_get_txn(struct p11p_cache_txn *t, int64_t id,
                                           struct p11p_cache_object *out);

void p11p_cache_object_clear(struct p11p_cache_object *o);

/* Ids of the objects passing the filter, ascending, through the indexes.
 * *out_ids is a new array (caller frees; NULL when *out_n is 0). */
enum p11p_status p11p_cache_object_find(struct p11p_cache *c,
                                        const struct p11p_cache_filter *f,
                                        int64_t **out_ids, size_t *out_n);

/* The key blob of a private key object. P11P_ERR_NOT_FOUND if none. Free
 * with p11p_cache_keyblob_clear. */
enum p11p_status p11p_cache_keyblob_get(struct p11p_cache *c, int64_t id,
                                        struct p11p_cache_keyblob *out);
void p11p_cache_keyblob_clear(struct p11p_cache_keyblob *k);

/* ---- orders ---- */

/* Values are stored: never renumber. Transitions: core/enroll/order.c. */
enum p11p_order_state {
    P11P_ORDER_NEW = 0,
    P11P_ORDER_SUBMITTING = 1, /* request may be in flight: reconcile */
    P11P_ORDER_SUBMITTED = 2,
    P11P_ORDER_PENDING_APPROVAL = 3,
    P11P_ORDER_PROCESSING = 4,
    P11P_ORDER_ISSUED = 5,
    P11P_ORDER_REJECTED = 6,
    P11P_ORDER_FAILED = 7,
    P11P_ORDER_RENEWED = 8,
    P11P_ORDER_REVOKED = 9,
    P11P_ORDER_EXPIRED = 10,
};
#define P11P_ORDER_STATE_COUNT 11

struct p11p_order {
    int64_t id;
    enum p11p_order_state state;
    char request_token[40]; /* unique, sent to the portal where possible */
    char *driver;
    char *profile; /* NULL: driver default */
    char *label;
    unsigned char ckaid[64];
    size_t ckaid_len;
    char *subject; /* expanded DN */
    char *sans;    /* expanded SANs or NULL */
    char *mac;     /* "aa:bb:..", or NULL */
    unsigned term_days;
    unsigned char *csr_der; /* NULL until built */
    size_t csr_len;
    unsigned char pubkey_sha256[32]; /* of the SubjectPublicKeyInfo DER */
    char *portal_id;                 /* NULL until the portal names it */
    char *last_error;                /* human text, NULL if none */
    int64_t priv_object_id;
    int64_t pub_object_id;
    int64_t cert_object_id;  /* 0 until issued */
    int64_t data_object_id;  /* the CKO_DATA order object */
    int64_t renews_order_id; /* 0 unless a renewal */
    int64_t created;         /* unix seconds */
    int64_t updated;
    int64_t next_attempt; /* unix seconds; 0 = now */
    uint32_t attempts;    /* submissions and polls so far */
};

/* Inserts order (id, created, updated set on success). The request token
 * must be unique (P11P_ERR_EXISTS otherwise). */
enum p11p_status p11p_cache_order_insert(struct p11p_cache_txn *t,
                                         struct p11p_order *order);

/* Writes every field of order if its stored state is still expect_state
 * (compare-and-set). P11P_ERR_BUSY if another process changed it first,
 * P11P_ERR_NOT_FOUND if gone. Sets updated. */
enum p11p_status p11p_cache_order_update(struct p11p_cache_txn *t,
                                         struct p11p_order *order,
                                         enum p11p_order_state expect_state);

enum p11p_status p11p_cache_order_get(struct p11p_cache *c, int64_t id,
                                      struct p11p_order *out);
enum p11p_status p11p_cache_order_get_txn(struct p11p_cache_txn *t, int64_t id,
                                          struct p11p_order *out);
enum p11p_status p11p_cache_order_find_token(struct p11p_cache *c,
                                             const char *request_token,
                                             struct p11p_order *out);

/* Orders whose state is in state_mask (bit 1<<state) and, if due_before is
 * non-zero, whose next_attempt <= due_before; oldest first, at most limit
 * (0 = no limit). *out is a new array; free with p11p_cache_order_list_free. */
enum p11p_status p11p_cache_order_list(struct p11p_cache *c,
                                       uint32_t state_mask, int64_t due_before,
                                       size_t limit, struct p11p_order **out,
                                       size_t *out_n);
void p11p_cache_order_list_free(struct p11p_order *orders, size_t n);

/* Frees the fields of an order (not the struct). NULL-safe. */
void p11p_order_clear(struct p11p_order *o);

/* ---- orders by MAC and by label (cache/batch.c, p11portal batch) ---- */

/* *out true if an order of the token other than a REJECTED one has the
 * MAC mac ("aa:bb:cc:dd:ee:ff", as orders store it), inside t (so that the
 * check and the insert of a new order are one atomic step). */
enum p11p_status p11p_cache_order_mac_used(struct p11p_cache_txn *t,
                                           const char *mac, bool *out);

/* The id of the newest order with that MAC, or with that label;
 * P11P_ERR_NOT_FOUND if none. */
enum p11p_status p11p_cache_order_newest_by_mac(struct p11p_cache *c,
                                                const char *mac,
                                                int64_t *out_id);
enum p11p_status p11p_cache_order_newest_by_label(struct p11p_cache *c,
                                                  const char *label,
                                                  int64_t *out_id);

/* ---- order locks: one process submits or polls an order at a time ---- */

/* Takes the lock on order id for owner (a unique string per process and
 * call) for ttl_s seconds. A lock whose time has passed is taken over, so a
 * crashed holder cannot keep it. P11P_ERR_BUSY if another owner holds it.
 * Commits on its own (not inside a caller's transaction). */
enum p11p_status p11p_cache_lock_acquire(struct p11p_cache *c, int64_t id,
                                         const char *owner, unsigned ttl_s);
/* Releases it if owner still holds it. */
enum p11p_status p11p_cache_lock_release(struct p11p_cache *c, int64_t id,
                                         const char *owner);

/* ---- sequences (MAC addresses), consumed atomically across processes ---- */

/* Returns the next value of sequence name (start on first use), then
 * advances it by increment, inside t: a committed transaction consumes the
 * value for good, a rolled-back one gives it back. BEGIN IMMEDIATE makes
 * this atomic across processes. P11P_ERR_EXHAUSTED if the value would pass
 * end. */
enum p11p_status p11p_cache_seq_next(struct p11p_cache_txn *t, const char *name,
                                     uint64_t start, uint64_t increment,
                                     uint64_t end, uint64_t *out);

/* The next value that seq_next would return, without consuming it.
 * P11P_ERR_NOT_FOUND if the sequence was never used. */
enum p11p_status p11p_cache_seq_peek(struct p11p_cache *c, const char *name,
                                     uint64_t *out);

/* ---- wiping ---- */

/* Deletes every object, key blob, order and auth record (C_InitToken).
 * Sequences are kept, so a re-initialised token never reuses a MAC. */
enum p11p_status p11p_cache_wipe(struct p11p_cache_txn *t);

#endif

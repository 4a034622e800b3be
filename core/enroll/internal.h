/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside core/enroll/: the engine struct and the functions engine.c,
 * submit.c and store.c share. engine.c creates orders (key pair + order, or
 * an application's CSR) and runs the wait loop and the background
 * collection; submit.c moves orders (transition table + compare-and-set
 * write + order object), talks to the driver and applies its answers;
 * store.c checks and stores issued certificates.
 */
#ifndef P11P_CORE_ENROLL_INTERNAL_H
#define P11P_CORE_ENROLL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/enroll/enroll.h"
#include "core/enroll/order.h"

#define P11P_ENROLL_MAX_EVENTS 3

struct p11p_enroll {
    const struct p11p_conf_token *conf; /* borrowed */
    struct p11p_cache *cache;           /* borrowed */
    struct p11p_keystore *keys;         /* borrowed */
    struct p11p_remote *remote;         /* owned */
};

/* The token's name for log lines; never NULL. */
const char *p11p_submit_token_name(const struct p11p_enroll *e);

/* Replaces *field with a copy of value (NULL clears it). */
enum p11p_status p11p_submit_set_str(char **field, const char *value);

/* bytes random bytes (at most 32) as hex into out (2*bytes+1). */
enum p11p_status p11p_submit_random_hex(char *out, size_t bytes);

/* A unique order-lock owner ("pid-<pid>-<random>") and the lease time. */
enum p11p_status p11p_submit_lock_owner(char out[64]);
unsigned p11p_submit_lock_ttl(const struct p11p_enroll *e);

/* Takes order id's lock for owner (P11P_ERR_BUSY if another process holds
 * it). A lock whose holder died on this machine (same PID namespace and
 * boot, pid gone) is taken over at once instead of after its lease. */
enum p11p_status p11p_submit_lock(struct p11p_enroll *e, int64_t id,
                                  const char *owner);

/* Sets o's next attempt after o->attempts consecutive failures: 5 s
 * doubling up to an hour, or the portal's Retry-After when longer. */
void p11p_submit_retry_later(struct p11p_order *o, unsigned retry_after_s);

/* How many consecutive answers with a certificate that does not check out
 * (wrong key, chain not verifying, no certificate) an order takes before it
 * is FAILED: the portal keeps the right one, a transfer may spoil it. */
#define P11P_ENROLL_MAX_BAD_CERTS 5

/* Writes o (compare-and-set on expect) and rebuilds its order object, in
 * t. P11P_ERR_BUSY if another process changed the order first. */
enum p11p_status p11p_submit_write_order(struct p11p_cache_txn *t,
                                         struct p11p_order *o,
                                         enum p11p_order_state expect);

/* Moves o through evs (each checked against the transition table; n may be
 * 0 for a plain save) and writes it, in t or, when t is NULL, in its own
 * transaction (then the change is logged). o->state is restored on
 * failure. */
enum p11p_status p11p_submit_advance(struct p11p_enroll *e,
                                     struct p11p_cache_txn *t,
                                     struct p11p_order *o,
                                     const enum p11p_order_event *evs,
                                     size_t n);
enum p11p_status p11p_submit_advance1(struct p11p_enroll *e,
                                      struct p11p_order *o,
                                      enum p11p_order_event ev);

/* Logs "order N (label L): from -> to, portal id P" at info level. */
void p11p_submit_log_change(struct p11p_enroll *e, const struct p11p_order *o,
                            enum p11p_order_state from);

/* The driver request of order o (fields borrowed from o). */
void p11p_submit_fill_req(const struct p11p_order *o,
                          struct p11p_enroll_req *req);

/* Caller holds o's lock. NEW -> SUBMITTING (committed) -> driver enroll
 * -> the answer applied. sync: inside p11p_enroll_keypair (a rejection
 * then drops the key objects unless keep_key_on_reject). *out_driver is
 * the driver's status. Blocks on the network. */
enum p11p_status p11p_submit_order_locked(struct p11p_enroll *e,
                                          struct p11p_order *o, bool sync,
                                          enum p11p_status *out_driver);

/* Caller holds o's lock: polls a SUBMITTED/PENDING/PROCESSING order.
 * sync as for p11p_submit_order_locked. Blocks on the network. */
enum p11p_status p11p_submit_poll_locked(struct p11p_enroll *e,
                                         struct p11p_order *o, bool sync);

/* Caller holds o's lock: one step for o's state (submit NEW, reconcile
 * SUBMITTING, poll the pending states; nothing for a final state). sync:
 * inside p11p_enroll_keypair (a rejection drops the key objects). */
enum p11p_status p11p_submit_step_locked(struct p11p_enroll *e,
                                         struct p11p_order *o, bool sync);

/* Takes order id's lock (skips if another owner holds it) and runs one
 * step: submit NEW, reconcile SUBMITTING, poll the pending states. */
enum p11p_status p11p_submit_step(struct p11p_enroll *e, int64_t id);

/* Inserts one CA certificate of a chain as a certificate object (category
 * authority, CKA_LABEL its CN, CKA_ID its subject key id) in t, unless the
 * token already has an equal certificate object (committed). Used by
 * p11p_store_issued and p11p_enroll_import (import.c). */
enum p11p_status p11p_store_chain_cert(struct p11p_enroll *e,
                                       struct p11p_cache_txn *t,
                                       const unsigned char *der, size_t len);

/* o REJECTED with message (logged), its key objects deleted if drop_keys,
 * in one transaction (issue 7: used by job.c). */
enum p11p_status p11p_submit_reject(struct p11p_enroll *e, struct p11p_order *o,
                                    const char *message, bool drop_keys);

/* ---- job.c: portal batch jobs (issue 7) ---- */

/* portal_id of a NEW order made with defer_submit, waiting for its job. */
#define P11P_JOB_PENDING "job-pending"
/* next_attempt of job orders: the per-order collector never lists them. */
#define P11P_JOB_PARKED (INT64_C(1) << 62)

/* True if o belongs to a portal job (job-pending or a job item): it is
 * never submitted or polled on its own. */
bool p11p_job_member(const struct p11p_order *o);

/* Marks o (before insertion) as waiting for a portal job. */
enum p11p_status p11p_job_defer(struct p11p_order *o);

/* The collector's job pass: polls each portal job once for all its orders
 * (order locks respected), reconciles jobs whose submission outcome is
 * unknown, until deadline. *changed counts orders that changed state. */
enum p11p_status p11p_job_collect(struct p11p_enroll *e, uint64_t deadline,
                                  size_t *changed);

/* Checks res's certificate and stores it with its chain (order ISSUED), or
 * marks the order FAILED with the reason (logged). */
enum p11p_status p11p_store_issued(struct p11p_enroll *e, struct p11p_order *o,
                                   const struct p11p_remote_result *res);

/* ---- engine.c, shared with renew.c and adopt.c (issue 7) ---- */

/* Generates the key pair of spec in the keystore and completes pub_attrs
 * and priv_attrs as p11p_enroll_keypair does (CKA_ID defaulted when neither
 * list has one, public key attributes on both), setting o's pubkey_sha256,
 * ckaid and ckaid_len. On failure nothing is left in the keystore. */
enum p11p_status
p11p_engine_generate(struct p11p_enroll *e, const struct p11p_keygen_spec *spec,
                     struct p11p_attrlist *pub_attrs,
                     struct p11p_attrlist *priv_attrs, EVP_PKEY **out_pub,
                     struct p11p_cache_keyblob *out_blob, struct p11p_order *o);

/* Inserts a key pair's objects in t: the public key object (pub_attrs)
 * and the private key object (priv_attrs) with its key blob. pubobj and
 * privobj (zeroed by the caller) receive them with their ids. */
enum p11p_status p11p_engine_insert_keys(struct p11p_cache_txn *t,
                                         const struct p11p_attrlist *pub_attrs,
                                         const struct p11p_attrlist *priv_attrs,
                                         const struct p11p_cache_keyblob *blob,
                                         struct p11p_cache_object *pubobj,
                                         struct p11p_cache_object *privobj);

/* Inserts order o for the key pair stored by p11p_engine_insert_keys (its
 * object ids, then the order and its order object, then both key objects
 * tagged with the order id), in t. */
enum p11p_status
p11p_engine_insert_order_for(struct p11p_cache_txn *t, struct p11p_order *o,
                             struct p11p_cache_object *pubobj,
                             struct p11p_cache_object *privobj);

/* Inserts order o (NEW, a fresh request token) and its CKO_DATA order
 * object, linked, in t. */
enum p11p_status p11p_engine_insert_order(struct p11p_cache_txn *t,
                                          struct p11p_order *o);

/* Sets CKA_P11PORTAL_ORDER_ID of a stored key object and writes it (in t). */
enum p11p_status p11p_engine_tag_object(struct p11p_cache_txn *t,
                                        struct p11p_cache_object *obj,
                                        int64_t order_id);

/* Submits the stored NEW order o and steps it within the token's wait
 * budget (as p11p_enroll_keypair); own_keys: a synchronous rejection drops
 * o's key objects. Fills out. */
enum p11p_status p11p_engine_run_order(struct p11p_enroll *e,
                                       struct p11p_order *o, bool own_keys,
                                       struct p11p_enroll_result *out);

/* renew.c: sends a renewal order (renews_order_id set) through the
 * driver's renew op with the renewed order's portal id, or its enroll op
 * when the driver has none. Blocks on the network. */
enum p11p_status p11p_renew_send(struct p11p_enroll *e,
                                 const struct p11p_order *o,
                                 const struct p11p_enroll_req *req,
                                 struct p11p_remote_result *res);

/* renew.c: in t, after renewal order o was issued: the renewed order
 * becomes RENEWED (if still ISSUED). */
enum p11p_status p11p_renew_finish(struct p11p_enroll *e,
                                   struct p11p_cache_txn *t,
                                   const struct p11p_order *o);

#endif

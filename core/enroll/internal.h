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

/* Checks res's certificate and stores it with its chain (order ISSUED), or
 * marks the order FAILED with the reason (logged). */
enum p11p_status p11p_store_issued(struct p11p_enroll *e, struct p11p_order *o,
                                   const struct p11p_remote_result *res);

#endif

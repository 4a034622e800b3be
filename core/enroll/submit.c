/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Moving orders (see internal.h): every state change through the
 * transition table and a compare-and-set write together with the order
 * object; submitting (SUBMITTING committed before the driver is called),
 * polling, reconciling SUBMITTING orders through the driver's find, and
 * applying a driver's answer. Callers hold the order's lock; nothing here
 * holds a transaction across a driver call.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/ossl.h"
#include "core/base/str.h"
#include "core/enroll/csr.h"
#include "core/enroll/internal.h"
#include "core/enroll/order.h"
#include "core/enroll/orderobj.h"
#include "core/enroll/verify.h"
#include "p11portal/pkcs11-vendor.h"

#define COMP "enroll"

#define BACKOFF_BASE_S 5
#define BACKOFF_MAX_S  3600
/* Added to the request timeout before an unknown outcome is reconciled. */
#define RECONCILE_MARGIN_S 5

/* ---- small helpers ---- */

const char *p11p_submit_token_name(const struct p11p_enroll *e)
{
    return e->conf->name != NULL ? e->conf->name : "?";
}

enum p11p_status p11p_submit_set_str(char **field, const char *value)
{
    char *copy = NULL;
    if (value != NULL) {
        copy = strdup(value);
        if (copy == NULL) {
            return P11P_ERR_NOMEM;
        }
    }
    free(*field);
    *field = copy;
    return P11P_OK;
}

enum p11p_status p11p_submit_random_hex(char *out, size_t bytes)
{
    unsigned char r[32];
    if (bytes > sizeof(r)
        || RAND_bytes_ex(p11p_ossl_libctx(), r, bytes, 0) != 1) {
        return P11P_ERR_CRYPTO;
    }
    p11p_str_hex(r, bytes, out);
    return P11P_OK;
}

/* "pid-<pid>-<random>": unique per process and call. */
enum p11p_status p11p_submit_lock_owner(char out[64])
{
    char r[17];
    enum p11p_status rc = p11p_submit_random_hex(r, 8);
    if (rc == P11P_OK) {
        snprintf(out, 64, "pid-%ld-%s", (long)getpid(), r);
    }
    return rc;
}

unsigned p11p_submit_lock_ttl(const struct p11p_enroll *e)
{
    return e->conf->timeout_ms / 1000 + e->conf->enroll_wait_ms / 1000 + 60;
}

/* ---- order locks with a dead holder taken over at once ----
 *
 * The cache's lock is a lease: a crashed holder keeps it until its time
 * passes (p11p_submit_lock_ttl, a minute or more). On the same machine we
 * can do better: next to the lock, the holder records its owner string
 * (which starts with its pid) with its PID namespace and boot id in the
 * token's metadata. A process that finds the lock busy reads that record,
 * and if the holder ran in the same PID namespace of the same boot and its
 * pid no longer exists, takes the lock over (re-acquiring as the dead
 * owner, releasing, acquiring as itself: two processes doing so at once
 * still end with one holder). Anything uncertain (another namespace or
 * boot, a reused pid, no record) waits for the lease, the safe side.
 */

/* "<pid-namespace> <boot id>" of this process, or "" if unknown. */
static void host_tag(char *out, size_t outsz)
{
    char ns[64];
    char boot[64];
    ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

    out[0] = '\0';
    boot[0] = '\0';
    if (f != NULL) {
        if (fgets(boot, sizeof(boot), f) == NULL) {
            boot[0] = '\0';
        }
        fclose(f);
    }
    boot[strcspn(boot, "\n")] = '\0';
    if (n > 0 && boot[0] != '\0') {
        ns[n] = '\0';
        snprintf(out, outsz, "%s %s", ns, boot);
    }
}

static void lock_key(int64_t id, char out[48])
{
    snprintf(out, 48, "order_lock_holder:%" PRId64, id);
}

/* Records owner as the holder of order id's lock (best effort). */
static void record_holder(struct p11p_enroll *e, int64_t id, const char *owner)
{
    char key[48];
    char tag[160];
    char val[256];
    struct p11p_cache_txn *t = NULL;

    host_tag(tag, sizeof(tag));
    if (tag[0] == '\0') {
        return;
    }
    lock_key(id, key);
    snprintf(val, sizeof(val), "%s %s", owner, tag);
    if (p11p_cache_txn_begin(e->cache, &t) == P11P_OK
        && p11p_cache_meta_set(t, key, val) == P11P_OK
        && p11p_cache_txn_commit(t) == P11P_OK) {
        t = NULL;
    }
    p11p_cache_txn_rollback(t);
}

/* True, with its owner string, if order id's recorded holder is a process
 * of this PID namespace and boot that no longer exists. */
static bool holder_is_dead(struct p11p_enroll *e, int64_t id, char owner[64])
{
    char key[48];
    char tag[160];
    char *val = NULL;
    char *sp = NULL;
    long pid = 0;
    bool dead = false;

    lock_key(id, key);
    host_tag(tag, sizeof(tag));
    if (tag[0] == '\0' || p11p_cache_meta_get(e->cache, key, &val) != P11P_OK
        || val == NULL) {
        goto out;
    }
    sp = strchr(val, ' ');
    if (sp == NULL || strcmp(sp + 1, tag) != 0 || (size_t)(sp - val) >= 64
        || sscanf(val, "pid-%ld-", &pid) != 1 || pid <= 0
        || pid == (long)getpid()) {
        goto out;
    }
    if (kill((pid_t)pid, 0) == -1 && errno == ESRCH) {
        memcpy(owner, val, (size_t)(sp - val));
        owner[sp - val] = '\0';
        dead = true;
    }
out:
    free(val);
    return dead;
}

enum p11p_status p11p_submit_lock(struct p11p_enroll *e, int64_t id,
                                  const char *owner)
{
    unsigned ttl = p11p_submit_lock_ttl(e);
    char dead[64];
    enum p11p_status rc = p11p_cache_lock_acquire(e->cache, id, owner, ttl);

    if (rc == P11P_ERR_BUSY && holder_is_dead(e, id, dead)
        && p11p_cache_lock_acquire(e->cache, id, dead, ttl) == P11P_OK) {
        P11P_WARN(COMP,
                  "token \"%s\": order %" PRId64 ": the process that held "
                  "its lock (%s) is gone; taking the order over",
                  p11p_submit_token_name(e), id, dead);
        p11p_cache_lock_release(e->cache, id, dead);
        rc = p11p_cache_lock_acquire(e->cache, id, owner, ttl);
    }
    if (rc == P11P_OK) {
        record_holder(e, id, owner);
    }
    return rc;
}

/* How long after a request whose outcome is unknown left (or may have
 * left) the order is first reconciled: a request can be at work at the
 * portal after the client gave up on it (timeout_ms) or died, and a search
 * that runs before it lands would wrongly prove it absent (found by
 * sim_kill9: a second order). Not for an in-process driver. */
static int64_t quiet_s(const struct p11p_enroll *e)
{
    if (p11p_remote_driver(e->remote)->in_process) {
        return 0;
    }
    return (int64_t)(e->conf->timeout_ms / 1000) + RECONCILE_MARGIN_S;
}

/* Seconds until the next attempt after n consecutive failed attempts (5 s
 * doubling, at most 1 h), or the portal's Retry-After when longer. */
static int64_t backoff_s(uint32_t attempts, unsigned retry_after)
{
    int64_t s = BACKOFF_BASE_S;
    for (uint32_t i = 1; i < attempts && s < BACKOFF_MAX_S; i++) {
        s *= 2;
    }
    if (s > BACKOFF_MAX_S) {
        s = BACKOFF_MAX_S;
    }
    return retry_after > s ? (int64_t)retry_after : s;
}

void p11p_submit_retry_later(struct p11p_order *o, unsigned retry_after_s)
{
    o->next_attempt = p11p_clock_now() + backoff_s(o->attempts, retry_after_s);
}

/* ---- persisting an order and its object ---- */

/* Writes o (compare-and-set on expect) and rebuilds its order object, in
 * t. */
enum p11p_status p11p_submit_write_order(struct p11p_cache_txn *t,
                                         struct p11p_order *o,
                                         enum p11p_order_state expect)
{
    struct p11p_cache_object obj;
    enum p11p_status rc;

    memset(&obj, 0, sizeof(obj));
    rc = p11p_cache_order_update(t, o, expect);
    if (rc != P11P_OK || o->data_object_id == 0) {
        return rc;
    }
    obj.id = o->data_object_id;
    obj.klass = CKO_DATA;
    obj.order_id = o->id;
    rc = p11p_orderobj_attrs(o, &obj.attrs);
    if (rc == P11P_OK) {
        rc = p11p_cache_object_update(t, &obj);
    }
    p11p_attrlist_clear(&obj.attrs);
    return rc;
}

/* Applies events to o in memory, each checked against the table. */
static enum p11p_status walk(struct p11p_enroll *e, struct p11p_order *o,
                             const enum p11p_order_event *evs, size_t n)
{
    enum p11p_order_state s = o->state;
    for (size_t i = 0; i < n; i++) {
        if (p11p_order_transition(s, evs[i], &s) != P11P_OK) {
            P11P_ERROR(COMP,
                       "token \"%s\": order %" PRId64 ": no transition from "
                       "%s on event %s",
                       p11p_submit_token_name(e), o->id,
                       p11p_order_state_name(s), p11p_order_event_name(evs[i]));
            return P11P_ERR_INTERNAL;
        }
    }
    o->state = s;
    return P11P_OK;
}

void p11p_submit_log_change(struct p11p_enroll *e, const struct p11p_order *o,
                            enum p11p_order_state from)
{
    if (from == o->state) {
        return;
    }
    P11P_INFO(COMP, "token \"%s\": order %" PRId64 " (label %s): %s -> %s%s%s",
              p11p_submit_token_name(e), o->id,
              o->label != NULL ? o->label : "", p11p_order_state_name(from),
              p11p_order_state_name(o->state),
              o->portal_id != NULL ? ", portal id " : "",
              o->portal_id != NULL ? o->portal_id : "");
}

/* Moves o through evs (possibly none: a save) in its own transaction, or
 * in t when given. On failure o->state is restored. */
enum p11p_status p11p_submit_advance(struct p11p_enroll *e,
                                     struct p11p_cache_txn *t,
                                     struct p11p_order *o,
                                     const enum p11p_order_event *evs, size_t n)
{
    enum p11p_order_state from = o->state;
    struct p11p_cache_txn *own = NULL;
    enum p11p_status rc;

    rc = walk(e, o, evs, n);
    if (rc != P11P_OK) {
        goto out;
    }
    if (t == NULL) {
        rc = p11p_cache_txn_begin(e->cache, &own);
        if (rc != P11P_OK) {
            goto out;
        }
    }
    rc = p11p_submit_write_order(t != NULL ? t : own, o, from);
    if (rc == P11P_OK && own != NULL) {
        rc = p11p_cache_txn_commit(own);
        own = NULL;
    }
    if (rc == P11P_OK && t == NULL) {
        p11p_submit_log_change(e, o, from);
    }
out:
    p11p_cache_txn_rollback(own);
    if (rc != P11P_OK) {
        o->state = from;
    }
    return rc;
}

enum p11p_status p11p_submit_advance1(struct p11p_enroll *e,
                                      struct p11p_order *o,
                                      enum p11p_order_event ev)
{
    return p11p_submit_advance(e, NULL, o, &ev, 1);
}

/* ---- handling a driver's answer ---- */

/* Deletes the key objects of a synchronously rejected order (in t). */
static enum p11p_status drop_keys(struct p11p_enroll *e,
                                  struct p11p_cache_txn *t,
                                  const struct p11p_order *o)
{
    struct p11p_cache_keyblob blob;
    enum p11p_status rc = P11P_OK;

    memset(&blob, 0, sizeof(blob));
    if (o->priv_object_id != 0
        && p11p_cache_keyblob_get(e->cache, o->priv_object_id, &blob)
               == P11P_OK) {
        /* hsm: the backing key goes too; soft: nothing beyond the row. */
        p11p_keystore_destroy(e->keys, &blob);
    }
    p11p_cache_keyblob_clear(&blob);
    if (o->priv_object_id != 0) {
        rc = p11p_cache_object_delete(t, o->priv_object_id);
    }
    if ((rc == P11P_OK || rc == P11P_ERR_NOT_FOUND) && o->pub_object_id != 0) {
        rc = p11p_cache_object_delete(t, o->pub_object_id);
    }
    return rc == P11P_ERR_NOT_FOUND ? P11P_OK : rc;
}

static enum p11p_status reject(struct p11p_enroll *e, struct p11p_order *o,
                               const char *message, bool drop)
{
    enum p11p_order_event evs[P11P_ENROLL_MAX_EVENTS];
    size_t n = 0;
    enum p11p_order_state from = o->state;
    struct p11p_cache_txn *t = NULL;
    enum p11p_status rc;

    if (o->state == P11P_ORDER_SUBMITTED || o->state == P11P_ORDER_SUBMITTING
        || o->state == P11P_ORDER_PENDING_APPROVAL
        || o->state == P11P_ORDER_PROCESSING) {
        evs[n++] = P11P_ORDER_EV_REJECT;
    }
    P11P_ERROR(
        COMP,
        "token \"%s\": order %" PRId64 " (label %s) rejected by the "
        "portal: %s",
        p11p_submit_token_name(e), o->id, o->label != NULL ? o->label : "",
        message != NULL && message[0] != '\0' ? message : "(no message)");
    rc = p11p_submit_set_str(
        &o->last_error,
        message != NULL && message[0] != '\0' ? message : "rejected");
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_begin(e->cache, &t);
    }
    if (rc == P11P_OK && drop) {
        rc = drop_keys(e, t, o);
    }
    if (rc == P11P_OK) {
        rc = p11p_submit_advance(e, t, o, evs, n);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_commit(t);
        t = NULL;
    }
    if (rc == P11P_OK) {
        p11p_submit_log_change(e, o, from);
    }
    p11p_cache_txn_rollback(t);
    return rc;
}

enum p11p_status p11p_submit_reject(struct p11p_enroll *e, struct p11p_order *o,
                                    const char *message, bool drop_keys)
{
    return reject(e, o, message, drop_keys);
}

/* Keeps the order where it is, with an error and a later next attempt. */
static enum p11p_status defer(struct p11p_enroll *e, struct p11p_order *o,
                              const struct p11p_remote_result *res,
                              enum p11p_status st, bool back_to_new)
{
    enum p11p_order_event ev = P11P_ORDER_EV_NOT_ARRIVED;
    enum p11p_status rc;
    char msg[640];

    snprintf(msg, sizeof(msg), "%s%s%s", p11p_status_text(st),
             res->message[0] != '\0' ? ": " : "", res->message);
    P11P_WARN(COMP, "token \"%s\": order %" PRId64 " (label %s): %s; %s",
              p11p_submit_token_name(e), o->id,
              o->label != NULL ? o->label : "", msg,
              back_to_new ? "will submit again later"
                          : "will check with the portal later");
    p11p_submit_retry_later(o, res->retry_after_s);
    if (!back_to_new && o->next_attempt < p11p_clock_now() + quiet_s(e)) {
        /* The request may still be at work at the portal. */
        o->next_attempt = p11p_clock_now() + quiet_s(e);
    }
    rc = p11p_submit_set_str(&o->last_error, msg);
    if (rc != P11P_OK) {
        return rc;
    }
    return p11p_submit_advance(e, NULL, o, &ev, back_to_new ? 1 : 0);
}

/* Applies a driver result (enroll, collect or find) to o. sync: called
 * from p11p_enroll_keypair (a rejection then drops the keys). */
static enum p11p_status apply_result(struct p11p_enroll *e,
                                     struct p11p_order *o,
                                     struct p11p_remote_result *res,
                                     enum p11p_status st, bool sync)
{
    enum p11p_order_event evs[P11P_ENROLL_MAX_EVENTS];
    size_t n = 0;
    bool drop = sync && !e->conf->keep_key_on_reject;

    if (res->portal_id[0] != '\0'
        && (o->portal_id == NULL || strcmp(o->portal_id, res->portal_id) != 0)
        && p11p_submit_set_str(&o->portal_id, res->portal_id) != P11P_OK) {
        return P11P_ERR_NOMEM;
    }
    if (st == P11P_ERR_REJECTED
        || (st == P11P_OK && res->state == P11P_REMOTE_REJECTED)) {
        return reject(e, o, res->message, drop);
    }
    if (st != P11P_OK) {
        /* Not sent (or refused credentials / rate limited before the
         * order existed): safe to submit again. Otherwise reconcile. */
        bool resend = o->state == P11P_ORDER_SUBMITTING
                      && (st == P11P_ERR_NOT_SENT || st == P11P_ERR_RATE_LIMITED
                          || st == P11P_ERR_PORTAL_AUTH);
        return defer(e, o, res, st, resend);
    }
    if (o->state == P11P_ORDER_SUBMITTING) {
        evs[n++] = P11P_ORDER_EV_ACCEPTED;
    }
    switch (res->state) {
    case P11P_REMOTE_ISSUED:
        return p11p_store_issued(e, o, res);
    case P11P_REMOTE_PENDING_APPROVAL:
        if (o->state != P11P_ORDER_PENDING_APPROVAL) {
            evs[n++] = P11P_ORDER_EV_AWAIT_APPROVAL;
        }
        break;
    case P11P_REMOTE_PROCESSING:
        if (o->state != P11P_ORDER_PROCESSING) {
            evs[n++] = P11P_ORDER_EV_PROCESS;
        }
        break;
    case P11P_REMOTE_REVOKED:
    case P11P_REMOTE_EXPIRED:
    case P11P_REMOTE_UNKNOWN:
    case P11P_REMOTE_REJECTED:
        evs[n++] = P11P_ORDER_EV_FAIL;
        if (p11p_submit_set_str(&o->last_error,
                                "the portal reports the order revoked, "
                                "expired or unknown")
            != P11P_OK) {
            return P11P_ERR_NOMEM;
        }
        break;
    }
    /* attempts counts consecutive failures: the backoff starts again
     * after any good answer (an issued one resets it in store.c). */
    o->attempts = 0;
    o->next_attempt = 0;
    return p11p_submit_advance(e, NULL, o, evs, n);
}

/* ---- submitting and polling (caller holds the order lock) ---- */

void p11p_submit_fill_req(const struct p11p_order *o,
                          struct p11p_enroll_req *req)
{
    memset(req, 0, sizeof(*req));
    req->request_token = o->request_token;
    req->csr_der = o->csr_der;
    req->csr_len = o->csr_len;
    req->subject = o->subject;
    req->sans = o->sans;
    req->profile = o->profile;
    req->term_days = o->term_days;
    req->label = o->label;
    req->mac = o->mac;
    req->created = o->created;
}

/* NEW -> SUBMITTING (committed) -> driver enroll -> result. */
enum p11p_status p11p_submit_order_locked(struct p11p_enroll *e,
                                          struct p11p_order *o, bool sync,
                                          enum p11p_status *out_driver)
{
    const struct p11p_driver *d = p11p_remote_driver(e->remote);
    struct p11p_remote_result res;
    struct p11p_enroll_req req;
    enum p11p_status st;
    enum p11p_status rc;

    memset(&res, 0, sizeof(res));
    *out_driver = P11P_OK;
    o->attempts++;
    /* Should this process die while the request is out, nobody reconciles
     * the order before the request can have landed at the portal. */
    o->next_attempt = p11p_clock_now() + quiet_s(e);
    rc = p11p_submit_advance1(e, o, P11P_ORDER_EV_SUBMIT);
    if (rc != P11P_OK) {
        return rc; /* BUSY: another process moved it first */
    }
    p11p_submit_fill_req(o, &req);
    st = o->renews_order_id != 0
             ? p11p_renew_send(e, o, &req, &res) /* issue 7: renew.c */
             : d->enroll(p11p_remote_state(e->remote), &req, &res);
    *out_driver = st;
    rc = apply_result(e, o, &res, st, sync);
    p11p_remote_result_clear(&res);
    return rc;
}

enum p11p_status p11p_submit_poll_locked(struct p11p_enroll *e,
                                         struct p11p_order *o, bool sync)
{
    const struct p11p_driver *d = p11p_remote_driver(e->remote);
    struct p11p_remote_result res;
    enum p11p_status st;
    enum p11p_status rc;

    memset(&res, 0, sizeof(res));
    if (o->portal_id == NULL) {
        P11P_ERROR(COMP,
                   "token \"%s\": order %" PRId64 " is %s without a "
                   "portal id",
                   p11p_submit_token_name(e), o->id,
                   p11p_order_state_name(o->state));
        return P11P_ERR_CORRUPT;
    }
    o->attempts++;
    st = d->collect(p11p_remote_state(e->remote), o->portal_id, &res);
    rc = apply_result(e, o, &res, st, sync);
    p11p_remote_result_clear(&res);
    return rc;
}

/* SUBMITTING: ask the portal whether the order arrived (never send twice
 * before knowing); not found -> NEW -> submitted again. */
static enum p11p_status reconcile_locked(struct p11p_enroll *e,
                                         struct p11p_order *o, bool sync)
{
    const struct p11p_driver *d = p11p_remote_driver(e->remote);
    struct p11p_remote_result res;
    struct p11p_enroll_req req;
    enum p11p_status st;
    enum p11p_status rc;
    enum p11p_status drv = P11P_OK;

    memset(&res, 0, sizeof(res));
    p11p_submit_fill_req(o, &req);
    st = d->find_req != NULL
             ? d->find_req(p11p_remote_state(e->remote), &req, o->pubkey_sha256,
                           &res)
             : d->find(p11p_remote_state(e->remote), o->request_token,
                       o->pubkey_sha256, &res);
    if (st == P11P_OK && res.state == P11P_REMOTE_UNKNOWN) {
        P11P_INFO(COMP,
                  "token \"%s\": order %" PRId64 " (label %s): the portal "
                  "has no such order; submitting it again",
                  p11p_submit_token_name(e), o->id,
                  o->label != NULL ? o->label : "");
        rc = p11p_submit_advance1(e, o, P11P_ORDER_EV_NOT_ARRIVED);
        if (rc == P11P_OK) {
            rc = p11p_submit_order_locked(e, o, sync, &drv);
        }
    } else if (st == P11P_OK) {
        P11P_INFO(COMP,
                  "token \"%s\": order %" PRId64 " (label %s): found at the "
                  "portal as %s",
                  p11p_submit_token_name(e), o->id,
                  o->label != NULL ? o->label : "", res.portal_id);
        rc = apply_result(e, o, &res, P11P_OK, sync);
    } else {
        rc = defer(e, o, &res, st, false);
    }
    p11p_remote_result_clear(&res);
    return rc;
}

enum p11p_status p11p_submit_step_locked(struct p11p_enroll *e,
                                         struct p11p_order *o, bool sync)
{
    enum p11p_status drv = P11P_OK;

    if (p11p_job_member(o)) {
        return P11P_OK; /* a portal job's: job.c moves it (issue 7) */
    }
    switch (o->state) {
    case P11P_ORDER_NEW:
        return p11p_submit_order_locked(e, o, sync, &drv);
    case P11P_ORDER_SUBMITTING:
        return reconcile_locked(e, o, sync);
    case P11P_ORDER_SUBMITTED:
    case P11P_ORDER_PENDING_APPROVAL:
    case P11P_ORDER_PROCESSING:
        return p11p_submit_poll_locked(e, o, sync);
    case P11P_ORDER_ISSUED:
    case P11P_ORDER_REJECTED:
    case P11P_ORDER_FAILED:
    case P11P_ORDER_RENEWED:
    case P11P_ORDER_REVOKED:
    case P11P_ORDER_EXPIRED:
        break;
    }
    return P11P_OK;
}

/* Runs one step of a due order under its lock. */
enum p11p_status p11p_submit_step(struct p11p_enroll *e, int64_t id)
{
    char owner[64];
    struct p11p_order o;
    enum p11p_status rc;

    memset(&o, 0, sizeof(o));
    rc = p11p_submit_lock_owner(owner);
    if (rc != P11P_OK) {
        return rc;
    }
    rc = p11p_submit_lock(e, id, owner);
    if (rc != P11P_OK) {
        return rc == P11P_ERR_BUSY ? P11P_OK : rc;
    }
    rc = p11p_cache_order_get(e->cache, id, &o);
    if (rc == P11P_OK) {
        rc = p11p_submit_step_locked(e, &o, false);
    }
    p11p_cache_lock_release(e->cache, id, owner);
    p11p_order_clear(&o);
    return rc == P11P_ERR_BUSY ? P11P_OK : rc;
}

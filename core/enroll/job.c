/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Portal batch jobs (enroll.h p11p_enroll_submit_job, DESIGN.md
 * "Enrollment"): many NEW orders submitted as one portal job (driver
 * batch_submit), collected once per collect run for all of them (driver
 * batch_collect), and the licence balance (driver licences).
 *
 * Where an order stands is carried by its portal_id (no cache column):
 *   "job-pending"          NEW, made with defer_submit: waits for
 *                          p11p_enroll_submit_job; never submitted alone;
 *   "job:name:<T>#<i>"     SUBMITTING: item i of a job whose request is (or
 *                          may be) out; T is the job's request token, the
 *                          request token of item 0, sent as the job's name;
 *   "job:<J>#<i>"          SUBMITTED / PENDING_APPROVAL / PROCESSING: item i
 *                          of portal job J;
 *   the certificate id     once the item's certificate came back (as for
 *                          an order submitted alone).
 * Job orders keep next_attempt parked (P11P_JOB_PARKED) so that the
 * per-order collector never lists them: the job pass here handles them.
 *
 * Never twice: the orders move to SUBMITTING with the job's token in their
 * portal_id, committed, before the request leaves (under their order
 * locks). After an unknown outcome (SENT_UNKNOWN, PROTOCOL) they stay
 * SUBMITTING; the job pass waits the request timeout + 5 s after their last
 * change, then asks the portal for a job of that name (batch_collect with
 * "name:<T>"): found, the orders follow it; proven absent, the same orders
 * are submitted again as a job. Nothing is sent again before that answer.
 * A request refused before it arrived (NOT_SENT, RATE_LIMITED, PORTAL_AUTH)
 * puts them back to NEW "job-pending" (p11p_enroll_submit_job again). A
 * refusal of the whole job, or a rejected job, marks every order REJECTED
 * with the portal's reason and drops its key objects unless
 * keep_key_on_reject (the keys were made for this job only, as for a
 * rejection inside p11p_enroll_keypair).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/str.h"
#include "core/enroll/enroll.h"
#include "core/enroll/internal.h"
#include "core/enroll/order.h"

#define COMP "enroll"

#define JOB_PREFIX      "job:"
#define JOB_NAME_PREFIX "name:" /* batch_collect: find the job by name */
/* Added to the request timeout before an unknown outcome is reconciled. */
#define JOB_QUIET_MARGIN_S 5
/* The most items of one job the collector accepts (batch: 500,000). */
#define P11P_JOB_MAX_ITEMS 1000000u

/* ---- the portal_id convention ---- */

bool p11p_job_member(const struct p11p_order *o)
{
    return o->portal_id != NULL
           && (strcmp(o->portal_id, P11P_JOB_PENDING) == 0
               || strncmp(o->portal_id, JOB_PREFIX, strlen(JOB_PREFIX)) == 0);
}

enum p11p_status p11p_job_defer(struct p11p_order *o)
{
    o->next_attempt = P11P_JOB_PARKED;
    return p11p_submit_set_str(&o->portal_id, P11P_JOB_PENDING);
}

/* "job:<ref>#<index>" -> ref (into out) and index; false if not a job
 * item. */
static bool parse_item(const char *portal_id, char *out, size_t outsz,
                       size_t *index)
{
    const char *hash = NULL;
    uint64_t v = 0;
    size_t plen = strlen(JOB_PREFIX);
    size_t rlen = 0;

    if (portal_id == NULL || strncmp(portal_id, JOB_PREFIX, plen) != 0) {
        return false;
    }
    hash = strrchr(portal_id, '#');
    if (hash == NULL || hash == portal_id + plen) {
        return false;
    }
    rlen = (size_t)(hash - portal_id) - plen;
    if (rlen + 1 > outsz
        || p11p_str_to_u64(hash + 1, 0, SIZE_MAX / 2, &v) != P11P_OK) {
        return false;
    }
    memcpy(out, portal_id + plen, rlen);
    out[rlen] = '\0';
    *index = (size_t)v;
    return true;
}

static enum p11p_status set_item(struct p11p_order *o, const char *ref,
                                 size_t index)
{
    char id[256];
    if ((size_t)snprintf(id, sizeof(id), JOB_PREFIX "%s#%zu", ref, index)
        >= sizeof(id)) {
        return P11P_ERR_INVALID_INPUT;
    }
    return p11p_submit_set_str(&o->portal_id, id);
}

/* ---- a set of locked orders ---- */

struct job {
    struct p11p_order *o; /* index order: o[i] is item i; id 0: an item
                             that left the job (its certificate came) */
    bool *locked;
    size_t n;
    char owner[64];
    char ref[200]; /* "name:<T>" or the portal's job id */
};

static void job_release(struct p11p_enroll *e, struct job *j)
{
    for (size_t i = 0; i < j->n; i++) {
        if (j->locked != NULL && j->locked[i]) {
            p11p_cache_lock_release(e->cache, j->o[i].id, j->owner);
        }
        p11p_order_clear(&j->o[i]);
    }
    free(j->o);
    free(j->locked);
    memset(j, 0, sizeof(*j));
}

/* Locks and loads orders ids[0..n) (P11P_ERR_BUSY if one is held). */
static enum p11p_status job_lock(struct p11p_enroll *e, const int64_t *ids,
                                 size_t n, struct job *j)
{
    enum p11p_status rc;

    memset(j, 0, sizeof(*j));
    j->o = calloc(n, sizeof(*j->o));
    j->locked = calloc(n, sizeof(*j->locked));
    if (j->o == NULL || j->locked == NULL) {
        free(j->o);
        free(j->locked);
        j->o = NULL;
        j->locked = NULL;
        return P11P_ERR_NOMEM;
    }
    j->n = n;
    rc = p11p_submit_lock_owner(j->owner);
    for (size_t i = 0; rc == P11P_OK && i < n; i++) {
        if (ids[i] == 0) {
            continue;
        }
        rc = p11p_submit_lock(e, ids[i], j->owner);
        j->locked[i] = rc == P11P_OK;
        if (rc == P11P_OK) {
            rc = p11p_cache_order_get(e->cache, ids[i], &j->o[i]);
        }
    }
    return rc;
}

/* Moves every order of j through ACCEPTED (if accepted and SUBMITTING)
 * and *ev (NULL: none, a save; AWAIT_APPROVAL / PROCESS only if not there
 * yet) in one transaction; logs the changes. */
static enum p11p_status job_advance(struct p11p_enroll *e, struct job *j,
                                    const enum p11p_order_event *ev,
                                    bool accepted)
{
    struct p11p_cache_txn *t = NULL;
    enum p11p_order_state *from = NULL;
    enum p11p_status rc;

    from = calloc(j->n, sizeof(*from));
    if (from == NULL) {
        return P11P_ERR_NOMEM;
    }
    rc = p11p_cache_txn_begin(e->cache, &t);
    for (size_t i = 0; rc == P11P_OK && i < j->n; i++) {
        enum p11p_order_event evs[2];
        size_t k = 0;
        struct p11p_order *o = &j->o[i];
        enum p11p_order_state to = o->state;
        from[i] = o->state;
        if (o->id == 0) {
            continue;
        }
        if (accepted && o->state == P11P_ORDER_SUBMITTING) {
            evs[k++] = P11P_ORDER_EV_ACCEPTED;
            to = P11P_ORDER_SUBMITTED;
        }
        if (ev != NULL
            && !(*ev == P11P_ORDER_EV_AWAIT_APPROVAL
                 && to == P11P_ORDER_PENDING_APPROVAL)
            && !(*ev == P11P_ORDER_EV_PROCESS && to == P11P_ORDER_PROCESSING)) {
            evs[k++] = *ev;
        }
        o->next_attempt = P11P_JOB_PARKED;
        rc = p11p_submit_advance(e, t, o, evs, k);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_commit(t);
        t = NULL;
    }
    for (size_t i = 0; i < j->n; i++) {
        if (j->o[i].id == 0) {
            continue;
        }
        if (rc == P11P_OK) {
            p11p_submit_log_change(e, &j->o[i], from[i]);
        } else {
            j->o[i].state = from[i];
        }
    }
    p11p_cache_txn_rollback(t);
    free(from);
    return rc;
}

/* Every order of j REJECTED with message (keys dropped unless
 * keep_key_on_reject). */
static enum p11p_status job_reject(struct p11p_enroll *e, struct job *j,
                                   const char *message)
{
    enum p11p_status rc = P11P_OK;
    for (size_t i = 0; i < j->n; i++) {
        if (j->o[i].id == 0) {
            continue;
        }
        enum p11p_status r = p11p_submit_reject(e, &j->o[i], message,
                                                !e->conf->keep_key_on_reject);
        if (rc == P11P_OK) {
            rc = r;
        }
    }
    return rc;
}

/* Applies the job's state (portal job id res->portal_id) to j's orders. */
static enum p11p_status job_follow(struct p11p_enroll *e, struct job *j,
                                   const struct p11p_remote_result *res)
{
    enum p11p_status rc = P11P_OK;

    if (res->state == P11P_REMOTE_REJECTED) {
        P11P_ERROR(COMP, "token \"%s\": portal job %s rejected: %s",
                   p11p_submit_token_name(e), res->portal_id, res->message);
        return job_reject(e, j, res->message);
    }
    enum p11p_order_event ev = res->state == P11P_REMOTE_PENDING_APPROVAL
                                   ? P11P_ORDER_EV_AWAIT_APPROVAL
                                   : P11P_ORDER_EV_PROCESS;
    p11p_str_copy(j->ref, sizeof(j->ref), res->portal_id);
    for (size_t i = 0; rc == P11P_OK && i < j->n; i++) {
        if (j->o[i].id != 0) {
            rc = set_item(&j->o[i], j->ref, i);
        }
    }
    if (rc == P11P_OK) {
        rc = job_advance(e, j, &ev, true);
    }
    return rc;
}

static enum p11p_status job_poll(struct p11p_enroll *e, struct job *j);

/* Orders j (locked, NEW): SUBMITTING with the job's token committed, then
 * the request, then its answer applied. *out_driver: the driver's status. */
static enum p11p_status job_send(struct p11p_enroll *e, struct job *j,
                                 enum p11p_status *out_driver)
{
    const struct p11p_driver *d = p11p_remote_driver(e->remote);
    struct p11p_enroll_req *reqs = NULL;
    struct p11p_remote_result res;
    enum p11p_order_event submit = P11P_ORDER_EV_SUBMIT;
    enum p11p_order_event back = P11P_ORDER_EV_NOT_ARRIVED;
    enum p11p_status st;
    enum p11p_status rc;
    char name[200];

    memset(&res, 0, sizeof(res));
    *out_driver = P11P_OK;
    for (size_t i = 0; i < j->n; i++) {
        if (j->o[i].id == 0) {
            return P11P_ERR_CORRUPT; /* only whole jobs are sent */
        }
    }
    snprintf(name, sizeof(name), JOB_NAME_PREFIX "%s", j->o[0].request_token);
    for (size_t i = 0; i < j->n; i++) {
        j->o[i].attempts++;
        rc = set_item(&j->o[i], name, i);
        if (rc != P11P_OK) {
            return rc;
        }
    }
    rc = job_advance(e, j, &submit, false);
    if (rc != P11P_OK) {
        return rc;
    }
    reqs = calloc(j->n, sizeof(*reqs));
    if (reqs == NULL) {
        return P11P_ERR_NOMEM; /* SUBMITTING: reconciled later */
    }
    for (size_t i = 0; i < j->n; i++) {
        p11p_submit_fill_req(&j->o[i], &reqs[i]);
    }
    P11P_INFO(COMP,
              "token \"%s\": submitting %zu orders as one portal job (%s)",
              p11p_submit_token_name(e), j->n, name);
    st = d->batch_submit(p11p_remote_state(e->remote), reqs, j->n, &res);
    *out_driver = st;
    free(reqs);
    if (st == P11P_OK) {
        rc = job_follow(e, j, &res);
        if (rc == P11P_OK && res.state == P11P_REMOTE_ISSUED) {
            rc = job_poll(e, j); /* complete at once: collect it now */
        }
    } else if (st == P11P_ERR_REJECTED) {
        P11P_ERROR(COMP, "token \"%s\": the portal refused the job: %s",
                   p11p_submit_token_name(e), res.message);
        rc = job_reject(e, j, res.message);
    } else if (st == P11P_ERR_NOT_SENT || st == P11P_ERR_RATE_LIMITED
               || st == P11P_ERR_PORTAL_AUTH) {
        /* Provably not at the portal: back to NEW, submit the job again. */
        for (size_t i = 0; i < j->n; i++) {
            (void)p11p_submit_set_str(&j->o[i].last_error, res.message);
            (void)p11p_job_defer(&j->o[i]);
        }
        rc = job_advance(e, j, &back, false);
    } else {
        P11P_WARN(COMP,
                  "token \"%s\": job %s: outcome unknown (%s: %s); the job "
                  "is looked up at the portal before anything is sent again",
                  p11p_submit_token_name(e), name, p11p_status_text(st),
                  res.message);
        for (size_t i = 0; i < j->n; i++) {
            (void)p11p_submit_set_str(&j->o[i].last_error, res.message);
        }
        rc = job_advance(e, j, NULL, false); /* a save: still SUBMITTING */
        p11p_str_copy(j->ref, sizeof(j->ref), name);
        st = P11P_OK; /* safe in the cache; reconciled by the collector */
    }
    p11p_remote_result_clear(&res);
    return rc == P11P_OK && st != P11P_OK ? st : rc;
}

enum p11p_status p11p_enroll_submit_job(struct p11p_enroll *e,
                                        const int64_t *order_ids, size_t n,
                                        char *job_id, size_t job_id_len)
{
    const struct p11p_driver *d = p11p_remote_driver(e->remote);
    enum p11p_status rc;
    enum p11p_status drv = P11P_OK;
    struct job j;

    memset(&j, 0, sizeof(j));
    if (d->batch_submit == NULL || d->batch_collect == NULL) {
        P11P_ERROR(COMP, "token \"%s\": driver %s has no portal batch jobs",
                   p11p_submit_token_name(e), d->name);
        return P11P_ERR_UNSUPPORTED;
    }
    if (n == 0) {
        return P11P_ERR_INVALID_INPUT;
    }
    rc = job_lock(e, order_ids, n, &j);
    if (rc == P11P_ERR_BUSY) {
        P11P_ERROR(COMP,
                   "token \"%s\": an order of the job is being worked on by "
                   "another process; nothing submitted",
                   p11p_submit_token_name(e));
    }
    for (size_t i = 0; rc == P11P_OK && i < n; i++) {
        if (j.o[i].state != P11P_ORDER_NEW || j.o[i].portal_id == NULL
            || strcmp(j.o[i].portal_id, P11P_JOB_PENDING) != 0) {
            P11P_ERROR(COMP,
                       "token \"%s\": order %" PRId64 " is %s (%s), not a "
                       "new order made for a job; nothing submitted",
                       p11p_submit_token_name(e), j.o[i].id,
                       p11p_order_state_name(j.o[i].state),
                       j.o[i].portal_id != NULL ? j.o[i].portal_id : "-");
            rc = P11P_ERR_INVALID_INPUT;
        }
    }
    if (rc == P11P_OK) {
        rc = job_send(e, &j, &drv);
    }
    if (rc == P11P_OK) {
        p11p_str_copy(job_id, job_id_len, j.ref);
    }
    job_release(e, &j);
    return rc;
}

enum p11p_status p11p_enroll_licences(struct p11p_enroll *e, int64_t *left)
{
    const struct p11p_driver *d = p11p_remote_driver(e->remote);
    if (d->licences == NULL) {
        return P11P_ERR_UNSUPPORTED;
    }
    return d->licences(p11p_remote_state(e->remote), left);
}

/* ---- the job pass of the collector ---- */

/* Applies a COMPLETE job's items to j's orders. */
static enum p11p_status job_store(struct p11p_enroll *e, struct job *j,
                                  struct p11p_remote_result *items)
{
    bool drop = !e->conf->keep_key_on_reject;
    enum p11p_status rc = P11P_OK;

    for (size_t i = 0; i < j->n; i++) {
        struct p11p_order *o = &j->o[i];
        struct p11p_remote_result *it = &items[i];
        enum p11p_status r = P11P_OK;
        if (o->id == 0) {
            continue;
        }
        if (it->status == P11P_OK && it->state == P11P_REMOTE_REJECTED) {
            r = p11p_submit_reject(e, o, it->message, drop);
        } else if (it->portal_id[0] != '\0') {
            /* The certificate's own id from now on (revoke, renew); a
             * certificate that does not check out is collected again by
             * that id like any order's. */
            r = p11p_submit_set_str(&o->portal_id, it->portal_id);
            if (r == P11P_OK) {
                r = p11p_store_issued(e, o, it);
            }
        } else {
            o->attempts++;
            r = p11p_submit_set_str(&o->last_error, it->message);
            if (r == P11P_OK) {
                r = p11p_submit_advance(e, NULL, o, NULL, 0);
            }
        }
        if (rc == P11P_OK) {
            rc = r;
        }
    }
    return rc;
}

/* One poll of job ref for its locked orders j. */
static enum p11p_status job_poll(struct p11p_enroll *e, struct job *j)
{
    const struct p11p_driver *d = p11p_remote_driver(e->remote);
    struct p11p_remote_result *items = NULL;
    struct p11p_remote_result res;
    enum p11p_status st;
    enum p11p_status rc = P11P_OK;
    enum p11p_status drv = P11P_OK;
    bool by_name =
        strncmp(j->ref, JOB_NAME_PREFIX, strlen(JOB_NAME_PREFIX)) == 0;

    memset(&res, 0, sizeof(res));
    items = calloc(j->n, sizeof(*items));
    if (items == NULL) {
        return P11P_ERR_NOMEM;
    }
    st = d->batch_collect(p11p_remote_state(e->remote), j->ref, items, j->n,
                          &res);
    enum p11p_order_event back = P11P_ORDER_EV_NOT_ARRIVED;

    if (st == P11P_OK && by_name && res.state == P11P_REMOTE_UNKNOWN) {
        P11P_INFO(COMP,
                  "token \"%s\": job %s never arrived at the portal; "
                  "submitting its %zu orders again",
                  p11p_submit_token_name(e), j->ref, j->n);
        for (size_t i = 0; i < j->n; i++) {
            (void)p11p_job_defer(&j->o[i]); /* job-pending, should the
                                                sending fail below */
        }
        rc = job_advance(e, j, &back, false);
        if (rc == P11P_OK) {
            rc = job_send(e, j, &drv);
        }
    } else if (st == P11P_OK && res.state == P11P_REMOTE_UNKNOWN) {
        rc = P11P_ERR_NOT_FOUND;
    } else if (st == P11P_OK && res.state == P11P_REMOTE_ISSUED) {
        rc = job_follow(e, j, &res); /* SUBMITTING -> SUBMITTED first */
        if (rc == P11P_OK) {
            rc = job_store(e, j, items);
        }
    } else if (st == P11P_OK) {
        rc = job_follow(e, j, &res);
    } else {
        P11P_WARN(COMP, "token \"%s\": job %s: %s: %s; polled again later",
                  p11p_submit_token_name(e), j->ref, p11p_status_text(st),
                  res.message);
    }
    for (size_t i = 0; i < j->n; i++) {
        p11p_remote_result_clear(&items[i]);
    }
    free(items);
    p11p_remote_result_clear(&res);
    return rc;
}

static int by_portal_id(const void *a, const void *b)
{
    const struct p11p_order *x = a;
    const struct p11p_order *y = b;
    return strcmp(x->portal_id != NULL ? x->portal_id : "",
                  y->portal_id != NULL ? y->portal_id : "");
}

/* Handles the job of list[first..end) (same ref): index order, quiet time,
 * locks. *changed: orders whose state changed. */
static enum p11p_status job_group(struct p11p_enroll *e,
                                  const struct p11p_order *list, size_t first,
                                  size_t end, size_t *changed)
{
    size_t n = 0;
    int64_t *ids = NULL;
    int64_t last = 0;
    int64_t quiet = (int64_t)(e->conf->timeout_ms / 1000) + JOB_QUIET_MARGIN_S;
    enum p11p_status rc = P11P_OK;
    struct job j;
    char ref[200];
    size_t idx = 0;

    memset(&j, 0, sizeof(j));
    /* The job's size: its highest item + 1 (items whose certificate came
     * have left it). */
    for (size_t k = first; k < end; k++) {
        if (parse_item(list[k].portal_id, ref, sizeof(ref), &idx)
            && idx + 1 > n) {
            n = idx + 1;
        }
    }
    ids = n <= P11P_JOB_MAX_ITEMS ? calloc(n, sizeof(*ids)) : NULL;
    if (ids == NULL) {
        return P11P_ERR_NOMEM;
    }
    for (size_t k = first; k < end; k++) {
        if (!parse_item(list[k].portal_id, ref, sizeof(ref), &idx)
            || ids[idx] != 0) {
            P11P_ERROR(COMP,
                       "token \"%s\": job %s: two orders claim item %zu "
                       "(order %" PRId64 "); left alone",
                       p11p_submit_token_name(e), ref, idx, list[k].id);
            rc = P11P_ERR_CORRUPT;
            goto out;
        }
        ids[idx] = list[k].id;
        last = list[k].updated > last ? list[k].updated : last;
    }
    if (strncmp(ref, JOB_NAME_PREFIX, strlen(JOB_NAME_PREFIX)) == 0
        && !p11p_remote_driver(e->remote)->in_process
        && p11p_clock_now() < last + quiet) {
        goto out; /* the request may still be at work at the portal */
    }
    rc = job_lock(e, ids, n, &j);
    if (rc == P11P_ERR_BUSY) {
        rc = P11P_OK; /* another process polls it */
        goto out;
    }
    for (size_t i = 0; rc == P11P_OK && i < n; i++) {
        if (ids[i] == 0) {
            continue;
        }
        if (j.o[i].state != list[first].state
            || !parse_item(j.o[i].portal_id, j.ref, sizeof(j.ref), &idx)
            || idx != i || strcmp(j.ref, ref) != 0) {
            goto out; /* moved on since the list was read */
        }
    }
    if (rc == P11P_OK) {
        rc = job_poll(e, &j);
    }
    for (size_t i = 0; i < j.n; i++) {
        if (ids[i] != 0 && j.o[i].state != list[first].state) {
            (*changed)++;
        }
    }
out:
    job_release(e, &j);
    free(ids);
    return rc;
}

enum p11p_status p11p_job_collect(struct p11p_enroll *e, uint64_t deadline,
                                  size_t *changed)
{
    const uint32_t mask =
        (1u << P11P_ORDER_SUBMITTING) | (1u << P11P_ORDER_SUBMITTED)
        | (1u << P11P_ORDER_PENDING_APPROVAL) | (1u << P11P_ORDER_PROCESSING);
    const struct p11p_driver *d = p11p_remote_driver(e->remote);
    struct p11p_order *list = NULL;
    size_t n = 0;
    size_t m = 0;
    enum p11p_status rc;
    char a[200];
    char b[200];
    size_t ia = 0;
    size_t ib = 0;

    if (d->batch_collect == NULL) {
        return P11P_OK;
    }
    rc = p11p_cache_order_list(e->cache, mask, 0, 0, &list, &n);
    if (rc != P11P_OK) {
        return rc;
    }
    /* Job items first (compacted), grouped by job (sorted by portal id). */
    for (size_t i = 0; i < n; i++) {
        if (parse_item(list[i].portal_id, a, sizeof(a), &ia)) {
            struct p11p_order tmp = list[m];
            list[m] = list[i];
            list[i] = tmp;
            m++;
        }
    }
    if (m > 1) {
        qsort(list, m, sizeof(*list), by_portal_id);
    }
    for (size_t first = 0; first < m && p11p_clock_left_ms(deadline) > 0;) {
        size_t end = first + 1;
        (void)parse_item(list[first].portal_id, a, sizeof(a), &ia);
        while (end < m && parse_item(list[end].portal_id, b, sizeof(b), &ib)
               && strcmp(a, b) == 0) {
            end++;
        }
        if (job_group(e, list, first, end, changed) != P11P_OK) {
            P11P_DEBUG(COMP, "token \"%s\": job %s: not advanced this time",
                       p11p_submit_token_name(e), a);
        }
        first = end;
    }
    p11p_cache_order_list_free(list, n);
    return P11P_OK;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal batch: provisioning on worker threads. Each worker takes the
 * next device, skips it when the token already has a live order for it
 * (resume), else generates its key pair through p11p_enroll_keypair (key,
 * MAC and order in one transaction; CSR; submission; collection within
 * the token's enroll_wait). The engine refuses a MAC already on an order
 * (P11P_ERR_EXISTS), so two processes running the same batch never order
 * a device twice. A quota refusal or SIGINT stops new devices; the ones in
 * flight finish (tools/batch.h).
 */
#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/base/str.h"
#include "tools/batch.h"

#define COLLECT_STEP_MS 2000 /* the least budget of one collection */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

void p11p_batch_install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool p11p_batch_interrupted(void)
{
    return interrupted != 0;
}

struct run {
    struct p11p_batch_job *job;
    pthread_mutex_t mu;
    size_t next;   /* next device index (under mu) */
    size_t active; /* workers still running (under mu) */
    bool stop;     /* quota: no new devices (under mu) */
    struct p11p_batch_progress *progress;
};

/* True if a portal's refusal says its licences are used up. */
static bool is_quota(const char *msg)
{
    static const char *const words[] = { "licen", "quota", "exhausted" };
    char low[512];
    size_t n = 0;

    for (; msg[n] != '\0' && n + 1 < sizeof(low); n++) {
        low[n] = (char)tolower((unsigned char)msg[n]);
    }
    low[n] = '\0';
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strstr(low, words[i]) != NULL) {
            return true;
        }
    }
    return false;
}

/* The device's live order (any state but REJECTED), if it has one. */
static bool has_live_order(struct p11p_cache *c,
                           const struct p11p_batch_device *d, int64_t *order_id,
                           enum p11p_order_state *state)
{
    struct p11p_order o;
    int64_t id = 0;
    bool live = false;
    enum p11p_status st =
        d->has_mac ? p11p_cache_order_newest_by_mac(c, d->mac_str, &id)
                   : p11p_cache_order_newest_by_label(c, d->label, &id);

    memset(&o, 0, sizeof(o));
    if (st == P11P_OK && p11p_cache_order_get(c, id, &o) == P11P_OK
        && o.state != P11P_ORDER_REJECTED) {
        live = true;
        *order_id = id;
        *state = o.state;
    }
    p11p_order_clear(&o);
    return live;
}

static enum p11p_batch_outcome outcome_of(enum p11p_order_state s)
{
    switch (s) {
    case P11P_ORDER_ISSUED:
    case P11P_ORDER_RENEWED:
        return P11P_BATCH_ISSUED;
    case P11P_ORDER_REJECTED:
        return P11P_BATCH_REJECTED;
    case P11P_ORDER_FAILED:
    case P11P_ORDER_REVOKED:
    case P11P_ORDER_EXPIRED:
        return P11P_BATCH_FAILED;
    default:
        return P11P_BATCH_PENDING;
    }
}

/* Key pair + order of one device. */
static void provision(struct run *r, const struct p11p_batch_device *d,
                      enum p11p_batch_outcome *oc, int64_t *order_id,
                      char **error, bool *quota)
{
    struct p11p_batch_job *job = r->job;
    struct p11p_attrlist pub = { 0 };
    struct p11p_attrlist priv = { 0 };
    struct p11p_keygen_spec spec = job->spec;
    struct p11p_enroll_params params;
    struct p11p_enroll_result res;
    enum p11p_order_state state = P11P_ORDER_NEW;
    enum p11p_status st;

    memset(&params, 0, sizeof(params));
    memset(&res, 0, sizeof(res));
    if (has_live_order(job->t->cache, d, order_id, &state)) {
        *oc = P11P_BATCH_SKIPPED;
        return;
    }
    st = p11p_attrlist_set_str(&pub, CKA_LABEL, d->label);
    if (st == P11P_OK) {
        st = p11p_attrlist_set_str(&priv, CKA_LABEL, d->label);
    }
    if (st == P11P_OK) {
        st = p11p_keyattrs_add_defaults(&pub, CKO_PUBLIC_KEY, spec.key_type,
                                        job->mech);
    }
    if (st == P11P_OK) {
        st = p11p_keyattrs_add_defaults(&priv, CKO_PRIVATE_KEY, spec.key_type,
                                        job->mech);
    }
    spec.label = d->label;
    params.label = d->label;
    params.subject = d->subject;
    params.sans = d->sans;
    params.profile = job->profile;
    params.has_mac = d->has_mac;
    params.mac = d->mac;
    params.defer_submit = job->defer_submit;
    if (st == P11P_OK) {
        st = p11p_enroll_keypair(job->t->enroll, &spec, &params, &pub, &priv,
                                 &res);
    }
    *order_id = res.order_id;
    if (st == P11P_OK) {
        *oc = outcome_of(res.state);
    } else if (st == P11P_ERR_EXISTS) {
        /* Another run took the device between our look and our insert. */
        *oc = P11P_BATCH_SKIPPED;
        (void)has_live_order(job->t->cache, d, order_id, &state);
    } else {
        const char *msg =
            res.message[0] != '\0' ? res.message : p11p_status_text(st);
        *oc = st == P11P_ERR_REJECTED || st == P11P_ERR_EXHAUSTED
                  ? P11P_BATCH_REJECTED
                  : P11P_BATCH_FAILED;
        *quota = (st == P11P_ERR_REJECTED || st == P11P_ERR_EXHAUSTED)
                 && is_quota(msg);
        *error = p11p_str_dup(msg);
    }
    p11p_attrlist_clear(&pub);
    p11p_attrlist_clear(&priv);
}

static void *worker(void *arg)
{
    struct run *r = arg;
    struct p11p_batch_job *job = r->job;

    for (;;) {
        struct p11p_batch_device d;
        enum p11p_batch_outcome oc = P11P_BATCH_FAILED;
        int64_t order_id = 0;
        char *error = NULL;
        bool quota = false;
        size_t i;

        pthread_mutex_lock(&r->mu);
        if (r->stop || interrupted || r->next >= job->plan->count) {
            r->active--;
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        i = r->next++;
        pthread_mutex_unlock(&r->mu);

        memset(&d, 0, sizeof(d));
        if (p11p_batch_device_at(job->plan, i, &d) == P11P_OK) {
            provision(r, &d, &oc, &order_id, &error, &quota);
        } else {
            error = p11p_str_dup("cannot build the device's label or "
                                 "subject from the patterns");
        }
        p11p_batch_device_clear(&d);

        pthread_mutex_lock(&r->mu);
        job->outcome[i] = (unsigned char)oc;
        job->order_id[i] = order_id;
        job->error[i] = error;
        switch (oc) {
        case P11P_BATCH_ISSUED:
            job->issued++;
            break;
        case P11P_BATCH_PENDING:
            job->pending++;
            break;
        case P11P_BATCH_REJECTED:
            job->rejected++;
            break;
        case P11P_BATCH_SKIPPED:
            job->skipped++;
            break;
        default:
            job->failed++;
            break;
        }
        if (quota && !job->quota_hit) {
            job->quota_hit = true;
            r->stop = true;
            p11p_str_copy(job->quota_message, sizeof(job->quota_message),
                          error != NULL ? error : "quota");
        }
        pthread_mutex_unlock(&r->mu);
    }
}

enum p11p_status p11p_batch_run(struct p11p_batch_job *job)
{
    struct run r;
    pthread_t *tids = NULL;
    size_t n = job->concurrency > 0 ? job->concurrency : 1;
    size_t started = 0;
    sigset_t block, old;
    enum p11p_status rc = P11P_OK;
    bool done = false;

    memset(&r, 0, sizeof(r));
    r.job = job;
    pthread_mutex_init(&r.mu, NULL);
    job->outcome = calloc(job->plan->count + 1, 1);
    job->error = calloc(job->plan->count + 1, sizeof(char *));
    job->order_id = calloc(job->plan->count + 1, sizeof(int64_t));
    tids = calloc(n, sizeof(*tids));
    if (job->outcome == NULL || job->error == NULL || job->order_id == NULL
        || tids == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    if (n > job->plan->count) {
        n = job->plan->count;
    }
    if (!job->quiet) {
        r.progress = p11p_batch_progress_new(job->plan->count,
                                             isatty(fileno(stderr)) != 0);
    }
    /* Signals reach the main thread only: workers are never interrupted
     * inside a portal request or a transaction. */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    r.active = n;
    for (; started < n; started++) {
        if (pthread_create(&tids[started], NULL, worker, &r) != 0) {
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_mutex_lock(&r.mu);
    r.active -= n - started;
    pthread_mutex_unlock(&r.mu);
    if (started == 0) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    while (!done) {
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&r.mu);
        done = r.active == 0;
        p11p_batch_progress_update(r.progress, job->issued, job->pending,
                                   job->failed + job->rejected, job->skipped,
                                   done);
        pthread_mutex_unlock(&r.mu);
    }
    for (size_t i = 0; i < started; i++) {
        pthread_join(tids[i], NULL);
    }
    job->interrupted = interrupted != 0;
out:
    p11p_batch_progress_free(r.progress);
    pthread_mutex_destroy(&r.mu);
    free(tids);
    return rc;
}

void p11p_batch_job_clear(struct p11p_batch_job *job)
{
    if (job == NULL) {
        return;
    }
    for (size_t i = 0; job->error != NULL && i < job->plan->count; i++) {
        free(job->error[i]);
    }
    free(job->error);
    free(job->outcome);
    free(job->order_id);
    job->error = NULL;
    job->outcome = NULL;
    job->order_id = NULL;
}

void p11p_batch_collect(struct p11p_batch_job *job, unsigned wait_s)
{
    const uint32_t pending =
        (1u << P11P_ORDER_NEW) | (1u << P11P_ORDER_SUBMITTING)
        | (1u << P11P_ORDER_SUBMITTED) | (1u << P11P_ORDER_PENDING_APPROVAL)
        | (1u << P11P_ORDER_PROCESSING);
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct p11p_order *list = NULL;
        size_t n = 0;
        long elapsed_ms;

        if (p11p_cache_order_list(job->t->cache, pending, 0, 1, &list, &n)
            != P11P_OK) {
            return;
        }
        p11p_cache_order_list_free(list, n);
        clock_gettime(CLOCK_MONOTONIC, &now);
        elapsed_ms = (now.tv_sec - start.tv_sec) * 1000
                     + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (n == 0 || interrupted || elapsed_ms >= (long)wait_s * 1000) {
            return;
        }
        /* The rest of the wait is the budget: a reconciliation (the
         * driver's find, many pages of a busy portal) is not cut short. */
        (void)p11p_enroll_collect(
            job->t->enroll,
            (unsigned)((long)wait_s * 1000 - elapsed_ms > COLLECT_STEP_MS
                           ? (long)wait_s * 1000 - elapsed_ms
                           : COLLECT_STEP_MS),
            true, NULL);
        if (!interrupted) {
            struct timespec ts = { 0, 200 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
}

size_t p11p_batch_count_todo(struct p11p_batch_job *job)
{
    size_t todo = 0;

    for (size_t i = 0; i < job->plan->count; i++) {
        struct p11p_batch_device d;
        enum p11p_order_state state = P11P_ORDER_NEW;
        int64_t id = 0;
        if (p11p_batch_device_at(job->plan, i, &d) != P11P_OK) {
            continue;
        }
        if (!has_live_order(job->t->cache, &d, &id, &state)) {
            todo++;
        }
        p11p_batch_device_clear(&d);
    }
    return todo;
}

/* The device's order, if it waits for a portal batch job (NEW, made with
 * defer_submit: portal_id "job-pending", core/enroll/job.c). */
static bool waits_for_job(struct p11p_cache *c,
                          const struct p11p_batch_device *d, int64_t *id)
{
    struct p11p_order o;
    bool waits = false;
    enum p11p_status st =
        d->has_mac ? p11p_cache_order_newest_by_mac(c, d->mac_str, id)
                   : p11p_cache_order_newest_by_label(c, d->label, id);

    memset(&o, 0, sizeof(o));
    if (st == P11P_OK && p11p_cache_order_get(c, *id, &o) == P11P_OK) {
        waits = o.state == P11P_ORDER_NEW && o.portal_id != NULL
                && strcmp(o.portal_id, "job-pending") == 0;
    }
    p11p_order_clear(&o);
    return waits;
}

enum p11p_status p11p_batch_submit_jobs(struct p11p_batch_job *job,
                                        size_t *out_jobs)
{
    int64_t *ids = NULL;
    size_t n = 0;
    char job_id[128];
    enum p11p_status rc = P11P_OK;

    *out_jobs = 0;
    ids = calloc(job->plan->count + 1, sizeof(*ids));
    if (ids == NULL) {
        return P11P_ERR_NOMEM;
    }
    /* Every device of the batch whose order waits for a job: this run's,
     * and those an interrupted run made but did not submit. */
    for (size_t i = 0; i < job->plan->count; i++) {
        struct p11p_batch_device d;
        int64_t id = 0;
        if (p11p_batch_device_at(job->plan, i, &d) != P11P_OK) {
            continue;
        }
        if (waits_for_job(job->t->cache, &d, &id)) {
            ids[n++] = id;
        }
        p11p_batch_device_clear(&d);
    }
    for (size_t off = 0; rc == P11P_OK && off < n;
         off += P11P_BATCH_JOB_CHUNK) {
        size_t k =
            n - off < P11P_BATCH_JOB_CHUNK ? n - off : P11P_BATCH_JOB_CHUNK;
        job_id[0] = '\0';
        rc = p11p_enroll_submit_job(job->t->enroll, ids + off, k, job_id,
                                    sizeof(job_id));
        if (rc == P11P_OK) {
            (*out_jobs)++;
            if (!job->quiet) {
                fprintf(stderr,
                        "batch: %zu devices submitted as portal job %s\n", k,
                        job_id);
            }
        }
    }
    free(ids);
    return rc;
}

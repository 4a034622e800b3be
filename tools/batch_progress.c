/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal batch: the progress line on stderr. On a terminal one line
 * rewritten with \r (done, pending, failed, rate, ETA); otherwise a plain
 * line every few seconds (tools/batch.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tools/batch.h"

#define LIVE_EVERY_MS  200
#define PLAIN_EVERY_MS 5000

struct p11p_batch_progress {
    size_t total;
    bool live;
    double started;
    double last;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct p11p_batch_progress *p11p_batch_progress_new(size_t total, bool live)
{
    struct p11p_batch_progress *pr = calloc(1, sizeof(*pr));
    if (pr != NULL) {
        pr->total = total;
        pr->live = live;
        pr->started = now_s();
        pr->last = 0;
    }
    return pr;
}

void p11p_batch_progress_update(struct p11p_batch_progress *pr, size_t done,
                                size_t pending, size_t failed, size_t skipped,
                                bool final)
{
    double t, rate, eta;
    size_t finished, left;

    if (pr == NULL) {
        return;
    }
    t = now_s();
    if (!final
        && (t - pr->last) * 1000.0
               < (pr->live ? LIVE_EVERY_MS : PLAIN_EVERY_MS)) {
        return;
    }
    pr->last = t;
    finished = done + pending + failed;
    left = pr->total > finished + skipped ? pr->total - finished - skipped : 0;
    rate = t - pr->started > 0.001 ? (double)finished / (t - pr->started) : 0;
    eta = rate > 0 ? (double)left / rate : 0;
    fprintf(stderr,
            "%sbatch: %zu/%zu issued, %zu pending, %zu failed, %zu done "
            "before, %.1f/s, ETA %.0fs%s",
            pr->live ? "\r" : "", done, pr->total, pending, failed, skipped,
            rate, eta, pr->live ? "   " : "\n");
    if (pr->live && final) {
        fputc('\n', stderr);
    }
    fflush(stderr);
}

void p11p_batch_progress_free(struct p11p_batch_progress *pr)
{
    free(pr);
}

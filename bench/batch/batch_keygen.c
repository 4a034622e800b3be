/* SPDX-License-Identifier: Apache-2.0 */
/*
 * batch_keygen: the machine's own rate of key generation plus CSR signing
 * (bench/batch/run.sh, issue 7): THREADS threads make COUNT key pairs and
 * signed PKCS#10 requests with plain libcrypto, the way a batch must for
 * each device, with nothing else (no token, no portal). A bench, not a
 * test: it reports, it asserts nothing.
 *
 *   batch_keygen ec|rsa THREADS COUNT
 *
 * Prints one line: "keygen_csr type=ec threads=T count=N failed=F
 * seconds=S per_s=R".
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "bench/batch/batch_csr.h"

struct worker {
    pthread_t th;
    enum batch_key_type type;
    atomic_int *next;
    int count;
    int done;
    int failed;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses a positive int no larger than max; -1 if s is not one. */
static int parse_count(const char *s, int max)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);

    if (end == s || *end != '\0' || v < 1 || v > max) {
        return -1;
    }
    return (int)v;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    struct batch_keygen *g = batch_keygen_new(w->type);
    char cn[32];

    if (g == NULL) {
        w->failed = 1;
        return NULL;
    }
    for (;;) {
        int i = atomic_fetch_add(w->next, 1);
        unsigned char *der = NULL;
        size_t len = 0;

        if (i >= w->count) {
            break;
        }
        /* The portals' batch default: the MAC as the common name. */
        snprintf(cn, sizeof(cn), "aa:bb:cc:%02x:%02x:%02x", (i >> 16) & 0xff,
                 (i >> 8) & 0xff, i & 0xff);
        if (batch_keygen_csr(g, cn, &der, &len) == 0) {
            w->done++;
        } else {
            w->failed++;
        }
        OPENSSL_free(der);
    }
    batch_keygen_free(g);
    return NULL;
}

int main(int argc, char **argv)
{
    enum batch_key_type type = BATCH_KEY_EC_P256;
    struct worker *ws = NULL;
    atomic_int next = 0;
    int threads = 0;
    int count = 0;
    int started = 0;
    int done = 0;
    int failed = 0;
    double t0 = 0;
    double secs = 0;
    int rc = 2;

    if (argc != 4 || batch_key_type_parse(argv[1], &type) != 0
        || (threads = parse_count(argv[2], 4096)) < 0
        || (count = parse_count(argv[3], 10000000)) < 0) {
        fprintf(stderr, "usage: batch_keygen ec|rsa THREADS COUNT\n");
        goto out;
    }
    ws = calloc((size_t)threads, sizeof(*ws));
    if (ws == NULL) {
        fprintf(stderr, "batch_keygen: out of memory\n");
        rc = 1;
        goto out;
    }
    t0 = now_s();
    for (started = 0; started < threads; started++) {
        ws[started].type = type;
        ws[started].next = &next;
        ws[started].count = count;
        if (pthread_create(&ws[started].th, NULL, run, &ws[started]) != 0) {
            fprintf(stderr, "batch_keygen: cannot start thread %d\n", started);
            break;
        }
    }
    for (int i = 0; i < started; i++) {
        pthread_join(ws[i].th, NULL);
        done += ws[i].done;
        failed += ws[i].failed;
    }
    secs = now_s() - t0;
    printf("keygen_csr type=%s threads=%d count=%d failed=%d seconds=%.3f "
           "per_s=%.1f\n",
           argv[1], started, done, failed, secs,
           secs > 0 ? (double)done / secs : 0.0);
    rc = failed == 0 && started == threads ? 0 : 1;
out:
    free(ws);
    return rc;
}

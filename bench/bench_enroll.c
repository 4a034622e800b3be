/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_enroll: enrollments per second through the module against the
 * portal simulator (issue 3). N threads, each with its own session, call
 * C_GenerateKeyPair (EC P-256, token objects) until COUNT key pairs are
 * generated; each one is a key, a CSR, a Sectigo enroll, details and
 * collect, a verified certificate and chain stored next to the key.
 * bench/run_enroll.sh starts the simulator with --latency-ms and prints
 * this beside a sequential `openssl req` + `curl` loop. A bench, not a
 * test: it reports, it asserts nothing.
 *
 *   bench_enroll MODULE SIM_STATE_DIR [COUNT [THREADS]]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_common.h"

struct worker {
    CK_FUNCTION_LIST *f;
    CK_SLOT_ID slot;
    atomic_int *next;
    int count;
    int done;
    int failed;
};

static void *run(void *arg)
{
    struct worker *w = arg;
    CK_SESSION_HANDLE s = 0;
    static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
                                    0xce, 0x3d, 0x03, 0x01, 0x07 };
    CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_BBOOL yes = CK_TRUE;
    char label[32];

    if (w->f->C_OpenSession(w->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                            NULL, &s)
        != CKR_OK) {
        w->failed = w->count;
        return NULL;
    }
    for (;;) {
        int i = atomic_fetch_add(w->next, 1);
        if (i >= w->count) {
            break;
        }
        snprintf(label, sizeof(label), "bench-%d", i);
        CK_ATTRIBUTE pub[] = {
            { CKA_EC_PARAMS, (void *)p256, sizeof(p256) },
            { CKA_TOKEN, &yes, sizeof(yes) },
            { CKA_VERIFY, &yes, sizeof(yes) },
            { CKA_LABEL, label, strlen(label) },
        };
        CK_ATTRIBUTE priv[] = {
            { CKA_TOKEN, &yes, sizeof(yes) },
            { CKA_PRIVATE, &yes, sizeof(yes) },
            { CKA_SIGN, &yes, sizeof(yes) },
            { CKA_LABEL, label, strlen(label) },
        };
        CK_OBJECT_HANDLE hpub = 0;
        CK_OBJECT_HANDLE hpriv = 0;
        CK_RV rv =
            w->f->C_GenerateKeyPair(s, &mech, pub, 4, priv, 4, &hpub, &hpriv);
        if (rv == CKR_OK) {
            w->done++;
        } else {
            w->failed++;
        }
    }
    w->f->C_CloseSession(s);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr,
                "usage: bench_enroll MODULE SIM_STATE_DIR [COUNT [THREADS]]\n");
        return 2;
    }
    const char *module = argv[1];
    const char *sim = argv[2];
    int count = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 500;
    int threads = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 8;
    char url[256] = "";
    char path[512];
    char conf[2048];
    char data[600];
    FILE *fp = NULL;

    if (count <= 0 || threads <= 0 || threads > 64) {
        fprintf(stderr, "bench_enroll: bad COUNT or THREADS\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/url", sim);
    fp = fopen(path, "r");
    if (fp == NULL || fgets(url, sizeof(url), fp) == NULL) {
        fprintf(stderr, "bench_enroll: cannot read %s\n", path);
        if (fp != NULL) {
            fclose(fp);
        }
        return 1;
    }
    fclose(fp);
    url[strcspn(url, "\n")] = '\0';
    snprintf(
        conf, sizeof(conf),
        "[token \"p11portal\"]\ndriver = sectigo\nkdf_iterations = 1000\nurl = %s\ncredentials_file = %s/sectigo.cred\n"
        "ca_bundle = %s/ca.pem\ntrust_anchors = %s/ca.pem\n"
        "profile = 1001\nsubject = CN=${label}\nenroll_wait_ms = 30000\n"
        "timeout_ms = 30000\nrefresh_interval_s = 3600\nfamily = ssl\n"
        "auth = password\ntoken_field = requestToken\n"
        "collect_format = x509\n",
        url, sim, sim, sim);
    const char *dir = bench_scratch("enroll");
    /* Our own configuration (bench_env_ours writes a local-CA token). */
    snprintf(path, sizeof(path), "%s/p11portal.conf", dir);
    bench_write(path, conf);
    snprintf(data, sizeof(data), "%s/data", dir);
    setenv("XDG_DATA_HOME", data, 1);
    setenv("P11PORTAL_CONF", path, 1);
    CK_FUNCTION_LIST *f = bench_load(module);
    CK_SLOT_ID slot = 0;
    CK_SESSION_HANDLE login = bench_token(f, &slot); /* keeps the login */

    pthread_t tid[64];
    struct worker w[64];
    atomic_int next = 0;
    double t0 = bench_now();
    for (int i = 0; i < threads; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].f = f;
        w[i].slot = slot;
        w[i].next = &next;
        w[i].count = count;
        if (pthread_create(&tid[i], NULL, run, &w[i]) != 0) {
            fprintf(stderr, "bench_enroll: pthread_create failed\n");
            return 1;
        }
    }
    int done = 0;
    int failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        done += w[i].done;
        failed += w[i].failed;
    }
    double dt = bench_now() - t0;
    printf("bench_enroll: %d enrollments (%d failed) from %d threads in "
           "%.2f s: %.1f/s, %.1f ms each\n",
           done, failed, threads, dt, done / dt, dt * 1000.0 / (done + failed));
    printf("seconds_per_%d %.3f\n", count, dt);
    f->C_CloseSession(login);
    f->C_Finalize(NULL);
    bench_cleanup();
    return failed == 0 ? 0 : 1;
}

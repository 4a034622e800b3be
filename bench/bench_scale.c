/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_scale: object scale. Time to C_Initialize (+ C_OpenSession) and to
 * find one certificate by label, through libp11portal.so with 100,000
 * certificates on the token, beside SoftHSM2 with as many as it holds in
 * reasonable time (5,000 by default). Our token is filled fast: one
 * certificate is imported through the module (C_CreateObject), then its
 * cache row is copied with new labels and ids through the cache API
 * (cache/cache.h) in batched transactions; everything measured goes through
 * the module. SoftHSM2 is filled with C_CreateObject.
 *
 * usage: bench_scale [module [softhsm-module]]; $BENCH_OBJECTS (100000),
 * $BENCH_SOFTHSM_OBJECTS (5000).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "bench/bench_common.h"
#include "cache/cache.h"
#include "core/base/attrlist.h"

#define BATCH 10000

static unsigned char *subject_der;
static int subject_len;

static unsigned char *make_cert(int *out_len)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    unsigned char *der = NULL;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"bench", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, k);
    X509_sign(x, k, EVP_sha256());
    subject_len = i2d_X509_NAME(X509_get_subject_name(x), &subject_der);
    *out_len = i2d_X509(x, &der);
    X509_free(x);
    EVP_PKEY_free(k);
    return der;
}

static CK_RV create_cert(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s,
                         const char *label, const unsigned char *der,
                         int der_len, uint32_t id)
{
    CK_OBJECT_CLASS cc = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ct = CKC_X_509;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cc, sizeof(cc) },
        { CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_PRIVATE, &no, sizeof(no) },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_ID, &id, sizeof(id) },
        { CKA_VALUE, (void *)der, (CK_ULONG)der_len },
        { CKA_SUBJECT, subject_der, (CK_ULONG)subject_len },
    };
    return f->C_CreateObject(s, t, 8, &h);
}

/* Seconds for C_Initialize + first slot + C_OpenSession. */
static double time_init(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE *out)
{
    CK_C_INITIALIZE_ARGS args;
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    double t0 = bench_now();

    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    if (f->C_Initialize(&args) != CKR_OK
        || f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK || n == 0
        || f->C_OpenSession(slots[0], CKF_SERIAL_SESSION, NULL, NULL, out)
               != CKR_OK) {
        fprintf(stderr, "bench: initialization failed\n");
        exit(1);
    }
    return bench_now() - t0;
}

/* Mean seconds per find-by-label of one certificate, over rounds finds. */
static double time_find(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, int count,
                        int rounds, double *first)
{
    CK_OBJECT_CLASS cc = CKO_CERTIFICATE;
    double total = 0;

    for (int r = 0; r < rounds; r++) {
        char label[32];
        CK_OBJECT_HANDLE h[2];
        CK_ULONG n = 0;
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &cc, sizeof(cc) },
            { CKA_LABEL, label, 0 },
        };
        double t0;
        snprintf(label, sizeof(label), "cert-%06d", (r * 7919) % count);
        t[1].ulValueLen = strlen(label);
        t0 = bench_now();
        if (f->C_FindObjectsInit(s, t, 2) != CKR_OK
            || f->C_FindObjects(s, h, 2, &n) != CKR_OK
            || f->C_FindObjectsFinal(s) != CKR_OK || n != 1) {
            fprintf(stderr, "bench: find %s failed (n=%lu)\n", label, n);
            exit(1);
        }
        t0 = bench_now() - t0;
        if (r == 0 && first != NULL) {
            *first = t0;
        }
        total += t0;
    }
    return total / rounds;
}

/* Copies the prototype row count times with labels cert-NNNNNN. */
static void fill_cache(const char *db, int count)
{
    struct p11p_cache *c = NULL;
    struct p11p_cache_txn *t = NULL;
    struct p11p_cache_object proto;
    struct p11p_cache_filter flt;
    int64_t *ids = NULL;
    size_t n = 0;

    memset(&proto, 0, sizeof(proto));
    memset(&flt, 0, sizeof(flt));
    flt.label = "bench-proto";
    flt.label_len = strlen(flt.label);
    if (p11p_cache_open(db, &c) != P11P_OK
        || p11p_cache_object_find(c, &flt, &ids, &n) != P11P_OK || n != 1
        || p11p_cache_object_get(c, ids[0], &proto) != P11P_OK) {
        fprintf(stderr, "bench: cannot read the prototype row from %s\n", db);
        exit(1);
    }
    for (int i = 0; i < count; i++) {
        char label[32];
        uint32_t id = (uint32_t)i;
        if (t == NULL && p11p_cache_txn_begin(c, &t) != P11P_OK) {
            exit(1);
        }
        snprintf(label, sizeof(label), "cert-%06d", i);
        proto.id = 0;
        if (p11p_attrlist_set(&proto.attrs, CKA_LABEL, label, strlen(label))
                != P11P_OK
            || p11p_attrlist_set(&proto.attrs, CKA_ID, &id, sizeof(id))
                   != P11P_OK
            || p11p_cache_object_insert(t, &proto, NULL) != P11P_OK) {
            fprintf(stderr, "bench: insert %d failed\n", i);
            exit(1);
        }
        if ((i + 1) % BATCH == 0 || i + 1 == count) {
            if (p11p_cache_txn_commit(t) != P11P_OK) {
                exit(1);
            }
            t = NULL;
        }
    }
    p11p_cache_object_clear(&proto);
    free(ids);
    p11p_cache_close(c);
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    long n = v != NULL ? strtol(v, NULL, 10) : 0;
    return n > 0 && n < 10000000 ? (int)n : def;
}

int main(int argc, char **argv)
{
    const char *ours = argc > 1 ? argv[1] : getenv("P11P_MODULE");
    const char *soft = argc > 2 ? argv[2] : getenv("P11P_SOFTHSM");
    int n_ours = env_int("BENCH_OBJECTS", 100000);
    int n_soft = env_int("BENCH_SOFTHSM_OBJECTS", 5000);
    char dir[512], db[700], extra[800];
    CK_FUNCTION_LIST *fo = NULL, *fs = NULL;
    CK_SESSION_HANDLE s = 0;
    CK_SLOT_ID slot = 0;
    int der_len = 0;
    unsigned char *der = make_cert(&der_len);
    double init_empty, init_full, find_first = 0, find_mean, fill_s;
    double s_init, s_find_first = 0, s_find, s_fill;

    if (ours == NULL) {
        fprintf(stderr, "usage: %s MODULE [SOFTHSM_MODULE]\n", argv[0]);
        return 2;
    }
    if (soft == NULL) {
        soft = BENCH_SOFTHSM_DEFAULT;
    }

    /* ---- ours ---- */
    snprintf(dir, sizeof(dir), "%s", bench_scratch("scale-ours"));
    snprintf(db, sizeof(db), "%s/bench.db", dir);
    snprintf(extra, sizeof(extra), "cache_path = %s\n", db);
    bench_env_ours(dir, extra);
    fo = bench_load(ours);
    s = bench_token(fo, &slot);
    if (create_cert(fo, s, "bench-proto", der, der_len, 0xffffffffu)
        != CKR_OK) {
        fprintf(stderr, "bench: C_CreateObject failed\n");
        return 1;
    }
    fo->C_Finalize(NULL);
    init_empty = time_init(fo, &s);
    fo->C_Finalize(NULL);
    fill_s = bench_now();
    fill_cache(db, n_ours);
    fill_s = bench_now() - fill_s;
    init_full = time_init(fo, &s);
    find_mean = time_find(fo, s, n_ours, 1000, &find_first);
    fo->C_Finalize(NULL);

    /* ---- SoftHSM2 ---- */
    bench_env_softhsm(bench_scratch("scale-softhsm"));
    fs = bench_load(soft);
    s = bench_token(fs, &slot);
    s_fill = bench_now();
    for (int i = 0; i < n_soft; i++) {
        char label[32];
        snprintf(label, sizeof(label), "cert-%06d", i);
        CK_RV rv = create_cert(fs, s, label, der, der_len, (uint32_t)i);
        if (rv != CKR_OK) {
            fprintf(stderr, "bench: SoftHSM2 C_CreateObject %d: 0x%lx\n", i,
                    rv);
            return 1;
        }
    }
    s_fill = bench_now() - s_fill;
    fs->C_Finalize(NULL);
    s_init = time_init(fs, &s);
    s_find = time_find(fs, s, n_soft, 5, &s_find_first);
    fs->C_Finalize(NULL);

    printf("Object scale: certificates on the token, find one by label "
           "(CKA_CLASS + CKA_LABEL)\n\n");
    printf("%-28s %14s %14s\n", "", "p11portal", "SoftHSM2");
    printf("%-28s %14d %14d\n", "certificates", n_ours, n_soft);
    printf("%-28s %12.1f s %12.1f s\n", "fill time", fill_s, s_fill);
    printf("%-28s %11.2f ms %14s\n", "C_Initialize, 1 object", init_empty * 1e3,
           "-");
    printf("%-28s %11.2f ms %11.2f ms\n", "C_Initialize, all objects",
           init_full * 1e3, s_init * 1e3);
    printf("%-28s %11.3f ms %11.3f ms\n", "first find by label",
           find_first * 1e3, s_find_first * 1e3);
    printf("%-28s %11.3f ms %11.3f ms\n", "mean find by label", find_mean * 1e3,
           s_find * 1e3);
    printf("\n(C_Initialize includes C_GetSlotList and C_OpenSession; our "
           "fill goes through the cache API in batches of %d, SoftHSM2's "
           "through C_CreateObject.)\n",
           BATCH);
    OPENSSL_free(der);
    OPENSSL_free(subject_der);
    bench_cleanup();
    return 0;
}

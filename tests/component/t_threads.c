/* SPDX-License-Identifier: Apache-2.0 */
/*
 * t_threads: with CKF_OS_LOCKING_OK, N threads sign at once with one token
 * key, each on its own session, and find objects in between, while other
 * threads generate and enroll keys. Every signature must verify, every find
 * must see exactly the right object, every enrolled key gets its
 * certificate.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include "tests/component/p11t.h"
#include "tests/unit/check.h"

#define N_THREADS 8
#define N_ROUNDS  40
#define LABEL     "threads-key"

static struct p11t T;
static CK_OBJECT_HANDLE PRIV;
static EVP_PKEY *PK;
static atomic_int errors;
static atomic_int signatures;

static bool verify(const unsigned char *msg, size_t ml,
                   const unsigned char *sig, size_t sl)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    unsigned char *der = NULL;
    int dl;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = false;

    ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)(sl / 2), NULL),
                   BN_bin2bn(sig + sl / 2, (int)(sl / 2), NULL));
    dl = i2d_ECDSA_SIG(es, &der);
    if (dl > 0 && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, PK) == 1
        && EVP_DigestVerify(ctx, der, (size_t)dl, msg, ml) == 1) {
        ok = true;
    }
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    return ok;
}

static void fail(int id, const char *what, CK_RV rv)
{
    atomic_fetch_add(&errors, 1);
    fprintf(stderr, "thread %d: %s: 0x%lx\n", id, what, rv);
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_OBJECT_CLASS pk = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &pk, sizeof(pk) },
        { CKA_LABEL, P11T_V(LABEL), strlen(LABEL) },
    };
    CK_RV rv;

    rv = T.f->C_OpenSession(T.slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
    if (rv != CKR_OK) {
        fail(id, "C_OpenSession", rv);
        return NULL;
    }
    for (int i = 0; i < N_ROUNDS; i++) {
        unsigned char msg[64], sig[128];
        CK_ULONG sl = sizeof(sig), n = 0;
        CK_OBJECT_HANDLE h[2];
        int ml =
            snprintf((char *)msg, sizeof(msg), "thread %d round %d", id, i);

        rv = T.f->C_SignInit(s, &m, PRIV);
        if (rv == CKR_OK) {
            rv = T.f->C_Sign(s, msg, (CK_ULONG)ml, sig, &sl);
        }
        if (rv != CKR_OK) {
            fail(id, "sign", rv);
            continue;
        }
        if (!verify(msg, (size_t)ml, sig, sl)) {
            fail(id, "signature does not verify", CKR_OK);
        }
        atomic_fetch_add(&signatures, 1);
        if (i % 4 == 0) {
            rv = p11t_find(&T, s, t, 2, h, 2, &n);
            if (rv != CKR_OK || n != 1 || h[0] != PRIV) {
                fail(id, "find", rv);
            }
        }
    }
    rv = T.f->C_CloseSession(s);
    if (rv != CKR_OK) {
        fail(id, "C_CloseSession", rv);
    }
    return NULL;
}

/* Enrolling threads: key generation + enrollment beside the signers. */
#define N_GEN_THREADS 2
#define N_GEN_KEYS    3

static void *generator(void *arg)
{
    int id = (int)(intptr_t)arg;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_RV rv = T.f->C_OpenSession(T.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                  NULL, NULL, &s);
    if (rv != CKR_OK) {
        fail(100 + id, "C_OpenSession", rv);
        return NULL;
    }
    for (int i = 0; i < N_GEN_KEYS; i++) {
        CK_OBJECT_HANDLE pub, priv;
        char label[32];
        snprintf(label, sizeof(label), "gen-%d-%d", id, i);
        rv = p11t_gen_ec(&T, s, "P-256", label, true, &pub, &priv);
        if (rv != CKR_OK) {
            fail(100 + id, "C_GenerateKeyPair", rv);
        }
    }
    T.f->C_CloseSession(s);
    return NULL;
}

static void test_threads(void)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE pub = 0;
    pthread_t th[N_THREADS];
    pthread_t gth[N_GEN_THREADS];

    CHECK_RV(p11t_init(&T), CKR_OK);
    CHECK_RV(p11t_init_token(&T), CKR_OK);
    CHECK_RV(p11t_open_user(&T, &s), CKR_OK);
    CHECK_RV(p11t_gen_ec(&T, s, "P-256", LABEL, false, &pub, &PRIV), CKR_OK);
    PK = p11t_pubkey(&T, s, pub);
    CHECK(PK != NULL);
    if (check_failures != 0) {
        return;
    }
    for (int i = 0; i < N_GEN_THREADS; i++) {
        pthread_create(&gth[i], NULL, generator, (void *)(intptr_t)i);
    }
    for (int i = 0; i < N_THREADS; i++) {
        pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
    }
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
    }
    for (int i = 0; i < N_GEN_THREADS; i++) {
        pthread_join(gth[i], NULL);
    }
    CHECK_INT_EQ(atomic_load(&errors), 0);
    CHECK_INT_EQ(atomic_load(&signatures), N_THREADS * N_ROUNDS);
    /* Every enrolled key has its certificate. */
    CHECK_INT_EQ(p11t_count(&T, s, CKO_CERTIFICATE, NULL),
                 N_GEN_THREADS * N_GEN_KEYS + 2);
    /* The login session outlived all of that. */
    {
        CK_SESSION_INFO si;
        CHECK_RV(T.f->C_GetSessionInfo(s, &si), CKR_OK);
        CHECK_RV(si.state, CKS_RW_USER_FUNCTIONS);
    }
    EVP_PKEY_free(PK);
}

int main(int argc, char **argv)
{
    p11t_setup(&T, argc, argv, P11T_CONF_FAST);
    CHECK_RUN(test_threads);
    p11t_teardown(&T);
    return check_summary();
}

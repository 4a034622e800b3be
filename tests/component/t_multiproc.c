/* SPDX-License-Identifier: Apache-2.0 */
/*
 * t_multiproc: two processes on one token. An object created by one process
 * is found by another that initialised before it was created; concurrent
 * key generations with enrollment in two processes never share a MAC from
 * the token's MAC sequence nor an order.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "include/p11portal/pkcs11-vendor.h"
#include "tests/component/p11t.h"
#include "tests/unit/check.h"

#define N_PROCS 3
#define N_KEYS  4

static struct p11t T;

static const char MP_CONF[] = "[token \"p11portal\"]\n"
                              "driver = local\n"
                              "kdf_iterations = 1000\n"
                              "subject = CN=${mac}\n"
                              "mac_start = 02:00:5e:10:00:00\n"
                              "mac_end = 02:00:5e:10:00:ff\n"
                              "mac_increment = 2\n";

/* Child: C_Initialize of its own, create or generate, exit with the result. */
static int child_create(void)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_CLASS dc = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &dc, sizeof(dc) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_LABEL, P11T_V("from-child"), 10 },
        { CKA_VALUE, P11T_V("x"), 1 },
    };
    T.initialized = false;
    CHECK_RV(p11t_init(&T), CKR_OK);
    CHECK_RV(p11t_open_user(&T, &s), CKR_OK);
    CHECK_RV(T.f->C_CreateObject(s, t, 4, &h), CKR_OK);
    CHECK_RV(p11t_finalize(&T), CKR_OK);
    return check_summary();
}

static int child_delete(void)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_CLASS dc = CKO_DATA;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &dc, sizeof(dc) },
        { CKA_LABEL, P11T_V("from-child"), 10 },
    };
    CK_OBJECT_HANDLE h[2];
    CK_ULONG n = 0;
    T.initialized = false;
    CHECK_RV(p11t_init(&T), CKR_OK);
    CHECK_RV(p11t_open_user(&T, &s), CKR_OK);
    CHECK_RV(p11t_find(&T, s, t, 2, h, 2, &n), CKR_OK);
    CHECK_INT_EQ(n, 1);
    if (n == 1) {
        CHECK_RV(T.f->C_DestroyObject(s, h[0]), CKR_OK);
    }
    CHECK_RV(p11t_finalize(&T), CKR_OK);
    return check_summary();
}

static int child_keygen(int who)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    T.initialized = false;
    CHECK_RV(p11t_init(&T), CKR_OK);
    CHECK_RV(p11t_open_user(&T, &s), CKR_OK);
    for (int i = 0; i < N_KEYS; i++) {
        CK_OBJECT_HANDLE pub, priv;
        char label[32];
        snprintf(label, sizeof(label), "mp-%d-%d", who, i);
        CHECK_RV(p11t_gen_ec(&T, s, "P-256", label, true, &pub, &priv), CKR_OK);
    }
    CHECK_RV(p11t_finalize(&T), CKR_OK);
    return check_summary();
}

static bool wait_ok(pid_t pid)
{
    int status = 0;
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status)
           && WEXITSTATUS(status) == 0;
}

static void test_visibility(void)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    pid_t pid;

    CHECK_RV(p11t_init(&T), CKR_OK);
    CHECK_RV(p11t_init_token(&T), CKR_OK);
    CHECK_RV(p11t_open_user(&T, &s), CKR_OK);
    CHECK_INT_EQ(p11t_count(&T, s, CKO_DATA, "from-child"), 0);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        _exit(child_create());
    }
    CHECK(wait_ok(pid));
    /* No re-initialisation: the same session sees the new object. */
    CHECK_INT_EQ(p11t_count(&T, s, CKO_DATA, "from-child"), 1);
    {
        CK_OBJECT_CLASS dc = CKO_DATA;
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &dc, sizeof(dc) },
            { CKA_LABEL, P11T_V("from-child"), 10 },
        };
        CK_OBJECT_HANDLE h[2];
        CK_ULONG n = 0;
        CK_ATTRIBUTE a = { CKA_LABEL, NULL, 0 };
        CHECK_RV(p11t_find(&T, s, t, 2, h, 2, &n), CKR_OK);
        /* Another process deletes it: gone here too, handle invalid. */
        fflush(NULL);
        pid = fork();
        if (pid == 0) {
            _exit(child_delete());
        }
        CHECK(wait_ok(pid));
        CHECK_INT_EQ(p11t_count(&T, s, CKO_DATA, "from-child"), 0);
        if (n == 1) {
            CHECK_RV(T.f->C_GetAttributeValue(s, h[0], &a, 1),
                     CKR_OBJECT_HANDLE_INVALID);
        }
    }
    CHECK_RV(T.f->C_CloseSession(s), CKR_OK);
}

static void test_concurrent_keygen(void)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    pid_t pids[N_PROCS];
    CK_OBJECT_HANDLE h[64];
    CK_ULONG n = 0;
    CK_OBJECT_CLASS cc = CKO_CERTIFICATE, dc = CKO_DATA;
    CK_ULONG one = 1;
    CK_ATTRIBUTE ct[] = {
        { CKA_CLASS, &cc, sizeof(cc) },
        { CKA_CERTIFICATE_CATEGORY, &one, sizeof(one) },
    };
    CK_ATTRIBUTE ot[] = {
        { CKA_CLASS, &dc, sizeof(dc) },
        { CKA_APPLICATION, P11T_V(P11PORTAL_APP_ORDER),
          strlen(P11PORTAL_APP_ORDER) },
    };
    char subjects[64][128];
    char orders[64][512];
    size_t ns = 0, no = 0;

    fflush(NULL);
    for (int p = 0; p < N_PROCS; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            _exit(child_keygen(p));
        }
    }
    for (int p = 0; p < N_PROCS; p++) {
        CHECK(wait_ok(pids[p]));
    }
    CHECK_RV(p11t_open_user(&T, &s), CKR_OK);
    CHECK_RV(p11t_find(&T, s, ct, 2, h, 64, &n), CKR_OK);
    CHECK_INT_EQ(n, N_PROCS * N_KEYS);
    for (CK_ULONG i = 0; i < n; i++) {
        unsigned char *v = NULL;
        CK_ULONG vl = 0;
        const unsigned char *p;
        X509 *x = NULL;
        if (p11t_get_attr(&T, s, h[i], CKA_VALUE, &v, &vl) != CKR_OK) {
            CHECK(false);
            continue;
        }
        p = v;
        x = d2i_X509(NULL, &p, (long)vl);
        CHECK(x != NULL);
        if (x != NULL) {
            X509_NAME_oneline(X509_get_subject_name(x), subjects[ns],
                              sizeof(subjects[ns]));
            CHECK(strstr(subjects[ns], "CN=02:00:5e:10:00:") != NULL);
            ns++;
        }
        X509_free(x);
        free(v);
    }
    for (size_t i = 0; i < ns; i++) {
        for (size_t j = i + 1; j < ns; j++) {
            if (strcmp(subjects[i], subjects[j]) == 0) {
                fprintf(stderr, "duplicate subject %s\n", subjects[i]);
                CHECK(false);
            }
        }
    }
    CHECK_RV(p11t_find(&T, s, ot, 2, h, 64, &n), CKR_OK);
    CHECK_INT_EQ(n, N_PROCS * N_KEYS);
    for (CK_ULONG i = 0; i < n; i++) {
        unsigned char *v = NULL;
        CK_ULONG vl = 0;
        if (p11t_get_attr(&T, s, h[i], CKA_VALUE, &v, &vl) == CKR_OK
            && vl < sizeof(orders[0])) {
            /* The JSON starts with the order id: {"order":"17",... */
            char *e = strchr((char *)v, ',');
            if (e != NULL) {
                *e = '\0';
            }
            snprintf(orders[no++], sizeof(orders[0]), "%s", (char *)v);
        }
        free(v);
    }
    for (size_t i = 0; i < no; i++) {
        for (size_t j = i + 1; j < no; j++) {
            if (strcmp(orders[i], orders[j]) == 0) {
                fprintf(stderr, "duplicate order %s\n", orders[i]);
                CHECK(false);
            }
        }
    }
    CHECK_RV(T.f->C_CloseSession(s), CKR_OK);
}

int main(int argc, char **argv)
{
    p11t_setup(&T, argc, argv, MP_CONF);
    CHECK_RUN(test_visibility);
    if (check_failures == 0) {
        CHECK_RUN(test_concurrent_keygen);
    }
    p11t_teardown(&T);
    return check_summary();
}

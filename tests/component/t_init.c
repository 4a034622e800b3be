/* SPDX-License-Identifier: Apache-2.0 */
/*
 * t_init: C_Initialize's arguments and configuration. Locking modes as
 * STYLE.md 3.8 decides (callbacks without CKF_OS_LOCKING_OK -> CKR_CANT_LOCK,
 * mixed callbacks -> CKR_ARGUMENTS_BAD), pReserved as a config path, a
 * config file with a mistake (C_Initialize fails, the log names
 * file:line:key), no config at all (one token "p11portal"), several tokens,
 * and a corrupt cache file (a clear error, not a crash).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/component/p11t.h"
#include "tests/unit/check.h"

static struct p11t T;

static CK_RV mutex_create(void **m)
{
    *m = malloc(1);
    return CKR_OK;
}
static CK_RV mutex_destroy(void *m)
{
    free(m);
    return CKR_OK;
}
static CK_RV mutex_lock(void *m)
{
    (void)m;
    return CKR_OK;
}

/* C_Initialize with args, then C_Finalize if it worked. */
static CK_RV init_with(CK_C_INITIALIZE_ARGS *args)
{
    CK_RV rv = T.f->C_Initialize(args);
    if (rv == CKR_OK) {
        CHECK_RV(T.f->C_Finalize(NULL), CKR_OK);
    }
    return rv;
}

static void test_locking_modes(void)
{
    CK_C_INITIALIZE_ARGS a;

    CHECK_RV(init_with(NULL), CKR_OK);
    memset(&a, 0, sizeof(a));
    CHECK_RV(init_with(&a), CKR_OK);
    a.flags = CKF_OS_LOCKING_OK;
    CHECK_RV(init_with(&a), CKR_OK);
    a.flags = CKF_LIBRARY_CANT_CREATE_OS_THREADS;
    CHECK_RV(init_with(&a), CKR_OK);
    a.flags = 0;
    a.CreateMutex = mutex_create;
    a.DestroyMutex = mutex_destroy;
    a.LockMutex = mutex_lock;
    a.UnlockMutex = mutex_lock;
    CHECK_RV(init_with(&a), CKR_CANT_LOCK);
    a.flags = CKF_OS_LOCKING_OK;
    CHECK_RV(init_with(&a), CKR_OK);
    a.LockMutex = NULL;
    CHECK_RV(init_with(&a), CKR_ARGUMENTS_BAD);
    a.flags = 0;
    CHECK_RV(init_with(&a), CKR_ARGUMENTS_BAD);
}

static CK_ULONG slot_labels(char labels[][33], CK_ULONG max)
{
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    if (T.f->C_GetSlotList(CK_FALSE, slots, &n) != CKR_OK) {
        return 0;
    }
    for (CK_ULONG i = 0; i < n && i < max; i++) {
        CK_TOKEN_INFO ti;
        memset(labels[i], 0, 33);
        if (T.f->C_GetTokenInfo(slots[i], &ti) == CKR_OK) {
            memcpy(labels[i], ti.label, 32);
            for (int j = 31; j >= 0 && labels[i][j] == ' '; j--) {
                labels[i][j] = '\0';
            }
        }
    }
    return n;
}

static void test_no_config(void)
{
    char labels[8][33];
    CK_ULONG n;
    struct stat st;

    if (stat("/etc/p11portal/p11portal.conf", &st) == 0) {
        fprintf(stderr, "note: /etc/p11portal/p11portal.conf exists; "
                        "the no-config case is not testable here\n");
        return;
    }
    unsetenv("P11PORTAL_CONF");
    CHECK_RV(T.f->C_Initialize(NULL), CKR_OK);
    n = slot_labels(labels, 8);
    CHECK_INT_EQ(n, 1);
    CHECK_STR_EQ(labels[0], "p11portal");
    CHECK_RV(T.f->C_Finalize(NULL), CKR_OK);
    setenv("P11PORTAL_CONF", T.conf, 1);
}

static void test_two_tokens(void)
{
    char path[512];
    char labels[8][33];
    CK_ULONG n;

    snprintf(path, sizeof(path), "%s/two.conf", T.dir);
    p11t_write_file(path, "[token \"alpha\"]\ndriver = local\n"
                          "[token \"beta\"]\ndriver = local\n");
    setenv("P11PORTAL_CONF", path, 1);
    CHECK_RV(T.f->C_Initialize(NULL), CKR_OK);
    n = slot_labels(labels, 8);
    CHECK_INT_EQ(n, 2);
    CHECK_STR_EQ(labels[0], "alpha");
    CHECK_STR_EQ(labels[1], "beta");
    CHECK_RV(T.f->C_Finalize(NULL), CKR_OK);
    setenv("P11PORTAL_CONF", T.conf, 1);
}

static void test_preserved_path(void)
{
    char path[512];
    char labels[8][33];
    CK_C_INITIALIZE_ARGS a;

    snprintf(path, sizeof(path), "%s/reserved.conf", T.dir);
    p11t_write_file(path, "[token \"from-reserved\"]\ndriver = local\n");
    memset(&a, 0, sizeof(a));
    a.flags = CKF_OS_LOCKING_OK;
    a.pReserved = path;
    CHECK_RV(T.f->C_Initialize(&a), CKR_OK);
    CHECK_INT_EQ(slot_labels(labels, 8), 1);
    CHECK_STR_EQ(labels[0], "from-reserved");
    CHECK_RV(T.f->C_Finalize(NULL), CKR_OK);
}

/* Runs fn in a child with stderr captured in log; returns the exit status
 * (a signal shows as 128+sig). */
static int run_captured(void (*fn)(void), const char *log)
{
    pid_t pid;
    int status = 0;

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        close(fd);
        fn();
        _exit(check_summary());
    }
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return WEXITSTATUS(status);
}

static char *slurp(const char *path)
{
    static char buf[16384];
    FILE *fp = fopen(path, "r");
    size_t n = 0;
    buf[0] = '\0';
    if (fp != NULL) {
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = '\0';
        fclose(fp);
    }
    return buf;
}

static void bad_config_child(void)
{
    CHECK(T.f->C_Initialize(NULL) != CKR_OK);
}

static void test_bad_config(void)
{
    char path[512], log[512], want[600];
    char *text;

    snprintf(path, sizeof(path), "%s/bad.conf", T.dir);
    snprintf(log, sizeof(log), "%s/bad.log", T.dir);
    p11t_write_file(path, "[token \"p11portal\"]\n"
                          "driver = local\n"
                          "pin_max_retries = lots\n");
    setenv("P11PORTAL_CONF", path, 1);
    CHECK_INT_EQ(run_captured(bad_config_child, log), 0);
    text = slurp(log);
    snprintf(want, sizeof(want), "%s:3: key 'pin_max_retries'", path);
    CHECK(strstr(text, want) != NULL);
    if (strstr(text, want) == NULL) {
        fprintf(stderr, "log was:\n%s\n", text);
    }
    snprintf(path, sizeof(path), "%s/missing.conf", T.dir);
    setenv("P11PORTAL_CONF", path, 1);
    CHECK_INT_EQ(run_captured(bad_config_child, log), 0);
    CHECK(strstr(slurp(log), "missing.conf") != NULL);
    setenv("P11PORTAL_CONF", T.conf, 1);
}

static void corrupt_child(void)
{
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE s;
    CK_RV rv = T.f->C_Initialize(NULL);
    if (rv == CKR_OK) {
        CK_SLOT_ID slot[2];
        CK_ULONG n = 2;
        rv = T.f->C_GetSlotList(CK_FALSE, slot, &n);
        if (rv == CKR_OK && n > 0) {
            rv = T.f->C_GetTokenInfo(slot[0], &ti);
        }
        if (rv == CKR_OK && n > 0) {
            rv =
                T.f->C_OpenSession(slot[0], CKF_SERIAL_SESSION, NULL, NULL, &s);
        }
        T.f->C_Finalize(NULL);
    }
    /* Some call must have said no. */
    CHECK(rv != CKR_OK);
}

static void test_corrupt_cache(void)
{
    char conf[512], db[512], log[512], text[1024];
    int fd;

    snprintf(db, sizeof(db), "%s/corrupt.db", T.dir);
    snprintf(conf, sizeof(conf), "%s/corrupt.conf", T.dir);
    snprintf(log, sizeof(log), "%s/corrupt.log", T.dir);
    snprintf(text, sizeof(text),
             "[token \"p11portal\"]\ndriver = local\ncache_path = %s\n", db);
    p11t_write_file(conf, text);
    fd = open(db, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    for (int i = 0; i < 64; i++) {
        CHECK(write(fd, "this is not an SQLite database at all. ", 39) == 39);
    }
    close(fd);
    setenv("P11PORTAL_CONF", conf, 1);
    CHECK_INT_EQ(run_captured(corrupt_child, log), 0);
    CHECK(strstr(slurp(log), "corrupt.db") != NULL);
    setenv("P11PORTAL_CONF", T.conf, 1);
}

/* A MAC sequence of two: the third enrollment has no identity left and
 * fails cleanly, leaving no key behind. */
static void test_mac_exhausted(void)
{
    char path[512];
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE pub, priv;

    snprintf(path, sizeof(path), "%s/tiny.conf", T.dir);
    p11t_write_file(path, "[token \"tiny\"]\ndriver = local\n"
                          "kdf_iterations = 1000\n"
                          "subject = CN=${mac}\n"
                          "mac_start = 02:00:00:00:00:01\n"
                          "mac_end = 02:00:00:00:00:02\n");
    setenv("P11PORTAL_CONF", path, 1);
    CHECK_RV(p11t_init(&T), CKR_OK);
    CHECK_RV(p11t_init_token(&T), CKR_OK);
    CHECK_RV(p11t_open_user(&T, &s), CKR_OK);
    CHECK_RV(p11t_gen_ec(&T, s, "P-256", "mac-1", true, &pub, &priv), CKR_OK);
    CHECK_RV(p11t_gen_ec(&T, s, "P-256", "mac-2", true, &pub, &priv), CKR_OK);
    CHECK(p11t_gen_ec(&T, s, "P-256", "mac-3", true, &pub, &priv) != CKR_OK);
    CHECK_INT_EQ(p11t_count(&T, s, CKO_CERTIFICATE, NULL) >= 2, 1);
    CHECK_INT_EQ(p11t_count(&T, s, CKO_PRIVATE_KEY, "mac-3"), 0);
    CHECK_INT_EQ(p11t_count(&T, s, CKO_PRIVATE_KEY, NULL), 2);
    CHECK_RV(p11t_finalize(&T), CKR_OK);
    setenv("P11PORTAL_CONF", T.conf, 1);
}

int main(int argc, char **argv)
{
    p11t_setup(&T, argc, argv, P11T_CONF_FAST);
    CHECK_RUN(test_locking_modes);
    CHECK_RUN(test_no_config);
    CHECK_RUN(test_two_tokens);
    CHECK_RUN(test_preserved_path);
    CHECK_RUN(test_bad_config);
    CHECK_RUN(test_corrupt_cache);
    CHECK_RUN(test_mac_exhausted);
    p11t_teardown(&T);
    return check_summary();
}

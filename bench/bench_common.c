/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared helpers of the benchmarks (see bench_common.h).
 */
#include "bench/bench_common.h"

#include <dlfcn.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

CK_FUNCTION_LIST *bench_load(const char *path)
{
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList gfl = NULL;
    CK_FUNCTION_LIST *f = NULL;

    if (dl == NULL) {
        fprintf(stderr, "bench: dlopen %s: %s\n", path, dlerror());
        exit(1);
    }
    gfl = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
    if (gfl == NULL || gfl(&f) != CKR_OK) {
        fprintf(stderr, "bench: %s: no C_GetFunctionList\n", path);
        exit(1);
    }
    return f;
}

#define MAX_SCRATCH 8
static char scratch[MAX_SCRATCH][512];
static int n_scratch;

const char *bench_scratch(const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    char *dir;

    if (n_scratch == MAX_SCRATCH) {
        fprintf(stderr, "bench: too many scratch folders\n");
        exit(1);
    }
    dir = scratch[n_scratch++];
    snprintf(dir, sizeof(scratch[0]), "%s/p11bench-%s.XXXXXX",
             tmp != NULL ? tmp : "/tmp", tag);
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    return dir;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void bench_cleanup(void)
{
    for (int i = 0; i < n_scratch; i++) {
        nftw(scratch[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    n_scratch = 0;
}

void bench_write(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (fp == NULL) {
        perror(path);
        exit(1);
    }
    fputs(text, fp);
    fclose(fp);
}

void bench_env_ours(const char *dir, const char *extra_conf)
{
    char path[600], data[600], conf[2048];

    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(path, sizeof(path), "%s/p11portal.conf", dir);
    snprintf(conf, sizeof(conf),
             "[token \"p11portal\"]\ndriver = local\nkdf_iterations = "
             "1000\n%s",
             extra_conf != NULL ? extra_conf : "");
    bench_write(path, conf);
    setenv("XDG_DATA_HOME", data, 1);
    setenv("P11PORTAL_CONF", path, 1);
}

void bench_env_softhsm(const char *dir)
{
    char path[600], tokdir[600], conf[1400];

    snprintf(tokdir, sizeof(tokdir), "%s/tokens", dir);
    mkdir(tokdir, 0700);
    snprintf(path, sizeof(path), "%s/softhsm2.conf", dir);
    snprintf(conf, sizeof(conf),
             "directories.tokendir = %s\nobjectstore.backend = file\n"
             "log.level = ERROR\n",
             tokdir);
    bench_write(path, conf);
    setenv("SOFTHSM2_CONF", path, 1);
}

static void must(CK_RV rv, const char *what)
{
    if (rv != CKR_OK) {
        fprintf(stderr, "bench: %s: 0x%lx\n", what, rv);
        exit(1);
    }
}

CK_SESSION_HANDLE bench_token(CK_FUNCTION_LIST *f, CK_SLOT_ID *out_slot)
{
    CK_C_INITIALIZE_ARGS args;
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    CK_UTF8CHAR label[32];
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;

    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    must(f->C_Initialize(&args), "C_Initialize");
    must(f->C_GetSlotList(CK_FALSE, slots, &n), "C_GetSlotList");
    if (n == 0) {
        fprintf(stderr, "bench: no slot\n");
        exit(1);
    }
    memset(label, ' ', sizeof(label));
    memcpy(label, "bench", 5);
    must(f->C_InitToken(slots[0], (CK_UTF8CHAR *)BENCH_SO_PIN,
                        strlen(BENCH_SO_PIN), label),
         "C_InitToken");
    /* SoftHSM moves an initialised token to a new slot id: list again. */
    n = 8;
    must(f->C_GetSlotList(CK_TRUE, slots, &n), "C_GetSlotList");
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK
            && (ti.flags & CKF_TOKEN_INITIALIZED)) {
            *out_slot = slots[i];
            break;
        }
    }
    must(f->C_OpenSession(*out_slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                          NULL, &s),
         "C_OpenSession");
    must(f->C_Login(s, CKU_SO, (CK_UTF8CHAR *)BENCH_SO_PIN,
                    strlen(BENCH_SO_PIN)),
         "C_Login(SO)");
    must(f->C_InitPIN(s, (CK_UTF8CHAR *)BENCH_USER_PIN, strlen(BENCH_USER_PIN)),
         "C_InitPIN");
    must(f->C_Logout(s), "C_Logout");
    must(f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)BENCH_USER_PIN,
                    strlen(BENCH_USER_PIN)),
         "C_Login(USER)");
    return s;
}

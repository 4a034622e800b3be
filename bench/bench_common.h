/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared bits of the benchmarks: monotonic time, loading a PKCS#11 module,
 * a scratch folder, and token set-up for our module and for SoftHSM2.
 * Benchmarks report; they assert nothing (DESIGN.md "Tests and
 * benchmarks").
 */
#ifndef P11P_BENCH_BENCH_COMMON_H
#define P11P_BENCH_BENCH_COMMON_H

#include <stdbool.h>

#include <p11-kit/pkcs11.h>

#define BENCH_SO_PIN          "bench-so-0000"
#define BENCH_USER_PIN        "bench-user-0000"
#define BENCH_SOFTHSM_DEFAULT "/usr/lib/softhsm/libsofthsm2.so"

/* Seconds since an arbitrary point (CLOCK_MONOTONIC). */
double bench_now(void);

/* dlopen + C_GetFunctionList; exits with a message on failure. */
CK_FUNCTION_LIST *bench_load(const char *path);

/* A new scratch folder under $TMPDIR (or /tmp); the path is static. */
const char *bench_scratch(const char *tag);

/* Removes every scratch folder made so far (call at the end). */
void bench_cleanup(void);

/* Writes a file; exits on failure. */
void bench_write(const char *path, const char *text);

/* Prepares the environment for our module (XDG_DATA_HOME and a config with
 * a cheap KDF under dir; extra config lines appended) or for SoftHSM2
 * (SOFTHSM2_CONF with a token folder under dir). */
void bench_env_ours(const char *dir, const char *extra_conf);
void bench_env_softhsm(const char *dir);

/* C_Initialize (OS locking), first slot, C_InitToken + C_InitPIN, then a
 * RW session logged in as user. Exits on failure. */
CK_SESSION_HANDLE bench_token(CK_FUNCTION_LIST *f, CK_SLOT_ID *out_slot);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny test harness (OpenSSL's TEST_* idea): each check prints both
 * expressions and values when it fails, and counts. A test file defines
 * static test functions returning void and runs them with CHECK_RUN; main
 * returns check_summary().
 */
#ifndef P11P_TESTS_UNIT_CHECK_H
#define P11P_TESTS_UNIT_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK_FAIL_AT(...)                                   \
    do {                                                     \
        check_failures++;                                    \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);                        \
        fputc('\n', stderr);                                 \
    } while (0)

#define CHECK(cond)                            \
    do {                                       \
        check_count++;                         \
        if (!(cond)) {                         \
            CHECK_FAIL_AT("CHECK(%s)", #cond); \
        }                                      \
    } while (0)

#define CHECK_INT_EQ(a, b)                                             \
    do {                                                               \
        long long va_ = (long long)(a), vb_ = (long long)(b);          \
        check_count++;                                                 \
        if (va_ != vb_) {                                              \
            CHECK_FAIL_AT("%s == %s: %lld != %lld", #a, #b, va_, vb_); \
        }                                                              \
    } while (0)

/* For CK_RV and status values: prints hex. */
#define CHECK_RV(a, b)                                                    \
    do {                                                                  \
        unsigned long va_ = (unsigned long)(a), vb_ = (unsigned long)(b); \
        check_count++;                                                    \
        if (va_ != vb_) {                                                 \
            CHECK_FAIL_AT("%s == %s: 0x%lx != 0x%lx", #a, #b, va_, vb_);  \
        }                                                                 \
    } while (0)

#define CHECK_STR_EQ(a, b)                                             \
    do {                                                               \
        const char *sa_ = (a), *sb_ = (b);                             \
        check_count++;                                                 \
        if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0) {     \
            CHECK_FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b,        \
                          sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); \
        }                                                              \
    } while (0)

#define CHECK_MEM_EQ(a, alen, b, blen)                                        \
    do {                                                                      \
        size_t la_ = (size_t)(alen), lb_ = (size_t)(blen);                    \
        check_count++;                                                        \
        if (la_ != lb_ || memcmp((a), (b), la_) != 0) {                       \
            CHECK_FAIL_AT("%s[%zu] == %s[%zu]: contents differ", #a, la_, #b, \
                          lb_);                                               \
        }                                                                     \
    } while (0)

#define CHECK_RUN(fn)                                              \
    do {                                                           \
        int before_ = check_failures;                              \
        fn();                                                      \
        fprintf(stderr, "%s %s\n",                                 \
                check_failures == before_ ? "ok" : "not ok", #fn); \
    } while (0)

static inline int check_summary(void)
{
    fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);
    return check_failures == 0 ? 0 : 1;
}

#endif

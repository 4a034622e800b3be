/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of remote/retry.c: backoff maths, classes, Retry-After in
 * both forms. */
#include "remote/retry.h"
#include "tests/unit/check.h"

static void test_classes(void)
{
    CHECK(p11p_retry_is_retryable(P11P_ERR_NOT_SENT, false));
    CHECK(p11p_retry_is_retryable(P11P_ERR_RATE_LIMITED, false));
    CHECK(!p11p_retry_is_retryable(P11P_ERR_SENT_UNKNOWN, false));
    CHECK(p11p_retry_is_retryable(P11P_ERR_SENT_UNKNOWN, true));
    CHECK(!p11p_retry_is_retryable(P11P_ERR_REJECTED, true));
    CHECK(!p11p_retry_is_retryable(P11P_ERR_PORTAL_AUTH, true));
    CHECK(!p11p_retry_is_retryable(P11P_ERR_PROTOCOL, true));
    CHECK(!p11p_retry_is_retryable(P11P_OK, true));
}

static void test_backoff(void)
{
    struct p11p_retry_policy p;
    uint64_t d = 0;

    p11p_retry_policy_default(&p);
    p.max_attempts = 6;
    p.base_ms = 100;
    p.max_delay_ms = 1000;
    p.max_total_ms = 60000;
    /* full jitter: delay = rnd mod (ceiling + 1), ceiling doubling */
    CHECK(p11p_retry_next(&p, P11P_ERR_NOT_SENT, false, 1, 0, 0, 100, &d));
    CHECK_INT_EQ(d, 100);
    CHECK(p11p_retry_next(&p, P11P_ERR_NOT_SENT, false, 1, 0, 0, 101, &d));
    CHECK_INT_EQ(d, 0);
    CHECK(p11p_retry_next(&p, P11P_ERR_NOT_SENT, false, 2, 0, 0, 200, &d));
    CHECK_INT_EQ(d, 200);
    CHECK(p11p_retry_next(&p, P11P_ERR_NOT_SENT, false, 3, 0, 0, 400, &d));
    CHECK_INT_EQ(d, 400);
    CHECK(
        p11p_retry_next(&p, P11P_ERR_NOT_SENT, false, 5, 0, 0, UINT64_MAX, &d));
    CHECK(d <= 1000);
    CHECK(p11p_retry_next(&p, P11P_ERR_NOT_SENT, false, 5, 0, 0, 1000, &d));
    CHECK_INT_EQ(d, 1000);
    for (uint64_t r = 0; r < 5000; r += 7) {
        CHECK(p11p_retry_next(&p, P11P_ERR_NOT_SENT, false, 4, 0, 0,
                              r * 2654435761u, &d));
        CHECK(d <= 800);
    }
    /* bounds: attempts, total time, class */
    CHECK(!p11p_retry_next(&p, P11P_ERR_NOT_SENT, false, 6, 0, 0, 1, &d));
    CHECK(!p11p_retry_next(&p, P11P_ERR_NOT_SENT, false, 1, 60000, 0, 1, &d));
    CHECK(!p11p_retry_next(&p, P11P_ERR_NOT_SENT, false, 1, 59999, 0, 50, &d));
    CHECK(!p11p_retry_next(&p, P11P_ERR_REJECTED, true, 1, 0, 0, 1, &d));
    CHECK(!p11p_retry_next(&p, P11P_ERR_SENT_UNKNOWN, false, 1, 0, 0, 1, &d));
    CHECK(p11p_retry_next(&p, P11P_ERR_SENT_UNKNOWN, true, 1, 0, 0, 1, &d));
    /* Retry-After honoured exactly; too long means give up */
    CHECK(p11p_retry_next(&p, P11P_ERR_RATE_LIMITED, false, 1, 0, 1, 5, &d));
    CHECK_INT_EQ(d, 1000);
    CHECK(!p11p_retry_next(&p, P11P_ERR_RATE_LIMITED, false, 1, 0, 2, 5, &d));
}

static void test_retry_after(void)
{
    unsigned s = 0;
    /* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
    const int64_t t = 784111777;

    CHECK_RV(p11p_retry_parse_after("120", t, &s), P11P_OK);
    CHECK_INT_EQ(s, 120);
    CHECK_RV(p11p_retry_parse_after(" 0 ", t, &s), P11P_OK);
    CHECK_INT_EQ(s, 0);
    CHECK_RV(p11p_retry_parse_after("99999999", t, &s), P11P_OK);
    CHECK_INT_EQ(s, 86400);
    CHECK_RV(
        p11p_retry_parse_after("Sun, 06 Nov 1994 08:49:37 GMT", t - 30, &s),
        P11P_OK);
    CHECK_INT_EQ(s, 30);
    CHECK_RV(
        p11p_retry_parse_after("Sunday, 06-Nov-94 08:49:37 GMT", t - 5, &s),
        P11P_OK);
    CHECK_INT_EQ(s, 5);
    CHECK_RV(p11p_retry_parse_after("Sun Nov  6 08:49:37 1994", t - 7, &s),
             P11P_OK);
    CHECK_INT_EQ(s, 7);
    CHECK_RV(
        p11p_retry_parse_after("Sun, 06 Nov 1994 08:49:37 GMT", t + 100, &s),
        P11P_OK);
    CHECK_INT_EQ(s, 0);
    CHECK_RV(p11p_retry_parse_after("", t, &s), P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_retry_parse_after("-5", t, &s), P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_retry_parse_after("12abc", t, &s), P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_retry_parse_after("Sun, 06 Foo 1994 08:49:37 GMT", t, &s),
             P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_retry_parse_after("Sun, 06 Nov 1994 25:49:37 GMT", t, &s),
             P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_retry_parse_after("Sun, 06 Nov 1994 08:49:37 CET", t, &s),
             P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_retry_parse_after(NULL, t, &s), P11P_ERR_PROTOCOL);
}

int main(void)
{
    CHECK_RUN(test_classes);
    CHECK_RUN(test_backoff);
    CHECK_RUN(test_retry_after);
    (void)p11p_retry_random();
    return check_summary();
}

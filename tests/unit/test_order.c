/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/enroll/order.c: every (state, event) pair against the
 * expected transitions of DESIGN.md, and the state names.
 */
#include <stdbool.h>

#include "core/enroll/order.h"
#include "tests/unit/check.h"

#define S(x) P11P_ORDER_##x
#define E(x) P11P_ORDER_EV_##x

/* The expected table, written independently of order.c: -1 = refused. */
static int expected(enum p11p_order_state s, enum p11p_order_event e)
{
    switch (s) {
    case S(NEW):
        return e == E(SUBMIT) ? S(SUBMITTING) : e == E(FAIL) ? S(FAILED) : -1;
    case S(SUBMITTING):
        return e == E(ACCEPTED)      ? S(SUBMITTED)
               : e == E(NOT_ARRIVED) ? S(NEW)
               : e == E(REJECT)      ? S(REJECTED)
               : e == E(FAIL)        ? S(FAILED)
                                     : -1;
    case S(SUBMITTED):
        return e == E(AWAIT_APPROVAL) ? S(PENDING_APPROVAL)
               : e == E(PROCESS)      ? S(PROCESSING)
               : e == E(ISSUE)        ? S(ISSUED)
               : e == E(REJECT)       ? S(REJECTED)
               : e == E(FAIL)         ? S(FAILED)
                                      : -1;
    case S(PENDING_APPROVAL):
        return e == E(PROCESS)  ? S(PROCESSING)
               : e == E(ISSUE)  ? S(ISSUED)
               : e == E(REJECT) ? S(REJECTED)
               : e == E(FAIL)   ? S(FAILED)
                                : -1;
    case S(PROCESSING):
        return e == E(ISSUE)    ? S(ISSUED)
               : e == E(REJECT) ? S(REJECTED)
               : e == E(FAIL)   ? S(FAILED)
                                : -1;
    case S(ISSUED):
        return e == E(RENEW)    ? S(RENEWED)
               : e == E(REVOKE) ? S(REVOKED)
               : e == E(EXPIRE) ? S(EXPIRED)
                                : -1;
    case S(REJECTED):
    case S(FAILED):
    case S(RENEWED):
    case S(REVOKED):
    case S(EXPIRED):
        return -1;
    }
    return -1;
}

static void test_all_pairs(void)
{
    int allowed = 0;
    for (int s = 0; s < P11P_ORDER_STATE_COUNT; s++) {
        for (int e = 0; e < P11P_ORDER_EVENT_COUNT; e++) {
            enum p11p_order_state to = S(NEW);
            enum p11p_status rc = p11p_order_transition(
                (enum p11p_order_state)s, (enum p11p_order_event)e, &to);
            int want =
                expected((enum p11p_order_state)s, (enum p11p_order_event)e);
            if (want < 0) {
                if (rc != P11P_ERR_INVALID_INPUT) {
                    CHECK_FAIL_AT("%s + %s should be refused",
                                  p11p_order_state_name(s),
                                  p11p_order_event_name(e));
                }
            } else {
                allowed++;
                if (rc != P11P_OK || (int)to != want) {
                    CHECK_FAIL_AT(
                        "%s + %s -> %s, want %s", p11p_order_state_name(s),
                        p11p_order_event_name(e),
                        rc == P11P_OK ? p11p_order_state_name(to) : "(refused)",
                        p11p_order_state_name(want));
                }
            }
            check_count++;
        }
    }
    CHECK_INT_EQ(allowed, 21);
}

static void test_names(void)
{
    static const char *names[] = {
        "new",        "submitting", "submitted", "pending_approval",
        "processing", "issued",     "rejected",  "failed",
        "renewed",    "revoked",    "expired"
    };
    for (int s = 0; s < P11P_ORDER_STATE_COUNT; s++) {
        enum p11p_order_state back = S(NEW);
        CHECK_STR_EQ(p11p_order_state_name(s), names[s]);
        CHECK_RV(p11p_order_state_parse(names[s], &back), P11P_OK);
        CHECK_INT_EQ(back, s);
    }
    enum p11p_order_state x = S(NEW);
    CHECK_RV(p11p_order_state_parse("bogus", &x), P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_order_state_parse(NULL, &x), P11P_ERR_INVALID_INPUT);
    CHECK_STR_EQ(p11p_order_state_name((enum p11p_order_state)99), "?");
    for (int e = 0; e < P11P_ORDER_EVENT_COUNT; e++) {
        CHECK(p11p_order_event_name(e)[0] != '?');
    }
    CHECK(!p11p_order_is_final(S(PENDING_APPROVAL)));
    CHECK(p11p_order_is_final(S(ISSUED)));
    CHECK(p11p_order_is_final(S(REJECTED)));
    CHECK(!p11p_order_is_final(S(SUBMITTING)));
}

int main(void)
{
    CHECK_RUN(test_all_pairs);
    CHECK_RUN(test_names);
    return check_summary();
}

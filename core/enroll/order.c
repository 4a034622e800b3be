/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The order state machine as data: the transition table and the state and
 * event names (see order.h for the diagram).
 */
#include "core/enroll/order.h"

#include <string.h>

struct transition {
    enum p11p_order_state from;
    enum p11p_order_event ev;
    enum p11p_order_state to;
};

#define S(x) P11P_ORDER_##x
#define E(x) P11P_ORDER_EV_##x

/* clang-format off */
static const struct transition transitions_table[] = {
    { S(NEW),              E(SUBMIT),         S(SUBMITTING) },
    { S(NEW),              E(FAIL),           S(FAILED) },
    { S(SUBMITTING),       E(ACCEPTED),       S(SUBMITTED) },
    { S(SUBMITTING),       E(NOT_ARRIVED),    S(NEW) },
    { S(SUBMITTING),       E(REJECT),         S(REJECTED) },
    { S(SUBMITTING),       E(FAIL),           S(FAILED) },
    { S(SUBMITTED),        E(AWAIT_APPROVAL), S(PENDING_APPROVAL) },
    { S(SUBMITTED),        E(PROCESS),        S(PROCESSING) },
    { S(SUBMITTED),        E(ISSUE),          S(ISSUED) },
    { S(SUBMITTED),        E(REJECT),         S(REJECTED) },
    { S(SUBMITTED),        E(FAIL),           S(FAILED) },
    { S(PENDING_APPROVAL), E(PROCESS),        S(PROCESSING) },
    { S(PENDING_APPROVAL), E(ISSUE),          S(ISSUED) },
    { S(PENDING_APPROVAL), E(REJECT),         S(REJECTED) },
    { S(PENDING_APPROVAL), E(FAIL),           S(FAILED) },
    { S(PROCESSING),       E(ISSUE),          S(ISSUED) },
    { S(PROCESSING),       E(REJECT),         S(REJECTED) },
    { S(PROCESSING),       E(FAIL),           S(FAILED) },
    { S(ISSUED),           E(RENEW),          S(RENEWED) },
    { S(ISSUED),           E(REVOKE),         S(REVOKED) },
    { S(ISSUED),           E(EXPIRE),         S(EXPIRED) },
};

/* Indexed by enum p11p_order_state; names of pkcs11-vendor.h. */
static const char *const state_names[P11P_ORDER_STATE_COUNT] = {
    [S(NEW)] = "new",
    [S(SUBMITTING)] = "submitting",
    [S(SUBMITTED)] = "submitted",
    [S(PENDING_APPROVAL)] = "pending_approval",
    [S(PROCESSING)] = "processing",
    [S(ISSUED)] = "issued",
    [S(REJECTED)] = "rejected",
    [S(FAILED)] = "failed",
    [S(RENEWED)] = "renewed",
    [S(REVOKED)] = "revoked",
    [S(EXPIRED)] = "expired",
};

static const char *const event_names[P11P_ORDER_EVENT_COUNT] = {
    [E(SUBMIT)] = "submit",
    [E(ACCEPTED)] = "accepted",
    [E(NOT_ARRIVED)] = "not-arrived",
    [E(AWAIT_APPROVAL)] = "await-approval",
    [E(PROCESS)] = "process",
    [E(ISSUE)] = "issue",
    [E(REJECT)] = "reject",
    [E(FAIL)] = "fail",
    [E(RENEW)] = "renew",
    [E(REVOKE)] = "revoke",
    [E(EXPIRE)] = "expire",
};
/* clang-format on */

enum p11p_status p11p_order_transition(enum p11p_order_state from,
                                       enum p11p_order_event ev,
                                       enum p11p_order_state *out)
{
    for (size_t i = 0;
         i < sizeof(transitions_table) / sizeof(transitions_table[0]); i++) {
        if (transitions_table[i].from == from
            && transitions_table[i].ev == ev) {
            *out = transitions_table[i].to;
            return P11P_OK;
        }
    }
    return P11P_ERR_INVALID_INPUT;
}

const char *p11p_order_state_name(enum p11p_order_state s)
{
    if ((unsigned)s >= P11P_ORDER_STATE_COUNT) {
        return "?";
    }
    return state_names[s];
}

enum p11p_status p11p_order_state_parse(const char *name,
                                        enum p11p_order_state *out)
{
    for (unsigned i = 0; name != NULL && i < P11P_ORDER_STATE_COUNT; i++) {
        if (strcmp(state_names[i], name) == 0) {
            *out = (enum p11p_order_state)i;
            return P11P_OK;
        }
    }
    return P11P_ERR_INVALID_INPUT;
}

const char *p11p_order_event_name(enum p11p_order_event ev)
{
    if ((unsigned)ev >= P11P_ORDER_EVENT_COUNT) {
        return "?";
    }
    return event_names[ev];
}

bool p11p_order_is_final(enum p11p_order_state s)
{
    switch (s) {
    case P11P_ORDER_NEW:
    case P11P_ORDER_SUBMITTING:
    case P11P_ORDER_SUBMITTED:
    case P11P_ORDER_PENDING_APPROVAL:
    case P11P_ORDER_PROCESSING:
        return false;
    case P11P_ORDER_ISSUED:
    case P11P_ORDER_REJECTED:
    case P11P_ORDER_FAILED:
    case P11P_ORDER_RENEWED:
    case P11P_ORDER_REVOKED:
    case P11P_ORDER_EXPIRED:
        return true;
    }
    return true;
}

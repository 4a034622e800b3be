/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Order states and events, and the const transition table of DESIGN.md
 * "Enrollment" (STYLE.md 3.10):
 *
 *   NEW -> SUBMITTING -> SUBMITTED -> (PENDING_APPROVAL | PROCESSING) -> ISSUED
 *   SUBMITTING/SUBMITTED/PENDING_APPROVAL/PROCESSING -> REJECTED | FAILED
 *   ISSUED -> RENEWED | REVOKED | EXPIRED
 *   SUBMITTING -> NEW when reconciliation proves the request never arrived
 *
 * Also allowed, and why: SUBMITTED -> ISSUED (a portal that issues at once,
 * the local CA), PENDING_APPROVAL -> PROCESSING (approved, not yet issued),
 * NEW -> FAILED (the CSR cannot be built, e.g. a bad subject: nothing was
 * sent, and retrying cannot help). Every change of an order's state in the
 * engine goes through p11p_order_transition.
 */
#ifndef P11P_CORE_ENROLL_ORDER_H
#define P11P_CORE_ENROLL_ORDER_H

#include <stdbool.h>

#include "cache/cache.h"
#include "core/base/status.h"

enum p11p_order_event {
    P11P_ORDER_EV_SUBMIT = 0,     /* about to call the driver */
    P11P_ORDER_EV_ACCEPTED,       /* the portal has the order */
    P11P_ORDER_EV_NOT_ARRIVED,    /* reconciliation: it never arrived */
    P11P_ORDER_EV_AWAIT_APPROVAL, /* portal: pending approval */
    P11P_ORDER_EV_PROCESS,        /* portal: approved / processing */
    P11P_ORDER_EV_ISSUE,          /* certificate verified and stored */
    P11P_ORDER_EV_REJECT,         /* portal refused */
    P11P_ORDER_EV_FAIL,           /* our side failed for good */
    P11P_ORDER_EV_RENEW,
    P11P_ORDER_EV_REVOKE,
    P11P_ORDER_EV_EXPIRE,
};
#define P11P_ORDER_EVENT_COUNT 11

/* The state that event ev leads to from state from, in *out.
 * P11P_ERR_INVALID_INPUT (not logged: the caller knows the order) if the
 * table has no such transition. */
enum p11p_status p11p_order_transition(enum p11p_order_state from,
                                       enum p11p_order_event ev,
                                       enum p11p_order_state *out);

/* The state's name as in pkcs11-vendor.h ("pending_approval"); "?" for a
 * value out of range. Never NULL. */
const char *p11p_order_state_name(enum p11p_order_state s);

/* Parses a state name. P11P_ERR_INVALID_INPUT if unknown. */
enum p11p_status p11p_order_state_parse(const char *name,
                                        enum p11p_order_state *out);

/* The event's name ("submit"), for logs. Never NULL. */
const char *p11p_order_event_name(enum p11p_order_event ev);

/* True for ISSUED, REJECTED, FAILED, RENEWED, REVOKED, EXPIRED: states the
 * collector no longer advances. */
bool p11p_order_is_final(enum p11p_order_state s);

#endif

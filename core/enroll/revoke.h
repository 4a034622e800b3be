/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Revocation and the refresh of issued certificates (issue 7, revoke.c),
 * and the helpers renew.c and adopt.c share with it: the RFC 5280 reason
 * names, a certificate object's order and serial number. Used by the
 * p11portal tool (revoke, sync) and inside core/enroll.
 */
#ifndef P11P_CORE_ENROLL_REVOKE_H
#define P11P_CORE_ENROLL_REVOKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "core/base/status.h"
#include "core/enroll/enroll.h"
#include "remote/driver.h"

/* Parses an RFC 5280 reason name ("keyCompromise"; case-insensitive, '-'
 * and '_' ignored, so "key-compromise" works too). P11P_ERR_INVALID_INPUT
 * if unknown. */
enum p11p_status p11p_revoke_reason_parse(const char *name,
                                          enum p11p_revoke_reason *out);

/* The RFC 5280 name of a reason ("keyCompromise"); "?" if unknown. */
const char *p11p_revoke_reason_name(enum p11p_revoke_reason r);

/* The names, comma-separated, for usage texts. */
const char *p11p_revoke_reason_names(void);

/* The order id of certificate object obj (its order_id, else its
 * CKA_P11PORTAL_ORDER_ID); 0 if it has none. */
int64_t p11p_revoke_cert_order_id(const struct p11p_cache_object *obj);

/* Upper-case hex of the serial number of a DER certificate into out
 * (at least 2 * 20 + 1 bytes; longer serials are refused with
 * P11P_ERR_INVALID_INPUT), and its notAfter as Unix time (may be NULL). */
enum p11p_status p11p_revoke_cert_info(const unsigned char *der, size_t len,
                                       char *serial_hex, size_t serial_size,
                                       int64_t *not_after);

/* One order whose state a refresh changed. */
struct p11p_enroll_change {
    int64_t order_id;
    char label[128];
    enum p11p_order_state from;
    enum p11p_order_state to;
    char why[160];
};

/* The outcome of p11p_enroll_refresh. changes: a new array (free()). */
struct p11p_enroll_refresh_result {
    size_t checked;   /* issued orders examined */
    size_t remaining; /* issued orders due but left for the next run */
    bool rate_limited;
    unsigned retry_after_s;
    struct p11p_enroll_change *changes;
    size_t n_changes;
};

/* Refreshes the state of ISSUED orders that are due (not checked in the
 * last interval_s seconds): expired by date -> EXPIRED; the portal says
 * revoked -> REVOKED, expired -> EXPIRED. Each order under its lock (orders
 * other processes hold are skipped); stops at the deadline of budget_ms or
 * at the portal's first rate-limit answer (then retry_after_s). Checked
 * orders are due again interval_s later. */
enum p11p_status p11p_enroll_refresh(struct p11p_enroll *e, unsigned budget_ms,
                                     unsigned interval_s,
                                     struct p11p_enroll_refresh_result *out);

#endif

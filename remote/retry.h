/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The retry policy (STYLE.md 3.12): exponential backoff with full jitter,
 * Retry-After honoured, never a retry of a 4xx business refusal or of a
 * request whose outcome is unknown unless it is idempotent, bounds on both
 * attempts and total time. Pure functions: they compute the next delay and
 * whether to retry; the caller (the enrollment engine) sleeps. Drivers never
 * sleep.
 */
#ifndef P11P_REMOTE_RETRY_H
#define P11P_REMOTE_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/base/status.h"

struct p11p_retry_policy {
    unsigned max_attempts; /* total attempts, first one included */
    uint64_t base_ms;      /* first backoff ceiling */
    uint64_t max_delay_ms; /* ceiling of one backoff */
    uint64_t max_total_ms; /* no retry that would end after this much time */
};

/* 5 attempts, 500 ms base, 30 s per delay, 120 s in total. */
void p11p_retry_policy_default(struct p11p_retry_policy *p);

/* True if a failure with status st may be retried at all:
 * NOT_SENT and RATE_LIMITED always, SENT_UNKNOWN only for idempotent
 * requests (for an enrollment the engine must reconcile first), never
 * REJECTED, PORTAL_AUTH, PROTOCOL or local errors. */
bool p11p_retry_is_retryable(enum p11p_status st, bool idempotent);

/*
 * Decides about the attempt after `attempt` (1-based, the one that just
 * failed with st). elapsed_ms: time spent since the first attempt.
 * retry_after_s: the portal's Retry-After (0 if none). rnd: a uniformly
 * random 64-bit number (p11p_retry_random() or a fixed one in tests).
 * Returns true and the delay to wait in *out_delay_ms, or false (give up).
 * The delay is full jitter, uniform in [0, min(max_delay, base * 2^(n-1))],
 * or exactly Retry-After when the portal gave one (a Retry-After longer than
 * max_delay_ms or past the total budget means give up).
 */
bool p11p_retry_next(const struct p11p_retry_policy *p, enum p11p_status st,
                     bool idempotent, unsigned attempt, uint64_t elapsed_ms,
                     unsigned retry_after_s, uint64_t rnd,
                     uint64_t *out_delay_ms);

/* A random number for the jitter (RAND_bytes on the private libctx; falls
 * back to a time-seeded value if that fails: jitter needs no secrecy). */
uint64_t p11p_retry_random(void);

/* Parses a Retry-After value: delta-seconds ("120") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT", RFC 9110 §10.2.3, also the obsolete
 * RFC 850 and asctime forms). now: the current wall time (epoch seconds).
 * A date in the past gives 0. Values are capped at one day.
 * P11P_ERR_PROTOCOL for anything else. */
enum p11p_status p11p_retry_parse_after(const char *value, int64_t now,
                                        unsigned *out_s);

#endif

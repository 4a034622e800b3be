/* SPDX-License-Identifier: Apache-2.0 */
/* Monotonic time, wall time and deadlines. */
#ifndef P11P_CORE_BASE_CLOCK_H
#define P11P_CORE_BASE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Milliseconds on the monotonic clock. */
uint64_t p11p_clock_mono_ms(void);

/* Seconds since the epoch (wall clock). */
int64_t p11p_clock_now(void);

/* A deadline ms milliseconds from now on the monotonic clock. */
uint64_t p11p_clock_deadline(uint64_t ms);

/* Milliseconds left before the deadline (0 if passed). */
uint64_t p11p_clock_left_ms(uint64_t deadline);

/* Sleeps ms milliseconds (never call with a lock held). */
void p11p_clock_sleep_ms(uint64_t ms);

#endif

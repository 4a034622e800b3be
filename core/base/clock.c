/* SPDX-License-Identifier: Apache-2.0 */
/* Monotonic time, wall time and deadlines. */
#include "core/base/clock.h"

#include <errno.h>
#include <time.h>

uint64_t p11p_clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t p11p_clock_now(void)
{
    return (int64_t)time(NULL);
}

uint64_t p11p_clock_deadline(uint64_t ms)
{
    return p11p_clock_mono_ms() + ms;
}

uint64_t p11p_clock_left_ms(uint64_t deadline)
{
    uint64_t now = p11p_clock_mono_ms();
    return now >= deadline ? 0 : deadline - now;
}

void p11p_clock_sleep_ms(uint64_t ms)
{
    struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
                           .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retry maths and Retry-After parsing; see retry.h. No sleeping, no I/O.
 */
#include "remote/retry.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "core/base/clock.h"
#include "core/base/ossl.h"
#include "core/base/str.h"

#define RETRY_AFTER_CAP_S 86400u

void p11p_retry_policy_default(struct p11p_retry_policy *p)
{
    p->max_attempts = 5;
    p->base_ms = 500;
    p->max_delay_ms = 30000;
    p->max_total_ms = 120000;
}

bool p11p_retry_is_retryable(enum p11p_status st, bool idempotent)
{
    switch (st) {
    case P11P_ERR_NOT_SENT:
    case P11P_ERR_RATE_LIMITED:
        return true;
    case P11P_ERR_SENT_UNKNOWN:
        return idempotent;
    case P11P_OK:
    case P11P_ERR_NOMEM:
    case P11P_ERR_INVALID_INPUT:
    case P11P_ERR_CONFIG:
    case P11P_ERR_IO:
    case P11P_ERR_CORRUPT:
    case P11P_ERR_BUSY:
    case P11P_ERR_AUTH:
    case P11P_ERR_PIN_LOCKED:
    case P11P_ERR_NOT_FOUND:
    case P11P_ERR_EXISTS:
    case P11P_ERR_UNSUPPORTED:
    case P11P_ERR_CRYPTO:
    case P11P_ERR_REJECTED:
    case P11P_ERR_PORTAL_AUTH:
    case P11P_ERR_PROTOCOL:
    case P11P_ERR_EXHAUSTED:
    case P11P_ERR_INTERNAL:
    case P11P_STATUS_COUNT:
        return false;
    }
    return false;
}

bool p11p_retry_next(const struct p11p_retry_policy *p, enum p11p_status st,
                     bool idempotent, unsigned attempt, uint64_t elapsed_ms,
                     unsigned retry_after_s, uint64_t rnd,
                     uint64_t *out_delay_ms)
{
    uint64_t ceiling = p->base_ms;
    uint64_t delay = 0;

    if (!p11p_retry_is_retryable(st, idempotent) || attempt == 0
        || attempt >= p->max_attempts) {
        return false;
    }
    if (retry_after_s > 0) {
        delay = (uint64_t)retry_after_s * 1000u;
        if (delay > p->max_delay_ms) {
            return false;
        }
    } else {
        for (unsigned i = 1; i < attempt && ceiling < p->max_delay_ms; i++) {
            ceiling *= 2;
        }
        if (ceiling > p->max_delay_ms) {
            ceiling = p->max_delay_ms;
        }
        delay = rnd % (ceiling + 1);
    }
    if (elapsed_ms >= p->max_total_ms || delay > p->max_total_ms - elapsed_ms) {
        return false;
    }
    *out_delay_ms = delay;
    return true;
}

uint64_t p11p_retry_random(void)
{
    uint64_t v = 0;

    if (RAND_bytes_ex(p11p_ossl_libctx(), (unsigned char *)&v, sizeof(v), 0)
        != 1) {
        v = p11p_clock_mono_ms() * 6364136223846793005ULL
            + 1442695040888963407ULL;
    }
    return v;
}

static const char *const month_names[12] = { "Jan", "Feb", "Mar", "Apr",
                                             "May", "Jun", "Jul", "Aug",
                                             "Sep", "Oct", "Nov", "Dec" };

static bool parse_month(const char *s, int *out)
{
    for (int i = 0; i < 12; i++) {
        if (strncmp(s, month_names[i], 3) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

static bool parse_num(const char **pp, int digits_min, int digits_max, int *out)
{
    const char *p = *pp;
    int v = 0;
    int n = 0;

    while (n < digits_max && isdigit((unsigned char)p[n])) {
        v = v * 10 + (p[n] - '0');
        n++;
    }
    if (n < digits_min) {
        return false;
    }
    *pp = p + n;
    *out = v;
    return true;
}

static bool parse_hms(const char **pp, struct tm *tm)
{
    const char *p = *pp;

    if (!parse_num(&p, 2, 2, &tm->tm_hour) || *p++ != ':'
        || !parse_num(&p, 2, 2, &tm->tm_min) || *p++ != ':'
        || !parse_num(&p, 2, 2, &tm->tm_sec)) {
        return false;
    }
    *pp = p;
    return tm->tm_hour < 24 && tm->tm_min < 60 && tm->tm_sec < 61;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
 * "Sun Nov  6 08:49:37 1994". */
static bool parse_http_date(const char *s, int64_t *out)
{
    struct tm tm;
    const char *p = s;
    const char *comma = strchr(s, ',');
    int year = 0;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (comma != NULL) {
        p = comma + 1;
        while (*p == ' ') {
            p++;
        }
        if (!parse_num(&p, 1, 2, &tm.tm_mday)) {
            return false;
        }
        if (*p != ' ' && *p != '-') {
            return false;
        }
        p++;
        if (!parse_month(p, &tm.tm_mon)) {
            return false;
        }
        p += 3;
        if (*p != ' ' && *p != '-') {
            return false;
        }
        p++;
        if (!parse_num(&p, 2, 4, &year)) {
            return false;
        }
        if (year < 100) {
            year += year < 70 ? 2000 : 1900;
        }
        if (*p++ != ' ' || !parse_hms(&p, &tm)) {
            return false;
        }
        if (strcmp(p, " GMT") != 0 && strcmp(p, " UTC") != 0) {
            return false;
        }
    } else {
        /* asctime: "Sun Nov  6 08:49:37 1994" */
        if (strlen(s) < 24 || s[3] != ' ') {
            return false;
        }
        p = s + 4;
        if (!parse_month(p, &tm.tm_mon)) {
            return false;
        }
        p += 3;
        while (*p == ' ') {
            p++;
        }
        if (!parse_num(&p, 1, 2, &tm.tm_mday) || *p++ != ' '
            || !parse_hms(&p, &tm) || *p++ != ' ' || !parse_num(&p, 4, 4, &year)
            || *p != '\0') {
            return false;
        }
    }
    if (tm.tm_mday < 1 || tm.tm_mday > 31 || year < 1970 || year > 9999) {
        return false;
    }
    tm.tm_year = year - 1900;
    t = timegm(&tm);
    if (t == (time_t)-1) {
        return false;
    }
    *out = (int64_t)t;
    return true;
}

enum p11p_status p11p_retry_parse_after(const char *value, int64_t now,
                                        unsigned *out_s)
{
    char v[64];
    size_t len = 0;
    const char *p = value;
    uint64_t secs = 0;
    int64_t when = 0;

    if (value == NULL) {
        return P11P_ERR_PROTOCOL;
    }
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (!p11p_str_copy(v, sizeof(v), p)) {
        return P11P_ERR_PROTOCOL;
    }
    len = strlen(v);
    while (len > 0
           && (v[len - 1] == ' ' || v[len - 1] == '\t' || v[len - 1] == '\r'
               || v[len - 1] == '\n')) {
        v[--len] = '\0';
    }
    if (len == 0) {
        return P11P_ERR_PROTOCOL;
    }
    if (isdigit((unsigned char)v[0])) {
        if (p11p_str_to_u64(v, 0, UINT64_MAX / 2, &secs) != P11P_OK) {
            return P11P_ERR_PROTOCOL;
        }
    } else {
        if (!parse_http_date(v, &when)) {
            return P11P_ERR_PROTOCOL;
        }
        secs = when > now ? (uint64_t)(when - now) : 0;
    }
    *out_s = secs > RETRY_AFTER_CAP_S ? RETRY_AFTER_CAP_S : (unsigned)secs;
    return P11P_OK;
}

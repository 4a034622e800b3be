/* SPDX-License-Identifier: Apache-2.0 */
/* Checked string helpers. */
#include "core/base/str.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool p11p_str_copy(char *dst, size_t dstsz, const char *src)
{
    if (dstsz == 0) {
        return false;
    }
    size_t n = strlen(src);
    bool fits = n < dstsz;
    if (!fits) {
        n = dstsz - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
    return fits;
}

void p11p_str_pad(unsigned char *field, size_t len, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;
    if (n > len) {
        n = len;
    }
    memset(field, ' ', len);
    if (n > 0) {
        memcpy(field, src, n);
    }
}

enum p11p_status p11p_str_to_u64(const char *s, uint64_t min, uint64_t max,
                                 uint64_t *out)
{
    char *end = NULL;
    if (s == NULL || *s < '0' || *s > '9') {
        return P11P_ERR_INVALID_INPUT;
    }
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        return P11P_ERR_INVALID_INPUT;
    }
    *out = (uint64_t)v;
    return P11P_OK;
}

void p11p_str_hex(const unsigned char *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

char *p11p_str_dup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded growable buffer. */
#include "core/base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void p11p_buf_init(struct p11p_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void p11p_buf_free(struct p11p_buf *b)
{
    if (b == NULL) {
        return;
    }
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

enum p11p_status p11p_buf_append(struct p11p_buf *b, const void *data,
                                 size_t len)
{
    if (len > b->cap || b->len > b->cap - len) {
        p11p_buf_free(b);
        return P11P_ERR_PROTOCOL;
    }
    size_t need = b->len + len + 1;
    if (need > b->alloc) {
        size_t n = b->alloc ? b->alloc : 64;
        while (n < need) {
            n *= 2;
        }
        if (n > b->cap + 1) {
            n = b->cap + 1;
        }
        unsigned char *p = realloc(b->data, n);
        if (p == NULL) {
            p11p_buf_free(b);
            return P11P_ERR_NOMEM;
        }
        b->data = p;
        b->alloc = n;
    }
    if (len > 0) {
        memcpy(b->data + b->len, data, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
    return P11P_OK;
}

enum p11p_status p11p_buf_append_str(struct p11p_buf *b, const char *s)
{
    return p11p_buf_append(b, s, strlen(s));
}

enum p11p_status p11p_buf_printf(struct p11p_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        p11p_buf_free(b);
        return P11P_ERR_INVALID_INPUT;
    }
    if ((size_t)n < sizeof(small)) {
        return p11p_buf_append(b, small, (size_t)n);
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        p11p_buf_free(b);
        return P11P_ERR_NOMEM;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    enum p11p_status rc = p11p_buf_append(b, big, (size_t)n);
    free(big);
    return rc;
}

unsigned char *p11p_buf_steal(struct p11p_buf *b, size_t *out_len)
{
    unsigned char *p = b->data;
    if (out_len != NULL) {
        *out_len = b->len;
    }
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return p;
}

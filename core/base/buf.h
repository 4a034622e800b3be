/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded growable byte buffer (curl's dynbuf idea). Each buffer has a hard
 * cap given at init; growing past it fails with P11P_ERR_PROTOCOL (outside
 * input too large), not NOMEM. A failed append frees the contents, so error
 * paths need no cleanup. Never put a secret in a p11p_buf.
 */
#ifndef P11P_CORE_BASE_BUF_H
#define P11P_CORE_BASE_BUF_H

#include <stddef.h>

#include "core/base/status.h"

struct p11p_buf {
    unsigned char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t alloc;
    size_t cap;
};

/* Initializes an empty buffer that may hold at most cap bytes. */
void p11p_buf_init(struct p11p_buf *b, size_t cap);

/* Appends len bytes. On failure the buffer is freed (reset to empty). */
enum p11p_status p11p_buf_append(struct p11p_buf *b, const void *data,
                                 size_t len);

/* Appends a NUL-terminated string. */
enum p11p_status p11p_buf_append_str(struct p11p_buf *b, const char *s);

/* Appends printf-formatted text. */
enum p11p_status p11p_buf_printf(struct p11p_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Empties the buffer and frees its memory; the cap stays. NULL-safe. */
void p11p_buf_free(struct p11p_buf *b);

/* Takes the contents (caller frees with free()); the buffer becomes empty.
 * Returns NULL for an empty buffer. */
unsigned char *p11p_buf_steal(struct p11p_buf *b, size_t *out_len);

#endif

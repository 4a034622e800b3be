/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wiped buffers for secrets: PINs, PIN-derived keys, the master key, unsealed
 * private keys, credentials (STYLE.md 3.6). Freed with OPENSSL_cleanse first.
 * Never strdup a secret, never log one, never pass one through printf.
 */
#ifndef P11P_CORE_BASE_SECRET_H
#define P11P_CORE_BASE_SECRET_H

#include <stddef.h>

#include "core/base/status.h"

struct p11p_secret {
    unsigned char *data; /* len bytes, plus a NUL terminator not counted */
    size_t len;
};

/* Allocates a zeroed secret of len bytes (plus a hidden NUL). Returns NULL on
 * allocation failure. Free with p11p_secret_free. */
struct p11p_secret *p11p_secret_new(size_t len);

/* Copies len bytes of data into a new secret. NULL on failure. */
struct p11p_secret *p11p_secret_dup(const void *data, size_t len);

/* Wipes and frees; NULL-safe. */
void p11p_secret_free(struct p11p_secret *s);

/* Constant-time comparison; true if equal length and contents. */
int p11p_secret_equal(const struct p11p_secret *a, const void *b, size_t blen);

#endif

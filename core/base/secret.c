/* SPDX-License-Identifier: Apache-2.0 */
/* Wiped secret buffers. */
#include "core/base/secret.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct p11p_secret *p11p_secret_new(size_t len)
{
    struct p11p_secret *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->data = calloc(1, len + 1);
    if (s->data == NULL) {
        free(s);
        return NULL;
    }
    s->len = len;
    return s;
}

struct p11p_secret *p11p_secret_dup(const void *data, size_t len)
{
    struct p11p_secret *s = p11p_secret_new(len);
    if (s != NULL && len > 0) {
        memcpy(s->data, data, len);
    }
    return s;
}

void p11p_secret_free(struct p11p_secret *s)
{
    if (s == NULL) {
        return;
    }
    if (s->data != NULL) {
        OPENSSL_cleanse(s->data, s->len + 1);
        free(s->data);
    }
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}

int p11p_secret_equal(const struct p11p_secret *a, const void *b, size_t blen)
{
    if (a == NULL || b == NULL || a->len != blen) {
        return 0;
    }
    return CRYPTO_memcmp(a->data, b, blen) == 0;
}

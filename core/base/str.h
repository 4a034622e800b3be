/* SPDX-License-Identifier: Apache-2.0 */
/* Checked string helpers (no strcpy/sprintf family, STYLE.md 3.6). */
#ifndef P11P_CORE_BASE_STR_H
#define P11P_CORE_BASE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/status.h"

/* Copies src into dst of size dstsz, always NUL-terminating. Returns false
 * if src was truncated. */
bool p11p_str_copy(char *dst, size_t dstsz, const char *src);

/* Copies src into a blank-padded PKCS#11 field of len bytes (no NUL). */
void p11p_str_pad(unsigned char *field, size_t len, const char *src);

/* Parses a whole unsigned decimal number in [min, max]. */
enum p11p_status p11p_str_to_u64(const char *s, uint64_t min, uint64_t max,
                                 uint64_t *out);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void p11p_str_hex(const unsigned char *data, size_t len, char *out);

/* strdup that returns NULL for NULL. Never for secrets. */
char *p11p_str_dup(const char *s);

#endif

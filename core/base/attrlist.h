/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An owned list of PKCS#11 attributes: how the core builds objects and how
 * the cache stores their non-secret attributes (as one encoded blob). Values
 * are copied in and freed with the list. Never holds secret values: private
 * key material lives only in the key backends' sealed blobs.
 *
 * Encoding (stable, stored in the cache): "P1A1", a u32 count, then per
 * attribute a u64 type, a u32 length and the bytes; all big-endian.
 * CK_ULONG and CK_BBOOL values are stored as they are in memory
 * (sizeof(CK_ULONG) / 1 byte) since the cache is a local, per-machine file.
 */
#ifndef P11P_CORE_BASE_ATTRLIST_H
#define P11P_CORE_BASE_ATTRLIST_H

#include <stdbool.h>
#include <stddef.h>

#include <p11-kit/pkcs11.h>

#include "core/base/status.h"

struct p11p_attrlist {
    CK_ATTRIBUTE *attrs; /* pValue owned, ulValueLen its length */
    size_t n;
    size_t alloc;
};

/* Empties and frees the values; the list can be reused. NULL-safe. */
void p11p_attrlist_clear(struct p11p_attrlist *l);

/* Sets (adds or replaces) an attribute with a copy of len bytes. */
enum p11p_status p11p_attrlist_set(struct p11p_attrlist *l,
                                   CK_ATTRIBUTE_TYPE type, const void *value,
                                   size_t len);
enum p11p_status p11p_attrlist_set_ulong(struct p11p_attrlist *l,
                                         CK_ATTRIBUTE_TYPE type, CK_ULONG v);
enum p11p_status p11p_attrlist_set_bool(struct p11p_attrlist *l,
                                        CK_ATTRIBUTE_TYPE type, bool v);
/* A UTF-8 string without its NUL (as CKA_LABEL). */
enum p11p_status p11p_attrlist_set_str(struct p11p_attrlist *l,
                                       CK_ATTRIBUTE_TYPE type, const char *s);

/* Removes an attribute if present. */
void p11p_attrlist_remove(struct p11p_attrlist *l, CK_ATTRIBUTE_TYPE type);

/* Returns the attribute (borrowed) or NULL. */
const CK_ATTRIBUTE *p11p_attrlist_get0(const struct p11p_attrlist *l,
                                       CK_ATTRIBUTE_TYPE type);

/* Typed getters: false if absent or of the wrong size. */
bool p11p_attrlist_get_ulong(const struct p11p_attrlist *l,
                             CK_ATTRIBUTE_TYPE type, CK_ULONG *out);
bool p11p_attrlist_get_bool(const struct p11p_attrlist *l,
                            CK_ATTRIBUTE_TYPE type, bool *out);
/* Returns a new NUL-terminated copy (caller frees) or NULL if absent. */
char *p11p_attrlist_get_str(const struct p11p_attrlist *l,
                            CK_ATTRIBUTE_TYPE type);

/* Copies every attribute of src into dst (replacing same types). */
enum p11p_status p11p_attrlist_merge(struct p11p_attrlist *dst,
                                     const struct p11p_attrlist *src);

/* Encodes to a new buffer (caller frees with free()). */
enum p11p_status p11p_attrlist_encode(const struct p11p_attrlist *l,
                                      unsigned char **out, size_t *out_len);

/* Decodes a blob into an empty list. P11P_ERR_CORRUPT on a malformed blob;
 * the list is left empty then. */
enum p11p_status p11p_attrlist_decode(struct p11p_attrlist *l,
                                      const unsigned char *data, size_t len);

#endif

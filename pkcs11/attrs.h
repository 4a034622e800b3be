/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CK_ATTRIBUTE template helpers: find, typed reads, template matching
 * against a stored attribute list, and the copy-out rule of
 * C_GetAttributeValue (PKCS#11 2.40 section 5.7). No validation here:
 * schema.c decides what a template may contain.
 */
#ifndef P11P_PKCS11_ATTRS_H
#define P11P_PKCS11_ATTRS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/base/attrlist.h"
#include "pkcs11/pkcs11-3.h"

/* Returns the first attribute of type in the template (borrowed) or NULL. */
const CK_ATTRIBUTE *p11p_attrs_find(const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                                    CK_ATTRIBUTE_TYPE type);

/* Typed reads: false if absent, or of the wrong length or NULL value. */
bool p11p_attrs_get_ulong(const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                          CK_ATTRIBUTE_TYPE type, CK_ULONG *out);
bool p11p_attrs_get_bool(const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                         CK_ATTRIBUTE_TYPE type, bool *out);

/* Returns a new NUL-terminated copy of a string attribute (caller frees),
 * or NULL if absent or on allocation failure (*out_present tells). */
char *p11p_attrs_dup_str(const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                         CK_ATTRIBUTE_TYPE type, bool *out_present);

/* True if every attribute of the template is present in l with the same
 * bytes (C_FindObjects matching; an empty template matches all). */
bool p11p_attrs_match(const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                      const struct p11p_attrlist *l);

/* Copies a value out to dst per C_GetAttributeValue: pValue NULL -> length
 * only (CKR_OK); buffer too short -> ulValueLen = CK_UNAVAILABLE_INFORMATION
 * and CKR_BUFFER_TOO_SMALL; else copies and sets the length. */
CK_RV p11p_attrs_copy_out(CK_ATTRIBUTE *dst, const void *value, size_t len);

/* Copies every attribute of the template into l (replacing same types). */
enum p11p_status p11p_attrs_to_list(const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                                    struct p11p_attrlist *l);

#endif

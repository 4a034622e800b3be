/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Object views over cache rows: handles are cache object ids (never
 * reused), every call reads the cache so objects created by another
 * process are visible at once. Private objects (CKA_PRIVATE true) are
 * invisible and inaccessible unless the user is logged in.
 */
#ifndef P11P_PKCS11_OBJECT_H
#define P11P_PKCS11_OBJECT_H

#include <stdbool.h>

#include "cache/cache.h"
#include "pkcs11/pkcs11-3.h"
#include "pkcs11/session.h"

/* True if the session may see o (private objects need the user). */
bool p11p_object_is_visible(const struct p11p_session *s,
                            const struct p11p_cache_object *o);

/* Loads a visible object: CKR_OBJECT_HANDLE_INVALID if absent or
 * invisible. Free out with p11p_cache_object_clear. */
CK_RV p11p_object_load(struct p11p_session *s, CK_OBJECT_HANDLE h,
                       struct p11p_cache_object *out);

/* True if every template attribute equals the object's value, stored or
 * supplied by default (CKA_TOKEN, CKA_PRIVATE, ...): C_FindObjects
 * matching. */
bool p11p_object_match(const struct p11p_cache_object *o,
                       const CK_ATTRIBUTE *tmpl, CK_ULONG n);

/* The topic functions of C_CreateObject ... C_SetAttributeValue. */
CK_RV p11p_object_create(struct p11p_session *s, CK_ATTRIBUTE_PTR tmpl,
                         CK_ULONG n, CK_OBJECT_HANDLE_PTR out);
CK_RV p11p_object_copy(struct p11p_session *s, CK_OBJECT_HANDLE h,
                       CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                       CK_OBJECT_HANDLE_PTR out);
CK_RV p11p_object_destroy(struct p11p_session *s, CK_OBJECT_HANDLE h);
CK_RV p11p_object_get_size(struct p11p_session *s, CK_OBJECT_HANDLE h,
                           CK_ULONG_PTR size);
CK_RV p11p_object_get_attrs(struct p11p_session *s, CK_OBJECT_HANDLE h,
                            CK_ATTRIBUTE_PTR tmpl, CK_ULONG n);
CK_RV p11p_object_set_attrs(struct p11p_session *s, CK_OBJECT_HANDLE h,
                            CK_ATTRIBUTE_PTR tmpl, CK_ULONG n);

/* The answer of C_GetAttributeValue for one attribute of a stored object
 * (2.40 section 5.7): copies it out, or sets ulValueLen to
 * CK_UNAVAILABLE_INFORMATION and returns CKR_ATTRIBUTE_SENSITIVE or
 * CKR_ATTRIBUTE_TYPE_INVALID, or CKR_BUFFER_TOO_SMALL. */
CK_RV p11p_object_get_one(const struct p11p_cache_object *o, CK_ATTRIBUTE *a);

#endif

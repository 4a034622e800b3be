/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CKO_DATA object of an enrollment order (DESIGN.md "The PKCS#11
 * surface"): CKA_APPLICATION "p11portal order", CKA_LABEL and CKA_ID of the
 * key, CKA_VALUE a small JSON status (pkcs11-vendor.h), the read-only
 * CKA_P11PORTAL_* attributes. The engine rebuilds it in the same
 * transaction as every state change of its order. Internal to core/enroll.
 */
#ifndef P11P_CORE_ENROLL_ORDEROBJ_H
#define P11P_CORE_ENROLL_ORDEROBJ_H

#include "cache/cache.h"
#include "core/base/attrlist.h"
#include "core/base/status.h"

/* Fills out (an empty list) with the order object's attributes. */
enum p11p_status p11p_orderobj_attrs(const struct p11p_order *o,
                                     struct p11p_attrlist *out);

/* The JSON status alone; *out is a new string (free()). */
enum p11p_status p11p_orderobj_json(const struct p11p_order *o, char **out);

#endif

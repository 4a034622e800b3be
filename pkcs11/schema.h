/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-class attribute rule tables (STYLE.md 3.10) and the one walker that
 * checks a template for C_CreateObject, C_GenerateKeyPair,
 * C_SetAttributeValue and C_CopyObject. The flags carry the footnotes of
 * the PKCS#11 2.40 common attribute table (section 4.2, table 10); the same
 * rows drive C_GetAttributeValue's answers (object.c).
 */
#ifndef P11P_PKCS11_SCHEMA_H
#define P11P_PKCS11_SCHEMA_H

#include <stdbool.h>

#include "core/base/attrlist.h"
#include "pkcs11/pkcs11-3.h"

/* Rule flags; the number is the spec footnote. */
enum p11p_attr_flag {
    P11P_A_CREATE = 1u << 0,            /* not fn 2: may be given to create */
    P11P_A_REQUIRED = 1u << 1,          /* fn 1: must be given to create */
    P11P_A_GENERATE = 1u << 2,          /* not fn 4: may be given to generate */
    P11P_A_REQUIRED_GENERATE = 1u << 3, /* fn 3: must be given to generate */
    P11P_A_MODIFY = 1u << 4,            /* fn 8: C_SetAttributeValue/copy */
    P11P_A_SENSITIVE = 1u << 5,         /* fn 7: never revealed here */
    P11P_A_SO_ONLY_TRUE = 1u << 6,      /* fn 10: only the SO sets it true */
    P11P_A_STICKY_TRUE = 1u << 7,       /* fn 11: read-only once true */
    P11P_A_STICKY_FALSE = 1u << 8,      /* fn 12: read-only once false */
    P11P_A_DEFAULT = 1u << 9,           /* fn 9: token supplies a default */
};

/* Checks one value; returns CKR_OK or CKR_ATTRIBUTE_VALUE_INVALID. */
typedef CK_RV (*p11p_attr_check_fn)(const CK_ATTRIBUTE *a);

struct p11p_attr_rule {
    CK_ATTRIBUTE_TYPE type;
    unsigned flags; /* enum p11p_attr_flag bits */
    p11p_attr_check_fn check;
};

enum p11p_schema_op {
    P11P_SCHEMA_CREATE,
    P11P_SCHEMA_GENERATE,
    P11P_SCHEMA_SET,
    P11P_SCHEMA_COPY,
};

/* Returns the rule of type for objects of klass (and key type kt for key
 * classes; CK_UNAVAILABLE_INFORMATION for others), or NULL if the
 * attribute does not belong to that class. Borrowed, static. */
const struct p11p_attr_rule *
p11p_schema_rule(CK_OBJECT_CLASS klass, CK_KEY_TYPE kt, CK_ATTRIBUTE_TYPE type);

/* True if this module knows the class (data, X.509 certificate, public
 * key, private key of RSA/EC/EdDSA). */
bool p11p_schema_has_class(CK_OBJECT_CLASS klass, CK_KEY_TYPE kt);

/*
 * Checks a template against the rules of klass/kt for op and returns the
 * spec's code: CKR_ATTRIBUTE_TYPE_INVALID (unknown to the class),
 * CKR_ATTRIBUTE_READ_ONLY (not settable in this op, or sticky),
 * CKR_ATTRIBUTE_VALUE_INVALID (a value check failed),
 * CKR_TEMPLATE_INCONSISTENT (CKA_CLASS/CKA_KEY_TYPE disagree, or an
 * attribute given twice with different values), CKR_TEMPLATE_INCOMPLETE
 * (a required attribute missing; create and generate only). current is the
 * object's stored attributes for SET and COPY (sticky rules), else NULL.
 * Logs the offending attribute's name at info level.
 */
CK_RV p11p_schema_check(enum p11p_schema_op op, CK_OBJECT_CLASS klass,
                        CK_KEY_TYPE kt, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                        const struct p11p_attrlist *current);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Value -> name tables for CKR, CKA, CKM, CKO, CKK and CKU values, for call
 * traces and log lines (p11-kit's common/constants.c, OpenSC's
 * pkcs11-display.c). Written by hand from the p11-kit header and the
 * p11portal vendor header; tests/unit/test_names.c checks them.
 */
#ifndef P11P_PKCS11_NAMES_H
#define P11P_PKCS11_NAMES_H

#include <stddef.h>

#include "pkcs11/pkcs11-3.h"

enum p11p_names_kind {
    P11P_NAMES_CKR,
    P11P_NAMES_CKA,
    P11P_NAMES_CKM,
    P11P_NAMES_CKO,
    P11P_NAMES_CKK,
    P11P_NAMES_CKU,
    P11P_NAMES_KIND_COUNT,
};

struct p11p_name {
    CK_ULONG value;
    const char *name;
};

/* Returns the name of value in the table of kind, or NULL if unknown. */
const char *p11p_names_lookup(enum p11p_names_kind kind, CK_ULONG value);

/* Like p11p_names_lookup but never NULL: "?" for unknown values (print
 * the number beside it). */
const char *p11p_names_get(enum p11p_names_kind kind, CK_ULONG value);

/* Shorthands. */
const char *p11p_names_rv(CK_RV rv);
const char *p11p_names_attr(CK_ATTRIBUTE_TYPE type);
const char *p11p_names_mech(CK_MECHANISM_TYPE mech);

/* The whole table of kind (borrowed, static) and its length. */
const struct p11p_name *p11p_names_table(enum p11p_names_kind kind,
                                         size_t *out_n);

#endif

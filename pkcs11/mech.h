/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mechanism table (STYLE.md 3.10): one row per mechanism with its key
 * type, key sizes, CK_MECHANISM_INFO flags, the operations it serves and
 * its parameter validator. C_GetMechanismList, C_GetMechanismInfo and every
 * *Init read the same rows, so what the module says and what it does
 * cannot disagree.
 */
#ifndef P11P_PKCS11_MECH_H
#define P11P_PKCS11_MECH_H

#include <stdbool.h>
#include <stddef.h>

#include "pkcs11/pkcs11-3.h"

enum p11p_mech_op {
    P11P_MECH_SIGN = 1u << 0,
    P11P_MECH_VERIFY = 1u << 1,
    P11P_MECH_DECRYPT = 1u << 2,
    P11P_MECH_DIGEST = 1u << 3,
    P11P_MECH_KEYGEN = 1u << 4,
};

/* Returns CKR_OK or CKR_MECHANISM_PARAM_INVALID. */
typedef CK_RV (*p11p_mech_param_fn)(const CK_MECHANISM *m);

struct p11p_mech {
    CK_MECHANISM_TYPE type;
    CK_KEY_TYPE key_type; /* CK_UNAVAILABLE_INFORMATION for digests */
    CK_ULONG min_bits;    /* key size range in bits (0 for digests) */
    CK_ULONG max_bits;
    CK_FLAGS info_flags; /* CK_MECHANISM_INFO.flags */
    unsigned ops;        /* enum p11p_mech_op bits */
    p11p_mech_param_fn check_param;
    const char *md_name; /* digest: OpenSSL name; hashed signatures: their
                            hash; NULL for raw */
    bool raw;            /* input is not hashed by the mechanism: the
                            module buffers multi-part input */
};

/* Returns the row of type (borrowed, static) or NULL if unsupported. */
const struct p11p_mech *p11p_mech_find(CK_MECHANISM_TYPE type);

/* The whole table (borrowed, static) and its length. */
const struct p11p_mech *p11p_mech_table(size_t *out_n);

/* Checks that mech exists, serves op and has valid parameters:
 * CKR_MECHANISM_INVALID or CKR_MECHANISM_PARAM_INVALID, else CKR_OK with
 * *out set. CKR_ARGUMENTS_BAD for a NULL mech. */
CK_RV p11p_mech_check(const CK_MECHANISM *mech, enum p11p_mech_op op,
                      const struct p11p_mech **out);

#endif

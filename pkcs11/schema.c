/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attribute rule tables per object class and the template walker (see
 * schema.h). A class is a list of rule blocks: the shared storage block,
 * then the class family (certificate, key, public key, private key), then
 * the key type. An attribute absent from every block of a class is
 * CKR_ATTRIBUTE_TYPE_INVALID for it.
 *
 * Deviations, on purpose: CKA_SUBJECT of an X.509 certificate is optional
 * on create (it is derived from CKA_VALUE); only CKA_LABEL and CKA_ID (and
 * the sticky CKA_SENSITIVE/CKA_EXTRACTABLE) are modifiable.
 */
#include "pkcs11/schema.h"

#include <string.h>

#include "core/base/log.h"
#include "p11portal/pkcs11-vendor.h"
#include "pkcs11/attrs.h"
#include "pkcs11/names.h"

static CK_RV check_bool(const CK_ATTRIBUTE *a)
{
    if (a->pValue == NULL || a->ulValueLen != sizeof(CK_BBOOL)) {
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    return *(const CK_BBOOL *)a->pValue <= CK_TRUE
               ? CKR_OK
               : CKR_ATTRIBUTE_VALUE_INVALID;
}

static CK_RV check_ulong(const CK_ATTRIBUTE *a)
{
    return a->pValue != NULL && a->ulValueLen == sizeof(CK_ULONG)
               ? CKR_OK
               : CKR_ATTRIBUTE_VALUE_INVALID;
}

static CK_RV check_bytes(const CK_ATTRIBUTE *a)
{
    return a->pValue != NULL || a->ulValueLen == 0
               ? CKR_OK
               : CKR_ATTRIBUTE_VALUE_INVALID;
}

static CK_RV check_nonempty(const CK_ATTRIBUTE *a)
{
    return a->pValue != NULL && a->ulValueLen > 0 ? CKR_OK
                                                  : CKR_ATTRIBUTE_VALUE_INVALID;
}

/* CK_DATE: empty, or eight ASCII digits YYYYMMDD. */
static CK_RV check_date(const CK_ATTRIBUTE *a)
{
    const unsigned char *p = a->pValue;

    if (a->ulValueLen == 0) {
        return CKR_OK;
    }
    if (p == NULL || a->ulValueLen != sizeof(CK_DATE)) {
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    for (size_t i = 0; i < sizeof(CK_DATE); i++) {
        if (p[i] < '0' || p[i] > '9') {
            return CKR_ATTRIBUTE_VALUE_INVALID;
        }
    }
    return CKR_OK;
}

static CK_RV check_cert_type(const CK_ATTRIBUTE *a)
{
    CK_ULONG v = 0;

    if (check_ulong(a) != CKR_OK) {
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    memcpy(&v, a->pValue, sizeof(v));
    return v == CKC_X_509 ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
}

/* 0 unspecified, 1 token user, 2 authority, 3 other entity (table 24). */
static CK_RV check_category(const CK_ATTRIBUTE *a)
{
    CK_ULONG v = 0;

    if (check_ulong(a) != CKR_OK) {
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    memcpy(&v, a->pValue, sizeof(v));
    return v <= 3 ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
}

#define C  P11P_A_CREATE
#define R  P11P_A_REQUIRED
#define G  P11P_A_GENERATE
#define RG P11P_A_REQUIRED_GENERATE
#define M  P11P_A_MODIFY
#define S  P11P_A_SENSITIVE
#define SO P11P_A_SO_ONLY_TRUE
#define ST P11P_A_STICKY_TRUE
#define SF P11P_A_STICKY_FALSE
#define D  P11P_A_DEFAULT

/* clang-format off */
static const struct p11p_attr_rule storage_rules[] = {
    { CKA_CLASS,       C | R | G,      check_ulong },
    { CKA_TOKEN,       C | G | D,      check_bool },
    { CKA_PRIVATE,     C | G | D,      check_bool },
    { CKA_MODIFIABLE,  C | G | D,      check_bool },
    { CKA_COPYABLE,    C | G | D,      check_bool },
    { CKA_DESTROYABLE, C | G | D,      check_bool },
    { CKA_LABEL,       C | G | M | D,  check_bytes },
    { 0, 0, NULL },
};

/* Read-only attributes of anything an enrollment touched. */
static const struct p11p_attr_rule order_rules[] = {
    { CKA_P11PORTAL_ORDER_ID,        0, check_bytes },
    { CKA_P11PORTAL_ORDER_STATE,     0, check_bytes },
    { CKA_P11PORTAL_PORTAL_ORDER_ID, 0, check_bytes },
    { CKA_P11PORTAL_LAST_ERROR,      0, check_bytes },
    { CKA_P11PORTAL_MAC,             0, check_bytes },
    { 0, 0, NULL },
};

static const struct p11p_attr_rule data_rules[] = {
    { CKA_APPLICATION, C | D, check_bytes },
    { CKA_OBJECT_ID,   C | D, check_bytes },
    { CKA_VALUE,       C | D, check_bytes },
    { 0, 0, NULL },
};

static const struct p11p_attr_rule cert_rules[] = {
    { CKA_CERTIFICATE_TYPE,          C | R,      check_cert_type },
    { CKA_TRUSTED,                   C | SO | D, check_bool },
    { CKA_CERTIFICATE_CATEGORY,      C | D,      check_category },
    { CKA_CHECK_VALUE,               C,          check_bytes },
    { CKA_START_DATE,                C | D,      check_date },
    { CKA_END_DATE,                  C | D,      check_date },
    { CKA_PUBLIC_KEY_INFO,           C | D,      check_bytes },
    /* X.509 public key certificate (table 26) */
    { CKA_SUBJECT,                   C | D,      check_bytes },
    { CKA_ID,                        C | M | D,  check_bytes },
    { CKA_ISSUER,                    C | D,      check_bytes },
    { CKA_SERIAL_NUMBER,             C | D,      check_bytes },
    { CKA_VALUE,                     C | R,      check_nonempty },
    { CKA_URL,                       C | D,      check_bytes },
    { CKA_HASH_OF_SUBJECT_PUBLIC_KEY, C | D,     check_bytes },
    { CKA_HASH_OF_ISSUER_PUBLIC_KEY, C | D,      check_bytes },
    { CKA_JAVA_MIDP_SECURITY_DOMAIN, C | D,      check_ulong },
    { CKA_NAME_HASH_ALGORITHM,       C | D,      check_ulong },
    { 0, 0, NULL },
};

static const struct p11p_attr_rule key_rules[] = {
    { CKA_KEY_TYPE,           C | R | G,     check_ulong },
    { CKA_ID,                 C | G | M | D, check_bytes },
    { CKA_START_DATE,         C | G | D,     check_date },
    { CKA_END_DATE,           C | G | D,     check_date },
    { CKA_DERIVE,             C | G | D,     check_bool },
    { CKA_LOCAL,              0,             check_bool },
    { CKA_KEY_GEN_MECHANISM,  0,             check_ulong },
    { CKA_ALLOWED_MECHANISMS, C | G | D,     check_bytes },
    { 0, 0, NULL },
};

static const struct p11p_attr_rule pub_rules[] = {
    { CKA_SUBJECT,         C | G | D,      check_bytes },
    { CKA_ENCRYPT,         C | G | D,      check_bool },
    { CKA_VERIFY,          C | G | D,      check_bool },
    { CKA_VERIFY_RECOVER,  C | G | D,      check_bool },
    { CKA_WRAP,            C | G | D,      check_bool },
    { CKA_TRUSTED,         C | G | SO | D, check_bool },
    { CKA_PUBLIC_KEY_INFO, C | D,          check_bytes },
    { 0, 0, NULL },
};

static const struct p11p_attr_rule rsa_pub_rules[] = {
    { CKA_MODULUS,         C | R,      check_nonempty },
    { CKA_MODULUS_BITS,    G | RG,     check_ulong },
    { CKA_PUBLIC_EXPONENT, C | R | G,  check_nonempty },
    { 0, 0, NULL },
};

static const struct p11p_attr_rule ec_pub_rules[] = {
    { CKA_EC_PARAMS, C | R | G | RG, check_nonempty },
    { CKA_EC_POINT,  C | R,          check_nonempty },
    { 0, 0, NULL },
};

static const struct p11p_attr_rule priv_rules[] = {
    { CKA_SUBJECT,            C | G | D,          check_bytes },
    { CKA_SENSITIVE,          C | G | M | ST | D, check_bool },
    { CKA_DECRYPT,            C | G | D,          check_bool },
    { CKA_SIGN,               C | G | D,          check_bool },
    { CKA_SIGN_RECOVER,       C | G | D,          check_bool },
    { CKA_UNWRAP,             C | G | D,          check_bool },
    { CKA_EXTRACTABLE,        C | G | M | SF | D, check_bool },
    { CKA_ALWAYS_SENSITIVE,   0,                  check_bool },
    { CKA_NEVER_EXTRACTABLE,  0,                  check_bool },
    { CKA_WRAP_WITH_TRUSTED,  C | G | ST | D,     check_bool },
    { CKA_ALWAYS_AUTHENTICATE, C | G | D,         check_bool },
    { CKA_PUBLIC_KEY_INFO,    C | D,              check_bytes },
    /* p11portal enrollment attributes (pkcs11-vendor.h) */
    { CKA_P11PORTAL_SUBJECT,   G, check_nonempty },
    { CKA_P11PORTAL_SANS,      G, check_bytes },
    { CKA_P11PORTAL_PROFILE,   G, check_nonempty },
    { CKA_P11PORTAL_TERM_DAYS, G, check_ulong },
    { CKA_P11PORTAL_NO_ENROLL, G, check_bool },
    { 0, 0, NULL },
};

static const struct p11p_attr_rule rsa_priv_rules[] = {
    { CKA_MODULUS,          C | R,     check_nonempty },
    { CKA_PUBLIC_EXPONENT,  C | D,     check_nonempty },
    { CKA_MODULUS_BITS,     0,         check_ulong },
    { CKA_PRIVATE_EXPONENT, C | R | S, check_nonempty },
    { CKA_PRIME_1,          C | S,     check_nonempty },
    { CKA_PRIME_2,          C | S,     check_nonempty },
    { CKA_EXPONENT_1,       C | S,     check_nonempty },
    { CKA_EXPONENT_2,       C | S,     check_nonempty },
    { CKA_COEFFICIENT,      C | S,     check_nonempty },
    { 0, 0, NULL },
};

static const struct p11p_attr_rule ec_priv_rules[] = {
    { CKA_EC_PARAMS, C | R,     check_nonempty },
    { CKA_VALUE,     C | R | S, check_nonempty },
    { CKA_EC_POINT,  0,         check_nonempty },
    { 0, 0, NULL },
};
/* clang-format on */

#undef C
#undef R
#undef G
#undef RG
#undef M
#undef S
#undef SO
#undef ST
#undef SF
#undef D

#define MAX_BLOCKS 5

/* Fills blocks with the rule blocks of a class; returns how many (0: the
 * class is unknown here). */
static size_t class_blocks(CK_OBJECT_CLASS klass, CK_KEY_TYPE kt,
                           const struct p11p_attr_rule *blocks[MAX_BLOCKS])
{
    size_t n = 0;

    switch (klass) {
    case CKO_DATA:
        blocks[n++] = storage_rules;
        blocks[n++] = data_rules;
        blocks[n++] = order_rules;
        return n;
    case CKO_CERTIFICATE:
        blocks[n++] = storage_rules;
        blocks[n++] = cert_rules;
        blocks[n++] = order_rules;
        return n;
    case CKO_PUBLIC_KEY:
    case CKO_PRIVATE_KEY:
        blocks[n++] = storage_rules;
        blocks[n++] = key_rules;
        blocks[n++] = klass == CKO_PUBLIC_KEY ? pub_rules : priv_rules;
        if (kt == CKK_RSA) {
            blocks[n++] =
                klass == CKO_PUBLIC_KEY ? rsa_pub_rules : rsa_priv_rules;
        } else if (kt == CKK_EC || kt == CKK_EC_EDWARDS) {
            blocks[n++] =
                klass == CKO_PUBLIC_KEY ? ec_pub_rules : ec_priv_rules;
        } else if (kt != CK_UNAVAILABLE_INFORMATION) {
            return 0;
        }
        blocks[n++] = order_rules;
        return n;
    default:
        return 0;
    }
}

const struct p11p_attr_rule *
p11p_schema_rule(CK_OBJECT_CLASS klass, CK_KEY_TYPE kt, CK_ATTRIBUTE_TYPE type)
{
    const struct p11p_attr_rule *blocks[MAX_BLOCKS];
    size_t nb = class_blocks(klass, kt, blocks);

    for (size_t b = 0; b < nb; b++) {
        for (const struct p11p_attr_rule *r = blocks[b]; r->check != NULL;
             r++) {
            if (r->type == type) {
                return r;
            }
        }
    }
    return NULL;
}

bool p11p_schema_has_class(CK_OBJECT_CLASS klass, CK_KEY_TYPE kt)
{
    const struct p11p_attr_rule *blocks[MAX_BLOCKS];

    return class_blocks(klass, kt, blocks) > 0;
}

static CK_RV fail(CK_RV rv, const char *why, CK_ATTRIBUTE_TYPE type)
{
    P11P_INFO("pkcs11", "template: %s %s (0x%lx): %s", why,
              p11p_names_attr(type), (unsigned long)type, p11p_names_rv(rv));
    return rv;
}

static bool flag_allows(enum p11p_schema_op op, unsigned flags)
{
    switch (op) {
    case P11P_SCHEMA_CREATE:
        return (flags & P11P_A_CREATE) != 0;
    case P11P_SCHEMA_GENERATE:
        return (flags & P11P_A_GENERATE) != 0;
    case P11P_SCHEMA_SET:
    case P11P_SCHEMA_COPY:
        return (flags & P11P_A_MODIFY) != 0;
    }
    return false;
}

/* Sticky and SO-only rules of a set/copy against the stored value. */
static CK_RV check_sticky(const struct p11p_attr_rule *r, const CK_ATTRIBUTE *a,
                          const struct p11p_attrlist *current)
{
    bool now = false;
    bool want = *(const CK_BBOOL *)a->pValue != CK_FALSE;

    if (current == NULL || !p11p_attrlist_get_bool(current, r->type, &now)) {
        return CKR_OK;
    }
    if ((r->flags & P11P_A_STICKY_TRUE) && now && !want) {
        return CKR_ATTRIBUTE_READ_ONLY;
    }
    if ((r->flags & P11P_A_STICKY_FALSE) && !now && want) {
        return CKR_ATTRIBUTE_READ_ONLY;
    }
    return CKR_OK;
}

static bool same_value(const CK_ATTRIBUTE *a, const CK_ATTRIBUTE *b)
{
    return a->ulValueLen == b->ulValueLen
           && (a->ulValueLen == 0 || a->pValue == b->pValue
               || (a->pValue != NULL && b->pValue != NULL
                   && memcmp(a->pValue, b->pValue, a->ulValueLen) == 0));
}

CK_RV p11p_schema_check(enum p11p_schema_op op, CK_OBJECT_CLASS klass,
                        CK_KEY_TYPE kt, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                        const struct p11p_attrlist *current)
{
    const struct p11p_attr_rule *blocks[MAX_BLOCKS];
    size_t nb = class_blocks(klass, kt, blocks);
    unsigned need = 0;

    if (nb == 0) {
        return fail(CKR_TEMPLATE_INCONSISTENT, "unsupported class for",
                    CKA_CLASS);
    }
    if (tmpl == NULL && n != 0) {
        return CKR_ARGUMENTS_BAD;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        const CK_ATTRIBUTE *a = &tmpl[i];
        const struct p11p_attr_rule *r = p11p_schema_rule(klass, kt, a->type);
        CK_RV rv = CKR_OK;

        if (r == NULL) {
            return fail(CKR_ATTRIBUTE_TYPE_INVALID, "unknown attribute",
                        a->type);
        }
        if (!flag_allows(op, r->flags)) {
            /* Giving the class or key type again on set is harmless only
             * when it repeats the object's value; treat it as read-only. */
            return fail(CKR_ATTRIBUTE_READ_ONLY, "not settable here", a->type);
        }
        rv = r->check(a);
        if (rv != CKR_OK) {
            return fail(rv, "bad value of", a->type);
        }
        if (a->type == CKA_CLASS
            && *(const CK_ULONG *)a->pValue != (CK_ULONG)klass) {
            return fail(CKR_TEMPLATE_INCONSISTENT, "class disagrees in",
                        a->type);
        }
        if (a->type == CKA_KEY_TYPE && kt != CK_UNAVAILABLE_INFORMATION
            && *(const CK_ULONG *)a->pValue != (CK_ULONG)kt) {
            return fail(CKR_TEMPLATE_INCONSISTENT, "key type disagrees in",
                        a->type);
        }
        if ((op == P11P_SCHEMA_SET || op == P11P_SCHEMA_COPY)
            && (r->flags & (P11P_A_STICKY_TRUE | P11P_A_STICKY_FALSE))) {
            rv = check_sticky(r, a, current);
            if (rv != CKR_OK) {
                return fail(rv, "sticky attribute", a->type);
            }
        }
        for (CK_ULONG j = 0; j < i; j++) {
            if (tmpl[j].type == a->type && !same_value(&tmpl[j], a)) {
                return fail(CKR_TEMPLATE_INCONSISTENT, "given twice:", a->type);
            }
        }
    }
    if (op == P11P_SCHEMA_CREATE) {
        need = P11P_A_REQUIRED;
    } else if (op == P11P_SCHEMA_GENERATE) {
        need = P11P_A_REQUIRED_GENERATE;
    }
    for (size_t b = 0; need != 0 && b < nb; b++) {
        for (const struct p11p_attr_rule *r = blocks[b]; r->check != NULL;
             r++) {
            /* The class and key type come from the mechanism on generate
             * and are checked by the caller on create. */
            if ((r->flags & need) && r->type != CKA_CLASS
                && r->type != CKA_KEY_TYPE
                && p11p_attrs_find(tmpl, n, r->type) == NULL) {
                return fail(CKR_TEMPLATE_INCOMPLETE, "missing", r->type);
            }
        }
    }
    return CKR_OK;
}

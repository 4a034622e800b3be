/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CK_ATTRIBUTE helpers (see attrs.h). Pure functions over templates and
 * attribute lists; no locks, no I/O.
 */
#include "pkcs11/attrs.h"

#include <stdlib.h>
#include <string.h>

const CK_ATTRIBUTE *p11p_attrs_find(const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                                    CK_ATTRIBUTE_TYPE type)
{
    if (tmpl == NULL) {
        return NULL;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        if (tmpl[i].type == type) {
            return &tmpl[i];
        }
    }
    return NULL;
}

bool p11p_attrs_get_ulong(const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                          CK_ATTRIBUTE_TYPE type, CK_ULONG *out)
{
    const CK_ATTRIBUTE *a = p11p_attrs_find(tmpl, n, type);

    if (a == NULL || a->pValue == NULL || a->ulValueLen != sizeof(CK_ULONG)) {
        return false;
    }
    memcpy(out, a->pValue, sizeof(CK_ULONG));
    return true;
}

bool p11p_attrs_get_bool(const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                         CK_ATTRIBUTE_TYPE type, bool *out)
{
    const CK_ATTRIBUTE *a = p11p_attrs_find(tmpl, n, type);

    if (a == NULL || a->pValue == NULL || a->ulValueLen != sizeof(CK_BBOOL)) {
        return false;
    }
    *out = *(const CK_BBOOL *)a->pValue != CK_FALSE;
    return true;
}

char *p11p_attrs_dup_str(const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                         CK_ATTRIBUTE_TYPE type, bool *out_present)
{
    const CK_ATTRIBUTE *a = p11p_attrs_find(tmpl, n, type);
    char *s = NULL;

    *out_present = a != NULL;
    if (a == NULL || (a->pValue == NULL && a->ulValueLen != 0)) {
        return NULL;
    }
    s = malloc(a->ulValueLen + 1);
    if (s == NULL) {
        return NULL;
    }
    if (a->ulValueLen != 0) {
        memcpy(s, a->pValue, a->ulValueLen);
    }
    s[a->ulValueLen] = '\0';
    return s;
}

bool p11p_attrs_match(const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                      const struct p11p_attrlist *l)
{
    for (CK_ULONG i = 0; i < n; i++) {
        const CK_ATTRIBUTE *have = p11p_attrlist_get0(l, tmpl[i].type);

        if (have == NULL || have->ulValueLen != tmpl[i].ulValueLen) {
            return false;
        }
        if (tmpl[i].ulValueLen != 0
            && (tmpl[i].pValue == NULL
                || memcmp(have->pValue, tmpl[i].pValue, tmpl[i].ulValueLen)
                       != 0)) {
            return false;
        }
    }
    return true;
}

CK_RV p11p_attrs_copy_out(CK_ATTRIBUTE *dst, const void *value, size_t len)
{
    if (dst->pValue == NULL) {
        dst->ulValueLen = len;
        return CKR_OK;
    }
    if (dst->ulValueLen < len) {
        dst->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (len != 0) {
        memcpy(dst->pValue, value, len);
    }
    dst->ulValueLen = len;
    return CKR_OK;
}

enum p11p_status p11p_attrs_to_list(const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                                    struct p11p_attrlist *l)
{
    enum p11p_status st = P11P_OK;

    for (CK_ULONG i = 0; i < n && st == P11P_OK; i++) {
        st = p11p_attrlist_set(l, tmpl[i].type, tmpl[i].pValue,
                               tmpl[i].ulValueLen);
    }
    return st;
}

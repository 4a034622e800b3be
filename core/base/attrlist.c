/* SPDX-License-Identifier: Apache-2.0 */
/* Owned attribute lists and their stable encoding. */
#include "core/base/attrlist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ATTRLIST_MAGIC     "P1A1"
#define ATTRLIST_MAX_ATTRS 4096u
#define ATTRLIST_MAX_VALUE (1u << 24)

void p11p_attrlist_clear(struct p11p_attrlist *l)
{
    if (l == NULL) {
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        free(l->attrs[i].pValue);
    }
    free(l->attrs);
    l->attrs = NULL;
    l->n = 0;
    l->alloc = 0;
}

static CK_ATTRIBUTE *find_attr(const struct p11p_attrlist *l,
                               CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->attrs[i].type == type) {
            return &l->attrs[i];
        }
    }
    return NULL;
}

enum p11p_status p11p_attrlist_set(struct p11p_attrlist *l,
                                   CK_ATTRIBUTE_TYPE type, const void *value,
                                   size_t len)
{
    void *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL) {
        return P11P_ERR_NOMEM;
    }
    if (len > 0) {
        memcpy(copy, value, len);
    }
    CK_ATTRIBUTE *a = find_attr(l, type);
    if (a != NULL) {
        free(a->pValue);
        a->pValue = copy;
        a->ulValueLen = len;
        return P11P_OK;
    }
    if (l->n == l->alloc) {
        size_t n = l->alloc ? l->alloc * 2 : 16;
        CK_ATTRIBUTE *p = realloc(l->attrs, n * sizeof(*p));
        if (p == NULL) {
            free(copy);
            return P11P_ERR_NOMEM;
        }
        l->attrs = p;
        l->alloc = n;
    }
    l->attrs[l->n].type = type;
    l->attrs[l->n].pValue = copy;
    l->attrs[l->n].ulValueLen = len;
    l->n++;
    return P11P_OK;
}

enum p11p_status p11p_attrlist_set_ulong(struct p11p_attrlist *l,
                                         CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
    return p11p_attrlist_set(l, type, &v, sizeof(v));
}

enum p11p_status p11p_attrlist_set_bool(struct p11p_attrlist *l,
                                        CK_ATTRIBUTE_TYPE type, bool v)
{
    CK_BBOOL b = v ? CK_TRUE : CK_FALSE;
    return p11p_attrlist_set(l, type, &b, sizeof(b));
}

enum p11p_status p11p_attrlist_set_str(struct p11p_attrlist *l,
                                       CK_ATTRIBUTE_TYPE type, const char *s)
{
    return p11p_attrlist_set(l, type, s, s != NULL ? strlen(s) : 0);
}

void p11p_attrlist_remove(struct p11p_attrlist *l, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->attrs[i].type == type) {
            free(l->attrs[i].pValue);
            memmove(&l->attrs[i], &l->attrs[i + 1],
                    (l->n - i - 1) * sizeof(l->attrs[0]));
            l->n--;
            return;
        }
    }
}

const CK_ATTRIBUTE *p11p_attrlist_get0(const struct p11p_attrlist *l,
                                       CK_ATTRIBUTE_TYPE type)
{
    return find_attr(l, type);
}

bool p11p_attrlist_get_ulong(const struct p11p_attrlist *l,
                             CK_ATTRIBUTE_TYPE type, CK_ULONG *out)
{
    const CK_ATTRIBUTE *a = find_attr(l, type);
    if (a == NULL || a->ulValueLen != sizeof(CK_ULONG)) {
        return false;
    }
    memcpy(out, a->pValue, sizeof(CK_ULONG));
    return true;
}

bool p11p_attrlist_get_bool(const struct p11p_attrlist *l,
                            CK_ATTRIBUTE_TYPE type, bool *out)
{
    const CK_ATTRIBUTE *a = find_attr(l, type);
    if (a == NULL || a->ulValueLen != sizeof(CK_BBOOL)) {
        return false;
    }
    *out = *(const CK_BBOOL *)a->pValue != CK_FALSE;
    return true;
}

char *p11p_attrlist_get_str(const struct p11p_attrlist *l,
                            CK_ATTRIBUTE_TYPE type)
{
    const CK_ATTRIBUTE *a = find_attr(l, type);
    if (a == NULL) {
        return NULL;
    }
    char *s = malloc(a->ulValueLen + 1);
    if (s == NULL) {
        return NULL;
    }
    memcpy(s, a->pValue, a->ulValueLen);
    s[a->ulValueLen] = '\0';
    return s;
}

enum p11p_status p11p_attrlist_merge(struct p11p_attrlist *dst,
                                     const struct p11p_attrlist *src)
{
    for (size_t i = 0; i < src->n; i++) {
        enum p11p_status rc =
            p11p_attrlist_set(dst, src->attrs[i].type, src->attrs[i].pValue,
                              src->attrs[i].ulValueLen);
        if (rc != P11P_OK) {
            return rc;
        }
    }
    return P11P_OK;
}

static void put_be(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[n - 1 - i] = (unsigned char)(v >> (8 * i));
    }
}

static uint64_t get_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

enum p11p_status p11p_attrlist_encode(const struct p11p_attrlist *l,
                                      unsigned char **out, size_t *out_len)
{
    size_t total = 8;
    *out = NULL;
    *out_len = 0;
    for (size_t i = 0; i < l->n; i++) {
        total += 12 + l->attrs[i].ulValueLen;
    }
    unsigned char *buf = malloc(total);
    if (buf == NULL) {
        return P11P_ERR_NOMEM;
    }
    memcpy(buf, ATTRLIST_MAGIC, 4);
    put_be(buf + 4, l->n, 4);
    size_t off = 8;
    for (size_t i = 0; i < l->n; i++) {
        put_be(buf + off, l->attrs[i].type, 8);
        put_be(buf + off + 8, l->attrs[i].ulValueLen, 4);
        off += 12;
        if (l->attrs[i].ulValueLen > 0) {
            memcpy(buf + off, l->attrs[i].pValue, l->attrs[i].ulValueLen);
        }
        off += l->attrs[i].ulValueLen;
    }
    *out = buf;
    *out_len = total;
    return P11P_OK;
}

enum p11p_status p11p_attrlist_decode(struct p11p_attrlist *l,
                                      const unsigned char *data, size_t len)
{
    enum p11p_status rc = P11P_ERR_CORRUPT;
    uint64_t count = 0;
    size_t off = 8;

    if (data == NULL || len < 8 || memcmp(data, ATTRLIST_MAGIC, 4) != 0) {
        goto out;
    }
    count = get_be(data + 4, 4);
    if (count > ATTRLIST_MAX_ATTRS) {
        goto out;
    }
    for (uint64_t i = 0; i < count; i++) {
        if (len - off < 12) {
            rc = P11P_ERR_CORRUPT;
            goto out;
        }
        CK_ATTRIBUTE_TYPE type = (CK_ATTRIBUTE_TYPE)get_be(data + off, 8);
        uint64_t vlen = get_be(data + off + 8, 4);
        off += 12;
        if (vlen > ATTRLIST_MAX_VALUE || vlen > len - off) {
            rc = P11P_ERR_CORRUPT;
            goto out;
        }
        rc = p11p_attrlist_set(l, type, data + off, (size_t)vlen);
        if (rc != P11P_OK) {
            goto out;
        }
        off += (size_t)vlen;
    }
    rc = off == len ? P11P_OK : P11P_ERR_CORRUPT;
out:
    if (rc != P11P_OK) {
        p11p_attrlist_clear(l);
    }
    return rc;
}

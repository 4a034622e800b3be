/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal batch: MAC notation (the portals' batch forms: 6 bytes, ':',
 * '-' or no separator, any case), MAC ranges, the label and subject
 * patterns, and the devices of a plan (tools/batch.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/str.h"
#include "core/conf/subject.h"
#include "tools/batch.h"

static const struct {
    const char *name;
    char sep;
    bool upper;
    const char *var;
} macfmts[] = {
    [P11P_MACFMT_COLON] = { "colon", ':', false, "${mac}" },
    [P11P_MACFMT_COLON_UPPER] = { "colon-upper", ':', true, "${MAC}" },
    [P11P_MACFMT_DASH] = { "dash", '-', false, "${mac_dash}" },
    [P11P_MACFMT_DASH_UPPER] = { "dash-upper", '-', true, NULL },
    [P11P_MACFMT_BARE] = { "bare", 0, false, "${mac_bare}" },
    [P11P_MACFMT_BARE_UPPER] = { "bare-upper", 0, true, "${MAC_BARE}" },
};

void p11p_batch_mac_format(uint64_t mac, enum p11p_batch_macfmt fmt,
                           char out[18])
{
    static const char lower[] = "0123456789abcdef";
    static const char upper[] = "0123456789ABCDEF";
    const char *digits = macfmts[fmt].upper ? upper : lower;
    size_t pos = 0;

    for (int byte = 5; byte >= 0; byte--) {
        unsigned b = (unsigned)(mac >> (8 * byte)) & 0xff;
        out[pos++] = digits[b >> 4];
        out[pos++] = digits[b & 0xf];
        if (byte > 0 && macfmts[fmt].sep != 0) {
            out[pos++] = macfmts[fmt].sep;
        }
    }
    out[pos] = '\0';
}

enum p11p_status p11p_batch_macfmt_parse(const char *name,
                                         enum p11p_batch_macfmt *out)
{
    if (strcmp(name, "upper") == 0) {
        *out = P11P_MACFMT_COLON_UPPER;
        return P11P_OK;
    }
    for (size_t i = 0; i < sizeof(macfmts) / sizeof(macfmts[0]); i++) {
        if (strcmp(name, macfmts[i].name) == 0) {
            *out = (enum p11p_batch_macfmt)i;
            return P11P_OK;
        }
    }
    return P11P_ERR_INVALID_INPUT;
}

const char *p11p_batch_macfmt_var(enum p11p_batch_macfmt fmt)
{
    return macfmts[fmt].var;
}

bool p11p_batch_range_at(uint64_t start, uint64_t inc, uint64_t i,
                         uint64_t *out)
{
    if (start > P11P_MAC_MAX || (i != 0 && inc > (P11P_MAC_MAX - start) / i)) {
        return false;
    }
    *out = start + i * inc;
    return true;
}

/* ---- patterns ---- */

struct buf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
    char *np;
    if (b->oom) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        np = realloc(b->p, cap);
        if (np == NULL) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* A value inside a template the engine expands again: '$' doubled. */
static void put_value(struct buf *b, const char *v, bool escape)
{
    for (const char *q = v; *q != '\0'; q++) {
        put(b, q, 1);
        if (escape && *q == '$') {
            put(b, q, 1);
        }
    }
}

enum p11p_status p11p_batch_expand(const char *pattern, const char *mac_str,
                                   const char *cn, uint64_t n, bool keep_others,
                                   char **out)
{
    struct buf b = { 0 };
    char num[24];
    const char *p = pattern;
    enum p11p_status rc = P11P_OK;

    *out = NULL;
    put(&b, "", 0);
    while (rc == P11P_OK && *p != '\0') {
        const char *end;
        size_t nlen;
        if (p[0] == '$' && p[1] == '$') {
            put(&b, keep_others ? "$$" : "$", keep_others ? 2 : 1);
            p += 2;
            continue;
        }
        if (p[0] != '$' || p[1] != '{' || (end = strchr(p, '}')) == NULL) {
            put(&b, p, 1);
            p++;
            continue;
        }
        nlen = (size_t)(end - p - 2);
        if (nlen == 3 && memcmp(p + 2, "mac", 3) == 0 && mac_str != NULL) {
            put_value(&b, mac_str, keep_others);
        } else if (nlen == 2 && memcmp(p + 2, "cn", 2) == 0 && cn != NULL) {
            put_value(&b, cn, keep_others);
        } else if (nlen == 1 && p[2] == 'n') {
            snprintf(num, sizeof(num), "%llu", (unsigned long long)n);
            put_value(&b, num, false);
        } else if (keep_others && !(nlen == 2 && memcmp(p + 2, "cn", 2) == 0)
                   && !(nlen == 3 && memcmp(p + 2, "mac", 3) == 0)) {
            put(&b, p, nlen + 3);
        } else {
            rc = P11P_ERR_INVALID_INPUT;
        }
        p = end + 1;
    }
    if (b.oom) {
        rc = P11P_ERR_NOMEM;
    }
    if (rc != P11P_OK) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    return P11P_OK;
}

/* ---- the devices of a plan ---- */

void p11p_batch_device_clear(struct p11p_batch_device *d)
{
    if (d == NULL) {
        return;
    }
    free(d->label);
    free(d->subject);
    memset(d, 0, sizeof(*d));
}

enum p11p_status p11p_batch_device_at(const struct p11p_batch_plan *p, size_t i,
                                      struct p11p_batch_device *out)
{
    struct p11p_batch_device d;
    char shown[18];
    const char *pattern;
    enum p11p_status rc;

    memset(&d, 0, sizeof(d));
    d.index = i;
    if (p->is_csv) {
        d.row = &p->csv.rows[i];
        d.has_mac = d.row->has_mac;
        d.mac = d.row->mac;
        d.cn = d.row->cn;
        d.sans = d.row->sans;
    } else {
        d.has_mac = p11p_batch_range_at(p->start, p->inc, i, &d.mac);
        if (!d.has_mac) {
            return P11P_ERR_INVALID_INPUT;
        }
    }
    shown[0] = '\0';
    if (d.has_mac) {
        p11p_batch_mac_format(d.mac, P11P_MACFMT_COLON, d.mac_str);
        p11p_batch_mac_format(d.mac, p->macfmt, shown);
    }
    pattern = d.row != NULL && d.row->label != NULL ? d.row->label
              : p->label_pattern != NULL            ? p->label_pattern
              : d.cn != NULL                        ? "${cn}"
                                                    : "${mac}";
    rc = p11p_batch_expand(pattern, d.has_mac ? shown : NULL, d.cn, i + 1,
                           false, &d.label);
    if (rc == P11P_OK && p->subject != NULL) {
        rc = p11p_batch_expand(p->subject, d.has_mac ? shown : NULL, d.cn,
                               i + 1, true, &d.subject);
    } else if (rc == P11P_OK && d.cn != NULL) {
        char *tmpl = NULL;
        rc = p11p_batch_expand("CN=${cn}", NULL, d.cn, i + 1, true, &tmpl);
        d.subject = tmpl;
    } else if (rc == P11P_OK && !p->conf_subject_mac) {
        rc = p11p_batch_expand("CN=${mac}", shown, NULL, i + 1, true,
                               &d.subject);
    }
    if (rc != P11P_OK) {
        p11p_batch_device_clear(&d);
        return rc;
    }
    *out = d;
    return P11P_OK;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Subject and SAN template expansion (${label}, ${id}, ${token}, the ${mac}
 * family, "$$") and 48-bit MAC address parsing and formatting. Pure string
 * work: no configuration, no I/O. Variables are looked up in one table.
 */
#include "core/conf/subject.h"

#include <stdlib.h>
#include <string.h>

#include "core/base/buf.h"
#include "core/base/log.h"

#define SUBJECT_MAX 4096

enum var_kind {
    VAR_LABEL,
    VAR_ID,
    VAR_TOKEN,
    VAR_MAC,
};

struct var_def {
    const char *name;
    enum var_kind kind;
    char sep;   /* MAC separator, 0 = bare */
    bool upper; /* MAC in upper case */
};

/* clang-format off */
static const struct var_def vars_table[] = {
    { "label",    VAR_LABEL, 0,   false },
    { "id",       VAR_ID,    0,   false },
    { "token",    VAR_TOKEN, 0,   false },
    { "mac",      VAR_MAC,   ':', false },
    { "MAC",      VAR_MAC,   ':', true  },
    { "mac_dash", VAR_MAC,   '-', false },
    { "MAC_DASH", VAR_MAC,   '-', true  },
    { "mac_bare", VAR_MAC,   0,   false },
    { "MAC_BARE", VAR_MAC,   0,   true  },
};
/* clang-format on */

static const struct var_def *find_var(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(vars_table) / sizeof(vars_table[0]); i++) {
        if (strlen(vars_table[i].name) == len
            && memcmp(vars_table[i].name, name, len) == 0) {
            return &vars_table[i];
        }
    }
    return NULL;
}

static enum p11p_status append_var(struct p11p_buf *b, const struct var_def *v,
                                   const struct p11p_subject_vars *vars)
{
    const char *s = NULL;
    char mac[18];

    switch (v->kind) {
    case VAR_LABEL:
        s = vars != NULL ? vars->label : NULL;
        break;
    case VAR_ID:
        s = vars != NULL ? vars->id_hex : NULL;
        break;
    case VAR_TOKEN:
        s = vars != NULL ? vars->token : NULL;
        break;
    case VAR_MAC:
        if (vars == NULL || !vars->has_mac) {
            P11P_ERROR("conf",
                       "template variable ${%s}: no MAC address "
                       "(set mac_start in the token's section)",
                       v->name);
            return P11P_ERR_INVALID_INPUT;
        }
        p11p_subject_mac_format(vars->mac, v->sep, v->upper, mac);
        s = mac;
        break;
    }
    if (s == NULL) {
        P11P_ERROR("conf", "template variable ${%s} has no value here",
                   v->name);
        return P11P_ERR_INVALID_INPUT;
    }
    return p11p_buf_append_str(b, s);
}

enum p11p_status p11p_subject_expand(const char *tmpl,
                                     const struct p11p_subject_vars *vars,
                                     char **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_buf b;
    const char *p = tmpl;

    p11p_buf_init(&b, SUBJECT_MAX);
    *out = NULL;
    if (tmpl == NULL) {
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    while (*p != '\0') {
        const char *dollar = strchr(p, '$');
        size_t lit = dollar != NULL ? (size_t)(dollar - p) : strlen(p);
        if (lit > 0) {
            rc = p11p_buf_append(&b, p, lit);
            if (rc != P11P_OK) {
                goto out;
            }
        }
        if (dollar == NULL) {
            break;
        }
        if (dollar[1] == '$') {
            rc = p11p_buf_append(&b, "$", 1);
            if (rc != P11P_OK) {
                goto out;
            }
            p = dollar + 2;
            continue;
        }
        const char *close = dollar[1] == '{' ? strchr(dollar + 2, '}') : NULL;
        if (close == NULL) {
            P11P_ERROR("conf",
                       "template \"%s\": '$' must start ${name} or "
                       "be doubled",
                       tmpl);
            rc = P11P_ERR_INVALID_INPUT;
            goto out;
        }
        const struct var_def *v =
            find_var(dollar + 2, (size_t)(close - dollar - 2));
        if (v == NULL) {
            P11P_ERROR("conf", "template \"%s\": unknown variable ${%.*s}",
                       tmpl, (int)(close - dollar - 2), dollar + 2);
            rc = P11P_ERR_INVALID_INPUT;
            goto out;
        }
        rc = append_var(&b, v, vars);
        if (rc != P11P_OK) {
            goto out;
        }
        p = close + 1;
    }
    if (b.len == 0) {
        *out = strdup("");
        rc = *out != NULL ? P11P_OK : P11P_ERR_NOMEM;
        goto out;
    }
    *out = (char *)p11p_buf_steal(&b, NULL);
    rc = P11P_OK;
out:
    p11p_buf_free(&b);
    return rc;
}

bool p11p_subject_uses_mac(const char *tmpl)
{
    const char *p = tmpl;
    while (p != NULL && (p = strstr(p, "${")) != NULL) {
        const char *close = strchr(p + 2, '}');
        if (close == NULL) {
            return false;
        }
        const struct var_def *v = find_var(p + 2, (size_t)(close - p - 2));
        if (v != NULL && v->kind == VAR_MAC && (p == tmpl || p[-1] != '$')) {
            return true;
        }
        p = close + 1;
    }
    return false;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

enum p11p_status p11p_subject_mac_parse(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t len = s != NULL ? strlen(s) : 0;
    char sep = 0;
    size_t digits = 0;

    if (len == 17) {
        sep = s[2];
        if (sep != ':' && sep != '-') {
            return P11P_ERR_INVALID_INPUT;
        }
    } else if (len != 12) {
        return P11P_ERR_INVALID_INPUT;
    }
    for (size_t i = 0; i < len; i++) {
        if (sep != 0 && i % 3 == 2) {
            if (s[i] != sep) {
                return P11P_ERR_INVALID_INPUT;
            }
            continue;
        }
        int h = hex_value(s[i]);
        if (h < 0) {
            return P11P_ERR_INVALID_INPUT;
        }
        v = (v << 4) | (uint64_t)h;
        digits++;
    }
    if (digits != 12) {
        return P11P_ERR_INVALID_INPUT;
    }
    *out = v;
    return P11P_OK;
}

void p11p_subject_mac_format(uint64_t mac, char sep, bool upper, char out[18])
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t n = 0;
    for (int i = 5; i >= 0; i--) {
        unsigned byte = (unsigned)((mac >> (8 * i)) & 0xff);
        out[n++] = digits[byte >> 4];
        out[n++] = digits[byte & 0x0f];
        if (sep != 0 && i > 0) {
            out[n++] = sep;
        }
    }
    out[n] = '\0';
}

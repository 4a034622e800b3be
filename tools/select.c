/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate selection shared by the p11portal subcommands (select.h):
 * selector options, matching leaf certificate objects, and the details
 * (DER, CN, serial, dates, key id, order, chain) subcommands show.
 */
#include "tools/select.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <p11-kit/uri.h>

#include "core/base/ossl.h"
#include "core/base/str.h"
#include "p11portal/pkcs11-vendor.h"

#define CHAIN_MAX 10

/* ---- parsing ---- */

enum p11p_status p11p_select_hex(const char *s, unsigned char *out, size_t cap,
                                 size_t *out_len)
{
    size_t n = 0;
    int hi = -1;

    for (const char *p = s; *p != '\0'; p++) {
        int v;
        if (*p == ':' || *p == '-' || *p == ' ') {
            continue;
        }
        if (!isxdigit((unsigned char)*p)) {
            return P11P_ERR_INVALID_INPUT;
        }
        v = isdigit((unsigned char)*p) ? *p - '0'
                                       : tolower((unsigned char)*p) - 'a' + 10;
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n >= cap) {
            return P11P_ERR_INVALID_INPUT;
        }
        out[n++] = (unsigned char)(hi << 4 | v);
        hi = -1;
    }
    if (hi >= 0 || n == 0) {
        return P11P_ERR_INVALID_INPUT;
    }
    *out_len = n;
    return P11P_OK;
}

/* Lower-case hex without separators and leading zeros ("0" for zero). */
static bool norm_serial(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    bool lead = true;

    if (strncmp(in, "0x", 2) == 0 || strncmp(in, "0X", 2) == 0) {
        in += 2;
    }
    for (const char *p = in; *p != '\0'; p++) {
        if (*p == ':' || *p == '-' || *p == ' ') {
            continue;
        }
        if (!isxdigit((unsigned char)*p)) {
            return false;
        }
        if (lead && *p == '0') {
            continue;
        }
        lead = false;
        if (n + 1 >= cap) {
            return false;
        }
        out[n++] = (char)tolower((unsigned char)*p);
    }
    if (n == 0) {
        if (strchr(in, '0') == NULL) {
            return false;
        }
        out[n++] = '0';
    }
    out[n] = '\0';
    return true;
}

/* The PKCS#11 URI's token, label and id into s. */
static int parse_uri(const struct p11p_tool *t, struct p11p_sel *s,
                     const char *arg)
{
    P11KitUri *uri = p11_kit_uri_new();
    CK_ATTRIBUTE_PTR a;
    CK_TOKEN_INFO_PTR ti;
    int rc = P11P_EXIT_USAGE;

    if (uri == NULL) {
        return p11p_tool_fail(t, P11P_EXIT_FAILED, "out of memory");
    }
    if (p11_kit_uri_parse(arg, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, uri)
        != P11_KIT_URI_OK) {
        p11p_tool_fail(t, rc, "--uri: not a PKCS#11 URI (RFC 7512): %s", arg);
        goto out;
    }
    a = p11_kit_uri_get_attribute(uri, CKA_LABEL);
    if (a != NULL) {
        if (a->ulValueLen >= sizeof(s->label)
            || memchr(a->pValue, '\0', a->ulValueLen) != NULL) {
            p11p_tool_fail(t, rc, "--uri: object= too long or holds NUL");
            goto out;
        }
        if (a->ulValueLen > 0) {
            memcpy(s->label, a->pValue, a->ulValueLen);
        }
        s->label[a->ulValueLen] = '\0';
        s->has_label = true;
    }
    a = p11_kit_uri_get_attribute(uri, CKA_ID);
    if (a != NULL) {
        if (a->ulValueLen == 0 || a->ulValueLen > sizeof(s->id)) {
            p11p_tool_fail(t, rc, "--uri: id= must be 1 to %zu bytes",
                           sizeof(s->id));
            goto out;
        }
        memcpy(s->id, a->pValue, a->ulValueLen);
        s->id_len = a->ulValueLen;
        s->has_id = true;
    }
    ti = p11_kit_uri_get_token_info(uri);
    if (ti != NULL && ti->label[0] != '\0') {
        size_t n = sizeof(ti->label);
        while (n > 0 && ti->label[n - 1] == ' ') {
            n--;
        }
        memcpy(s->token, ti->label, n);
        s->token[n] = '\0';
        s->has_token = true;
    }
    rc = 0;
out:
    p11_kit_uri_free(uri);
    return rc;
}

int p11p_select_parse_opt(const struct p11p_tool *t, struct p11p_sel *s, int c,
                          const char *arg)
{
    uint64_t v = 0;

    switch (c) {
    case P11P_SELECT_OPT_URI:
        s->given = true;
        return parse_uri(t, s, arg);
    case P11P_SELECT_OPT_LABEL:
        s->given = true;
        s->has_label = true;
        if (!p11p_str_copy(s->label, sizeof(s->label), arg)) {
            return p11p_tool_fail(t, P11P_EXIT_USAGE, "--label: too long");
        }
        return 0;
    case P11P_SELECT_OPT_ID:
        s->given = true;
        s->has_id = true;
        if (p11p_select_hex(arg, s->id, sizeof(s->id), &s->id_len) != P11P_OK) {
            return p11p_tool_fail(t, P11P_EXIT_USAGE,
                                  "--id: \"%s\" is not 1 to %zu hex bytes", arg,
                                  sizeof(s->id));
        }
        return 0;
    case P11P_SELECT_OPT_SERIAL:
        s->given = true;
        s->has_serial = true;
        if (!norm_serial(arg, s->serial, sizeof(s->serial))) {
            return p11p_tool_fail(t, P11P_EXIT_USAGE,
                                  "--serial: \"%s\" is not a hex serial", arg);
        }
        return 0;
    case P11P_SELECT_OPT_ORDER:
        s->given = true;
        if (p11p_str_to_u64(arg, 1, INT64_MAX, &v) != P11P_OK) {
            return p11p_tool_fail(t, P11P_EXIT_USAGE,
                                  "--order: \"%s\" is not an order id", arg);
        }
        s->order = (int64_t)v;
        return 0;
    default:
        return P11P_SELECT_OTHER;
    }
}

/* ---- certificate details ---- */

static int64_t asn1_unix(const ASN1_TIME *at)
{
    struct tm tm;

    if (at == NULL || ASN1_TIME_to_tm(at, &tm) != 1) {
        return 0;
    }
    return (int64_t)timegm(&tm);
}

static void serial_hex(const ASN1_INTEGER *ai, char *out, size_t cap)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

    out[0] = '\0';
    if (hex != NULL && !norm_serial(hex, out, cap)) {
        out[0] = '\0';
    }
    OPENSSL_free(hex);
    BN_free(bn);
}

void p11p_certinfo_clear(struct p11p_certinfo *ci)
{
    if (ci == NULL) {
        return;
    }
    free(ci->der);
    free(ci->label);
    memset(ci, 0, sizeof(*ci));
}

enum p11p_status p11p_select_certinfo(struct p11p_cache *c, int64_t id,
                                      struct p11p_certinfo *out)
{
    struct p11p_cache_object o = { 0 };
    struct p11p_certinfo ci = { 0 };
    const CK_ATTRIBUTE *a;
    const unsigned char *p;
    X509 *x = NULL;
    CK_ULONG cat = 0;
    char *oid = NULL;
    uint64_t v = 0;
    enum p11p_status rc = p11p_cache_object_get(c, id, &o);

    if (rc != P11P_OK) {
        goto out;
    }
    a = p11p_attrlist_get0(&o.attrs, CKA_VALUE);
    if (o.klass != CKO_CERTIFICATE || a == NULL || a->ulValueLen == 0) {
        rc = P11P_ERR_NOT_FOUND;
        goto out;
    }
    ci.id = id;
    ci.der = malloc(a->ulValueLen);
    if (ci.der == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    memcpy(ci.der, a->pValue, a->ulValueLen);
    ci.der_len = a->ulValueLen;
    p = ci.der;
    x = d2i_X509(NULL, &p, (long)ci.der_len);
    if (x == NULL) {
        rc = P11P_ERR_CORRUPT;
        goto out;
    }
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
                                  ci.cn, (int)sizeof(ci.cn))
        < 0) {
        ci.cn[0] = '\0';
    }
    serial_hex(X509_get0_serialNumber(x), ci.serial, sizeof(ci.serial));
    ci.not_before = asn1_unix(X509_get0_notBefore(x));
    ci.not_after = asn1_unix(X509_get0_notAfter(x));
    ci.label = p11p_attrlist_get_str(&o.attrs, CKA_LABEL);
    a = p11p_attrlist_get0(&o.attrs, CKA_ID);
    if (a != NULL && a->ulValueLen > 0 && a->ulValueLen <= sizeof(ci.ckaid)) {
        memcpy(ci.ckaid, a->pValue, a->ulValueLen);
        ci.ckaid_len = a->ulValueLen;
    }
    ci.authority =
        p11p_attrlist_get_ulong(&o.attrs, CKA_CERTIFICATE_CATEGORY, &cat)
        && cat == 2;
    ci.order_id = o.order_id;
    oid = p11p_attrlist_get_str(&o.attrs, CKA_P11PORTAL_ORDER_ID);
    if (ci.order_id == 0 && oid != NULL
        && p11p_str_to_u64(oid, 1, INT64_MAX, &v) == P11P_OK) {
        ci.order_id = (int64_t)v;
    }
    *out = ci;
    memset(&ci, 0, sizeof(ci));
out:
    free(oid);
    X509_free(x);
    p11p_certinfo_clear(&ci);
    p11p_cache_object_clear(&o);
    return rc;
}

enum p11p_status p11p_select_cert_order(struct p11p_cache *c,
                                        const struct p11p_certinfo *ci,
                                        struct p11p_order *out)
{
    struct p11p_order *list = NULL;
    size_t n = 0;
    enum p11p_status rc;

    if (ci->order_id != 0) {
        return p11p_cache_order_get(c, ci->order_id, out);
    }
    rc = p11p_cache_order_list(c, UINT32_MAX, 0, 0, &list, &n);
    if (rc != P11P_OK) {
        return rc;
    }
    rc = P11P_ERR_NOT_FOUND;
    for (size_t i = n; i > 0; i--) {
        if (list[i - 1].cert_object_id == ci->id) {
            rc = p11p_cache_order_get(c, list[i - 1].id, out);
            break;
        }
    }
    p11p_cache_order_list_free(list, n);
    return rc;
}

/* ---- selection ---- */

static bool token_matches(const struct p11p_conf_token *tok, const char *name)
{
    return tok == NULL || (tok->label != NULL && strcmp(tok->label, name) == 0)
           || (tok->name != NULL && strcmp(tok->name, name) == 0);
}

/* Does leaf certificate object id pass s's serial and order tests? */
static enum p11p_status cert_passes(struct p11p_cache *c,
                                    const struct p11p_sel *s, int64_t id,
                                    bool *pass)
{
    struct p11p_certinfo ci = { 0 };
    enum p11p_status rc = p11p_select_certinfo(c, id, &ci);

    *pass = false;
    if (rc == P11P_ERR_NOT_FOUND || rc == P11P_ERR_CORRUPT) {
        return P11P_OK; /* gone meanwhile, or not a certificate to select */
    }
    if (rc != P11P_OK) {
        return rc;
    }
    *pass = !ci.authority
            && (!s->has_serial || strcmp(ci.serial, s->serial) == 0)
            && (s->order == 0 || ci.order_id == s->order);
    p11p_certinfo_clear(&ci);
    return P11P_OK;
}

enum p11p_status p11p_select_certs(struct p11p_cache *c,
                                   const struct p11p_conf_token *tok,
                                   const struct p11p_sel *s, int64_t **ids,
                                   size_t *n)
{
    struct p11p_cache_filter f = { 0 };
    struct p11p_order ord = { 0 };
    int64_t *found = NULL;
    size_t n_found = 0, kept = 0;
    bool pass = false;
    enum p11p_status rc = P11P_OK;

    if (s->has_token && !token_matches(tok, s->token)) {
        fprintf(stderr, "p11portal: --uri names token \"%s\", not \"%s\"\n",
                s->token, tok->name);
        return P11P_ERR_NOT_FOUND;
    }
    f.has_class = true;
    f.klass = CKO_CERTIFICATE;
    if (s->has_label) {
        f.label = s->label;
        f.label_len = strlen(s->label);
    }
    if (s->has_id) {
        f.ckaid = s->id;
        f.ckaid_len = s->id_len;
    }
    if (s->order != 0 && !s->has_label && !s->has_id) {
        /* Narrow through the order's key id (its certificates share it). */
        rc = p11p_cache_order_get(c, s->order, &ord);
        if (rc == P11P_ERR_NOT_FOUND) {
            *ids = NULL;
            *n = 0;
            return P11P_OK;
        }
        if (rc != P11P_OK) {
            return rc;
        }
        if (ord.ckaid_len > 0) {
            f.ckaid = ord.ckaid;
            f.ckaid_len = ord.ckaid_len;
        }
    }
    rc = p11p_cache_object_find(c, &f, &found, &n_found);
    for (size_t i = 0; rc == P11P_OK && i < n_found; i++) {
        rc = cert_passes(c, s, found[i], &pass);
        if (rc == P11P_OK && pass) {
            found[kept++] = found[i];
        }
    }
    if (rc == P11P_OK) {
        if (kept == 0) {
            free(found);
            found = NULL;
        }
        *ids = found;
        *n = kept;
        found = NULL;
    }
    free(found);
    p11p_order_clear(&ord);
    return rc;
}

enum p11p_status p11p_select_keys(struct p11p_cache *c,
                                  const unsigned char *ckaid, size_t ckaid_len,
                                  int64_t **ids, size_t *n)
{
    static const CK_OBJECT_CLASS classes[] = { CKO_PRIVATE_KEY,
                                               CKO_PUBLIC_KEY };
    struct p11p_cache_filter f = { 0 };
    int64_t *all = NULL, *part = NULL, *grown;
    size_t n_all = 0, n_part = 0;
    enum p11p_status rc = P11P_OK;

    f.has_class = true;
    f.ckaid = ckaid;
    f.ckaid_len = ckaid_len;
    for (size_t k = 0; rc == P11P_OK && k < 2; k++) {
        f.klass = classes[k];
        rc = p11p_cache_object_find(c, &f, &part, &n_part);
        if (rc != P11P_OK || n_part == 0) {
            continue;
        }
        grown = realloc(all, (n_all + n_part) * sizeof(*all));
        if (grown == NULL) {
            rc = P11P_ERR_NOMEM;
        } else {
            all = grown;
            memcpy(all + n_all, part, n_part * sizeof(*part));
            n_all += n_part;
        }
        free(part);
        part = NULL;
    }
    if (rc != P11P_OK) {
        free(all);
        return rc;
    }
    *ids = all;
    *n = n_all;
    return P11P_OK;
}

/* ---- chains ---- */

void p11p_select_chain_free(unsigned char **ders, size_t *lens, size_t n)
{
    for (size_t i = 0; ders != NULL && i < n; i++) {
        free(ders[i]);
    }
    free(ders);
    free(lens);
}

/* The authority certificate object issuing x, as a new X509 and its DER
 * (NULL: none on the token). */
static enum p11p_status find_issuer(struct p11p_cache *c, X509 *x, X509 **out_x,
                                    struct p11p_certinfo *out_ci)
{
    struct p11p_cache_filter f = { 0 };
    const ASN1_OCTET_STRING *akid = X509_get0_authority_key_id(x);
    int64_t *ids = NULL;
    size_t n = 0;
    enum p11p_status rc;

    *out_x = NULL;
    f.has_class = true;
    f.klass = CKO_CERTIFICATE;
    if (akid != NULL && ASN1_STRING_length(akid) > 0) {
        f.ckaid = ASN1_STRING_get0_data(akid);
        f.ckaid_len = (size_t)ASN1_STRING_length(akid);
    }
    rc = p11p_cache_object_find(c, &f, &ids, &n);
    for (size_t i = 0; rc == P11P_OK && i < n && *out_x == NULL; i++) {
        struct p11p_certinfo ci = { 0 };
        const unsigned char *p;
        X509 *cand = NULL;

        if (p11p_select_certinfo(c, ids[i], &ci) != P11P_OK || !ci.authority) {
            p11p_certinfo_clear(&ci);
            continue;
        }
        p = ci.der;
        cand = d2i_X509(NULL, &p, (long)ci.der_len);
        if (cand != NULL && X509_check_issued(cand, x) == X509_V_OK) {
            *out_x = cand;
            *out_ci = ci;
            continue;
        }
        X509_free(cand);
        p11p_certinfo_clear(&ci);
    }
    free(ids);
    return rc;
}

enum p11p_status p11p_select_chain(struct p11p_cache *c,
                                   const unsigned char *leaf, size_t leaf_len,
                                   unsigned char ***ders, size_t **lens,
                                   size_t *n)
{
    unsigned char **d = calloc(CHAIN_MAX, sizeof(*d));
    size_t *l = calloc(CHAIN_MAX, sizeof(*l));
    size_t k = 0;
    const unsigned char *p = leaf;
    X509 *x = d2i_X509(NULL, &p, (long)leaf_len);
    X509 *issuer = NULL;
    enum p11p_status rc = P11P_OK;

    if (d == NULL || l == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    if (x == NULL) {
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    while (k < CHAIN_MAX && X509_check_issued(x, x) != X509_V_OK) {
        struct p11p_certinfo ci = { 0 };
        rc = find_issuer(c, x, &issuer, &ci);
        if (rc != P11P_OK || issuer == NULL) {
            break;
        }
        d[k] = ci.der; /* ownership moves to the chain */
        l[k] = ci.der_len;
        ci.der = NULL;
        k++;
        p11p_certinfo_clear(&ci);
        X509_free(x);
        x = issuer;
        issuer = NULL;
    }
    if (rc == P11P_OK) {
        *ders = d;
        *lens = l;
        *n = k;
        d = NULL;
        l = NULL;
    }
out:
    X509_free(x);
    p11p_select_chain_free(d, l, k);
    return rc;
}

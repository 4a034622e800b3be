/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sectigo Certificate Manager replies into C (PORTALS.md Part 1 and 3b).
 * Tolerant where the portal varies (ids as numbers or strings, optional
 * fields absent, null or "", status case), strict where a wrong value would
 * mislead us (types of the fields we act on). Every failure gives
 * P11P_ERR_PROTOCOL with the JSON path in why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/str.h"
#include "remote/json.h"
#include "remote/sectigo/sectigo_internal.h"

static enum p11p_status parse(const char *body, size_t len,
                              struct p11p_json **out, char *why, size_t whysz)
{
    struct p11p_json_err err;
    enum p11p_status rc = p11p_json_parse(body, len, out, &err);

    if (rc != P11P_OK) {
        p11p_json_err_format(&err, why, whysz);
    }
    return rc;
}

static enum p11p_status fail(struct p11p_json_err *err, char *why, size_t whysz)
{
    p11p_json_err_format(err, why, whysz);
    return P11P_ERR_PROTOCOL;
}

enum p11p_status p11p_sectigo_json_error(const char *body, size_t len,
                                         int64_t *code, char *desc,
                                         size_t descsz)
{
    enum p11p_status rc = P11P_ERR_PROTOCOL;
    struct p11p_json *j = NULL;
    struct p11p_json_err err;
    const char *d = NULL;
    const char *details = NULL;
    int64_t c = 0;

    if (p11p_json_parse(body, len, &j, &err) != P11P_OK
        || !p11p_json_is_object(j, "")
        || p11p_json_get_int(j, "code", true, &c, &err) != P11P_OK
        || p11p_json_get_string_opt(j, "description", &d, &err) != P11P_OK
        || p11p_json_get_string_opt(j, "details", &details, &err) != P11P_OK) {
        goto out;
    }
    *code = c;
    snprintf(desc, descsz, "%s%s%s", d != NULL ? d : "(no description)",
             details != NULL ? " - " : "", details != NULL ? details : "");
    rc = P11P_OK;
out:
    p11p_json_free(j);
    return rc;
}

enum p11p_status p11p_sectigo_json_enroll(const char *body, size_t len,
                                          bool device, char *id, size_t idsz,
                                          char *status, size_t statussz,
                                          char *why, size_t whysz)
{
    enum p11p_status rc = P11P_ERR_PROTOCOL;
    struct p11p_json *j = NULL;
    struct p11p_json_err err;
    const char *st = NULL;
    char tmp[64];

    rc = parse(body, len, &j, why, whysz);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = P11P_ERR_PROTOCOL;
    if (!p11p_json_is_object(j, "")) {
        snprintf(why, whysz, "$: expected object");
        goto out;
    }
    if (p11p_json_get_id(j, device ? "deviceCertId" : "sslId", tmp, sizeof(tmp),
                         &err)
            != P11P_OK
        && p11p_json_get_id(j, "id", tmp, sizeof(tmp), NULL) != P11P_OK) {
        rc = fail(&err, why, whysz);
        goto out;
    }
    if (p11p_json_get_string_opt(j, "status", &st, &err) != P11P_OK) {
        rc = fail(&err, why, whysz);
        goto out;
    }
    if (!p11p_str_copy(id, idsz, tmp)) {
        goto out;
    }
    if (statussz > 0) {
        p11p_str_copy(status, statussz, st != NULL ? st : "");
    }
    rc = P11P_OK;
out:
    p11p_json_free(j);
    return rc;
}

enum p11p_status p11p_sectigo_json_details(const char *body, size_t len,
                                           const char *token_field,
                                           struct sectigo_details *out,
                                           char *why, size_t whysz)
{
    static const char *const reason_keys[] = { "declineReason", "rejectReason",
                                               "reason" };
    enum p11p_status rc = P11P_ERR_PROTOCOL;
    struct p11p_json *j = NULL;
    struct p11p_json_err err;
    struct sectigo_details d;
    const char *st = NULL;
    const char *serial = NULL;
    const char *comments = NULL;
    size_t n = 0;
    char path[64];

    memset(&d, 0, sizeof(d));
    rc = parse(body, len, &j, why, whysz);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = P11P_ERR_PROTOCOL;
    if (!p11p_json_is_object(j, "")) {
        snprintf(why, whysz, "$: expected object");
        goto out;
    }
    if (p11p_json_get_id(j, "id", d.id, sizeof(d.id), &err) != P11P_OK
        && p11p_json_get_id(j, "sslId", d.id, sizeof(d.id), NULL) != P11P_OK
        && p11p_json_get_id(j, "deviceCertId", d.id, sizeof(d.id), NULL)
               != P11P_OK) {
        rc = fail(&err, why, whysz);
        goto out;
    }
    if (p11p_json_get_string(j, "status", &st, &err) != P11P_OK
        || p11p_json_get_string_opt(j, "serialNumber", &serial, &err) != P11P_OK
        || p11p_json_get_string_opt(j, "comments", &comments, &err)
               != P11P_OK) {
        rc = fail(&err, why, whysz);
        goto out;
    }
    if (!p11p_str_copy(d.status, sizeof(d.status), st)) {
        snprintf(why, whysz, "$.status: too long");
        goto out;
    }
    p11p_str_copy(d.serial, sizeof(d.serial), serial != NULL ? serial : "");
    p11p_str_copy(d.comments, sizeof(d.comments),
                  comments != NULL ? comments : "");
    /* Why a declined or rejected order was refused (optional; a long one
     * is cut, not refused). */
    for (size_t i = 0; i < sizeof(reason_keys) / sizeof(reason_keys[0]); i++) {
        const char *reason = NULL;
        if (d.reason[0] == '\0'
            && p11p_json_get_string_opt(j, reason_keys[i], &reason, NULL)
                   == P11P_OK
            && reason != NULL) {
            (void)p11p_str_copy(d.reason, sizeof(d.reason), reason);
        }
    }
    if (token_field != NULL && p11p_json_has(j, "customFields")) {
        if (p11p_json_array_len(j, "customFields", &n, &err) != P11P_OK) {
            rc = fail(&err, why, whysz);
            goto out;
        }
        for (size_t i = 0; i < n && i < 256; i++) {
            const char *name = NULL;
            const char *value = NULL;
            snprintf(path, sizeof(path), "customFields[%zu].name", i);
            if (p11p_json_get_string(j, path, &name, &err) != P11P_OK) {
                rc = fail(&err, why, whysz);
                goto out;
            }
            snprintf(path, sizeof(path), "customFields[%zu].value", i);
            if (p11p_json_get_string_opt(j, path, &value, &err) != P11P_OK) {
                rc = fail(&err, why, whysz);
                goto out;
            }
            if (strcmp(name, token_field) == 0 && value != NULL) {
                p11p_str_copy(d.token_value, sizeof(d.token_value), value);
            }
        }
    }
    *out = d;
    rc = P11P_OK;
out:
    p11p_json_free(j);
    return rc;
}

static bool profile_matches(const struct p11p_json *j, size_t i,
                            const char *want)
{
    char path[48];
    char id[64];
    const char *name = NULL;

    snprintf(path, sizeof(path), "[%zu].id", i);
    if (p11p_json_get_id(j, path, id, sizeof(id), NULL) == P11P_OK
        && strcmp(id, want) == 0) {
        return true;
    }
    snprintf(path, sizeof(path), "[%zu].name", i);
    return p11p_json_get_string(j, path, &name, NULL) == P11P_OK
           && strcasecmp(name, want) == 0;
}

enum p11p_status p11p_sectigo_json_types(const char *body, size_t len,
                                         const struct sectigo_type_check *want,
                                         int64_t *out_id, unsigned *out_term,
                                         char *why, size_t whysz)
{
    enum p11p_status rc = P11P_ERR_PROTOCOL;
    struct p11p_json *j = NULL;
    struct p11p_json_err err;
    size_t n = 0;
    size_t hit = (size_t)-1;
    size_t nterms = 0;
    size_t nkeys = 0;
    int64_t id = 0;
    char path[96];
    char names[256];
    size_t used = 0;
    unsigned term = want->term;

    rc = parse(body, len, &j, why, whysz);
    if (rc != P11P_OK) {
        goto out;
    }
    if (p11p_json_array_len(j, "", &n, &err) != P11P_OK) {
        rc = fail(&err, why, whysz);
        goto out;
    }
    rc = P11P_ERR_PROTOCOL;
    names[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *nm = NULL;
        snprintf(path, sizeof(path), "[%zu].id", i);
        if (p11p_json_get_int(j, path, true, &id, &err) != P11P_OK) {
            rc = fail(&err, why, whysz);
            goto out;
        }
        snprintf(path, sizeof(path), "[%zu].name", i);
        if (p11p_json_get_string(j, path, &nm, &err) != P11P_OK) {
            rc = fail(&err, why, whysz);
            goto out;
        }
        if (used + 1 < sizeof(names)) {
            int w = snprintf(names + used, sizeof(names) - used, "%s%s (%lld)",
                             used > 0 ? ", " : "", nm, (long long)id);
            used = w > 0 ? used + (size_t)w : used;
            if (used >= sizeof(names)) {
                used = sizeof(names) - 1;
            }
        }
        if (hit == (size_t)-1 && profile_matches(j, i, want->profile)) {
            hit = i;
        }
    }
    if (hit == (size_t)-1) {
        snprintf(
            why, whysz,
            "certificate profile '%s' is not offered by the portal; available: %s",
            want->profile, names[0] != '\0' ? names : "none");
        rc = P11P_ERR_REJECTED;
        goto out;
    }
    snprintf(path, sizeof(path), "[%zu].id", hit);
    if (p11p_json_get_int(j, path, true, &id, &err) != P11P_OK) {
        rc = fail(&err, why, whysz);
        goto out;
    }
    snprintf(path, sizeof(path), "[%zu].terms[0]", hit);
    if (want->term == 0 && p11p_json_has(j, path)) {
        int64_t v = 0;
        if (p11p_json_get_int(j, path, true, &v, &err) != P11P_OK || v < 1
            || v > 100000) {
            rc = fail(&err, why, whysz);
            goto out;
        }
        term = (unsigned)v;
    }
    if (want->term != 0) {
        bool ok = false;
        snprintf(path, sizeof(path), "[%zu].terms", hit);
        if (p11p_json_array_len(j, path, &nterms, &err) != P11P_OK) {
            rc = fail(&err, why, whysz);
            goto out;
        }
        for (size_t t = 0; t < nterms && !ok; t++) {
            int64_t v = 0;
            snprintf(path, sizeof(path), "[%zu].terms[%zu]", hit, t);
            if (p11p_json_get_int(j, path, true, &v, &err) != P11P_OK) {
                rc = fail(&err, why, whysz);
                goto out;
            }
            ok = v == (int64_t)want->term;
        }
        if (!ok) {
            snprintf(
                why, whysz,
                "term %u days is not allowed by certificate profile '%s' (see its terms in /types)",
                want->term, want->profile);
            rc = P11P_ERR_REJECTED;
            goto out;
        }
    }
    snprintf(path, sizeof(path), "[%zu].keyTypes", hit);
    if (want->key_alg != NULL && p11p_json_is_object(j, path)) {
        bool alg_ok = false;
        bool param_ok = false;
        if (p11p_json_object_len(j, path, &nkeys, &err) != P11P_OK) {
            rc = fail(&err, why, whysz);
            goto out;
        }
        for (size_t k = 0; k < nkeys && !alg_ok; k++) {
            const char *alg = NULL;
            size_t np = 0;
            char sub[160];
            if (p11p_json_object_key(j, path, k, &alg, &err) != P11P_OK) {
                rc = fail(&err, why, whysz);
                goto out;
            }
            if (strcasecmp(alg, want->key_alg) != 0
                && !(strcasecmp(alg, "ECDSA") == 0
                     && strcmp(want->key_alg, "EC") == 0)) {
                continue;
            }
            alg_ok = true;
            snprintf(sub, sizeof(sub), "%s.%s", path, alg);
            if (!p11p_json_is_array(j, sub) || want->key_param == NULL
                || want->key_param[0] == '\0') {
                param_ok = true;
                break;
            }
            if (p11p_json_array_len(j, sub, &np, &err) != P11P_OK) {
                rc = fail(&err, why, whysz);
                goto out;
            }
            for (size_t q = 0; q < np && !param_ok; q++) {
                char item[200];
                char v[64];
                snprintf(item, sizeof(item), "%s[%zu]", sub, q);
                if (p11p_json_get_id(j, item, v, sizeof(v), &err) != P11P_OK) {
                    rc = fail(&err, why, whysz);
                    goto out;
                }
                param_ok = strcasecmp(v, want->key_param) == 0;
            }
        }
        if (!alg_ok || !param_ok) {
            snprintf(
                why, whysz,
                "key type %s %s is not allowed by certificate profile '%s'",
                want->key_alg, want->key_param != NULL ? want->key_param : "",
                want->profile);
            rc = P11P_ERR_REJECTED;
            goto out;
        }
    }
    *out_id = id;
    *out_term = term;
    rc = P11P_OK;
out:
    p11p_json_free(j);
    return rc;
}

enum p11p_status p11p_sectigo_json_custom_fields(const char *body, size_t len,
                                                 const char *const *names,
                                                 size_t n_names, char *why,
                                                 size_t whysz)
{
    enum p11p_status rc = P11P_ERR_PROTOCOL;
    struct p11p_json *j = NULL;
    struct p11p_json_err err;
    size_t n = 0;
    char path[64];

    rc = parse(body, len, &j, why, whysz);
    if (rc != P11P_OK) {
        goto out;
    }
    if (p11p_json_array_len(j, "", &n, &err) != P11P_OK) {
        rc = fail(&err, why, whysz);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL;
        bool mandatory = false;
        bool have = false;
        snprintf(path, sizeof(path), "[%zu].name", i);
        if (p11p_json_get_string(j, path, &name, &err) != P11P_OK) {
            rc = fail(&err, why, whysz);
            goto out;
        }
        snprintf(path, sizeof(path), "[%zu].mandatory", i);
        if (p11p_json_has(j, path)
            && p11p_json_get_bool(j, path, &mandatory, &err) != P11P_OK) {
            rc = fail(&err, why, whysz);
            goto out;
        }
        for (size_t k = 0; k < n_names && !have; k++) {
            have = strcmp(names[k], name) == 0;
        }
        if (mandatory && !have) {
            snprintf(
                why, whysz,
                "the portal requires custom field '%s'; set it with custom_fields = %s=VALUE",
                name, name);
            rc = P11P_ERR_REJECTED;
            goto out;
        }
    }
    rc = P11P_OK;
out:
    p11p_json_free(j);
    return rc;
}

enum p11p_status p11p_sectigo_json_list(const char *body, size_t len,
                                        bool device, char (*ids)[64],
                                        size_t max, size_t *n, char *why,
                                        size_t whysz)
{
    enum p11p_status rc = P11P_ERR_PROTOCOL;
    struct p11p_json *j = NULL;
    struct p11p_json_err err;
    size_t count = 0;
    size_t got = 0;
    char path[64];

    rc = parse(body, len, &j, why, whysz);
    if (rc != P11P_OK) {
        goto out;
    }
    if (p11p_json_array_len(j, "", &count, &err) != P11P_OK) {
        rc = fail(&err, why, whysz);
        goto out;
    }
    for (size_t i = 0; i < count && got < max; i++) {
        snprintf(path, sizeof(path), "[%zu].%s", i, device ? "id" : "sslId");
        if (p11p_json_get_id(j, path, ids[got], 64, &err) != P11P_OK) {
            snprintf(path, sizeof(path), "[%zu].%s", i,
                     device ? "deviceCertId" : "id");
            if (p11p_json_get_id(j, path, ids[got], 64, NULL) != P11P_OK) {
                rc = fail(&err, why, whysz);
                goto out;
            }
        }
        got++;
    }
    *n = got;
    rc = P11P_OK;
out:
    p11p_json_free(j);
    return rc;
}

/* PORTALS.md §1.5 (SSL mixed case, device upper-snake, KF's extra
 * strings); compared case-insensitively with '_' and ' ' alike. */
static const struct {
    const char *status;
    enum p11p_remote_state state;
} status_table[] = {
    { "Requested", P11P_REMOTE_PENDING_APPROVAL },
    { "Awaiting Approval", P11P_REMOTE_PENDING_APPROVAL },
    { "Init", P11P_REMOTE_PENDING_APPROVAL },
    { "SAApproved", P11P_REMOTE_PENDING_APPROVAL },
    { "Not Enrolled", P11P_REMOTE_PENDING_APPROVAL },
    { "Approved", P11P_REMOTE_PROCESSING },
    { "Applied", P11P_REMOTE_PROCESSING },
    { "Enrolled - Pending Download", P11P_REMOTE_PROCESSING },
    { "Pending", P11P_REMOTE_PROCESSING },
    { "Issued", P11P_REMOTE_ISSUED },
    { "Downloaded", P11P_REMOTE_ISSUED },
    { "Declined", P11P_REMOTE_REJECTED },
    { "Rejected", P11P_REMOTE_REJECTED },
    { "Invalid", P11P_REMOTE_REJECTED },
    { "Revoked", P11P_REMOTE_REVOKED },
    { "Replaced", P11P_REMOTE_REVOKED },
    { "Expired", P11P_REMOTE_EXPIRED },
};

static bool status_eq(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        char x = (*a == '_') ? ' ' : *a;
        char y = (*b == '_') ? ' ' : *b;
        if (x >= 'A' && x <= 'Z') {
            x = (char)(x - 'A' + 'a');
        }
        if (y >= 'A' && y <= 'Z') {
            y = (char)(y - 'A' + 'a');
        }
        if (x != y) {
            return false;
        }
    }
    return *a == *b;
}

bool p11p_sectigo_json_state(const char *status, enum p11p_remote_state *out)
{
    for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]);
         i++) {
        if (status_eq(status, status_table[i].status)) {
            *out = status_table[i].state;
            return true;
        }
    }
    return false;
}

/* PORTALS.md §1.6 "Recommended driver rule". */
static const struct {
    int64_t code;
    enum sectigo_collect_class cls;
} collect_codes[] = {
    { 0, SECTIGO_COLLECT_PENDING },       { -183, SECTIGO_COLLECT_PENDING },
    { -1400, SECTIGO_COLLECT_PENDING },   { -109, SECTIGO_COLLECT_PENDING },
    { -103, SECTIGO_COLLECT_PENDING },    { -140, SECTIGO_COLLECT_PENDING },
    { -195, SECTIGO_COLLECT_PENDING },    { -618, SECTIGO_COLLECT_PENDING },
    { -110, SECTIGO_COLLECT_REVOKED },    { -192, SECTIGO_COLLECT_REVOKED },
    { -124, SECTIGO_COLLECT_NOT_FOUND },  { -5101, SECTIGO_COLLECT_NOT_FOUND },
    { -1104, SECTIGO_COLLECT_NOT_FOUND },
};

enum sectigo_collect_class p11p_sectigo_json_collect_class(int64_t code)
{
    for (size_t i = 0; i < sizeof(collect_codes) / sizeof(collect_codes[0]);
         i++) {
        if (collect_codes[i].code == code) {
            return collect_codes[i].cls;
        }
    }
    return SECTIGO_COLLECT_ERROR;
}

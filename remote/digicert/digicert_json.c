/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DigiCert ONE IoT Trust Manager replies into C (PORTALS.md Part 2, 3.2,
 * 3b.15-19) and request bodies out of C. Both error envelopes; statuses in
 * any case; optional fields absent, null or "". Every failure gives
 * P11P_ERR_PROTOCOL with the JSON path in why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/buf.h"
#include "core/base/str.h"
#include "remote/digicert/digicert_internal.h"
#include "remote/json.h"

#define DC_MAX_PEM     (256u * 1024u)
#define DC_MAX_RECORDS 1000u

static enum p11p_status fail(struct p11p_json_err *err, char *why, size_t whysz)
{
    p11p_json_err_format(err, why, whysz);
    return P11P_ERR_PROTOCOL;
}

static bool code_of(const struct p11p_json *j, const char *path, char *code,
                    size_t codesz)
{
    const char *s = NULL;
    int64_t v = 0;

    if (p11p_json_get_string(j, path, &s, NULL) == P11P_OK) {
        return p11p_str_copy(code, codesz, s) || true;
    }
    if (p11p_json_get_int(j, path, false, &v, NULL) == P11P_OK) {
        snprintf(code, codesz, "%lld", (long long)v);
        return true;
    }
    return false;
}

enum p11p_status p11p_digicert_json_error(const char *body, size_t len,
                                          char *code, size_t codesz, char *msg,
                                          size_t msgsz)
{
    enum p11p_status rc = P11P_ERR_PROTOCOL;
    struct p11p_json *j = NULL;
    const char *m = NULL;
    const char *base = NULL;
    size_t n = 0;

    if (p11p_json_parse(body, len, &j, NULL) != P11P_OK
        || !p11p_json_is_object(j, "")) {
        goto out;
    }
    if (p11p_json_is_array(j, "errors")) {
        if (p11p_json_array_len(j, "errors", &n, NULL) != P11P_OK || n == 0
            || !p11p_json_is_object(j, "errors[0]")) {
            goto out;
        }
        base = "errors[0]";
    } else if (p11p_json_is_object(j, "error")) {
        base = "error";
    } else {
        goto out;
    }
    {
        char cpath[32];
        char mpath[32];
        snprintf(cpath, sizeof(cpath), "%s.code", base);
        snprintf(mpath, sizeof(mpath), "%s.message", base);
        if (!code_of(j, cpath, code, codesz)) {
            p11p_str_copy(code, codesz, "(no code)");
        }
        if (p11p_json_get_string_opt(j, mpath, &m, NULL) != P11P_OK) {
            goto out;
        }
        snprintf(msg, msgsz, "%s", m != NULL ? m : "(no message)");
    }
    rc = P11P_OK;
out:
    p11p_json_free(j);
    return rc;
}

void p11p_digicert_json_answer_clear(struct digicert_answer *a)
{
    if (a == NULL) {
        return;
    }
    free(a->pem);
    memset(a, 0, sizeof(*a));
}

static enum p11p_status copy_opt(const struct p11p_json *j, const char *path,
                                 char *out, size_t outsz,
                                 struct p11p_json_err *err)
{
    const char *s = NULL;
    enum p11p_status rc = p11p_json_get_string_opt(j, path, &s, err);

    out[0] = '\0';
    if (rc == P11P_OK && s != NULL && !p11p_str_copy(out, outsz, s)) {
        snprintf(err->path, sizeof(err->path), "$.%s", path);
        snprintf(err->what, sizeof(err->what), "too long");
        return P11P_ERR_PROTOCOL;
    }
    return rc;
}

static enum p11p_status copy_id_opt(const struct p11p_json *j, const char *path,
                                    char *out, size_t outsz,
                                    struct p11p_json_err *err)
{
    out[0] = '\0';
    if (!p11p_json_has(j, path)) {
        return P11P_OK;
    }
    return p11p_json_get_id(j, path, out, outsz, err);
}

enum p11p_status p11p_digicert_json_answer(const char *body, size_t len,
                                           struct digicert_answer *out,
                                           char *why, size_t whysz)
{
    enum p11p_status rc = P11P_ERR_PROTOCOL;
    struct p11p_json *j = NULL;
    struct p11p_json_err err;
    struct digicert_answer a;
    const char *pem = NULL;

    memset(&a, 0, sizeof(a));
    if (p11p_json_parse(body, len, &j, &err) != P11P_OK) {
        rc = fail(&err, why, whysz);
        goto out;
    }
    if (!p11p_json_is_object(j, "")) {
        snprintf(why, whysz, "$: expected object");
        goto out;
    }
    if (copy_id_opt(j, "certificate_request_id", a.request_id,
                    sizeof(a.request_id), &err)
            != P11P_OK
        || copy_opt(j, "status", a.status, sizeof(a.status), &err) != P11P_OK
        || copy_opt(j, "result", a.result, sizeof(a.result), &err) != P11P_OK
        || copy_id_opt(j, "certificate_id", a.certificate_id,
                       sizeof(a.certificate_id), &err)
               != P11P_OK
        || p11p_json_get_string_opt(j, "pem", &pem, &err) != P11P_OK) {
        rc = fail(&err, why, whysz);
        goto out;
    }
    if (a.request_id[0] == '\0' && a.certificate_id[0] == '\0') {
        snprintf(why, whysz,
                 "$: neither certificate_request_id nor certificate_id");
        goto out;
    }
    if (pem != NULL) {
        if (strlen(pem) > DC_MAX_PEM) {
            snprintf(why, whysz, "$.pem: too long");
            goto out;
        }
        a.pem = strdup(pem);
        if (a.pem == NULL) {
            rc = P11P_ERR_NOMEM;
            goto out;
        }
    }
    *out = a;
    memset(&a, 0, sizeof(a));
    rc = P11P_OK;
out:
    p11p_digicert_json_answer_clear(&a);
    p11p_json_free(j);
    return rc;
}

void p11p_digicert_json_record_clear(struct digicert_record *r)
{
    if (r == NULL) {
        return;
    }
    free(r->pem);
    memset(r, 0, sizeof(*r));
}

void p11p_digicert_json_records_free(struct digicert_record *r, size_t n)
{
    for (size_t i = 0; r != NULL && i < n; i++) {
        p11p_digicert_json_record_clear(&r[i]);
    }
    free(r);
}

static enum p11p_status record_at(const struct p11p_json *j, const char *base,
                                  struct digicert_record *out,
                                  struct p11p_json_err *err)
{
    enum p11p_status rc = P11P_ERR_PROTOCOL;
    struct digicert_record r;
    struct p11p_buf pem;
    const char *body = NULL;
    size_t nchain = 0;
    char path[96];
    const char *dot = base[0] != '\0' ? "." : "";

    memset(&r, 0, sizeof(r));
    p11p_buf_init(&pem, DC_MAX_PEM);
    if (!p11p_json_is_object(j, base)) {
        snprintf(err->path, sizeof(err->path), "$%s%s", dot, base);
        snprintf(err->what, sizeof(err->what), "expected object");
        goto out;
    }
    snprintf(path, sizeof(path), "%s%sid", base, dot);
    if (p11p_json_get_id(j, path, r.id, sizeof(r.id), err) != P11P_OK) {
        goto out;
    }
    snprintf(path, sizeof(path), "%s%sstatus", base, dot);
    if (copy_opt(j, path, r.status, sizeof(r.status), err) != P11P_OK) {
        goto out;
    }
    snprintf(path, sizeof(path), "%s%sserial_number", base, dot);
    if (copy_opt(j, path, r.serial, sizeof(r.serial), err) != P11P_OK) {
        goto out;
    }
    snprintf(path, sizeof(path), "%s%scommon_name", base, dot);
    if (p11p_json_get_string_opt(j, path, &body, NULL) == P11P_OK
        && body != NULL) {
        (void)p11p_str_copy(r.common_name, sizeof(r.common_name), body);
    }
    body = NULL;
    /* Why a request was rejected (optional; a long one is cut). */
    snprintf(path, sizeof(path), "%s%srejection_reason", base, dot);
    if (p11p_json_get_string_opt(j, path, &body, NULL) == P11P_OK
        && body != NULL) {
        (void)p11p_str_copy(r.reason, sizeof(r.reason), body);
    }
    body = NULL;
    snprintf(path, sizeof(path), "%s%sbody", base, dot);
    if (p11p_json_get_string_opt(j, path, &body, err) != P11P_OK) {
        goto out;
    }
    if (body == NULL) {
        snprintf(path, sizeof(path), "%s%spem", base, dot);
        if (p11p_json_get_string_opt(j, path, &body, err) != P11P_OK) {
            goto out;
        }
    }
    if (body != NULL) {
        if (p11p_buf_append_str(&pem, body) != P11P_OK
            || p11p_buf_append_str(&pem, "\n") != P11P_OK) {
            snprintf(err->path, sizeof(err->path), "$%s%sbody", dot, base);
            snprintf(err->what, sizeof(err->what), "too long");
            goto out;
        }
        snprintf(path, sizeof(path), "%s%schain", base, dot);
        if (p11p_json_has(j, path)) {
            if (p11p_json_array_len(j, path, &nchain, err) != P11P_OK) {
                goto out;
            }
            for (size_t i = 0; i < nchain && i < 16; i++) {
                const char *blob = NULL;
                snprintf(path, sizeof(path), "%s%schain[%zu].blob", base, dot,
                         i);
                if (p11p_json_get_string(j, path, &blob, err) != P11P_OK) {
                    goto out;
                }
                if (p11p_buf_append_str(&pem, blob) != P11P_OK
                    || p11p_buf_append_str(&pem, "\n") != P11P_OK) {
                    snprintf(err->path, sizeof(err->path), "$.%s", path);
                    snprintf(err->what, sizeof(err->what), "too long");
                    goto out;
                }
            }
        }
        r.pem = (char *)p11p_buf_steal(&pem, NULL);
    }
    *out = r;
    memset(&r, 0, sizeof(r));
    rc = P11P_OK;
out:
    p11p_buf_free(&pem);
    p11p_digicert_json_record_clear(&r);
    return rc;
}

enum p11p_status p11p_digicert_json_record(const char *body, size_t len,
                                           struct digicert_record *out,
                                           char *why, size_t whysz)
{
    enum p11p_status rc = P11P_ERR_PROTOCOL;
    struct p11p_json *j = NULL;
    struct p11p_json_err err;

    if (p11p_json_parse(body, len, &j, &err) != P11P_OK
        || record_at(j, "", out, &err) != P11P_OK) {
        rc = fail(&err, why, whysz);
        goto out;
    }
    rc = P11P_OK;
out:
    p11p_json_free(j);
    return rc;
}

enum p11p_status p11p_digicert_json_search(const char *body, size_t len,
                                           struct digicert_record **out,
                                           size_t *n, long long *total,
                                           char *why, size_t whysz)
{
    enum p11p_status rc = P11P_ERR_PROTOCOL;
    struct p11p_json *j = NULL;
    struct p11p_json_err err;
    struct digicert_record *recs = NULL;
    size_t count = 0;
    size_t got = 0;
    int64_t t = -1;
    char path[32];

    *out = NULL;
    *n = 0;
    if (p11p_json_parse(body, len, &j, &err) != P11P_OK) {
        rc = fail(&err, why, whysz);
        goto out;
    }
    if (!p11p_json_is_object(j, "")) {
        snprintf(why, whysz, "$: expected object");
        goto out;
    }
    /* §3b.15: no match may be {"records":[]} without total. */
    if (p11p_json_array_len(j, "records", &count, &err) != P11P_OK) {
        rc = fail(&err, why, whysz);
        goto out;
    }
    if (count > DC_MAX_RECORDS) {
        snprintf(why, whysz, "$.records: more than %u records", DC_MAX_RECORDS);
        goto out;
    }
    if (p11p_json_has(j, "total")
        && p11p_json_get_int(j, "total", true, &t, &err) != P11P_OK) {
        rc = fail(&err, why, whysz);
        goto out;
    }
    recs = calloc(count > 0 ? count : 1, sizeof(*recs));
    if (recs == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    for (got = 0; got < count; got++) {
        snprintf(path, sizeof(path), "records[%zu]", got);
        if (record_at(j, path, &recs[got], &err) != P11P_OK) {
            rc = fail(&err, why, whysz);
            goto out;
        }
    }
    *out = recs;
    *n = count;
    *total = t;
    recs = NULL;
    rc = P11P_OK;
out:
    p11p_digicert_json_records_free(recs, got);
    p11p_json_free(j);
    return rc;
}

/* §2.4/2.5 and the simulator's [U] choices; statuses of requests and of
 * certificates share the table. */
static const struct {
    const char *status;
    enum p11p_remote_state state;
} status_table[] = {
    { "ISSUED", P11P_REMOTE_ISSUED },
    { "AUTO_APPROVED", P11P_REMOTE_PROCESSING },
    { "APPROVED", P11P_REMOTE_PROCESSING },
    { "IN_PROGRESS", P11P_REMOTE_PROCESSING },
    { "PROCESSING", P11P_REMOTE_PROCESSING },
    { "PENDING", P11P_REMOTE_PENDING_APPROVAL },
    { "PENDING_APPROVAL", P11P_REMOTE_PENDING_APPROVAL },
    { "WAITING_FOR_APPROVAL", P11P_REMOTE_PENDING_APPROVAL },
    { "AWAITING_APPROVAL", P11P_REMOTE_PENDING_APPROVAL },
    { "REQUESTED", P11P_REMOTE_PENDING_APPROVAL },
    { "REJECTED", P11P_REMOTE_REJECTED },
    { "DECLINED", P11P_REMOTE_REJECTED },
    { "DENIED", P11P_REMOTE_REJECTED },
    { "FAILED", P11P_REMOTE_REJECTED },
    { "FAILURE", P11P_REMOTE_REJECTED },
    { "REVOKED", P11P_REMOTE_REVOKED },
    { "EXPIRED", P11P_REMOTE_EXPIRED },
};

bool p11p_digicert_json_state(const char *status, enum p11p_remote_state *out)
{
    for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]);
         i++) {
        if (strcasecmp(status, status_table[i].status) == 0) {
            *out = status_table[i].state;
            return true;
        }
    }
    return false;
}

enum p11p_status
p11p_digicert_json_build(const char *csr_pem, const char *profile_id,
                         const struct digicert_kv *attrs, size_t n,
                         const struct digicert_kv *dev, size_t ndev, char **out)
{
    enum p11p_status rc = P11P_ERR_NOMEM;
    struct p11p_json *j = NULL;
    char path[64];

    *out = NULL;
    rc = p11p_json_new_object(&j);
    if (rc != P11P_OK) {
        goto out;
    }
    if (csr_pem != NULL
        && (rc = p11p_json_set_string(j, "csr", csr_pem)) != P11P_OK) {
        goto out;
    }
    if (profile_id != NULL
        && (rc = p11p_json_set_string(j, "enrollment_profile_id", profile_id))
               != P11P_OK) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "certificate_profile_attributes[%zu].id",
                 i);
        if ((rc = p11p_json_set_string(j, path, attrs[i].id)) != P11P_OK) {
            goto out;
        }
        snprintf(path, sizeof(path),
                 "certificate_profile_attributes[%zu].value", i);
        if ((rc = p11p_json_set_string(j, path, attrs[i].value)) != P11P_OK) {
            goto out;
        }
    }
    for (size_t i = 0; i < ndev; i++) {
        snprintf(path, sizeof(path), "device_attributes[%zu].id", i);
        if ((rc = p11p_json_set_string(j, path, dev[i].id)) != P11P_OK) {
            goto out;
        }
        snprintf(path, sizeof(path), "device_attributes[%zu].value", i);
        if ((rc = p11p_json_set_string(j, path, dev[i].value)) != P11P_OK) {
            goto out;
        }
    }
    rc = p11p_json_print(j, out);
out:
    p11p_json_free(j);
    return rc;
}

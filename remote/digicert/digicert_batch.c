/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DigiCert ONE IoT batch enrollment (PORTALS.md §2.9) and the licence
 * balance: the driver ops batch_submit, batch_collect and licences.
 *
 * Documented by DigiCert: approve/reject PUT .../batch-enroll/{job}/approve
 * and /reject (204), job statuses PENDING_APPROVAL -> APPROVED ->
 * IN_PROGRESS -> COMPLETE, GET .../batch-enroll/{job}/download-certificates
 * once COMPLETE (certificate_format json), and the ZIP/CSV inputs of the
 * upload page. ASSUMED here ([U] in PORTALS.md, the simulator serves the
 * same; docs/portals/digicert.md "Portal batch jobs"):
 *   - create: POST /iot/api/v1/batch-enroll with JSON
 *     {enrollment_profile_id, name, certificate_format: "json",
 *      include_full_chain_with_each_certificate: true,
 *      requests: [ <the §2.4 request body of each CSR> ]};
 *     answer 2xx with the job object {id, name, status, ...};
 *   - job: GET /iot/api/v1/batch-enroll/{job}; by name:
 *     GET /iot/api/v1/batch-enroll?name=N (records[]);
 *   - download pages: ?offset=&limit=, answer {total, certificates: [{index,
 *     certificate_id, status, pem (leaf + chain), chain[{blob}],
 *     rejection_reason}]}; index is the position in requests[];
 *   - licences: GET /iot/api/v1/license-usage?enrollment_profile_id=ID ->
 *     {licenses_remaining: N or null (no limit)}; a 404 means the tenant has
 *     no such call (P11P_ERR_UNSUPPORTED).
 * The job's name is the first request's request token: a job whose
 * submission outcome is unknown is found again by it (batch_collect with
 * "name:<token>", DIGICERT_JOB_NAME_PREFIX).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/log.h"
#include "core/base/str.h"
#include "remote/chain.h"
#include "remote/digicert/digicert_internal.h"
#include "remote/json.h"

#define ERRSZ         256
#define DOWNLOAD_PAGE 100u

/* Job statuses (IoT Trust Manager and Device Trust Manager names, §2.9). */
static const struct {
    const char *status;
    enum p11p_remote_state state;
} job_states[] = {
    { "PENDING_APPROVAL", P11P_REMOTE_PENDING_APPROVAL },
    { "PENDING", P11P_REMOTE_PROCESSING },
    { "APPROVED", P11P_REMOTE_PROCESSING },
    { "IN_PROGRESS", P11P_REMOTE_PROCESSING },
    { "PENDING_REJECTION", P11P_REMOTE_PENDING_APPROVAL },
    { "REJECTION_IN_PROGRESS", P11P_REMOTE_PENDING_APPROVAL },
    { "COMPLETE", P11P_REMOTE_ISSUED },
    { "COMPLETED", P11P_REMOTE_ISSUED },
    { "REJECTED", P11P_REMOTE_REJECTED },
    { "FAILED", P11P_REMOTE_REJECTED },
    { "TERMINATED", P11P_REMOTE_REJECTED },
};

/* "In progress" -> IN_PROGRESS match; false if unknown. */
static bool job_state(const char *status, enum p11p_remote_state *out)
{
    char norm[40];
    size_t k = 0;

    for (; status[k] != '\0' && k + 1 < sizeof(norm); k++) {
        norm[k] = status[k] == ' ' ? '_' : status[k];
    }
    norm[k] = '\0';
    for (size_t i = 0; i < sizeof(job_states) / sizeof(job_states[0]); i++) {
        if (strcasecmp(norm, job_states[i].status) == 0) {
            *out = job_states[i].state;
            return true;
        }
    }
    return false;
}

static bool is_json(const struct p11p_http_resp *resp)
{
    return strstr(resp->content_type, "json") != NULL;
}

/* Reads the job object at base ("" or "records[0]") into res. */
static enum p11p_status read_job(struct digicert *d, const char *op,
                                 const struct p11p_json *j, const char *base,
                                 struct p11p_remote_result *res)
{
    struct p11p_json_err err;
    enum p11p_remote_state st = P11P_REMOTE_PROCESSING;
    const char *status = NULL;
    const char *reason = NULL;
    char path[64];
    char why[ERRSZ];

    memset(&err, 0, sizeof(err));
    snprintf(path, sizeof(path), "%s%sid", base, base[0] != '\0' ? "." : "");
    if (p11p_json_get_id(j, path, res->portal_id, sizeof(res->portal_id), &err)
        != P11P_OK) {
        goto bad;
    }
    snprintf(path, sizeof(path), "%s%sstatus", base,
             base[0] != '\0' ? "." : "");
    if (p11p_json_get_string(j, path, &status, &err) != P11P_OK) {
        goto bad;
    }
    snprintf(path, sizeof(path), "%s%srejection_reason", base,
             base[0] != '\0' ? "." : "");
    if (p11p_json_get_string_opt(j, path, &reason, &err) != P11P_OK) {
        goto bad;
    }
    if (!job_state(status, &st)) {
        P11P_WARN("remote",
                  "token \"%s\": digicert %s: job %s has unknown status "
                  "'%s'; treated as in progress",
                  d->token, op, res->portal_id, status);
        st = P11P_REMOTE_PROCESSING;
    }
    res->state = st;
    snprintf(res->message, sizeof(res->message),
             "digicert batch job %s: status %s%s%s", res->portal_id, status,
             reason != NULL ? ": " : "", reason != NULL ? reason : "");
    res->status = P11P_OK;
    return P11P_OK;
bad:
    p11p_json_err_format(&err, why, sizeof(why));
    p11p_digicert_protocol(d, op, res, why);
    return res->status;
}

/* {"enrollment_profile_id":..,"name":..,...,"requests":[ */
static enum p11p_status
job_head(struct digicert *d, const struct p11p_enroll_req *first, char **out)
{
    struct p11p_json *j = NULL;
    enum p11p_status rc;
    char *text = NULL;
    size_t len = 0;

    *out = NULL;
    rc = p11p_json_new_object(&j);
    if (rc == P11P_OK) {
        rc = p11p_json_set_string(j, "enrollment_profile_id",
                                  p11p_digicert_req_profile(d, first->profile));
    }
    if (rc == P11P_OK && first->request_token != NULL) {
        rc = p11p_json_set_string(j, "name", first->request_token);
    }
    if (rc == P11P_OK) {
        rc = p11p_json_set_string(j, "certificate_format", "json");
    }
    if (rc == P11P_OK) {
        rc = p11p_json_set_bool(j, "include_full_chain_with_each_certificate",
                                true);
    }
    if (rc == P11P_OK) {
        rc = p11p_json_print(j, &text);
    }
    if (rc == P11P_OK) {
        len = strlen(text);
        if (len < 2 || text[len - 1] != '}') {
            rc = P11P_ERR_INTERNAL;
        } else {
            text[len - 1] = '\0'; /* reopened: ,"requests":[...]} follows */
            *out = text;
            text = NULL;
        }
    }
    free(text);
    p11p_json_free(j);
    return rc;
}

/* Appends s to the growing body (*body, *len, *cap). */
static enum p11p_status append(char **body, size_t *len, size_t *cap,
                               const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        size_t ncap = (*cap == 0 ? 4096 : *cap);
        char *nb = NULL;
        while (ncap < *len + n + 1) {
            ncap *= 2;
        }
        nb = realloc(*body, ncap);
        if (nb == NULL) {
            return P11P_ERR_NOMEM;
        }
        *body = nb;
        *cap = ncap;
    }
    memcpy(*body + *len, s, n + 1);
    *len += n;
    return P11P_OK;
}

enum p11p_status p11p_digicert_batch_submit(void *state,
                                            const struct p11p_enroll_req *reqs,
                                            size_t n,
                                            struct p11p_remote_result *res)
{
    struct digicert *d = state;
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_http_resp resp;
    struct p11p_json *j = NULL;
    struct p11p_json_err err;
    char *head = NULL;
    char *one = NULL;
    char *body = NULL;
    size_t len = 0;
    size_t cap = 0;
    char why[ERRSZ];

    memset(&resp, 0, sizeof(resp));
    memset(&err, 0, sizeof(err));
    if (n == 0) {
        res->status = P11P_ERR_INVALID_INPUT;
        snprintf(res->message, sizeof(res->message),
                 "digicert batch: no requests");
        return res->status;
    }
    rc = job_head(d, &reqs[0], &head);
    if (rc == P11P_OK) {
        rc = append(&body, &len, &cap, head);
    }
    if (rc == P11P_OK) {
        rc = append(&body, &len, &cap, ",\"requests\":[");
    }
    for (size_t i = 0; rc == P11P_OK && i < n; i++) {
        rc = p11p_digicert_build_body(d, &reqs[i], &one);
        if (rc == P11P_OK && i > 0) {
            rc = append(&body, &len, &cap, ",");
        }
        if (rc == P11P_OK) {
            rc = append(&body, &len, &cap, one);
        }
        free(one);
        one = NULL;
    }
    if (rc == P11P_OK) {
        rc = append(&body, &len, &cap, "]}");
    }
    if (rc != P11P_OK) {
        res->status = rc;
        snprintf(res->message, sizeof(res->message),
                 "digicert batch: cannot build the job request (%s)",
                 p11p_status_text(rc));
        P11P_ERROR("remote", "token \"%s\": %s", d->token, res->message);
        goto out;
    }
    rc = p11p_digicert_api_call(d, "batch", "POST", "/iot/api/v1/batch-enroll",
                                body, false, &resp, res);
    if (rc != P11P_OK) {
        goto out; /* NOT_SENT or SENT_UNKNOWN, classified by http.c */
    }
    if (resp.status < 200 || resp.status > 299) {
        rc = p11p_digicert_api_fail(d, "batch", &resp, false, res);
        goto out;
    }
    if (!is_json(&resp)
        || p11p_json_parse((const char *)resp.body.data, resp.body.len, &j,
                           &err)
               != P11P_OK
        || read_job(d, "batch", j, "", res) != P11P_OK) {
        if (!is_json(&resp)) {
            p11p_str_copy(why, sizeof(why), "not JSON");
        } else {
            p11p_json_err_format(&err, why, sizeof(why));
        }
        res->status = rc = P11P_ERR_SENT_UNKNOWN;
        snprintf(res->message, sizeof(res->message),
                 "digicert batch: HTTP %ld but the reply cannot be read (%s); "
                 "the job may exist: reconcile",
                 resp.status, why);
        P11P_ERROR("remote", "token \"%s\": %s", d->token, res->message);
        goto out;
    }
    P11P_INFO("remote",
              "token \"%s\": digicert batch: job %s with %zu requests",
              d->token, res->portal_id, n);
    rc = P11P_OK;
out:
    p11p_json_free(j);
    free(head);
    free(body);
    p11p_http_resp_free(&resp);
    return rc;
}

/* GET path into *out (parsed JSON) or a classified failure in res. */
static enum p11p_status get_json(struct digicert *d, const char *op,
                                 const char *path, struct p11p_json **out,
                                 long *http_status,
                                 struct p11p_remote_result *res)
{
    struct p11p_http_resp resp;
    struct p11p_json_err err;
    enum p11p_status rc;
    char why[ERRSZ];

    *out = NULL;
    memset(&err, 0, sizeof(err));
    rc = p11p_digicert_api_call(d, op, "GET", path, NULL, true, &resp, res);
    if (rc != P11P_OK) {
        goto out;
    }
    *http_status = resp.status;
    if (resp.status != 200) {
        rc = p11p_digicert_api_fail(d, op, &resp, true, res);
        goto out;
    }
    if (!is_json(&resp)) {
        p11p_digicert_protocol(d, op, res, "reply is not JSON");
        rc = res->status;
        goto out;
    }
    rc =
        p11p_json_parse((const char *)resp.body.data, resp.body.len, out, &err);
    if (rc != P11P_OK) {
        p11p_json_err_format(&err, why, sizeof(why));
        p11p_digicert_protocol(d, op, res, why);
        rc = res->status;
    }
out:
    p11p_http_resp_free(&resp);
    return rc;
}

/* Finds the job named name: res->portal_id, or state UNKNOWN. */
static enum p11p_status job_by_name(struct digicert *d, const char *name,
                                    struct p11p_remote_result *res)
{
    struct p11p_json *j = NULL;
    char path[384];
    char ename[256];
    size_t n = 0;
    long http = 0;
    enum p11p_status rc;

    if (p11p_http_escape(name, ename, sizeof(ename)) != P11P_OK) {
        res->status = P11P_ERR_INVALID_INPUT;
        return res->status;
    }
    snprintf(path, sizeof(path), "/iot/api/v1/batch-enroll?name=%s&limit=2",
             ename);
    rc = get_json(d, "batch-find", path, &j, &http, res);
    if (rc != P11P_OK) {
        goto out;
    }
    if (p11p_json_array_len(j, "records", &n, NULL) != P11P_OK) {
        p11p_digicert_protocol(d, "batch-find", res, "$.records: no array");
        rc = res->status;
        goto out;
    }
    if (n == 0) {
        res->state = P11P_REMOTE_UNKNOWN;
        res->status = rc = P11P_OK;
        snprintf(res->message, sizeof(res->message),
                 "digicert: no batch job named %s", name);
        goto out;
    }
    if (n > 1) {
        P11P_WARN("remote",
                  "token \"%s\": digicert: more than one batch job named %s; "
                  "the first is used",
                  d->token, name);
    }
    rc = read_job(d, "batch-find", j, "records[0]", res);
out:
    p11p_json_free(j);
    return rc;
}

/* One downloaded certificate entry (certificates[k]) into items[index]. */
static void read_item(struct digicert *d, const struct p11p_json *j, size_t k,
                      struct p11p_remote_result *items, size_t n)
{
    char path[96];
    char why[ERRSZ];
    const char *pem = NULL;
    const char *status = NULL;
    const char *reason = NULL;
    int64_t index = -1;
    struct p11p_remote_result *it = NULL;
    size_t nchain = 0;
    char *all = NULL;
    size_t len = 0;
    size_t cap = 0;

    snprintf(path, sizeof(path), "certificates[%zu].index", k);
    if (p11p_json_get_int(j, path, true, &index, NULL) != P11P_OK || index < 0
        || (uint64_t)index >= n) {
        P11P_WARN("remote",
                  "token \"%s\": digicert batch: download entry %zu has no "
                  "index in range; ignored",
                  d->token, k);
        return;
    }
    it = &items[index];
    p11p_remote_result_clear(it);
    memset(it, 0, sizeof(*it));
    snprintf(path, sizeof(path), "certificates[%zu].certificate_id", k);
    (void)p11p_json_get_id(j, path, it->portal_id, sizeof(it->portal_id), NULL);
    snprintf(path, sizeof(path), "certificates[%zu].status", k);
    (void)p11p_json_get_string_opt(j, path, &status, NULL);
    snprintf(path, sizeof(path), "certificates[%zu].rejection_reason", k);
    (void)p11p_json_get_string_opt(j, path, &reason, NULL);
    snprintf(path, sizeof(path), "certificates[%zu].pem", k);
    (void)p11p_json_get_string_opt(j, path, &pem, NULL);
    if (pem == NULL) {
        enum p11p_remote_state st = P11P_REMOTE_PROCESSING;
        if (status != NULL && p11p_digicert_json_state(status, &st)
            && st == P11P_REMOTE_REJECTED) {
            it->state = P11P_REMOTE_REJECTED;
            it->status = P11P_OK;
        } else {
            it->status = P11P_ERR_PROTOCOL;
        }
        snprintf(it->message, sizeof(it->message),
                 "digicert batch item %lld: status %s%s%s", (long long)index,
                 status != NULL ? status : "(none)", reason != NULL ? ": " : "",
                 reason != NULL ? reason : "");
        return;
    }
    /* The leaf (with the chain when the job asked for it) and the chain
     * blobs; duplicates are fine for p11p_chain_parse. */
    snprintf(path, sizeof(path), "certificates[%zu].chain", k);
    if (p11p_json_array_len(j, path, &nchain, NULL) != P11P_OK
        || strstr(pem, "-----END CERTIFICATE-----\n-----BEGIN") != NULL) {
        nchain = 0;
    }
    if (append(&all, &len, &cap, pem) != P11P_OK) {
        it->status = P11P_ERR_NOMEM;
        return;
    }
    for (size_t c = 0; c < nchain; c++) {
        const char *blob = NULL;
        snprintf(path, sizeof(path), "certificates[%zu].chain[%zu].blob", k, c);
        if (p11p_json_get_string_opt(j, path, &blob, NULL) == P11P_OK
            && blob != NULL
            && (append(&all, &len, &cap, "\n") != P11P_OK
                || append(&all, &len, &cap, blob) != P11P_OK)) {
            it->status = P11P_ERR_NOMEM;
            free(all);
            return;
        }
    }
    if (p11p_chain_parse((const unsigned char *)all, len, NULL, it, why,
                         sizeof(why))
        != P11P_OK) {
        p11p_remote_result_clear(it);
        it->status = P11P_ERR_PROTOCOL;
        snprintf(it->message, sizeof(it->message),
                 "digicert batch item %lld: malformed certificate: %s",
                 (long long)index, why);
        P11P_WARN("remote", "token \"%s\": %s", d->token, it->message);
    } else {
        it->state = P11P_REMOTE_ISSUED;
        it->status = P11P_OK;
        snprintf(it->message, sizeof(it->message),
                 "digicert certificate %s (batch item %lld)", it->portal_id,
                 (long long)index);
    }
    free(all);
}

/* Downloads a COMPLETE job's certificates into items (pages). */
static enum p11p_status download(struct digicert *d, const char *eid,
                                 struct p11p_remote_result *items, size_t n,
                                 struct p11p_remote_result *res)
{
    struct p11p_json *j = NULL;
    enum p11p_status rc = P11P_OK;
    char path[384];
    size_t offset = 0;
    int64_t total = -1;
    long http = 0;

    for (size_t i = 0; i < n; i++) {
        p11p_remote_result_clear(&items[i]);
        memset(&items[i], 0, sizeof(items[i]));
        items[i].status = P11P_ERR_PROTOCOL;
        snprintf(items[i].message, sizeof(items[i].message),
                 "digicert batch item %zu: missing from the download", i);
    }
    while (offset < n) {
        size_t got = 0;
        p11p_json_free(j);
        j = NULL;
        snprintf(path, sizeof(path),
                 "/iot/api/v1/batch-enroll/%s/download-certificates"
                 "?offset=%zu&limit=%u",
                 eid, offset, DOWNLOAD_PAGE);
        rc = get_json(d, "batch-download", path, &j, &http, res);
        if (rc != P11P_OK) {
            goto out;
        }
        if (p11p_json_get_int(j, "total", true, &total, NULL) != P11P_OK
            || total != (int64_t)n
            || p11p_json_array_len(j, "certificates", &got, NULL) != P11P_OK) {
            char why[ERRSZ];
            snprintf(why, sizeof(why),
                     "$.total/$.certificates: expected %zu certificates", n);
            p11p_digicert_protocol(d, "batch-download", res, why);
            rc = res->status;
            goto out;
        }
        for (size_t k = 0; k < got; k++) {
            read_item(d, j, k, items, n);
        }
        if (got == 0) {
            break;
        }
        offset += got;
    }
out:
    p11p_json_free(j);
    return rc;
}

enum p11p_status p11p_digicert_batch_collect(void *state, const char *job_id,
                                             struct p11p_remote_result *items,
                                             size_t n,
                                             struct p11p_remote_result *res)
{
    struct digicert *d = state;
    struct p11p_json *j = NULL;
    enum p11p_status rc;
    size_t plen = strlen(DIGICERT_JOB_NAME_PREFIX);
    char id[128];
    char eid[200];
    char path[256];
    long http = 0;

    if (strncmp(job_id, DIGICERT_JOB_NAME_PREFIX, plen) == 0) {
        rc = job_by_name(d, job_id + plen, res);
        if (rc != P11P_OK || res->state == P11P_REMOTE_UNKNOWN) {
            return rc;
        }
        p11p_str_copy(id, sizeof(id), res->portal_id);
    } else {
        p11p_str_copy(id, sizeof(id), job_id);
    }
    if (p11p_http_escape(id, eid, sizeof(eid)) != P11P_OK) {
        res->status = P11P_ERR_INVALID_INPUT;
        return res->status;
    }
    snprintf(path, sizeof(path), "/iot/api/v1/batch-enroll/%s", eid);
    rc = get_json(d, "batch-collect", path, &j, &http, res);
    if (rc == P11P_OK) {
        rc = read_job(d, "batch-collect", j, "", res);
    }
    if (rc == P11P_ERR_REJECTED && http == 404) {
        res->state = P11P_REMOTE_UNKNOWN;
        rc = res->status = P11P_ERR_NOT_FOUND;
    }
    if (rc == P11P_OK && res->state == P11P_REMOTE_ISSUED) {
        rc = download(d, eid, items, n, res);
        if (rc != P11P_OK) {
            res->state = P11P_REMOTE_PROCESSING; /* collect again later */
        }
    }
    p11p_json_free(j);
    return rc;
}

enum p11p_status p11p_digicert_licences(void *state, int64_t *left)
{
    struct digicert *d = state;
    struct p11p_remote_result res;
    struct p11p_json *j = NULL;
    enum p11p_status rc;
    char path[384];
    char eprof[256];
    long http = 0;
    int64_t v = 0;

    memset(&res, 0, sizeof(res));
    if (p11p_http_escape(d->profile_id, eprof, sizeof(eprof)) != P11P_OK) {
        return P11P_ERR_INVALID_INPUT;
    }
    snprintf(path, sizeof(path),
             "/iot/api/v1/license-usage?enrollment_profile_id=%s", eprof);
    rc = get_json(d, "licences", path, &j, &http, &res);
    if (rc != P11P_OK) {
        if (http == 404) {
            rc = P11P_ERR_UNSUPPORTED; /* the tenant has no such call */
        }
        goto out;
    }
    if (!p11p_json_has(j, "licenses_remaining")) {
        v = INT64_MAX; /* null: the profile has no limit */
    } else if (p11p_json_get_int(j, "licenses_remaining", true, &v, NULL)
                   != P11P_OK
               || v < 0) {
        p11p_digicert_protocol(d, "licences", &res,
                               "$.licenses_remaining: expected a count");
        rc = res.status;
        goto out;
    }
    *left = v;
out:
    p11p_json_free(j);
    p11p_remote_result_clear(&res);
    return rc;
}

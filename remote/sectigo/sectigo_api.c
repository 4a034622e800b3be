/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Sectigo request layer: URLs, authentication headers (PORTALS.md §1.2:
 * login + password + customerUri under /api, login + customerUri + client
 * certificate under /private/api), and the error envelope (§1.3). One
 * exchange per call; never retries, never sleeps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/base/str.h"
#include "remote/chain.h"
#include "remote/json.h"

#define ERRSZ 256
#include "remote/sectigo/sectigo_internal.h"

static enum p11p_status call_url(struct sectigo *s, const char *op,
                                 const char *method, const char *url,
                                 const char *body, bool idempotent,
                                 struct p11p_http_resp *resp,
                                 struct p11p_remote_result *res)
{
    struct p11p_http_header hdrs[3];
    struct p11p_http_req req;
    size_t n = 0;
    enum p11p_status rc;

    memset(&req, 0, sizeof(req));
    hdrs[n++] = (struct p11p_http_header){
        "login", s->cred->login != NULL ? s->cred->login : "", NULL
    };
    if (!s->cert_auth && s->cred->password != NULL) {
        hdrs[n++] =
            (struct p11p_http_header){ "password", NULL, s->cred->password };
    }
    hdrs[n++] =
        (struct p11p_http_header){ "customerUri", s->customer_uri, NULL };
    req.method = method;
    req.url = url;
    req.headers = hdrs;
    req.n_headers = n;
    req.body = body;
    req.body_len = body != NULL ? strlen(body) : 0;
    req.content_type = body != NULL ? "application/json;charset=UTF-8" : NULL;
    req.accept = "application/json";
    req.idempotent = idempotent;
    rc = p11p_http_do(s->http, &req, resp, res->message, sizeof(res->message));
    res->http_status = resp->status;
    if (rc != P11P_OK) {
        res->status = rc;
        P11P_ERROR("remote", "token \"%s\": sectigo %s: %s", s->token, op,
                   res->message);
    }
    return rc;
}

enum p11p_status p11p_sectigo_api_call_abs(struct sectigo *s, const char *op,
                                           const char *method, const char *path,
                                           const char *body, bool idempotent,
                                           struct p11p_http_resp *resp,
                                           struct p11p_remote_result *res)
{
    char url[1024];

    if ((size_t)snprintf(url, sizeof(url), "%s%s", s->base, path)
        >= sizeof(url)) {
        memset(resp, 0, sizeof(*resp));
        res->status = P11P_ERR_INVALID_INPUT;
        snprintf(res->message, sizeof(res->message), "URL too long");
        return res->status;
    }
    return call_url(s, op, method, url, body, idempotent, resp, res);
}

enum p11p_status p11p_sectigo_api_call(struct sectigo *s, const char *op,
                                       const char *method, const char *path,
                                       const char *body, bool idempotent,
                                       struct p11p_http_resp *resp,
                                       struct p11p_remote_result *res)
{
    char full[900];

    snprintf(full, sizeof(full), "/api/%s/v1%s", s->device ? "device" : "ssl",
             path);
    return p11p_sectigo_api_call_abs(s, op, method, full, body, idempotent,
                                     resp, res);
}

enum p11p_status p11p_sectigo_api_fail(struct sectigo *s, const char *op,
                                       const struct p11p_http_resp *resp,
                                       bool idempotent,
                                       struct p11p_remote_result *res)
{
    int64_t code = 0;
    char desc[300];
    bool env = false;

    res->http_status = resp->status;
    res->status = p11p_http_classify_status(resp->status, idempotent);
    if (res->status == P11P_OK) {
        res->status = P11P_ERR_PROTOCOL;
    }
    if (resp->has_retry_after) {
        res->retry_after_s = resp->retry_after_s;
    }
    env = resp->body.len > 0
          && p11p_sectigo_json_error((const char *)resp->body.data,
                                     resp->body.len, &code, desc, sizeof(desc))
                 == P11P_OK;
    if (env) {
        snprintf(res->message, sizeof(res->message),
                 "sectigo %s: HTTP %ld, portal code %lld: %s", op, resp->status,
                 (long long)code, desc);
    } else {
        snprintf(res->message, sizeof(res->message), "sectigo %s: HTTP %ld%s",
                 op, resp->status,
                 resp->body.len == 0 ? " (empty body)"
                                     : " (no error envelope)");
    }
    if (res->status == P11P_ERR_PORTAL_AUTH) {
        P11P_ERROR(
            "remote",
            "token \"%s\": %s; check the credentials file or P11PORTAL_* variables of this token",
            s->token, res->message);
    } else {
        P11P_ERROR("remote", "token \"%s\": %s (%s)", s->token, res->message,
                   p11p_status_name(res->status));
    }
    return res->status;
}

bool p11p_sectigo_api_want_json(struct sectigo *s, const char *op,
                                const struct p11p_http_resp *resp,
                                struct p11p_remote_result *res)
{
    if (strstr(resp->content_type, "json") != NULL) {
        return true;
    }
    res->status = P11P_ERR_PROTOCOL;
    snprintf(res->message, sizeof(res->message),
             "sectigo %s: HTTP %ld with Content-Type '%s', expected JSON", op,
             resp->status, resp->content_type);
    P11P_ERROR("remote", "token \"%s\": %s", s->token, res->message);
    return false;
}

void p11p_sectigo_api_protocol(struct sectigo *s, const char *op,
                               struct p11p_remote_result *res, const char *why)
{
    res->status = P11P_ERR_PROTOCOL;
    snprintf(res->message, sizeof(res->message),
             "sectigo %s: malformed reply: %s", op, why);
    P11P_ERROR("remote", "token \"%s\": %s", s->token, res->message);
}

/* Checks profile, term and key type against /types (PORTALS.md §1.4.1) and
 * the mandatory custom fields (§1.4.2), once per driver instance. */
enum p11p_status p11p_sectigo_api_check_types(struct sectigo *s,
                                              const char *key_alg,
                                              const char *key_param,
                                              struct p11p_remote_result *res)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_http_resp resp;
    struct sectigo_type_check want;
    char why[ERRSZ];
    int64_t id = 0;
    unsigned term = 0;
    const char *names[SECTIGO_MAX_CUSTOM + 1];
    size_t nn = 0;

    memset(&resp, 0, sizeof(resp));
    rc = p11p_sectigo_api_call(s, "types", "GET", "/types", NULL, true, &resp,
                               res);
    if (rc != P11P_OK) {
        goto out;
    }
    if (resp.status != 200) {
        rc = p11p_sectigo_api_fail(s, "types", &resp, true, res);
        goto out;
    }
    if (!p11p_sectigo_api_want_json(s, "types", &resp, res)) {
        rc = res->status;
        goto out;
    }
    want.profile = s->cert_type;
    want.term = s->term;
    want.key_alg = key_alg;
    want.key_param = key_param;
    rc = p11p_sectigo_json_types((const char *)resp.body.data, resp.body.len,
                                 &want, &id, &term, why, sizeof(why));
    if (rc == P11P_ERR_REJECTED) {
        res->status = rc;
        snprintf(res->message, sizeof(res->message),
                 "sectigo enroll refused before sending: %s", why);
        P11P_ERROR("remote", "token \"%s\": %s", s->token, res->message);
        goto out;
    }
    if (rc != P11P_OK) {
        p11p_sectigo_api_protocol(s, "types", res, why);
        goto out;
    }
    p11p_http_resp_free(&resp);
    /* Mandatory custom fields. */
    for (size_t i = 0; i < s->n_custom; i++) {
        names[nn++] = s->custom[i].name;
    }
    if (s->token_field != NULL) {
        names[nn++] = s->token_field;
    }
    rc = p11p_sectigo_api_call(s, "customFields", "GET", "/customFields", NULL,
                               true, &resp, res);
    if (rc != P11P_OK) {
        goto out;
    }
    if (resp.status == 200 && strstr(resp.content_type, "json") != NULL) {
        rc = p11p_sectigo_json_custom_fields((const char *)resp.body.data,
                                             resp.body.len, names, nn, why,
                                             sizeof(why));
        if (rc == P11P_ERR_REJECTED) {
            res->status = rc;
            snprintf(res->message, sizeof(res->message),
                     "sectigo enroll refused before sending: %s", why);
            P11P_ERROR("remote", "token \"%s\": %s", s->token, res->message);
            goto out;
        }
        if (rc != P11P_OK) {
            p11p_sectigo_api_protocol(s, "customFields", res, why);
            goto out;
        }
    }
    pthread_mutex_lock(&s->lock);
    s->type_id = id;
    s->type_term = term;
    pthread_mutex_unlock(&s->lock);
    rc = P11P_OK;
out:
    p11p_http_resp_free(&resp);
    return rc;
}

/* "DNS:a,IP:b" -> "a,b" */
static void sans_to_csv(const char *sans, char *out, size_t outsz)
{
    size_t n = 0;
    const char *p = sans;

    out[0] = '\0';
    while (p != NULL && *p != '\0' && n + 1 < outsz) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        const char *v = colon != NULL ? colon + 1 : p;
        size_t vl = len - (size_t)(v - p);
        while (vl > 0 && *v == ' ') {
            v++;
            vl--;
        }
        if (vl > 0 && n + vl + 2 < outsz) {
            if (n > 0) {
                out[n++] = ',';
            }
            memcpy(out + n, v, vl);
            n += vl;
            out[n] = '\0';
        }
        p = end != NULL ? end + 1 : NULL;
    }
}

enum p11p_status
p11p_sectigo_api_build_enroll(struct sectigo *s,
                              const struct p11p_enroll_req *req,
                              int64_t type_id, unsigned dflt_term, char **out)
{
    enum p11p_status rc = P11P_ERR_NOMEM;
    struct p11p_json *j = NULL;
    char *csr = NULL;
    char sans[1024];
    char comments[1100];
    char path[48];
    size_t nf = 0;
    unsigned term = req->term_days != 0 ? req->term_days
                    : s->term != 0      ? s->term
                                        : dflt_term;

    *out = NULL;
    /* Password mode sends PEM (the documented form); client-certificate
     * mode sends bare base64 as the /private/api clients do (§3b.14). */
    rc = p11p_chain_csr_encode(req->csr_der, req->csr_len, !s->cert_auth, &csr);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_json_new_object(&j);
    if (rc != P11P_OK) {
        goto out;
    }
    snprintf(comments, sizeof(comments), "%s%s" SECTIGO_TOKEN_PREFIX "%s",
             s->comments != NULL ? s->comments : "",
             s->comments != NULL ? "; " : "",
             req->request_token != NULL ? req->request_token : "");
    if ((rc = p11p_json_set_int(j, "orgId", s->org_id)) != P11P_OK
        || (rc = p11p_json_set_string(j, "csr", csr)) != P11P_OK
        || (rc = p11p_json_set_int(j, "certType", type_id)) != P11P_OK
        || (rc = p11p_json_set_string(j, "comments", comments)) != P11P_OK) {
        goto out;
    }
    if (term != 0 && (rc = p11p_json_set_int(j, "term", term)) != P11P_OK) {
        goto out;
    }
    sans_to_csv(req->sans, sans, sizeof(sans));
    if (!s->device && sans[0] != '\0'
        && (rc = p11p_json_set_string(j, "subjAltNames", sans)) != P11P_OK) {
        goto out;
    }
    if (!s->device && s->external_requester != NULL
        && (rc = p11p_json_set_string(j, "externalRequester",
                                      s->external_requester))
               != P11P_OK) {
        goto out;
    }
    for (size_t i = 0; i < s->n_custom; i++, nf++) {
        snprintf(path, sizeof(path), "customFields[%zu].name", nf);
        if ((rc = p11p_json_set_string(j, path, s->custom[i].name))
            != P11P_OK) {
            goto out;
        }
        snprintf(path, sizeof(path), "customFields[%zu].value", nf);
        if ((rc = p11p_json_set_string(j, path, s->custom[i].value))
            != P11P_OK) {
            goto out;
        }
    }
    if (s->token_field != NULL && req->request_token != NULL) {
        snprintf(path, sizeof(path), "customFields[%zu].name", nf);
        if ((rc = p11p_json_set_string(j, path, s->token_field)) != P11P_OK) {
            goto out;
        }
        snprintf(path, sizeof(path), "customFields[%zu].value", nf);
        if ((rc = p11p_json_set_string(j, path, req->request_token))
            != P11P_OK) {
            goto out;
        }
    }
    rc = p11p_json_print(j, out);
out:
    free(csr);
    p11p_json_free(j);
    return rc;
}

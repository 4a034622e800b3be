/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DigiCert ONE request layer: URLs, authentication (PORTALS.md §2.2,
 * §3b.19: lower-case x-api-key, or x-passcode on request/renew, or a client
 * certificate on the clientauth. host with no key header), Content-Type on
 * POST/PUT only, no Accept, and both error envelopes (§2.3).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/base/str.h"
#include "remote/digicert/digicert_internal.h"

enum p11p_status p11p_digicert_api_call(struct digicert *d, const char *op,
                                        const char *method, const char *path,
                                        const char *body, bool idempotent,
                                        struct p11p_http_resp *resp,
                                        struct p11p_remote_result *res)
{
    struct p11p_http_header hdr;
    struct p11p_http_req req;
    char url[1024];
    enum p11p_status rc;

    memset(&req, 0, sizeof(req));
    memset(resp, 0, sizeof(*resp));
    if ((size_t)snprintf(url, sizeof(url), "%s%s", d->base, path)
        >= sizeof(url)) {
        res->status = P11P_ERR_INVALID_INPUT;
        snprintf(res->message, sizeof(res->message),
                 "digicert %s: URL too long", op);
        return res->status;
    }
    req.method = method;
    req.url = url;
    if (d->auth == DIGICERT_AUTH_API_KEY) {
        hdr = (struct p11p_http_header){ "x-api-key", NULL, d->cred->api_key };
        req.headers = &hdr;
        req.n_headers = 1;
    } else if (d->auth == DIGICERT_AUTH_PASSCODE) {
        hdr =
            (struct p11p_http_header){ "x-passcode", NULL, d->cred->passcode };
        req.headers = &hdr;
        req.n_headers = 1;
    }
    req.body = body;
    req.body_len = body != NULL ? strlen(body) : 0;
    req.content_type = body != NULL ? "application/json" : NULL;
    req.idempotent = idempotent;
    rc = p11p_http_do(d->http, &req, resp, res->message, sizeof(res->message));
    res->http_status = resp->status;
    if (rc != P11P_OK) {
        res->status = rc;
        P11P_ERROR("remote", "token \"%s\": digicert %s: %s", d->token, op,
                   res->message);
    }
    return rc;
}

/* True if a refusal's text is about licences or a quota (the portal has no
 * distinct code for it: 400 invalid_input, docs/portals/digicert.md). */
static bool says_quota(const char *msg)
{
    static const char *const words[] = { "licen", "quota" };
    char low[300];
    size_t k = 0;

    for (; msg[k] != '\0' && k + 1 < sizeof(low); k++) {
        low[k] = (char)tolower((unsigned char)msg[k]);
    }
    low[k] = '\0';
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strstr(low, words[i]) != NULL) {
            return true;
        }
    }
    return false;
}

enum p11p_status p11p_digicert_api_fail(struct digicert *d, const char *op,
                                        const struct p11p_http_resp *resp,
                                        bool idempotent,
                                        struct p11p_remote_result *res)
{
    char code[64];
    char msg[300];
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
          && p11p_digicert_json_error((const char *)resp->body.data,
                                      resp->body.len, code, sizeof(code), msg,
                                      sizeof(msg))
                 == P11P_OK;
    if (env && strcmp(code, "request_limit_exceeded") == 0) {
        res->status = P11P_ERR_RATE_LIMITED;
    }
    if (env) {
        snprintf(res->message, sizeof(res->message),
                 "digicert %s: HTTP %ld, portal code %s: %s%s", op,
                 resp->status, code, msg,
                 res->status == P11P_ERR_REJECTED && says_quota(msg)
                     ? " (quota exhausted: no licences left)"
                     : "");
    } else {
        snprintf(res->message, sizeof(res->message), "digicert %s: HTTP %ld%s",
                 op, resp->status,
                 resp->body.len == 0 ? " (empty body)"
                                     : " (no error envelope)");
    }
    if (res->status == P11P_ERR_PORTAL_AUTH) {
        P11P_ERROR(
            "remote",
            "token \"%s\": %s; check the credentials file or P11PORTAL_* variables of this token",
            d->token, res->message);
    } else {
        P11P_ERROR("remote", "token \"%s\": %s (%s)", d->token, res->message,
                   p11p_status_name(res->status));
    }
    return res->status;
}

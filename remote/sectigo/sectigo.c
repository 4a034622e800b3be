/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Sectigo Certificate Manager driver (classic REST API, PORTALS.md
 * Part 1): SSL and Device families, password or client-certificate login.
 *
 * Token configuration keys (conf->extra; docs/portals/sectigo.md):
 *   customer_uri        customerUri header (else the credentials file's)
 *   org_id              orgId of enroll (else the credentials file's)
 *   cert_type           profile id or name (else `profile`)
 *   term                days (else `term_days`; else the profile's first)
 *   family              ssl (default) | device
 *   auth                password (default if a password is set) | client_cert
 *   comments            text added to the order's comments
 *   external_requester  e-mail(s) for externalRequester
 *   custom_fields       name=value;name=value
 *   token_field         custom field carrying the request token
 *                       (default requestToken; "none": comments only)
 *   collect_format      x509 (default; chain in any order) | x509CO | pem ...
 *   collect_style       query (default) | path
 *   check_types         true (default) | false
 *   find_max_items      orders examined by reconciliation (default 200)
 * The request token is always written into comments as
 * "p11portal-request-token=<token>" and, unless token_field = none, into the
 * custom field.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/str.h"
#include "remote/chain.h"
#include "remote/internal.h"
#include "remote/json.h"
#include "remote/portals.h"
#include "remote/sectigo/sectigo_internal.h"

#define ERRSZ 256

static const char *const known_keys[] = { "customer_uri",
                                          "org_id",
                                          "cert_type",
                                          "term",
                                          "family",
                                          "auth",
                                          "comments",
                                          "external_requester",
                                          "custom_fields",
                                          "token_field",
                                          "collect_format",
                                          "collect_style",
                                          "check_types",
                                          "find_max_items",
                                          NULL };

static const char *const sectigo_redact[] = { "customerUri", NULL };

static void sectigo_free(struct sectigo *s)
{
    if (s == NULL) {
        return;
    }
    p11p_http_free(s->http);
    p11p_cred_free(s->cred);
    free(s->base);
    free(s->customer_uri);
    free(s->cert_type);
    free(s->comments);
    free(s->external_requester);
    free(s->token_field);
    free(s->collect_format);
    for (size_t i = 0; i < s->n_custom; i++) {
        free(s->custom[i].name);
        free(s->custom[i].value);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static enum p11p_status parse_custom(struct sectigo *s, const char *spec)
{
    const char *p = spec;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ';');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq == NULL || eq == p || s->n_custom >= SECTIGO_MAX_CUSTOM) {
            P11P_ERROR(
                "remote",
                "token \"%s\": custom_fields: expected name=value;name=value (at most %d)",
                s->token, SECTIGO_MAX_CUSTOM);
            return P11P_ERR_CONFIG;
        }
        s->custom[s->n_custom].name = strndup(p, (size_t)(eq - p));
        s->custom[s->n_custom].value =
            strndup(eq + 1, len - (size_t)(eq - p) - 1);
        if (s->custom[s->n_custom].name == NULL
            || s->custom[s->n_custom].value == NULL) {
            return P11P_ERR_NOMEM;
        }
        s->n_custom++;
        p = end != NULL ? end + 1 : NULL;
    }
    return P11P_OK;
}

static const char *conf_or(const struct p11p_conf_token *c, const char *key,
                           const char *dflt)
{
    const char *v = p11p_conf_token_extra(c, key);
    return v != NULL && v[0] != '\0' ? v : dflt;
}

static enum p11p_status sectigo_open(const struct p11p_conf_token *conf,
                                     void **out_state)
{
    enum p11p_status rc = P11P_ERR_CONFIG;
    struct sectigo *s = NULL;
    struct p11p_http_opts ho;
    const char *v = NULL;
    const char *url = NULL;
    uint64_t u = 0;

    *out_state = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return P11P_ERR_NOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    p11p_str_copy(s->token, sizeof(s->token), conf->name);
    rc = p11p_remote_check_keys(conf, "sectigo", known_keys);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_cred_load(conf, &s->cred);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = P11P_ERR_CONFIG;
    v = conf_or(conf, "family", "ssl");
    if (strcmp(v, "ssl") != 0 && strcmp(v, "device") != 0) {
        P11P_ERROR("remote",
                   "token \"%s\": family = %s: expected ssl or device",
                   s->token, v);
        goto out;
    }
    s->device = strcmp(v, "device") == 0;
    v = conf_or(conf, "auth",
                s->cred->password != NULL ? "password" : "client_cert");
    if (strcmp(v, "password") != 0 && strcmp(v, "client_cert") != 0) {
        P11P_ERROR("remote",
                   "token \"%s\": auth = %s: expected password or client_cert",
                   s->token, v);
        goto out;
    }
    s->cert_auth = strcmp(v, "client_cert") == 0;
    if (s->cred->login == NULL) {
        P11P_ERROR(
            "remote",
            "token \"%s\": sectigo needs a login (credentials file key 'login')",
            s->token);
        goto out;
    }
    if (!s->cert_auth && s->cred->password == NULL) {
        P11P_ERROR(
            "remote",
            "token \"%s\": auth = password but no password in the credentials",
            s->token);
        goto out;
    }
    if (s->cert_auth
        && (s->cred->client_cert == NULL || s->cred->client_key == NULL)) {
        P11P_ERROR(
            "remote",
            "token \"%s\": auth = client_cert needs client_cert and client_key in the credentials",
            s->token);
        goto out;
    }
    url = conf->url != NULL ? conf->url : s->cred->base_url;
    if (url == NULL || strncmp(url, "https://", 8) != 0) {
        P11P_ERROR(
            "remote",
            "token \"%s\": sectigo needs url = https://... (the portal base URL)",
            s->token);
        goto out;
    }
    {
        size_t ul = strlen(url);
        while (ul > 8 && url[ul - 1] == '/') {
            ul--;
        }
        /* A base ending in /private is accepted for either mode. */
        if (ul >= 8 && strncmp(url + ul - 8, "/private", 8) == 0) {
            ul -= 8;
        }
        s->base = malloc(ul + 9);
        if (s->base == NULL) {
            rc = P11P_ERR_NOMEM;
            goto out;
        }
        memcpy(s->base, url, ul);
        memcpy(s->base + ul, s->cert_auth ? "/private" : "",
               s->cert_auth ? 9 : 1);
    }
    s->customer_uri =
        p11p_str_dup(conf_or(conf, "customer_uri", s->cred->customer_uri));
    v = conf_or(conf, "org_id", s->cred->org_id);
    if (s->customer_uri == NULL || v == NULL
        || p11p_str_to_u64(v, 1, INT32_MAX, &u) != P11P_OK) {
        P11P_ERROR(
            "remote",
            "token \"%s\": sectigo needs customer_uri and a numeric org_id",
            s->token);
        goto out;
    }
    s->org_id = (int64_t)u;
    s->cert_type = p11p_str_dup(conf_or(conf, "cert_type", conf->profile));
    if (s->cert_type == NULL) {
        P11P_ERROR(
            "remote",
            "token \"%s\": sectigo needs cert_type (profile id or name from /types)",
            s->token);
        goto out;
    }
    s->term = conf->term_days;
    v = p11p_conf_token_extra(conf, "term");
    if (v != NULL) {
        if (p11p_str_to_u64(v, 1, 100000, &u) != P11P_OK) {
            P11P_ERROR("remote", "token \"%s\": term = %s: expected days",
                       s->token, v);
            goto out;
        }
        s->term = (unsigned)u;
    }
    s->comments = p11p_str_dup(p11p_conf_token_extra(conf, "comments"));
    s->external_requester =
        p11p_str_dup(p11p_conf_token_extra(conf, "external_requester"));
    v = conf_or(conf, "token_field", "requestToken");
    s->token_field = strcmp(v, "none") == 0 ? NULL : p11p_str_dup(v);
    s->collect_format = p11p_str_dup(conf_or(conf, "collect_format", "x509"));
    v = conf_or(conf, "collect_style", "query");
    s->collect_path_style = strcmp(v, "path") == 0;
    s->check_types = strcmp(conf_or(conf, "check_types", "true"), "false") != 0;
    s->find_max_items = 200;
    v = p11p_conf_token_extra(conf, "find_max_items");
    if (v != NULL && p11p_str_to_u64(v, 1, 100000, &u) == P11P_OK) {
        s->find_max_items = (unsigned)u;
    }
    rc = parse_custom(s, p11p_conf_token_extra(conf, "custom_fields"));
    if (rc != P11P_OK) {
        goto out;
    }
    memset(&ho, 0, sizeof(ho));
    ho.ca_bundle = conf->ca_bundle != NULL ? conf->ca_bundle : s->cred->ca_file;
    if (s->cert_auth) {
        ho.client_cert = s->cred->client_cert;
        ho.client_key = s->cred->client_key;
        ho.client_key_password = s->cred->client_key_password;
    }
    ho.timeout_ms = conf->timeout_ms;
    ho.redact = sectigo_redact;
    ho.tag = "sectigo";
    rc = p11p_http_new(&ho, &s->http);
    if (rc != P11P_OK) {
        goto out;
    }
    *out_state = s;
    s = NULL;
    rc = P11P_OK;
out:
    sectigo_free(s);
    return rc;
}

static void sectigo_close(void *state)
{
    sectigo_free(state);
}

static enum p11p_status set_res(struct p11p_remote_result *res,
                                enum p11p_status st, const char *fmt,
                                const char *a, const char *b)
{
    res->status = st;
    snprintf(res->message, sizeof(res->message), "sectigo %s%s%s", fmt,
             a != NULL ? a : "", b != NULL ? b : "");
    return st;
}

/* Parses a JSON 2xx reply body; PROTOCOL into res otherwise. */
static bool json_ok(struct sectigo *s, const char *op,
                    const struct p11p_http_resp *resp,
                    struct p11p_remote_result *res)
{
    return p11p_sectigo_api_want_json(s, op, resp, res);
}

/* Downloads the certificate (both URL styles, PORTALS.md §1.4.4) and maps
 * every pending answer (§1.6). */
static enum p11p_status do_collect(struct sectigo *s, const char *id,
                                   struct p11p_remote_result *res)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_http_resp resp;
    char path[256];
    char why[ERRSZ];
    int64_t code = 0;
    char desc[300];

    memset(&resp, 0, sizeof(resp));
    for (int attempt = 0; attempt < 2; attempt++) {
        bool path_style = s->collect_path_style != (attempt == 1);
        if (path_style) {
            snprintf(path, sizeof(path), "/collect/%s/%s", id,
                     s->collect_format);
        } else {
            snprintf(path, sizeof(path), "/collect/%s?format=%s", id,
                     s->collect_format);
        }
        p11p_http_resp_free(&resp);
        rc = p11p_sectigo_api_call(s, "collect", "GET", path, NULL, true, &resp,
                                   res);
        if (rc != P11P_OK) {
            goto out;
        }
        /* A 404 without the portal's envelope: this URL style is not
         * served here; try the other one. */
        if (resp.status == 404 && attempt == 0
            && (resp.body.len == 0
                || p11p_sectigo_json_error((const char *)resp.body.data,
                                           resp.body.len, &code, desc,
                                           sizeof(desc))
                       != P11P_OK)) {
            continue;
        }
        break;
    }
    if (resp.status == 200 && resp.body.len > 0
        && strstr(resp.content_type, "json") == NULL
        && strstr(resp.content_type, "html") == NULL) {
        rc = p11p_chain_parse(resp.body.data, resp.body.len, NULL, res, why,
                              sizeof(why));
        if (rc != P11P_OK) {
            p11p_sectigo_api_protocol(s, "collect", res, why);
            goto out;
        }
        res->state = P11P_REMOTE_ISSUED;
        rc = P11P_OK;
        goto out;
    }
    if (resp.status == 200 && resp.body.len == 0) {
        /* Never take an empty 200 for a certificate (§3b.2). */
        res->state = P11P_REMOTE_PROCESSING;
        rc = P11P_OK;
        goto out;
    }
    if (resp.status == 200) {
        p11p_sectigo_api_protocol(
            s, "collect", res,
            "certificate reply with a JSON or HTML content type");
        rc = res->status;
        goto out;
    }
    if ((resp.status == 400 || resp.status == 404) && resp.body.len > 0
        && p11p_sectigo_json_error((const char *)resp.body.data, resp.body.len,
                                   &code, desc, sizeof(desc))
               == P11P_OK) {
        switch (p11p_sectigo_json_collect_class(code)) {
        case SECTIGO_COLLECT_PENDING:
            res->state = P11P_REMOTE_PROCESSING;
            snprintf(res->message, sizeof(res->message),
                     "sectigo collect: pending (code %lld: %s)",
                     (long long)code, desc);
            rc = P11P_OK;
            goto out;
        case SECTIGO_COLLECT_REVOKED:
            res->state = P11P_REMOTE_REVOKED;
            snprintf(res->message, sizeof(res->message),
                     "sectigo collect: revoked (code %lld: %s)",
                     (long long)code, desc);
            rc = P11P_OK;
            goto out;
        case SECTIGO_COLLECT_NOT_FOUND:
            res->state = P11P_REMOTE_UNKNOWN;
            res->status = P11P_ERR_NOT_FOUND;
            snprintf(res->message, sizeof(res->message),
                     "sectigo collect: order %s not found (code %lld: %s)", id,
                     (long long)code, desc);
            P11P_ERROR("remote", "token \"%s\": %s", s->token, res->message);
            rc = P11P_ERR_NOT_FOUND;
            goto out;
        case SECTIGO_COLLECT_ERROR:
            break;
        }
    }
    rc = p11p_sectigo_api_fail(s, "collect", &resp, true, res);
out:
    p11p_http_resp_free(&resp);
    return rc;
}

static enum p11p_status get_details(struct sectigo *s, const char *id,
                                    struct sectigo_details *d,
                                    struct p11p_remote_result *res)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_http_resp resp;
    char path[128];
    char why[ERRSZ];

    memset(&resp, 0, sizeof(resp));
    snprintf(path, sizeof(path), "/%s", id);
    rc = p11p_sectigo_api_call(s, "details", "GET", path, NULL, true, &resp,
                               res);
    if (rc != P11P_OK) {
        goto out;
    }
    if (resp.status != 200) {
        rc = p11p_sectigo_api_fail(s, "details", &resp, true, res);
        goto out;
    }
    if (!json_ok(s, "details", &resp, res)) {
        rc = res->status;
        goto out;
    }
    rc = p11p_sectigo_json_details((const char *)resp.body.data, resp.body.len,
                                   s->token_field, d, why, sizeof(why));
    if (rc != P11P_OK) {
        p11p_sectigo_api_protocol(s, "details", res, why);
    }
out:
    p11p_http_resp_free(&resp);
    return rc;
}

static enum p11p_status sectigo_collect(void *state, const char *portal_id,
                                        struct p11p_remote_result *res)
{
    struct sectigo *s = state;
    struct sectigo_details d;
    enum p11p_status rc = P11P_ERR_INTERNAL;
    enum p11p_remote_state st = P11P_REMOTE_PROCESSING;

    p11p_str_copy(res->portal_id, sizeof(res->portal_id), portal_id);
    rc = get_details(s, portal_id, &d, res);
    if (rc != P11P_OK) {
        return rc;
    }
    if (!p11p_sectigo_json_state(d.status, &st)) {
        P11P_WARN(
            "remote",
            "token \"%s\": sectigo order %s has unknown status '%s'; treated as processing",
            s->token, portal_id, d.status);
        st = P11P_REMOTE_PROCESSING;
    }
    res->state = st;
    snprintf(res->message, sizeof(res->message),
             "sectigo order %s: status %s%s%s", portal_id, d.status,
             d.reason[0] != '\0' ? ": " : "", d.reason);
    /* Applied may already be collectable (Keyfactor collects on it). */
    if (st == P11P_REMOTE_ISSUED || strcasecmp(d.status, "Applied") == 0) {
        rc = do_collect(s, portal_id, res);
        if (rc == P11P_OK && res->state != P11P_REMOTE_ISSUED
            && st == P11P_REMOTE_ISSUED) {
            /* Details said Issued but collect says pending: try later. */
            res->state = P11P_REMOTE_PROCESSING;
        }
        return rc;
    }
    res->status = P11P_OK;
    return P11P_OK;
}

static enum p11p_status sectigo_enroll(void *state,
                                       const struct p11p_enroll_req *req,
                                       struct p11p_remote_result *res)
{
    struct sectigo *s = state;
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_http_resp resp;
    char alg[16];
    char param[16];
    char kind[40];
    bool fresh;
    unsigned char spki[32];
    char *body = NULL;
    char why[ERRSZ];
    char id[64];
    char status[64];
    int64_t type_id = 0;
    unsigned dflt_term = 0;
    enum p11p_remote_state st = P11P_REMOTE_PROCESSING;
    struct p11p_remote_result follow;

    memset(&resp, 0, sizeof(resp));
    memset(&follow, 0, sizeof(follow));
    if (p11p_chain_csr_key(req->csr_der, req->csr_len, alg, param, spki)
        != P11P_OK) {
        rc = set_res(res, P11P_ERR_INVALID_INPUT,
                     "enroll: the CSR does not decode", NULL, NULL);
        goto out;
    }
    snprintf(kind, sizeof(kind), "%s/%s", alg, param);
    pthread_mutex_lock(&s->lock);
    type_id = s->type_id;
    fresh = type_id != 0 && strcmp(s->checked_key, kind) == 0
            && p11p_clock_mono_ms() - s->checked_ms < SECTIGO_TYPES_TTL_MS;
    pthread_mutex_unlock(&s->lock);
    if ((s->check_types && !fresh) || type_id == 0) {
        if (!s->check_types) {
            uint64_t u = 0;
            if (p11p_str_to_u64(s->cert_type, 1, INT32_MAX, &u) == P11P_OK) {
                type_id = (int64_t)u;
            }
        }
        if (type_id == 0 || s->check_types) {
            rc = p11p_sectigo_api_check_types(s, alg, param, res);
            if (rc != P11P_OK) {
                goto out;
            }
            pthread_mutex_lock(&s->lock);
            p11p_str_copy(s->checked_key, sizeof(s->checked_key), kind);
            s->checked_ms = p11p_clock_mono_ms();
            pthread_mutex_unlock(&s->lock);
        }
    }
    pthread_mutex_lock(&s->lock);
    type_id = type_id != 0 && !s->check_types ? type_id : s->type_id;
    dflt_term = s->type_term;
    pthread_mutex_unlock(&s->lock);
    rc = p11p_sectigo_api_build_enroll(s, req, type_id, dflt_term, &body);
    if (rc != P11P_OK) {
        res->status = rc;
        goto out;
    }
    rc = p11p_sectigo_api_call(s, "enroll", "POST", "/enroll", body, false,
                               &resp, res);
    if (rc != P11P_OK) {
        goto out;
    }
    if (resp.status != 200 && resp.status != 201) {
        rc = p11p_sectigo_api_fail(s, "enroll", &resp, false, res);
        goto out;
    }
    /* The order exists from here on: a bad reply is SENT_UNKNOWN, so the
     * engine reconciles instead of ordering again. */
    if (strstr(resp.content_type, "json") == NULL
        || p11p_sectigo_json_enroll((const char *)resp.body.data, resp.body.len,
                                    s->device, id, sizeof(id), status,
                                    sizeof(status), why, sizeof(why))
               != P11P_OK) {
        res->status = P11P_ERR_SENT_UNKNOWN;
        snprintf(
            res->message, sizeof(res->message),
            "sectigo enroll: HTTP %ld but the reply cannot be read (%s); the order may exist: reconcile",
            resp.status,
            strstr(resp.content_type, "json") == NULL ? "not JSON" : why);
        P11P_ERROR("remote", "token \"%s\": %s", s->token, res->message);
        rc = res->status;
        goto out;
    }
    p11p_str_copy(res->portal_id, sizeof(res->portal_id), id);
    if (status[0] != '\0' && p11p_sectigo_json_state(status, &st)) {
        res->state = st;
    } else {
        res->state = P11P_REMOTE_PROCESSING;
    }
    P11P_INFO(
        "remote", "token \"%s\": sectigo order %s placed (request token %s)",
        s->token, id, req->request_token != NULL ? req->request_token : "-");
    /* Best effort: a look at the new order. A profile that issues at once
     * has the certificate now: collect first, so such a device costs two
     * portal requests. Otherwise the details tell pending approval from
     * processing (the enroll answer does not). A failure here leaves the
     * order PROCESSING; it is collected later. */
    if (do_collect(s, id, &follow) != P11P_OK
        || follow.state != P11P_REMOTE_ISSUED) {
        p11p_remote_result_clear(&follow);
        memset(&follow, 0, sizeof(follow));
        if (sectigo_collect(s, id, &follow) != P11P_OK) {
            p11p_remote_result_clear(&follow);
            memset(&follow, 0, sizeof(follow));
            follow.state = res->state;
        }
    }
    res->state = follow.state;
    res->cert_der = follow.cert_der;
    res->cert_len = follow.cert_len;
    res->chain_der = follow.chain_der;
    res->chain_lens = follow.chain_lens;
    res->chain_n = follow.chain_n;
    memset(&follow, 0, sizeof(follow));
    res->status = P11P_OK;
    rc = P11P_OK;
out:
    p11p_remote_result_clear(&follow);
    free(body);
    p11p_http_resp_free(&resp);
    return rc;
}

static bool details_match(const struct sectigo_details *d, const char *token)
{
    char needle[160];

    if (token == NULL || token[0] == '\0') {
        return false;
    }
    if (d->token_value[0] != '\0' && strcmp(d->token_value, token) == 0) {
        return true;
    }
    snprintf(needle, sizeof(needle), SECTIGO_TOKEN_PREFIX "%s", token);
    return strstr(d->comments, needle) != NULL;
}

/* Search by public key alone (request token NULL: p11portal adopt): the
 * list has no key filter (PORTALS.md §1.4.6), so an issued order is
 * collected and its certificate's key compared. True, with res filled
 * (state ISSUED, certificate and chain), if order id has the key. */
static bool key_match(struct sectigo *s, const char *id,
                      const struct sectigo_details *d,
                      const unsigned char pubkey_sha256[32],
                      struct p11p_remote_result *res)
{
    enum p11p_remote_state st = P11P_REMOTE_PROCESSING;
    struct p11p_remote_result probe;
    unsigned char h[32];

    if (!p11p_sectigo_json_state(d->status, &st) || st != P11P_REMOTE_ISSUED) {
        return false;
    }
    memset(&probe, 0, sizeof(probe));
    if (sectigo_collect(s, id, &probe) == P11P_OK
        && probe.state == P11P_REMOTE_ISSUED && probe.cert_der != NULL
        && p11p_chain_cert_spki_sha256(probe.cert_der, probe.cert_len, h)
               == P11P_OK
        && memcmp(h, pubkey_sha256, 32) == 0) {
        P11P_INFO("remote",
                  "token \"%s\": sectigo order %s has the public key searched",
                  s->token, id);
        p11p_remote_result_clear(res);
        *res = probe;
        res->status = P11P_OK;
        return true;
    }
    p11p_remote_result_clear(&probe);
    return false;
}

/* Reconciliation: the list has no filter on custom fields or comments
 * (PORTALS.md §1.4.6), so the newest orders are examined, last page first,
 * up to find_max_items; each one's details carry the request token. */
static enum p11p_status sectigo_find(void *state, const char *request_token,
                                     const unsigned char pubkey_sha256[32],
                                     struct p11p_remote_result *res)
{
    struct sectigo *s = state;
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_http_resp resp;
    char(*ids)[64] = NULL;
    size_t n = 0;
    long long total = -1;
    long long pos = 0;
    unsigned examined = 0;
    const unsigned page = 50;
    char path[128];
    char why[ERRSZ];

    memset(&resp, 0, sizeof(resp));
    ids = calloc(page, sizeof(*ids));
    if (ids == NULL) {
        return set_res(res, P11P_ERR_NOMEM, "find: out of memory", NULL, NULL);
    }
    rc = p11p_sectigo_api_call(s, "list", "HEAD", "?size=1&position=0", NULL,
                               true, &resp, res);
    if (rc != P11P_OK) {
        goto out;
    }
    total = resp.total_count;
    if (resp.status != 200 || total < 0) {
        p11p_http_resp_free(&resp);
        rc = p11p_sectigo_api_call(s, "list", "GET", "?size=1&position=0", NULL,
                                   true, &resp, res);
        if (rc != P11P_OK) {
            goto out;
        }
        if (resp.status != 200) {
            rc = p11p_sectigo_api_fail(s, "list", &resp, true, res);
            goto out;
        }
        total = resp.total_count >= 0 ? resp.total_count
                                      : (long long)s->find_max_items;
    }
    pos = total;
    while (pos > 0 && examined < s->find_max_items) {
        long long start = pos > page ? pos - page : 0;
        p11p_http_resp_free(&resp);
        snprintf(path, sizeof(path), "?size=%u&position=%lld", page, start);
        rc = p11p_sectigo_api_call(s, "list", "GET", path, NULL, true, &resp,
                                   res);
        if (rc != P11P_OK) {
            goto out;
        }
        if (resp.status != 200) {
            rc = p11p_sectigo_api_fail(s, "list", &resp, true, res);
            goto out;
        }
        if (!json_ok(s, "list", &resp, res)) {
            rc = res->status;
            goto out;
        }
        rc = p11p_sectigo_json_list((const char *)resp.body.data, resp.body.len,
                                    s->device, ids, page, &n, why, sizeof(why));
        if (rc != P11P_OK) {
            p11p_sectigo_api_protocol(s, "list", res, why);
            goto out;
        }
        for (size_t i = n; i > 0 && examined < s->find_max_items;
             i--, examined++) {
            struct sectigo_details d;
            rc = get_details(s, ids[i - 1], &d, res);
            if (rc != P11P_OK) {
                goto out;
            }
            if (details_match(&d, request_token)) {
                P11P_INFO(
                    "remote",
                    "token \"%s\": reconciliation found sectigo order %s for request token %s",
                    s->token, ids[i - 1], request_token);
                memset(res, 0, sizeof(*res));
                rc = sectigo_collect(s, ids[i - 1], res);
                goto out;
            }
            if (request_token == NULL && pubkey_sha256 != NULL
                && key_match(s, ids[i - 1], &d, pubkey_sha256, res)) {
                rc = P11P_OK; /* by public key alone (adopt) */
                goto out;
            }
        }
        if (n == 0) {
            break;
        }
        pos = start;
    }
    if (pos > 0 && examined >= s->find_max_items) {
        /* Older orders were not examined: absence is not proven, and a
         * second order must not follow from a short search. */
        rc = set_res(res, P11P_ERR_SENT_UNKNOWN,
                     "find: request token not among the newest find_max_items "
                     "orders; absence not proven (raise find_max_items)",
                     NULL, NULL);
        P11P_WARN("remote", "token \"%s\": %s", s->token, res->message);
        goto out;
    }
    res->state = P11P_REMOTE_UNKNOWN;
    res->status = P11P_OK;
    snprintf(res->message, sizeof(res->message),
             "sectigo: no order carries request token %s (examined %u)",
             request_token != NULL ? request_token : "-", examined);
    rc = P11P_OK;
out:
    free(ids);
    p11p_http_resp_free(&resp);
    return rc;
}

/* Sectigo accepts reason codes 0, 1, 3, 4, 5 only (§1.4.8). */
static int reason_code(enum p11p_revoke_reason r)
{
    switch (r) {
    case P11P_REVOKE_KEY_COMPROMISE:
    case P11P_REVOKE_AFFILIATION_CHANGED:
    case P11P_REVOKE_SUPERSEDED:
    case P11P_REVOKE_CESSATION_OF_OPERATION:
        return (int)r;
    case P11P_REVOKE_UNSPECIFIED:
    case P11P_REVOKE_CA_COMPROMISE:
    case P11P_REVOKE_CERTIFICATE_HOLD:
    case P11P_REVOKE_PRIVILEGE_WITHDRAWN:
        return 0;
    }
    return 0;
}

static enum p11p_status sectigo_revoke(void *state, const char *portal_id,
                                       const char *serial_hex,
                                       enum p11p_revoke_reason reason,
                                       struct p11p_remote_result *res)
{
    struct sectigo *s = state;
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_http_resp resp;
    char path[256];
    char body[128];
    char colon[200];
    int64_t code = 0;
    char desc[300];

    memset(&resp, 0, sizeof(resp));
    snprintf(body, sizeof(body),
             "{\"reasonCode\":%d,\"reason\":\"revoked by p11portal\"}",
             reason_code(reason));
    if (portal_id != NULL && portal_id[0] != '\0') {
        snprintf(path, sizeof(path),
                 s->device ? "/revoke/order/%s" : "/revoke/%s", portal_id);
        p11p_str_copy(res->portal_id, sizeof(res->portal_id), portal_id);
    } else if (serial_hex != NULL && serial_hex[0] != '\0'
               && strlen(serial_hex) < 64) {
        /* Colon-separated upper-case hex (§1.4.8, §1.13.10). */
        size_t n = 0;
        size_t len = strlen(serial_hex);
        size_t i = len % 2;
        if (i == 1) {
            colon[n++] = '0';
            colon[n++] = (char)toupper((unsigned char)serial_hex[0]);
        }
        for (; i < len; i += 2) {
            if (n > 0) {
                colon[n++] = ':';
            }
            colon[n++] = (char)toupper((unsigned char)serial_hex[i]);
            colon[n++] = (char)toupper((unsigned char)serial_hex[i + 1]);
        }
        colon[n] = '\0';
        snprintf(path, sizeof(path), "/revoke/serial/%s", colon);
    } else {
        return set_res(res, P11P_ERR_INVALID_INPUT,
                       "revoke: needs an order id or a serial", NULL, NULL);
    }
    rc = p11p_sectigo_api_call(s, "revoke", "POST", path, body, true, &resp,
                               res);
    if (rc != P11P_OK) {
        goto out;
    }
    if (resp.status == 200 || resp.status == 204) {
        res->state = P11P_REMOTE_REVOKED;
        res->status = P11P_OK;
        rc = P11P_OK;
        goto out;
    }
    /* A repeat after an unknown outcome: "already revoked" is success. */
    if (resp.status == 400 && resp.body.len > 0
        && p11p_sectigo_json_error((const char *)resp.body.data, resp.body.len,
                                   &code, desc, sizeof(desc))
               == P11P_OK
        && code == -159) {
        res->state = P11P_REMOTE_REVOKED;
        res->status = P11P_OK;
        rc = P11P_OK;
        goto out;
    }
    rc = p11p_sectigo_api_fail(s, "revoke", &resp, true, res);
out:
    p11p_http_resp_free(&resp);
    return rc;
}

/* SSL: renewById/{id} with the new CSR -> {sslId} (§1.4.9, Part 3b.1).
 * Device: renew/order/{id}, no body -> enroll-shaped reply (§1.7); the
 * portal reuses the order's CSR. */
static enum p11p_status sectigo_renew(void *state, const char *portal_id,
                                      const struct p11p_enroll_req *req,
                                      struct p11p_remote_result *res)
{
    struct sectigo *s = state;
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_http_resp resp;
    struct p11p_json *j = NULL;
    char *csr = NULL;
    char *body = NULL;
    char path[256];
    char id[64];
    char status[64];
    char why[ERRSZ];

    memset(&resp, 0, sizeof(resp));
    if (!s->device) {
        snprintf(path, sizeof(path), "/renewById/%s", portal_id);
        if (req != NULL && req->csr_der != NULL) {
            if ((rc = p11p_chain_csr_encode(req->csr_der, req->csr_len,
                                            !s->cert_auth, &csr))
                    != P11P_OK
                || (rc = p11p_json_new_object(&j)) != P11P_OK
                || (rc = p11p_json_set_string(j, "csr", csr)) != P11P_OK
                || (rc = p11p_json_print(j, &body)) != P11P_OK) {
                res->status = rc;
                goto out;
            }
        }
    } else if (req != NULL && req->new_key) {
        /* The device renew call takes no CSR: it would certify the old
         * key again. Nothing sent; the engine enrolls anew. */
        res->status = P11P_ERR_UNSUPPORTED;
        rc = P11P_ERR_UNSUPPORTED;
        goto out;
    } else {
        snprintf(path, sizeof(path), "/renew/order/%s", portal_id);
    }
    rc = p11p_sectigo_api_call(s, "renew", "POST", path, body, false, &resp,
                               res);
    if (rc != P11P_OK) {
        goto out;
    }
    if (resp.status != 200 && resp.status != 201) {
        rc = p11p_sectigo_api_fail(s, "renew", &resp, false, res);
        goto out;
    }
    if (strstr(resp.content_type, "json") == NULL
        || p11p_sectigo_json_enroll((const char *)resp.body.data, resp.body.len,
                                    s->device, id, sizeof(id), status,
                                    sizeof(status), why, sizeof(why))
               != P11P_OK) {
        res->status = P11P_ERR_SENT_UNKNOWN;
        snprintf(
            res->message, sizeof(res->message),
            "sectigo renew of %s: HTTP %ld but the reply cannot be read; the new order may exist: reconcile",
            portal_id, resp.status);
        P11P_ERROR("remote", "token \"%s\": %s", s->token, res->message);
        rc = res->status;
        goto out;
    }
    p11p_http_resp_free(&resp);
    memset(res, 0, sizeof(*res));
    p11p_str_copy(res->portal_id, sizeof(res->portal_id), id);
    res->state = P11P_REMOTE_PROCESSING;
    P11P_INFO("remote", "token \"%s\": sectigo order %s renewed as %s",
              s->token, portal_id, id);
    {
        struct p11p_remote_result follow;
        memset(&follow, 0, sizeof(follow));
        if (sectigo_collect(s, id, &follow) == P11P_OK) {
            follow.status = P11P_OK;
            *res = follow;
        } else {
            p11p_remote_result_clear(&follow);
        }
    }
    res->status = P11P_OK;
    rc = P11P_OK;
out:
    free(csr);
    free(body);
    p11p_json_free(j);
    p11p_http_resp_free(&resp);
    return rc;
}

enum p11p_status p11p_sectigo_replace(void *state, const char *portal_id,
                                      const struct p11p_enroll_req *req,
                                      struct p11p_remote_result *res)
{
    struct sectigo *s = state;
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_http_resp resp;
    struct p11p_json *j = NULL;
    char *csr = NULL;
    char *body = NULL;
    char path[256];

    memset(&resp, 0, sizeof(resp));
    snprintf(path, sizeof(path),
             s->device ? "/replace/order/%s" : "/replace/%s", portal_id);
    if ((rc = p11p_chain_csr_encode(req->csr_der, req->csr_len, !s->cert_auth,
                                    &csr))
            != P11P_OK
        || (rc = p11p_json_new_object(&j)) != P11P_OK
        || (rc = p11p_json_set_string(j, "csr", csr)) != P11P_OK
        || (rc = p11p_json_set_string(j, "reason", "replaced by p11portal"))
               != P11P_OK
        || (s->device
            && (rc = p11p_json_set_bool(j, "revoke", false)) != P11P_OK)
        || (rc = p11p_json_print(j, &body)) != P11P_OK) {
        res->status = rc;
        goto out;
    }
    rc = p11p_sectigo_api_call(s, "replace", "POST", path, body, false, &resp,
                               res);
    if (rc != P11P_OK) {
        goto out;
    }
    if (resp.status != 200 && resp.status != 204) {
        rc = p11p_sectigo_api_fail(s, "replace", &resp, false, res);
        goto out;
    }
    p11p_str_copy(res->portal_id, sizeof(res->portal_id), portal_id);
    res->state = P11P_REMOTE_PROCESSING;
    res->status = P11P_OK;
    rc = P11P_OK;
out:
    free(csr);
    free(body);
    p11p_json_free(j);
    p11p_http_resp_free(&resp);
    return rc;
}

const struct p11p_driver p11p_driver_sectigo = {
    .name = "sectigo",
    .open = sectigo_open,
    .close = sectigo_close,
    .enroll = sectigo_enroll,
    .collect = sectigo_collect,
    .find = sectigo_find,
    .revoke = sectigo_revoke,
    .renew = sectigo_renew,
    .trust = NULL, /* no CA endpoint: the token's trust_anchors */
};

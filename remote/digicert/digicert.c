/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DigiCert ONE IoT Trust Manager driver (API v1, PORTALS.md Part 2).
 *
 * Token configuration keys (conf->extra; docs/portals/digicert.md):
 *   enrollment_profile_id  IOT_<uuid> (else `profile`)
 *   auth                   api_key (default) | passcode | client_cert
 *   attributes             extra certificate_profile_attributes,
 *                          id=value;id=value (e.g. signature_algorithm=...)
 *   device_attributes      extra device_attributes, id=value;...
 *   token_attribute        attribute id that carries the request token
 *                          (default: none; the simulator knows
 *                          p11portal_request_token)
 *   token_in               device (default) | certificate: which attribute
 *                          list carries it
 *   find_max_items         certificates examined by reconciliation (200)
 * The subject DN of the order becomes subject.* attributes (CN ->
 * subject.common_name, O, OU, C, ST, L, serialNumber, emailAddress), SANs
 * become san.dns_name / san.ip_address / san.email / san.uri, and a MAC
 * becomes the DEVICE_IDENTIFIER device attribute (§3b.16).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "core/base/log.h"
#include "core/base/str.h"
#include "remote/chain.h"
#include "remote/digicert/digicert_internal.h"
#include "remote/internal.h"
#include "remote/portals.h"

#define ERRSZ        256
#define DC_REQ_ATTRS 48

static const char *const known_keys[] = { "enrollment_profile_id",
                                          "auth",
                                          "attributes",
                                          "token_attribute",
                                          "token_in",
                                          "find_max_items",
                                          NULL };

static const char *const digicert_redact[] = { NULL };

/* RFC 4514 short names to DigiCert attribute ids (§2.4, §2.7). */
static const struct {
    const char *dn;
    const char *id;
} dn_map[] = {
    { "CN", "subject.common_name" },
    { "O", "subject.organization_name" },
    { "OU", "subject.organization_unit" },
    { "C", "subject.country" },
    { "ST", "subject.state" },
    { "L", "subject.locality" },
    { "serialNumber", "subject.serial_number" },
    { "emailAddress", "subject.email" },
    { "E", "subject.email" },
    { "DNS", "san.dns_name" },
    { "IP", "san.ip_address" },
    { "email", "san.email" },
    { "URI", "san.uri" },
};

/* RFC 5280 reasons to the revoke enum (§2.6). */
static const struct {
    enum p11p_revoke_reason reason;
    const char *name;
} reason_map[] = {
    { P11P_REVOKE_UNSPECIFIED, "unspecified" },
    { P11P_REVOKE_KEY_COMPROMISE, "key_compromise" },
    { P11P_REVOKE_CA_COMPROMISE, "unspecified" },
    { P11P_REVOKE_AFFILIATION_CHANGED, "affiliation_changed" },
    { P11P_REVOKE_SUPERSEDED, "superseded" },
    { P11P_REVOKE_CESSATION_OF_OPERATION, "cessation_of_operation" },
    { P11P_REVOKE_CERTIFICATE_HOLD, "certificate_hold" },
    { P11P_REVOKE_PRIVILEGE_WITHDRAWN, "privilege_withdrawn" },
};

struct kvlist {
    struct digicert_kv kv[DC_REQ_ATTRS];
    size_t n;
};

static void kvlist_clear(struct kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->kv[i].id);
        free(l->kv[i].value);
    }
    l->n = 0;
}

static enum p11p_status kvlist_add(struct kvlist *l, const char *id,
                                   size_t idlen, const char *value, size_t vlen)
{
    if (l->n >= DC_REQ_ATTRS) {
        return P11P_ERR_INVALID_INPUT;
    }
    l->kv[l->n].id = strndup(id, idlen);
    l->kv[l->n].value = strndup(value, vlen);
    if (l->kv[l->n].id == NULL || l->kv[l->n].value == NULL) {
        free(l->kv[l->n].id);
        free(l->kv[l->n].value);
        return P11P_ERR_NOMEM;
    }
    l->n++;
    return P11P_OK;
}

/* "id=value;id=value" */
static enum p11p_status parse_pairs(const char *spec, struct kvlist *l)
{
    const char *p = spec;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ';');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        enum p11p_status rc;
        if (eq == NULL || eq == p) {
            return P11P_ERR_CONFIG;
        }
        rc = kvlist_add(l, p, (size_t)(eq - p), eq + 1,
                        len - (size_t)(eq - p) - 1);
        if (rc != P11P_OK) {
            return rc;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return P11P_OK;
}

/* Splits "A=x,B=y" (sep ',') or "DNS:a,IP:b" (kv ':'), honouring '\'
 * escapes, and maps each name through dn_map. Unknown names are skipped
 * with a warning. */
static enum p11p_status map_names(const char *token, const char *spec,
                                  char kvsep, struct kvlist *l)
{
    char val[512];
    const char *p = spec;

    while (p != NULL && *p != '\0') {
        const char *name = p;
        size_t nlen = 0;
        size_t vn = 0;
        const char *id = NULL;
        while (*p == ' ') {
            p++;
            name = p;
        }
        while (p[nlen] != '\0' && p[nlen] != kvsep && p[nlen] != ',') {
            nlen++;
        }
        if (p[nlen] != kvsep) {
            return P11P_ERR_INVALID_INPUT;
        }
        p += nlen + 1;
        while (*p != '\0' && *p != ',' && vn + 1 < sizeof(val)) {
            if (*p == '\\' && p[1] != '\0') {
                p++;
            }
            val[vn++] = *p++;
        }
        val[vn] = '\0';
        if (*p == ',') {
            p++;
        }
        for (size_t i = 0; i < sizeof(dn_map) / sizeof(dn_map[0]); i++) {
            if (strlen(dn_map[i].dn) == nlen
                && strncasecmp(dn_map[i].dn, name, nlen) == 0) {
                id = dn_map[i].id;
                break;
            }
        }
        if (id == NULL) {
            P11P_WARN(
                "remote",
                "token \"%s\": digicert: no attribute for '%.*s'; not sent",
                token, (int)(nlen > 32 ? 32 : nlen), name);
            continue;
        }
        if (kvlist_add(l, id, strlen(id), val, vn) != P11P_OK) {
            return P11P_ERR_NOMEM;
        }
    }
    return P11P_OK;
}

static void digicert_free(struct digicert *d)
{
    if (d == NULL) {
        return;
    }
    p11p_http_free(d->http);
    p11p_cred_free(d->cred);
    free(d->base);
    free(d->profile_id);
    free(d->token_attribute);
    for (size_t i = 0; i < d->n_attrs; i++) {
        free(d->attrs[i].id);
        free(d->attrs[i].value);
    }
    free(d);
}

/* The enrollment profile of a request: the order's own (it may differ from
 * the token's current one), unless enrollment_profile_id pins it. */
static const char *req_profile(const struct digicert *d, const char *profile)
{
    return profile != NULL && profile[0] != '\0' && !d->profile_pinned
               ? profile
               : d->profile_id;
}

static const char *conf_or(const struct p11p_conf_token *c, const char *key,
                           const char *dflt)
{
    const char *v = p11p_conf_token_extra(c, key);
    return v != NULL && v[0] != '\0' ? v : dflt;
}

static enum p11p_status digicert_open(const struct p11p_conf_token *conf,
                                      void **out_state)
{
    enum p11p_status rc = P11P_ERR_CONFIG;
    struct digicert *d = NULL;
    struct p11p_http_opts ho;
    struct kvlist extra;
    const char *v = NULL;
    const char *url = NULL;
    uint64_t u = 0;

    *out_state = NULL;
    memset(&extra, 0, sizeof(extra));
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return P11P_ERR_NOMEM;
    }
    p11p_str_copy(d->token, sizeof(d->token), conf->name);
    rc = p11p_remote_check_keys(conf, "digicert", known_keys);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_cred_load(conf, &d->cred);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = P11P_ERR_CONFIG;
    v = conf_or(conf, "auth", "api_key");
    if (strcmp(v, "api_key") == 0) {
        d->auth = DIGICERT_AUTH_API_KEY;
        if (d->cred->api_key == NULL) {
            P11P_ERROR(
                "remote",
                "token \"%s\": digicert auth = api_key but no api_key in the credentials",
                d->token);
            goto out;
        }
    } else if (strcmp(v, "passcode") == 0) {
        d->auth = DIGICERT_AUTH_PASSCODE;
        if (d->cred->passcode == NULL) {
            P11P_ERROR(
                "remote",
                "token \"%s\": digicert auth = passcode but no passcode in the credentials",
                d->token);
            goto out;
        }
    } else if (strcmp(v, "client_cert") == 0) {
        d->auth = DIGICERT_AUTH_CLIENT_CERT;
        if (d->cred->client_cert == NULL || d->cred->client_key == NULL) {
            P11P_ERROR(
                "remote",
                "token \"%s\": digicert auth = client_cert needs client_cert and client_key in the credentials",
                d->token);
            goto out;
        }
    } else {
        P11P_ERROR(
            "remote",
            "token \"%s\": auth = %s: expected api_key, passcode or client_cert",
            d->token, v);
        goto out;
    }
    url = conf->url != NULL ? conf->url : d->cred->base_url;
    if (url == NULL || strncmp(url, "https://", 8) != 0) {
        P11P_ERROR(
            "remote",
            "token \"%s\": digicert needs url = https://... (e.g. https://one.digicert.com, or https://clientauth.one.digicert.com for auth = client_cert)",
            d->token);
        goto out;
    }
    d->base = p11p_str_dup(url);
    if (d->base == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    for (size_t l = strlen(d->base); l > 8 && d->base[l - 1] == '/'; l--) {
        d->base[l - 1] = '\0';
    }
    d->profile_pinned =
        p11p_conf_token_extra(conf, "enrollment_profile_id") != NULL;
    d->profile_id =
        p11p_str_dup(conf_or(conf, "enrollment_profile_id", conf->profile));
    if (d->profile_id == NULL) {
        P11P_ERROR(
            "remote",
            "token \"%s\": digicert needs enrollment_profile_id (IOT_...)",
            d->token);
        goto out;
    }
    v = p11p_conf_token_extra(conf, "token_attribute");
    d->token_attribute = v != NULL && v[0] != '\0' && strcmp(v, "none") != 0
                             ? p11p_str_dup(v)
                             : NULL;
    d->token_in_device =
        strcmp(conf_or(conf, "token_in", "device"), "certificate") != 0;
    d->find_max_items = 200;
    v = p11p_conf_token_extra(conf, "find_max_items");
    if (v != NULL && p11p_str_to_u64(v, 1, 100000, &u) == P11P_OK) {
        d->find_max_items = (unsigned)u;
    }
    if (parse_pairs(p11p_conf_token_extra(conf, "attributes"), &extra)
            != P11P_OK
        || extra.n > DIGICERT_MAX_ATTRS) {
        P11P_ERROR(
            "remote",
            "token \"%s\": attributes: expected id=value;id=value (at most %d)",
            d->token, DIGICERT_MAX_ATTRS);
        goto out;
    }
    for (size_t i = 0; i < extra.n; i++) {
        d->attrs[i] = extra.kv[i];
    }
    d->n_attrs = extra.n;
    extra.n = 0;
    memset(&ho, 0, sizeof(ho));
    ho.ca_bundle = conf->ca_bundle != NULL ? conf->ca_bundle : d->cred->ca_file;
    if (d->auth == DIGICERT_AUTH_CLIENT_CERT) {
        ho.client_cert = d->cred->client_cert;
        ho.client_key = d->cred->client_key;
        ho.client_key_password = d->cred->client_key_password;
    }
    ho.timeout_ms = conf->timeout_ms;
    ho.redact = digicert_redact;
    ho.tag = "digicert";
    rc = p11p_http_new(&ho, &d->http);
    if (rc != P11P_OK) {
        goto out;
    }
    *out_state = d;
    d = NULL;
    rc = P11P_OK;
out:
    kvlist_clear(&extra);
    digicert_free(d);
    return rc;
}

static void digicert_close(void *state)
{
    digicert_free(state);
}

static void protocol(struct digicert *d, const char *op,
                     struct p11p_remote_result *res, const char *why)
{
    res->status = P11P_ERR_PROTOCOL;
    snprintf(res->message, sizeof(res->message),
             "digicert %s: malformed reply: %s", op, why);
    /* "find-probe": a search result tried against the key; another key's
     * certificate is expected there, not an error. */
    if (strcmp(op, "find-probe") == 0) {
        P11P_DEBUG("remote", "token \"%s\": %s", d->token, res->message);
    } else {
        P11P_ERROR("remote", "token \"%s\": %s", d->token, res->message);
    }
}

static bool is_json(const struct p11p_http_resp *resp)
{
    return strstr(resp->content_type, "json") != NULL;
}

static enum p11p_status
build_body(struct digicert *d, const struct p11p_enroll_req *req, char **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct kvlist attrs;
    struct kvlist dev;
    char *csr = NULL;
    char mac[32];

    memset(&attrs, 0, sizeof(attrs));
    memset(&dev, 0, sizeof(dev));
    *out = NULL;
    rc = p11p_chain_csr_encode(req->csr_der, req->csr_len, true, &csr);
    if (rc != P11P_OK) {
        goto out;
    }
    if (req->subject != NULL) {
        rc = map_names(d->token, req->subject, '=', &attrs);
    } else if (req->label != NULL) {
        rc = kvlist_add(&attrs, "subject.common_name", 19, req->label,
                        strlen(req->label));
    }
    if (rc != P11P_OK) {
        P11P_ERROR(
            "remote",
            "token \"%s\": digicert: cannot read the subject DN of the order",
            d->token);
        goto out;
    }
    if (req->sans != NULL
        && (rc = map_names(d->token, req->sans, ':', &attrs)) != P11P_OK) {
        P11P_ERROR("remote",
                   "token \"%s\": digicert: cannot read the SANs of the order",
                   d->token);
        goto out;
    }
    for (size_t i = 0; i < d->n_attrs; i++) {
        rc = kvlist_add(&attrs, d->attrs[i].id, strlen(d->attrs[i].id),
                        d->attrs[i].value, strlen(d->attrs[i].value));
        if (rc != P11P_OK) {
            goto out;
        }
    }
    if (req->mac != NULL && req->mac[0] != '\0') {
        p11p_str_copy(mac, sizeof(mac), req->mac);
        if ((rc = kvlist_add(&dev, "DEVICE_IDENTIFIER", 17, mac, strlen(mac)))
            != P11P_OK) {
            goto out;
        }
    }
    if (d->token_attribute != NULL && req->request_token != NULL) {
        rc = kvlist_add(d->token_in_device ? &dev : &attrs, d->token_attribute,
                        strlen(d->token_attribute), req->request_token,
                        strlen(req->request_token));
        if (rc != P11P_OK) {
            goto out;
        }
    }
    rc = p11p_digicert_json_build(csr, req_profile(d, req->profile), attrs.kv,
                                  attrs.n, dev.kv, dev.n, out);
out:
    free(csr);
    kvlist_clear(&attrs);
    kvlist_clear(&dev);
    return rc;
}

enum p11p_status p11p_digicert_build_body(struct digicert *d,
                                          const struct p11p_enroll_req *req,
                                          char **out)
{
    return build_body(d, req, out);
}

const char *p11p_digicert_req_profile(const struct digicert *d,
                                      const char *profile)
{
    return req_profile(d, profile);
}

void p11p_digicert_protocol(struct digicert *d, const char *op,
                            struct p11p_remote_result *res, const char *why)
{
    protocol(d, op, res, why);
}

/* Fills res from a record (single get or search). */
static enum p11p_status from_record(struct digicert *d, const char *op,
                                    const struct digicert_record *r,
                                    const unsigned char *expect_spki,
                                    struct p11p_remote_result *res)
{
    enum p11p_remote_state st = P11P_REMOTE_PROCESSING;
    char why[ERRSZ];
    enum p11p_status rc;

    p11p_str_copy(res->portal_id, sizeof(res->portal_id), r->id);
    if (r->status[0] == '\0' || !p11p_digicert_json_state(r->status, &st)) {
        st = r->pem != NULL ? P11P_REMOTE_ISSUED : P11P_REMOTE_PROCESSING;
        if (r->status[0] != '\0') {
            P11P_WARN(
                "remote",
                "token \"%s\": digicert certificate %s has unknown status '%s'",
                d->token, r->id, r->status);
        }
    }
    res->state = st;
    snprintf(res->message, sizeof(res->message),
             "digicert certificate %s: status %s%s%s", r->id,
             r->status[0] != '\0' ? r->status : "(none)",
             r->reason[0] != '\0' ? ": " : "", r->reason);
    if (st == P11P_REMOTE_ISSUED) {
        if (r->pem == NULL) {
            /* Issued but no body yet: collect again later. */
            res->state = P11P_REMOTE_PROCESSING;
        } else {
            rc = p11p_chain_parse((const unsigned char *)r->pem, strlen(r->pem),
                                  expect_spki, res, why, sizeof(why));
            if (rc != P11P_OK) {
                protocol(d, op, res, why);
                return rc;
            }
        }
    }
    res->status = P11P_OK;
    return P11P_OK;
}

/* Fills res from a request/renew answer (§2.4). */
static enum p11p_status from_answer(struct digicert *d, const char *op,
                                    const struct digicert_answer *a,
                                    struct p11p_remote_result *res)
{
    enum p11p_remote_state st = P11P_REMOTE_PROCESSING;
    char why[ERRSZ];
    enum p11p_status rc;

    if (a->certificate_id[0] != '\0') {
        p11p_str_copy(res->portal_id, sizeof(res->portal_id),
                      a->certificate_id);
    } else {
        snprintf(res->portal_id, sizeof(res->portal_id),
                 DIGICERT_REQ_PREFIX "%s", a->request_id);
    }
    if (a->pem != NULL) {
        rc = p11p_chain_parse((const unsigned char *)a->pem, strlen(a->pem),
                              NULL, res, why, sizeof(why));
        if (rc != P11P_OK) {
            protocol(d, op, res, why);
            return rc;
        }
        res->state = P11P_REMOTE_ISSUED;
    } else {
        if (strcasecmp(a->result, "FAILURE") == 0) {
            st = P11P_REMOTE_REJECTED;
        } else if (a->status[0] != '\0'
                   && !p11p_digicert_json_state(a->status, &st)) {
            P11P_WARN(
                "remote",
                "token \"%s\": digicert %s: unknown status '%s'; treated as processing",
                d->token, op, a->status);
            st = P11P_REMOTE_PROCESSING;
        }
        if (st == P11P_REMOTE_ISSUED) {
            st = P11P_REMOTE_PROCESSING; /* issued but no pem: collect */
        }
        res->state = st;
    }
    snprintf(res->message, sizeof(res->message),
             "digicert %s: request %s status %s result %s", op, a->request_id,
             a->status, a->result);
    res->status = P11P_OK;
    return P11P_OK;
}

/* Sends request or renew; a 2xx reply that cannot be read means the order
 * may exist (SENT_UNKNOWN). */
static enum p11p_status submit(struct digicert *d, const char *op,
                               const char *method, const char *path,
                               const char *body, struct p11p_remote_result *res)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_http_resp resp;
    struct digicert_answer a;
    char why[ERRSZ];

    memset(&a, 0, sizeof(a));
    rc = p11p_digicert_api_call(d, op, method, path, body, false, &resp, res);
    if (rc != P11P_OK) {
        goto out;
    }
    if (resp.status < 200 || resp.status > 299) {
        rc = p11p_digicert_api_fail(d, op, &resp, false, res);
        goto out;
    }
    if (!is_json(&resp)
        || p11p_digicert_json_answer((const char *)resp.body.data,
                                     resp.body.len, &a, why, sizeof(why))
               != P11P_OK) {
        res->status = P11P_ERR_SENT_UNKNOWN;
        snprintf(
            res->message, sizeof(res->message),
            "digicert %s: HTTP %ld but the reply cannot be read (%s); the order may exist: reconcile",
            op, resp.status, is_json(&resp) ? why : "not JSON");
        P11P_ERROR("remote", "token \"%s\": %s", d->token, res->message);
        rc = res->status;
        goto out;
    }
    rc = from_answer(d, op, &a, res);
    if (rc == P11P_ERR_PROTOCOL) {
        /* The certificate exists but its PEM is unusable: collect it
         * again later rather than order again. */
        res->status = P11P_OK;
        res->state = P11P_REMOTE_PROCESSING;
        rc = P11P_OK;
    }
    if (rc == P11P_OK) {
        P11P_INFO("remote", "token \"%s\": digicert %s: order %s (%s)",
                  d->token, op, res->portal_id, a.status);
    }
out:
    p11p_digicert_json_answer_clear(&a);
    p11p_http_resp_free(&resp);
    return rc;
}

static enum p11p_status digicert_enroll(void *state,
                                        const struct p11p_enroll_req *req,
                                        struct p11p_remote_result *res)
{
    struct digicert *d = state;
    enum p11p_status rc;
    char *body = NULL;

    rc = build_body(d, req, &body);
    if (rc != P11P_OK) {
        res->status = rc;
        snprintf(res->message, sizeof(res->message),
                 "digicert enroll: cannot build the request");
        return rc;
    }
    rc = submit(d, "enroll", "POST", "/iot/api/v1/certificate", body, res);
    free(body);
    return rc;
}

static enum p11p_status get_record(struct digicert *d, const char *id,
                                   const unsigned char *expect_spki,
                                   struct p11p_remote_result *res)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_http_resp resp;
    struct digicert_record r;
    char path[256];
    char eid[200];
    char why[ERRSZ];

    memset(&r, 0, sizeof(r));
    memset(&resp, 0, sizeof(resp));
    if (p11p_http_escape(id, eid, sizeof(eid)) != P11P_OK) {
        res->status = P11P_ERR_INVALID_INPUT;
        return res->status;
    }
    snprintf(path, sizeof(path), "/iot/api/v1/certificate/%s", eid);
    rc = p11p_digicert_api_call(d, "collect", "GET", path, NULL, true, &resp,
                                res);
    if (rc != P11P_OK) {
        goto out;
    }
    if (resp.status == 404) {
        rc = p11p_digicert_api_fail(d, "collect", &resp, true, res);
        res->status = rc = P11P_ERR_NOT_FOUND;
        res->state = P11P_REMOTE_UNKNOWN;
        goto out;
    }
    if (resp.status != 200) {
        rc = p11p_digicert_api_fail(d, "collect", &resp, true, res);
        goto out;
    }
    if (!is_json(&resp)) {
        protocol(d, "collect", res, "reply is not JSON");
        rc = res->status;
        goto out;
    }
    rc = p11p_digicert_json_record((const char *)resp.body.data, resp.body.len,
                                   &r, why, sizeof(why));
    if (rc != P11P_OK) {
        protocol(d, "collect", res, why);
        goto out;
    }
    rc = from_record(d, "collect", &r, expect_spki, res);
out:
    p11p_digicert_json_record_clear(&r);
    p11p_http_resp_free(&resp);
    return rc;
}

static enum p11p_status digicert_collect(void *state, const char *portal_id,
                                         struct p11p_remote_result *res)
{
    struct digicert *d = state;
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_http_resp resp;
    struct digicert_answer a;
    char path[256];
    char eid[200];
    char why[ERRSZ];
    size_t plen = strlen(DIGICERT_REQ_PREFIX);

    memset(&a, 0, sizeof(a));
    memset(&resp, 0, sizeof(resp));
    if (strncmp(portal_id, DIGICERT_REQ_PREFIX, plen) != 0) {
        return get_record(d, portal_id, NULL, res);
    }
    /* Only a request id so far ([I] §2.4 unknowns): poll the request. */
    if (p11p_http_escape(portal_id + plen, eid, sizeof(eid)) != P11P_OK) {
        res->status = P11P_ERR_INVALID_INPUT;
        return res->status;
    }
    snprintf(path, sizeof(path), "/iot/api/v1/certificate-request/%s", eid);
    rc = p11p_digicert_api_call(d, "collect", "GET", path, NULL, true, &resp,
                                res);
    if (rc != P11P_OK) {
        goto out;
    }
    if (resp.status != 200) {
        rc = p11p_digicert_api_fail(d, "collect", &resp, true, res);
        goto out;
    }
    if (!is_json(&resp)
        || p11p_digicert_json_answer((const char *)resp.body.data,
                                     resp.body.len, &a, why, sizeof(why))
               != P11P_OK) {
        protocol(d, "collect", res, is_json(&resp) ? why : "reply is not JSON");
        rc = res->status;
        goto out;
    }
    if (a.certificate_id[0] != '\0' && a.pem == NULL) {
        rc = get_record(d, a.certificate_id, NULL, res);
        goto out;
    }
    rc = from_answer(d, "collect", &a, res);
out:
    p11p_digicert_json_answer_clear(&a);
    p11p_http_resp_free(&resp);
    return rc;
}

/* Reconciliation (§2.5): the profile's certificates are listed and the
 * issued ones matched by public key. A pending record has no body and
 * cannot be matched: while one exists the outcome stays unknown
 * (SENT_UNKNOWN), so that the engine asks again later instead of ordering
 * twice. */
/* Whether a record's certificate was issued before the order was created
 * (created: unix seconds, 0 unknown), with ten minutes for clock skew:
 * then it is another order's (a device re-keyed under its common name),
 * not this order's certificate spoiled in transfer. */
static bool record_predates(const struct digicert_record *r, int64_t created)
{
    struct p11p_remote_result c;
    const unsigned char *p;
    X509 *x = NULL;
    time_t limit = (time_t)(created - 600);
    char why[128];
    bool before = false;

    if (r->pem == NULL || created <= 600) {
        return false;
    }
    memset(&c, 0, sizeof(c));
    if (p11p_chain_parse((const unsigned char *)r->pem, strlen(r->pem), NULL,
                         &c, why, sizeof(why))
        == P11P_OK) {
        p = c.cert_der;
        x = d2i_X509(NULL, &p, (long)c.cert_len);
    }
    if (x != NULL) {
        before = X509_cmp_time(X509_get0_notBefore(x), &limit) < 0;
    }
    X509_free(x);
    p11p_remote_result_clear(&c);
    return before;
}

static enum p11p_status find_in_profile(struct digicert *d,
                                        const char *profile_id,
                                        const char *common_name,
                                        int64_t created,
                                        const unsigned char pubkey_sha256[32],
                                        struct p11p_remote_result *res)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    bool complete = false;
    struct p11p_http_resp resp;
    struct digicert_record *recs = NULL;
    size_t n = 0;
    long long total = -1;
    unsigned offset = 0;
    unsigned unmatched_pending = 0;
    const unsigned limit = 100;
    char path[512];
    char eprof[256];
    char why[ERRSZ];

    memset(&resp, 0, sizeof(resp));
    if (pubkey_sha256 == NULL
        || p11p_http_escape(profile_id, eprof, sizeof(eprof)) != P11P_OK) {
        res->status = P11P_ERR_INVALID_INPUT;
        return res->status;
    }
    while (offset < d->find_max_items) {
        p11p_digicert_json_records_free(recs, n);
        recs = NULL;
        n = 0;
        p11p_http_resp_free(&resp);
        snprintf(
            path, sizeof(path),
            "/iot/api/v1/certificate?enrollment_profile_id=%s&offset=%u&limit=%u",
            eprof, offset, limit);
        rc = p11p_digicert_api_call(d, "find", "GET", path, NULL, true, &resp,
                                    res);
        if (rc != P11P_OK) {
            goto out;
        }
        if (resp.status != 200) {
            rc = p11p_digicert_api_fail(d, "find", &resp, true, res);
            goto out;
        }
        if (!is_json(&resp)) {
            protocol(d, "find", res, "reply is not JSON");
            rc = res->status;
            goto out;
        }
        rc = p11p_digicert_json_search((const char *)resp.body.data,
                                       resp.body.len, &recs, &n, &total, why,
                                       sizeof(why));
        if (rc != P11P_OK) {
            protocol(d, "find", res, why);
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            enum p11p_remote_state st = P11P_REMOTE_PROCESSING;
            struct p11p_remote_result probe;
            if (recs[i].pem == NULL) {
                if (!p11p_digicert_json_state(recs[i].status, &st)
                    || st == P11P_REMOTE_PENDING_APPROVAL
                    || st == P11P_REMOTE_PROCESSING) {
                    unmatched_pending++;
                }
                continue;
            }
            memset(&probe, 0, sizeof(probe));
            if (from_record(d, "find-probe", &recs[i], pubkey_sha256, &probe)
                != P11P_OK) {
                /* A certificate with the order's common name that is not
                 * the key's may be ours spoiled in transfer (absence is
                 * not proven), unless it was issued before the order
                 * existed: then it is another order's (a device re-keyed
                 * under its name). */
                if (common_name != NULL
                    && strcmp(recs[i].common_name, common_name) == 0
                    && !record_predates(&recs[i], created)) {
                    unmatched_pending++;
                }
            } else if (probe.cert_der != NULL) {
                p11p_remote_result_clear(res);
                *res = probe;
                P11P_INFO(
                    "remote",
                    "token \"%s\": reconciliation found digicert certificate %s by public key",
                    d->token, res->portal_id);
                rc = P11P_OK;
                goto out;
            }
            p11p_remote_result_clear(&probe);
        }
        offset += (unsigned)n;
        if (n < limit || (total >= 0 && offset >= (unsigned long long)total)) {
            complete = true;
            break;
        }
    }
    if (!complete) {
        /* Not found among the first find_max_items: absence is not proven,
         * and a second order must not follow from a short search. */
        res->status = P11P_ERR_SENT_UNKNOWN;
        snprintf(res->message, sizeof(res->message),
                 "digicert find: no match among the first %u certificates of "
                 "profile %s; absence not proven (raise find_max_items)",
                 d->find_max_items, profile_id);
        P11P_WARN("remote", "token \"%s\": %s", d->token, res->message);
        rc = res->status;
        goto out;
    }
    if (unmatched_pending > 0) {
        res->status = P11P_ERR_SENT_UNKNOWN;
        snprintf(
            res->message, sizeof(res->message),
            "digicert find: %u pending or unverifiable orders of profile %s cannot be matched by key yet; reconcile again later",
            unmatched_pending, profile_id);
        P11P_WARN("remote", "token \"%s\": %s", d->token, res->message);
        rc = res->status;
        goto out;
    }
    res->state = P11P_REMOTE_UNKNOWN;
    res->status = P11P_OK;
    snprintf(res->message, sizeof(res->message),
             "digicert: no certificate of profile %s has this public key",
             profile_id);
    rc = P11P_OK;
out:
    p11p_digicert_json_records_free(recs, n);
    p11p_http_resp_free(&resp);
    return rc;
}

static enum p11p_status digicert_find(void *state, const char *request_token,
                                      const unsigned char pubkey_sha256[32],
                                      struct p11p_remote_result *res)
{
    (void)request_token;
    return find_in_profile(state, ((struct digicert *)state)->profile_id, NULL,
                           0, pubkey_sha256, res);
}

/* Reconciliation with the order's request: its profile first, then the
 * token's current one if that differs (the configuration may have changed
 * while the order's outcome was unknown). */
static enum p11p_status digicert_find_req(void *state,
                                          const struct p11p_enroll_req *req,
                                          const unsigned char pubkey_sha256[32],
                                          struct p11p_remote_result *res)
{
    struct digicert *d = state;
    const char *p = req_profile(d, req->profile);
    const char *cn = NULL;
    struct kvlist names;
    enum p11p_status rc;

    memset(&names, 0, sizeof(names));
    if (req->subject != NULL
        && map_names(d->token, req->subject, '=', &names) == P11P_OK) {
        for (size_t i = 0; i < names.n; i++) {
            if (strcmp(names.kv[i].id, "subject.common_name") == 0) {
                cn = names.kv[i].value;
            }
        }
    } else if (req->subject == NULL) {
        cn = req->label;
    }
    rc = find_in_profile(d, p, cn, req->created, pubkey_sha256, res);
    if (rc == P11P_OK && res->state == P11P_REMOTE_UNKNOWN
        && strcmp(p, d->profile_id) != 0) {
        p11p_remote_result_clear(res);
        memset(res, 0, sizeof(*res));
        rc = find_in_profile(d, d->profile_id, cn, req->created, pubkey_sha256,
                             res);
    }
    kvlist_clear(&names);
    return rc;
}

static enum p11p_status find_by_serial(struct digicert *d,
                                       const char *serial_hex, char *id,
                                       size_t idsz,
                                       struct p11p_remote_result *res)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_http_resp resp;
    struct digicert_record *recs = NULL;
    size_t n = 0;
    long long total = -1;
    char path[256];
    char up[80];
    char why[ERRSZ];
    size_t k = 0;

    memset(&resp, 0, sizeof(resp));
    /* Upper-case hex without separators (§2.13.6). */
    for (const char *p = serial_hex; *p != '\0' && k + 1 < sizeof(up); p++) {
        if (*p != ':') {
            up[k++] = (char)toupper((unsigned char)*p);
        }
    }
    up[k] = '\0';
    snprintf(path, sizeof(path),
             "/iot/api/v1/certificate?serial_number=%s&limit=1", up);
    rc = p11p_digicert_api_call(d, "revoke", "GET", path, NULL, true, &resp,
                                res);
    if (rc != P11P_OK) {
        goto out;
    }
    if (resp.status != 200) {
        rc = p11p_digicert_api_fail(d, "revoke", &resp, true, res);
        goto out;
    }
    rc = p11p_digicert_json_search((const char *)resp.body.data, resp.body.len,
                                   &recs, &n, &total, why, sizeof(why));
    if (rc != P11P_OK) {
        protocol(d, "revoke", res, why);
        goto out;
    }
    if (n == 0) {
        res->status = rc = P11P_ERR_NOT_FOUND;
        snprintf(res->message, sizeof(res->message),
                 "digicert revoke: no certificate with serial %s", up);
        P11P_ERROR("remote", "token \"%s\": %s", d->token, res->message);
        goto out;
    }
    p11p_str_copy(id, idsz, recs[0].id);
    rc = P11P_OK;
out:
    p11p_digicert_json_records_free(recs, n);
    p11p_http_resp_free(&resp);
    return rc;
}

static enum p11p_status digicert_revoke(void *state, const char *portal_id,
                                        const char *serial_hex,
                                        enum p11p_revoke_reason reason,
                                        struct p11p_remote_result *res)
{
    struct digicert *d = state;
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_http_resp resp;
    const char *rname = "unspecified";
    char id[128];
    char eid[200];
    char path[256];
    char body[96];

    memset(&resp, 0, sizeof(resp));
    for (size_t i = 0; i < sizeof(reason_map) / sizeof(reason_map[0]); i++) {
        if (reason_map[i].reason == reason) {
            rname = reason_map[i].name;
        }
    }
    if (portal_id != NULL && portal_id[0] != '\0') {
        p11p_str_copy(id, sizeof(id), portal_id);
    } else if (serial_hex != NULL && serial_hex[0] != '\0') {
        rc = find_by_serial(d, serial_hex, id, sizeof(id), res);
        if (rc != P11P_OK) {
            return rc;
        }
    } else {
        res->status = P11P_ERR_INVALID_INPUT;
        snprintf(res->message, sizeof(res->message),
                 "digicert revoke: needs a certificate id or a serial");
        return res->status;
    }
    if (p11p_http_escape(id, eid, sizeof(eid)) != P11P_OK) {
        res->status = P11P_ERR_INVALID_INPUT;
        return res->status;
    }
    snprintf(path, sizeof(path), "/iot/api/v1/certificate/%s/revoke", eid);
    snprintf(body, sizeof(body), "{\"reason\":\"%s\"}", rname);
    p11p_str_copy(res->portal_id, sizeof(res->portal_id), id);
    rc = p11p_digicert_api_call(d, "revoke", "PUT", path, body, true, &resp,
                                res);
    if (rc != P11P_OK) {
        goto out;
    }
    if (resp.status == 200 || resp.status == 204) {
        res->state = P11P_REMOTE_REVOKED;
        res->status = rc = P11P_OK;
        goto out;
    }
    if (resp.status == 400) {
        /* Already revoked (a repeat after an unknown outcome) is success. */
        struct p11p_remote_result probe;
        memset(&probe, 0, sizeof(probe));
        if (get_record(d, id, NULL, &probe) == P11P_OK
            && probe.state == P11P_REMOTE_REVOKED) {
            p11p_remote_result_clear(&probe);
            res->state = P11P_REMOTE_REVOKED;
            res->status = rc = P11P_OK;
            goto out;
        }
        p11p_remote_result_clear(&probe);
    }
    rc = p11p_digicert_api_fail(d, "revoke", &resp, true, res);
out:
    p11p_http_resp_free(&resp);
    return rc;
}

static enum p11p_status digicert_renew(void *state, const char *portal_id,
                                       const struct p11p_enroll_req *req,
                                       struct p11p_remote_result *res)
{
    struct digicert *d = state;
    enum p11p_status rc;
    char *body = NULL;
    char path[256];
    char eid[200];

    if (p11p_http_escape(portal_id, eid, sizeof(eid)) != P11P_OK) {
        res->status = P11P_ERR_INVALID_INPUT;
        return res->status;
    }
    if (req != NULL && req->csr_der != NULL) {
        rc = build_body(d, req, &body);
        if (rc != P11P_OK) {
            res->status = rc;
            return rc;
        }
    }
    snprintf(path, sizeof(path), "/iot/api/v1/certificate/%s/renew", eid);
    rc = submit(d, "renew", "PUT", path, body != NULL ? body : "{}", res);
    free(body);
    return rc;
}

const struct p11p_driver p11p_driver_digicert = {
    .name = "digicert",
    .open = digicert_open,
    .close = digicert_close,
    .enroll = digicert_enroll,
    .collect = digicert_collect,
    .find = digicert_find,
    .find_req = digicert_find_req,
    .revoke = digicert_revoke,
    .renew = digicert_renew,
    .trust = NULL, /* no CA endpoint in the IoT API: trust_anchors */
    .batch_submit = p11p_digicert_batch_submit,   /* digicert_batch.c */
    .batch_collect = p11p_digicert_batch_collect, /* digicert_batch.c */
    .licences = p11p_digicert_licences,           /* digicert_batch.c */
};

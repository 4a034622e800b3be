/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the Sectigo driver: state, the request layer (sectigo_api.c) and
 * the reply parsers (sectigo_json.c). Not used outside remote/sectigo/.
 */
#ifndef P11P_REMOTE_SECTIGO_SECTIGO_INTERNAL_H
#define P11P_REMOTE_SECTIGO_SECTIGO_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/status.h"
#include "remote/cred.h"
#include "remote/driver.h"
#include "remote/http.h"

#define SECTIGO_MAX_CUSTOM   16
#define SECTIGO_TOKEN_PREFIX "p11portal-request-token="

struct sectigo_kv {
    char *name;
    char *value;
};

struct sectigo {
    char token[64]; /* token name, for log lines */
    char *base;     /* "https://host" or "https://host/private" */
    bool cert_auth; /* /private/api + client certificate, no password */
    bool device;    /* device family instead of SSL */
    struct p11p_cred *cred;
    struct p11p_http *http;
    char *customer_uri;
    int64_t org_id;
    char *cert_type; /* profile id or name */
    unsigned term;
    char *comments;
    char *external_requester;
    char *token_field; /* custom field carrying the request token, or NULL */
    char *collect_format;
    bool collect_path_style;
    bool check_types;
    unsigned find_max_items;
    struct sectigo_kv custom[SECTIGO_MAX_CUSTOM];
    size_t n_custom;
    pthread_mutex_t lock; /* guards type_id */
    int64_t type_id;      /* resolved profile id, 0 until checked */
    unsigned type_term;   /* term to send when none is configured */
    /* The last successful /types and /customFields check (check_types):
     * the key kind it was for and when (monotonic ms). Within
     * SECTIGO_TYPES_TTL_MS the same kind of key is not checked again, so
     * a batch does not ask the portal twice more per device. */
    char checked_key[40];
    uint64_t checked_ms;
};

#define SECTIGO_TYPES_TTL_MS 300000u

/* ---- sectigo_api.c: one HTTP exchange ---- */

/* Performs METHOD base/api/<family>/v1<path>. On a transport failure fills
 * res (status, message) and returns it; OK when any HTTP reply arrived
 * (res->http_status set). resp must be freed by the caller. */
enum p11p_status p11p_sectigo_api_call(struct sectigo *s, const char *op,
                                       const char *method, const char *path,
                                       const char *body, bool idempotent,
                                       struct p11p_http_resp *resp,
                                       struct p11p_remote_result *res);

/* Same for a path outside the family ("/api/organization/v1"). */
enum p11p_status p11p_sectigo_api_call_abs(struct sectigo *s, const char *op,
                                           const char *method, const char *path,
                                           const char *body, bool idempotent,
                                           struct p11p_http_resp *resp,
                                           struct p11p_remote_result *res);

/* Turns a non-2xx reply into res->status/message (portal code and text),
 * logs it once, and returns the status. */
enum p11p_status p11p_sectigo_api_fail(struct sectigo *s, const char *op,
                                       const struct p11p_http_resp *resp,
                                       bool idempotent,
                                       struct p11p_remote_result *res);

/* True if the reply claims JSON; otherwise fills res with PROTOCOL. */
bool p11p_sectigo_api_want_json(struct sectigo *s, const char *op,
                                const struct p11p_http_resp *resp,
                                struct p11p_remote_result *res);

/* Fills res with PROTOCOL "malformed reply: why" and logs it. */
void p11p_sectigo_api_protocol(struct sectigo *s, const char *op,
                               struct p11p_remote_result *res, const char *why);

/* Checks profile, term and key type against /types and the mandatory
 * custom fields against /customFields (PORTALS.md 1.4.1-1.4.2); stores the
 * profile id and its default term in s. P11P_ERR_REJECTED with a clear
 * message when the order would be refused (nothing is ordered). */
enum p11p_status p11p_sectigo_api_check_types(struct sectigo *s,
                                              const char *key_alg,
                                              const char *key_param,
                                              struct p11p_remote_result *res);

/* Builds the JSON body of an enroll (PORTALS.md 1.4.3, 1.7) into a new
 * string. */
enum p11p_status
p11p_sectigo_api_build_enroll(struct sectigo *s,
                              const struct p11p_enroll_req *req,
                              int64_t type_id, unsigned dflt_term, char **out);

/* ---- sectigo_json.c: replies into C ---- */

struct sectigo_details {
    char id[64];
    char status[64];
    char serial[128];
    char token_value[128];   /* of the token custom field, or "" */
    bool comments_has_token; /* filled by the caller's token check */
    char comments[1100];
    char reason[256]; /* declineReason / rejectReason, or "" */
};

struct sectigo_type_check {
    const char *profile; /* id or name */
    unsigned term;       /* 0: not checked */
    const char *key_alg; /* "RSA", "EC", ... */
    const char *key_param;
};

/* {"code":-16,"description":"..."} (+ optional details). */
enum p11p_status p11p_sectigo_json_error(const char *body, size_t len,
                                         int64_t *code, char *desc,
                                         size_t descsz);

/* SSL {"sslId":55,"renewId":".."} or device {"deviceCertId":84,
 * "status":"APPROVED",...}; renewById {"sslId":n} too. */
enum p11p_status p11p_sectigo_json_enroll(const char *body, size_t len,
                                          bool device, char *id, size_t idsz,
                                          char *status, size_t statussz,
                                          char *why, size_t whysz);

enum p11p_status p11p_sectigo_json_details(const char *body, size_t len,
                                           const char *token_field,
                                           struct sectigo_details *out,
                                           char *why, size_t whysz);

/* Checks profile, term and key type against /types. P11P_OK with the
 * profile id and the term to send (want->term, or the profile's first term
 * when want->term is 0; 0 if the profile lists none), P11P_ERR_REJECTED
 * with a clear reason, PROTOCOL for a bad body. */
enum p11p_status p11p_sectigo_json_types(const char *body, size_t len,
                                         const struct sectigo_type_check *want,
                                         int64_t *out_id, unsigned *out_term,
                                         char *why, size_t whysz);

/* Checks that every mandatory custom field is among names. */
enum p11p_status p11p_sectigo_json_custom_fields(const char *body, size_t len,
                                                 const char *const *names,
                                                 size_t n_names, char *why,
                                                 size_t whysz);

/* A list page: ids into ids[max][64], count in *n. */
enum p11p_status p11p_sectigo_json_list(const char *body, size_t len,
                                        bool device, char (*ids)[64],
                                        size_t max, size_t *n, char *why,
                                        size_t whysz);

/* Status string (any case) to state; false if unknown. */
bool p11p_sectigo_json_state(const char *status, enum p11p_remote_state *out);

/* What a collect error code means (PORTALS.md §1.6): PROCESSING (retry
 * later), REVOKED, UNKNOWN (not found), or EXPIRED used as "hard error". */
enum sectigo_collect_class {
    SECTIGO_COLLECT_PENDING,
    SECTIGO_COLLECT_REVOKED,
    SECTIGO_COLLECT_NOT_FOUND,
    SECTIGO_COLLECT_ERROR,
};
enum sectigo_collect_class p11p_sectigo_json_collect_class(int64_t code);

#endif

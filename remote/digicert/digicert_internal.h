/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the DigiCert ONE IoT Trust Manager driver: state, the request
 * layer (digicert_api.c) and the reply parsers (digicert_json.c). Not used
 * outside remote/digicert/.
 */
#ifndef P11P_REMOTE_DIGICERT_DIGICERT_INTERNAL_H
#define P11P_REMOTE_DIGICERT_DIGICERT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/status.h"
#include "remote/cred.h"
#include "remote/driver.h"
#include "remote/http.h"

#define DIGICERT_MAX_ATTRS  24
#define DIGICERT_REQ_PREFIX "request:"

enum digicert_auth {
    DIGICERT_AUTH_API_KEY,
    DIGICERT_AUTH_PASSCODE,
    DIGICERT_AUTH_CLIENT_CERT,
};

struct digicert_kv {
    char *id;
    char *value;
};

struct digicert {
    char token[64];
    char *base; /* "https://host" */
    enum digicert_auth auth;
    struct p11p_cred *cred;
    struct p11p_http *http;
    char *profile_id;      /* enrollment_profile_id */
    bool profile_pinned;   /* enrollment_profile_id given: used for all */
    char *token_attribute; /* attribute id carrying the request token */
    bool token_in_device;  /* as a device attribute (else certificate) */
    unsigned find_max_items;
    struct digicert_kv attrs[DIGICERT_MAX_ATTRS]; /* static attributes */
    size_t n_attrs;
};

/* The answer of request and renew (PORTALS.md §2.4, §2.6). */
struct digicert_answer {
    char request_id[112]; /* fits "request:" + id in a portal_id */
    char status[64];
    char result[32];
    char certificate_id[128];
    char *pem; /* leaf + chain, or NULL when pending (owned) */
};

/* A certificate record (§2.5). */
struct digicert_record {
    char id[128];
    char status[64];
    char serial[128];
    char reason[256];      /* rejection_reason of a rejected request, or "" */
    char common_name[256]; /* of the record, or "" */
    char *pem; /* body + chain blobs concatenated, or NULL (owned) */
};

/* ---- digicert.c, for digicert_batch.c ---- */

/* The request body of one enrollment (§2.4 shape; new string). */
enum p11p_status p11p_digicert_build_body(struct digicert *d,
                                          const struct p11p_enroll_req *req,
                                          char **out);
/* The enrollment profile a request goes to (the order's, unless pinned). */
const char *p11p_digicert_req_profile(const struct digicert *d,
                                      const char *profile);
/* res: P11P_ERR_PROTOCOL "malformed reply: why" (logged). */
void p11p_digicert_protocol(struct digicert *d, const char *op,
                            struct p11p_remote_result *res, const char *why);

/* ---- digicert_batch.c: batch jobs (§2.9) and licences (driver.h) ---- */

enum p11p_status p11p_digicert_batch_submit(void *state,
                                            const struct p11p_enroll_req *reqs,
                                            size_t n,
                                            struct p11p_remote_result *res);
enum p11p_status p11p_digicert_batch_collect(void *state, const char *job_id,
                                             struct p11p_remote_result *items,
                                             size_t n,
                                             struct p11p_remote_result *res);
enum p11p_status p11p_digicert_licences(void *state, int64_t *left);

/* batch_collect with job_id "name:<request token>" looks the job up by the
 * name it was submitted with (reconciliation of an unknown outcome):
 * res->state UNKNOWN if the portal has no such job, else as for its id
 * (res->portal_id the job id). */
#define DIGICERT_JOB_NAME_PREFIX "name:"

/* ---- digicert_api.c ---- */

enum p11p_status p11p_digicert_api_call(struct digicert *d, const char *op,
                                        const char *method, const char *path,
                                        const char *body, bool idempotent,
                                        struct p11p_http_resp *resp,
                                        struct p11p_remote_result *res);

enum p11p_status p11p_digicert_api_fail(struct digicert *d, const char *op,
                                        const struct p11p_http_resp *resp,
                                        bool idempotent,
                                        struct p11p_remote_result *res);

/* ---- digicert_json.c ---- */

/* Both envelopes: {"errors":[{"code","message"}]} and
 * {"error":{"code","message"}} (§2.3); codes may be strings or numbers. */
enum p11p_status p11p_digicert_json_error(const char *body, size_t len,
                                          char *code, size_t codesz, char *msg,
                                          size_t msgsz);

enum p11p_status p11p_digicert_json_answer(const char *body, size_t len,
                                           struct digicert_answer *out,
                                           char *why, size_t whysz);
void p11p_digicert_json_answer_clear(struct digicert_answer *a);

/* One record; path "" for a single-certificate reply, "records[3]" in a
 * search reply. */
enum p11p_status p11p_digicert_json_record(const char *body, size_t len,
                                           struct digicert_record *out,
                                           char *why, size_t whysz);

/* A search page: records into a new array (free with
 * p11p_digicert_json_records_free), total (or -1). */
enum p11p_status p11p_digicert_json_search(const char *body, size_t len,
                                           struct digicert_record **out,
                                           size_t *n, long long *total,
                                           char *why, size_t whysz);
void p11p_digicert_json_records_free(struct digicert_record *r, size_t n);
void p11p_digicert_json_record_clear(struct digicert_record *r);

/* Status strings of requests and certificates (upper-case, any case
 * accepted) to a state; false if unknown. */
bool p11p_digicert_json_state(const char *status, enum p11p_remote_state *out);

/* Builds the request or renew body. attrs/n: certificate attributes
 * (id, value) in order; dev/ndev: device attributes. */
enum p11p_status p11p_digicert_json_build(const char *csr_pem,
                                          const char *profile_id,
                                          const struct digicert_kv *attrs,
                                          size_t n,
                                          const struct digicert_kv *dev,
                                          size_t ndev, char **out);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The portal driver seam (DESIGN.md "Remote drivers", STYLE.md 3.12). One
 * vtable per portal: local (embedded CA, default, offline), sectigo,
 * digicert. registry.c holds the table; adding a portal is a folder and a
 * row. Drivers never sleep and never retry on their own: the enrollment
 * engine owns retries and backoff; the outcome class is in the result.
 *
 * Threads: one struct p11p_remote may be used by several threads at once
 * (drivers guard their own state). Calls may block on the network up to the
 * token's timeout: never call with a lock held.
 */
#ifndef P11P_REMOTE_DRIVER_H
#define P11P_REMOTE_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/status.h"
#include "core/conf/conf.h"

struct p11p_remote;

/* What one enrollment asks for. */
struct p11p_enroll_req {
    const char *request_token; /* unique per order: sent to the portal where
                                  the API allows (comments, custom field) so
                                  reconciliation can find the order */
    const unsigned char *csr_der;
    size_t csr_len;
    const char *subject; /* expanded DN, "CN=..,O=.." */
    const char *sans;    /* "DNS:a,IP:b" or NULL */
    const char *profile; /* NULL: the token's / driver's default */
    unsigned term_days;  /* 0: default */
    const char *label;
    const char *mac; /* or NULL */
    /* When the order was created (unix seconds; 0 unknown): reconciliation
     * (find_req) knows that a certificate issued well before it is not
     * this order's. */
    int64_t created;
    /* renew only: the CSR is for a new key. A portal renew call that
     * reuses the old CSR cannot serve it: such a driver answers
     * P11P_ERR_UNSUPPORTED without sending anything, and the engine
     * enrolls the renewal as a new order instead. */
    bool new_key;
};

/* Where the portal says an order is. */
enum p11p_remote_state {
    P11P_REMOTE_UNKNOWN = 0, /* not found (reconcile: never arrived) */
    P11P_REMOTE_PENDING_APPROVAL,
    P11P_REMOTE_PROCESSING,
    P11P_REMOTE_ISSUED,
    P11P_REMOTE_REJECTED,
    P11P_REMOTE_REVOKED,
    P11P_REMOTE_EXPIRED,
};

/* The outcome of one driver call. status classifies failures:
 * P11P_ERR_NOT_SENT (provably never reached the portal, safe to retry),
 * P11P_ERR_SENT_UNKNOWN (may have reached it: reconcile before sending
 * again), P11P_ERR_REJECTED (a 4xx business refusal, message says why),
 * P11P_ERR_PORTAL_AUTH, P11P_ERR_RATE_LIMITED (retry_after_s set),
 * P11P_ERR_PROTOCOL (a reply we cannot trust). */
struct p11p_remote_result {
    enum p11p_status status;
    long http_status; /* 0 if no HTTP (local) */
    unsigned retry_after_s;
    enum p11p_remote_state state;
    char portal_id[128];     /* the portal's order / certificate id */
    char message[512];       /* portal code and text, for logs and the order
                                object's last error */
    unsigned char *cert_der; /* leaf when ISSUED (owned) */
    size_t cert_len;
    unsigned char **chain_der; /* issuers, leaf's issuer first (owned) */
    size_t *chain_lens;
    size_t chain_n;
};

/* Frees owned fields and zeroes r. NULL-safe. */
void p11p_remote_result_clear(struct p11p_remote_result *r);

/* Appends one DER certificate to r's chain (copies). */
enum p11p_status p11p_remote_result_add_chain(struct p11p_remote_result *r,
                                              const unsigned char *der,
                                              size_t len);

/* RFC 5280 CRLReason values. */
enum p11p_revoke_reason {
    P11P_REVOKE_UNSPECIFIED = 0,
    P11P_REVOKE_KEY_COMPROMISE = 1,
    P11P_REVOKE_CA_COMPROMISE = 2,
    P11P_REVOKE_AFFILIATION_CHANGED = 3,
    P11P_REVOKE_SUPERSEDED = 4,
    P11P_REVOKE_CESSATION_OF_OPERATION = 5,
    P11P_REVOKE_CERTIFICATE_HOLD = 6,
    P11P_REVOKE_PRIVILEGE_WITHDRAWN = 9,
};

struct p11p_driver {
    const char *name;
    /* Creates the driver state for one token (reads credentials, no
     * network). */
    enum p11p_status (*open)(const struct p11p_conf_token *conf,
                             void **out_state);
    void (*close)(void *state);
    /* Submits a CSR. res->state is ISSUED (certificate and chain in res),
     * PENDING_APPROVAL or PROCESSING (collect later with portal_id), or the
     * call fails with the status classes above. */
    enum p11p_status (*enroll)(void *state, const struct p11p_enroll_req *req,
                               struct p11p_remote_result *res);
    /* Polls an order by portal id. */
    enum p11p_status (*collect)(void *state, const char *portal_id,
                                struct p11p_remote_result *res);
    /* Reconciliation: finds an order that may have been submitted, by the
     * request token or, failing that, by the SHA-256 of the public key
     * (SubjectPublicKeyInfo DER). res->state UNKNOWN if the portal has no
     * such order. */
    enum p11p_status (*find)(void *state, const char *request_token,
                             const unsigned char pubkey_sha256[32],
                             struct p11p_remote_result *res);
    enum p11p_status (*revoke)(void *state, const char *portal_id,
                               const char *serial_hex,
                               enum p11p_revoke_reason reason,
                               struct p11p_remote_result *res);
    /* Renews portal_id with a new CSR (or the same key's CSR). */
    enum p11p_status (*renew)(void *state, const char *portal_id,
                              const struct p11p_enroll_req *req,
                              struct p11p_remote_result *res);
    /* The CA certificates issued certificates chain to (trust anchors
     * first is not required); NULL op: use the token's trust_anchors. */
    enum p11p_status (*trust)(void *state, struct p11p_remote_result *res);
    /* Optional (NULL: find): reconciliation given the whole request the
     * order was submitted with (its profile may no longer be the token's
     * configured one). Same answers as find. */
    enum p11p_status (*find_req)(void *state, const struct p11p_enroll_req *req,
                                 const unsigned char pubkey_sha256[32],
                                 struct p11p_remote_result *res);
    /* True if no request outlives the calling process (an in-process CA):
     * an order whose outcome is unknown may be reconciled at once, without
     * waiting for a request that might still be at work at the portal. */
    bool in_process;

    /* ---- issue 7 (optional, NULL when the portal has no such API) ---- */

    /* Portal batch job: submits n requests as one job. res->portal_id is
     * the job id; res->state PENDING_APPROVAL, PROCESSING, or ISSUED when
     * the job completed at once (then collect it with batch_collect). The
     * same status classes as enroll (NOT_SENT, SENT_UNKNOWN, REJECTED...). */
    enum p11p_status (*batch_submit)(void *state,
                                     const struct p11p_enroll_req *reqs,
                                     size_t n, struct p11p_remote_result *res);
    /* Polls job job_id ("name:<job request token>" finds a job whose
     * submission outcome is unknown by the name it was created with;
     * UNKNOWN if the portal has none). res->state: the job's
     * (PENDING_APPROVAL, PROCESSING, ISSUED when complete, REJECTED with
     * res->message).
     * When ISSUED, items[i] (n of them, in submission order) get each
     * request's certificate and chain (state ISSUED) or its refusal. */
    enum p11p_status (*batch_collect)(void *state, const char *job_id,
                                      struct p11p_remote_result *items,
                                      size_t n, struct p11p_remote_result *res);
    /* Licences left (*left), P11P_ERR_UNSUPPORTED if unknown. */
    enum p11p_status (*licences)(void *state, int64_t *left);
};

/* ---- the instance the engine uses ---- */

/* Opens the driver named by conf->driver (P11P_ERR_CONFIG for an unknown
 * name, logged with the known names). */
enum p11p_status p11p_remote_open(const struct p11p_conf_token *conf,
                                  struct p11p_remote **out);
void p11p_remote_close(struct p11p_remote *r); /* NULL-safe */

const struct p11p_driver *p11p_remote_driver(const struct p11p_remote *r);
void *p11p_remote_state(const struct p11p_remote *r);

/* Looks a driver up by name; NULL if none. */
const struct p11p_driver *p11p_registry_find(const char *name);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared HTTP layer of the portal drivers (STYLE.md 3.12). The only
 * file that includes <curl/curl.h> is http.c.
 *
 * Policy: TLS peer and host verification always on (CA bundle optional),
 * client certificate and key from the credentials, connect and total
 * timeouts, proxy from the environment (libcurl's default), connections, DNS
 * and TLS sessions shared between the requests of one client through a
 * CURLSH handle with lock callbacks (any thread may call p11p_http_do; one
 * easy handle per request), bounded response bodies, and a debug callback
 * that logs requests and replies at debug level with credentials masked.
 *
 * Re-entrancy (STYLE.md 3.8): libcurl's OpenSSL back end creates its own
 * SSL_CTX in the default library context; CURLOPT_SSL_CTX_FUNCTION is called
 * after the SSL_CTX exists, so it cannot move it to our private libctx. The
 * guard is on the provider side: p11portal's provider registers every
 * algorithm with the property provider=p11portal, registers no digests,
 * ciphers or KDFs, and generates keys only when asked for explicitly
 * (DESIGN.md "OpenSSL 3 provider"), so a TLS handshake made here never
 * fetches an implementation of ours. Our own hashing (body digests in the
 * debug log) uses p11p_ossl_libctx().
 *
 * Fork: a client (and so a driver state) created before fork() must not be
 * used or freed in the child: freeing it would close the parent's TLS
 * connections (close_notify on shared sockets). The child discards it and
 * opens a new one (STYLE.md 3.8).
 *
 * Outcome classification, in one table in http.c:
 *  - resolve/connect/TLS handshake/peer verification failures: NOT_SENT;
 *  - send/receive errors, empty reply, partial body, a timeout after the
 *    request was written: SENT_UNKNOWN (a timeout before a byte was written
 *    is NOT_SENT);
 *  - a reply larger than the cap: PROTOCOL.
 * p11p_http_classify_status maps HTTP statuses (see there).
 */
#ifndef P11P_REMOTE_HTTP_H
#define P11P_REMOTE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/buf.h"
#include "core/base/secret.h"
#include "core/base/status.h"

/* Default cap of a response body. */
#define P11P_HTTP_MAX_BODY (1024u * 1024u)

struct p11p_http;

struct p11p_http_opts {
    const char *ca_bundle;   /* PEM file of trusted CAs; NULL: system store */
    const char *client_cert; /* PEM file or NULL */
    const char *client_key;  /* PEM file or NULL */
    const struct p11p_secret *client_key_password; /* or NULL */
    unsigned timeout_ms;         /* total per request; 0: 30000 */
    unsigned connect_timeout_ms; /* 0: min(10000, timeout_ms) */
    size_t max_body;             /* 0: P11P_HTTP_MAX_BODY */
    /* Extra header or JSON field names whose values the debug log masks
     * (NULL-terminated; may be NULL). Authorization, Cookie, password,
     * login, x-api-key and x-passcode are always masked. */
    const char *const *redact;
    const char *tag; /* "sectigo", "digicert": prefix of log lines */
};

/* One request header: the value is either plain or a secret. */
struct p11p_http_header {
    const char *name;
    const char *value;
    const struct p11p_secret *secret;
};

struct p11p_http_req {
    const char *method; /* "GET", "POST", "PUT", "HEAD", "DELETE" */
    const char *url;
    const struct p11p_http_header *headers;
    size_t n_headers;
    const char *body; /* NULL: no body */
    size_t body_len;
    const char *content_type; /* of the body; NULL: none */
    const char *accept;       /* NULL: no Accept header */
    bool idempotent;          /* may be repeated without a second effect */
    bool body_is_secret;      /* never log even the hash */
};

struct p11p_http_resp {
    long status;
    char content_type[128]; /* lower-case media type, no parameters */
    bool has_retry_after;
    unsigned retry_after_s;
    long long total_count; /* X-Total-Count, -1 if absent */
    char location[256];
    struct p11p_buf body; /* NUL-terminated when non-empty */
};

/* Creates a client. Copies what it needs from opts (the secret is copied
 * into a wiped buffer). No network. */
enum p11p_status p11p_http_new(const struct p11p_http_opts *opts,
                               struct p11p_http **out);

/* NULL-safe. */
void p11p_http_free(struct p11p_http *h);

/*
 * Performs one request (blocks up to the timeout; never retries, never
 * sleeps). Returns P11P_OK when an HTTP reply of any status arrived (resp is
 * filled; the caller frees it with p11p_http_resp_free even on failure), or
 * the transport class with a one-line reason in msg (no secrets).
 */
enum p11p_status p11p_http_do(struct p11p_http *h,
                              const struct p11p_http_req *req,
                              struct p11p_http_resp *resp, char *msg,
                              size_t msgsz);

void p11p_http_resp_free(struct p11p_http_resp *r); /* NULL-safe */

/*
 * Classifies a libcurl result code (an int so that callers need not include
 * curl). request_sent: whether any byte of the request was written.
 * P11P_OK for CURLE_OK.
 */
enum p11p_status p11p_http_classify_curl(int curl_code, bool request_sent);

/*
 * Classifies an HTTP status: 2xx OK; 401/403 PORTAL_AUTH; 408 and 429
 * RATE_LIMITED (408: the portal asks to send again later); other 4xx
 * REJECTED; 5xx: SENT_UNKNOWN for a non-idempotent request (a POST that
 * creates an order may have created it before failing: reconcile first)
 * and NOT_SENT for an idempotent one (nothing changed that a repeat could
 * duplicate, so it is as safe to retry as a request never sent); anything
 * else (1xx, 3xx, out of range) PROTOCOL.
 */
enum p11p_status p11p_http_classify_status(long status, bool idempotent);

/* Returns true if a header or JSON field of this name is masked in logs
 * (case-insensitive; extra may be NULL). */
bool p11p_http_is_redacted(const char *name, size_t len,
                           const char *const *extra);

/* Masks the values of redacted fields in a JSON text, in place
 * ("password":"x" becomes "password":"***"); for the debug log. */
void p11p_http_redact_json(char *text, size_t len, const char *const *extra);

/* Percent-encodes s for a URL path segment or query value into out.
 * P11P_ERR_INVALID_INPUT if it does not fit. */
enum p11p_status p11p_http_escape(const char *s, char *out, size_t outsz);

/* Sets a deadline (p11p_clock_deadline) for every request the calling
 * thread makes until it is cleared with 0: each request's timeouts are cut
 * to the time left, and once it has passed a request is not sent at all
 * (P11P_ERR_NOT_SENT). The enrollment engine sets it around background
 * collection, so that a slow or unreachable portal cannot hold up
 * C_OpenSession or C_FindObjectsInit for a whole request timeout. */
void p11p_http_thread_deadline(uint64_t deadline);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local driver: the embedded CA (local_ca.c) behind the portal driver
 * interface, offline and without an account. Everything lives in
 * <data_dir>/<token>.ca/.
 *
 * The ledger. Every enroll and renew call is recorded as a new order, as a
 * real portal would (a duplicate submission makes a duplicate order, so the
 * engine's "never ordered twice" can be tested against this driver), in
 * orders/<portal id>.rec (key=value lines: request_token, spki_sha256,
 * profile, state, collects, needed, message), with the CSR in <id>.csr and
 * the certificate in <id>.crt. Portal ids are "L-<n>" from orders/next_id.
 * Every ledger change happens under the folder's flock. find() scans the
 * records (by request token, else by the public key's SHA-256).
 *
 * Profiles (the token's `profile` key or CKA_P11PORTAL_PROFILE):
 *   default     issues at once: state ISSUED, certificate + [issuing, root].
 *   reject      refuses every request: P11P_ERR_REJECTED with a message.
 *   approval    PENDING_APPROVAL; issued at the 2nd collect, or as soon as
 *               the marker file orders/<portal id>.approved exists.
 *   approval:N  the same, issued at the Nth collect (N = 0: only the
 *               marker approves).
 * These let tests walk the pending and rejected flows without a simulator.
 */
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/base/log.h"
#include "core/base/ossl.h"
#include "core/base/str.h"
#include "remote/internal.h"
#include "remote/local/local_ca.h"

#define APPROVAL_COLLECTS_DEFAULT 2

struct local_state {
    char *token;        /* token name, for logs */
    char *dir;          /* <data_dir>/<token>.ca */
    char *orders_dir;   /* <dir>/orders */
    char *profile;      /* the token's default profile, or NULL */
    pthread_mutex_t mu; /* guards ca */
    struct p11p_local_ca *ca;
};

/* One ledger record. */
struct ledger_rec {
    char id[32];
    char request_token[64];
    char spki_hex[65];
    char profile[64];
    char state[32];
    unsigned collects;
    unsigned needed;
    char message[256];
};

enum profile_kind {
    PROFILE_ISSUE,
    PROFILE_REJECT,
    PROFILE_APPROVAL,
};

/* clang-format off */
static const struct {
    const char *name;
    enum profile_kind kind;
} profiles_table[] = {
    { "default",  PROFILE_ISSUE },
    { "reject",   PROFILE_REJECT },
    { "approval", PROFILE_APPROVAL },
};

/* Ledger state names <-> driver states. */
static const struct {
    const char *name;
    enum p11p_remote_state state;
} states_table[] = {
    { "pending_approval", P11P_REMOTE_PENDING_APPROVAL },
    { "issued",           P11P_REMOTE_ISSUED },
    { "rejected",         P11P_REMOTE_REJECTED },
    { "revoked",          P11P_REMOTE_REVOKED },
};
/* clang-format on */

static enum p11p_remote_state state_of(const char *name)
{
    for (size_t i = 0; i < sizeof(states_table) / sizeof(states_table[0]);
         i++) {
        if (strcmp(states_table[i].name, name) == 0) {
            return states_table[i].state;
        }
    }
    return P11P_REMOTE_UNKNOWN;
}

/* Parses "approval:N" and the plain names. */
static enum p11p_status parse_profile(const char *p, enum profile_kind *kind,
                                      unsigned *needed)
{
    uint64_t n = 0;
    *needed = APPROVAL_COLLECTS_DEFAULT;
    if (strncmp(p, "approval:", 9) == 0) {
        if (p11p_str_to_u64(p + 9, 0, 1000000, &n) != P11P_OK) {
            return P11P_ERR_INVALID_INPUT;
        }
        *kind = PROFILE_APPROVAL;
        *needed = (unsigned)n;
        return P11P_OK;
    }
    for (size_t i = 0; i < sizeof(profiles_table) / sizeof(profiles_table[0]);
         i++) {
        if (strcmp(profiles_table[i].name, p) == 0) {
            *kind = profiles_table[i].kind;
            return P11P_OK;
        }
    }
    return P11P_ERR_INVALID_INPUT;
}

/* ---- open / close ---- */

static void local_close(void *state)
{
    struct local_state *st = state;
    if (st == NULL) {
        return;
    }
    p11p_local_ca_free(st->ca);
    pthread_mutex_destroy(&st->mu);
    free(st->token);
    free(st->dir);
    free(st->orders_dir);
    free(st->profile);
    free(st);
}

static enum p11p_status local_open(const struct p11p_conf_token *conf,
                                   void **out_state)
{
    enum p11p_status rc = P11P_ERR_NOMEM;
    struct local_state *st = NULL;

    *out_state = NULL;
    if (conf->data_dir == NULL || conf->name == NULL) {
        P11P_ERROR("remote", "local driver: token has no data_dir");
        return P11P_ERR_CONFIG;
    }
    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        goto out;
    }
    pthread_mutex_init(&st->mu, NULL);
    st->token = strdup(conf->name);
    st->profile = p11p_str_dup(conf->profile);
    if (st->token == NULL || (conf->profile != NULL && st->profile == NULL)
        || asprintf(&st->dir, "%s/%s.ca", conf->data_dir, conf->name) < 0) {
        st->dir = NULL;
        goto out;
    }
    if (asprintf(&st->orders_dir, "%s/orders", st->dir) < 0) {
        st->orders_dir = NULL;
        goto out;
    }
    *out_state = st;
    st = NULL;
    rc = P11P_OK;
out:
    local_close(st);
    return rc;
}

/* Loads (creating on first use) the CA; folders 0700. */
static enum p11p_status get_ca(struct local_state *st)
{
    enum p11p_status rc = P11P_OK;

    pthread_mutex_lock(&st->mu);
    if (st->ca == NULL) {
        rc = p11p_local_ca_open(st->dir, st->token, &st->ca);
    }
    pthread_mutex_unlock(&st->mu);
    if (rc == P11P_OK && mkdir(st->orders_dir, 0700) != 0
        && access(st->orders_dir, W_OK) != 0) {
        P11P_ERROR("remote", "local CA: cannot create %s", st->orders_dir);
        rc = P11P_ERR_IO;
    }
    return rc;
}

/* ---- ledger ---- */

static bool is_portal_id(const char *id)
{
    if (id == NULL || strncmp(id, "L-", 2) != 0 || id[2] == '\0'
        || strlen(id) > 24) {
        return false;
    }
    for (const char *p = id + 2; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
    }
    return true;
}

static void order_path(const struct local_state *st, const char *id,
                       const char *ext, char *out, size_t size)
{
    snprintf(out, size, "%s/%s.%s", st->orders_dir, id, ext);
}

static enum p11p_status ledger_write(const struct local_state *st,
                                     const struct ledger_rec *r)
{
    char path[4096];
    char text[1024];
    int n = snprintf(text, sizeof(text),
                     "id=%s\nrequest_token=%s\nspki_sha256=%s\nprofile=%s\n"
                     "state=%s\ncollects=%u\nneeded=%u\nmessage=%s\n",
                     r->id, r->request_token, r->spki_hex, r->profile, r->state,
                     r->collects, r->needed, r->message);
    if (n < 0 || (size_t)n >= sizeof(text)) {
        return P11P_ERR_INTERNAL;
    }
    order_path(st, r->id, "rec", path, sizeof(path));
    return p11p_local_ca_write_file(path, text, (size_t)n);
}

/* Copies one "key=value" line's value into a field. */
static void rec_field(struct ledger_rec *r, const char *key, const char *val)
{
    struct {
        const char *key;
        char *field;
        size_t size;
    } fields[] = {
        { "id", r->id, sizeof(r->id) },
        { "request_token", r->request_token, sizeof(r->request_token) },
        { "spki_sha256", r->spki_hex, sizeof(r->spki_hex) },
        { "profile", r->profile, sizeof(r->profile) },
        { "state", r->state, sizeof(r->state) },
        { "message", r->message, sizeof(r->message) },
    };
    uint64_t n = 0;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (strcmp(fields[i].key, key) == 0) {
            p11p_str_copy(fields[i].field, fields[i].size, val);
            return;
        }
    }
    if (p11p_str_to_u64(val, 0, UINT32_MAX, &n) != P11P_OK) {
        return;
    }
    if (strcmp(key, "collects") == 0) {
        r->collects = (unsigned)n;
    } else if (strcmp(key, "needed") == 0) {
        r->needed = (unsigned)n;
    }
}

static enum p11p_status ledger_read_file(const char *path, struct ledger_rec *r)
{
    unsigned char *data = NULL;
    size_t len = 0;
    enum p11p_status rc = p11p_local_ca_read_file(path, &data, &len);
    char *line = NULL;
    char *next = NULL;

    memset(r, 0, sizeof(*r));
    if (rc != P11P_OK) {
        return rc;
    }
    for (line = (char *)data; line != NULL && *line != '\0'; line = next) {
        char *nl = strchr(line, '\n');
        next = nl != NULL ? nl + 1 : NULL;
        if (nl != NULL) {
            *nl = '\0';
        }
        char *eq = strchr(line, '=');
        if (eq != NULL) {
            *eq = '\0';
            rec_field(r, line, eq + 1);
        }
    }
    free(data);
    return r->id[0] != '\0' ? P11P_OK : P11P_ERR_CORRUPT;
}

static enum p11p_status ledger_read(const struct local_state *st,
                                    const char *id, struct ledger_rec *r)
{
    char path[4096];
    order_path(st, id, "rec", path, sizeof(path));
    return ledger_read_file(path, r);
}

/* Under the lock: the next portal id. */
static enum p11p_status ledger_next_id(const struct local_state *st,
                                       char out[32])
{
    char path[4096];
    unsigned char *data = NULL;
    size_t len = 0;
    uint64_t n = 1;
    char text[32];
    enum p11p_status rc;

    snprintf(path, sizeof(path), "%s/next_id", st->orders_dir);
    rc = p11p_local_ca_read_file(path, &data, &len);
    if (rc == P11P_OK) {
        if (len > 0 && data[len - 1] == '\n') {
            data[len - 1] = '\0';
        }
        if (p11p_str_to_u64((char *)data, 1, UINT64_MAX - 1, &n) != P11P_OK) {
            P11P_ERROR("remote", "local CA: %s is corrupt", path);
            free(data);
            return P11P_ERR_CORRUPT;
        }
    } else if (rc != P11P_ERR_NOT_FOUND) {
        return rc;
    }
    free(data);
    snprintf(out, 32, "L-%" PRIu64, n);
    snprintf(text, sizeof(text), "%" PRIu64 "\n", n + 1);
    return p11p_local_ca_write_file(path, text, strlen(text));
}

/* ---- results ---- */

static enum p11p_status fill_issued(struct local_state *st, const char *id,
                                    struct p11p_remote_result *res)
{
    char path[4096];
    const unsigned char *inter = NULL;
    const unsigned char *root = NULL;
    size_t inter_len = 0;
    size_t root_len = 0;
    enum p11p_status rc;

    order_path(st, id, "crt", path, sizeof(path));
    rc = p11p_local_ca_read_file(path, &res->cert_der, &res->cert_len);
    if (rc != P11P_OK) {
        P11P_ERROR("remote", "local CA: order %s: certificate file missing",
                   id);
        return rc == P11P_ERR_NOT_FOUND ? P11P_ERR_CORRUPT : rc;
    }
    p11p_local_ca_get0_chain(st->ca, &inter, &inter_len, &root, &root_len);
    rc = p11p_remote_result_add_chain(res, inter, inter_len);
    if (rc == P11P_OK) {
        rc = p11p_remote_result_add_chain(res, root, root_len);
    }
    return rc;
}

/* Fills res from a record (state, id, message, certificate when issued). */
static enum p11p_status fill_result(struct local_state *st,
                                    const struct ledger_rec *r,
                                    struct p11p_remote_result *res)
{
    enum p11p_status rc = P11P_OK;

    res->state = state_of(r->state);
    p11p_str_copy(res->portal_id, sizeof(res->portal_id), r->id);
    p11p_str_copy(res->message, sizeof(res->message), r->message);
    if (res->state == P11P_REMOTE_ISSUED) {
        rc = fill_issued(st, r->id, res);
    } else if (res->state == P11P_REMOTE_REJECTED) {
        rc = P11P_ERR_REJECTED;
    }
    res->status = rc;
    return rc;
}

/* SHA-256 of the CSR's SubjectPublicKeyInfo, hex. */
static enum p11p_status csr_spki_hex(const unsigned char *csr, size_t len,
                                     char out[65])
{
    enum p11p_status rc = P11P_ERR_REJECTED;
    const unsigned char *p = csr;
    X509_REQ *req = X509_REQ_new_ex(p11p_ossl_libctx(), NULL);
    EVP_PKEY *pub = NULL;
    unsigned char *spki = NULL;
    unsigned char md[32];
    unsigned mdlen = 0;
    EVP_MD *sha = NULL;
    int n;

    if (req == NULL || d2i_X509_REQ(&req, &p, (long)len) == NULL) {
        P11P_ERROR("remote", "local CA: the CSR does not parse");
        goto out;
    }
    pub = X509_REQ_get_pubkey(req);
    n = pub != NULL ? i2d_PUBKEY(pub, &spki) : -1;
    sha = EVP_MD_fetch(p11p_ossl_libctx(), "SHA256", NULL);
    if (n <= 0 || sha == NULL
        || EVP_Digest(spki, (size_t)n, md, &mdlen, sha, NULL) != 1) {
        P11P_ERROR("remote", "local CA: the CSR has no usable public key");
        goto out;
    }
    p11p_str_hex(md, sizeof(md), out);
    rc = P11P_OK;
out:
    EVP_MD_free(sha);
    OPENSSL_free(spki);
    EVP_PKEY_free(pub);
    X509_REQ_free(req);
    return rc;
}

/* Issues the certificate of order id from its stored CSR. */
static enum p11p_status issue_order(struct local_state *st,
                                    struct ledger_rec *r, unsigned term_days)
{
    char path[4096];
    unsigned char *csr = NULL;
    size_t csr_len = 0;
    unsigned char *der = NULL;
    size_t der_len = 0;
    enum p11p_status rc;

    order_path(st, r->id, "csr", path, sizeof(path));
    rc = p11p_local_ca_read_file(path, &csr, &csr_len);
    if (rc == P11P_OK) {
        rc = p11p_local_ca_issue(st->ca, csr, csr_len, term_days, &der,
                                 &der_len);
    }
    if (rc == P11P_OK) {
        order_path(st, r->id, "crt", path, sizeof(path));
        rc = p11p_local_ca_write_file(path, der, der_len);
    }
    if (rc == P11P_OK) {
        p11p_str_copy(r->state, sizeof(r->state), "issued");
    } else if (rc == P11P_ERR_REJECTED) {
        p11p_str_copy(r->state, sizeof(r->state), "rejected");
        p11p_str_copy(r->message, sizeof(r->message),
                      "local CA: the CSR is invalid (does not parse or its "
                      "signature does not verify)");
        rc = P11P_OK;
    }
    free(csr);
    free(der);
    return rc;
}

/* Records a new order for req under the lock and runs its profile. */
static enum p11p_status new_order(struct local_state *st,
                                  const struct p11p_enroll_req *req,
                                  struct p11p_remote_result *res)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct ledger_rec r;
    enum profile_kind kind = PROFILE_ISSUE;
    const char *profile = req->profile != NULL  ? req->profile
                          : st->profile != NULL ? st->profile
                                                : "default";
    char path[4096];
    int lock = -1;

    memset(&r, 0, sizeof(r));
    memset(res, 0, sizeof(*res));
    if (parse_profile(profile, &kind, &r.needed) != P11P_OK) {
        snprintf(res->message, sizeof(res->message),
                 "local CA: unknown profile '%s' (known: default, reject, "
                 "approval, approval:N)",
                 profile);
        P11P_ERROR("remote", "token \"%s\": %s", st->token, res->message);
        rc = res->status = P11P_ERR_REJECTED;
        res->state = P11P_REMOTE_REJECTED;
        return rc;
    }
    rc = get_ca(st);
    if (rc == P11P_OK) {
        rc = csr_spki_hex(req->csr_der, req->csr_len, r.spki_hex);
    }
    if (rc != P11P_OK) {
        res->status = rc == P11P_ERR_REJECTED ? rc : P11P_ERR_NOT_SENT;
        snprintf(res->message, sizeof(res->message), "local CA: %s",
                 p11p_status_text(rc));
        return res->status;
    }
    rc = p11p_local_ca_lock(st->dir, &lock);
    if (rc == P11P_OK) {
        rc = ledger_next_id(st, r.id);
    }
    if (rc == P11P_OK) {
        order_path(st, r.id, "csr", path, sizeof(path));
        rc = p11p_local_ca_write_file(path, req->csr_der, req->csr_len);
    }
    if (rc != P11P_OK) {
        p11p_local_ca_unlock(lock);
        res->status = P11P_ERR_NOT_SENT;
        return res->status;
    }
    p11p_str_copy(r.request_token, sizeof(r.request_token),
                  req->request_token != NULL ? req->request_token : "");
    p11p_str_copy(r.profile, sizeof(r.profile), profile);
    switch (kind) {
    case PROFILE_ISSUE:
        rc = issue_order(st, &r, req->term_days);
        break;
    case PROFILE_REJECT:
        p11p_str_copy(r.state, sizeof(r.state), "rejected");
        p11p_str_copy(r.message, sizeof(r.message),
                      "local CA: profile 'reject' refuses every request");
        break;
    case PROFILE_APPROVAL:
        p11p_str_copy(r.state, sizeof(r.state), "pending_approval");
        break;
    }
    if (rc == P11P_OK) {
        rc = ledger_write(st, &r);
    }
    p11p_local_ca_unlock(lock);
    if (rc != P11P_OK) {
        /* The order may exist now: the engine must reconcile. */
        res->status = P11P_ERR_SENT_UNKNOWN;
        return res->status;
    }
    P11P_DEBUG("remote", "token \"%s\": local CA order %s (%s): %s", st->token,
               r.id, profile, r.state);
    return fill_result(st, &r, res);
}

static enum p11p_status local_enroll(void *state,
                                     const struct p11p_enroll_req *req,
                                     struct p11p_remote_result *res)
{
    return new_order(state, req, res);
}

static enum p11p_status local_collect(void *state, const char *portal_id,
                                      struct p11p_remote_result *res)
{
    struct local_state *st = state;
    struct ledger_rec r;
    char path[4096];
    int lock = -1;
    enum p11p_status rc;

    memset(res, 0, sizeof(*res));
    if (!is_portal_id(portal_id)) {
        snprintf(res->message, sizeof(res->message), "local CA: no order '%s'",
                 portal_id ? portal_id : "");
        res->status = P11P_ERR_NOT_FOUND;
        return res->status;
    }
    rc = get_ca(st);
    if (rc == P11P_OK) {
        rc = p11p_local_ca_lock(st->dir, &lock);
    }
    if (rc == P11P_OK) {
        rc = ledger_read(st, portal_id, &r);
    }
    if (rc == P11P_OK && strcmp(r.state, "pending_approval") == 0) {
        r.collects++;
        order_path(st, r.id, "approved", path, sizeof(path));
        if (access(path, F_OK) == 0
            || (r.needed > 0 && r.collects >= r.needed)) {
            rc = issue_order(st, &r, 0);
        }
        if (rc == P11P_OK) {
            rc = ledger_write(st, &r);
        }
    }
    p11p_local_ca_unlock(lock);
    if (rc != P11P_OK) {
        snprintf(res->message, sizeof(res->message), "local CA: order %s: %s",
                 portal_id, p11p_status_text(rc));
        res->status = rc;
        return rc;
    }
    return fill_result(st, &r, res);
}

/* Among orders of one public key (a same-key renewal makes several): an
 * issued one before any other, then the newest (p11portal adopt links the
 * current certificate). */
static bool better_by_key(const struct ledger_rec *a,
                          const struct ledger_rec *b)
{
    bool ai = strcmp(a->state, "issued") == 0;
    bool bi = strcmp(b->state, "issued") == 0;
    unsigned long an = strtoul(a->id + (a->id[0] == 'L' ? 2 : 0), NULL, 10);
    unsigned long bn = strtoul(b->id + (b->id[0] == 'L' ? 2 : 0), NULL, 10);

    if (ai != bi) {
        return ai;
    }
    return an > bn;
}

static enum p11p_status local_find(void *state, const char *request_token,
                                   const unsigned char pubkey_sha256[32],
                                   struct p11p_remote_result *res)
{
    struct local_state *st = state;
    char spki_hex[65];
    char path[4096];
    struct ledger_rec r;
    struct ledger_rec by_key;
    bool found = false;
    bool found_key = false;
    DIR *d = NULL;
    struct dirent *de = NULL;
    enum p11p_status rc;

    memset(res, 0, sizeof(*res));
    memset(&by_key, 0, sizeof(by_key));
    p11p_str_hex(pubkey_sha256, 32, spki_hex);
    rc = get_ca(st);
    if (rc != P11P_OK) {
        res->status = P11P_ERR_NOT_SENT;
        return res->status;
    }
    d = opendir(st->orders_dir);
    while (d != NULL && !found && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".rec") != 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", st->orders_dir, de->d_name);
        if (ledger_read_file(path, &r) != P11P_OK) {
            continue;
        }
        if (request_token != NULL && request_token[0] != '\0'
            && strcmp(r.request_token, request_token) == 0) {
            found = true;
        } else if (strcmp(r.spki_hex, spki_hex) == 0
                   && (!found_key || better_by_key(&r, &by_key))) {
            by_key = r;
            found_key = true;
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    if (!found && found_key) {
        r = by_key;
        found = true;
    }
    if (!found) {
        res->state = P11P_REMOTE_UNKNOWN;
        res->status = P11P_OK;
        return P11P_OK;
    }
    rc = fill_result(st, &r, res);
    /* A rejected order found is a finding, not a failed call. */
    res->status = rc == P11P_ERR_REJECTED ? P11P_OK : rc;
    return res->status;
}

static enum p11p_status local_revoke(void *state, const char *portal_id,
                                     const char *serial_hex,
                                     enum p11p_revoke_reason reason,
                                     struct p11p_remote_result *res)
{
    struct local_state *st = state;
    struct ledger_rec r;
    int lock = -1;
    enum p11p_status rc;

    memset(res, 0, sizeof(*res));
    if (!is_portal_id(portal_id)) {
        res->status = P11P_ERR_NOT_FOUND;
        return res->status;
    }
    rc = get_ca(st);
    if (rc == P11P_OK) {
        rc = p11p_local_ca_lock(st->dir, &lock);
    }
    if (rc == P11P_OK) {
        rc = ledger_read(st, portal_id, &r);
    }
    if (rc == P11P_OK && strcmp(r.state, "revoked") == 0) {
        /* A repeat (after an unknown outcome): already done. */
        p11p_local_ca_unlock(lock);
        res->state = P11P_REMOTE_REVOKED;
        p11p_str_copy(res->portal_id, sizeof(res->portal_id), portal_id);
        res->status = P11P_OK;
        return P11P_OK;
    }
    if (rc == P11P_OK && strcmp(r.state, "issued") != 0) {
        snprintf(res->message, sizeof(res->message),
                 "local CA: order %s is %s, not issued", portal_id, r.state);
        rc = P11P_ERR_REJECTED;
    }
    if (rc == P11P_OK) {
        p11p_str_copy(r.state, sizeof(r.state), "revoked");
        snprintf(r.message, sizeof(r.message), "revoked, reason %d%s%s",
                 (int)reason, serial_hex != NULL ? ", serial " : "",
                 serial_hex != NULL ? serial_hex : "");
        rc = ledger_write(st, &r);
    }
    p11p_local_ca_unlock(lock);
    if (rc == P11P_OK) {
        res->state = P11P_REMOTE_REVOKED;
        p11p_str_copy(res->portal_id, sizeof(res->portal_id), portal_id);
    }
    res->status = rc;
    return rc;
}

static enum p11p_status local_renew(void *state, const char *portal_id,
                                    const struct p11p_enroll_req *req,
                                    struct p11p_remote_result *res)
{
    (void)portal_id; /* a renewal is a new order for the new CSR */
    return new_order(state, req, res);
}

static enum p11p_status local_trust(void *state, struct p11p_remote_result *res)
{
    struct local_state *st = state;
    const unsigned char *inter = NULL;
    const unsigned char *root = NULL;
    size_t inter_len = 0;
    size_t root_len = 0;
    enum p11p_status rc;

    memset(res, 0, sizeof(*res));
    rc = get_ca(st);
    if (rc == P11P_OK) {
        p11p_local_ca_get0_chain(st->ca, &inter, &inter_len, &root, &root_len);
        rc = p11p_remote_result_add_chain(res, root, root_len);
    }
    res->status = rc;
    return rc;
}

const struct p11p_driver p11p_driver_local = {
    .name = "local",
    .open = local_open,
    .close = local_close,
    .enroll = local_enroll,
    .collect = local_collect,
    .find = local_find,
    .in_process = true,
    .revoke = local_revoke,
    .renew = local_renew,
    .trust = local_trust,
};

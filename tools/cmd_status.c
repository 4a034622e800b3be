/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal status: per token (or every token with --all) the driver, the
 * portal URL and whether it answers, the key backend, and counts of keys,
 * certificates by state, orders by state and licences left
 * (docs/tool.md "status"). Reads the cache without the PIN; the portal
 * check is one cheap, side-effect-free driver call (licences, else a find
 * of a random request token) with a short timeout: it never orders.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/str.h"
#include "core/enroll/order.h"
#include "remote/driver.h"
#include "tools/tool.h"

#define EXPIRING_S        (30 * 86400)
#define DEFAULT_TIMEOUT_S 5

enum {
    OPT_ALL = 0x5701,
    OPT_TIMEOUT,
    OPT_OFFLINE,
};

static const struct option opts[] = {
    { "all", no_argument, NULL, OPT_ALL },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "offline", no_argument, NULL, OPT_OFFLINE },
    { NULL, 0, NULL, 0 },
};

static const char usage[] =
    " [--all] [--timeout SECONDS] [--offline] [COMMON OPTIONS]\n"
    "Shows a token (or with --all every configured token): driver, portal\n"
    "URL and reachability, key backend, keys, certificates (valid,\n"
    "expiring within 30 days, expired, revoked), orders by state and\n"
    "licences left where the portal tells. No PIN needed. The portal check\n"
    "is one read-only call; it never orders anything.\n"
    "  --all               every token of the configuration\n"
    "  --timeout SECONDS   portal check timeout (default 5)\n"
    "  --offline           skip the portal check\n"
    "Exit: 0, or 3 when a portal is unreachable or refused the check.\n";

struct status_opts {
    const struct p11p_tool *t;
    bool all;
    bool offline;
    unsigned timeout_s;
};

/* What status learnt of one token. */
struct tok_status {
    const char *portal; /* "local", "reachable", "unreachable", ... */
    char portal_detail[256];
    bool portal_ok;
    bool has_licences;
    int64_t licences;
    size_t keys;
    size_t certs, valid, expiring, expired, revoked;
    size_t orders, pending;
    size_t by_state[P11P_ORDER_STATE_COUNT];
};

static int handle(void *ud, int c, const char *arg)
{
    struct status_opts *o = ud;
    uint64_t v = 0;

    switch (c) {
    case OPT_ALL:
        o->all = true;
        return 0;
    case OPT_OFFLINE:
        o->offline = true;
        return 0;
    case OPT_TIMEOUT:
        if (p11p_str_to_u64(arg, 1, 600, &v) != P11P_OK) {
            return p11p_tool_fail(o->t, P11P_EXIT_USAGE,
                                  "--timeout: \"%s\" is not 1 to 600 seconds",
                                  arg);
        }
        o->timeout_s = (unsigned)v;
        return 0;
    default:
        return P11P_EXIT_USAGE;
    }
}

/* ---- the portal check ---- */

/* How a driver status reads as reachability. */
static const struct {
    enum p11p_status st;
    const char *portal;
    bool ok;
} reach_table[] = {
    { P11P_OK, "reachable", true },
    { P11P_ERR_REJECTED, "reachable", true },
    { P11P_ERR_RATE_LIMITED, "reachable (rate limited)", true },
    { P11P_ERR_PORTAL_AUTH, "credentials refused", false },
    { P11P_ERR_NOT_SENT, "unreachable", false },
    { P11P_ERR_SENT_UNKNOWN, "unreachable", false },
    { P11P_ERR_IO, "unreachable", false },
    { P11P_ERR_PROTOCOL, "bad answer", false },
    { P11P_ERR_CONFIG, "misconfigured", false },
};

static void set_reach(struct tok_status *s, enum p11p_status st,
                      const char *message)
{
    s->portal = "error";
    s->portal_ok = false;
    for (size_t i = 0; i < sizeof(reach_table) / sizeof(reach_table[0]); i++) {
        if (reach_table[i].st == st) {
            s->portal = reach_table[i].portal;
            s->portal_ok = reach_table[i].ok;
            break;
        }
    }
    snprintf(s->portal_detail, sizeof(s->portal_detail), "%s%s%s",
             p11p_status_text(st),
             message != NULL && message[0] != '\0' ? ": " : "",
             message != NULL ? message : "");
}

/* One read-only call through the token's driver, opened without login and
 * with a short timeout. */
static void check_portal(const struct p11p_conf_token *tok,
                         const struct status_opts *o, struct tok_status *s)
{
    struct p11p_conf_token quick = *tok; /* shallow: borrows the strings */
    const struct p11p_driver *d = p11p_registry_find(tok->driver);
    struct p11p_remote *r = NULL;
    struct p11p_remote_result res;
    unsigned char rnd[32];
    char token[40];
    enum p11p_status st;

    memset(&res, 0, sizeof(res));
    if (d == NULL) {
        set_reach(s, P11P_ERR_CONFIG, "unknown driver");
        return;
    }
    if (d->in_process) {
        s->portal = "local";
        s->portal_ok = true;
        snprintf(s->portal_detail, sizeof(s->portal_detail),
                 "in-process CA: always reachable");
        return;
    }
    if (o->offline) {
        s->portal = "not checked";
        s->portal_ok = true;
        return;
    }
    quick.timeout_ms = o->timeout_s * 1000u;
    if (tok->timeout_ms != 0 && tok->timeout_ms < quick.timeout_ms) {
        quick.timeout_ms = tok->timeout_ms;
    }
    st = p11p_remote_open(&quick, &r);
    if (st != P11P_OK) {
        set_reach(s, st == P11P_ERR_CONFIG ? st : P11P_ERR_CONFIG,
                  "cannot open the driver (see the log line above)");
        return;
    }
    d = p11p_remote_driver(r);
    st = P11P_ERR_UNSUPPORTED;
    if (d->licences != NULL) {
        st = d->licences(p11p_remote_state(r), &s->licences);
        s->has_licences = st == P11P_OK;
    }
    if (st == P11P_ERR_UNSUPPORTED && d->find != NULL) {
        /* A request token no order has: the portal answers "not found". */
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            set_reach(s, P11P_ERR_INTERNAL, "no random bytes");
            goto out;
        }
        p11p_tool_hex(rnd, 16, token);
        memcpy(token, "p11p-status-", 12);
        st = d->find(p11p_remote_state(r), token, rnd, &res);
        if (st == P11P_OK && res.status != P11P_OK) {
            st = res.status;
        }
    }
    set_reach(s, st, res.message);
out:
    p11p_remote_result_clear(&res);
    p11p_remote_close(r);
}

/* ---- counting ---- */

struct cert_state {
    int64_t cert_id;
    enum p11p_order_state state;
};

static int cmp_cert_state(const void *a, const void *b)
{
    const struct cert_state *x = a, *y = b;
    return (x->cert_id > y->cert_id) - (x->cert_id < y->cert_id);
}

/* CKA_END_DATE (YYYYMMDD) as the unix time of the end of that day. */
static bool end_date(const struct p11p_attrlist *l, int64_t *out)
{
    const CK_ATTRIBUTE *a = p11p_attrlist_get0(l, CKA_END_DATE);
    struct tm tm;
    char buf[9];
    uint64_t y = 0, m = 0, d = 0;

    if (a == NULL || a->ulValueLen != sizeof(CK_DATE)) {
        return false;
    }
    memcpy(buf, a->pValue, 8);
    buf[8] = '\0';
    if (sscanf(buf, "%4" SCNu64 "%2" SCNu64 "%2" SCNu64, &y, &m, &d) != 3) {
        return false;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = (int)y - 1900;
    tm.tm_mon = (int)m - 1;
    tm.tm_mday = (int)d;
    tm.tm_hour = 23;
    tm.tm_min = 59;
    tm.tm_sec = 59;
    *out = (int64_t)timegm(&tm);
    return true;
}

static enum p11p_status count_certs(struct p11p_cache *c,
                                    const struct cert_state *cs, size_t n_cs,
                                    struct tok_status *s)
{
    struct p11p_cache_filter f = { .has_class = true,
                                   .klass = CKO_CERTIFICATE };
    struct p11p_cache_object o = { 0 };
    int64_t *ids = NULL;
    size_t n = 0;
    int64_t now = p11p_clock_now(), end = 0;
    enum p11p_status st = p11p_cache_object_find(c, &f, &ids, &n);

    for (size_t i = 0; st == P11P_OK && i < n; i++) {
        CK_ULONG cat = 0;
        struct cert_state key = { .cert_id = ids[i] };
        const struct cert_state *hit;

        st = p11p_cache_object_get(c, ids[i], &o);
        if (st == P11P_ERR_NOT_FOUND) {
            st = P11P_OK; /* deleted meanwhile */
            continue;
        }
        if (st != P11P_OK) {
            break;
        }
        if (p11p_attrlist_get_ulong(&o.attrs, CKA_CERTIFICATE_CATEGORY, &cat)
            && cat == 2) {
            p11p_cache_object_clear(&o);
            continue; /* a CA certificate of a chain */
        }
        s->certs++;
        hit = n_cs > 0 ? bsearch(&key, cs, n_cs, sizeof(*cs), cmp_cert_state)
                       : NULL;
        if (hit != NULL && hit->state == P11P_ORDER_REVOKED) {
            s->revoked++;
        } else if (!end_date(&o.attrs, &end) || end > now + EXPIRING_S) {
            s->valid++;
        } else if (end > now) {
            s->expiring++;
        } else {
            s->expired++;
        }
        p11p_cache_object_clear(&o);
    }
    free(ids);
    return st;
}

static enum p11p_status count_token(struct p11p_cache *c, struct tok_status *s)
{
    struct p11p_cache_filter f = { .has_class = true,
                                   .klass = CKO_PRIVATE_KEY };
    struct p11p_order *list = NULL;
    struct cert_state *cs = NULL;
    int64_t *ids = NULL;
    size_t n = 0, n_cs = 0;
    enum p11p_status st = p11p_cache_object_find(c, &f, &ids, &s->keys);

    free(ids);
    if (st == P11P_OK) {
        st = p11p_cache_order_list(c, UINT32_MAX, 0, 0, &list, &n);
    }
    if (st == P11P_OK && n > 0) {
        cs = calloc(n, sizeof(*cs));
        st = cs != NULL ? P11P_OK : P11P_ERR_NOMEM;
    }
    for (size_t i = 0; st == P11P_OK && i < n; i++) {
        s->orders++;
        if ((size_t)list[i].state < P11P_ORDER_STATE_COUNT) {
            s->by_state[list[i].state]++;
        }
        if (!p11p_order_is_final(list[i].state)) {
            s->pending++;
        }
        if (list[i].cert_object_id != 0) {
            cs[n_cs].cert_id = list[i].cert_object_id;
            cs[n_cs++].state = list[i].state;
        }
    }
    if (st == P11P_OK) {
        if (n_cs > 1) {
            qsort(cs, n_cs, sizeof(*cs), cmp_cert_state);
        }
        st = count_certs(c, cs, n_cs, s);
    }
    free(cs);
    p11p_cache_order_list_free(list, n);
    return st;
}

/* ---- output ---- */

static void pending_line(const struct tok_status *s, char *out, size_t cap)
{
    size_t len = 0;

    out[0] = '\0';
    for (int i = 0; i < P11P_ORDER_STATE_COUNT && len < cap; i++) {
        if (s->by_state[i] == 0
            || p11p_order_is_final((enum p11p_order_state)i)) {
            continue;
        }
        len += (size_t)snprintf(
            out + len, cap - len, "%s%zu %s", len > 0 ? ", " : "",
            s->by_state[i], p11p_order_state_name((enum p11p_order_state)i));
    }
}

static void json_token(struct p11p_jw *w, const struct p11p_conf_token *tok,
                       const struct tok_status *s)
{
    p11p_jw_begin_object(w);
    p11p_jw_kstr(w, "token", tok->name);
    p11p_jw_kstr(w, "driver", tok->driver);
    p11p_jw_kstr(w, "url", tok->url);
    p11p_jw_kstr(w, "key_backend",
                 tok->key_backend != NULL ? tok->key_backend : "soft");
    p11p_jw_key(w, "portal");
    p11p_jw_begin_object(w);
    p11p_jw_kstr(w, "state", s->portal);
    p11p_jw_kbool(w, "ok", s->portal_ok);
    p11p_jw_kstr(w, "detail", s->portal_detail);
    p11p_jw_end_object(w);
    p11p_jw_kint(w, "keys", (int64_t)s->keys);
    p11p_jw_key(w, "certificates");
    p11p_jw_begin_object(w);
    p11p_jw_kint(w, "total", (int64_t)s->certs);
    p11p_jw_kint(w, "valid", (int64_t)s->valid);
    p11p_jw_kint(w, "expiring_30d", (int64_t)s->expiring);
    p11p_jw_kint(w, "expired", (int64_t)s->expired);
    p11p_jw_kint(w, "revoked", (int64_t)s->revoked);
    p11p_jw_end_object(w);
    p11p_jw_key(w, "orders");
    p11p_jw_begin_object(w);
    p11p_jw_kint(w, "total", (int64_t)s->orders);
    p11p_jw_kint(w, "pending", (int64_t)s->pending);
    p11p_jw_key(w, "by_state");
    p11p_jw_begin_object(w);
    for (int i = 0; i < P11P_ORDER_STATE_COUNT; i++) {
        p11p_jw_kint(w, p11p_order_state_name((enum p11p_order_state)i),
                     (int64_t)s->by_state[i]);
    }
    p11p_jw_end_object(w);
    p11p_jw_end_object(w);
    p11p_jw_key(w, "licences");
    if (s->has_licences) {
        p11p_jw_int(w, s->licences);
    } else {
        p11p_jw_null(w);
    }
    p11p_jw_end_object(w);
}

static void table_token(struct p11p_table *tb,
                        const struct p11p_conf_token *tok,
                        const struct tok_status *s)
{
    char num[9][24];
    const char *cells[14];
    size_t v[] = { s->keys,    s->certs,   s->valid,  s->expiring,
                   s->expired, s->revoked, s->orders, s->pending };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        snprintf(num[i], sizeof(num[i]), "%zu", v[i]);
    }
    snprintf(num[8], sizeof(num[8]), "%" PRId64, s->licences);
    cells[0] = tok->name;
    cells[1] = tok->driver;
    cells[2] = tok->url;
    cells[3] = s->portal;
    cells[4] = tok->key_backend != NULL ? tok->key_backend : "soft";
    for (size_t i = 0; i < 8; i++) {
        cells[5 + i] = num[i];
    }
    cells[13] = s->has_licences ? num[8] : "-";
    p11p_table_add(tb, cells);
}

/* Opens token i's cache, counts, checks the portal. */
static int status_of(struct p11p_tool *t, const struct status_opts *o,
                     struct tok_status *s)
{
    enum p11p_status st;
    int rc = p11p_tool_open(t, P11P_TOOL_NEED_CACHE);

    memset(s, 0, sizeof(*s));
    if (rc != 0) {
        return rc;
    }
    st = count_token(t->cache, s);
    if (st != P11P_OK) {
        return p11p_tool_fail(t, p11p_tool_exit_of(st),
                              "token \"%s\": cannot read its cache: %s",
                              t->tok->name, p11p_status_text(st));
    }
    check_portal(t->tok, o, s);
    return 0;
}

int p11p_cmd_status(struct p11p_tool *t, int argc, char **argv)
{
    static const char *const headers[] = { "TOKEN",   "DRIVER",  "URL",
                                           "PORTAL",  "BACKEND", "KEYS",
                                           "CERTS",   "VALID",   "EXPIRING",
                                           "EXPIRED", "REVOKED", "ORDERS",
                                           "PENDING", "LICENCES" };
    struct status_opts o = { .t = t, .timeout_s = DEFAULT_TIMEOUT_S };
    struct tok_status *all = NULL;
    struct p11p_table *tb = NULL;
    struct p11p_jw w;
    char line[512];
    size_t n_tok = 0, done = 0;
    bool unreachable = false;
    int rc =
        p11p_tool_getopt(t, argc, argv, opts, NULL, usage, handle, &o, NULL);

    if (rc != 0) {
        return rc;
    }
    if (o.all) {
        if (p11p_conf_load(t->conf_path, &t->conf) != P11P_OK) {
            return p11p_tool_fail(t, P11P_EXIT_USAGE,
                                  "cannot load the configuration (see the "
                                  "line above)");
        }
        if (t->conf->log_target != NULL) {
            p11p_log_set_target(t->conf->log_target);
        }
        n_tok = t->conf->n_tokens;
    } else {
        rc = p11p_tool_open(t, 0);
        if (rc != 0) {
            return rc;
        }
        n_tok = 1;
    }
    all = calloc(n_tok > 0 ? n_tok : 1, sizeof(*all));
    if (all == NULL) {
        return p11p_tool_fail(t, P11P_EXIT_FAILED, "out of memory");
    }
    for (size_t i = 0; i < n_tok && rc == 0; i++, done++) {
        if (o.all) {
            p11p_cache_close(t->cache);
            t->cache = NULL;
            t->tok = &t->conf->tokens[i];
        }
        rc = status_of(t, &o, &all[i]);
        unreachable = unreachable || !all[i].portal_ok;
    }
    if (rc != 0) {
        goto out;
    }
    if (t->json) {
        p11p_jw_init(&w, stdout, true);
        p11p_jw_begin_object(&w);
        p11p_jw_key(&w, "tokens");
        p11p_jw_begin_array(&w);
    } else {
        tb = p11p_table_new(sizeof(headers) / sizeof(headers[0]), headers);
        if (tb == NULL) {
            rc = p11p_tool_fail(t, P11P_EXIT_FAILED, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < done; i++) {
        const struct p11p_conf_token *tok =
            o.all ? &t->conf->tokens[i] : t->tok;
        if (t->json) {
            json_token(&w, tok, &all[i]);
        } else {
            table_token(tb, tok, &all[i]);
        }
    }
    if (t->json) {
        p11p_jw_end_array(&w);
        p11p_jw_end_object(&w);
        p11p_jw_finish(&w);
    } else {
        p11p_table_print(tb, stdout);
        for (size_t i = 0; i < done; i++) {
            const struct p11p_conf_token *tok =
                o.all ? &t->conf->tokens[i] : t->tok;
            pending_line(&all[i], line, sizeof(line));
            if (line[0] != '\0') {
                printf("%s: pending orders: %s\n", tok->name, line);
            }
            if (!all[i].portal_ok) {
                printf("%s: portal %s: %s\n", tok->name, all[i].portal,
                       all[i].portal_detail);
            }
        }
    }
    rc = unreachable ? P11P_EXIT_PARTIAL : P11P_EXIT_OK;
out:
    p11p_table_free(tb);
    free(all);
    return rc;
}

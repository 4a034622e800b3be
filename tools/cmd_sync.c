/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal sync: collects the token's pending orders (submit the new,
 * reconcile the unknown, poll the pending: p11p_enroll_collect, forced)
 * and refreshes the state of issued certificates (revoked at the portal,
 * expired: p11p_enroll_refresh), within a time budget and the portal's
 * rate limits (docs/tool.md "sync"). Safe to run from several processes
 * at once: each order is worked on under its lock, by one process at a
 * time. Prints what changed; "nothing to do" when nothing is pending or
 * due. Exit 0, or 3 while orders are still pending.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/clock.h"
#include "core/base/str.h"
#include "core/enroll/order.h"
#include "core/enroll/revoke.h"
#include "tools/tool.h"

#define DEFAULT_BUDGET_S   60
#define DEFAULT_INTERVAL_S 86400

enum {
    OPT_BUDGET = 0x5601,
    OPT_INTERVAL,
};

static const struct option opts[] = {
    { "budget", required_argument, NULL, OPT_BUDGET },
    { "refresh-interval", required_argument, NULL, OPT_INTERVAL },
    { NULL, 0, NULL, 0 },
};

static const char usage[] =
    " [--budget SECONDS] [--refresh-interval SECONDS] [COMMON OPTIONS]\n"
    "Collects pending orders (submits new ones, reconciles unknown ones,\n"
    "polls those pending at the portal) and refreshes issued certificates'\n"
    "states (revoked at the portal, expired), within the budget and the\n"
    "portal's rate limits. Safe to run from several processes at once.\n"
    "Exit 0: done or nothing to do; 3: orders still pending.\n"
    "  --budget SECONDS            time box of the run (default 60)\n"
    "  --refresh-interval SECONDS  check an issued certificate at the portal\n"
    "                              at most this often (default 86400, a\n"
    "                              day; 0: every run)\n";

struct sync_opts {
    const struct p11p_tool *t;
    unsigned budget_s;
    unsigned interval_s;
};

static const uint32_t pending_mask =
    (1u << P11P_ORDER_NEW) | (1u << P11P_ORDER_SUBMITTING)
    | (1u << P11P_ORDER_SUBMITTED) | (1u << P11P_ORDER_PENDING_APPROVAL)
    | (1u << P11P_ORDER_PROCESSING);

static int handle(void *ud, int c, const char *arg)
{
    struct sync_opts *o = ud;
    uint64_t v = 0;

    if (p11p_str_to_u64(arg, 0, 7 * 86400, &v) != P11P_OK
        || (c == OPT_BUDGET && v == 0)) {
        return p11p_tool_fail(
            o->t, P11P_EXIT_USAGE, "%s: \"%s\" is not a number of seconds",
            c == OPT_BUDGET ? "--budget" : "--refresh-interval", arg);
    }
    switch (c) {
    case OPT_BUDGET:
        o->budget_s = (unsigned)v;
        return 0;
    case OPT_INTERVAL:
        o->interval_s = (unsigned)v;
        return 0;
    default:
        return P11P_EXIT_USAGE;
    }
}

/* Orders of the pending states whose state changed since before, added to
 * the change list. */
static enum p11p_status collect_changes(struct p11p_cache *c,
                                        const struct p11p_order *before,
                                        size_t nb,
                                        struct p11p_enroll_refresh_result *r)
{
    for (size_t i = 0; i < nb; i++) {
        struct p11p_order now;
        struct p11p_enroll_change *ch = NULL;
        memset(&now, 0, sizeof(now));
        if (p11p_cache_order_get(c, before[i].id, &now) != P11P_OK
            || now.state == before[i].state) {
            p11p_order_clear(&now);
            continue;
        }
        ch = realloc(r->changes, (r->n_changes + 1) * sizeof(*ch));
        if (ch == NULL) {
            p11p_order_clear(&now);
            return P11P_ERR_NOMEM;
        }
        r->changes = ch;
        ch = &r->changes[r->n_changes++];
        memset(ch, 0, sizeof(*ch));
        ch->order_id = now.id;
        p11p_str_copy(ch->label, sizeof(ch->label),
                      now.label != NULL ? now.label : "");
        ch->from = before[i].state;
        ch->to = now.state;
        p11p_str_copy(ch->why, sizeof(ch->why),
                      now.last_error != NULL ? now.last_error : "");
        p11p_order_clear(&now);
    }
    return P11P_OK;
}

static void print_json(const struct p11p_enroll_refresh_result *r,
                       size_t pending, bool nothing)
{
    struct p11p_jw w;

    p11p_jw_init(&w, stdout, true);
    p11p_jw_begin_object(&w);
    p11p_jw_kbool(&w, "nothing_to_do", nothing);
    p11p_jw_key(&w, "changes");
    p11p_jw_begin_array(&w);
    for (size_t i = 0; i < r->n_changes; i++) {
        const struct p11p_enroll_change *c = &r->changes[i];
        p11p_jw_begin_object(&w);
        p11p_jw_kint(&w, "order", c->order_id);
        p11p_jw_kstr(&w, "label", c->label);
        p11p_jw_kstr(&w, "from", p11p_order_state_name(c->from));
        p11p_jw_kstr(&w, "to", p11p_order_state_name(c->to));
        p11p_jw_kstr(&w, "note", c->why);
        p11p_jw_end_object(&w);
    }
    p11p_jw_end_array(&w);
    p11p_jw_kint(&w, "pending", (int64_t)pending);
    p11p_jw_kint(&w, "certificates_checked", (int64_t)r->checked);
    p11p_jw_kint(&w, "certificates_left", (int64_t)r->remaining);
    p11p_jw_kbool(&w, "rate_limited", r->rate_limited);
    p11p_jw_end_object(&w);
    p11p_jw_finish(&w);
}

static void print_table(const struct p11p_tool *t,
                        const struct p11p_enroll_refresh_result *r,
                        size_t pending, bool nothing)
{
    static const char *const headers[] = { "ORDER", "LABEL", "FROM", "TO",
                                           "NOTE" };
    struct p11p_table *tb = NULL;
    char id[24];

    if (nothing) {
        printf("nothing to do\n");
        return;
    }
    if (r->n_changes == 0) {
        printf("no changes\n");
    } else {
        tb = p11p_table_new(5, headers);
        for (size_t i = 0; tb != NULL && i < r->n_changes; i++) {
            const struct p11p_enroll_change *c = &r->changes[i];
            const char *cells[5];
            snprintf(id, sizeof(id), "%" PRId64, c->order_id);
            cells[0] = id;
            cells[1] = c->label;
            cells[2] = p11p_order_state_name(c->from);
            cells[3] = p11p_order_state_name(c->to);
            cells[4] = c->why;
            p11p_table_add(tb, cells);
        }
        if (tb != NULL) {
            p11p_table_print(tb, stdout);
        }
        p11p_table_free(tb);
    }
    p11p_tool_note(t, "%zu orders still pending; %zu certificates checked%s",
                   pending, r->checked,
                   r->rate_limited ? "; the portal asked to slow down" : "");
}

int p11p_cmd_sync(struct p11p_tool *t, int argc, char **argv)
{
    struct sync_opts o = { t, DEFAULT_BUDGET_S, DEFAULT_INTERVAL_S };
    struct p11p_enroll_refresh_result r;
    struct p11p_order *before = NULL;
    struct p11p_order *due = NULL;
    struct p11p_order *left = NULL;
    size_t nb = 0;
    size_t ndue = 0;
    size_t nleft = 0;
    size_t changed = 0;
    uint64_t deadline = 0;
    bool nothing = false;
    int rc;
    enum p11p_status st;

    memset(&r, 0, sizeof(r));
    rc = p11p_tool_getopt(t, argc, argv, opts, NULL, usage, handle, &o, NULL);
    if (rc != 0) {
        return rc;
    }
    rc = p11p_tool_open(t, P11P_TOOL_NEED_ENROLL);
    if (rc != 0) {
        return rc;
    }
    deadline = p11p_clock_deadline((uint64_t)o.budget_s * 1000);
    st = p11p_cache_order_list(t->cache, pending_mask, 0, 0, &before, &nb);
    if (st == P11P_OK) {
        st = p11p_cache_order_list(t->cache, 1u << P11P_ORDER_ISSUED,
                                   p11p_clock_now(), 1, &due, &ndue);
    }
    if (st != P11P_OK) {
        rc = p11p_tool_fail(t, p11p_tool_exit_of(st),
                            "cannot read the orders: %s", p11p_status_text(st));
        goto out;
    }
    nothing = nb == 0 && ndue == 0;
    if (nothing) {
        goto print;
    }
    /* Collect while it makes progress and the budget lasts. */
    while (st == P11P_OK && nb > 0 && p11p_clock_left_ms(deadline) > 0) {
        st = p11p_enroll_collect(
            t->enroll, (unsigned)p11p_clock_left_ms(deadline), true, &changed);
        if (changed == 0) {
            break;
        }
    }
    if (st == P11P_OK && p11p_clock_left_ms(deadline) > 0) {
        st = p11p_enroll_refresh(t->enroll,
                                 (unsigned)p11p_clock_left_ms(deadline),
                                 o.interval_s, &r);
    }
    if (st == P11P_OK) {
        st = collect_changes(t->cache, before, nb, &r);
    }
    if (st == P11P_OK) {
        st = p11p_cache_order_list(t->cache, pending_mask, 0, 0, &left, &nleft);
    }
    if (st != P11P_OK) {
        rc = p11p_tool_fail(t, p11p_tool_exit_of(st), "sync failed: %s",
                            p11p_status_text(st));
        goto out;
    }
print:
    if (t->json) {
        print_json(&r, nleft, nothing);
    } else {
        print_table(t, &r, nleft, nothing);
    }
    rc = nleft > 0 ? P11P_EXIT_PARTIAL : P11P_EXIT_OK;
out:
    p11p_cache_order_list_free(before, nb);
    p11p_cache_order_list_free(due, ndue);
    p11p_cache_order_list_free(left, nleft);
    free(r.changes);
    return rc;
}

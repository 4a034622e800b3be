/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal orders: lists the token's enrollment orders (docs/tool.md
 * "orders"), filtered by state, age and label; a table or --json. Reads
 * the cache only: no PIN, no portal.
 */
#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/clock.h"
#include "core/base/str.h"
#include "core/enroll/order.h"
#include "tools/tool.h"

enum {
    OPT_STATE = 0x5401,
    OPT_OLDER,
    OPT_NEWER,
    OPT_LABEL,
};

static const struct option opts[] = {
    { "state", required_argument, NULL, OPT_STATE },
    { "older-than", required_argument, NULL, OPT_OLDER },
    { "newer-than", required_argument, NULL, OPT_NEWER },
    { "label", required_argument, NULL, OPT_LABEL },
    { NULL, 0, NULL, 0 },
};

static const char usage[] =
    " [--state S[,S..]] [--older-than AGE] [--newer-than AGE]\n"
    "       [--label GLOB] [COMMON OPTIONS]\n"
    "Lists the token's enrollment orders, oldest first. Reads the local\n"
    "cache only (no PIN, no portal; 'p11portal sync' refreshes states).\n"
    "  --state S[,S..]     new, submitting, submitted, pending_approval,\n"
    "                      processing, issued, rejected, failed, renewed,\n"
    "                      revoked, expired; or 'pending' (all not final)\n"
    "  --older-than AGE    created more than AGE ago: N[s|m|h|d|w] (7d)\n"
    "  --newer-than AGE    created less than AGE ago\n"
    "  --label GLOB        label matches the shell pattern (dev-*)\n";

struct orders_opts {
    const struct p11p_tool *t;
    uint32_t mask; /* 0: every state */
    int64_t older; /* seconds, 0: not set */
    int64_t newer;
    const char *label;
};

/* "issued,pending_approval" -> state mask. */
static bool parse_states(const char *s, uint32_t *mask)
{
    char buf[256];
    char *p = buf;

    if (!p11p_str_copy(buf, sizeof(buf), s)) {
        return false;
    }
    while (p != NULL && *p != '\0') {
        char *comma = strchr(p, ',');
        enum p11p_order_state st;

        if (comma != NULL) {
            *comma = '\0';
        }
        if (strcmp(p, "pending") == 0) {
            for (int i = 0; i < P11P_ORDER_STATE_COUNT; i++) {
                if (!p11p_order_is_final((enum p11p_order_state)i)) {
                    *mask |= 1u << i;
                }
            }
        } else if (p11p_order_state_parse(p, &st) == P11P_OK) {
            *mask |= 1u << st;
        } else {
            return false;
        }
        p = comma != NULL ? comma + 1 : NULL;
    }
    return true;
}

static int handle(void *ud, int c, const char *arg)
{
    struct orders_opts *o = ud;

    switch (c) {
    case OPT_STATE:
        if (!parse_states(arg, &o->mask)) {
            return p11p_tool_fail(o->t, P11P_EXIT_USAGE,
                                  "--state: \"%s\": unknown state (see "
                                  "--help)",
                                  arg);
        }
        return 0;
    case OPT_OLDER:
    case OPT_NEWER:
        if (!p11p_tool_parse_duration(arg, 1,
                                      c == OPT_OLDER ? &o->older : &o->newer)) {
            return p11p_tool_fail(
                o->t, P11P_EXIT_USAGE,
                "%s: \"%s\" is not an age like 7d, 12h, 30m",
                c == OPT_OLDER ? "--older-than" : "--newer-than", arg);
        }
        return 0;
    case OPT_LABEL:
        o->label = arg;
        return 0;
    default:
        return P11P_EXIT_USAGE;
    }
}

static bool passes(const struct orders_opts *f, const struct p11p_order *o,
                   int64_t now)
{
    if (f->older > 0 && o->created > now - f->older) {
        return false;
    }
    if (f->newer > 0 && o->created < now - f->newer) {
        return false;
    }
    return f->label == NULL
           || fnmatch(f->label, o->label != NULL ? o->label : "", 0) == 0;
}

static void json_order(struct p11p_jw *w, const struct p11p_order *o)
{
    char hex[2 * sizeof(o->ckaid) + 1];

    p11p_tool_hex(o->ckaid, o->ckaid_len, hex);
    p11p_jw_begin_object(w);
    p11p_jw_kint(w, "id", o->id);
    p11p_jw_kstr(w, "state", p11p_order_state_name(o->state));
    p11p_jw_kstr(w, "label", o->label);
    p11p_jw_kstr(w, "mac", o->mac);
    p11p_jw_kstr(w, "portal_id", o->portal_id);
    p11p_jw_kstr(w, "ckaid", hex);
    p11p_jw_kstr(w, "subject", o->subject);
    p11p_jw_kint(w, "created", o->created);
    p11p_jw_kint(w, "updated", o->updated);
    p11p_jw_kint(w, "cert_object", o->cert_object_id);
    p11p_jw_kint(w, "renews_order", o->renews_order_id);
    p11p_jw_kstr(w, "last_error", o->last_error);
    p11p_jw_end_object(w);
}

static void table_order(struct p11p_table *tb, const struct p11p_order *o)
{
    char id[24], created[20], updated[20];
    const char *cells[8];

    snprintf(id, sizeof(id), "%" PRId64, o->id);
    p11p_tool_time(o->created, created);
    p11p_tool_time(o->updated, updated);
    cells[0] = id;
    cells[1] = p11p_order_state_name(o->state);
    cells[2] = o->label;
    cells[3] = o->mac;
    cells[4] = o->portal_id;
    cells[5] = created;
    cells[6] = updated;
    cells[7] = o->last_error;
    p11p_table_add(tb, cells);
}

int p11p_cmd_orders(struct p11p_tool *t, int argc, char **argv)
{
    static const char *const headers[] = { "ID",      "STATE",     "LABEL",
                                           "MAC",     "PORTAL ID", "CREATED",
                                           "UPDATED", "LAST ERROR" };
    struct orders_opts f = { .t = t };
    struct p11p_order *list = NULL;
    struct p11p_table *tb = NULL;
    struct p11p_jw w;
    size_t n = 0, shown = 0;
    int64_t now = p11p_clock_now();
    enum p11p_status st;
    int rc =
        p11p_tool_getopt(t, argc, argv, opts, NULL, usage, handle, &f, NULL);

    if (rc != 0) {
        return rc;
    }
    rc = p11p_tool_open(t, P11P_TOOL_NEED_CACHE);
    if (rc != 0) {
        return rc;
    }
    st = p11p_cache_order_list(t->cache, f.mask != 0 ? f.mask : UINT32_MAX, 0,
                               0, &list, &n);
    if (st != P11P_OK) {
        return p11p_tool_fail(t, p11p_tool_exit_of(st),
                              "token \"%s\": cannot list its orders: %s",
                              t->tok->name, p11p_status_text(st));
    }
    if (t->json) {
        p11p_jw_init(&w, stdout, true);
        p11p_jw_begin_object(&w);
        p11p_jw_kstr(&w, "token", t->tok->name);
        p11p_jw_key(&w, "orders");
        p11p_jw_begin_array(&w);
    } else {
        tb = p11p_table_new(sizeof(headers) / sizeof(headers[0]), headers);
        if (tb == NULL) {
            rc = p11p_tool_fail(t, P11P_EXIT_FAILED, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!passes(&f, &list[i], now)) {
            continue;
        }
        shown++;
        if (t->json) {
            json_order(&w, &list[i]);
        } else {
            table_order(tb, &list[i]);
        }
    }
    if (t->json) {
        p11p_jw_end_array(&w);
        p11p_jw_kint(&w, "count", (int64_t)shown);
        p11p_jw_end_object(&w);
        p11p_jw_finish(&w);
    } else {
        p11p_table_print(tb, stdout);
        p11p_tool_note(t, "%zu order(s) on token \"%s\"", shown, t->tok->name);
    }
out:
    p11p_table_free(tb);
    p11p_cache_order_list_free(list, n);
    return rc;
}

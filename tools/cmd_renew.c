/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal renew: renews certificates (docs/tool.md "renew"): those
 * expiring within a period (--within 30d) or the selected ones (select.h),
 * with the same key (a new CSR) or a new key pair of the same type
 * (--same-key / --new-key; default: the token's renew_key). Each renewal is
 * an order of its own (p11p_enroll_renew): the old certificate stays until
 * the new one is stored, and a certificate is never renewed twice (a
 * second renewal, from any process, is refused). --dry-run lists what
 * would be renewed. Exit 0 all issued, 3 some pending or failed, 4 the
 * portal refused.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/clock.h"
#include "core/base/str.h"
#include "core/enroll/order.h"
#include "tools/select.h"
#include "tools/tool.h"

enum {
    OPT_WITHIN = 0x5801,
    OPT_NEW_KEY,
    OPT_SAME_KEY,
    OPT_DRY_RUN,
};

static const struct option opts[] = {
    P11P_SELECT_OPTIONS,
    { "within", required_argument, NULL, OPT_WITHIN },
    { "new-key", no_argument, NULL, OPT_NEW_KEY },
    { "same-key", no_argument, NULL, OPT_SAME_KEY },
    { "dry-run", no_argument, NULL, OPT_DRY_RUN },
    { NULL, 0, NULL, 0 },
};

static const char usage[] =
    " --within AGE | SELECTION  [--same-key|--new-key] [--dry-run] [--yes]\n"
    "Renews issued certificates: a new order per certificate, submitted\n"
    "through the portal's renew call where it has one. The old certificate\n"
    "stays until the new one is stored; a certificate already being renewed\n"
    "is refused. Asks first unless --yes.\n"
    "  --within AGE        certificates expiring within AGE: N[d|h|w|s]\n"
    "                      (30d); with a selector: those of the selection\n"
    "  --same-key          a new CSR signed by the existing key\n"
    "  --new-key           a new key pair of the same type and size (new\n"
    "                      CKA_ID; the old key stays until deleted)\n"
    "                      default: the token's renew_key (same)\n"
    "  --dry-run           list what would be renewed, change nothing\n"
    "Exit 0: all issued; 3: some pending or failed; 4: the portal "
    "refused.\n" P11P_SELECT_USAGE;

struct renew_opts {
    const struct p11p_tool *t;
    struct p11p_sel sel;
    int64_t within; /* seconds; -1: not given */
    int key;        /* 0: conf, 1: same, 2: new */
    bool dry_run;
};

static int handle(void *ud, int c, const char *arg)
{
    struct renew_opts *o = ud;
    int rc = p11p_select_parse_opt(o->t, &o->sel, c, arg);

    if (rc != P11P_SELECT_OTHER) {
        return rc;
    }
    switch (c) {
    case OPT_WITHIN:
        if (!p11p_tool_parse_duration(arg, 86400, &o->within)) {
            return p11p_tool_fail(o->t, P11P_EXIT_USAGE,
                                  "--within: \"%s\": use N[d|h|w] (30d)", arg);
        }
        return 0;
    case OPT_NEW_KEY:
    case OPT_SAME_KEY:
        if (o->key != 0) {
            return p11p_tool_fail(o->t, P11P_EXIT_USAGE,
                                  "--same-key and --new-key: one of them");
        }
        o->key = c == OPT_NEW_KEY ? 2 : 1;
        return 0;
    case OPT_DRY_RUN:
        o->dry_run = true;
        return 0;
    default:
        return P11P_EXIT_USAGE;
    }
}

/* One certificate to renew and what became of it. */
struct item {
    struct p11p_certinfo ci;
    int64_t old_order;
    enum p11p_status st;
    struct p11p_enroll_result res;
};

/* The certificates to renew: selected (or all) leaves whose order is
 * ISSUED and, with --within, that expire within it. */
static int pick(struct p11p_tool *t, const struct renew_opts *o,
                struct item **out, size_t *out_n)
{
    int64_t *ids = NULL;
    size_t n = 0;
    struct item *items = NULL;
    size_t k = 0;
    int64_t limit = p11p_clock_now() + (o->within >= 0 ? o->within : 0);
    int rc = 0;

    if (p11p_select_certs(t->cache, t->tok, &o->sel, &ids, &n) != P11P_OK) {
        return P11P_EXIT_USAGE;
    }
    items = n > 0 ? calloc(n, sizeof(*items)) : NULL;
    if (n > 0 && items == NULL) {
        free(ids);
        return p11p_tool_fail(t, P11P_EXIT_FAILED, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct p11p_order ord;
        struct item *it = &items[k];
        bool keep = false;
        memset(&ord, 0, sizeof(ord));
        if (p11p_select_certinfo(t->cache, ids[i], &it->ci) != P11P_OK) {
            continue;
        }
        if (p11p_select_cert_order(t->cache, &it->ci, &ord) != P11P_OK) {
            if (o->sel.given) {
                p11p_tool_note(t,
                               "certificate %" PRId64 " (%s) has no order: "
                               "not renewed (p11portal adopt links one)",
                               it->ci.id, it->ci.cn);
            }
        } else if (ord.state != P11P_ORDER_ISSUED) {
            if (o->sel.given) {
                p11p_tool_note(t,
                               "certificate %" PRId64
                               " (%s): its order %" PRId64
                               " is %s: not renewed",
                               it->ci.id, it->ci.cn, ord.id,
                               p11p_order_state_name(ord.state));
            }
        } else if (o->within < 0 || it->ci.not_after <= limit) {
            it->old_order = ord.id;
            keep = true;
        }
        p11p_order_clear(&ord);
        if (keep) {
            k++;
        } else {
            p11p_certinfo_clear(&it->ci);
            memset(it, 0, sizeof(*it));
        }
    }
    free(ids);
    *out = items;
    *out_n = k;
    return rc;
}

static void print_items(const struct p11p_tool *t, const struct item *items,
                        size_t n, bool dry, bool new_key)
{
    static const char *const headers[] = { "LABEL",     "CN",    "SERIAL",
                                           "NOT AFTER", "ORDER", "STATE" };
    struct p11p_table *tb = NULL;
    struct p11p_jw w;
    char na[20];
    char oid[24];

    if (t->json) {
        p11p_jw_init(&w, stdout, true);
        p11p_jw_begin_object(&w);
        p11p_jw_kbool(&w, "dry_run", dry);
        p11p_jw_kstr(&w, "key", new_key ? "new" : "same");
        p11p_jw_key(&w, "certificates");
        p11p_jw_begin_array(&w);
        for (size_t i = 0; i < n; i++) {
            const struct item *it = &items[i];
            p11p_jw_begin_object(&w);
            p11p_jw_kint(&w, "object", it->ci.id);
            p11p_jw_kstr(&w, "label", it->ci.label);
            p11p_jw_kstr(&w, "cn", it->ci.cn);
            p11p_jw_kstr(&w, "serial", it->ci.serial);
            p11p_jw_kint(&w, "not_after", it->ci.not_after);
            p11p_jw_kint(&w, "order_id", it->old_order);
            if (!dry) {
                p11p_jw_kint(&w, "new_order_id", it->res.order_id);
                p11p_jw_kint(&w, "new_cert_object", it->res.cert_id);
                p11p_jw_kstr(&w, "state",
                             it->st == P11P_OK
                                 ? p11p_order_state_name(it->res.state)
                                 : "error");
                p11p_jw_kstr(&w, "error",
                             it->st == P11P_OK ? NULL
                             : it->res.message[0] != '\0'
                                 ? it->res.message
                                 : p11p_status_text(it->st));
            }
            p11p_jw_end_object(&w);
        }
        p11p_jw_end_array(&w);
        p11p_jw_end_object(&w);
        p11p_jw_finish(&w);
        return;
    }
    if (n == 0) {
        printf("nothing to renew\n");
        return;
    }
    tb = p11p_table_new(6, headers);
    for (size_t i = 0; tb != NULL && i < n; i++) {
        const struct item *it = &items[i];
        const char *cells[6];
        p11p_tool_time(it->ci.not_after, na);
        snprintf(oid, sizeof(oid), "%" PRId64,
                 dry ? it->old_order : it->res.order_id);
        cells[0] = it->ci.label != NULL ? it->ci.label : "";
        cells[1] = it->ci.cn;
        cells[2] = it->ci.serial;
        cells[3] = na;
        cells[4] = oid;
        cells[5] = dry                 ? "would renew"
                   : it->st == P11P_OK ? p11p_order_state_name(it->res.state)
                   : it->st == P11P_ERR_EXISTS
                       ? "refused: already being renewed"
                       : p11p_status_text(it->st);
        p11p_table_add(tb, cells);
    }
    if (tb != NULL) {
        p11p_table_print(tb, stdout);
    }
    p11p_table_free(tb);
}

int p11p_cmd_renew(struct p11p_tool *t, int argc, char **argv)
{
    struct renew_opts o;
    struct item *items = NULL;
    size_t n = 0;
    size_t issued = 0;
    size_t pending = 0;
    enum p11p_status first_err = P11P_OK;
    bool new_key = false;
    char question[160];
    int rc;

    memset(&o, 0, sizeof(o));
    o.t = t;
    o.within = -1;
    rc = p11p_tool_getopt(t, argc, argv, opts, NULL, usage, handle, &o, NULL);
    if (rc != 0) {
        return rc;
    }
    if (!o.sel.given && o.within < 0) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "say which certificates: --within AGE or a "
                              "selector (--label, --serial, --uri, ...)");
    }
    rc = p11p_tool_open(t, o.dry_run ? P11P_TOOL_NEED_CACHE
                                     : P11P_TOOL_NEED_ENROLL);
    if (rc != 0) {
        return rc;
    }
    new_key = o.key == 2 || (o.key == 0 && t->tok->renew_new_key);
    rc = pick(t, &o, &items, &n);
    if (rc != 0) {
        goto out;
    }
    if (o.sel.given && n == 0) {
        rc = p11p_tool_fail(t, P11P_EXIT_USAGE,
                            "no issued certificate matches the selection");
        goto out;
    }
    if (o.dry_run || n == 0) {
        print_items(t, items, n, true, new_key);
        rc = P11P_EXIT_OK;
        goto out;
    }
    snprintf(question, sizeof(question), "Renew %zu certificate%s with %s key",
             n, n == 1 ? "" : "s", new_key ? "a new" : "the same");
    if (!t->yes && !t->quiet) {
        print_items(t, items, n, true, new_key);
    }
    if (!p11p_tool_confirm(t, question)) {
        rc = p11p_tool_fail(t, P11P_EXIT_CANCELLED, "nothing renewed");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        items[i].st = p11p_enroll_renew(t->enroll, items[i].ci.id, new_key,
                                        &items[i].res);
        if (items[i].st == P11P_OK && items[i].res.state == P11P_ORDER_ISSUED) {
            issued++;
        } else if (items[i].st == P11P_OK) {
            pending++;
        } else if (first_err == P11P_OK) {
            first_err = items[i].st;
        }
    }
    print_items(t, items, n, false, new_key);
    rc = issued == n                 ? P11P_EXIT_OK
         : issued > 0 || pending > 0 ? P11P_EXIT_PARTIAL
                                     : (int)p11p_tool_exit_of(first_err);
out:
    for (size_t i = 0; i < n; i++) {
        p11p_certinfo_clear(&items[i].ci);
    }
    free(items);
    return rc;
}

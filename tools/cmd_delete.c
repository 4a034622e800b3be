/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal delete: removes local objects only (docs/tool.md "delete"): a
 * key pair with its certificates and order objects, or with --cert-only
 * just certificates. Never contacts the portal, and says so. Private keys
 * go through p11p_keyobj_destroy, the path of the module's
 * C_DestroyObject (hsm backend: the backing HSM key is destroyed too). The
 * order records stay as history; those still pending are marked failed so
 * that no collector stores a certificate for a deleted key.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/str.h"
#include "core/enroll/order.h"
#include "core/keys/keyobj.h"
#include "p11portal/pkcs11-vendor.h"
#include "tools/select.h"
#include "tools/tool.h"

#define PORTAL_NOTE                                                    \
    "the portal is not contacted: the certificate stays valid at the " \
    "portal; revoke it first with p11portal revoke if needed"
#define DONE_NOTE                                                       \
    "the portal was not contacted: the certificate stays valid at the " \
    "portal (revoke it there if needed)"
#define DELETED_ERROR "deleted locally (p11portal delete)"
#define MAX_KEYS      4096

enum {
    OPT_CERT_ONLY = 0x5601,
};

static const struct option opts[] = {
    P11P_SELECT_OPTIONS,
    { "cert-only", no_argument, NULL, OPT_CERT_ONLY },
    { NULL, 0, NULL, 0 },
};

static const char usage[] =
    " SELECTION [--cert-only] [--yes]\n"
    "Removes LOCAL objects only: the selected certificate's key pair, its\n"
    "certificates and its order objects (or with --cert-only just the\n"
    "certificate). The portal is never contacted: the certificate stays\n"
    "valid at the portal; revoke it first with p11portal revoke if\n"
    "needed. With key_backend = hsm the backing HSM key is destroyed too.\n"
    "Order records stay (p11portal orders); pending ones become failed.\n"
    "Asks for confirmation unless --yes (no terminal and no --yes:\n"
    "exit 6). A key selection needs the user PIN.\n"
    "  --cert-only         delete the certificate(s), keep the key pair\n" P11P_SELECT_USAGE;

/* One object to delete. */
struct victim {
    int64_t id;
    CK_OBJECT_CLASS klass;
    char *label;
    char detail[512];
};

struct plan {
    struct victim *v;
    size_t n, cap;
    /* Key ids (CKA_ID) whose orders are updated. */
    unsigned char ckaid[MAX_KEYS][64];
    size_t ckaid_len[MAX_KEYS];
    size_t n_keys;
    bool has_priv;
};

struct delete_opts {
    const struct p11p_tool *t;
    struct p11p_sel sel;
    bool cert_only;
};

static int handle(void *ud, int c, const char *arg)
{
    struct delete_opts *o = ud;
    int rc = p11p_select_parse_opt(o->t, &o->sel, c, arg);

    if (rc != P11P_SELECT_OTHER) {
        return rc;
    }
    if (c == OPT_CERT_ONLY) {
        o->cert_only = true;
        return 0;
    }
    return P11P_EXIT_USAGE;
}

static void plan_free(struct plan *p)
{
    for (size_t i = 0; p != NULL && i < p->n; i++) {
        free(p->v[i].label);
    }
    if (p != NULL) {
        free(p->v);
    }
    free(p);
}

static const char *class_name(CK_OBJECT_CLASS k)
{
    static const struct {
        CK_OBJECT_CLASS k;
        const char *name;
    } names[] = {
        { CKO_CERTIFICATE, "certificate" },
        { CKO_PRIVATE_KEY, "private key" },
        { CKO_PUBLIC_KEY, "public key" },
        { CKO_DATA, "order object" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].k == k) {
            return names[i].name;
        }
    }
    return "object";
}

/* Adds object id unless already planned. */
static enum p11p_status plan_add(struct p11p_cache *c, struct plan *p,
                                 int64_t id)
{
    struct p11p_cache_object o = { 0 };
    struct p11p_certinfo ci = { 0 };
    struct victim *grown;
    struct victim *v;
    enum p11p_status st;

    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i].id == id) {
            return P11P_OK;
        }
    }
    st = p11p_cache_object_get(c, id, &o);
    if (st != P11P_OK) {
        return st;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap == 0 ? 8 : p->cap * 2;
        grown = realloc(p->v, cap * sizeof(*grown));
        if (grown == NULL) {
            p11p_cache_object_clear(&o);
            return P11P_ERR_NOMEM;
        }
        p->v = grown;
        p->cap = cap;
    }
    v = &p->v[p->n++];
    memset(v, 0, sizeof(*v));
    v->id = id;
    v->klass = o.klass;
    v->label = p11p_attrlist_get_str(&o.attrs, CKA_LABEL);
    if (o.klass == CKO_CERTIFICATE
        && p11p_select_certinfo(c, id, &ci) == P11P_OK) {
        char until[20];
        p11p_tool_time(ci.not_after, until);
        snprintf(v->detail, sizeof(v->detail), "serial %s, CN %s, until %s",
                 ci.serial, ci.cn, until);
    } else if (o.klass == CKO_DATA && o.order_id != 0) {
        snprintf(v->detail, sizeof(v->detail), "order %" PRId64, o.order_id);
    }
    if (o.klass == CKO_PRIVATE_KEY) {
        p->has_priv = true;
    }
    p11p_certinfo_clear(&ci);
    p11p_cache_object_clear(&o);
    return P11P_OK;
}

static bool is_order_object(struct p11p_cache *c, int64_t id)
{
    struct p11p_cache_object o = { 0 };
    const CK_ATTRIBUTE *a;
    bool yes = false;

    if (p11p_cache_object_get(c, id, &o) == P11P_OK) {
        a = p11p_attrlist_get0(&o.attrs, CKA_APPLICATION);
        yes = a != NULL && a->ulValueLen == strlen(P11PORTAL_APP_ORDER)
              && memcmp(a->pValue, P11PORTAL_APP_ORDER, a->ulValueLen) == 0;
    }
    p11p_cache_object_clear(&o);
    return yes;
}

/* Every leaf certificate, key and order object with CKA_ID ckaid. */
static enum p11p_status plan_key(struct p11p_cache *c, struct plan *p,
                                 const unsigned char *ckaid, size_t len)
{
    struct p11p_sel s = { .has_id = true, .id_len = len };
    struct p11p_cache_filter f = { 0 };
    int64_t *ids = NULL;
    size_t n = 0;
    enum p11p_status st;

    for (size_t i = 0; i < p->n_keys; i++) {
        if (p->ckaid_len[i] == len && memcmp(p->ckaid[i], ckaid, len) == 0) {
            return P11P_OK;
        }
    }
    if (len == 0 || len > sizeof(s.id) || p->n_keys == MAX_KEYS) {
        return P11P_ERR_INVALID_INPUT;
    }
    memcpy(p->ckaid[p->n_keys], ckaid, len);
    p->ckaid_len[p->n_keys++] = len;
    memcpy(s.id, ckaid, len);
    st = p11p_select_certs(c, NULL, &s, &ids, &n);
    for (size_t i = 0; st == P11P_OK && i < n; i++) {
        st = plan_add(c, p, ids[i]);
    }
    free(ids);
    ids = NULL;
    f.has_class = true;
    f.klass = CKO_DATA;
    f.ckaid = ckaid;
    f.ckaid_len = len;
    if (st == P11P_OK) {
        st = p11p_cache_object_find(c, &f, &ids, &n);
    }
    for (size_t i = 0; st == P11P_OK && i < n; i++) {
        if (is_order_object(c, ids[i])) {
            st = plan_add(c, p, ids[i]);
        }
    }
    free(ids);
    ids = NULL;
    if (st == P11P_OK) {
        st = p11p_select_keys(c, ckaid, len, &ids, &n);
    }
    for (size_t i = 0; st == P11P_OK && i < n; i++) {
        st = plan_add(c, p, ids[i]);
    }
    free(ids);
    return st;
}

/* Keys the selection names when no certificate matches (a key whose order
 * is still pending): by --id, the --order's key, or private keys by
 * --label. */
static enum p11p_status plan_keys_only(struct p11p_cache *c, struct plan *p,
                                       const struct p11p_sel *s)
{
    struct p11p_cache_filter f = { 0 };
    struct p11p_order ord = { 0 };
    struct p11p_cache_object o = { 0 };
    int64_t *ids = NULL;
    size_t n = 0;
    enum p11p_status st = P11P_OK;

    if (s->has_serial) {
        return P11P_OK; /* a serial names a certificate: none matched */
    }
    if (s->has_id) {
        return plan_key(c, p, s->id, s->id_len);
    }
    if (s->order != 0) {
        st = p11p_cache_order_get(c, s->order, &ord);
        if (st == P11P_OK && ord.ckaid_len > 0) {
            st = plan_key(c, p, ord.ckaid, ord.ckaid_len);
        }
        p11p_order_clear(&ord);
        return st == P11P_ERR_NOT_FOUND ? P11P_OK : st;
    }
    if (!s->has_label) {
        return P11P_OK;
    }
    f.has_class = true;
    f.klass = CKO_PRIVATE_KEY;
    f.label = s->label;
    f.label_len = strlen(s->label);
    st = p11p_cache_object_find(c, &f, &ids, &n);
    for (size_t i = 0; st == P11P_OK && i < n; i++) {
        const CK_ATTRIBUTE *a;
        st = p11p_cache_object_get(c, ids[i], &o);
        a = st == P11P_OK ? p11p_attrlist_get0(&o.attrs, CKA_ID) : NULL;
        if (a != NULL && a->ulValueLen > 0) {
            st = plan_key(c, p, a->pValue, a->ulValueLen);
        }
        p11p_cache_object_clear(&o);
    }
    free(ids);
    return st;
}

static enum p11p_status build_plan(struct p11p_tool *t,
                                   const struct delete_opts *o, struct plan *p)
{
    struct p11p_certinfo ci = { 0 };
    int64_t *ids = NULL;
    size_t n = 0;
    enum p11p_status st =
        p11p_select_certs(t->cache, t->tok, &o->sel, &ids, &n);

    for (size_t i = 0; st == P11P_OK && i < n; i++) {
        if (o->cert_only) {
            st = plan_add(t->cache, p, ids[i]);
            continue;
        }
        st = p11p_select_certinfo(t->cache, ids[i], &ci);
        if (st == P11P_OK) {
            st = ci.ckaid_len > 0
                     ? plan_key(t->cache, p, ci.ckaid, ci.ckaid_len)
                     : plan_add(t->cache, p, ids[i]);
        }
        p11p_certinfo_clear(&ci);
    }
    if (st == P11P_OK && n == 0 && !o->cert_only) {
        st = plan_keys_only(t->cache, p, &o->sel);
    }
    free(ids);
    return st;
}

static bool planned(const struct plan *p, int64_t id)
{
    for (size_t i = 0; id != 0 && i < p->n; i++) {
        if (p->v[i].id == id) {
            return true;
        }
    }
    return false;
}

/* Detaches the orders of the planned objects from them (one transaction):
 * object ids of deleted objects set to 0, the order object gone, pending
 * orders FAILED. Then no collector stores a certificate for a deleted key
 * and no sync rebuilds a deleted order object. */
static enum p11p_status detach_orders(struct p11p_cache *c,
                                      const struct plan *p, size_t *n_failed)
{
    struct p11p_order *list = NULL;
    struct p11p_cache_txn *txn = NULL;
    size_t n = 0;
    enum p11p_status st = p11p_cache_order_list(c, UINT32_MAX, 0, 0, &list, &n);

    *n_failed = 0;
    if (st == P11P_OK) {
        st = p11p_cache_txn_begin(c, &txn);
    }
    for (size_t i = 0; st == P11P_OK && i < n; i++) {
        struct p11p_order *o = &list[i];
        enum p11p_order_state was = o->state;
        bool touched = false;

        if (planned(p, o->cert_object_id)) {
            o->cert_object_id = 0;
            touched = true;
        }
        if (planned(p, o->priv_object_id) || planned(p, o->pub_object_id)
            || planned(p, o->data_object_id)) {
            o->priv_object_id =
                planned(p, o->priv_object_id) ? 0 : o->priv_object_id;
            o->pub_object_id =
                planned(p, o->pub_object_id) ? 0 : o->pub_object_id;
            o->data_object_id =
                planned(p, o->data_object_id) ? 0 : o->data_object_id;
            touched = true;
            if (!p11p_order_is_final(o->state) && o->priv_object_id == 0) {
                o->state = P11P_ORDER_FAILED;
                (*n_failed)++;
            }
        }
        if (!touched) {
            continue;
        }
        free(o->last_error);
        o->last_error = p11p_str_dup(DELETED_ERROR);
        st = o->last_error != NULL ? p11p_cache_order_update(txn, o, was)
                                   : P11P_ERR_NOMEM;
    }
    if (st == P11P_OK) {
        st = p11p_cache_txn_commit(txn);
    } else {
        p11p_cache_txn_rollback(txn);
    }
    p11p_cache_order_list_free(list, n);
    return st;
}

static void print_plan(const struct p11p_tool *t, const struct plan *p, FILE *f)
{
    static const char *const headers[] = { "OBJECT", "TYPE", "LABEL",
                                           "DETAIL" };
    struct p11p_table *tb = p11p_table_new(4, headers);
    char id[24];
    const char *cells[4];

    if (tb == NULL) {
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        snprintf(id, sizeof(id), "%" PRId64, p->v[i].id);
        cells[0] = id;
        cells[1] = class_name(p->v[i].klass);
        cells[2] = p->v[i].label;
        cells[3] = p->v[i].detail[0] != '\0' ? p->v[i].detail : NULL;
        p11p_table_add(tb, cells);
    }
    (void)t;
    p11p_table_print(tb, f);
    p11p_table_free(tb);
}

static bool is_hsm(const struct p11p_tool *t)
{
    return t->tok->key_backend != NULL
           && strcmp(t->tok->key_backend, "hsm") == 0;
}

static void report_json(const struct p11p_tool *t, const struct plan *p,
                        size_t done, size_t n_failed)
{
    struct p11p_jw w;

    p11p_jw_init(&w, stdout, true);
    p11p_jw_begin_object(&w);
    p11p_jw_kstr(&w, "token", t->tok->name);
    p11p_jw_key(&w, "deleted");
    p11p_jw_begin_array(&w);
    for (size_t i = 0; i < done; i++) {
        p11p_jw_begin_object(&w);
        p11p_jw_kint(&w, "object", p->v[i].id);
        p11p_jw_kstr(&w, "type", class_name(p->v[i].klass));
        p11p_jw_kstr(&w, "label", p->v[i].label);
        p11p_jw_kstr(&w, "detail", p->v[i].detail);
        p11p_jw_end_object(&w);
    }
    p11p_jw_end_array(&w);
    p11p_jw_kint(&w, "orders_marked_failed", (int64_t)n_failed);
    p11p_jw_kbool(&w, "hsm_keys_destroyed", is_hsm(t) && p->has_priv);
    p11p_jw_kbool(&w, "portal_contacted", false);
    p11p_jw_kstr(&w, "note", PORTAL_NOTE);
    p11p_jw_end_object(&w);
    p11p_jw_finish(&w);
}

/* Certificates first, then order objects, then keys (private ones with
 * their backend material): a crash midway never leaves a certificate
 * without its key. */
static int run_plan(struct p11p_tool *t, struct plan *p, size_t *done)
{
    static const CK_OBJECT_CLASS order[] = { CKO_CERTIFICATE, CKO_DATA,
                                             CKO_PUBLIC_KEY, CKO_PRIVATE_KEY };
    struct victim tmp;
    size_t k = 0;
    enum p11p_status st;

    /* Sort the plan into that order (stable, small n). */
    for (size_t c = 0; c < sizeof(order) / sizeof(order[0]); c++) {
        for (size_t i = k; i < p->n; i++) {
            if (p->v[i].klass == order[c]) {
                tmp = p->v[i];
                memmove(&p->v[k + 1], &p->v[k], (i - k) * sizeof(tmp));
                p->v[k++] = tmp;
            }
        }
    }
    for (*done = 0; *done < p->n; (*done)++) {
        st = p11p_keyobj_destroy(t->ks, t->cache, p->v[*done].id);
        if (st != P11P_OK && st != P11P_ERR_NOT_FOUND) {
            return p11p_tool_fail(t, p11p_tool_exit_of(st),
                                  "object %" PRId64 " (%s): cannot delete it: "
                                  "%s; %zu of %zu deleted",
                                  p->v[*done].id, class_name(p->v[*done].klass),
                                  p11p_status_text(st), *done, p->n);
        }
    }
    return 0;
}

int p11p_cmd_delete(struct p11p_tool *t, int argc, char **argv)
{
    struct delete_opts o = { .t = t };
    struct plan *p = NULL;
    char question[512];
    size_t done = 0, n_failed = 0;
    enum p11p_status st;
    int rc =
        p11p_tool_getopt(t, argc, argv, opts, NULL, usage, handle, &o, NULL);

    if (rc != 0) {
        return rc;
    }
    if (!o.sel.given) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "say what to delete: --uri, --label, --id, "
                              "--serial or --order (see --help)");
    }
    rc = p11p_tool_open(t, P11P_TOOL_NEED_CACHE);
    if (rc != 0) {
        return rc;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return p11p_tool_fail(t, P11P_EXIT_FAILED, "out of memory");
    }
    st = build_plan(t, &o, p);
    if (st != P11P_OK) {
        rc = p11p_tool_fail(t, p11p_tool_exit_of(st),
                            "cannot select the objects: %s",
                            p11p_status_text(st));
        goto out;
    }
    if (p->n == 0) {
        rc = p11p_tool_fail(t, P11P_EXIT_USAGE,
                            "nothing on token \"%s\" matches the selection",
                            t->tok->name);
        goto out;
    }
    fprintf(stderr, "To delete from token \"%s\" (local objects only):\n",
            t->tok->name);
    print_plan(t, p, stderr);
    fprintf(stderr, "Note: %s.\n", PORTAL_NOTE);
    if (is_hsm(t) && p->has_priv) {
        fprintf(stderr, "Note: key_backend = hsm: the backing HSM key is "
                        "destroyed too; it cannot be recovered.\n");
    }
    snprintf(question, sizeof(question),
             "Delete these %zu local object(s) (the portal is not touched)",
             p->n);
    if (!p11p_tool_confirm(t, question)) {
        rc = p11p_tool_fail(t, P11P_EXIT_CANCELLED, "nothing deleted");
        goto out;
    }
    /* Keys are private objects: removing them needs the user logged in. */
    rc = p11p_tool_open(t, p->has_priv ? P11P_TOOL_NEED_LOGIN
                                       : P11P_TOOL_NEED_KEYS);
    if (rc != 0) {
        goto out;
    }
    st = detach_orders(t->cache, p, &n_failed);
    if (st != P11P_OK) {
        rc = p11p_tool_fail(t, p11p_tool_exit_of(st),
                            "cannot update the orders: %s; nothing deleted",
                            p11p_status_text(st));
        goto out;
    }
    rc = run_plan(t, p, &done);
    if (t->json) {
        report_json(t, p, done, n_failed);
    } else if (rc == 0) {
        printf("deleted %zu local object(s) from token \"%s\"%s; %s\n", done,
               t->tok->name,
               is_hsm(t) && p->has_priv ? " (backing HSM key destroyed)" : "",
               DONE_NOTE);
        if (n_failed > 0) {
            p11p_tool_note(t, "%zu pending order(s) marked failed", n_failed);
        }
    }
    if (rc != 0 && done > 0) {
        rc = P11P_EXIT_PARTIAL;
    }
out:
    plan_free(p);
    return rc;
}

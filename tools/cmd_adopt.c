/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal adopt: links the portal's certificates of keys that are on the
 * token without a certificate (after a reinstall, a wiped cache, keys made
 * by other tools; docs/tool.md "adopt"): p11p_enroll_adopt asks the portal
 * by public key, checks what it finds (the key matches, the chain
 * verifies) and stores the certificate, its chain and an order record.
 * Prints the certificates linked.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tools/select.h"
#include "tools/tool.h"

static const char usage[] =
    " [COMMON OPTIONS]\n"
    "For every private key of the token without a certificate, asks the\n"
    "portal (its list and search calls) for an issued certificate of that\n"
    "key, and links it as a certificate object with the key's CKA_ID, with\n"
    "its chain and an order record. hsm backend: keys of the backing HSM\n"
    "without a p11portal object are taken in first.\n";

/* Certificate objects, ascending ids. */
static enum p11p_status list_certs(struct p11p_tool *t, int64_t **ids,
                                   size_t *n)
{
    struct p11p_sel all;

    memset(&all, 0, sizeof(all));
    return p11p_select_certs(t->cache, t->tok, &all, ids, n);
}

static bool contains(const int64_t *ids, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == id) {
            return true;
        }
    }
    return false;
}

int p11p_cmd_adopt(struct p11p_tool *t, int argc, char **argv)
{
    static const char *const headers[] = { "OBJECT", "LABEL",     "CN",
                                           "SERIAL", "NOT AFTER", "ORDER" };
    int64_t *before = NULL;
    int64_t *after = NULL;
    size_t nb = 0;
    size_t na = 0;
    size_t linked = 0;
    struct p11p_table *tb = NULL;
    struct p11p_jw w;
    int rc;
    enum p11p_status st;

    rc = p11p_tool_getopt(t, argc, argv, NULL, NULL, usage, NULL, NULL, NULL);
    if (rc != 0) {
        return rc;
    }
    rc = p11p_tool_open(t, P11P_TOOL_NEED_ENROLL);
    if (rc != 0) {
        return rc;
    }
    st = list_certs(t, &before, &nb);
    if (st == P11P_OK) {
        st = p11p_enroll_adopt(t->enroll, &linked);
    }
    if (st == P11P_OK) {
        st = list_certs(t, &after, &na);
    }
    if (st != P11P_OK) {
        rc = p11p_tool_fail(t, p11p_tool_exit_of(st), "adopt failed: %s",
                            p11p_status_text(st));
        goto out;
    }
    if (t->json) {
        p11p_jw_init(&w, stdout, true);
        p11p_jw_begin_object(&w);
        p11p_jw_kint(&w, "linked", (int64_t)linked);
        p11p_jw_key(&w, "certificates");
        p11p_jw_begin_array(&w);
    } else {
        tb = p11p_table_new(6, headers);
    }
    for (size_t i = 0; i < na; i++) {
        struct p11p_certinfo ci;
        char id[24];
        char oid[24];
        char hex[129];
        char naf[20];
        memset(&ci, 0, sizeof(ci));
        if (contains(before, nb, after[i])
            || p11p_select_certinfo(t->cache, after[i], &ci) != P11P_OK) {
            continue;
        }
        snprintf(id, sizeof(id), "%" PRId64, ci.id);
        snprintf(oid, sizeof(oid), "%" PRId64, ci.order_id);
        p11p_tool_hex(ci.ckaid, ci.ckaid_len, hex);
        p11p_tool_time(ci.not_after, naf);
        if (t->json) {
            p11p_jw_begin_object(&w);
            p11p_jw_kint(&w, "object", ci.id);
            p11p_jw_kstr(&w, "label", ci.label);
            p11p_jw_kstr(&w, "cn", ci.cn);
            p11p_jw_kstr(&w, "ckaid", hex);
            p11p_jw_kstr(&w, "serial", ci.serial);
            p11p_jw_kint(&w, "not_after", ci.not_after);
            p11p_jw_kint(&w, "order_id", ci.order_id);
            p11p_jw_end_object(&w);
        } else if (tb != NULL) {
            const char *cells[6] = { id,    ci.label != NULL ? ci.label : "",
                                     ci.cn, ci.serial,
                                     naf,   oid };
            p11p_table_add(tb, cells);
        }
        p11p_certinfo_clear(&ci);
    }
    if (t->json) {
        p11p_jw_end_array(&w);
        p11p_jw_end_object(&w);
        p11p_jw_finish(&w);
    } else {
        if (linked > 0 && tb != NULL) {
            p11p_table_print(tb, stdout);
        }
        printf("%zu certificate%s linked\n", linked, linked == 1 ? "" : "s");
    }
    rc = P11P_EXIT_OK;
out:
    p11p_table_free(tb);
    free(before);
    free(after);
    return rc;
}

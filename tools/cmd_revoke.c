/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal revoke: revokes certificates at the portal (docs/tool.md
 * "revoke"), chosen by a selector (select.h: --uri, --label, --id,
 * --serial, --order) or by a batch report (--report FILE, the CSV or JSON
 * report of p11portal batch: every device in it with a serial). The reason
 * is an RFC 5280 name (--reason, default unspecified), mapped to each
 * portal's codes by its driver. Shows what it will revoke and asks for
 * confirmation unless --yes (no terminal and no --yes: refused, exit 6).
 * The objects stay on the token; their order objects say "revoked".
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/enroll/revoke.h"
#include "tools/select.h"
#include "tools/tool.h"

#define REPORT_LINE_MAX 8192

enum {
    OPT_REASON = 0x5701,
    OPT_REPORT,
};

static const struct option opts[] = {
    P11P_SELECT_OPTIONS,
    { "reason", required_argument, NULL, OPT_REASON },
    { "report", required_argument, NULL, OPT_REPORT },
    { NULL, 0, NULL, 0 },
};

static const char usage[] =
    " SELECTION | --report FILE  [--reason NAME] [--yes] [COMMON OPTIONS]\n"
    "Revokes the selected certificates at the portal. The certificates and\n"
    "keys stay on the token; their orders become 'revoked'. Asks first,\n"
    "showing what, unless --yes.\n"
    "  --reason NAME       RFC 5280 reason: unspecified (default),\n"
    "                      keyCompromise, cACompromise, affiliationChanged,\n"
    "                      superseded, cessationOfOperation, certificateHold,\n"
    "                      privilegeWithdrawn (each portal's codes are used)\n"
    "  --report FILE       every device of a p11portal batch report (.csv or\n"
    "                      .json) that has a certificate\n" P11P_SELECT_USAGE;

struct revoke_opts {
    const struct p11p_tool *t;
    struct p11p_sel sel;
    enum p11p_revoke_reason reason;
    const char *report;
};

static int handle(void *ud, int c, const char *arg)
{
    struct revoke_opts *o = ud;
    int rc = p11p_select_parse_opt(o->t, &o->sel, c, arg);

    if (rc != P11P_SELECT_OTHER) {
        return rc;
    }
    switch (c) {
    case OPT_REASON:
        if (p11p_revoke_reason_parse(arg, &o->reason) != P11P_OK) {
            return p11p_tool_fail(o->t, P11P_EXIT_USAGE,
                                  "--reason: \"%s\" is not one of %s", arg,
                                  p11p_revoke_reason_names());
        }
        return 0;
    case OPT_REPORT:
        o->report = arg;
        return 0;
    default:
        return P11P_EXIT_USAGE;
    }
}

/* ---- the list of certificates ---- */

struct idlist {
    int64_t *ids;
    size_t n;
    size_t cap;
};

/* Adds id unless present. */
static bool idlist_add(struct idlist *l, int64_t id)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->ids[i] == id) {
            return true;
        }
    }
    if (l->n == l->cap) {
        size_t cap = l->cap != 0 ? l->cap * 2 : 16;
        int64_t *p = realloc(l->ids, cap * sizeof(*p));
        if (p == NULL) {
            return false;
        }
        l->ids = p;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
    return true;
}

/* Adds the certificates of serial (as --serial takes it). */
static int add_serial(struct p11p_tool *t, struct idlist *l, const char *serial)
{
    struct p11p_sel s;
    int64_t *ids = NULL;
    size_t n = 0;
    int rc;

    memset(&s, 0, sizeof(s));
    rc = p11p_select_parse_opt(t, &s, P11P_SELECT_OPT_SERIAL, serial);
    if (rc != 0) {
        return rc;
    }
    if (p11p_select_certs(t->cache, t->tok, &s, &ids, &n) != P11P_OK) {
        return P11P_EXIT_FAILED;
    }
    if (n == 0) {
        p11p_tool_note(t, "report: no certificate with serial %s on the token",
                       serial);
    }
    for (size_t i = 0; i < n; i++) {
        if (!idlist_add(l, ids[i])) {
            free(ids);
            return p11p_tool_fail(t, P11P_EXIT_FAILED, "out of memory");
        }
    }
    free(ids);
    return 0;
}

/* Splits one CSV line into at most max fields (in place; "" quoting). */
static size_t csv_split(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;

    while (n < max) {
        char *w = p;
        fields[n++] = p;
        if (*p == '"') {
            char *r = p + 1;
            for (; *r != '\0'; r++) {
                if (*r == '"' && r[1] == '"') {
                    *w++ = '"';
                    r++;
                } else if (*r == '"') {
                    r++;
                    break;
                } else {
                    *w++ = *r;
                }
            }
            p = r;
        } else {
            while (*p != '\0' && *p != ',') {
                p++;
            }
            w = p;
        }
        char *sep = strchr(p, ',');
        bool last = sep == NULL;
        *w = '\0';
        if (last) {
            break;
        }
        p = sep + 1;
    }
    return n;
}

/* The serials of a batch report in CSV (a "serial" column). */
static int report_csv(struct p11p_tool *t, FILE *f, struct idlist *l)
{
    char line[REPORT_LINE_MAX];
    char *fields[64];
    size_t col = SIZE_MAX;
    int rc = 0;

    if (fgets(line, sizeof(line), f) == NULL) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE, "--report: empty file");
    }
    line[strcspn(line, "\r\n")] = '\0';
    size_t nh = csv_split(line, fields, 64);
    for (size_t i = 0; i < nh; i++) {
        if (strcmp(fields[i], "serial") == 0) {
            col = i;
        }
    }
    if (col == SIZE_MAX) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "--report: no \"serial\" column: not a "
                              "p11portal batch report");
    }
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        size_t n = csv_split(line, fields, 64);
        if (col < n && fields[col][0] != '\0') {
            rc = add_serial(t, l, fields[col]);
        }
    }
    return rc;
}

/* The serials of a batch report in JSON: every "serial": "HEX" member. */
static int report_json(struct p11p_tool *t, FILE *f, struct idlist *l)
{
    char *doc = NULL;
    size_t len = 0;
    size_t cap = 0;
    char buf[4096];
    size_t got;
    int rc = 0;

    while ((got = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (len + got + 1 > cap) {
            size_t ncap = (len + got + 1) * 2;
            char *p = realloc(doc, ncap);
            if (p == NULL) {
                free(doc);
                return p11p_tool_fail(t, P11P_EXIT_FAILED, "out of memory");
            }
            doc = p;
            cap = ncap;
        }
        memcpy(doc + len, buf, got);
        len += got;
    }
    if (doc == NULL) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE, "--report: empty file");
    }
    doc[len] = '\0';
    for (char *p = strstr(doc, "\"serial\""); rc == 0 && p != NULL;
         p = strstr(p, "\"serial\"")) {
        char serial[130];
        size_t k = 0;
        p += strlen("\"serial\"");
        while (isspace((unsigned char)*p) || *p == ':') {
            p++;
        }
        if (*p != '"') {
            continue; /* null: no certificate */
        }
        p++;
        while (k + 1 < sizeof(serial) && isxdigit((unsigned char)p[k])) {
            serial[k] = p[k];
            k++;
        }
        serial[k] = '\0';
        if (k > 0 && p[k] == '"') {
            rc = add_serial(t, l, serial);
        }
    }
    free(doc);
    return rc;
}

static int read_report(struct p11p_tool *t, const char *path, struct idlist *l)
{
    FILE *f = fopen(path, "re");
    int c;
    int rc;

    if (f == NULL) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "--report: cannot open %s: %s", path,
                              strerror(errno));
    }
    do {
        c = fgetc(f);
    } while (c != EOF && isspace(c));
    if (c != EOF) {
        ungetc(c, f);
    }
    rc = c == '{' || c == '[' ? report_json(t, f, l) : report_csv(t, f, l);
    fclose(f);
    return rc;
}

/* ---- revoking ---- */

struct outcome {
    struct p11p_certinfo ci;
    enum p11p_status st;
    char message[600];
};

static void print_plan(const struct p11p_tool *t, struct outcome *r, size_t n)
{
    static const char *const headers[] = { "OBJECT", "LABEL", "CN", "SERIAL",
                                           "NOT AFTER" };
    struct p11p_table *tb = p11p_table_new(5, headers);
    char id[24];
    char na[20];

    for (size_t i = 0; tb != NULL && i < n; i++) {
        const char *cells[5];
        snprintf(id, sizeof(id), "%" PRId64, r[i].ci.id);
        p11p_tool_time(r[i].ci.not_after, na);
        cells[0] = id;
        cells[1] = r[i].ci.label != NULL ? r[i].ci.label : "";
        cells[2] = r[i].ci.cn;
        cells[3] = r[i].ci.serial;
        cells[4] = na;
        p11p_table_add(tb, cells);
    }
    if (tb != NULL && !t->quiet) {
        p11p_table_print(tb, stderr);
    }
    p11p_table_free(tb);
}

static void print_result(const struct p11p_tool *t, const struct outcome *r,
                         size_t n, enum p11p_revoke_reason reason)
{
    static const char *const headers[] = { "SERIAL", "LABEL", "RESULT" };
    struct p11p_table *tb = NULL;
    struct p11p_jw w;

    if (t->json) {
        p11p_jw_init(&w, stdout, true);
        p11p_jw_begin_object(&w);
        p11p_jw_kstr(&w, "reason", p11p_revoke_reason_name(reason));
        p11p_jw_key(&w, "certificates");
        p11p_jw_begin_array(&w);
        for (size_t i = 0; i < n; i++) {
            p11p_jw_begin_object(&w);
            p11p_jw_kint(&w, "object", r[i].ci.id);
            p11p_jw_kstr(&w, "label", r[i].ci.label);
            p11p_jw_kstr(&w, "serial", r[i].ci.serial);
            p11p_jw_kbool(&w, "ok", r[i].st == P11P_OK);
            p11p_jw_kstr(&w, "message", r[i].message);
            p11p_jw_end_object(&w);
        }
        p11p_jw_end_array(&w);
        p11p_jw_end_object(&w);
        p11p_jw_finish(&w);
        return;
    }
    tb = p11p_table_new(3, headers);
    for (size_t i = 0; tb != NULL && i < n; i++) {
        const char *cells[3] = { r[i].ci.serial,
                                 r[i].ci.label != NULL ? r[i].ci.label : "",
                                 r[i].message };
        p11p_table_add(tb, cells);
    }
    if (tb != NULL) {
        p11p_table_print(tb, stdout);
    }
    p11p_table_free(tb);
}

int p11p_cmd_revoke(struct p11p_tool *t, int argc, char **argv)
{
    struct revoke_opts o;
    struct idlist l = { NULL, 0, 0 };
    struct outcome *r = NULL;
    size_t ok = 0;
    enum p11p_status first_err = P11P_OK;
    char question[256];
    int rc;

    memset(&o, 0, sizeof(o));
    o.t = t;
    o.reason = P11P_REVOKE_UNSPECIFIED;
    rc = p11p_tool_getopt(t, argc, argv, opts, NULL, usage, handle, &o, NULL);
    if (rc != 0) {
        return rc;
    }
    if (!o.sel.given && o.report == NULL) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "say which certificates: a selector (--serial, "
                              "--label, --uri, --id, --order) or --report");
    }
    rc = p11p_tool_open(t, P11P_TOOL_NEED_ENROLL);
    if (rc != 0) {
        return rc;
    }
    if (o.report != NULL) {
        rc = read_report(t, o.report, &l);
    }
    if (rc == 0 && o.sel.given) {
        int64_t *ids = NULL;
        size_t n = 0;
        if (p11p_select_certs(t->cache, t->tok, &o.sel, &ids, &n) != P11P_OK) {
            rc = P11P_EXIT_USAGE;
        }
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (!idlist_add(&l, ids[i])) {
                rc = p11p_tool_fail(t, P11P_EXIT_FAILED, "out of memory");
            }
        }
        free(ids);
    }
    if (rc != 0) {
        goto out;
    }
    if (l.n == 0) {
        rc = p11p_tool_fail(t, P11P_EXIT_USAGE,
                            "no certificate on the token matches");
        goto out;
    }
    r = calloc(l.n, sizeof(*r));
    if (r == NULL) {
        rc = p11p_tool_fail(t, P11P_EXIT_FAILED, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < l.n; i++) {
        if (p11p_select_certinfo(t->cache, l.ids[i], &r[i].ci) != P11P_OK) {
            rc = p11p_tool_fail(t, P11P_EXIT_FAILED,
                                "cannot read certificate object %" PRId64,
                                l.ids[i]);
            goto out;
        }
    }
    print_plan(t, r, l.n);
    snprintf(question, sizeof(question),
             "Revoke %zu certificate%s at the portal with reason %s "
             "(cannot be undone)",
             l.n, l.n == 1 ? "" : "s", p11p_revoke_reason_name(o.reason));
    if (!p11p_tool_confirm(t, question)) {
        rc = p11p_tool_fail(t, P11P_EXIT_CANCELLED, "nothing revoked");
        goto out;
    }
    for (size_t i = 0; i < l.n; i++) {
        r[i].st = p11p_enroll_revoke(t->enroll, l.ids[i], o.reason,
                                     r[i].message, sizeof(r[i].message));
        if (r[i].st == P11P_OK) {
            ok++;
        } else if (first_err == P11P_OK) {
            first_err = r[i].st;
        }
    }
    print_result(t, r, l.n, o.reason);
    rc = ok == l.n ? P11P_EXIT_OK
         : ok > 0  ? P11P_EXIT_PARTIAL
                   : (int)p11p_tool_exit_of(first_err);
out:
    for (size_t i = 0; r != NULL && i < l.n; i++) {
        p11p_certinfo_clear(&r[i].ci);
    }
    free(r);
    free(l.ids);
    return rc;
}

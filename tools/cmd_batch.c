/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal batch: provisions devices (issue 7 item 1, docs/guides/
 * batch.md). A MAC range or a CSV of device rows; for each device a key
 * pair on the token, a CSR, an order through the token's driver, and the
 * certificate with its chain next to the key. Checks everything it can
 * before the first key (range against the token's MAC range, patterns,
 * CSV rows), resumes where an interrupted run stopped, and writes the
 * reports from the cache. The work is in batch_run.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/obj_mac.h>

#include "core/base/str.h"
#include "core/conf/subject.h"
#include "tools/batch.h"

#define DEFAULT_CONCURRENCY 16
#define MAX_CONCURRENCY     256
#define DEFAULT_WAIT_S      10

static const char usage[] =
    " (--start-mac MAC --count N [--increment K] | --csv FILE) [OPTIONS]\n"
    "Provisions devices: for each, a key pair on the token, a CSR, an order\n"
    "through the token's portal driver, and the certificate and chain next\n"
    "to the key. Running the same command again resumes an interrupted\n"
    "batch: devices that have an order are skipped (pending ones collected).\n"
    "  --start-mac MAC       first MAC (aa:bb:cc:dd:ee:ff, aa-bb-.., or\n"
    "                        aabbccddeeff; any case)\n"
    "  --count N             number of devices (1..500000)\n"
    "  --increment K         step between MACs (default 1)\n"
    "  --csv FILE            device rows instead of a range: header naming\n"
    "                        mac, cn (or common_name), sans, label and custom\n"
    "                        columns; each row a mac or a cn\n"
    "  --key-type T          ec:prime256v1 (default), ec:secp384r1,\n"
    "                        rsa:2048, rsa:3072, ed25519\n"
    "  --profile NAME        portal profile (default: the token's)\n"
    "  --label PATTERN       key label: ${mac} ${cn} ${n} (default ${mac},\n"
    "                        or ${cn} for CSV rows without a mac)\n"
    "  --subject TEMPLATE    subject DN: ${mac} ${cn} ${n} and the token's\n"
    "                        variables (default CN=<MAC>, or the token's\n"
    "                        subject when it uses ${mac}; CN=<cn> for rows\n"
    "                        with a cn)\n"
    "  --mac-format F        how ${mac} is written: colon (default),\n"
    "                        colon-upper (or upper), dash, dash-upper, bare,\n"
    "                        bare-upper\n"
    "  --concurrency N       devices in flight (default 16)\n"
    "  --report FILE.csv     report: one row per device\n"
    "  --report-json FILE    the same as JSON\n"
    "  --wait SECONDS        wait for pending orders at the end (default 10;\n"
    "                        'p11portal sync' collects the rest)\n"
    "  --dry-run             show the range, count, licences and the first\n"
    "                        and last subject; touch nothing\n"
    "  --force-partial       start even if the portal's licence balance is\n"
    "                        smaller than the devices to do\n"
    "  --portal-batch        submit the CSRs as portal batch jobs (DigiCert\n"
    "                        ONE), 5000 devices per job at most\n";

enum {
    OPT_START_MAC = 0x2000,
    OPT_COUNT,
    OPT_INCREMENT,
    OPT_CSV,
    OPT_KEY_TYPE,
    OPT_PROFILE,
    OPT_LABEL,
    OPT_SUBJECT,
    OPT_MAC_FORMAT,
    OPT_CONCURRENCY,
    OPT_REPORT,
    OPT_REPORT_JSON,
    OPT_WAIT,
    OPT_DRY_RUN,
    OPT_FORCE_PARTIAL,
    OPT_PORTAL_BATCH,
};

static const struct option opts[] = {
    { "start-mac", required_argument, NULL, OPT_START_MAC },
    { "count", required_argument, NULL, OPT_COUNT },
    { "increment", required_argument, NULL, OPT_INCREMENT },
    { "csv", required_argument, NULL, OPT_CSV },
    { "key-type", required_argument, NULL, OPT_KEY_TYPE },
    { "profile", required_argument, NULL, OPT_PROFILE },
    { "label", required_argument, NULL, OPT_LABEL },
    { "subject", required_argument, NULL, OPT_SUBJECT },
    { "mac-format", required_argument, NULL, OPT_MAC_FORMAT },
    { "concurrency", required_argument, NULL, OPT_CONCURRENCY },
    { "report", required_argument, NULL, OPT_REPORT },
    { "report-json", required_argument, NULL, OPT_REPORT_JSON },
    { "wait", required_argument, NULL, OPT_WAIT },
    { "dry-run", no_argument, NULL, OPT_DRY_RUN },
    { "force-partial", no_argument, NULL, OPT_FORCE_PARTIAL },
    { "portal-batch", no_argument, NULL, OPT_PORTAL_BATCH },
    { NULL, 0, NULL, 0 },
};

struct args {
    struct p11p_tool *t;
    const char *start_mac;
    const char *count;
    const char *increment;
    const char *csv;
    const char *key_type;
    const char *profile;
    const char *label;
    const char *subject;
    const char *mac_format;
    const char *concurrency;
    const char *report;
    const char *report_json;
    const char *wait;
    bool dry_run;
    bool force_partial;
    bool portal_batch;
};

static int handle(void *ud, int c, const char *arg)
{
    struct args *a = ud;
    const struct {
        int c;
        const char **dst;
    } str_opts[] = {
        { OPT_START_MAC, &a->start_mac },
        { OPT_COUNT, &a->count },
        { OPT_INCREMENT, &a->increment },
        { OPT_CSV, &a->csv },
        { OPT_KEY_TYPE, &a->key_type },
        { OPT_PROFILE, &a->profile },
        { OPT_LABEL, &a->label },
        { OPT_SUBJECT, &a->subject },
        { OPT_MAC_FORMAT, &a->mac_format },
        { OPT_CONCURRENCY, &a->concurrency },
        { OPT_REPORT, &a->report },
        { OPT_REPORT_JSON, &a->report_json },
        { OPT_WAIT, &a->wait },
    };

    for (size_t i = 0; i < sizeof(str_opts) / sizeof(str_opts[0]); i++) {
        if (str_opts[i].c == c) {
            *str_opts[i].dst = arg;
            return 0;
        }
    }
    switch (c) {
    case OPT_DRY_RUN:
        a->dry_run = true;
        return 0;
    case OPT_FORCE_PARTIAL:
        a->force_partial = true;
        return 0;
    case OPT_PORTAL_BATCH:
        a->portal_batch = true;
        return 0;
    default:
        return P11P_EXIT_USAGE;
    }
}

/* Key types: the name, the spec, the generation mechanism. */
static const struct {
    const char *name;
    CK_KEY_TYPE kt;
    unsigned bits;
    int nid;
    CK_MECHANISM_TYPE mech;
} key_types[] = {
    { "ec:prime256v1", CKK_EC, 0, NID_X9_62_prime256v1, CKM_EC_KEY_PAIR_GEN },
    { "ec:secp384r1", CKK_EC, 0, NID_secp384r1, CKM_EC_KEY_PAIR_GEN },
    { "rsa:2048", CKK_RSA, 2048, 0, CKM_RSA_PKCS_KEY_PAIR_GEN },
    { "rsa:3072", CKK_RSA, 3072, 0, CKM_RSA_PKCS_KEY_PAIR_GEN },
    { "ed25519", CKK_EC_EDWARDS, 0, NID_ED25519, CKM_EC_EDWARDS_KEY_PAIR_GEN },
};

static int parse_u64(const struct p11p_tool *t, const char *opt, const char *v,
                     uint64_t min, uint64_t max, uint64_t *out)
{
    if (p11p_str_to_u64(v, min, max, out) != P11P_OK) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "%s %s: a number from %" PRIu64 " to %" PRIu64
                              " is expected",
                              opt, v, min, max);
    }
    return 0;
}

/* Checks that mac lies in the token's MAC range. */
static int check_in_range(const struct p11p_tool *t, uint64_t mac,
                          const char *what)
{
    char m[18], lo[18], hi[18];

    if (!t->tok->has_mac) {
        return p11p_tool_fail(
            t, P11P_EXIT_USAGE,
            "token \"%s\" has no MAC range: configure mac_start and mac_end "
            "in its section (%s) before provisioning devices by MAC",
            t->tok->name, t->tok->source);
    }
    if (mac < t->tok->mac_start || mac > t->tok->mac_end) {
        p11p_batch_mac_format(mac, P11P_MACFMT_COLON, m);
        p11p_batch_mac_format(t->tok->mac_start, P11P_MACFMT_COLON, lo);
        p11p_batch_mac_format(t->tok->mac_end, P11P_MACFMT_COLON, hi);
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "%s %s is outside token \"%s\"'s MAC range %s "
                              "to %s (mac_start/mac_end, %s); nothing done",
                              what, m, t->tok->name, lo, hi, t->tok->source);
    }
    return 0;
}

static int cmp_label(const void *a, const void *b)
{
    const struct p11p_batch_device *x = a, *y = b;
    return strcmp(x->label, y->label);
}

/* CSV rows without a MAC are found again (resume, report) by their label:
 * those labels must be unique. */
static int check_labels(const struct p11p_tool *t,
                        const struct p11p_batch_plan *p, const char *path)
{
    struct p11p_batch_device *d = NULL;
    size_t n = 0;
    int rc = 0;

    d = calloc(p->count + 1, sizeof(*d));
    if (d == NULL) {
        return p11p_tool_fail(t, P11P_EXIT_FAILED, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < p->count; i++) {
        if (p->csv.rows[i].has_mac) {
            continue;
        }
        if (p11p_batch_device_at(p, i, &d[n]) != P11P_OK) {
            rc = p11p_tool_fail(t, P11P_EXIT_USAGE,
                                "%s, line %zu: the label pattern does not "
                                "expand for this row",
                                path, p->csv.rows[i].line);
            break;
        }
        n++;
    }
    qsort(d, n, sizeof(*d), cmp_label);
    for (size_t i = 1; rc == 0 && i < n; i++) {
        if (strcmp(d[i].label, d[i - 1].label) == 0) {
            size_t a = d[i - 1].row->line, b = d[i].row->line;
            rc = p11p_tool_fail(t, P11P_EXIT_USAGE,
                                "%s, line %zu: the label \"%s\" of line "
                                "%zu again (rows without a mac need unique "
                                "labels)",
                                path, a > b ? a : b, d[i].label, a < b ? a : b);
        }
    }
    for (size_t i = 0; i < n; i++) {
        p11p_batch_device_clear(&d[i]);
    }
    free(d);
    return rc;
}

/* Builds the plan from the arguments and checks it against the token. */
static int make_plan(struct args *a, struct p11p_batch_plan *p)
{
    const struct p11p_tool *t = a->t;
    uint64_t v = 0, last = 0;
    char err[512];
    int rc;

    if ((a->csv != NULL) == (a->start_mac != NULL)) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "give either --start-mac with --count, or "
                              "--csv (see --help)");
    }
    if (a->mac_format != NULL
        && p11p_batch_macfmt_parse(a->mac_format, &p->macfmt) != P11P_OK) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "--mac-format %s: colon, colon-upper, dash, "
                              "dash-upper, bare or bare-upper",
                              a->mac_format);
    }
    p->label_pattern = a->label;
    p->subject = a->subject;
    p->conf_subject_mac =
        t->tok->subject != NULL && p11p_subject_uses_mac(t->tok->subject);
    if (a->csv != NULL) {
        if (a->count != NULL || a->increment != NULL) {
            return p11p_tool_fail(t, P11P_EXIT_USAGE,
                                  "--count and --increment go with "
                                  "--start-mac, not with --csv");
        }
        if (p11p_batch_csv_load(a->csv, &p->csv, err, sizeof(err)) != P11P_OK) {
            return p11p_tool_fail(t, P11P_EXIT_USAGE, "%s", err);
        }
        p->is_csv = true;
        p->count = p->csv.n_rows;
        for (size_t i = 0; i < p->csv.n_rows; i++) {
            if (p->csv.rows[i].has_mac) {
                snprintf(err, sizeof(err), "%s, line %zu: MAC", a->csv,
                         p->csv.rows[i].line);
                rc = check_in_range(t, p->csv.rows[i].mac, err);
                if (rc != 0) {
                    return rc;
                }
            }
        }
        return check_labels(t, p, a->csv);
    }
    if (p11p_subject_mac_parse(a->start_mac, &p->start) != P11P_OK) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "--start-mac %s: not a 6-byte MAC "
                              "(aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff or "
                              "aabbccddeeff)",
                              a->start_mac);
    }
    if (a->count == NULL) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "--start-mac needs --count N");
    }
    rc = parse_u64(t, "--count", a->count, 1, P11P_BATCH_MAX_COUNT, &v);
    if (rc != 0) {
        return rc;
    }
    p->count = (size_t)v;
    p->inc = 1;
    if (a->increment != NULL) {
        rc =
            parse_u64(t, "--increment", a->increment, 1, P11P_MAC_MAX, &p->inc);
        if (rc != 0) {
            return rc;
        }
    }
    if (!p11p_batch_range_at(p->start, p->inc, p->count - 1, &last)) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "the range from %s, %zu devices, step %" PRIu64
                              ", passes ff:ff:ff:ff:ff:ff; nothing done",
                              a->start_mac, p->count, p->inc);
    }
    rc = check_in_range(t, p->start, "the first MAC");
    if (rc == 0) {
        rc = check_in_range(t, last, "the last MAC");
    }
    return rc;
}

/* The subject a device gets, as text (the engine expands the token's
 * variables the same way). */
static char *shown_subject(const struct p11p_tool *t,
                           const struct p11p_batch_device *d)
{
    struct p11p_subject_vars v;
    const char *tmpl = d->subject != NULL        ? d->subject
                       : t->tok->subject != NULL ? t->tok->subject
                                                 : "CN=${label}";
    char *s = NULL;

    memset(&v, 0, sizeof(v));
    v.label = d->label;
    v.token = t->tok->name;
    v.id_hex = "<CKA_ID>";
    v.has_mac = d->has_mac;
    v.mac = d->mac;
    return p11p_subject_expand(tmpl, &v, &s) == P11P_OK ? s : NULL;
}

/* Checks the patterns on the first and last device; prints them for a dry
 * run. */
static int check_devices(struct args *a, const struct p11p_batch_plan *p,
                         bool print)
{
    const struct p11p_tool *t = a->t;
    size_t idx[2] = { 0, p->count - 1 };

    for (size_t k = 0; k < 2; k++) {
        struct p11p_batch_device d;
        char *subj = NULL;
        if (p11p_batch_device_at(p, idx[k], &d) != P11P_OK) {
            return p11p_tool_fail(t, P11P_EXIT_USAGE,
                                  "--label or --subject: an unknown "
                                  "variable, or ${mac}/${cn} for a device "
                                  "without one (device %zu)",
                                  idx[k] + 1);
        }
        subj = shown_subject(t, &d);
        if (subj == NULL) {
            p11p_batch_device_clear(&d);
            return p11p_tool_fail(t, P11P_EXIT_USAGE,
                                  "the subject template of device %zu does "
                                  "not expand (see the line above)",
                                  idx[k] + 1);
        }
        if (print) {
            printf("%-14s %s%s%s  label %s  subject %s\n",
                   k == 0 ? "first device:" : "last device:",
                   d.has_mac ? "MAC " : "", d.mac_str, d.has_mac ? "" : "-",
                   d.label, subj);
        }
        free(subj);
        p11p_batch_device_clear(&d);
    }
    return 0;
}

/* Licences left at the portal (P11P_ERR_UNSUPPORTED: it does not tell). */
static enum p11p_status licences_left(struct p11p_tool *t, int64_t *left)
{
    return p11p_enroll_licences(t->enroll, left);
}

/* True if the token's driver has portal batch jobs: submitting no order
 * is refused as bad input by a driver that has them, as unsupported by
 * one that has not. */
static bool has_batch_api(struct p11p_tool *t)
{
    char job_id[8];
    return p11p_enroll_submit_job(t->enroll, NULL, 0, job_id, sizeof(job_id))
           != P11P_ERR_UNSUPPORTED;
}

/* The portal's licence balance, when it tells, for a dry run: an engine
 * with no cache and no key store (p11p_enroll_licences asks the driver
 * only), so that nothing on the token is opened and no PIN is needed. */
static void dry_run_balance(const struct p11p_tool *t)
{
    struct p11p_enroll *e = NULL;
    int64_t left = 0;
    enum p11p_status st = p11p_enroll_new(t->tok, NULL, NULL, &e);

    if (st == P11P_OK) {
        st = p11p_enroll_licences(e, &left);
    }
    if (st == P11P_OK && left == INT64_MAX) {
        printf("portal balance: no licence limit\n");
    } else if (st == P11P_OK) {
        printf("portal balance: %" PRId64 " licences left\n", left);
    } else {
        printf("portal balance: not told by the portal (%s)\n",
               p11p_status_text(st));
    }
    p11p_enroll_free(e);
}

static int dry_run(struct args *a, const struct p11p_batch_plan *p)
{
    char lo[18], hi[18];
    uint64_t last = 0;

    printf("token:         %s (driver %s)\n", a->t->tok->name,
           a->t->tok->driver != NULL ? a->t->tok->driver : "local");
    if (p->is_csv) {
        printf("devices:       %zu rows of %s\n", p->count, a->csv);
    } else {
        (void)p11p_batch_range_at(p->start, p->inc, p->count - 1, &last);
        p11p_batch_mac_format(p->start, P11P_MACFMT_COLON, lo);
        p11p_batch_mac_format(last, P11P_MACFMT_COLON, hi);
        printf("range:         %s to %s, step %" PRIu64 "\n", lo, hi, p->inc);
        printf("devices:       %zu\n", p->count);
    }
    printf("licences:      %zu at most (one per device not done yet)\n",
           p->count);
    dry_run_balance(a->t);
    return check_devices(a, p, true);
}

static int exit_code(const struct p11p_batch_job *job,
                     const struct p11p_batch_totals *tot)
{
    if (job->interrupted) {
        return P11P_EXIT_CANCELLED;
    }
    if (job->quota_hit) {
        return P11P_EXIT_REFUSED;
    }
    if (tot->issued == job->plan->count) {
        return P11P_EXIT_OK;
    }
    if (tot->issued == 0 && tot->pending == 0 && tot->rejected > 0) {
        return P11P_EXIT_REFUSED;
    }
    if (tot->issued == 0 && tot->pending == 0) {
        return P11P_EXIT_FAILED;
    }
    return P11P_EXIT_PARTIAL;
}

static void summary(struct p11p_tool *t, const struct p11p_batch_job *job,
                    const struct p11p_batch_totals *tot)
{
    if (t->json) {
        struct p11p_jw w;
        p11p_jw_init(&w, stdout, true);
        p11p_jw_begin_object(&w);
        p11p_jw_kstr(&w, "token", t->tok->name);
        p11p_jw_kint(&w, "devices", (int64_t)job->plan->count);
        p11p_jw_kint(&w, "issued", (int64_t)tot->issued);
        p11p_jw_kint(&w, "pending", (int64_t)tot->pending);
        p11p_jw_kint(&w, "rejected", (int64_t)tot->rejected);
        p11p_jw_kint(&w, "failed", (int64_t)tot->failed);
        p11p_jw_kint(&w, "todo", (int64_t)tot->todo);
        p11p_jw_kint(&w, "done_before", (int64_t)job->skipped);
        p11p_jw_kbool(&w, "quota_exhausted", job->quota_hit);
        p11p_jw_kbool(&w, "interrupted", job->interrupted);
        p11p_jw_end_object(&w);
        p11p_jw_finish(&w);
        return;
    }
    printf("token %s: %zu devices: %zu issued, %zu pending, %zu rejected, "
           "%zu failed, %zu not started (%zu were done before this run)\n",
           t->tok->name, job->plan->count, tot->issued, tot->pending,
           tot->rejected, tot->failed, tot->todo, job->skipped);
    if (job->quota_hit) {
        printf("stopped at the portal's quota: %s\n", job->quota_message);
    }
    if (job->interrupted) {
        printf("interrupted: run the same command again to continue\n");
    }
    if (tot->pending > 0) {
        printf("pending orders: 'p11portal sync' collects them\n");
    }
}

static int run_batch(struct args *a, struct p11p_batch_plan *p)
{
    struct p11p_tool *t = a->t;
    struct p11p_batch_job job;
    struct p11p_batch_totals tot;
    uint64_t conc = DEFAULT_CONCURRENCY, wait_s = DEFAULT_WAIT_S;
    int64_t left = 0;
    size_t k;
    int rc;

    memset(&job, 0, sizeof(job));
    memset(&tot, 0, sizeof(tot));
    job.t = t;
    job.plan = p;
    job.profile = a->profile;
    job.quiet = t->quiet;
    for (k = 0; k < sizeof(key_types) / sizeof(key_types[0]); k++) {
        if (strcmp(a->key_type != NULL ? a->key_type : "ec:prime256v1",
                   key_types[k].name)
            == 0) {
            break;
        }
    }
    if (k == sizeof(key_types) / sizeof(key_types[0])) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "--key-type %s: ec:prime256v1, ec:secp384r1, "
                              "rsa:2048, rsa:3072 or ed25519",
                              a->key_type);
    }
    job.spec.key_type = key_types[k].kt;
    job.spec.bits = key_types[k].bits;
    job.spec.curve_nid = key_types[k].nid;
    job.mech = key_types[k].mech;
    if ((a->concurrency != NULL
         && (rc = parse_u64(t, "--concurrency", a->concurrency, 1,
                            MAX_CONCURRENCY, &conc))
                != 0)
        || (a->wait != NULL
            && (rc = parse_u64(t, "--wait", a->wait, 0, 86400, &wait_s))
                   != 0)) {
        return rc;
    }
    job.concurrency = (unsigned)conc;
    job.defer_submit = a->portal_batch;
    rc = check_devices(a, p, false);
    if (rc != 0) {
        return rc;
    }
    rc = p11p_tool_open(t, P11P_TOOL_NEED_ENROLL);
    if (rc != 0) {
        return rc;
    }
    if (a->portal_batch && !has_batch_api(t)) {
        return p11p_tool_fail(
            t, P11P_EXIT_USAGE,
            "the portal of token \"%s\" (driver %s) has "
            "no batch API: run without --portal-batch",
            t->tok->name, t->tok->driver != NULL ? t->tok->driver : "local");
    }
    if (licences_left(t, &left) == P11P_OK && !a->force_partial) {
        size_t todo = p11p_batch_count_todo(&job);
        if (left < (int64_t)todo) {
            return p11p_tool_fail(t, P11P_EXIT_REFUSED,
                                  "the portal of token \"%s\" has %" PRId64
                                  " licences left for %zu devices to do: "
                                  "nothing done (--force-partial starts "
                                  "anyway)",
                                  t->tok->name, left, todo);
        }
    }
    p11p_batch_install_signals();
    if (p11p_batch_run(&job) != P11P_OK) {
        p11p_batch_job_clear(&job);
        return p11p_tool_fail(t, P11P_EXIT_FAILED, "out of memory");
    }
    if (a->portal_batch && !job.interrupted) {
        size_t jobs = 0;
        enum p11p_status st = p11p_batch_submit_jobs(&job, &jobs);
        if (st != P11P_OK) {
            p11p_tool_fail(t, 0,
                           "submitting the portal batch job failed: %s "
                           "(the orders wait; the same command submits "
                           "them again)",
                           p11p_status_text(st));
        }
    }
    if (!job.interrupted && !job.quota_hit) {
        p11p_batch_collect(&job, (unsigned)wait_s);
    }
    if (p11p_batch_report(&job, a->report, a->report_json, &tot) != P11P_OK) {
        rc = P11P_EXIT_FAILED;
    }
    summary(t, &job, &tot);
    if (rc == 0) {
        rc = exit_code(&job, &tot);
    }
    p11p_batch_job_clear(&job);
    return rc;
}

int p11p_cmd_batch(struct p11p_tool *t, int argc, char **argv)
{
    struct args a;
    struct p11p_batch_plan plan;
    int rc;

    memset(&a, 0, sizeof(a));
    memset(&plan, 0, sizeof(plan));
    a.t = t;
    rc = p11p_tool_getopt(t, argc, argv, opts, "", usage, handle, &a, NULL);
    if (rc != 0) {
        return rc;
    }
    rc = p11p_tool_open(t, 0);
    if (rc == 0) {
        rc = make_plan(&a, &plan);
    }
    if (rc == 0 && a.dry_run) {
        rc = dry_run(&a, &plan);
    } else if (rc == 0) {
        rc = run_batch(&a, &plan);
    }
    p11p_batch_csv_clear(&plan.csv);
    return rc;
}

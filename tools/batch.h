/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal batch (issue 7, docs/guides/batch.md): what the batch files
 * share. batch_range.c parses and formats MACs and expands the label
 * pattern; batch_csv.c reads a CSV of device rows; batch_run.c provisions
 * the devices on worker threads; batch_report.c writes the CSV and JSON
 * reports from the cache; batch_progress.c prints the progress line;
 * cmd_batch.c holds the options and the flow.
 */
#ifndef P11P_TOOLS_BATCH_H
#define P11P_TOOLS_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/status.h"
#include "core/conf/subject.h"
#include "tools/tool.h"

#define P11P_BATCH_MAX_COUNT 500000

/* How a MAC is written in CNs and labels. */
enum p11p_batch_macfmt {
    P11P_MACFMT_COLON = 0, /* aa:bb:cc:dd:ee:ff (the portals' batches) */
    P11P_MACFMT_COLON_UPPER,
    P11P_MACFMT_DASH,
    P11P_MACFMT_DASH_UPPER,
    P11P_MACFMT_BARE,
    P11P_MACFMT_BARE_UPPER,
};

/* ---- batch_range.c ---- */

/* MACs are parsed by p11p_subject_mac_parse (core/conf/subject.h):
 * "aa:bb:cc:dd:ee:ff", "aa-bb-cc-dd-ee-ff" or "aabbccddeeff", any case. */

/* Formats mac in fmt into out (18 bytes). */
void p11p_batch_mac_format(uint64_t mac, enum p11p_batch_macfmt fmt,
                           char out[18]);

/* The format named name ("colon", "colon-upper" or "upper", "dash",
 * "dash-upper", "bare", "bare-upper"). */
enum p11p_status p11p_batch_macfmt_parse(const char *name,
                                         enum p11p_batch_macfmt *out);

/* The subject template variable that writes a MAC in fmt (${mac}, ...). */
const char *p11p_batch_macfmt_var(enum p11p_batch_macfmt fmt);

/* The MAC of device index i of a range: start + i * inc. False if it
 * passes 0xffffffffffff. */
bool p11p_batch_range_at(uint64_t start, uint64_t inc, uint64_t i,
                         uint64_t *out);

/* Expands a label or subject pattern: ${mac} (in fmt), ${cn}, ${n} (index
 * from 1); with keep_others, any other ${...} and "$$" are copied for the
 * engine's template (core/conf/subject.h), else they are an error. Values
 * inserted into a kept template have their '$' doubled. NULL mac_str or cn
 * make ${mac} / ${cn} an error. Returns a new string. */
enum p11p_status p11p_batch_expand(const char *pattern, const char *mac_str,
                                   const char *cn, uint64_t n, bool keep_others,
                                   char **out);

/* ---- batch_csv.c ---- */

struct p11p_batch_row {
    size_t line; /* in the file, from 1 */
    bool has_mac;
    uint64_t mac;
    char *cn;     /* NULL if none */
    char *sans;   /* NULL if none */
    char *label;  /* NULL: the label pattern */
    char **extra; /* values of the custom columns (n_extra), never NULL */
};

struct p11p_batch_csv {
    struct p11p_batch_row *rows;
    size_t n_rows;
    char **extra_names; /* custom column names */
    size_t n_extra;
};

/* Reads a CSV (RFC 4180 quoting; header row naming mac, cn or
 * common_name, sans, label, and custom columns). Every row needs a mac or
 * a cn; MACs and labels must be unique. On a bad row: a message naming
 * the file and line into err and P11P_ERR_INVALID_INPUT. */
enum p11p_status p11p_batch_csv_parse(const char *text, size_t len,
                                      const char *name,
                                      struct p11p_batch_csv *out, char *err,
                                      size_t err_len);
enum p11p_status p11p_batch_csv_load(const char *path,
                                     struct p11p_batch_csv *out, char *err,
                                     size_t err_len);
void p11p_batch_csv_clear(struct p11p_batch_csv *csv); /* NULL-safe */

/* ---- the plan: every device of the batch ---- */

struct p11p_batch_plan {
    bool is_csv;
    uint64_t start; /* range */
    uint64_t inc;
    size_t count; /* devices (range count or CSV rows) */
    struct p11p_batch_csv csv;
    enum p11p_batch_macfmt macfmt;
    const char *label_pattern; /* NULL: ${mac} or ${cn} */
    const char *subject;       /* --subject, or NULL */
    bool conf_subject_mac;     /* the token's subject uses ${mac} */
};

/* One device, as the plan makes it. */
struct p11p_batch_device {
    size_t index; /* 0-based */
    bool has_mac;
    uint64_t mac;
    char mac_str[18];                 /* canonical "aa:bb:..", "" if none */
    const char *cn;                   /* borrowed from the plan, or NULL */
    const char *sans;                 /* borrowed, or NULL */
    char *label;                      /* owned */
    char *subject;                    /* owned; NULL: the token's template */
    const struct p11p_batch_row *row; /* CSV row or NULL */
};

enum p11p_status p11p_batch_device_at(const struct p11p_batch_plan *p, size_t i,
                                      struct p11p_batch_device *out);
void p11p_batch_device_clear(struct p11p_batch_device *d);

/* ---- batch_progress.c ---- */

struct p11p_batch_progress;
/* live: rewrite one line with \r (a terminal); else a line every few
 * seconds. NULL when quiet. */
struct p11p_batch_progress *p11p_batch_progress_new(size_t total, bool live);
void p11p_batch_progress_update(struct p11p_batch_progress *pr, size_t done,
                                size_t pending, size_t failed, size_t skipped,
                                bool final);
void p11p_batch_progress_free(struct p11p_batch_progress *pr);

/* ---- batch_run.c ---- */

/* A device's outcome in this run (the report reads the cache; this is
 * for the summary, the exit code and errors that left no order). */
enum p11p_batch_outcome {
    P11P_BATCH_TODO = 0,
    P11P_BATCH_ISSUED,
    P11P_BATCH_PENDING,
    P11P_BATCH_FAILED,
    P11P_BATCH_REJECTED,
    P11P_BATCH_SKIPPED, /* its order existed already (resume) */
};

struct p11p_batch_job {
    struct p11p_tool *t;
    const struct p11p_batch_plan *plan;
    struct p11p_keygen_spec spec;
    CK_MECHANISM_TYPE mech;
    const char *profile;
    unsigned concurrency;
    bool defer_submit;
    bool quiet;
    /* Outcomes, one per device, and the error text of failures. */
    unsigned char *outcome;
    char **error;
    int64_t *order_id; /* the order each device has after the run, 0 if none */
    /* Totals. */
    size_t issued, pending, failed, rejected, skipped;
    bool quota_hit;
    char quota_message[256];
    bool interrupted;
};

/* Set by SIGINT/SIGTERM: workers finish their device, then stop. */
void p11p_batch_install_signals(void);
bool p11p_batch_interrupted(void);

/* Provisions every device of job->plan not done yet. */
enum p11p_status p11p_batch_run(struct p11p_batch_job *job);
void p11p_batch_job_clear(struct p11p_batch_job *job);

/* Devices of the plan without a live order (not done yet). */
size_t p11p_batch_count_todo(struct p11p_batch_job *job);

/* --portal-batch: the devices' orders that wait for a portal job (made
 * with defer_submit, by this run or an interrupted one) submitted through
 * p11p_enroll_submit_job, P11P_BATCH_JOB_CHUNK orders per job. *out_jobs:
 * jobs submitted. */
#define P11P_BATCH_JOB_CHUNK 5000
enum p11p_status p11p_batch_submit_jobs(struct p11p_batch_job *job,
                                        size_t *out_jobs);

/* Waits up to wait_s for the token's pending orders (collecting them). */
void p11p_batch_collect(struct p11p_batch_job *job, unsigned wait_s);

/* ---- batch_report.c ---- */

/* Writes the reports (either path may be NULL) from the cache: one row per
 * device of the plan, its newest order. Also recounts job's totals from
 * the cache (issued, pending, failed/rejected, todo) into the out params. */
struct p11p_batch_totals {
    size_t issued, pending, failed, rejected, todo;
};
enum p11p_status p11p_batch_report(struct p11p_batch_job *job,
                                   const char *csv_path, const char *json_path,
                                   struct p11p_batch_totals *out);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal batch --csv: device rows. RFC 4180 fields (double quotes, ""
 * inside quotes, CRLF or LF); a header row names the columns: mac, cn (or
 * common_name), sans, label, and any other column is a custom field kept
 * in the report. Every row needs a mac or a cn; MACs and labels are
 * unique. A bad row is reported with its line and refused as a whole
 * (tools/batch.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/str.h"
#include "core/conf/subject.h"
#include "tools/batch.h"

#define CSV_MAX_BYTES (256u * 1024u * 1024u)

/* One parsed line: fields (owned). */
struct fields {
    char **v;
    size_t n, cap;
};

static void fields_clear(struct fields *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i]);
    }
    free(f->v);
    memset(f, 0, sizeof(*f));
}

static enum p11p_status fields_push(struct fields *f, const char *s, size_t n)
{
    char *copy;
    if (f->n == f->cap) {
        size_t cap = f->cap == 0 ? 8 : f->cap * 2;
        char **nv = realloc(f->v, cap * sizeof(*nv));
        if (nv == NULL) {
            return P11P_ERR_NOMEM;
        }
        f->v = nv;
        f->cap = cap;
    }
    copy = malloc(n + 1);
    if (copy == NULL) {
        return P11P_ERR_NOMEM;
    }
    memcpy(copy, s, n);
    copy[n] = '\0';
    f->v[f->n++] = copy;
    return P11P_OK;
}

/* Parses one record starting at *pos (advanced past its line end); *line
 * counts physical lines. Quoted fields may span lines. */
static enum p11p_status read_record(const char *t, size_t len, size_t *pos,
                                    size_t *line, struct fields *out,
                                    const char **why)
{
    char *field = NULL;
    size_t flen = 0;
    size_t p = *pos;
    enum p11p_status rc = P11P_OK;

    field = malloc(len - p + 1);
    if (field == NULL) {
        return P11P_ERR_NOMEM;
    }
    for (;;) {
        flen = 0;
        if (p < len && t[p] == '"') {
            p++;
            for (;;) {
                if (p >= len) {
                    *why = "a quoted field is not closed";
                    rc = P11P_ERR_INVALID_INPUT;
                    goto out;
                }
                if (t[p] == '"' && p + 1 < len && t[p + 1] == '"') {
                    field[flen++] = '"';
                    p += 2;
                } else if (t[p] == '"') {
                    p++;
                    break;
                } else {
                    if (t[p] == '\n') {
                        (*line)++;
                    }
                    field[flen++] = t[p++];
                }
            }
            if (p < len && t[p] != ',' && t[p] != '\n' && t[p] != '\r') {
                *why = "text after a closing quote";
                rc = P11P_ERR_INVALID_INPUT;
                goto out;
            }
        } else {
            while (p < len && t[p] != ',' && t[p] != '\n' && t[p] != '\r') {
                if (t[p] == '"') {
                    *why = "a quote inside an unquoted field";
                    rc = P11P_ERR_INVALID_INPUT;
                    goto out;
                }
                field[flen++] = t[p++];
            }
        }
        rc = fields_push(out, field, flen);
        if (rc != P11P_OK) {
            goto out;
        }
        if (p < len && t[p] == ',') {
            p++;
            continue;
        }
        break;
    }
    if (p < len && t[p] == '\r') {
        p++;
    }
    if (p < len && t[p] == '\n') {
        p++;
    }
    (*line)++;
out:
    free(field);
    *pos = p;
    return rc;
}

/* Column roles. */
enum col {
    COL_MAC,
    COL_CN,
    COL_SANS,
    COL_LABEL,
    COL_EXTRA
};

static const struct {
    const char *name;
    enum col col;
} col_names[] = {
    { "mac", COL_MAC },   { "cn", COL_CN },       { "common_name", COL_CN },
    { "sans", COL_SANS }, { "label", COL_LABEL },
};

static char *trimmed_dup(const char *s)
{
    size_t n;
    while (isspace((unsigned char)*s)) {
        s++;
    }
    n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        n--;
    }
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void row_clear(struct p11p_batch_row *r, size_t n_extra)
{
    free(r->cn);
    free(r->sans);
    free(r->label);
    for (size_t i = 0; r->extra != NULL && i < n_extra; i++) {
        free(r->extra[i]);
    }
    free(r->extra);
}

void p11p_batch_csv_clear(struct p11p_batch_csv *csv)
{
    if (csv == NULL) {
        return;
    }
    for (size_t i = 0; i < csv->n_rows; i++) {
        row_clear(&csv->rows[i], csv->n_extra);
    }
    free(csv->rows);
    for (size_t i = 0; i < csv->n_extra; i++) {
        free(csv->extra_names[i]);
    }
    free(csv->extra_names);
    memset(csv, 0, sizeof(*csv));
}

/* Maps the header to column roles (cols[i] for field i). */
static enum p11p_status read_header(const struct fields *h, enum col *cols,
                                    struct p11p_batch_csv *csv,
                                    const char **why)
{
    bool seen[COL_EXTRA] = { false };

    csv->extra_names = calloc(h->n, sizeof(char *));
    if (csv->extra_names == NULL) {
        return P11P_ERR_NOMEM;
    }
    for (size_t i = 0; i < h->n; i++) {
        char *name = trimmed_dup(h->v[i]);
        if (name == NULL) {
            return P11P_ERR_NOMEM;
        }
        cols[i] = COL_EXTRA;
        for (size_t k = 0; k < sizeof(col_names) / sizeof(col_names[0]); k++) {
            if (strcasecmp(name, col_names[k].name) == 0) {
                cols[i] = col_names[k].col;
            }
        }
        if (name[0] == '\0') {
            free(name);
            *why = "an empty column name in the header";
            return P11P_ERR_INVALID_INPUT;
        }
        if (cols[i] != COL_EXTRA) {
            free(name);
            if (seen[cols[i]]) {
                *why = "a column named twice in the header";
                return P11P_ERR_INVALID_INPUT;
            }
            seen[cols[i]] = true;
            continue;
        }
        csv->extra_names[csv->n_extra++] = name;
    }
    if (!seen[COL_MAC] && !seen[COL_CN]) {
        *why = "the header names neither a mac nor a cn column";
        return P11P_ERR_INVALID_INPUT;
    }
    return P11P_OK;
}

/* Fills r from the fields of one data row. */
static enum p11p_status read_row(const struct fields *f, const enum col *cols,
                                 size_t ncols, struct p11p_batch_csv *csv,
                                 struct p11p_batch_row *r, const char **why)
{
    size_t x = 0;

    r->extra = calloc(csv->n_extra + 1, sizeof(char *));
    if (r->extra == NULL) {
        return P11P_ERR_NOMEM;
    }
    if (f->n != ncols) {
        *why = f->n < ncols ? "fewer fields than the header has columns"
                            : "more fields than the header has columns";
        return P11P_ERR_INVALID_INPUT;
    }
    for (size_t i = 0; i < f->n; i++) {
        char *v = trimmed_dup(f->v[i]);
        char **dst = NULL;
        if (v == NULL) {
            return P11P_ERR_NOMEM;
        }
        switch (cols[i]) {
        case COL_MAC:
            if (v[0] != '\0' && p11p_subject_mac_parse(v, &r->mac) != P11P_OK) {
                free(v);
                *why = "the mac is not a 6-byte MAC (aa:bb:cc:dd:ee:ff, "
                       "aa-bb-.. or aabbccddeeff)";
                return P11P_ERR_INVALID_INPUT;
            }
            r->has_mac = v[0] != '\0';
            free(v);
            continue;
        case COL_CN:
            dst = &r->cn;
            break;
        case COL_SANS:
            dst = &r->sans;
            break;
        case COL_LABEL:
            dst = &r->label;
            break;
        case COL_EXTRA:
            dst = &r->extra[x++];
            break;
        }
        if (v[0] == '\0' && cols[i] != COL_EXTRA) {
            free(v);
            continue;
        }
        *dst = v;
    }
    if (!r->has_mac && r->cn == NULL) {
        *why = "the row has neither a mac nor a cn";
        return P11P_ERR_INVALID_INPUT;
    }
    return P11P_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* MACs unique (sorted copy; the line of a duplicate is looked up). */
static enum p11p_status check_unique(const struct p11p_batch_csv *csv,
                                     size_t *bad_line, const char **why)
{
    uint64_t *macs = NULL;
    size_t n = 0;
    enum p11p_status rc = P11P_OK;

    macs = calloc(csv->n_rows + 1, sizeof(*macs));
    if (macs == NULL) {
        return P11P_ERR_NOMEM;
    }
    for (size_t i = 0; i < csv->n_rows; i++) {
        if (csv->rows[i].has_mac) {
            macs[n++] = csv->rows[i].mac;
        }
    }
    qsort(macs, n, sizeof(*macs), cmp_u64);
    for (size_t i = 1; i < n && rc == P11P_OK; i++) {
        if (macs[i] != macs[i - 1]) {
            continue;
        }
        for (size_t k = 0, seen = 0; k < csv->n_rows; k++) {
            if (csv->rows[k].has_mac && csv->rows[k].mac == macs[i]
                && seen++ == 1) {
                *bad_line = csv->rows[k].line;
                break;
            }
        }
        *why = "the same mac as an earlier row";
        rc = P11P_ERR_INVALID_INPUT;
    }
    free(macs);
    return rc;
}

enum p11p_status p11p_batch_csv_parse(const char *text, size_t len,
                                      const char *name,
                                      struct p11p_batch_csv *out, char *err,
                                      size_t err_len)
{
    struct p11p_batch_csv csv;
    struct fields f = { 0 };
    enum col *cols = NULL;
    size_t ncols = 0;
    size_t pos = 0, line = 1, rec_line = 1, cap = 0;
    const char *why = NULL;
    enum p11p_status rc = P11P_OK;

    memset(&csv, 0, sizeof(csv));
    memset(out, 0, sizeof(*out));
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        pos = 3; /* a UTF-8 byte order mark (spreadsheets write one) */
    }
    while (rc == P11P_OK && pos < len) {
        rec_line = line;
        fields_clear(&f);
        rc = read_record(text, len, &pos, &line, &f, &why);
        if (rc != P11P_OK) {
            break;
        }
        if (f.n == 1 && f.v[0][0] == '\0') {
            continue; /* an empty line */
        }
        if (cols == NULL) {
            ncols = f.n;
            cols = calloc(ncols, sizeof(*cols));
            rc = cols == NULL ? P11P_ERR_NOMEM
                              : read_header(&f, cols, &csv, &why);
            continue;
        }
        if (csv.n_rows == cap) {
            size_t ncap = cap == 0 ? 64 : cap * 2;
            struct p11p_batch_row *nr = realloc(csv.rows, ncap * sizeof(*nr));
            if (nr == NULL) {
                rc = P11P_ERR_NOMEM;
                break;
            }
            csv.rows = nr;
            cap = ncap;
        }
        if (csv.n_rows >= P11P_BATCH_MAX_COUNT) {
            why = "more than 500000 rows";
            rc = P11P_ERR_INVALID_INPUT;
            break;
        }
        memset(&csv.rows[csv.n_rows], 0, sizeof(csv.rows[0]));
        csv.rows[csv.n_rows].line = rec_line;
        csv.n_rows++;
        rc = read_row(&f, cols, ncols, &csv, &csv.rows[csv.n_rows - 1], &why);
    }
    if (rc == P11P_OK && cols == NULL) {
        why = "no header row";
        rc = P11P_ERR_INVALID_INPUT;
    }
    if (rc == P11P_OK && csv.n_rows == 0) {
        why = "no device rows";
        rc = P11P_ERR_INVALID_INPUT;
    }
    if (rc == P11P_OK) {
        rc = check_unique(&csv, &rec_line, &why);
    }
    if (rc == P11P_ERR_INVALID_INPUT && err != NULL) {
        snprintf(err, err_len, "%s, line %zu: %s", name, rec_line,
                 why != NULL ? why : "bad row");
    }
    fields_clear(&f);
    free(cols);
    if (rc != P11P_OK) {
        p11p_batch_csv_clear(&csv);
        return rc;
    }
    *out = csv;
    return P11P_OK;
}

enum p11p_status p11p_batch_csv_load(const char *path,
                                     struct p11p_batch_csv *out, char *err,
                                     size_t err_len)
{
    FILE *f = fopen(path, "rbe");
    char *text = NULL;
    size_t len = 0, cap = 0, n;
    enum p11p_status rc = P11P_OK;

    if (f == NULL) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return P11P_ERR_INVALID_INPUT;
    }
    do {
        if (len + 65536 > cap) {
            char *nt;
            cap = cap == 0 ? 65536 * 2 : cap * 2;
            nt = cap > CSV_MAX_BYTES ? NULL : realloc(text, cap);
            if (nt == NULL) {
                snprintf(err, err_len, "%s: too large", path);
                rc = P11P_ERR_INVALID_INPUT;
                break;
            }
            text = nt;
        }
        n = fread(text + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    if (rc == P11P_OK) {
        rc = p11p_batch_csv_parse(text, len, path, out, err, err_len);
    }
    free(text);
    return rc;
}

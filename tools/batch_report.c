/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal batch: the reports (--report CSV, --report-json JSON), one row
 * per device of the plan, rebuilt from the cache at the end of every run:
 * the device's newest order (by MAC, or by label for CSV rows without
 * one), its certificate's serial and notAfter, so that a resumed batch's
 * report always matches the token. Errors that left no order (key
 * generation failed) come from this run (tools/batch.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/str.h"
#include "core/enroll/order.h"
#include "tools/batch.h"

/* One report row. */
struct rec {
    const struct p11p_batch_device *d;
    struct p11p_order o; /* id 0: none */
    char ckaid[129];
    char serial[129];
    char not_after[11]; /* YYYY-MM-DD */
    const char *state;
    const char *error;
};

/* Hex of the INTEGER content of a DER CKA_SERIAL_NUMBER. */
static void serial_hex(const CK_ATTRIBUTE *a, char *out, size_t outsz)
{
    const unsigned char *p = a != NULL ? a->pValue : NULL;
    size_t len = a != NULL ? a->ulValueLen : 0, hdr = 2, n;

    out[0] = '\0';
    if (p == NULL || len < 3 || p[0] != 0x02) {
        return;
    }
    if (p[1] & 0x80) {
        hdr += p[1] & 0x7f;
    }
    if (hdr >= len) {
        return;
    }
    n = len - hdr;
    if (2 * n + 1 > outsz) {
        n = (outsz - 1) / 2;
    }
    p11p_str_hex(p + hdr, n, out);
}

static void fill(struct p11p_batch_job *job, struct rec *r, size_t i)
{
    struct p11p_cache *c = job->t->cache;
    struct p11p_cache_object cert;
    int64_t id = 0;
    enum p11p_status st;

    memset(&cert, 0, sizeof(cert));
    st = r->d->has_mac ? p11p_cache_order_newest_by_mac(c, r->d->mac_str, &id)
                       : p11p_cache_order_newest_by_label(c, r->d->label, &id);
    if (st != P11P_OK || p11p_cache_order_get(c, id, &r->o) != P11P_OK) {
        memset(&r->o, 0, sizeof(r->o));
        r->state =
            job->error != NULL && job->error[i] != NULL ? "failed" : "todo";
        r->error = job->error != NULL ? job->error[i] : NULL;
        return;
    }
    r->state = p11p_order_state_name(r->o.state);
    r->error = r->o.last_error;
    if (r->o.state != P11P_ORDER_ISSUED && r->o.state != P11P_ORDER_RENEWED) {
        /* A pending order's last error is a retry note: not an error of
         * the device. */
        r->error = p11p_order_is_final(r->o.state) ? r->o.last_error : NULL;
    } else {
        r->error = NULL;
    }
    p11p_str_hex(r->o.ckaid, r->o.ckaid_len, r->ckaid);
    if (r->o.cert_object_id != 0
        && p11p_cache_object_get(c, r->o.cert_object_id, &cert) == P11P_OK) {
        const CK_ATTRIBUTE *end = p11p_attrlist_get0(&cert.attrs, CKA_END_DATE);
        serial_hex(p11p_attrlist_get0(&cert.attrs, CKA_SERIAL_NUMBER),
                   r->serial, sizeof(r->serial));
        if (end != NULL && end->ulValueLen == sizeof(CK_DATE)) {
            const CK_DATE *dt = end->pValue;
            snprintf(r->not_after, sizeof(r->not_after), "%.4s-%.2s-%.2s",
                     (const char *)dt->year, (const char *)dt->month,
                     (const char *)dt->day);
        }
    }
    p11p_cache_object_clear(&cert);
}

/* One CSV value, quoted when it must be (RFC 4180). */
static void csv_value(FILE *f, const char *s)
{
    if (s == NULL || s[0] == '\0') {
        return;
    }
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '"') {
            fputc('"', f);
        }
        fputc(*p, f);
    }
    fputc('"', f);
}

static void csv_field(FILE *f, const char *s, bool last)
{
    csv_value(f, s);
    fputc(last ? '\n' : ',', f);
}

static void csv_header(FILE *f, const struct p11p_batch_plan *p)
{
    fputs("n,mac,cn,label,ckaid,order_id,portal_order_id,serial,not_after,"
          "state,error",
          f);
    for (size_t k = 0; p->is_csv && k < p->csv.n_extra; k++) {
        fputc(',', f);
        csv_value(f, p->csv.extra_names[k]);
    }
    fputc('\n', f);
}

static void csv_row(FILE *f, const struct p11p_batch_plan *p,
                    const struct rec *r)
{
    char num[32], oid[32];

    snprintf(num, sizeof(num), "%zu", r->d->index + 1);
    snprintf(oid, sizeof(oid), "%" PRId64, r->o.id);
    csv_field(f, num, false);
    csv_field(f, r->d->mac_str, false);
    csv_field(f, r->d->cn, false);
    csv_field(f, r->d->label, false);
    csv_field(f, r->ckaid, false);
    csv_field(f, r->o.id != 0 ? oid : NULL, false);
    csv_field(f, r->o.portal_id, false);
    csv_field(f, r->serial, false);
    csv_field(f, r->not_after, false);
    csv_field(f, r->state, false);
    csv_field(f, r->error, !(p->is_csv && p->csv.n_extra > 0));
    for (size_t k = 0; p->is_csv && k < p->csv.n_extra; k++) {
        csv_field(f, r->d->row->extra[k], k + 1 == p->csv.n_extra);
    }
}

static void json_row(struct p11p_jw *w, const struct p11p_batch_plan *p,
                     const struct rec *r)
{
    p11p_jw_begin_object(w);
    p11p_jw_kint(w, "n", (int64_t)r->d->index + 1);
    p11p_jw_kstr(w, "mac", r->d->has_mac ? r->d->mac_str : NULL);
    p11p_jw_kstr(w, "cn", r->d->cn);
    p11p_jw_kstr(w, "label", r->d->label);
    p11p_jw_kstr(w, "ckaid", r->ckaid[0] != '\0' ? r->ckaid : NULL);
    if (r->o.id != 0) {
        p11p_jw_kint(w, "order_id", r->o.id);
    } else {
        p11p_jw_key(w, "order_id");
        p11p_jw_null(w);
    }
    p11p_jw_kstr(w, "portal_order_id", r->o.portal_id);
    p11p_jw_kstr(w, "serial", r->serial[0] != '\0' ? r->serial : NULL);
    p11p_jw_kstr(w, "not_after", r->not_after[0] != '\0' ? r->not_after : NULL);
    p11p_jw_kstr(w, "state", r->state);
    p11p_jw_kstr(w, "error", r->error);
    if (p->is_csv && p->csv.n_extra > 0) {
        p11p_jw_key(w, "fields");
        p11p_jw_begin_object(w);
        for (size_t k = 0; k < p->csv.n_extra; k++) {
            p11p_jw_kstr(w, p->csv.extra_names[k], r->d->row->extra[k]);
        }
        p11p_jw_end_object(w);
    }
    p11p_jw_end_object(w);
}

/* Opens path for writing through a temporary file renamed at the end, so
 * that a report is never half written. */
static FILE *open_tmp(const char *path, char *tmp, size_t tmpsz)
{
    snprintf(tmp, tmpsz, "%s.tmp", path);
    return fopen(tmp, "we");
}

static enum p11p_status close_tmp(FILE *f, const char *tmp, const char *path)
{
    bool ok = f != NULL && fflush(f) == 0 && !ferror(f);

    if (f != NULL && fclose(f) != 0) {
        ok = false;
    }
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "p11portal batch: cannot write the report %s: %s\n",
                path, strerror(errno));
        (void)remove(tmp);
        return P11P_ERR_IO;
    }
    return P11P_OK;
}

enum p11p_status p11p_batch_report(struct p11p_batch_job *job,
                                   const char *csv_path, const char *json_path,
                                   struct p11p_batch_totals *out)
{
    const struct p11p_batch_plan *p = job->plan;
    char csv_tmp[4096], json_tmp[4096];
    FILE *fc = NULL, *fj = NULL;
    struct p11p_jw w;
    struct p11p_batch_totals tot;
    enum p11p_status rc = P11P_OK;

    memset(&tot, 0, sizeof(tot));
    if (csv_path != NULL) {
        fc = open_tmp(csv_path, csv_tmp, sizeof(csv_tmp));
        if (fc == NULL) {
            fprintf(stderr, "p11portal batch: cannot write %s: %s\n", csv_path,
                    strerror(errno));
            return P11P_ERR_IO;
        }
        csv_header(fc, p);
    }
    if (json_path != NULL) {
        fj = open_tmp(json_path, json_tmp, sizeof(json_tmp));
        if (fj == NULL) {
            fprintf(stderr, "p11portal batch: cannot write %s: %s\n", json_path,
                    strerror(errno));
            if (fc != NULL) {
                fclose(fc);
                (void)remove(csv_tmp);
            }
            return P11P_ERR_IO;
        }
        p11p_jw_init(&w, fj, false);
        p11p_jw_begin_object(&w);
        p11p_jw_kstr(&w, "token", job->t->tok->name);
        p11p_jw_key(&w, "devices");
        p11p_jw_begin_array(&w);
    }
    for (size_t i = 0; i < p->count; i++) {
        struct p11p_batch_device d;
        struct rec r;

        memset(&r, 0, sizeof(r));
        if (p11p_batch_device_at(p, i, &d) != P11P_OK) {
            continue;
        }
        r.d = &d;
        fill(job, &r, i);
        if (r.o.id == 0) {
            if (r.error != NULL) {
                tot.failed++;
            } else {
                tot.todo++;
            }
        } else {
            switch (r.o.state) {
            case P11P_ORDER_ISSUED:
            case P11P_ORDER_RENEWED:
                tot.issued++;
                break;
            case P11P_ORDER_REJECTED:
                tot.rejected++;
                break;
            default:
                if (p11p_order_is_final(r.o.state)) {
                    tot.failed++;
                } else {
                    tot.pending++;
                }
                break;
            }
        }
        if (fc != NULL) {
            csv_row(fc, p, &r);
        }
        if (fj != NULL) {
            json_row(&w, p, &r);
        }
        p11p_order_clear(&r.o);
        p11p_batch_device_clear(&d);
    }
    if (fj != NULL) {
        p11p_jw_end_array(&w);
        p11p_jw_key(&w, "totals");
        p11p_jw_begin_object(&w);
        p11p_jw_kint(&w, "devices", (int64_t)p->count);
        p11p_jw_kint(&w, "issued", (int64_t)tot.issued);
        p11p_jw_kint(&w, "pending", (int64_t)tot.pending);
        p11p_jw_kint(&w, "rejected", (int64_t)tot.rejected);
        p11p_jw_kint(&w, "failed", (int64_t)tot.failed);
        p11p_jw_kint(&w, "todo", (int64_t)tot.todo);
        p11p_jw_end_object(&w);
        p11p_jw_end_object(&w);
        p11p_jw_finish(&w);
        if (close_tmp(fj, json_tmp, json_path) != P11P_OK) {
            rc = P11P_ERR_IO;
        }
    }
    if (fc != NULL && close_tmp(fc, csv_tmp, csv_path) != P11P_OK) {
        rc = P11P_ERR_IO;
    }
    *out = tot;
    return rc;
}

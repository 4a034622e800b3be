/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Output of the tool: aligned human tables, a streaming JSON writer, hex
 * and times (tools/tool.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/str.h"
#include "tools/tool.h"

struct p11p_table {
    size_t ncols;
    char **cells; /* rows * ncols, row 0 = headers */
    size_t nrows;
    size_t cap;
    size_t *width;
};

static bool table_push(struct p11p_table *tb, const char *const *cells)
{
    if (tb->nrows == tb->cap) {
        size_t cap = tb->cap == 0 ? 16 : tb->cap * 2;
        char **n = realloc(tb->cells, cap * tb->ncols * sizeof(*n));

        if (n == NULL) {
            return false;
        }
        tb->cells = n;
        tb->cap = cap;
    }
    for (size_t i = 0; i < tb->ncols; i++) {
        const char *c = cells[i] != NULL ? cells[i] : "-";
        size_t w = strlen(c);

        tb->cells[tb->nrows * tb->ncols + i] = p11p_str_dup(c);
        if (w > tb->width[i]) {
            tb->width[i] = w;
        }
    }
    tb->nrows++;
    return true;
}

struct p11p_table *p11p_table_new(size_t ncols, const char *const *headers)
{
    struct p11p_table *tb = calloc(1, sizeof(*tb));

    if (tb == NULL) {
        return NULL;
    }
    tb->ncols = ncols;
    tb->width = calloc(ncols, sizeof(*tb->width));
    if (tb->width == NULL || !table_push(tb, headers)) {
        p11p_table_free(tb);
        return NULL;
    }
    return tb;
}

void p11p_table_add(struct p11p_table *tb, const char *const *cells)
{
    if (tb != NULL) {
        (void)table_push(tb, cells);
    }
}

void p11p_table_print(const struct p11p_table *tb, FILE *f)
{
    if (tb == NULL) {
        return;
    }
    for (size_t r = 0; r < tb->nrows; r++) {
        for (size_t i = 0; i < tb->ncols; i++) {
            const char *c = tb->cells[r * tb->ncols + i];

            if (i + 1 == tb->ncols) {
                fprintf(f, "%s\n", c != NULL ? c : "");
            } else {
                fprintf(f, "%-*s  ", (int)tb->width[i], c != NULL ? c : "");
            }
        }
    }
}

void p11p_table_free(struct p11p_table *tb)
{
    if (tb == NULL) {
        return;
    }
    for (size_t i = 0; i < tb->nrows * tb->ncols; i++) {
        free(tb->cells[i]);
    }
    free(tb->cells);
    free(tb->width);
    free(tb);
}

/* ---- JSON ---- */

void p11p_jw_init(struct p11p_jw *w, FILE *f, bool pretty)
{
    memset(w, 0, sizeof(*w));
    w->f = f;
    w->pretty = pretty;
    w->first[0] = true;
}

static void indent(struct p11p_jw *w)
{
    if (w->pretty) {
        fputc('\n', w->f);
        for (int i = 0; i < w->depth; i++) {
            fputs("  ", w->f);
        }
    }
}

/* Before any value or key: the comma and indentation. */
static void before_value(struct p11p_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (!w->first[w->depth]) {
            fputc(',', w->f);
        }
        w->first[w->depth] = false;
        indent(w);
    }
}

static void write_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20) {
                fprintf(f, "\\u%04x", *p);
            } else {
                fputc(*p, f);
            }
        }
    }
    fputc('"', f);
}

static void open_nest(struct p11p_jw *w, char c)
{
    before_value(w);
    fputc(c, w->f);
    if (w->depth < (int)(sizeof(w->first) / sizeof(w->first[0])) - 1) {
        w->depth++;
    }
    w->first[w->depth] = true;
}

static void close_nest(struct p11p_jw *w, char c)
{
    bool empty = w->first[w->depth];

    if (w->depth > 0) {
        w->depth--;
    }
    if (!empty) {
        indent(w);
    }
    fputc(c, w->f);
}

void p11p_jw_begin_object(struct p11p_jw *w)
{
    open_nest(w, '{');
}
void p11p_jw_end_object(struct p11p_jw *w)
{
    close_nest(w, '}');
}
void p11p_jw_begin_array(struct p11p_jw *w)
{
    open_nest(w, '[');
}
void p11p_jw_end_array(struct p11p_jw *w)
{
    close_nest(w, ']');
}

void p11p_jw_key(struct p11p_jw *w, const char *key)
{
    before_value(w);
    write_string(w->f, key);
    fputs(w->pretty ? ": " : ":", w->f);
    w->after_key = true;
}

void p11p_jw_str(struct p11p_jw *w, const char *s)
{
    before_value(w);
    if (s == NULL) {
        fputs("null", w->f);
    } else {
        write_string(w->f, s);
    }
}

void p11p_jw_int(struct p11p_jw *w, int64_t v)
{
    before_value(w);
    fprintf(w->f, "%lld", (long long)v);
}

void p11p_jw_bool(struct p11p_jw *w, bool v)
{
    before_value(w);
    fputs(v ? "true" : "false", w->f);
}

void p11p_jw_null(struct p11p_jw *w)
{
    before_value(w);
    fputs("null", w->f);
}

void p11p_jw_kstr(struct p11p_jw *w, const char *key, const char *s)
{
    p11p_jw_key(w, key);
    p11p_jw_str(w, s);
}

void p11p_jw_kint(struct p11p_jw *w, const char *key, int64_t v)
{
    p11p_jw_key(w, key);
    p11p_jw_int(w, v);
}

void p11p_jw_kbool(struct p11p_jw *w, const char *key, bool v)
{
    p11p_jw_key(w, key);
    p11p_jw_bool(w, v);
}

void p11p_jw_finish(struct p11p_jw *w)
{
    fputc('\n', w->f);
    fflush(w->f);
}

/* ---- small formats ---- */

void p11p_tool_hex(const unsigned char *p, size_t len, char *out)
{
    p11p_str_hex(p, len, out);
}

bool p11p_tool_parse_duration(const char *s, int64_t bare_unit_s, int64_t *out)
{
    static const struct {
        char unit;
        int64_t secs;
    } units[] = { { 's', 1 },
                  { 'm', 60 },
                  { 'h', 3600 },
                  { 'd', 86400 },
                  { 'w', 7 * 86400 } };
    const uint64_t max_s = 100ULL * 365 * 86400;
    char num[24];
    size_t len = strlen(s);
    int64_t mul = bare_unit_s;
    uint64_t v = 0;

    if (len == 0 || len >= sizeof(num)) {
        return false;
    }
    memcpy(num, s, len + 1);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (num[len - 1] == units[i].unit) {
            mul = units[i].secs;
            num[--len] = '\0';
            break;
        }
    }
    if (mul <= 0
        || p11p_str_to_u64(num, 0, max_s / (uint64_t)mul, &v) != P11P_OK) {
        return false;
    }
    *out = (int64_t)v * mul;
    return true;
}

void p11p_tool_time(int64_t unix_s, char out[20])
{
    struct tm tm;
    time_t tt = (time_t)unix_s;

    if (unix_s == 0 || gmtime_r(&tt, &tm) == NULL) {
        p11p_str_copy(out, 20, "-");
        return;
    }
    strftime(out, 20, "%Y-%m-%d %H:%M", &tm);
}

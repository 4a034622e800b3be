/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration loader: INI text parsed by inih into struct p11p_conf.
 * Every key of a token section is a row of keys_table (name, type, where
 * the value goes, which drivers accept it). Every mistake is logged as
 * "FILE:LINE: key 'K': what is wrong" and the whole file is checked before
 * P11P_ERR_CONFIG is returned, so one run shows every mistake.
 *
 * Debian's inih is built without INI_HANDLER_LINENO, so line numbers come
 * from our own line reader (read_line), which inih calls once per line;
 * section headers are recognised there too, so that a section with no keys
 * still makes a token and a duplicate is reported at its header.
 *
 * Keys a driver alone understands (customer_uri, org_id, ...) are kept in
 * token->extra for the driver to check when it opens; the local driver has
 * none, so an unknown key of a local token is an error here.
 */
#include "core/conf/conf.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/base/log.h"
#include "core/base/str.h"
#include "core/conf/subject.h"

#define CONF_MAX_FILE (1024 * 1024)
#define LABEL_MAX     32

enum key_type {
    K_STR,
    K_LABEL,   /* string of at most 32 bytes */
    K_DRIVER,  /* one of drivers_table */
    K_BACKEND, /* "soft" or "hsm" */
    K_UINT,
    K_BOOL,
    K_MAC,     /* a MAC address in any notation */
    K_MAC_INC, /* a decimal number or a MAC-notation number, not 0 */
    K_RENEW,   /* "same" or "new": sets a bool (true for "new") */
};

#define D_LOCAL    0x1u
#define D_SECTIGO  0x2u
#define D_DIGICERT 0x4u
#define D_REMOTE   (D_SECTIGO | D_DIGICERT)
#define D_ALL      (D_LOCAL | D_REMOTE)

struct key_def {
    const char *name;
    enum key_type type;
    size_t offset;    /* into struct p11p_conf_token */
    unsigned drivers; /* D_* of the drivers that accept it */
    uint64_t max;     /* K_UINT upper bound */
};

#define TOK(field) offsetof(struct p11p_conf_token, field)

/* clang-format off */
static const struct key_def keys_table[] = {
    { "label",              K_LABEL,   TOK(label),              D_ALL,    0 },
    { "driver",             K_DRIVER,  TOK(driver),             D_ALL,    0 },
    { "url",                K_STR,     TOK(url),                D_REMOTE, 0 },
    { "data_dir",           K_STR,     TOK(data_dir),           D_ALL,    0 },
    { "cache_path",         K_STR,     TOK(cache_path),         D_ALL,    0 },
    { "key_backend",        K_BACKEND, TOK(key_backend),        D_ALL,    0 },
    { "subject",            K_STR,     TOK(subject),            D_ALL,    0 },
    { "sans",               K_STR,     TOK(sans),               D_ALL,    0 },
    { "profile",            K_STR,     TOK(profile),            D_ALL,    0 },
    { "term_days",          K_UINT,    TOK(term_days),          D_ALL,    36500 },
    { "enroll_wait_ms",     K_UINT,    TOK(enroll_wait_ms),     D_ALL,    3600000 },
    { "refresh_interval_s", K_UINT,    TOK(refresh_interval_s), D_ALL,    86400 },
    { "collect_budget_ms",  K_UINT,    TOK(collect_budget_ms),  D_ALL,    60000 },
    { "keep_key_on_reject", K_BOOL,    TOK(keep_key_on_reject), D_ALL,    0 },
    { "renew_key",          K_RENEW,   TOK(renew_new_key),      D_ALL,    0 },
    { "mac_start",          K_MAC,     TOK(mac_start),          D_ALL,    0 },
    { "mac_end",            K_MAC,     TOK(mac_end),            D_ALL,    0 },
    { "mac_increment",      K_MAC_INC, TOK(mac_increment),      D_ALL,    0 },
    { "kdf_iterations",     K_UINT,    TOK(kdf_iterations),     D_ALL,    100000000 },
    { "pin_max_retries",    K_UINT,    TOK(pin_max_retries),    D_ALL,    1000 },
    { "hsm_module",         K_STR,     TOK(hsm_module),         D_ALL,    0 },
    { "hsm_token_label",    K_STR,     TOK(hsm_token_label),    D_ALL,    0 },
    { "hsm_token_serial",   K_STR,     TOK(hsm_token_serial),   D_ALL,    0 },
    { "hsm_pin_source",     K_STR,     TOK(hsm_pin_source),     D_ALL,    0 },
    { "hsm_write_certs",    K_BOOL,    TOK(hsm_write_certs),    D_ALL,    0 },
    { "hsm_adopt_keys",     K_BOOL,    TOK(hsm_adopt_keys),     D_ALL,    0 },
    { "credentials_file",   K_STR,     TOK(credentials_file),   D_REMOTE, 0 },
    { "ca_bundle",          K_STR,     TOK(ca_bundle),          D_REMOTE, 0 },
    { "trust_anchors",      K_STR,     TOK(trust_anchors),      D_ALL,    0 },
    { "timeout_ms",         K_UINT,    TOK(timeout_ms),         D_REMOTE, 3600000 },
};
#define N_KEYS (sizeof(keys_table) / sizeof(keys_table[0]))

/* Drivers this file knows (remote/registry.c has the implementations). */
static const struct {
    const char *name;
    unsigned bit;
} drivers_table[] = {
    { "local",    D_LOCAL },
    { "sectigo",  D_SECTIGO },
    { "digicert", D_DIGICERT },
};

static const struct {
    const char *text;
    bool value;
} bools_table[] = {
    { "true", true }, { "yes", true }, { "on", true }, { "1", true },
    { "false", false }, { "no", false }, { "off", false }, { "0", false },
};

static const char *const backends_table[] = { "soft", "hsm" };
/* clang-format on */

enum section_kind {
    SEC_NONE,
    SEC_GLOBAL,
    SEC_TOKEN,
    SEC_BAD,
};

/* Per-token parse bookkeeping, parallel to conf->tokens. */
struct tok_meta {
    int key_line[N_KEYS]; /* line where each key was set, 0 if not */
    int header_line;      /* line of the [token "name"] header */
};

struct parse_ctx {
    const char *name; /* file name for messages */
    const char *text;
    size_t pos;
    int line;
    struct p11p_conf *conf;
    struct tok_meta *meta;
    enum section_kind sec;
    int global_log_line;
    unsigned errors;
    bool nomem;
};

static void conf_error(struct parse_ctx *ctx, int line, const char *key,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void conf_error(struct parse_ctx *ctx, int line, const char *key,
                       const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (key != NULL) {
        P11P_ERROR("conf", "%s:%d: key '%s': %s", ctx->name, line, key, msg);
    } else {
        P11P_ERROR("conf", "%s:%d: %s", ctx->name, line, msg);
    }
    ctx->errors++;
}

static void token_clear(struct p11p_conf_token *t)
{
    char **strs[] = {
        &t->name,
        &t->label,
        &t->driver,
        &t->url,
        &t->data_dir,
        &t->cache_path,
        &t->key_backend,
        &t->subject,
        &t->sans,
        &t->profile,
        &t->hsm_module,
        &t->hsm_token_label,
        &t->hsm_token_serial,
        &t->hsm_pin_source,
        &t->credentials_file,
        &t->ca_bundle,
        &t->trust_anchors,
        &t->source,
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    for (size_t i = 0; i < t->n_extra; i++) {
        free(t->extra[i].key);
        free(t->extra[i].value);
    }
    free(t->extra);
    t->extra = NULL;
    t->n_extra = 0;
}

void p11p_conf_free(struct p11p_conf *conf)
{
    if (conf == NULL) {
        return;
    }
    for (size_t i = 0; i < conf->n_tokens; i++) {
        token_clear(&conf->tokens[i]);
    }
    free(conf->tokens);
    free(conf->path);
    free(conf->log_target);
    free(conf);
}

char *p11p_conf_default_data_dir(void)
{
    const char *xdg = secure_getenv("XDG_DATA_HOME");
    const char *home = secure_getenv("HOME");
    char *out = NULL;
    int n;

    if (xdg != NULL && xdg[0] == '/') {
        n = asprintf(&out, "%s/p11portal", xdg);
    } else if (home != NULL && home[0] != '\0') {
        n = asprintf(&out, "%s/.local/share/p11portal", home);
    } else {
        P11P_ERROR("conf", "neither XDG_DATA_HOME nor HOME is set: cannot "
                           "place the token's data; set data_dir");
        return NULL;
    }
    return n < 0 ? NULL : out;
}

/* Sets the defaults of a new token named name. */
static enum p11p_status token_init(struct p11p_conf_token *t, const char *name,
                                   const char *source)
{
    memset(t, 0, sizeof(*t));
    t->name = strdup(name);
    t->source = strdup(source);
    t->enroll_wait_ms = 10000;
    t->refresh_interval_s = 30;
    t->collect_budget_ms = 2000;
    t->mac_end = P11P_MAC_MAX;
    t->mac_increment = 1;
    t->kdf_iterations = 600000;
    t->pin_max_retries = 10;
    t->timeout_ms = 30000;
    return t->name != NULL && t->source != NULL ? P11P_OK : P11P_ERR_NOMEM;
}

/* Fills what defaults depend on other keys (label, data_dir, paths). */
static enum p11p_status token_finish(struct p11p_conf_token *t)
{
    struct {
        char **field;
        const char *value;
    } defaults[] = {
        { &t->label, t->name },
        { &t->driver, "local" },
        { &t->key_backend, "soft" },
        { &t->subject, "CN=${label}" },
    };
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        if (*defaults[i].field == NULL) {
            *defaults[i].field = strdup(defaults[i].value);
            if (*defaults[i].field == NULL) {
                return P11P_ERR_NOMEM;
            }
        }
    }
    if (t->data_dir == NULL) {
        t->data_dir = p11p_conf_default_data_dir();
        if (t->data_dir == NULL) {
            return P11P_ERR_CONFIG;
        }
    }
    if (t->cache_path == NULL
        && asprintf(&t->cache_path, "%s/%s.db", t->data_dir, t->name) < 0) {
        t->cache_path = NULL;
        return P11P_ERR_NOMEM;
    }
    return P11P_OK;
}

/* Parses [token "name"] or [global]; name is a new string. */
static enum section_kind parse_section(const char *s, size_t len, char **name)
{
    *name = NULL;
    if (len == 6 && memcmp(s, "global", 6) == 0) {
        return SEC_GLOBAL;
    }
    if (len < 9 || memcmp(s, "token", 5) != 0) {
        return SEC_BAD;
    }
    size_t i = 5;
    while (i < len && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }
    if (i == 5 || i >= len || s[i] != '"' || s[len - 1] != '"' || len - i < 3) {
        return SEC_BAD;
    }
    const char *n = s + i + 1;
    size_t nlen = len - i - 2;
    if (memchr(n, '"', nlen) != NULL || memchr(n, '/', nlen) != NULL) {
        return SEC_BAD;
    }
    *name = strndup(n, nlen);
    return SEC_TOKEN;
}

static void section_header(struct parse_ctx *ctx, const char *line)
{
    const char *p = line + 1;
    const char *end = strchr(p, ']');
    char *name = NULL;
    char source[512];
    struct p11p_conf_token *tokens = NULL;
    struct tok_meta *meta = NULL;
    size_t n = 0;

    if (end == NULL) {
        return; /* inih reports the syntax error */
    }
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    ctx->sec = parse_section(p, (size_t)(end - p), &name);
    if (ctx->sec == SEC_BAD) {
        conf_error(ctx, ctx->line, NULL,
                   "section [%.*s]: expected [token \"name\"] or [global]",
                   (int)(end - p), p);
        goto out;
    }
    if (ctx->sec != SEC_TOKEN) {
        goto out;
    }
    if (name == NULL) {
        ctx->nomem = true;
        ctx->sec = SEC_BAD;
        goto out;
    }
    if (p11p_conf_find_token(ctx->conf, name) != NULL) {
        conf_error(ctx, ctx->line, NULL, "duplicate token \"%s\"", name);
        ctx->sec = SEC_BAD;
        goto out;
    }
    n = ctx->conf->n_tokens + 1;
    tokens = realloc(ctx->conf->tokens, n * sizeof(*tokens));
    if (tokens == NULL) {
        ctx->nomem = true;
        ctx->sec = SEC_BAD;
        goto out;
    }
    ctx->conf->tokens = tokens;
    meta = realloc(ctx->meta, n * sizeof(*meta));
    if (meta == NULL) {
        ctx->nomem = true;
        ctx->sec = SEC_BAD;
        goto out;
    }
    ctx->meta = meta;
    memset(&ctx->meta[n - 1], 0, sizeof(*meta));
    ctx->meta[n - 1].header_line = ctx->line;
    snprintf(source, sizeof(source), "%s:%d", ctx->name, ctx->line);
    if (token_init(&tokens[n - 1], name, source) != P11P_OK) {
        token_clear(&tokens[n - 1]);
        ctx->nomem = true;
        ctx->sec = SEC_BAD;
        goto out;
    }
    ctx->conf->n_tokens = n;
out:
    free(name);
}

/* inih's line reader over ctx->text: one line per call (counted), the rest
 * of an over-long line dropped (inih then reports it as it sees it). */
static char *read_line(char *str, int num, void *stream)
{
    struct parse_ctx *ctx = stream;
    const char *p = ctx->text + ctx->pos;
    size_t avail;
    size_t n;
    const char *nl;

    if (*p == '\0' || num < 2) {
        return NULL;
    }
    nl = strchr(p, '\n');
    avail = nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);
    n = avail < (size_t)num - 1 ? avail : (size_t)num - 1;
    memcpy(str, p, n);
    str[n] = '\0';
    ctx->pos += avail;
    ctx->line++;
    if (n < avail) {
        conf_error(ctx, ctx->line, NULL, "line longer than %d bytes", num - 2);
    }
    const char *s = str;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == '[') {
        section_header(ctx, s);
    }
    return str;
}

static int find_key(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(keys_table[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* A MAC increment: decimal, or in MAC notation. */
static enum p11p_status parse_mac_inc(const char *v, uint64_t *out)
{
    uint64_t n = 0;
    if (p11p_str_to_u64(v, 1, P11P_MAC_MAX, &n) == P11P_OK
        || (p11p_subject_mac_parse(v, &n) == P11P_OK && n != 0)) {
        *out = n;
        return P11P_OK;
    }
    return P11P_ERR_INVALID_INPUT;
}

static void set_value(struct parse_ctx *ctx, struct p11p_conf_token *t,
                      const struct key_def *k, const char *value)
{
    char *base = (char *)t + k->offset;
    uint64_t n = 0;

    switch (k->type) {
    case K_LABEL:
        if (strlen(value) > LABEL_MAX) {
            conf_error(ctx, ctx->line, k->name,
                       "%zu bytes; a token label holds at most %d",
                       strlen(value), LABEL_MAX);
            return;
        }
        break;
    case K_DRIVER: {
        bool known = false;
        for (size_t i = 0; i < sizeof(drivers_table) / sizeof(drivers_table[0]);
             i++) {
            known = known || strcmp(drivers_table[i].name, value) == 0;
        }
        if (!known) {
            conf_error(ctx, ctx->line, k->name,
                       "unknown driver '%s' (known: local, sectigo, digicert)",
                       value);
            return;
        }
        break;
    }
    case K_BACKEND: {
        bool known = false;
        for (size_t i = 0;
             i < sizeof(backends_table) / sizeof(backends_table[0]); i++) {
            known = known || strcmp(backends_table[i], value) == 0;
        }
        if (!known) {
            conf_error(ctx, ctx->line, k->name,
                       "unknown key backend '%s' (known: soft, hsm)", value);
            return;
        }
        break;
    }
    case K_STR:
        if (value[0] == '\0') {
            conf_error(ctx, ctx->line, k->name, "empty value");
            return;
        }
        break;
    case K_UINT:
        if (p11p_str_to_u64(value, 0, k->max, &n) != P11P_OK) {
            conf_error(ctx, ctx->line, k->name,
                       "'%s' is not a whole number from 0 to %llu", value,
                       (unsigned long long)k->max);
            return;
        }
        *(unsigned *)(void *)base = (unsigned)n;
        return;
    case K_RENEW:
        if (strcmp(value, "same") != 0 && strcmp(value, "new") != 0) {
            conf_error(ctx, ctx->line, k->name,
                       "'%s': use same (renew with the same key) or new",
                       value);
            return;
        }
        *(bool *)(void *)base = strcmp(value, "new") == 0;
        return;
    case K_BOOL:
        for (size_t i = 0; i < sizeof(bools_table) / sizeof(bools_table[0]);
             i++) {
            if (strcasecmp(bools_table[i].text, value) == 0) {
                *(bool *)(void *)base = bools_table[i].value;
                return;
            }
        }
        conf_error(ctx, ctx->line, k->name,
                   "'%s' is not a boolean (true/false, yes/no, on/off, 1/0)",
                   value);
        return;
    case K_MAC:
        if (p11p_subject_mac_parse(value, &n) != P11P_OK) {
            conf_error(ctx, ctx->line, k->name,
                       "'%s' is not a MAC address (00:11:22:33:44:55, "
                       "00-11-22-33-44-55 or 001122334455)",
                       value);
            return;
        }
        *(uint64_t *)(void *)base = n;
        if (k->offset == TOK(mac_start)) {
            t->has_mac = true;
        }
        return;
    case K_MAC_INC:
        if (parse_mac_inc(value, &n) != P11P_OK) {
            conf_error(ctx, ctx->line, k->name,
                       "'%s' is not a positive number (decimal or MAC "
                       "notation; 0 is not allowed)",
                       value);
            return;
        }
        *(uint64_t *)(void *)base = n;
        return;
    }
    char **field = (char **)(void *)base;
    free(*field);
    *field = strdup(value);
    if (*field == NULL) {
        ctx->nomem = true;
    }
}

static void add_extra(struct parse_ctx *ctx, struct p11p_conf_token *t,
                      const char *key, const char *value)
{
    struct p11p_conf_kv *kv =
        realloc(t->extra, (t->n_extra + 1) * sizeof(*t->extra));
    if (kv == NULL) {
        ctx->nomem = true;
        return;
    }
    t->extra = kv;
    kv[t->n_extra].key = strdup(key);
    kv[t->n_extra].value = strdup(value);
    kv[t->n_extra].line = ctx->line;
    t->n_extra++;
    if (kv[t->n_extra - 1].key == NULL || kv[t->n_extra - 1].value == NULL) {
        ctx->nomem = true;
    }
}

static int on_key(void *user, const char *section, const char *name,
                  const char *value)
{
    struct parse_ctx *ctx = user;
    (void)section; /* tracked by read_line, with its line */

    if (ctx->sec == SEC_BAD) {
        return 1; /* the header was reported */
    }
    if (ctx->sec == SEC_NONE) {
        conf_error(ctx, ctx->line, name,
                   "outside any section (start with [token \"name\"])");
        return 1;
    }
    if (ctx->sec == SEC_GLOBAL) {
        if (strcmp(name, "log") != 0) {
            conf_error(ctx, ctx->line, name,
                       "unknown key in [global] (known: log)");
            return 1;
        }
        if (ctx->global_log_line != 0) {
            conf_error(ctx, ctx->line, name, "already set on line %d",
                       ctx->global_log_line);
            return 1;
        }
        ctx->global_log_line = ctx->line;
        free(ctx->conf->log_target);
        ctx->conf->log_target = strdup(value);
        ctx->nomem = ctx->nomem || ctx->conf->log_target == NULL;
        return 1;
    }
    size_t ti = ctx->conf->n_tokens - 1;
    struct p11p_conf_token *t = &ctx->conf->tokens[ti];
    int k = find_key(name);
    if (k < 0) {
        for (size_t i = 0; i < t->n_extra; i++) {
            if (strcmp(t->extra[i].key, name) == 0) {
                conf_error(ctx, ctx->line, name, "already set on line %d",
                           t->extra[i].line);
                return 1;
            }
        }
        add_extra(ctx, t, name, value);
        return 1;
    }
    if (ctx->meta[ti].key_line[k] != 0) {
        conf_error(ctx, ctx->line, name, "already set on line %d",
                   ctx->meta[ti].key_line[k]);
        return 1;
    }
    ctx->meta[ti].key_line[k] = ctx->line;
    set_value(ctx, t, &keys_table[k], value);
    return 1;
}

static unsigned driver_bit(const char *name)
{
    for (size_t i = 0; i < sizeof(drivers_table) / sizeof(drivers_table[0]);
         i++) {
        if (name != NULL && strcmp(drivers_table[i].name, name) == 0) {
            return drivers_table[i].bit;
        }
    }
    return D_LOCAL;
}

/* Checks that need the whole section: keys the driver does not accept,
 * unknown keys of a local token, MAC range. */
static void check_token(struct parse_ctx *ctx, size_t ti)
{
    struct p11p_conf_token *t = &ctx->conf->tokens[ti];
    const int *lines = ctx->meta[ti].key_line;
    const char *drv = t->driver != NULL ? t->driver : "local";
    unsigned bit = driver_bit(drv);
    int k_end = find_key("mac_end");
    int k_start = find_key("mac_start");

    for (size_t k = 0; k < N_KEYS; k++) {
        if (lines[k] != 0 && (keys_table[k].drivers & bit) == 0) {
            conf_error(ctx, lines[k], keys_table[k].name,
                       "not used by driver '%s' of token \"%s\"", drv, t->name);
        }
    }
    if (bit == D_LOCAL) {
        for (size_t i = 0; i < t->n_extra; i++) {
            conf_error(ctx, t->extra[i].line, t->extra[i].key,
                       "unknown key in token \"%s\" (driver local)", t->name);
        }
    }
    if (lines[find_key("label")] == 0 && strlen(t->name) > LABEL_MAX) {
        conf_error(ctx, ctx->meta[ti].header_line, NULL,
                   "token \"%s\": the name is longer than %d bytes; set a "
                   "shorter label",
                   t->name, LABEL_MAX);
    }
    if (lines[k_end] != 0 && !t->has_mac) {
        conf_error(ctx, lines[k_end], "mac_end", "set without mac_start");
    }
    if (t->has_mac && t->mac_end < t->mac_start) {
        conf_error(ctx, lines[k_end] != 0 ? lines[k_end] : lines[k_start],
                   "mac_end", "mac_end is below mac_start");
    }
}

static enum p11p_status conf_new_default(struct p11p_conf **out)
{
    enum p11p_status rc = P11P_ERR_NOMEM;
    struct p11p_conf *conf = calloc(1, sizeof(*conf));

    *out = NULL;
    if (conf == NULL) {
        goto out;
    }
    conf->tokens = calloc(1, sizeof(*conf->tokens));
    if (conf->tokens == NULL) {
        goto out;
    }
    conf->n_tokens = 1;
    rc = token_init(&conf->tokens[0], P11P_CONF_DEFAULT_TOKEN, "(default)");
    if (rc != P11P_OK) {
        goto out;
    }
    rc = token_finish(&conf->tokens[0]);
    if (rc != P11P_OK) {
        goto out;
    }
    *out = conf;
    conf = NULL;
out:
    p11p_conf_free(conf);
    return rc;
}

enum p11p_status p11p_conf_parse_string(const char *text, const char *name,
                                        struct p11p_conf **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct parse_ctx ctx;
    int ir;

    *out = NULL;
    memset(&ctx, 0, sizeof(ctx));
    ctx.name = name != NULL ? name : "(string)";
    ctx.text = text != NULL ? text : "";
    ctx.conf = calloc(1, sizeof(*ctx.conf));
    if (ctx.conf == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    ir = ini_parse_stream(read_line, &ctx, on_key, &ctx);
    if (ir > 0) {
        conf_error(&ctx, ir, NULL,
                   "syntax error (expected key = value, a [section] or a "
                   "comment)");
    } else if (ir < 0) {
        ctx.nomem = true;
    }
    for (size_t i = 0; i < ctx.conf->n_tokens; i++) {
        check_token(&ctx, i);
    }
    if (ctx.nomem) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    if (ctx.errors == 0 && ctx.conf->n_tokens == 0) {
        conf_error(&ctx, ctx.line, NULL, "no [token \"name\"] section");
    }
    if (ctx.errors > 0) {
        P11P_ERROR("conf", "%s: %u error(s); fix them and try again", ctx.name,
                   ctx.errors);
        rc = P11P_ERR_CONFIG;
        goto out;
    }
    for (size_t i = 0; i < ctx.conf->n_tokens; i++) {
        rc = token_finish(&ctx.conf->tokens[i]);
        if (rc != P11P_OK) {
            goto out;
        }
    }
    *out = ctx.conf;
    ctx.conf = NULL;
    rc = P11P_OK;
out:
    free(ctx.meta);
    p11p_conf_free(ctx.conf);
    return rc;
}

/* Reads a whole configuration file (at most CONF_MAX_FILE bytes). */
static enum p11p_status read_file(const char *path, char **out)
{
    enum p11p_status rc = P11P_ERR_IO;
    FILE *f = NULL;
    char *text = NULL;
    size_t n = 0;

    *out = NULL;
    f = fopen(path, "re");
    if (f == NULL) {
        P11P_ERROR("conf", "%s: cannot open the configuration file: %s", path,
                   strerror(errno));
        rc = P11P_ERR_CONFIG;
        goto out;
    }
    text = malloc(CONF_MAX_FILE + 1);
    if (text == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    n = fread(text, 1, CONF_MAX_FILE + 1, f);
    if (ferror(f)) {
        P11P_ERROR("conf", "%s: read error: %s", path, strerror(errno));
        goto out;
    }
    if (n > CONF_MAX_FILE) {
        P11P_ERROR("conf", "%s: larger than %d bytes", path, CONF_MAX_FILE);
        rc = P11P_ERR_CONFIG;
        goto out;
    }
    if (memchr(text, '\0', n) != NULL) {
        P11P_ERROR("conf", "%s: holds a NUL byte; not a text file", path);
        rc = P11P_ERR_CONFIG;
        goto out;
    }
    text[n] = '\0';
    *out = text;
    text = NULL;
    rc = P11P_OK;
out:
    free(text);
    if (f != NULL) {
        fclose(f);
    }
    return rc;
}

enum p11p_status p11p_conf_load(const char *path, struct p11p_conf **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    char *text = NULL;
    struct p11p_conf *conf = NULL;
    struct stat st;

    *out = NULL;
    if (path == NULL) {
        path = secure_getenv("P11PORTAL_CONF");
        if (path != NULL && path[0] == '\0') {
            path = NULL;
        }
    }
    if (path == NULL) {
        if (stat(P11P_CONF_DEFAULT_PATH, &st) != 0) {
            P11P_DEBUG("conf", "no %s: using the embedded default token",
                       P11P_CONF_DEFAULT_PATH);
            rc = conf_new_default(out);
            goto out;
        }
        path = P11P_CONF_DEFAULT_PATH;
    }
    rc = read_file(path, &text);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_conf_parse_string(text, path, &conf);
    if (rc != P11P_OK) {
        goto out;
    }
    conf->path = strdup(path);
    if (conf->path == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    *out = conf;
    conf = NULL;
    rc = P11P_OK;
out:
    free(text);
    p11p_conf_free(conf);
    return rc;
}

const struct p11p_conf_token *p11p_conf_find_token(const struct p11p_conf *c,
                                                   const char *name)
{
    for (size_t i = 0; c != NULL && name != NULL && i < c->n_tokens; i++) {
        if (strcmp(c->tokens[i].name, name) == 0) {
            return &c->tokens[i];
        }
    }
    return NULL;
}

const char *p11p_conf_token_extra(const struct p11p_conf_token *t,
                                  const char *key)
{
    for (size_t i = 0; t != NULL && key != NULL && i < t->n_extra; i++) {
        if (strcmp(t->extra[i].key, key) == 0) {
            return t->extra[i].value;
        }
    }
    return NULL;
}

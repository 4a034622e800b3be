/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict typed getters and simple setters over cJSON (STYLE.md 3.12). The
 * only file that walks generic cJSON trees; see json.h for the path syntax.
 * Not for anything but portal replies and request bodies.
 */
#include "remote/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/base/str.h"

struct p11p_json {
    cJSON *root;
};

static const char *type_name(const cJSON *n)
{
    if (n == NULL) {
        return "nothing";
    }
    if (cJSON_IsNull(n)) {
        return "null";
    }
    if (cJSON_IsBool(n)) {
        return "boolean";
    }
    if (cJSON_IsNumber(n)) {
        return "number";
    }
    if (cJSON_IsString(n)) {
        return "string";
    }
    if (cJSON_IsArray(n)) {
        return "array";
    }
    if (cJSON_IsObject(n)) {
        return "object";
    }
    return "invalid value";
}

/* Fills err: what, then (if want) "expected WANT", then (if got) ", got
 * GOT". */
static void set_err(struct p11p_json_err *err, const char *path,
                    const char *what, const char *want, const char *got)
{
    if (err == NULL) {
        return;
    }
    snprintf(err->path, sizeof(err->path), "$%s%s",
             (path[0] == '\0' || path[0] == '[') ? "" : ".", path);
    snprintf(err->what, sizeof(err->what), "%s%s%s%s%s", what,
             want != NULL ? "expected " : "", want != NULL ? want : "",
             got != NULL ? ", got " : "", got != NULL ? got : "");
}

static int depth_of(const cJSON *n, int depth)
{
    int max = depth;
    for (const cJSON *c = n ? n->child : NULL; c != NULL; c = c->next) {
        int d = depth_of(c, depth + 1);
        if (d > max) {
            max = d;
        }
        if (max > P11P_JSON_MAX_DEPTH) {
            break;
        }
    }
    return max;
}

enum p11p_status p11p_json_parse(const char *text, size_t len,
                                 struct p11p_json **out,
                                 struct p11p_json_err *err)
{
    enum p11p_status rc = P11P_ERR_PROTOCOL;
    struct p11p_json *j = NULL;
    const char *end = NULL;

    *out = NULL;
    if (text == NULL || len == 0) {
        set_err(err, "", "empty body", NULL, NULL);
        goto out;
    }
    if (len > P11P_JSON_MAX_TEXT) {
        set_err(err, "", "document too large", NULL, NULL);
        goto out;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    j->root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (j->root == NULL) {
        set_err(err, "", "invalid JSON", NULL, NULL);
        goto out;
    }
    /* Only whitespace may follow the value. */
    if (end != NULL) {
        for (const char *p = end; p < text + len; p++) {
            if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
                set_err(err, "", "trailing data after the JSON value", NULL,
                        NULL);
                goto out;
            }
        }
    }
    if (depth_of(j->root, 0) > P11P_JSON_MAX_DEPTH) {
        set_err(err, "", "nesting deeper than the limit", NULL, NULL);
        goto out;
    }
    *out = j;
    j = NULL;
    rc = P11P_OK;
out:
    p11p_json_free(j);
    return rc;
}

enum p11p_status p11p_json_new_object(struct p11p_json **out)
{
    struct p11p_json *j = calloc(1, sizeof(*j));

    *out = NULL;
    if (j == NULL) {
        return P11P_ERR_NOMEM;
    }
    j->root = cJSON_CreateObject();
    if (j->root == NULL) {
        free(j);
        return P11P_ERR_NOMEM;
    }
    *out = j;
    return P11P_OK;
}

void p11p_json_free(struct p11p_json *j)
{
    if (j == NULL) {
        return;
    }
    cJSON_Delete(j->root);
    free(j);
}

/* One step of a path: a member name or an array index. */
struct seg {
    char name[64];
    long index; /* -1: member name */
};

static bool next_seg(const char **pp, struct seg *s)
{
    const char *p = *pp;
    size_t n = 0;

    s->name[0] = '\0';
    s->index = -1;
    if (*p == '.') {
        p++;
    }
    if (*p == '[') {
        char *end = NULL;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end != ']' || v < 0 || v > 1000000) {
            return false;
        }
        s->index = v;
        *pp = end + 1;
        return true;
    }
    while (p[n] != '\0' && p[n] != '.' && p[n] != '[') {
        n++;
    }
    if (n == 0 || n >= sizeof(s->name)) {
        return false;
    }
    memcpy(s->name, p, n);
    s->name[n] = '\0';
    *pp = p + n;
    return true;
}

static const cJSON *lookup(const struct p11p_json *j, const char *path)
{
    const cJSON *n = j != NULL ? j->root : NULL;
    const char *p = path;
    struct seg s;

    while (n != NULL && *p != '\0') {
        if (!next_seg(&p, &s)) {
            return NULL;
        }
        if (s.index >= 0) {
            n = cJSON_IsArray(n) ? cJSON_GetArrayItem(n, (int)s.index) : NULL;
        } else {
            n = cJSON_IsObject(n) ? cJSON_GetObjectItemCaseSensitive(n, s.name)
                                  : NULL;
        }
    }
    return n;
}

bool p11p_json_has(const struct p11p_json *j, const char *path)
{
    const cJSON *n = lookup(j, path);
    return n != NULL && !cJSON_IsNull(n);
}

bool p11p_json_is_object(const struct p11p_json *j, const char *path)
{
    return cJSON_IsObject(lookup(j, path));
}

bool p11p_json_is_array(const struct p11p_json *j, const char *path)
{
    return cJSON_IsArray(lookup(j, path));
}

static enum p11p_status get_typed(const struct p11p_json *j, const char *path,
                                  const char *want, const cJSON **out,
                                  struct p11p_json_err *err)
{
    const cJSON *n = lookup(j, path);

    *out = NULL;
    if (n == NULL) {
        set_err(err, path, "missing: ", want, NULL);
        return P11P_ERR_PROTOCOL;
    }
    if (strcmp(type_name(n), want) != 0) {
        set_err(err, path, "", want, type_name(n));
        return P11P_ERR_PROTOCOL;
    }
    *out = n;
    return P11P_OK;
}

enum p11p_status p11p_json_get_string(const struct p11p_json *j,
                                      const char *path, const char **out,
                                      struct p11p_json_err *err)
{
    const cJSON *n = NULL;
    enum p11p_status rc = get_typed(j, path, "string", &n, err);

    *out = NULL;
    if (rc == P11P_OK) {
        *out = n->valuestring;
    }
    return rc;
}

enum p11p_status p11p_json_get_string_opt(const struct p11p_json *j,
                                          const char *path, const char **out,
                                          struct p11p_json_err *err)
{
    const cJSON *n = lookup(j, path);

    *out = NULL;
    if (n == NULL || cJSON_IsNull(n)) {
        return P11P_OK;
    }
    if (!cJSON_IsString(n)) {
        set_err(err, path, "", "string", type_name(n));
        return P11P_ERR_PROTOCOL;
    }
    if (n->valuestring[0] != '\0') {
        *out = n->valuestring;
    }
    return P11P_OK;
}

enum p11p_status p11p_json_get_int(const struct p11p_json *j, const char *path,
                                   bool coerce, int64_t *out,
                                   struct p11p_json_err *err)
{
    const cJSON *n = lookup(j, path);
    const double lim = 4.0e18;
    uint64_t u = 0;

    if (n == NULL || cJSON_IsNull(n)) {
        set_err(err, path, "missing: ", "integer", NULL);
        return P11P_ERR_PROTOCOL;
    }
    if (cJSON_IsNumber(n)) {
        double d = n->valuedouble;
        if (!(d > -lim && d < lim) || d != (double)(int64_t)d) {
            set_err(err, path, "expected an integer in range", NULL, NULL);
            return P11P_ERR_PROTOCOL;
        }
        *out = (int64_t)d;
        return P11P_OK;
    }
    if (coerce && cJSON_IsString(n)) {
        const char *s = n->valuestring;
        bool neg = s[0] == '-';
        if (p11p_str_to_u64(neg ? s + 1 : s, 0, (uint64_t)INT64_MAX / 2, &u)
            == P11P_OK) {
            *out = neg ? -(int64_t)u : (int64_t)u;
            return P11P_OK;
        }
        set_err(err, path, "expected integer, got non-numeric string", NULL,
                NULL);
        return P11P_ERR_PROTOCOL;
    }
    set_err(err, path, "", "integer", type_name(n));
    return P11P_ERR_PROTOCOL;
}

enum p11p_status p11p_json_get_bool(const struct p11p_json *j, const char *path,
                                    bool *out, struct p11p_json_err *err)
{
    const cJSON *n = NULL;
    enum p11p_status rc = get_typed(j, path, "boolean", &n, err);

    if (rc == P11P_OK) {
        *out = cJSON_IsTrue(n);
    }
    return rc;
}

static bool id_char_ok(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '/' && c != '?' && c != '#' && c != '%'
           && c != '\\' && c != '"';
}

enum p11p_status p11p_json_get_id(const struct p11p_json *j, const char *path,
                                  char *out, size_t outsz,
                                  struct p11p_json_err *err)
{
    const cJSON *n = lookup(j, path);
    char tmp[128];
    int64_t v = 0;

    if (n != NULL && cJSON_IsNumber(n)) {
        if (p11p_json_get_int(j, path, false, &v, err) != P11P_OK) {
            return P11P_ERR_PROTOCOL;
        }
        snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    } else if (n != NULL && cJSON_IsString(n)) {
        size_t len = strlen(n->valuestring);
        if (len == 0 || len >= sizeof(tmp)) {
            set_err(err, path, "id is empty or too long", NULL, NULL);
            return P11P_ERR_PROTOCOL;
        }
        for (size_t i = 0; i < len; i++) {
            if (!id_char_ok((unsigned char)n->valuestring[i])) {
                set_err(err, path, "id has a character not allowed", NULL,
                        NULL);
                return P11P_ERR_PROTOCOL;
            }
        }
        memcpy(tmp, n->valuestring, len + 1);
    } else if (n == NULL) {
        set_err(err, path, "missing: ", "an id (number or string)", NULL);
        return P11P_ERR_PROTOCOL;
    } else {
        set_err(err, path, "", "an id (number or string)", type_name(n));
        return P11P_ERR_PROTOCOL;
    }
    if (!p11p_str_copy(out, outsz, tmp)) {
        set_err(err, path, "id too long", NULL, NULL);
        return P11P_ERR_PROTOCOL;
    }
    return P11P_OK;
}

enum p11p_status p11p_json_array_len(const struct p11p_json *j,
                                     const char *path, size_t *out,
                                     struct p11p_json_err *err)
{
    const cJSON *n = NULL;
    enum p11p_status rc = get_typed(j, path, "array", &n, err);

    if (rc == P11P_OK) {
        *out = (size_t)cJSON_GetArraySize(n);
    }
    return rc;
}

enum p11p_status p11p_json_object_len(const struct p11p_json *j,
                                      const char *path, size_t *out,
                                      struct p11p_json_err *err)
{
    const cJSON *n = NULL;
    enum p11p_status rc = get_typed(j, path, "object", &n, err);

    if (rc == P11P_OK) {
        *out = (size_t)cJSON_GetArraySize(n);
    }
    return rc;
}

enum p11p_status p11p_json_object_key(const struct p11p_json *j,
                                      const char *path, size_t i,
                                      const char **out,
                                      struct p11p_json_err *err)
{
    const cJSON *n = NULL;
    const cJSON *c = NULL;
    enum p11p_status rc = get_typed(j, path, "object", &n, err);

    *out = NULL;
    if (rc != P11P_OK) {
        return rc;
    }
    c = cJSON_GetArrayItem(n, (int)i);
    if (c == NULL || c->string == NULL) {
        set_err(err, path, "no member at that position", NULL, NULL);
        return P11P_ERR_PROTOCOL;
    }
    *out = c->string;
    return P11P_OK;
}

/* Finds or creates the parent of the last segment and stores value there
 * (takes ownership of value in every case). */
static enum p11p_status set_value(struct p11p_json *j, const char *path,
                                  cJSON *value)
{
    enum p11p_status rc = P11P_ERR_INVALID_INPUT;
    cJSON *n = j != NULL ? j->root : NULL;
    const char *p = path;
    struct seg s;
    struct seg nx;

    if (n == NULL || value == NULL || !next_seg(&p, &s)) {
        goto out;
    }
    for (;;) {
        const char *q = p;
        bool last = (*p == '\0');
        cJSON *child = NULL;

        if (!last && !next_seg(&q, &nx)) {
            goto out;
        }
        if (s.index >= 0) {
            if (!cJSON_IsArray(n)) {
                goto out;
            }
            child = cJSON_GetArrayItem(n, (int)s.index);
            if (child == NULL && s.index != cJSON_GetArraySize(n)) {
                goto out;
            }
        } else {
            if (!cJSON_IsObject(n)) {
                goto out;
            }
            child = cJSON_GetObjectItemCaseSensitive(n, s.name);
        }
        if (last) {
            bool ok;
            if (s.index >= 0) {
                ok = child != NULL
                         ? cJSON_ReplaceItemInArray(n, (int)s.index, value)
                         : cJSON_AddItemToArray(n, value);
            } else if (child != NULL) {
                ok = cJSON_ReplaceItemInObjectCaseSensitive(n, s.name, value);
            } else {
                ok = cJSON_AddItemToObject(n, s.name, value);
            }
            if (!ok) {
                rc = P11P_ERR_NOMEM;
                goto out;
            }
            value = NULL;
            rc = P11P_OK;
            goto out;
        }
        if (child == NULL) {
            child = nx.index >= 0 ? cJSON_CreateArray() : cJSON_CreateObject();
            if (child == NULL) {
                rc = P11P_ERR_NOMEM;
                goto out;
            }
            if (!(s.index >= 0 ? cJSON_AddItemToArray(n, child)
                               : cJSON_AddItemToObject(n, s.name, child))) {
                cJSON_Delete(child);
                rc = P11P_ERR_NOMEM;
                goto out;
            }
        }
        n = child;
        s = nx;
        p = q;
    }
out:
    cJSON_Delete(value);
    return rc;
}

enum p11p_status p11p_json_set_string(struct p11p_json *j, const char *path,
                                      const char *value)
{
    return set_value(j, path, cJSON_CreateString(value != NULL ? value : ""));
}

enum p11p_status p11p_json_set_int(struct p11p_json *j, const char *path,
                                   int64_t value)
{
    return set_value(j, path, cJSON_CreateNumber((double)value));
}

enum p11p_status p11p_json_set_bool(struct p11p_json *j, const char *path,
                                    bool value)
{
    return set_value(j, path, cJSON_CreateBool(value));
}

enum p11p_status p11p_json_print(const struct p11p_json *j, char **out)
{
    char *s = NULL;

    *out = NULL;
    if (j == NULL || j->root == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    s = cJSON_PrintUnformatted(j->root);
    if (s == NULL) {
        return P11P_ERR_NOMEM;
    }
    /* cJSON allocates with malloc unless hooks are set; we set none. */
    *out = s;
    return P11P_OK;
}

void p11p_json_err_format(const struct p11p_json_err *err, char *out,
                          size_t outsz)
{
    if (outsz == 0) {
        return;
    }
    if (err == NULL) {
        out[0] = '\0';
        return;
    }
    snprintf(out, outsz, "%s: %s", err->path, err->what);
}

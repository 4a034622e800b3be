/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of remote/json.c: typed getters, paths in errors, setters,
 * hostile input. */
#include <stdlib.h>
#include <string.h>

#include "remote/json.h"
#include "tests/unit/check.h"

static struct p11p_json *parse(const char *s)
{
    struct p11p_json *j = NULL;
    struct p11p_json_err err;
    if (p11p_json_parse(s, strlen(s), &j, &err) != P11P_OK) {
        return NULL;
    }
    return j;
}

static void test_getters(void)
{
    struct p11p_json *j =
        parse("{\"a\":\"x\",\"n\":55,\"s\":\"365\",\"b\":true,"
              "\"z\":null,\"e\":\"\",\"arr\":[{\"id\":1},{\"id\":\"u-2\"}],"
              "\"o\":{\"k\":[\"2048\",\"4096\"]}}");
    struct p11p_json_err err;
    const char *s = NULL;
    int64_t v = 0;
    bool b = false;
    size_t n = 0;
    char id[64];

    CHECK(j != NULL);
    CHECK_RV(p11p_json_get_string(j, "a", &s, &err), P11P_OK);
    CHECK_STR_EQ(s, "x");
    CHECK_RV(p11p_json_get_int(j, "n", false, &v, &err), P11P_OK);
    CHECK_INT_EQ(v, 55);
    CHECK_RV(p11p_json_get_int(j, "s", false, &v, &err), P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_json_get_int(j, "s", true, &v, &err), P11P_OK);
    CHECK_INT_EQ(v, 365);
    CHECK_RV(p11p_json_get_bool(j, "b", &b, &err), P11P_OK);
    CHECK(b);
    CHECK_RV(p11p_json_get_string_opt(j, "z", &s, &err), P11P_OK);
    CHECK(s == NULL);
    CHECK_RV(p11p_json_get_string_opt(j, "e", &s, &err), P11P_OK);
    CHECK(s == NULL);
    CHECK_RV(p11p_json_get_string_opt(j, "missing", &s, &err), P11P_OK);
    CHECK(!p11p_json_has(j, "z"));
    CHECK(p11p_json_has(j, "arr[1].id"));
    CHECK_RV(p11p_json_array_len(j, "arr", &n, &err), P11P_OK);
    CHECK_INT_EQ(n, 2);
    CHECK_RV(p11p_json_get_id(j, "arr[0].id", id, sizeof(id), &err), P11P_OK);
    CHECK_STR_EQ(id, "1");
    CHECK_RV(p11p_json_get_id(j, "arr[1].id", id, sizeof(id), &err), P11P_OK);
    CHECK_STR_EQ(id, "u-2");
    CHECK_RV(p11p_json_object_len(j, "o", &n, &err), P11P_OK);
    CHECK_INT_EQ(n, 1);
    CHECK_RV(p11p_json_object_key(j, "o", 0, &s, &err), P11P_OK);
    CHECK_STR_EQ(s, "k");
    CHECK_RV(p11p_json_get_string(j, "o.k[1]", &s, &err), P11P_OK);
    CHECK_STR_EQ(s, "4096");
    p11p_json_free(j);
}

static void test_error_paths(void)
{
    struct p11p_json *j =
        parse("{\"records\":[{\"status\":7}],\"id\":\"a/b\"}");
    struct p11p_json_err err;
    const char *s = NULL;
    char msg[300];
    char id[64];

    CHECK_RV(p11p_json_get_string(j, "records[0].status", &s, &err),
             P11P_ERR_PROTOCOL);
    p11p_json_err_format(&err, msg, sizeof(msg));
    CHECK_STR_EQ(msg, "$.records[0].status: expected string, got number");
    CHECK_RV(p11p_json_get_string(j, "records[3].status", &s, &err),
             P11P_ERR_PROTOCOL);
    CHECK_STR_EQ(err.path, "$.records[3].status");
    CHECK(strstr(err.what, "missing") != NULL);
    /* ids that would break a URL path are refused */
    CHECK_RV(p11p_json_get_id(j, "id", id, sizeof(id), &err),
             P11P_ERR_PROTOCOL);
    CHECK_STR_EQ(err.path, "$.id");
    p11p_json_free(j);
    j = parse("[{\"id\":1.5}]");
    int64_t v = 0;
    CHECK_RV(p11p_json_get_int(j, "[0].id", false, &v, &err),
             P11P_ERR_PROTOCOL);
    CHECK_STR_EQ(err.path, "$[0].id");
    p11p_json_free(j);
}

static void test_hostile(void)
{
    static const char *const bad[] = {
        "",
        "{",
        "{\"a\":}",
        "[1,2",
        "{\"a\":1} trailing",
        "nul",
        "\"\\u12\"",
        "{\"a\":1}{\"b\":2}",
        "\x01\x02",
        "{\"a\":\"\xff\xfe\"",
    };
    struct p11p_json *j = NULL;
    struct p11p_json_err err;
    char deep[200];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_RV(p11p_json_parse(bad[i], strlen(bad[i]), &j, &err),
                 P11P_ERR_PROTOCOL);
        CHECK(j == NULL);
    }
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    CHECK_RV(p11p_json_parse(deep, 200, &j, &err), P11P_ERR_PROTOCOL);
    CHECK(strstr(err.what, "nesting") != NULL);
    /* not NUL-terminated input */
    CHECK_RV(p11p_json_parse("{\"a\":1}xxxx", 7, &j, &err), P11P_OK);
    p11p_json_free(j);
    j = parse("{\"a\":1}");
    const char *s = NULL;
    CHECK_RV(p11p_json_get_string(j, "a..b", &s, &err), P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_json_get_string(j, "[", &s, &err), P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_json_get_string(j, "a[-1]", &s, &err), P11P_ERR_PROTOCOL);
    p11p_json_free(j);
}

static void test_setters(void)
{
    struct p11p_json *j = NULL;
    char *out = NULL;

    CHECK_RV(p11p_json_new_object(&j), P11P_OK);
    CHECK_RV(p11p_json_set_int(j, "orgId", 7), P11P_OK);
    CHECK_RV(p11p_json_set_string(j, "customFields[0].name", "requestToken"),
             P11P_OK);
    CHECK_RV(p11p_json_set_string(j, "customFields[0].value", "tok"), P11P_OK);
    CHECK_RV(p11p_json_set_string(j, "customFields[1].name", "b"), P11P_OK);
    CHECK_RV(p11p_json_set_bool(j, "x.y", true), P11P_OK);
    CHECK_RV(p11p_json_set_string(j, "customFields[5].name", "gap"),
             P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_json_set_int(j, "orgId", 8), P11P_OK);
    CHECK_RV(p11p_json_print(j, &out), P11P_OK);
    CHECK_STR_EQ(
        out,
        "{\"orgId\":8,\"customFields\":[{\"name\":\"requestToken\",\"value\":\"tok\"},{\"name\":\"b\"}],\"x\":{\"y\":true}}");
    free(out);
    p11p_json_free(j);
    p11p_json_free(NULL);
}

int main(void)
{
    CHECK_RUN(test_getters);
    CHECK_RUN(test_error_paths);
    CHECK_RUN(test_hostile);
    CHECK_RUN(test_setters);
    return check_summary();
}

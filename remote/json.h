/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict typed access to JSON documents (STYLE.md 3.12). This is the only
 * generic cJSON user: the drivers' *_json.c files read replies through these
 * getters and build request bodies through the setters, and no cJSON pointer
 * leaves this file.
 *
 * Paths: "" is the root; "sslId", "certType.id", "records[0].chain[1].blob",
 * "[2].id" (an element of a root array). A getter that fails fills err with
 * the path of the failing field and what was wrong, so the log can say
 * "$.records[0].status: expected string, got number".
 */
#ifndef P11P_REMOTE_JSON_H
#define P11P_REMOTE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/status.h"

/* The largest JSON text parsed (replies are capped lower by http.c). */
#define P11P_JSON_MAX_TEXT (4u * 1024u * 1024u)
/* The deepest nesting accepted (hostile input). */
#define P11P_JSON_MAX_DEPTH 32

struct p11p_json; /* a parsed or built document */

/* Where and why a getter failed. */
struct p11p_json_err {
    char path[160]; /* "$.records[0].status" */
    char what[96];  /* "expected string, got number" */
};

/* Parses len bytes of text (need not be NUL-terminated). Fails with
 * P11P_ERR_PROTOCOL for invalid JSON, trailing garbage, too deep nesting or
 * too large input (err says where). Free with p11p_json_free. */
enum p11p_status p11p_json_parse(const char *text, size_t len,
                                 struct p11p_json **out,
                                 struct p11p_json_err *err);

/* Creates an empty object (for request bodies). */
enum p11p_status p11p_json_new_object(struct p11p_json **out);

/* NULL-safe. */
void p11p_json_free(struct p11p_json *j);

/* True if path exists and is not JSON null. */
bool p11p_json_has(const struct p11p_json *j, const char *path);

/* Borrowed string at path (valid while j lives). P11P_ERR_PROTOCOL if
 * absent, null or not a string. */
enum p11p_status p11p_json_get_string(const struct p11p_json *j,
                                      const char *path, const char **out,
                                      struct p11p_json_err *err);

/* As p11p_json_get_string, but absent, null and "" give *out = NULL and OK. */
enum p11p_status p11p_json_get_string_opt(const struct p11p_json *j,
                                          const char *path, const char **out,
                                          struct p11p_json_err *err);

/* An integral number in [INT64_MIN/2, INT64_MAX/2]; with coerce, a string of
 * decimal digits is accepted too (PORTALS.md Part 3b.4). */
enum p11p_status p11p_json_get_int(const struct p11p_json *j, const char *path,
                                   bool coerce, int64_t *out,
                                   struct p11p_json_err *err);

enum p11p_status p11p_json_get_bool(const struct p11p_json *j, const char *path,
                                    bool *out, struct p11p_json_err *err);

/* An id that portals send as a number or a string, copied as text into out
 * (size outsz; at most 127 characters, printable ASCII without '/', '?',
 * '#', '%' or spaces so that it is safe in a URL path). */
enum p11p_status p11p_json_get_id(const struct p11p_json *j, const char *path,
                                  char *out, size_t outsz,
                                  struct p11p_json_err *err);

/* Number of elements of the array at path (PROTOCOL if not an array). */
enum p11p_status p11p_json_array_len(const struct p11p_json *j,
                                     const char *path, size_t *out,
                                     struct p11p_json_err *err);

/* True if the value at path is an object / an array. */
bool p11p_json_is_object(const struct p11p_json *j, const char *path);
bool p11p_json_is_array(const struct p11p_json *j, const char *path);

/* Number of members of the object at path and the name of member i
 * (borrowed), for maps such as Sectigo's keyTypes. */
enum p11p_status p11p_json_object_key(const struct p11p_json *j,
                                      const char *path, size_t i,
                                      const char **out,
                                      struct p11p_json_err *err);
enum p11p_status p11p_json_object_len(const struct p11p_json *j,
                                      const char *path, size_t *out,
                                      struct p11p_json_err *err);

/* Setters for request bodies: create intermediate objects and arrays as
 * needed; "arr[N]" with N equal to the array's length appends. */
enum p11p_status p11p_json_set_string(struct p11p_json *j, const char *path,
                                      const char *value);
enum p11p_status p11p_json_set_int(struct p11p_json *j, const char *path,
                                   int64_t value);
enum p11p_status p11p_json_set_bool(struct p11p_json *j, const char *path,
                                    bool value);

/* Prints the document unformatted. Returns a new string (caller frees). */
enum p11p_status p11p_json_print(const struct p11p_json *j, char **out);

/* Formats err as "PATH: WHAT" into out. */
void p11p_json_err_format(const struct p11p_json_err *err, char *out,
                          size_t outsz);

#endif

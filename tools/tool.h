/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The p11portal command-line tool (issue 7): what every subcommand shares.
 * The tool links the same core as the module (conf, cache, keys, remote,
 * enroll), never the module's function table. One file per subcommand
 * (cmd_<name>.c); p11portal.c holds the table and main.
 *
 * Every subcommand accepts the common options (--token, --json, --conf,
 * --pin-source, --yes, -v/--verbose, -q/--quiet, -h/--help) anywhere on
 * its command line, prints a human table by default and JSON with --json,
 * and returns one of enum p11p_exit (docs/tool.md, p11portal(1)).
 *
 * PINs: P11PORTAL_PIN in the environment, --pin-source FILE (the first
 * line; the file must not be readable by group or others), or a prompt on
 * the terminal. Never an argument (it would show in ps).
 */
#ifndef P11P_TOOLS_TOOL_H
#define P11P_TOOLS_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cache/cache.h"
#include "core/base/status.h"
#include "core/conf/conf.h"
#include "core/enroll/enroll.h"
#include "core/keys/backend.h"

/* Exit codes: the same numbers in p11portal(1) and docs/tool.md. */
enum p11p_exit {
    P11P_EXIT_OK = 0,        /* done (also: nothing to do) */
    P11P_EXIT_FAILED = 1,    /* failed here: I/O, cache, HSM, network */
    P11P_EXIT_USAGE = 2,     /* bad input: options, files, configuration */
    P11P_EXIT_PARTIAL = 3,   /* partly done: some items failed or pending */
    P11P_EXIT_REFUSED = 4,   /* the portal refused (rejected, quota,
                                credentials) */
    P11P_EXIT_AUTH = 5,      /* wrong or locked token PIN */
    P11P_EXIT_CANCELLED = 6, /* the user said no, or Ctrl-C */
};

/* The exit code a core status maps to. */
enum p11p_exit p11p_tool_exit_of(enum p11p_status st);

/* What a subcommand needs opened (p11p_tool_open). */
enum {
    P11P_TOOL_NEED_CACHE = 1u << 0, /* the token's cache */
    P11P_TOOL_NEED_KEYS = 1u << 1,  /* + the keystore */
    P11P_TOOL_NEED_LOGIN = 1u << 2, /* + user login (asks for the PIN) */
    P11P_TOOL_NEED_ENROLL = 1u << 3 /* + the enrollment engine (driver) */
};

struct p11p_tool {
    /* Common options. */
    const char *prog;       /* "p11portal" */
    const char *cmd;        /* the subcommand's name */
    const char *token_name; /* --token, or NULL: the only token */
    const char *conf_path;  /* --conf, or NULL: P11PORTAL_CONF / default */
    const char *pin_source; /* --pin-source FILE */
    bool json;
    bool yes;
    bool quiet;
    int verbose;

    /* Opened by p11p_tool_open. */
    struct p11p_conf *conf;
    const struct p11p_conf_token *tok; /* borrowed from conf */
    struct p11p_cache *cache;
    struct p11p_keystore *ks;
    struct p11p_enroll *enroll;
    bool logged_in;
};

/* One subcommand. run gets argc/argv starting at the subcommand's name
 * (argv[0] is "batch"). Returns an enum p11p_exit. */
struct p11p_tool_cmd {
    const char *name;
    const char *summary; /* one line for "p11portal --help" */
    int (*run)(struct p11p_tool *t, int argc, char **argv);
};

/* ---- options ---- */

/* A subcommand's own long options, as getopt_long's, terminated by a zeroed
 * row. The common ones are added by p11p_tool_getopt. */
#include <getopt.h>

/* Parses argv (starting at the subcommand name) with the common options
 * added to own/own_short. Calls handle(ud, c, optarg) for each option of
 * the subcommand's own; handle returns 0, or an enum p11p_exit to stop.
 * Prints usage (the subcommand's usage text plus the common options) on
 * -h (returns -1 then: the caller exits 0) and on errors (returns
 * P11P_EXIT_USAGE). On success returns 0 and sets *optind_out to the
 * first positional argument; with optind_out NULL the subcommand takes
 * none, and one is refused (P11P_EXIT_USAGE, "unexpected argument"). */
int p11p_tool_getopt(struct p11p_tool *t, int argc, char **argv,
                     const struct option *own, const char *own_short,
                     const char *usage,
                     int (*handle)(void *ud, int c, const char *arg), void *ud,
                     int *optind_out);

/* Prints "p11portal CMD: <message>" to stderr (printf format) and returns
 * code. For errors the user must read; the core's own log lines say the
 * details. */
int p11p_tool_fail(const struct p11p_tool *t, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Progress and notes for the human (stderr; silent with --quiet). */
void p11p_tool_note(const struct p11p_tool *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Asks "question [y/N]" on the terminal unless --yes. True if confirmed.
 * No terminal and no --yes: false, with a note saying to pass --yes. */
bool p11p_tool_confirm(const struct p11p_tool *t, const char *question);

/* ---- the token ---- */

/* Loads the configuration, picks the token (--token or the only one) and
 * opens what need asks for (P11P_TOOL_NEED_*; each implies the ones
 * before it). On failure prints why and returns the exit code (the caller
 * returns it); 0 on success. */
int p11p_tool_open(struct p11p_tool *t, unsigned need);

/* Closes everything p11p_tool_open opened (logs out). Safe to call twice. */
void p11p_tool_close(struct p11p_tool *t);

/* Where a secret comes from, in this order: file (an option's value: its
 * first line; the file must be readable by its owner only), the
 * environment variable env, or a prompt "what: " on the terminal with echo
 * off. */
struct p11p_tool_secret_src {
    const char *file;   /* or NULL */
    const char *option; /* "--pin-source", for messages */
    const char *env;    /* "P11PORTAL_PIN" */
    const char *what;   /* "User PIN of token \"x\"", the prompt */
    bool allow_empty;   /* an empty secret is valid (PKCS#12 passwords) */
    size_t max;         /* longest accepted, at most 1024 */
};

/* Reads a secret from src (see above). P11P_ERR_INVALID_INPUT, explained
 * on stderr, if none is available, the file is readable by others or the
 * secret is empty (unless allowed) or too long. */
enum p11p_status p11p_tool_read_secret(const struct p11p_tool *t,
                                       const struct p11p_tool_secret_src *src,
                                       struct p11p_secret **out);

/* Reads the user PIN: --pin-source FILE, P11PORTAL_PIN, or the terminal
 * prompt (echo off). P11P_ERR_INVALID_INPUT, explained on stderr, if none
 * is available or the file is readable by others. */
enum p11p_status p11p_tool_read_pin(const struct p11p_tool *t,
                                    struct p11p_secret **out);

/* ---- output ---- */

/* A human table: columns set once, rows added, printed aligned. Cells are
 * copied. */
struct p11p_table;
struct p11p_table *p11p_table_new(size_t ncols, const char *const *headers);
void p11p_table_add(struct p11p_table *tb, const char *const *cells);
void p11p_table_print(const struct p11p_table *tb, FILE *f);
void p11p_table_free(struct p11p_table *tb); /* NULL-safe */

/* A streaming JSON writer (reports of 500,000 rows are written as they
 * go). Commas and escaping are handled; nesting up to 16 levels. Values
 * inside an object take a key first (p11p_jw_key), inside an array not. */
struct p11p_jw {
    FILE *f;
    int depth;
    bool first[16];
    bool after_key;
    bool pretty;
};
void p11p_jw_init(struct p11p_jw *w, FILE *f, bool pretty);
void p11p_jw_begin_object(struct p11p_jw *w);
void p11p_jw_end_object(struct p11p_jw *w);
void p11p_jw_begin_array(struct p11p_jw *w);
void p11p_jw_end_array(struct p11p_jw *w);
void p11p_jw_key(struct p11p_jw *w, const char *key);
void p11p_jw_str(struct p11p_jw *w, const char *s); /* NULL: null */
void p11p_jw_int(struct p11p_jw *w, int64_t v);
void p11p_jw_bool(struct p11p_jw *w, bool v);
void p11p_jw_null(struct p11p_jw *w);
/* Shorthands inside an object: key then value. */
void p11p_jw_kstr(struct p11p_jw *w, const char *key, const char *s);
void p11p_jw_kint(struct p11p_jw *w, const char *key, int64_t v);
void p11p_jw_kbool(struct p11p_jw *w, const char *key, bool v);
/* Ends the document with a newline (depth must be 0). */
void p11p_jw_finish(struct p11p_jw *w);

/* A duration "N[s|m|h|d|w]" ("7d", "90m") in seconds; a bare number is in
 * bare_unit_s seconds (1: seconds, 86400: days). At most 100 years. False
 * if s is not such a duration. */
bool p11p_tool_parse_duration(const char *s, int64_t bare_unit_s, int64_t *out);

/* Hex of len bytes (lower case) into out (2*len+1). */
void p11p_tool_hex(const unsigned char *p, size_t len, char *out);

/* "2026-11-24 10:03" (UTC) of a Unix time; "-" for 0. out: 20 bytes. */
void p11p_tool_time(int64_t unix_s, char out[20]);

/* ---- the subcommands (one file each) ---- */

int p11p_cmd_status(struct p11p_tool *t, int argc, char **argv);
int p11p_cmd_orders(struct p11p_tool *t, int argc, char **argv);
int p11p_cmd_batch(struct p11p_tool *t, int argc, char **argv);
int p11p_cmd_import(struct p11p_tool *t, int argc, char **argv);
int p11p_cmd_adopt(struct p11p_tool *t, int argc, char **argv);
int p11p_cmd_sync(struct p11p_tool *t, int argc, char **argv);
int p11p_cmd_renew(struct p11p_tool *t, int argc, char **argv);
int p11p_cmd_revoke(struct p11p_tool *t, int argc, char **argv);
int p11p_cmd_delete(struct p11p_tool *t, int argc, char **argv);
int p11p_cmd_export(struct p11p_tool *t, int argc, char **argv);

#endif

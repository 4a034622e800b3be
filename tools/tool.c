/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every subcommand shares: common options, opening the token, the
 * PIN, confirmation, messages and exit codes (tools/tool.h).
 */
#include "tools/tool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/base/log.h"
#include "core/base/secret.h"

#define PIN_MAX    256
#define SECRET_MAX 1024

enum p11p_exit p11p_tool_exit_of(enum p11p_status st)
{
    switch (st) {
    case P11P_OK:
        return P11P_EXIT_OK;
    case P11P_ERR_INVALID_INPUT:
    case P11P_ERR_CONFIG:
    case P11P_ERR_NOT_FOUND:
    case P11P_ERR_EXISTS:
    case P11P_ERR_UNSUPPORTED:
        return P11P_EXIT_USAGE;
    case P11P_ERR_AUTH:
    case P11P_ERR_PIN_LOCKED:
        return P11P_EXIT_AUTH;
    case P11P_ERR_REJECTED:
    case P11P_ERR_PORTAL_AUTH:
    case P11P_ERR_EXHAUSTED:
        return P11P_EXIT_REFUSED;
    default:
        return P11P_EXIT_FAILED;
    }
}

/* ---- messages ---- */

int p11p_tool_fail(const struct p11p_tool *t, int code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s %s: ", t->prog, t->cmd != NULL ? t->cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

void p11p_tool_note(const struct p11p_tool *t, const char *fmt, ...)
{
    va_list ap;

    if (t->quiet) {
        return;
    }
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

bool p11p_tool_confirm(const struct p11p_tool *t, const char *question)
{
    char line[16];
    FILE *tty;
    bool yes;

    if (t->yes) {
        return true;
    }
    tty = fopen("/dev/tty", "r+e");
    if (tty == NULL) {
        fprintf(stderr, "%s %s: %s? No terminal to ask: pass --yes\n", t->prog,
                t->cmd, question);
        return false;
    }
    fprintf(tty, "%s? [y/N] ", question);
    fflush(tty);
    yes = fgets(line, sizeof(line), tty) != NULL
          && (line[0] == 'y' || line[0] == 'Y');
    fclose(tty);
    return yes;
}

/* ---- options ---- */

enum {
    OPT_TOKEN = 0x1000,
    OPT_CONF,
    OPT_PIN_SOURCE,
    OPT_JSON,
    OPT_YES,
};

static const struct option common_opts[] = {
    { "token", required_argument, NULL, OPT_TOKEN },
    { "conf", required_argument, NULL, OPT_CONF },
    { "pin-source", required_argument, NULL, OPT_PIN_SOURCE },
    { "json", no_argument, NULL, OPT_JSON },
    { "yes", no_argument, NULL, OPT_YES },
    { "verbose", no_argument, NULL, 'v' },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
};

static const char common_usage[] =
    "Common options:\n"
    "  --token NAME        the token (default: the only one configured)\n"
    "  --conf FILE         configuration file (default: $P11PORTAL_CONF,\n"
    "                      then /etc/p11portal/p11portal.conf, then the\n"
    "                      embedded default)\n"
    "  --pin-source FILE   read the user PIN from FILE's first line (mode\n"
    "                      0600); or set P11PORTAL_PIN; else a prompt\n"
    "  --json              JSON on stdout instead of a table\n"
    "  --yes               do not ask for confirmation\n"
    "  -v, --verbose       more log lines (twice: debug)\n"
    "  -q, --quiet         errors only\n"
    "  -h, --help          this help\n"
    "Exit codes: 0 done, 1 failed, 2 bad input, 3 partly done, 4 portal\n"
    "refused, 5 wrong or locked PIN, 6 cancelled.\n";

static void print_usage(const struct p11p_tool *t, const char *usage, FILE *f)
{
    fprintf(f, "Usage: %s %s%s\n%s", t->prog, t->cmd, usage, common_usage);
}

int p11p_tool_getopt(struct p11p_tool *t, int argc, char **argv,
                     const struct option *own, const char *own_short,
                     const char *usage,
                     int (*handle)(void *ud, int c, const char *arg), void *ud,
                     int *optind_out)
{
    size_t n_own = 0, n_common = sizeof(common_opts) / sizeof(common_opts[0]);
    struct option *all;
    char shorts[128];
    int c, rc = 0;

    while (own != NULL && own[n_own].name != NULL) {
        n_own++;
    }
    all = calloc(n_own + n_common + 1, sizeof(*all));
    if (all == NULL) {
        return p11p_tool_fail(t, P11P_EXIT_FAILED, "out of memory");
    }
    if (n_own > 0) {
        memcpy(all, own, n_own * sizeof(*all));
    }
    memcpy(all + n_own, common_opts, sizeof(common_opts));
    snprintf(shorts, sizeof(shorts), "vqh%s",
             own_short != NULL ? own_short : "");

    optind = 1;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
        switch (c) {
        case OPT_TOKEN:
            t->token_name = optarg;
            break;
        case OPT_CONF:
            t->conf_path = optarg;
            break;
        case OPT_PIN_SOURCE:
            t->pin_source = optarg;
            break;
        case OPT_JSON:
            t->json = true;
            break;
        case OPT_YES:
            t->yes = true;
            break;
        case 'v':
            t->verbose++;
            break;
        case 'q':
            t->quiet = true;
            break;
        case 'h':
            print_usage(t, usage, stdout);
            rc = -1;
            break;
        case '?':
        case ':':
            if (optopt != 0 && optopt < 0x100) {
                fprintf(stderr,
                        "%s %s: option -%c: unknown or missing its value\n",
                        t->prog, t->cmd, optopt);
            } else {
                fprintf(stderr,
                        "%s %s: option %s: unknown or missing its value\n",
                        t->prog, t->cmd, argv[optind - 1]);
            }
            print_usage(t, usage, stderr);
            rc = P11P_EXIT_USAGE;
            break;
        default:
            rc = handle != NULL ? handle(ud, c, optarg) : P11P_EXIT_USAGE;
            break;
        }
    }
    free(all);
    if (rc != 0) {
        return rc;
    }
    if (t->quiet) {
        p11p_log_set_level(P11P_LOG_ERROR);
    } else if (t->verbose > 0) {
        p11p_log_set_level(t->verbose > 1 ? P11P_LOG_DEBUG : P11P_LOG_INFO);
    }
    if (optind_out == NULL) {
        if (optind < argc) {
            return p11p_tool_fail(t, P11P_EXIT_USAGE,
                                  "unexpected argument \"%s\"", argv[optind]);
        }
        return 0;
    }
    *optind_out = optind;
    return 0;
}

/* ---- secrets: the PIN, package passwords ---- */

static enum p11p_status secret_from_file(const struct p11p_tool *t,
                                         const struct p11p_tool_secret_src *src,
                                         struct p11p_secret **out)
{
    unsigned char buf[SECRET_MAX + 2];
    struct stat st;
    ssize_t n;
    size_t len = 0;
    int fd = open(src->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0) {
        p11p_tool_fail(t, 0, "%s %s: %s", src->option, src->file,
                       strerror(errno));
        return P11P_ERR_INVALID_INPUT;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
        || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        close(fd);
        p11p_tool_fail(t, 0,
                       "%s %s: must be a regular file readable by its owner "
                       "only (chmod 600)",
                       src->option, src->file);
        return P11P_ERR_INVALID_INPUT;
    }
    while (len < sizeof(buf)
           && (n = read(fd, buf + len, sizeof(buf) - len)) > 0) {
        len += (size_t)n;
    }
    close(fd);
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n' || buf[i] == '\r') {
            len = i;
            break;
        }
    }
    if (len > src->max || (len == 0 && !src->allow_empty)) {
        OPENSSL_cleanse(buf, sizeof(buf));
        p11p_tool_fail(t, 0, "%s %s: %s", src->option, src->file,
                       len == 0 ? "nothing on its first line"
                                : "the first line is too long");
        return P11P_ERR_INVALID_INPUT;
    }
    *out = p11p_secret_dup(buf, len);
    OPENSSL_cleanse(buf, sizeof(buf));
    return *out != NULL ? P11P_OK : P11P_ERR_NOMEM;
}

static enum p11p_status secret_from_tty(const struct p11p_tool *t,
                                        const struct p11p_tool_secret_src *src,
                                        struct p11p_secret **out)
{
    char buf[SECRET_MAX + 2];
    struct termios old, quiet;
    bool echo_off;
    size_t len;
    FILE *tty = fopen("/dev/tty", "r+e");

    if (tty == NULL) {
        p11p_tool_fail(t, 0,
                       "%s needed: set %s or pass %s FILE (no terminal to ask)",
                       src->what, src->env, src->option);
        return P11P_ERR_INVALID_INPUT;
    }
    fprintf(tty, "%s: ", src->what);
    fflush(tty);
    echo_off = tcgetattr(fileno(tty), &old) == 0;
    if (echo_off) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
    }
    if (fgets(buf, sizeof(buf), tty) == NULL) {
        buf[0] = '\0';
    }
    if (echo_off) {
        tcsetattr(fileno(tty), TCSAFLUSH, &old);
    }
    fputc('\n', tty);
    fclose(tty);
    len = strcspn(buf, "\r\n");
    if (len > src->max || (len == 0 && !src->allow_empty)) {
        OPENSSL_cleanse(buf, sizeof(buf));
        p11p_tool_fail(t, 0, "%s: %s", src->what,
                       len == 0 ? "nothing given" : "too long");
        return P11P_ERR_INVALID_INPUT;
    }
    *out = p11p_secret_dup(buf, len);
    OPENSSL_cleanse(buf, sizeof(buf));
    return *out != NULL ? P11P_OK : P11P_ERR_NOMEM;
}

enum p11p_status p11p_tool_read_secret(const struct p11p_tool *t,
                                       const struct p11p_tool_secret_src *src,
                                       struct p11p_secret **out)
{
    const char *env = src->env != NULL ? getenv(src->env) : NULL;

    *out = NULL;
    if (src->file != NULL) {
        return secret_from_file(t, src, out);
    }
    if (env != NULL && (env[0] != '\0' || src->allow_empty)) {
        if (strlen(env) > src->max) {
            p11p_tool_fail(t, 0, "%s: too long", src->env);
            return P11P_ERR_INVALID_INPUT;
        }
        *out = p11p_secret_dup(env, strlen(env));
        return *out != NULL ? P11P_OK : P11P_ERR_NOMEM;
    }
    return secret_from_tty(t, src, out);
}

enum p11p_status p11p_tool_read_pin(const struct p11p_tool *t,
                                    struct p11p_secret **out)
{
    char what[128];
    struct p11p_tool_secret_src src = {
        .file = t->pin_source,
        .option = "--pin-source",
        .env = "P11PORTAL_PIN",
        .what = what,
        .allow_empty = false,
        .max = PIN_MAX,
    };

    snprintf(what, sizeof(what), "User PIN of token \"%s\"", t->tok->name);
    return p11p_tool_read_secret(t, &src, out);
}

/* ---- the token ---- */

static int pick_token(struct p11p_tool *t)
{
    if (t->token_name != NULL) {
        t->tok = p11p_conf_find_token(t->conf, t->token_name);
        if (t->tok == NULL) {
            fprintf(
                stderr, "%s %s: no token \"%s\" in %s; configured:", t->prog,
                t->cmd, t->token_name,
                t->conf->path != NULL ? t->conf->path : "the embedded default");
            for (size_t i = 0; i < t->conf->n_tokens; i++) {
                fprintf(stderr, " \"%s\"", t->conf->tokens[i].name);
            }
            fputc('\n', stderr);
            return P11P_EXIT_USAGE;
        }
        return 0;
    }
    if (t->conf->n_tokens != 1) {
        fprintf(stderr,
                "%s %s: %zu tokens are configured: say which with --token:",
                t->prog, t->cmd, t->conf->n_tokens);
        for (size_t i = 0; i < t->conf->n_tokens; i++) {
            fprintf(stderr, " \"%s\"", t->conf->tokens[i].name);
        }
        fputc('\n', stderr);
        return P11P_EXIT_USAGE;
    }
    t->tok = &t->conf->tokens[0];
    return 0;
}

static int login(struct p11p_tool *t)
{
    struct p11p_keystore_info info;
    struct p11p_secret *pin = NULL;
    enum p11p_status st = p11p_keystore_info(t->ks, &info);

    if (st != P11P_OK) {
        return p11p_tool_fail(t, p11p_tool_exit_of(st),
                              "token \"%s\": cannot read its login state: %s",
                              t->tok->name, p11p_status_text(st));
    }
    if (!info.initialized || !info.user_pin_set) {
        return p11p_tool_fail(
            t, P11P_EXIT_USAGE,
            "token \"%s\" is not initialised: run pkcs11-tool --init-token "
            "and --init-pin first (docs/guides/pkcs11-tool.md)",
            t->tok->name);
    }
    if (info.user_locked) {
        return p11p_tool_fail(t, P11P_EXIT_AUTH,
                              "token \"%s\": the user PIN is locked",
                              t->tok->name);
    }
    st = p11p_tool_read_pin(t, &pin);
    if (st != P11P_OK) {
        return st == P11P_ERR_NOMEM ? P11P_EXIT_FAILED : P11P_EXIT_USAGE;
    }
    st = p11p_keystore_login(t->ks, P11P_ROLE_USER, pin);
    p11p_secret_free(pin);
    if (st == P11P_ERR_AUTH) {
        return p11p_tool_fail(t, P11P_EXIT_AUTH, "token \"%s\": wrong user PIN",
                              t->tok->name);
    }
    if (st == P11P_ERR_PIN_LOCKED) {
        return p11p_tool_fail(t, P11P_EXIT_AUTH,
                              "token \"%s\": the user PIN is locked",
                              t->tok->name);
    }
    if (st != P11P_OK) {
        return p11p_tool_fail(t, p11p_tool_exit_of(st),
                              "token \"%s\": login failed: %s", t->tok->name,
                              p11p_status_text(st));
    }
    t->logged_in = true;
    return 0;
}

int p11p_tool_open(struct p11p_tool *t, unsigned need)
{
    enum p11p_status st;
    int rc;

    if ((need & P11P_TOOL_NEED_ENROLL) != 0) {
        need |= P11P_TOOL_NEED_LOGIN;
    }
    if ((need & P11P_TOOL_NEED_LOGIN) != 0) {
        need |= P11P_TOOL_NEED_KEYS;
    }
    if ((need & P11P_TOOL_NEED_KEYS) != 0) {
        need |= P11P_TOOL_NEED_CACHE;
    }
    if (t->conf == NULL) {
        st = p11p_conf_load(t->conf_path, &t->conf);
        if (st != P11P_OK) {
            return p11p_tool_fail(t, P11P_EXIT_USAGE,
                                  "cannot load the configuration (see the "
                                  "line above)");
        }
        if (t->conf->log_target != NULL) {
            p11p_log_set_target(t->conf->log_target);
        }
        rc = pick_token(t);
        if (rc != 0) {
            return rc;
        }
    }
    if ((need & P11P_TOOL_NEED_CACHE) != 0 && t->cache == NULL) {
        st = p11p_cache_open(t->tok->cache_path, &t->cache);
        if (st != P11P_OK) {
            return p11p_tool_fail(t, P11P_EXIT_FAILED,
                                  "token \"%s\": cannot open its cache %s: %s",
                                  t->tok->name, t->tok->cache_path,
                                  p11p_status_text(st));
        }
    }
    if ((need & P11P_TOOL_NEED_KEYS) != 0 && t->ks == NULL) {
        st = p11p_keystore_open(t->tok, t->cache, &t->ks);
        if (st != P11P_OK) {
            return p11p_tool_fail(t, p11p_tool_exit_of(st),
                                  "token \"%s\": cannot open its key store: %s",
                                  t->tok->name, p11p_status_text(st));
        }
    }
    if ((need & P11P_TOOL_NEED_LOGIN) != 0 && !t->logged_in) {
        rc = login(t);
        if (rc != 0) {
            return rc;
        }
    }
    if ((need & P11P_TOOL_NEED_ENROLL) != 0 && t->enroll == NULL) {
        st = p11p_enroll_new(t->tok, t->cache, t->ks, &t->enroll);
        if (st != P11P_OK) {
            return p11p_tool_fail(t, p11p_tool_exit_of(st),
                                  "token \"%s\": cannot open its portal driver "
                                  "\"%s\": %s",
                                  t->tok->name, t->tok->driver,
                                  p11p_status_text(st));
        }
    }
    return 0;
}

void p11p_tool_close(struct p11p_tool *t)
{
    p11p_enroll_free(t->enroll);
    t->enroll = NULL;
    if (t->ks != NULL && t->logged_in) {
        p11p_keystore_logout(t->ks);
    }
    t->logged_in = false;
    p11p_keystore_close(t->ks);
    t->ks = NULL;
    p11p_cache_close(t->cache);
    t->cache = NULL;
    p11p_conf_free(t->conf);
    t->conf = NULL;
    t->tok = NULL;
}

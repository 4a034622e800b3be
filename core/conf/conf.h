/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The typed configuration model (DESIGN.md "Configuration"). INI parsed by
 * inih: one [token "name"] section per slot, plus an optional [global]
 * section. Every mistake is reported with file, line and key.
 *
 * With no configuration file at all the model holds the embedded default:
 * one token named "p11portal", driver "local", soft keys, cache under
 * $XDG_DATA_HOME/p11portal (or ~/.local/share/p11portal).
 *
 * This layer never reads secrets: credentials live in the file named by
 * credentials_file, read by remote/cred.c.
 */
#ifndef P11P_CORE_CONF_CONF_H
#define P11P_CORE_CONF_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/status.h"

#define P11P_CONF_DEFAULT_PATH  "/etc/p11portal/p11portal.conf"
#define P11P_CONF_DEFAULT_TOKEN "p11portal"

/* A key = value of a token section that only a driver understands
 * (customer_uri, org_id, cert_type, ...). */
struct p11p_conf_kv {
    char *key;
    char *value;
    int line;
};

struct p11p_conf_token {
    char *name;        /* section name; also the default label */
    char *label;       /* CK_TOKEN_INFO label (<= 32 bytes) */
    char *driver;      /* "local" (default), "sectigo", "digicert" */
    char *url;         /* portal base URL (not for local) */
    char *data_dir;    /* folder of the cache and the local CA (default:
                          $XDG_DATA_HOME/p11portal) */
    char *cache_path;  /* default: <data_dir>/<name>.db */
    char *key_backend; /* "soft" (default) or "hsm" */

    /* Enrollment defaults. */
    char *subject;               /* template, default "CN=${label}" */
    char *sans;                  /* template, default none */
    char *profile;               /* portal profile, default driver's */
    unsigned term_days;          /* 0: portal default */
    unsigned enroll_wait_ms;     /* budget of C_GenerateKeyPair for issuance,
                                    default 10000 */
    unsigned collect_budget_ms;  /* how long C_OpenSession or
                                    C_FindObjectsInit may spend collecting
                                    pending orders, default 2000 */
    unsigned refresh_interval_s; /* min seconds between background
                                    collections, default 30 */
    bool keep_key_on_reject;     /* default false: no orphan key */
    bool renew_new_key;          /* renew_key = new: p11portal renew makes a
                                    new key pair (default same: the same
                                    key, a new CSR) */

    /* MAC sequence (subject variable ${mac}); has_mac false if not set. */
    bool has_mac;
    uint64_t mac_start;
    uint64_t mac_end;
    uint64_t mac_increment; /* default 1 */

    /* Soft backend. */
    unsigned kdf_iterations;  /* PBKDF2-HMAC-SHA256, default 600000 */
    unsigned pin_max_retries; /* default 10; 0 = unlimited */

    /* hsm backend (issue 5). */
    char *hsm_module;
    char *hsm_token_label;
    char *hsm_token_serial;
    char *hsm_pin_source; /* "file:PATH" or "env:VAR"; default: pass-through */
    bool hsm_write_certs;
    bool hsm_adopt_keys; /* at user login, list the backing token's keys
                            that p11portal does not know yet */

    /* Remote. */
    char *credentials_file;
    char *ca_bundle;     /* trust for the portal's TLS */
    char *trust_anchors; /* PEM file: CA certificates issued chains must
                            verify to (not needed for local) */
    unsigned timeout_ms; /* total per request, default 30000 */

    /* Driver-specific keys, in file order. */
    struct p11p_conf_kv *extra;
    size_t n_extra;

    char *source; /* "file:line" of the section header, or "(default)" */
};

struct p11p_conf {
    char *path;       /* the file read, or NULL for the embedded default */
    char *log_target; /* [global] log = stderr|syslog|file:PATH */
    struct p11p_conf_token *tokens;
    size_t n_tokens;
};

/*
 * Loads the configuration. path NULL means: $P11PORTAL_CONF if set, else
 * P11P_CONF_DEFAULT_PATH if it exists, else the embedded default. A path
 * given explicitly (argument or environment) must exist. Errors are logged
 * as "FILE:LINE: key 'K': what is wrong" and return P11P_ERR_CONFIG.
 * Returns a new model in *out; free with p11p_conf_free.
 */
enum p11p_status p11p_conf_load(const char *path, struct p11p_conf **out);

/* Parses configuration text (for tests and fuzzing); name is used in error
 * messages in place of a file name. */
enum p11p_status p11p_conf_parse_string(const char *text, const char *name,
                                        struct p11p_conf **out);

/* NULL-safe. */
void p11p_conf_free(struct p11p_conf *conf);

/* Returns the token of that name (borrowed) or NULL. */
const struct p11p_conf_token *p11p_conf_find_token(const struct p11p_conf *c,
                                                   const char *name);

/* Returns a driver-specific value (borrowed) or NULL. */
const char *p11p_conf_token_extra(const struct p11p_conf_token *t,
                                  const char *key);

/* The per-user data folder: $XDG_DATA_HOME/p11portal or
 * $HOME/.local/share/p11portal. Returns a new string or NULL. */
char *p11p_conf_default_data_dir(void);

#endif

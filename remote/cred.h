/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Portal credentials (DESIGN.md "Remote drivers", STYLE.md 3.6). Read from
 * the token's credentials_file and from environment variables, never from
 * the main configuration and never into a log.
 *
 * File format (the one portal-sim writes, docs/portal-sim.md): lines
 * "key = value"; '#' and ';' start comment lines; blank lines ignored.
 * Keys: login, password, customer_uri, org_id, api_key, passcode,
 * client_cert, client_key, client_key_password, ca_file, base_url,
 * private_base_url. Unknown keys are warned about by name (never by value).
 * The file must be a regular file owned by the effective user and not
 * accessible by group or others (chmod 600); otherwise it is refused with a
 * message naming the file and its mode.
 *
 * Environment (overrides the file): P11PORTAL_<TOKEN>_<KEY>, where <TOKEN>
 * is the token name upper-cased with every character that is not a letter or
 * digit turned into '_', and <KEY> the key upper-cased: for token
 * "factory-1", P11PORTAL_FACTORY_1_API_KEY, P11PORTAL_FACTORY_1_PASSWORD,
 * P11PORTAL_FACTORY_1_LOGIN, ...
 */
#ifndef P11P_REMOTE_CRED_H
#define P11P_REMOTE_CRED_H

#include "core/base/secret.h"
#include "core/base/status.h"
#include "core/conf/conf.h"

struct p11p_cred {
    /* Not secret (may appear in logs). */
    char *login;
    char *customer_uri;
    char *org_id;
    char *client_cert; /* PEM file */
    char *client_key;  /* PEM file */
    char *ca_file;
    char *base_url;
    char *private_base_url;
    /* Secret: wiped, never logged. */
    struct p11p_secret *password;
    struct p11p_secret *api_key;
    struct p11p_secret *passcode;
    struct p11p_secret *client_key_password;
};

/* Loads the credentials of a token: conf->credentials_file (if set), then
 * the environment. Returns a new struct (free with p11p_cred_free).
 * P11P_ERR_CONFIG (logged with the file name and the reason) for a file
 * that is missing, unreadable, has a bad mode or owner, or a bad line. */
enum p11p_status p11p_cred_load(const struct p11p_conf_token *conf,
                                struct p11p_cred **out);

/* Reads one credentials file into c (values already set are replaced). */
enum p11p_status p11p_cred_read_file(const char *path, struct p11p_cred *c);

/* Applies P11PORTAL_<TOKEN>_* variables to c. */
enum p11p_status p11p_cred_read_env(const char *token_name,
                                    struct p11p_cred *c);

/* Wipes the secrets and frees; NULL-safe. */
void p11p_cred_free(struct p11p_cred *c);

#endif

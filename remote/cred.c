/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Credentials file and environment reader; see cred.h. The file content is
 * read into a wiped buffer and parsed in place; secret values go straight
 * into struct p11p_secret.
 */
#include "remote/cred.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/base/log.h"
#include "core/base/str.h"

#define CRED_MAX_FILE (64u * 1024u)

enum cred_kind {
    CRED_PLAIN,
    CRED_SECRET
};

struct cred_key {
    const char *name; /* file key; env suffix is its upper-case form */
    enum cred_kind kind;
    size_t offset; /* of the char * or struct p11p_secret * field */
};

#define PLAIN(n, f)                                  \
    {                                                \
        n, CRED_PLAIN, offsetof(struct p11p_cred, f) \
    }
#define SECRET(n, f)                                  \
    {                                                 \
        n, CRED_SECRET, offsetof(struct p11p_cred, f) \
    }

static const struct cred_key cred_keys[] = {
    PLAIN("login", login),
    PLAIN("customer_uri", customer_uri),
    PLAIN("org_id", org_id),
    PLAIN("client_cert", client_cert),
    PLAIN("client_key", client_key),
    PLAIN("ca_file", ca_file),
    PLAIN("base_url", base_url),
    PLAIN("private_base_url", private_base_url),
    SECRET("password", password),
    SECRET("api_key", api_key),
    SECRET("passcode", passcode),
    SECRET("client_key_password", client_key_password),
};

static enum p11p_status set_key(struct p11p_cred *c, const struct cred_key *k,
                                const char *value, size_t len)
{
    char *base = (char *)c;

    if (k->kind == CRED_SECRET) {
        struct p11p_secret **slot =
            (struct p11p_secret **)(void *)(base + k->offset);
        struct p11p_secret *s = p11p_secret_dup(value, len);
        if (s == NULL) {
            return P11P_ERR_NOMEM;
        }
        p11p_secret_free(*slot);
        *slot = s;
    } else {
        char **slot = (char **)(void *)(base + k->offset);
        char *s = strndup(value, len);
        if (s == NULL) {
            return P11P_ERR_NOMEM;
        }
        free(*slot);
        *slot = s;
    }
    return P11P_OK;
}

static const struct cred_key *find_key(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(cred_keys) / sizeof(cred_keys[0]); i++) {
        if (strlen(cred_keys[i].name) == len
            && strncmp(cred_keys[i].name, name, len) == 0) {
            return &cred_keys[i];
        }
    }
    return NULL;
}

static enum p11p_status parse_text(const char *path, char *text, size_t len,
                                   struct p11p_cred *c)
{
    enum p11p_status rc = P11P_OK;
    size_t pos = 0;
    int lineno = 0;

    while (pos < len) {
        char *line = text + pos;
        char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl != NULL ? (size_t)(nl - line) : len - pos;
        char *eq = NULL;
        char *k = line;
        char *kend = NULL;
        char *v = NULL;
        char *vend = line + ll;
        const struct cred_key *key = NULL;

        pos += ll + 1;
        lineno++;
        while (k < vend && isspace((unsigned char)*k)) {
            k++;
        }
        if (k == vend || *k == '#' || *k == ';') {
            continue;
        }
        eq = memchr(k, '=', (size_t)(vend - k));
        if (eq == NULL) {
            P11P_ERROR("remote",
                       "credentials file %s:%d: expected 'key = value'", path,
                       lineno);
            rc = P11P_ERR_CONFIG;
            break;
        }
        kend = eq;
        while (kend > k && isspace((unsigned char)kend[-1])) {
            kend--;
        }
        v = eq + 1;
        while (v < vend && isspace((unsigned char)*v)) {
            v++;
        }
        while (vend > v && isspace((unsigned char)vend[-1])) {
            vend--;
        }
        /* Optional double quotes around the value. */
        if (vend - v >= 2 && *v == '"' && vend[-1] == '"') {
            v++;
            vend--;
        }
        key = find_key(k, (size_t)(kend - k));
        if (key == NULL) {
            P11P_WARN("remote",
                      "credentials file %s:%d: unknown key '%.*s' ignored",
                      path, lineno, (int)(kend - k > 64 ? 64 : kend - k), k);
            continue;
        }
        rc = set_key(c, key, v, (size_t)(vend - v));
        if (rc != P11P_OK) {
            break;
        }
    }
    return rc;
}

enum p11p_status p11p_cred_read_file(const char *path, struct p11p_cred *c)
{
    enum p11p_status rc = P11P_ERR_CONFIG;
    struct p11p_secret *text = NULL;
    struct stat st;
    size_t got = 0;
    int fd = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        P11P_ERROR("remote", "credentials file %s: cannot open: %s", path,
                   strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        P11P_ERROR("remote", "credentials file %s: not a regular file", path);
        goto out;
    }
    if (st.st_uid != geteuid()) {
        P11P_ERROR(
            "remote",
            "credentials file %s: owned by uid %lu, not by the user (uid %lu); refused",
            path, (unsigned long)st.st_uid, (unsigned long)geteuid());
        goto out;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        P11P_ERROR(
            "remote",
            "credentials file %s: mode %04o allows access by group or others; refused (run: chmod 600 %s)",
            path, (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    if (st.st_size < 0 || (size_t)st.st_size > CRED_MAX_FILE) {
        P11P_ERROR("remote", "credentials file %s: larger than %u bytes", path,
                   CRED_MAX_FILE);
        goto out;
    }
    text = p11p_secret_new((size_t)st.st_size);
    if (text == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    while (got < text->len) {
        ssize_t n = read(fd, text->data + got, text->len - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            P11P_ERROR("remote", "credentials file %s: read failed", path);
            goto out;
        }
        got += (size_t)n;
    }
    rc = parse_text(path, (char *)text->data, got, c);
out:
    if (fd >= 0) {
        close(fd);
    }
    p11p_secret_free(text);
    return rc;
}

enum p11p_status p11p_cred_read_env(const char *token_name, struct p11p_cred *c)
{
    char prefix[96];
    char name[160];
    size_t n = 0;

    n = (size_t)snprintf(prefix, sizeof(prefix), "P11PORTAL_");
    for (const char *p = token_name != NULL ? token_name : "";
         *p != '\0' && n + 1 < sizeof(prefix); p++) {
        unsigned char ch = (unsigned char)*p;
        prefix[n++] = isalnum(ch) ? (char)toupper(ch) : '_';
    }
    prefix[n] = '\0';
    for (size_t i = 0; i < sizeof(cred_keys) / sizeof(cred_keys[0]); i++) {
        const char *val = NULL;
        size_t m = (size_t)snprintf(name, sizeof(name), "%s_", prefix);
        for (const char *p = cred_keys[i].name;
             *p != '\0' && m + 1 < sizeof(name); p++) {
            name[m++] = (char)toupper((unsigned char)*p);
        }
        name[m] = '\0';
        val = secure_getenv(name);
        if (val != NULL && val[0] != '\0') {
            enum p11p_status rc = set_key(c, &cred_keys[i], val, strlen(val));
            if (rc != P11P_OK) {
                return rc;
            }
        }
    }
    return P11P_OK;
}

enum p11p_status p11p_cred_load(const struct p11p_conf_token *conf,
                                struct p11p_cred **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_cred *c = NULL;

    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    if (conf->credentials_file != NULL && conf->credentials_file[0] != '\0') {
        rc = p11p_cred_read_file(conf->credentials_file, c);
        if (rc != P11P_OK) {
            goto out;
        }
    }
    rc = p11p_cred_read_env(conf->name, c);
    if (rc != P11P_OK) {
        goto out;
    }
    *out = c;
    c = NULL;
    rc = P11P_OK;
out:
    p11p_cred_free(c);
    return rc;
}

void p11p_cred_free(struct p11p_cred *c)
{
    if (c == NULL) {
        return;
    }
    free(c->login);
    free(c->customer_uri);
    free(c->org_id);
    free(c->client_cert);
    free(c->client_key);
    free(c->ca_file);
    free(c->base_url);
    free(c->private_base_url);
    p11p_secret_free(c->password);
    p11p_secret_free(c->api_key);
    p11p_secret_free(c->passcode);
    p11p_secret_free(c->client_key_password);
    free(c);
}

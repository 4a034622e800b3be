/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PIN sources of the hsm backend (hsm_pin.h): reading the backing token's
 * user PIN from a file or an environment variable into a secret. The
 * verifier of p11portal's own PINs in that mode is pin.c's, shared with
 * the soft backend.
 */
#include "core/keys/hsm_pin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/log.h"

#define COMP "keys"

/* Reads at most P11P_HSM_PIN_MAX bytes of the file's first line. */
static enum p11p_status read_file_pin(const char *token, const char *path,
                                      struct p11p_secret **out)
{
    enum p11p_status rc = P11P_ERR_CONFIG;
    struct p11p_secret *buf = NULL;
    struct stat st;
    size_t len = 0;
    ssize_t n;
    int fd = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        P11P_ERROR(COMP, "token \"%s\": hsm_pin_source: cannot open %s: %s",
                   token, path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
        || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        P11P_ERROR(
            COMP,
            "token \"%s\": hsm_pin_source: %s must be a regular file readable by its owner only (chmod 600)",
            token, path);
        goto out;
    }
    buf = p11p_secret_new(P11P_HSM_PIN_MAX + 1);
    if (buf == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    while (len < buf->len
           && (n = read(fd, buf->data + len, buf->len - len)) != 0) {
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            P11P_ERROR(COMP, "token \"%s\": hsm_pin_source: reading %s: %s",
                       token, path, strerror(errno));
            goto out;
        }
        len += (size_t)n;
    }
    for (size_t i = 0; i < len; i++) {
        if (buf->data[i] == '\n' || buf->data[i] == '\r') {
            len = i;
            break;
        }
    }
    if (len == 0 || len > P11P_HSM_PIN_MAX) {
        P11P_ERROR(
            COMP,
            "token \"%s\": hsm_pin_source: %s holds no PIN on its first line (or one longer than %u bytes)",
            token, path, P11P_HSM_PIN_MAX);
        goto out;
    }
    *out = p11p_secret_dup(buf->data, len);
    rc = *out != NULL ? P11P_OK : P11P_ERR_NOMEM;
out:
    if (fd >= 0) {
        close(fd);
    }
    p11p_secret_free(buf);
    return rc;
}

enum p11p_status p11p_hsm_pin_read_source(const char *token, const char *source,
                                          struct p11p_secret **out)
{
    enum p11p_status rc = P11P_ERR_CONFIG;
    struct p11p_secret *pin = NULL;
    const char *v = NULL;

    *out = NULL;
    if (strncmp(source, "file:", 5) == 0 && source[5] != '\0') {
        rc = read_file_pin(token, source + 5, &pin);
        if (rc != P11P_OK) {
            goto out;
        }
    } else if (strncmp(source, "env:", 4) == 0 && source[4] != '\0') {
        v = secure_getenv(source + 4);
        if (v == NULL || v[0] == '\0' || strlen(v) > P11P_HSM_PIN_MAX) {
            P11P_ERROR(
                COMP,
                "token \"%s\": hsm_pin_source: environment variable %s is not set, empty or too long",
                token, source + 4);
            rc = P11P_ERR_CONFIG;
            goto out;
        }
        pin = p11p_secret_dup(v, strlen(v));
        if (pin == NULL) {
            rc = P11P_ERR_NOMEM;
            goto out;
        }
    } else {
        P11P_ERROR(
            COMP,
            "token \"%s\": hsm_pin_source \"%s\": expected file:PATH or env:VAR",
            token, source);
        rc = P11P_ERR_CONFIG;
        goto out;
    }
    *out = pin;
    pin = NULL;
    rc = P11P_OK;
out:
    p11p_secret_free(pin);
    return rc;
}

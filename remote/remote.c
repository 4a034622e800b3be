/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The driver instance the enrollment engine holds for one token (driver
 * vtable + its state), and the helpers for struct p11p_remote_result.
 */
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "remote/driver.h"
#include "remote/internal.h"

struct p11p_remote {
    const struct p11p_driver *drv;
    void *state;
};

enum p11p_status p11p_remote_open(const struct p11p_conf_token *conf,
                                  struct p11p_remote **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_remote *r = NULL;
    const char *name = conf->driver != NULL ? conf->driver : "local";
    char names[256];

    *out = NULL;
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    r->drv = p11p_registry_find(name);
    if (r->drv == NULL) {
        p11p_registry_names(names, sizeof(names));
        P11P_ERROR(
            "remote", "token \"%s\" (%s): unknown driver '%s' (known: %s)",
            conf->name, conf->source != NULL ? conf->source : "?", name, names);
        rc = P11P_ERR_CONFIG;
        goto out;
    }
    rc = r->drv->open(conf, &r->state);
    if (rc != P11P_OK) {
        goto out;
    }
    *out = r;
    r = NULL;
out:
    free(r);
    return rc;
}

void p11p_remote_close(struct p11p_remote *r)
{
    if (r == NULL) {
        return;
    }
    if (r->drv != NULL && r->drv->close != NULL) {
        r->drv->close(r->state);
    }
    free(r);
}

const struct p11p_driver *p11p_remote_driver(const struct p11p_remote *r)
{
    return r->drv;
}

void *p11p_remote_state(const struct p11p_remote *r)
{
    return r->state;
}

void p11p_remote_result_clear(struct p11p_remote_result *r)
{
    if (r == NULL) {
        return;
    }
    free(r->cert_der);
    for (size_t i = 0; i < r->chain_n; i++) {
        free(r->chain_der[i]);
    }
    free(r->chain_der);
    free(r->chain_lens);
    memset(r, 0, sizeof(*r));
}

enum p11p_status p11p_remote_result_add_chain(struct p11p_remote_result *r,
                                              const unsigned char *der,
                                              size_t len)
{
    unsigned char **ders = NULL;
    size_t *lens = NULL;
    unsigned char *copy = malloc(len > 0 ? len : 1);

    if (copy == NULL) {
        return P11P_ERR_NOMEM;
    }
    memcpy(copy, der, len);
    ders = realloc(r->chain_der, (r->chain_n + 1) * sizeof(*ders));
    if (ders == NULL) {
        free(copy);
        return P11P_ERR_NOMEM;
    }
    r->chain_der = ders;
    lens = realloc(r->chain_lens, (r->chain_n + 1) * sizeof(*lens));
    if (lens == NULL) {
        free(copy);
        return P11P_ERR_NOMEM;
    }
    r->chain_lens = lens;
    r->chain_der[r->chain_n] = copy;
    r->chain_lens[r->chain_n] = len;
    r->chain_n++;
    return P11P_OK;
}

enum p11p_status p11p_remote_check_keys(const struct p11p_conf_token *conf,
                                        const char *driver,
                                        const char *const *known_keys)
{
    for (size_t i = 0; i < conf->n_extra; i++) {
        bool known = false;
        for (size_t k = 0; known_keys[k] != NULL; k++) {
            known = known || strcmp(conf->extra[i].key, known_keys[k]) == 0;
        }
        if (!known) {
            P11P_ERROR(
                "remote",
                "token \"%s\" (%s), line %d: key '%s' is not known to the %s driver; see docs/portals/%s.md",
                conf->name, conf->source != NULL ? conf->source : "?",
                conf->extra[i].line, conf->extra[i].key, driver, driver);
            return P11P_ERR_CONFIG;
        }
    }
    return P11P_OK;
}

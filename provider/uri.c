/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkcs11: URIs through p11-kit (see uri.h).
 */
#include "provider/uri.h"

#include <stdlib.h>
#include <string.h>

#include <p11-kit/uri.h>

#include "provider/err.h"
#include "provider/provider.h"

static char *dup_mem_str(const void *data, size_t len)
{
    char *s = malloc(len + 1);

    if (s != NULL) {
        memcpy(s, data, len);
        s[len] = '\0';
    }
    return s;
}

void p11p_prov_uri_free(struct p11p_prov_uri *u)
{
    if (u == NULL) {
        return;
    }
    if (u->p11kit != NULL) {
        p11_kit_uri_free(u->p11kit);
    }
    free(u->display);
    p11p_secret_free(u->pin);
    free(u->pin_source);
    free(u->id);
    free(u->label);
    free(u);
}

struct p11p_prov_uri *p11p_prov_uri_parse(struct p11p_prov_ctx *ctx,
                                          const char *str)
{
    struct p11p_prov_uri *u = NULL;
    struct p11p_prov_uri *ret = NULL;
    P11KitUri *pk;
    CK_ATTRIBUTE *a;
    const char *pv;
    int r;

    u = calloc(1, sizeof(*u));
    if (u == NULL) {
        goto out;
    }
    pk = p11_kit_uri_new();
    u->p11kit = pk;
    if (pk == NULL) {
        goto out;
    }
    r = p11_kit_uri_parse(str, P11_KIT_URI_FOR_ANY, pk);
    if (r != P11_KIT_URI_OK) {
        /* The raw string may hold a PIN: name only the error. */
        P11PV_RAISE(ctx, P11P_PROV_R_URI, "malformed pkcs11: URI: %s",
                    p11_kit_uri_message(r));
        goto out;
    }
    pv = p11_kit_uri_get_pin_value(pk);
    if (pv != NULL) {
        u->pin = p11p_secret_dup(pv, strlen(pv));
        if (u->pin == NULL) {
            goto out;
        }
        p11_kit_uri_set_pin_value(pk, NULL);
    }
    if (p11_kit_uri_get_pin_source(pk) != NULL) {
        u->pin_source = strdup(p11_kit_uri_get_pin_source(pk));
    }
    if (p11_kit_uri_format(pk, P11_KIT_URI_FOR_ANY, &u->display)
        != P11_KIT_URI_OK) {
        u->display = strdup("pkcs11:");
    }
    a = p11_kit_uri_get_attribute(pk, CKA_CLASS);
    if (a != NULL && a->ulValueLen == sizeof(CK_OBJECT_CLASS)) {
        memcpy(&u->cls, a->pValue, sizeof(CK_OBJECT_CLASS));
        u->has_class = true;
    }
    a = p11_kit_uri_get_attribute(pk, CKA_ID);
    if (a != NULL) {
        u->id = malloc(a->ulValueLen > 0 ? a->ulValueLen : 1);
        if (u->id == NULL) {
            goto out;
        }
        memcpy(u->id, a->pValue, a->ulValueLen);
        u->id_len = a->ulValueLen;
    }
    a = p11_kit_uri_get_attribute(pk, CKA_LABEL);
    if (a != NULL) {
        u->label = dup_mem_str(a->pValue, a->ulValueLen);
        if (u->label == NULL) {
            goto out;
        }
    }
    ret = u;
    u = NULL;
out:
    p11p_prov_uri_free(u);
    return ret;
}

bool p11p_prov_uri_match_token(const struct p11p_prov_uri *u,
                               const CK_TOKEN_INFO *info)
{
    return p11_kit_uri_match_token_info(u->p11kit, info) == 1;
}

size_t p11p_prov_uri_template(const struct p11p_prov_uri *u, CK_ATTRIBUTE *tmpl)
{
    size_t n = 0;

    if (u->has_class) {
        tmpl[n].type = CKA_CLASS;
        tmpl[n].pValue = (void *)&u->cls;
        tmpl[n].ulValueLen = sizeof(u->cls);
        n++;
    }
    if (u->id != NULL) {
        tmpl[n].type = CKA_ID;
        tmpl[n].pValue = u->id;
        tmpl[n].ulValueLen = u->id_len;
        n++;
    }
    if (u->label != NULL) {
        tmpl[n].type = CKA_LABEL;
        tmpl[n].pValue = u->label;
        tmpl[n].ulValueLen = strlen(u->label);
        n++;
    }
    return n;
}

char *p11p_prov_uri_for_object(const CK_TOKEN_INFO *info, CK_OBJECT_CLASS cls,
                               const unsigned char *id, size_t id_len,
                               const char *label)
{
    P11KitUri *pk = p11_kit_uri_new();
    CK_TOKEN_INFO *ti;
    CK_ATTRIBUTE a;
    char *s = NULL;

    if (pk == NULL) {
        return NULL;
    }
    ti = p11_kit_uri_get_token_info(pk);
    memcpy(ti->label, info->label, sizeof(ti->label));
    memcpy(ti->manufacturerID, info->manufacturerID,
           sizeof(ti->manufacturerID));
    memcpy(ti->model, info->model, sizeof(ti->model));
    memcpy(ti->serialNumber, info->serialNumber, sizeof(ti->serialNumber));
    a.type = CKA_CLASS;
    a.pValue = &cls;
    a.ulValueLen = sizeof(cls);
    p11_kit_uri_set_attribute(pk, &a);
    if (id != NULL && id_len > 0) {
        a.type = CKA_ID;
        a.pValue = (void *)id;
        a.ulValueLen = id_len;
        p11_kit_uri_set_attribute(pk, &a);
    }
    if (label != NULL && label[0] != '\0') {
        a.type = CKA_LABEL;
        a.pValue = (void *)label;
        a.ulValueLen = strlen(label);
        p11_kit_uri_set_attribute(pk, &a);
    }
    if (p11_kit_uri_format(pk, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &s)
        != P11_KIT_URI_OK) {
        s = NULL;
    }
    p11_kit_uri_free(pk);
    return s;
}

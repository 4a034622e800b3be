/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Order object attributes and the JSON status of CKA_VALUE (see
 * orderobj.h). The JSON is written here with a small escaper: it has six
 * flat string fields and is never parsed by us.
 */
#include "core/enroll/orderobj.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/buf.h"
#include "core/enroll/order.h"
#include "p11portal/pkcs11-vendor.h"

#define JSON_MAX 8192

static enum p11p_status json_field(struct p11p_buf *b, const char *key,
                                   const char *value, bool first)
{
    enum p11p_status rc =
        p11p_buf_printf(b, "%s\"%s\":\"", first ? "" : ",", key);
    for (const unsigned char *p = (const unsigned char *)value;
         rc == P11P_OK && *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            rc = p11p_buf_printf(b, "\\%c", *p);
        } else if (*p < 0x20) {
            rc = p11p_buf_printf(b, "\\u%04x", *p);
        } else {
            rc = p11p_buf_append(b, p, 1);
        }
    }
    return rc == P11P_OK ? p11p_buf_append_str(b, "\"") : rc;
}

enum p11p_status p11p_orderobj_json(const struct p11p_order *o, char **out)
{
    struct p11p_buf b;
    char id[32];
    char updated[32];
    struct tm tm;
    time_t t = (time_t)o->updated;
    enum p11p_status rc;

    *out = NULL;
    p11p_buf_init(&b, JSON_MAX);
    snprintf(id, sizeof(id), "%" PRId64, o->id);
    if (gmtime_r(&t, &tm) == NULL
        || strftime(updated, sizeof(updated), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        updated[0] = '\0';
    }
    rc = p11p_buf_append_str(&b, "{");
    if (rc == P11P_OK) {
        rc = json_field(&b, "order", id, true);
    }
    if (rc == P11P_OK) {
        rc = json_field(&b, "state", p11p_order_state_name(o->state), false);
    }
    if (rc == P11P_OK && o->portal_id != NULL) {
        rc = json_field(&b, "portal_id", o->portal_id, false);
    }
    if (rc == P11P_OK && o->label != NULL) {
        rc = json_field(&b, "label", o->label, false);
    }
    if (rc == P11P_OK && o->mac != NULL) {
        rc = json_field(&b, "mac", o->mac, false);
    }
    if (rc == P11P_OK && o->last_error != NULL) {
        rc = json_field(&b, "error", o->last_error, false);
    }
    if (rc == P11P_OK) {
        rc = json_field(&b, "updated", updated, false);
    }
    if (rc == P11P_OK) {
        rc = p11p_buf_append_str(&b, "}");
    }
    if (rc == P11P_OK) {
        *out = (char *)p11p_buf_steal(&b, NULL);
    }
    p11p_buf_free(&b);
    return rc;
}

enum p11p_status p11p_orderobj_attrs(const struct p11p_order *o,
                                     struct p11p_attrlist *out)
{
    char *json = NULL;
    char id[32];
    enum p11p_status rc;

    snprintf(id, sizeof(id), "%" PRId64, o->id);
    rc = p11p_orderobj_json(o, &json);
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_ulong(out, CKA_CLASS, CKO_DATA);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_bool(out, CKA_TOKEN, true);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_bool(out, CKA_PRIVATE, false);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_bool(out, CKA_MODIFIABLE, false);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_str(out, CKA_APPLICATION, P11PORTAL_APP_ORDER);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_str(out, CKA_LABEL,
                                   o->label != NULL ? o->label : "");
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set(out, CKA_ID, o->ckaid, o->ckaid_len);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_str(out, CKA_VALUE, json);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_str(out, CKA_P11PORTAL_ORDER_ID, id);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_str(out, CKA_P11PORTAL_ORDER_STATE,
                                   p11p_order_state_name(o->state));
    }
    if (rc == P11P_OK && o->portal_id != NULL) {
        rc = p11p_attrlist_set_str(out, CKA_P11PORTAL_PORTAL_ORDER_ID,
                                   o->portal_id);
    }
    if (rc == P11P_OK && o->last_error != NULL) {
        rc =
            p11p_attrlist_set_str(out, CKA_P11PORTAL_LAST_ERROR, o->last_error);
    }
    if (rc == P11P_OK && o->mac != NULL) {
        rc = p11p_attrlist_set_str(out, CKA_P11PORTAL_MAC, o->mac);
    }
    free(json);
    return rc;
}

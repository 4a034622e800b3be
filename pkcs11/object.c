/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Objects (see object.h): C_CreateObject for X.509 certificates (imported:
 * attributes derived from the DER) and data objects (a "p11portal csr"
 * data object also submits its CSR for enrollment), C_DestroyObject,
 * C_GetObjectSize, C_GetAttributeValue with the section 5.7 semantics and
 * C_SetAttributeValue for CKA_LABEL and CKA_ID. C_CopyObject is not
 * supported: p11portal objects mirror portal state and a copy would not.
 * Order objects ("p11portal order") are read-only.
 */
#include "pkcs11/object.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/enroll/enroll.h"
#include "core/keys/keyobj.h"
#include "p11portal/pkcs11-vendor.h"
#include "pkcs11/attrs.h"
#include "pkcs11/ckr.h"
#include "pkcs11/names.h"
#include "pkcs11/schema.h"

#define APP_LEN(s) (sizeof(s) - 1)

/* Order state names of CKA_P11PORTAL_ORDER_STATE (pkcs11-vendor.h). */
static const char *const order_state_names[P11P_ORDER_STATE_COUNT] = {
    [P11P_ORDER_NEW] = "new",
    [P11P_ORDER_SUBMITTING] = "submitting",
    [P11P_ORDER_SUBMITTED] = "submitted",
    [P11P_ORDER_PENDING_APPROVAL] = "pending_approval",
    [P11P_ORDER_PROCESSING] = "processing",
    [P11P_ORDER_ISSUED] = "issued",
    [P11P_ORDER_REJECTED] = "rejected",
    [P11P_ORDER_FAILED] = "failed",
    [P11P_ORDER_RENEWED] = "renewed",
    [P11P_ORDER_REVOKED] = "revoked",
    [P11P_ORDER_EXPIRED] = "expired",
};

static bool is_private(const struct p11p_cache_object *o)
{
    bool priv = false;

    if (p11p_attrlist_get_bool(&o->attrs, CKA_PRIVATE, &priv)) {
        return priv;
    }
    return o->klass == CKO_PRIVATE_KEY;
}

bool p11p_object_is_visible(const struct p11p_session *s,
                            const struct p11p_cache_object *o)
{
    return !is_private(o) || p11p_slot_is_logged_in(s->token, CKU_USER);
}

CK_RV p11p_object_load(struct p11p_session *s, CK_OBJECT_HANDLE h,
                       struct p11p_cache_object *out)
{
    enum p11p_status st = P11P_OK;

    if (h == CK_INVALID_HANDLE || h > (CK_OBJECT_HANDLE)INT64_MAX) {
        return CKR_OBJECT_HANDLE_INVALID;
    }
    st = p11p_cache_object_get(s->token->cache, (int64_t)h, out);
    if (st == P11P_ERR_NOT_FOUND) {
        return CKR_OBJECT_HANDLE_INVALID;
    }
    if (st != P11P_OK) {
        p11p_session_set_status(s, st);
        return p11p_ckr_from_status(st);
    }
    if (!p11p_object_is_visible(s, out)) {
        p11p_cache_object_clear(out);
        return CKR_OBJECT_HANDLE_INVALID;
    }
    return CKR_OK;
}

static bool has_app(const struct p11p_attrlist *l, const char *app, size_t len)
{
    const CK_ATTRIBUTE *a = p11p_attrlist_get0(l, CKA_APPLICATION);

    return a != NULL && a->ulValueLen == len
           && memcmp(a->pValue, app, len) == 0;
}

static bool is_order_object(const struct p11p_cache_object *o)
{
    return o->klass == CKO_DATA
           && has_app(&o->attrs, P11PORTAL_APP_ORDER,
                      APP_LEN(P11PORTAL_APP_ORDER));
}

static CK_KEY_TYPE key_type_of(const struct p11p_cache_object *o)
{
    CK_ULONG kt = CK_UNAVAILABLE_INFORMATION;

    if (o->klass != CKO_PUBLIC_KEY && o->klass != CKO_PRIVATE_KEY) {
        return CK_UNAVAILABLE_INFORMATION;
    }
    (void)p11p_attrlist_get_ulong(&o->attrs, CKA_KEY_TYPE, &kt);
    return kt;
}

/* Values the token supplies when the stored row lacks the attribute. */
static bool default_bool(const struct p11p_cache_object *o,
                         CK_ATTRIBUTE_TYPE type, CK_BBOOL *out)
{
    bool order = is_order_object(o);

    switch (type) {
    case CKA_TOKEN:
        *out = CK_TRUE;
        return true;
    case CKA_PRIVATE:
        *out = is_private(o) ? CK_TRUE : CK_FALSE;
        return true;
    case CKA_MODIFIABLE:
    case CKA_DESTROYABLE:
        *out = order ? CK_FALSE : CK_TRUE;
        return true;
    case CKA_COPYABLE:
    case CKA_TRUSTED:
    case CKA_DERIVE:
    case CKA_WRAP:
    case CKA_UNWRAP:
    case CKA_SIGN_RECOVER:
    case CKA_VERIFY_RECOVER:
    case CKA_WRAP_WITH_TRUSTED:
    case CKA_ALWAYS_AUTHENTICATE:
        *out = CK_FALSE;
        return true;
    default:
        return false;
    }
}

CK_RV p11p_object_get_one(const struct p11p_cache_object *o, CK_ATTRIBUTE *a)
{
    const struct p11p_attr_rule *r =
        p11p_schema_rule(o->klass, key_type_of(o), a->type);
    const CK_ATTRIBUTE *have = p11p_attrlist_get0(&o->attrs, a->type);
    CK_BBOOL b = CK_FALSE;

    if (r != NULL && (r->flags & P11P_A_SENSITIVE)
        && o->klass == CKO_PRIVATE_KEY) {
        /* fn 7: CKA_EXTRACTABLE is always false here. */
        a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_ATTRIBUTE_SENSITIVE;
    }
    if (have != NULL) {
        return p11p_attrs_copy_out(a, have->pValue, have->ulValueLen);
    }
    if (r != NULL && default_bool(o, a->type, &b)) {
        return p11p_attrs_copy_out(a, &b, sizeof(b));
    }
    if (r != NULL
        && (a->type == CKA_LABEL || a->type == CKA_ID
            || a->type == CKA_START_DATE || a->type == CKA_END_DATE
            || a->type == CKA_SUBJECT)) {
        return p11p_attrs_copy_out(a, "", 0);
    }
    a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
    return CKR_ATTRIBUTE_TYPE_INVALID;
}

bool p11p_object_match(const struct p11p_cache_object *o,
                       const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    for (CK_ULONG i = 0; i < n; i++) {
        const CK_ATTRIBUTE *have = p11p_attrlist_get0(&o->attrs, tmpl[i].type);
        CK_BBOOL b = CK_FALSE;
        const void *v = NULL;
        size_t len = 0;

        if (have != NULL) {
            v = have->pValue;
            len = have->ulValueLen;
        } else if (p11p_schema_rule(o->klass, key_type_of(o), tmpl[i].type)
                       != NULL
                   && default_bool(o, tmpl[i].type, &b)) {
            v = &b;
            len = sizeof(b);
        } else {
            return false;
        }
        if (len != tmpl[i].ulValueLen
            || (len != 0 && memcmp(v, tmpl[i].pValue, len) != 0)) {
            return false;
        }
    }
    return true;
}

/* CKA_P11PORTAL_ORDER_STATE and friends, read from the order row. */
static CK_RV get_order_attr(struct p11p_session *s,
                            const struct p11p_cache_object *o, CK_ATTRIBUTE *a,
                            bool *handled)
{
    struct p11p_order ord = { 0 };
    const char *v = NULL;
    char idbuf[24];
    CK_RV rv = CKR_OK;

    *handled = false;
    if (o->order_id == 0
        || (a->type != CKA_P11PORTAL_ORDER_STATE
            && a->type != CKA_P11PORTAL_ORDER_ID
            && a->type != CKA_P11PORTAL_PORTAL_ORDER_ID
            && a->type != CKA_P11PORTAL_LAST_ERROR)
        || p11p_attrlist_get0(&o->attrs, a->type) != NULL) {
        return CKR_OK;
    }
    if (a->type == CKA_P11PORTAL_ORDER_ID) {
        snprintf(idbuf, sizeof(idbuf), "%lld", (long long)o->order_id);
        *handled = true;
        return p11p_attrs_copy_out(a, idbuf, strlen(idbuf));
    }
    if (p11p_cache_order_get(s->token->cache, o->order_id, &ord) != P11P_OK) {
        return CKR_OK;
    }
    if (a->type == CKA_P11PORTAL_ORDER_STATE
        && (unsigned)ord.state < P11P_ORDER_STATE_COUNT) {
        v = order_state_names[ord.state];
    } else if (a->type == CKA_P11PORTAL_PORTAL_ORDER_ID) {
        v = ord.portal_id;
    } else if (a->type == CKA_P11PORTAL_LAST_ERROR) {
        v = ord.last_error;
    }
    if (v != NULL) {
        *handled = true;
        rv = p11p_attrs_copy_out(a, v, strlen(v));
    }
    p11p_order_clear(&ord);
    return rv;
}

CK_RV p11p_object_get_attrs(struct p11p_session *s, CK_OBJECT_HANDLE h,
                            CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
    struct p11p_cache_object o = { 0 };
    bool sensitive = false, invalid = false, small = false;
    CK_RV rv = CKR_OK;

    if (tmpl == NULL && n != 0) {
        return CKR_ARGUMENTS_BAD;
    }
    rv = p11p_object_load(s, h, &o);
    if (rv != CKR_OK) {
        return rv;
    }
    /* Every attribute is processed; the "worst" code is returned. */
    for (CK_ULONG i = 0; i < n; i++) {
        bool handled = false;
        CK_RV one = get_order_attr(s, &o, &tmpl[i], &handled);

        if (!handled) {
            one = p11p_object_get_one(&o, &tmpl[i]);
        }
        sensitive |= one == CKR_ATTRIBUTE_SENSITIVE;
        invalid |= one == CKR_ATTRIBUTE_TYPE_INVALID;
        small |= one == CKR_BUFFER_TOO_SMALL;
    }
    p11p_cache_object_clear(&o);
    if (sensitive) {
        return CKR_ATTRIBUTE_SENSITIVE;
    }
    if (invalid) {
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
    return small ? CKR_BUFFER_TOO_SMALL : CKR_OK;
}

CK_RV p11p_object_get_size(struct p11p_session *s, CK_OBJECT_HANDLE h,
                           CK_ULONG_PTR size)
{
    struct p11p_cache_object o = { 0 };
    CK_ULONG total = 0;
    CK_RV rv = CKR_OK;

    if (size == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    rv = p11p_object_load(s, h, &o);
    if (rv != CKR_OK) {
        return rv;
    }
    for (size_t i = 0; i < o.attrs.n; i++) {
        total += o.attrs.attrs[i].ulValueLen;
    }
    p11p_cache_object_clear(&o);
    *size = total;
    return CKR_OK;
}

/* Stores obj in one transaction; sets obj->id. */
static CK_RV store_object(struct p11p_session *s, struct p11p_cache_object *obj)
{
    struct p11p_cache_txn *txn = NULL;
    enum p11p_status st = p11p_cache_txn_begin(s->token->cache, &txn);

    if (st == P11P_OK) {
        st = p11p_cache_object_insert(txn, obj, NULL);
        if (st == P11P_OK) {
            st = p11p_cache_txn_commit(txn);
        } else {
            p11p_cache_txn_rollback(txn);
        }
    }
    if (st != P11P_OK) {
        p11p_session_set_status(s, st);
        return p11p_ckr_from_status(st);
    }
    return CKR_OK;
}

static CK_RV delete_object(struct p11p_session *s, int64_t id)
{
    struct p11p_cache_txn *txn = NULL;
    enum p11p_status st = p11p_cache_txn_begin(s->token->cache, &txn);

    if (st == P11P_OK) {
        st = p11p_cache_object_delete(txn, id);
        if (st == P11P_OK) {
            st = p11p_cache_txn_commit(txn);
        } else {
            p11p_cache_txn_rollback(txn);
        }
    }
    if (st == P11P_ERR_NOT_FOUND) {
        return CKR_OBJECT_HANDLE_INVALID;
    }
    if (st != P11P_OK) {
        p11p_session_set_status(s, st);
        return p11p_ckr_from_status(st);
    }
    return CKR_OK;
}

/* Attributes the DER decides; a template value for them is ignored. */
static bool derived_from_der(CK_ATTRIBUTE_TYPE t)
{
    static const CK_ATTRIBUTE_TYPE derived[] = {
        CKA_CLASS,
        CKA_CERTIFICATE_TYPE,
        CKA_SUBJECT,
        CKA_ISSUER,
        CKA_SERIAL_NUMBER,
        CKA_VALUE,
        CKA_START_DATE,
        CKA_END_DATE,
        CKA_CHECK_VALUE,
        CKA_PUBLIC_KEY_INFO,
        CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
        CKA_HASH_OF_ISSUER_PUBLIC_KEY,
    };

    for (size_t i = 0; i < sizeof(derived) / sizeof(derived[0]); i++) {
        if (derived[i] == t) {
            return true;
        }
    }
    return false;
}

static CK_RV create_cert(struct p11p_session *s, const CK_ATTRIBUTE *tmpl,
                         CK_ULONG n, struct p11p_cache_object *obj)
{
    const CK_ATTRIBUTE *value = p11p_attrs_find(tmpl, n, CKA_VALUE);
    const CK_ATTRIBUTE *id = p11p_attrs_find(tmpl, n, CKA_ID);
    CK_ULONG category = 0;
    char *label = NULL;
    bool present = false;
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    (void)s;
    label = p11p_attrs_dup_str(tmpl, n, CKA_LABEL, &present);
    if (present && label == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    (void)p11p_attrs_get_ulong(tmpl, n, CKA_CERTIFICATE_CATEGORY, &category);
    st = p11p_certobj_attrs(
        value->pValue, value->ulValueLen, label, id != NULL ? id->pValue : NULL,
        id != NULL ? id->ulValueLen : 0, category, &obj->attrs);
    if (st == P11P_ERR_INVALID_INPUT) {
        P11P_INFO("pkcs11",
                  "C_CreateObject: CKA_VALUE is not a DER X.509 certificate");
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        goto out;
    }
    if (st != P11P_OK) {
        rv = p11p_ckr_from_status(st);
        goto out;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        if (!derived_from_der(tmpl[i].type)
            && p11p_attrlist_set(&obj->attrs, tmpl[i].type, tmpl[i].pValue,
                                 tmpl[i].ulValueLen)
                   != P11P_OK) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
    }
out:
    free(label);
    return rv;
}

/* Submits the CSR of a "p11portal csr" data object (stored as obj). No
 * lock is held: this may talk to the portal within the token's budget. */
static CK_RV submit_csr(struct p11p_session *s, struct p11p_cache_object *obj)
{
    const CK_ATTRIBUTE *csr = p11p_attrlist_get0(&obj->attrs, CKA_VALUE);
    const CK_ATTRIBUTE *id = p11p_attrlist_get0(&obj->attrs, CKA_ID);
    struct p11p_enroll_params params = { 0 };
    struct p11p_enroll_result res = { 0 };
    char *label = p11p_attrlist_get_str(&obj->attrs, CKA_LABEL);
    char idbuf[24];
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    if (csr == NULL || csr->ulValueLen == 0) {
        rv = CKR_TEMPLATE_INCOMPLETE;
        goto out;
    }
    params.label = label;
    st = p11p_enroll_csr(s->token->enroll, csr->pValue, csr->ulValueLen,
                         &params, id != NULL ? id->pValue : NULL,
                         id != NULL ? id->ulValueLen : 0, &res);
    if (st == P11P_ERR_INVALID_INPUT) {
        P11P_INFO(
            "pkcs11",
            "C_CreateObject: CKA_VALUE of a \"p11portal csr\" object is not a DER PKCS#10 request");
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        goto out;
    }
    if (st != P11P_OK) {
        P11P_ERROR("pkcs11", "token \"%s\": CSR enrollment failed: %s%s%s",
                   s->token->conf->name, p11p_status_text(st),
                   res.message[0] ? ": " : "", res.message);
        p11p_session_set_status(s, st);
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    /* Link the data object to its order (best effort). */
    obj->order_id = res.order_id;
    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)res.order_id);
    if (res.order_id != 0
        && p11p_attrlist_set_str(&obj->attrs, CKA_P11PORTAL_ORDER_ID, idbuf)
               == P11P_OK) {
        struct p11p_cache_txn *txn = NULL;

        if (p11p_cache_txn_begin(s->token->cache, &txn) == P11P_OK) {
            if (p11p_cache_object_update(txn, obj) == P11P_OK) {
                (void)p11p_cache_txn_commit(txn);
            } else {
                p11p_cache_txn_rollback(txn);
            }
        }
    }
out:
    free(label);
    return rv;
}

/* The template checks of C_CreateObject; no resources, so plain returns. */
static CK_RV check_create(const struct p11p_session *s,
                          const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                          CK_ULONG *out_class)
{
    CK_ULONG klass = 0;
    bool flag = false;
    CK_RV rv = CKR_OK;

    if (!p11p_attrs_get_ulong(tmpl, n, CKA_CLASS, &klass)) {
        return CKR_TEMPLATE_INCOMPLETE;
    }
    if (klass != CKO_CERTIFICATE && klass != CKO_DATA) {
        P11P_INFO(
            "pkcs11",
            "C_CreateObject: only certificates and data objects can be created (CKA_CLASS %s)",
            p11p_names_get(P11P_NAMES_CKO, klass));
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    rv = p11p_schema_check(P11P_SCHEMA_CREATE, klass,
                           CK_UNAVAILABLE_INFORMATION, tmpl, n, NULL);
    if (rv != CKR_OK) {
        return rv;
    }
    if (p11p_attrs_get_bool(tmpl, n, CKA_TOKEN, &flag) && !flag) {
        P11P_INFO(
            "pkcs11",
            "C_CreateObject: session objects are not supported (CKA_TOKEN false)");
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (p11p_attrs_get_bool(tmpl, n, CKA_PRIVATE, &flag) && flag
        && !p11p_slot_is_logged_in(s->token, CKU_USER)) {
        return CKR_USER_NOT_LOGGED_IN;
    }
    if (p11p_attrs_get_bool(tmpl, n, CKA_TRUSTED, &flag) && flag
        && !p11p_slot_is_logged_in(s->token, CKU_SO)) {
        return CKR_ATTRIBUTE_READ_ONLY; /* fn 10: SO only */
    }
    *out_class = klass;
    return CKR_OK;
}

/* Builds a data object from the template; *out_csr tells whether it is a
 * "p11portal csr" request to submit. */
static CK_RV build_data(const struct p11p_session *s, const CK_ATTRIBUTE *tmpl,
                        CK_ULONG n, struct p11p_cache_object *obj,
                        bool *out_csr)
{
    const CK_ATTRIBUTE *app = p11p_attrs_find(tmpl, n, CKA_APPLICATION);
    bool csr = app != NULL && app->ulValueLen == APP_LEN(P11PORTAL_APP_CSR)
               && memcmp(app->pValue, P11PORTAL_APP_CSR, app->ulValueLen) == 0;

    if (app != NULL && app->ulValueLen == APP_LEN(P11PORTAL_APP_ORDER)
        && memcmp(app->pValue, P11PORTAL_APP_ORDER, app->ulValueLen) == 0) {
        return CKR_ATTRIBUTE_VALUE_INVALID; /* only the engine makes them */
    }
    if (csr && !p11p_slot_is_logged_in(s->token, CKU_USER)) {
        return CKR_USER_NOT_LOGGED_IN; /* enrollment spends a licence */
    }
    if (p11p_attrs_to_list(tmpl, n, &obj->attrs) != P11P_OK) {
        return CKR_HOST_MEMORY;
    }
    *out_csr = csr;
    return CKR_OK;
}

CK_RV p11p_object_create(struct p11p_session *s, CK_ATTRIBUTE_PTR tmpl,
                         CK_ULONG n, CK_OBJECT_HANDLE_PTR out)
{
    struct p11p_cache_object obj = { 0 };
    CK_ULONG klass = 0;
    bool csr = false;
    CK_RV rv = CKR_OK;

    if ((tmpl == NULL && n != 0) || out == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    rv = check_create(s, tmpl, n, &klass);
    if (rv != CKR_OK) {
        goto out;
    }
    obj.klass = klass;
    rv = klass == CKO_CERTIFICATE ? create_cert(s, tmpl, n, &obj)
                                  : build_data(s, tmpl, n, &obj, &csr);
    if (rv != CKR_OK) {
        goto out;
    }
    /* Store the token's defaults, so finds by them match (section 4.4). */
    if ((p11p_attrlist_get0(&obj.attrs, CKA_PRIVATE) == NULL
         && p11p_attrlist_set_bool(&obj.attrs, CKA_PRIVATE, false) != P11P_OK)
        || (p11p_attrlist_get0(&obj.attrs, CKA_TOKEN) == NULL
            && p11p_attrlist_set_bool(&obj.attrs, CKA_TOKEN, true)
                   != P11P_OK)) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    rv = store_object(s, &obj);
    if (rv != CKR_OK) {
        goto out;
    }
    if (csr) {
        rv = submit_csr(s, &obj);
        if (rv != CKR_OK) {
            (void)delete_object(s, obj.id);
            goto out;
        }
    }
    *out = (CK_OBJECT_HANDLE)obj.id;
out:
    p11p_cache_object_clear(&obj);
    return rv;
}

CK_RV p11p_object_copy(struct p11p_session *s, CK_OBJECT_HANDLE h,
                       CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                       CK_OBJECT_HANDLE_PTR out)
{
    (void)s;
    (void)h;
    (void)tmpl;
    (void)n;
    (void)out;
    return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV p11p_object_destroy(struct p11p_session *s, CK_OBJECT_HANDLE h)
{
    struct p11p_cache_object o = { 0 };
    bool destroyable = true;
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    rv = p11p_object_load(s, h, &o);
    if (rv != CKR_OK) {
        goto out;
    }
    if (is_order_object(&o)
        || (p11p_attrlist_get_bool(&o.attrs, CKA_DESTROYABLE, &destroyable)
            && !destroyable)) {
        rv = CKR_ACTION_PROHIBITED;
        goto out;
    }
    /* The backing key material, then the object: the same path as
     * p11portal delete (core/keys/keyobj.c). */
    st = p11p_keyobj_destroy(s->token->ks, s->token->cache, o.id);
    if (o.klass == CKO_PRIVATE_KEY
        && (st == P11P_OK || st == P11P_ERR_NOT_FOUND)) {
        p11p_slot_key_forget(s->token, h);
    }
    if (st == P11P_ERR_NOT_FOUND) {
        rv = CKR_OBJECT_HANDLE_INVALID;
    } else if (st != P11P_OK) {
        p11p_session_set_status(s, st);
        rv = p11p_ckr_from_status(st);
    }
out:
    p11p_cache_object_clear(&o);
    return rv;
}

CK_RV p11p_object_set_attrs(struct p11p_session *s, CK_OBJECT_HANDLE h,
                            CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
    struct p11p_cache_object o = { 0 };
    struct p11p_cache_txn *txn = NULL;
    bool modifiable = true;
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    if (tmpl == NULL && n != 0) {
        return CKR_ARGUMENTS_BAD;
    }
    rv = p11p_object_load(s, h, &o);
    if (rv != CKR_OK) {
        goto out;
    }
    if (is_order_object(&o)
        || (p11p_attrlist_get_bool(&o.attrs, CKA_MODIFIABLE, &modifiable)
            && !modifiable)) {
        rv = CKR_ACTION_PROHIBITED;
        goto out;
    }
    rv = p11p_schema_check(P11P_SCHEMA_SET, o.klass, key_type_of(&o), tmpl, n,
                           &o.attrs);
    if (rv != CKR_OK) {
        goto out;
    }
    if (p11p_attrs_to_list(tmpl, n, &o.attrs) != P11P_OK) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    st = p11p_cache_txn_begin(s->token->cache, &txn);
    if (st == P11P_OK) {
        st = p11p_cache_object_update(txn, &o);
        if (st == P11P_OK) {
            st = p11p_cache_txn_commit(txn);
        } else {
            p11p_cache_txn_rollback(txn);
        }
    }
    if (st == P11P_ERR_NOT_FOUND) {
        rv = CKR_OBJECT_HANDLE_INVALID;
    } else if (st != P11P_OK) {
        p11p_session_set_status(s, st);
        rv = p11p_ckr_from_status(st);
    }
out:
    p11p_cache_object_clear(&o);
    return rv;
}

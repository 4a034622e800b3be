/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Finding objects. C_FindObjectsInit turns the template into the cache's
 * indexed pre-filter (class, label, CKA_ID, SHA-256 of CKA_VALUE), then
 * matches every template attribute against each candidate's stored
 * attributes, keeping only objects the session may see. The result is a
 * snapshot taken at Init; C_FindObjects hands it out. Finding never
 * touches the network; Init may first let the engine collect pending
 * orders within a small budget (rate-limited and time-boxed inside the
 * engine, DESIGN.md "Enrollment" step 5).
 */
#include "pkcs11/find.h"

#include <stdlib.h>

#include <openssl/evp.h>

#include "core/base/log.h"
#include "core/base/ossl.h"
#include "core/enroll/enroll.h"
#include "pkcs11/attrs.h"
#include "pkcs11/ckr.h"
#include "pkcs11/object.h"

/* Builds the pre-filter; the strings point into the template. */
static CK_RV make_filter(const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                         struct p11p_cache_filter *f, unsigned char sha[32])
{
    const CK_ATTRIBUTE *a = NULL;
    CK_ULONG klass = 0;

    if (p11p_attrs_get_ulong(tmpl, n, CKA_CLASS, &klass)) {
        f->has_class = true;
        f->klass = klass;
    }
    a = p11p_attrs_find(tmpl, n, CKA_LABEL);
    if (a != NULL && (a->pValue != NULL || a->ulValueLen == 0)) {
        f->label = a->ulValueLen != 0 ? a->pValue : "";
        f->label_len = a->ulValueLen;
    }
    a = p11p_attrs_find(tmpl, n, CKA_ID);
    if (a != NULL && a->pValue != NULL && a->ulValueLen != 0) {
        f->ckaid = a->pValue;
        f->ckaid_len = a->ulValueLen;
    }
    a = p11p_attrs_find(tmpl, n, CKA_VALUE);
    if (a != NULL && a->pValue != NULL && a->ulValueLen != 0) {
        if (EVP_Q_digest(p11p_ossl_libctx(), "SHA256", NULL, a->pValue,
                         a->ulValueLen, sha, NULL)
            != 1) {
            return CKR_FUNCTION_FAILED;
        }
        f->value_sha256 = sha;
    }
    return CKR_OK;
}

CK_RV p11p_find_init(struct p11p_session *s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
    struct p11p_cache_filter f = { 0 };
    unsigned char sha[32];
    int64_t *ids = NULL;
    size_t n_ids = 0;
    size_t kept = 0;
    bool busy = false;
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    if (tmpl == NULL && n != 0) {
        return CKR_ARGUMENTS_BAD;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        if (tmpl[i].pValue == NULL && tmpl[i].ulValueLen != 0) {
            return CKR_ATTRIBUTE_VALUE_INVALID;
        }
    }
    pthread_mutex_lock(&s->lock);
    busy = s->active[P11P_OP_FIND];
    pthread_mutex_unlock(&s->lock);
    if (busy) {
        return CKR_OPERATION_ACTIVE;
    }
    if (s->token->enroll != NULL && s->token->conf->collect_budget_ms > 0) {
        (void)p11p_enroll_collect(
            s->token->enroll, s->token->conf->collect_budget_ms, false, NULL);
    }
    rv = make_filter(tmpl, n, &f, sha);
    if (rv != CKR_OK) {
        goto out;
    }
    st = p11p_cache_object_find(s->token->cache, &f, &ids, &n_ids);
    if (st != P11P_OK) {
        p11p_session_set_status(s, st);
        rv = p11p_ckr_from_status(st);
        goto out;
    }
    for (size_t i = 0; i < n_ids; i++) {
        struct p11p_cache_object o = { 0 };

        st = p11p_cache_object_get(s->token->cache, ids[i], &o);
        if (st == P11P_OK && p11p_object_is_visible(s, &o)
            && p11p_object_match(&o, tmpl, n)) {
            ids[kept++] = ids[i];
        }
        p11p_cache_object_clear(&o);
        if (st != P11P_OK && st != P11P_ERR_NOT_FOUND
            && st != P11P_ERR_CORRUPT) {
            p11p_session_set_status(s, st);
            rv = p11p_ckr_from_status(st);
            goto out;
        }
    }
    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_begin(s, P11P_OP_FIND);
    if (rv == CKR_OK) {
        s->find_ids = ids;
        s->find_n = kept;
        s->find_pos = 0;
        ids = NULL;
    }
    pthread_mutex_unlock(&s->lock);
out:
    free(ids);
    return rv;
}

CK_RV p11p_find_next(struct p11p_session *s, CK_OBJECT_HANDLE_PTR out,
                     CK_ULONG max, CK_ULONG_PTR count)
{
    CK_ULONG k = 0;
    CK_RV rv = CKR_OK;

    if ((out == NULL && max != 0) || count == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_require(s, P11P_OP_FIND);
    if (rv == CKR_OK) {
        while (k < max && s->find_pos < s->find_n) {
            out[k++] = (CK_OBJECT_HANDLE)s->find_ids[s->find_pos++];
        }
        *count = k;
    }
    pthread_mutex_unlock(&s->lock);
    return rv;
}

CK_RV p11p_find_final(struct p11p_session *s)
{
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_require(s, P11P_OP_FIND);
    if (rv == CKR_OK) {
        p11p_session_op_end(s, P11P_OP_FIND);
    }
    pthread_mutex_unlock(&s->lock);
    return rv;
}

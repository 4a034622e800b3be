/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Renewal (p11p_enroll_renew, issue 7). A renewal is an order of its own
 * with renews_order_id set to the renewed order:
 *
 *   same key  a new CSR signed by the existing key; the new order shares
 *             the key objects (a rejection never removes them);
 *   new key   a new key pair of the same type and size, generated and
 *             stored through the same code as p11p_enroll_keypair
 *             (p11p_engine_generate), with a new CKA_ID (the key's default
 *             id) and the same label, subject and SANs.
 *
 * Never two renewals of one certificate: the check (the renewed order is
 * still ISSUED and no open order renews it) and the insert of the renewal
 * order happen in one write transaction (BEGIN IMMEDIATE serialises them
 * across processes). The renewal is submitted through the driver's renew
 * call with the renewed order's portal id where the driver has one
 * (p11p_renew_send, called by submit.c), else as a new enrollment.
 *
 * The old certificate stays until the new one is stored; in the same
 * transaction as the new certificate the renewed order becomes RENEWED
 * (p11p_renew_finish, called by store.c). Old objects are kept as history:
 * the old certificate object stays (with the same key: next to the new
 * one, same CKA_ID; its order object says "renewed"), and with a new key
 * the old key pair stays until the user deletes it (p11portal delete).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "core/base/log.h"
#include "core/base/str.h"
#include "core/enroll/csr.h"
#include "core/enroll/internal.h"
#include "core/enroll/order.h"
#include "core/enroll/revoke.h"
#include "p11portal/pkcs11-vendor.h"

#define COMP "enroll"

/* Attributes of the old key objects that belong to the old key material
 * (or to its order) and are not copied to the new key objects. */
static const CK_ATTRIBUTE_TYPE key_material_attrs[] = {
    CKA_ID,
    CKA_MODULUS,
    CKA_PUBLIC_EXPONENT,
    CKA_EC_POINT,
    CKA_PUBLIC_KEY_INFO,
    CKA_P11PORTAL_ORDER_ID,
    CKA_VALUE,
    CKA_MODULUS_BITS,
    CKA_CHECK_VALUE,
    CKA_EC_PARAMS,
    CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
};

/* ---- hooks of submit.c and store.c ---- */

enum p11p_status p11p_renew_send(struct p11p_enroll *e,
                                 const struct p11p_order *o,
                                 const struct p11p_enroll_req *req,
                                 struct p11p_remote_result *res)
{
    const struct p11p_driver *d = p11p_remote_driver(e->remote);
    struct p11p_enroll_req r = *req;
    struct p11p_order old;
    enum p11p_status rc = P11P_ERR_UNSUPPORTED;

    memset(&old, 0, sizeof(old));
    if (d->renew != NULL
        && p11p_cache_order_get(e->cache, o->renews_order_id, &old) == P11P_OK
        && old.portal_id != NULL) {
        r.new_key = memcmp(old.pubkey_sha256, o->pubkey_sha256,
                           sizeof(old.pubkey_sha256))
                    != 0;
        P11P_INFO(COMP,
                  "token \"%s\": order %" PRId64 ": renewing portal order %s "
                  "(order %" PRId64 ")%s",
                  p11p_submit_token_name(e), o->id, old.portal_id, old.id,
                  r.new_key ? " with a new key" : "");
        rc = d->renew(p11p_remote_state(e->remote), old.portal_id, &r, res);
        if (rc == P11P_ERR_UNSUPPORTED) {
            P11P_INFO(COMP,
                      "token \"%s\": order %" PRId64 ": the portal's renew "
                      "call cannot take a new key; enrolling it as a new "
                      "certificate",
                      p11p_submit_token_name(e), o->id);
            p11p_remote_result_clear(res);
        }
    }
    if (rc == P11P_ERR_UNSUPPORTED) {
        rc = d->enroll(p11p_remote_state(e->remote), req, res);
    }
    p11p_order_clear(&old);
    return rc;
}

enum p11p_status p11p_renew_finish(struct p11p_enroll *e,
                                   struct p11p_cache_txn *t,
                                   const struct p11p_order *o)
{
    struct p11p_order old;
    enum p11p_order_event ev = P11P_ORDER_EV_RENEW;
    char note[96];
    enum p11p_status rc;

    memset(&old, 0, sizeof(old));
    rc = p11p_cache_order_get_txn(t, o->renews_order_id, &old);
    if (rc == P11P_ERR_NOT_FOUND) {
        return P11P_OK; /* the renewed order was deleted meanwhile */
    }
    if (rc == P11P_OK && old.state == P11P_ORDER_ISSUED) {
        snprintf(note, sizeof(note), "renewed by order %" PRId64, o->id);
        rc = p11p_submit_set_str(&old.last_error, note);
        if (rc == P11P_OK) {
            rc = p11p_submit_advance(e, t, &old, &ev, 1);
        }
        if (rc == P11P_OK) {
            P11P_INFO(COMP,
                      "token \"%s\": order %" PRId64 " (label %s): issued -> "
                      "renewed (by order %" PRId64 ")",
                      p11p_submit_token_name(e), old.id,
                      old.label != NULL ? old.label : "", o->id);
        }
    }
    p11p_order_clear(&old);
    return rc;
}

/* ---- the renewal ---- */

/* In t: P11P_OK if order old_id is ISSUED and no open order renews it;
 * P11P_ERR_EXISTS (logged) otherwise. */
static enum p11p_status
check_renewable(struct p11p_enroll *e, struct p11p_cache_txn *t, int64_t old_id)
{
    const uint32_t open = (1u << P11P_ORDER_NEW) | (1u << P11P_ORDER_SUBMITTING)
                          | (1u << P11P_ORDER_SUBMITTED)
                          | (1u << P11P_ORDER_PENDING_APPROVAL)
                          | (1u << P11P_ORDER_PROCESSING);
    struct p11p_order cur;
    struct p11p_order *list = NULL;
    size_t n = 0;
    enum p11p_status rc;

    memset(&cur, 0, sizeof(cur));
    rc = p11p_cache_order_get_txn(t, old_id, &cur);
    if (rc == P11P_OK && cur.state != P11P_ORDER_ISSUED) {
        P11P_ERROR(COMP,
                   "token \"%s\": order %" PRId64 " is %s: only an issued "
                   "certificate is renewed",
                   p11p_submit_token_name(e), old_id,
                   p11p_order_state_name(cur.state));
        rc = cur.state == P11P_ORDER_RENEWED ? P11P_ERR_EXISTS
                                             : P11P_ERR_INVALID_INPUT;
    }
    /* The write lock of t is held: no other process can commit a renewal
     * between this read and our insert. */
    if (rc == P11P_OK) {
        rc = p11p_cache_order_list(e->cache, open, 0, 0, &list, &n);
    }
    for (size_t i = 0; rc == P11P_OK && i < n; i++) {
        if (list[i].renews_order_id == old_id) {
            P11P_ERROR(COMP,
                       "token \"%s\": order %" PRId64 " is already being "
                       "renewed by order %" PRId64 " (%s)",
                       p11p_submit_token_name(e), old_id, list[i].id,
                       p11p_order_state_name(list[i].state));
            rc = P11P_ERR_EXISTS;
        }
    }
    p11p_cache_order_list_free(list, n);
    p11p_order_clear(&cur);
    return rc;
}

/* The renewal order's fields from the renewed order (no CSR, no key). */
static enum p11p_status copy_order(const struct p11p_order *old,
                                   struct p11p_order *o)
{
    o->state = P11P_ORDER_NEW;
    o->driver = p11p_str_dup(old->driver);
    o->profile = p11p_str_dup(old->profile);
    o->label = p11p_str_dup(old->label);
    o->subject = p11p_str_dup(old->subject);
    o->sans = p11p_str_dup(old->sans);
    o->mac = p11p_str_dup(old->mac);
    o->term_days = old->term_days;
    o->renews_order_id = old->id;
    if ((old->driver != NULL && o->driver == NULL)
        || (old->label != NULL && o->label == NULL)
        || (old->subject != NULL && o->subject == NULL)) {
        return P11P_ERR_NOMEM;
    }
    return P11P_OK;
}

/* The private key object of old (its id, else by CKA_ID). */
static enum p11p_status load_priv(struct p11p_enroll *e,
                                  const struct p11p_order *old,
                                  struct p11p_cache_object *out)
{
    struct p11p_cache_filter f;
    int64_t *ids = NULL;
    size_t n = 0;
    enum p11p_status rc = P11P_ERR_NOT_FOUND;

    if (old->priv_object_id != 0) {
        rc = p11p_cache_object_get(e->cache, old->priv_object_id, out);
    }
    if (rc == P11P_ERR_NOT_FOUND && old->ckaid_len > 0) {
        memset(&f, 0, sizeof(f));
        f.has_class = true;
        f.klass = CKO_PRIVATE_KEY;
        f.ckaid = old->ckaid;
        f.ckaid_len = old->ckaid_len;
        rc = p11p_cache_object_find(e->cache, &f, &ids, &n);
        if (rc == P11P_OK) {
            rc = n > 0 ? p11p_cache_object_get(e->cache, ids[0], out)
                       : P11P_ERR_NOT_FOUND;
        }
    }
    free(ids);
    if (rc == P11P_ERR_NOT_FOUND) {
        P11P_ERROR(COMP,
                   "token \"%s\": order %" PRId64 " (label %s): its private "
                   "key is not on the token; renew it with a new key",
                   p11p_submit_token_name(e), old->id,
                   old->label != NULL ? old->label : "");
    }
    return rc;
}

/* Builds the CSR of o with the key of private key object priv_id. */
static enum p11p_status sign_csr(struct p11p_enroll *e, int64_t priv_id,
                                 const struct p11p_cache_keyblob *given,
                                 struct p11p_order *o)
{
    struct p11p_cache_keyblob blob;
    struct p11p_key *key = NULL;
    enum p11p_status rc = P11P_OK;

    memset(&blob, 0, sizeof(blob));
    if (given == NULL) {
        rc = p11p_cache_keyblob_get(e->cache, priv_id, &blob);
        given = &blob;
    }
    if (rc == P11P_OK) {
        rc = p11p_keystore_load(e->keys, given, &key);
    }
    if (rc == P11P_OK) {
        rc = p11p_csr_build(key, o->subject, o->sans, &o->csr_der, &o->csr_len);
    }
    p11p_key_unref(key);
    p11p_cache_keyblob_clear(&blob);
    return rc;
}

/* The key spec of the same type and size as private key object priv. */
static enum p11p_status spec_of(const struct p11p_cache_object *priv,
                                struct p11p_keygen_spec *spec)
{
    CK_ULONG type = 0;
    const CK_ATTRIBUTE *a = NULL;
    const unsigned char *p = NULL;
    ASN1_OBJECT *oid = NULL;

    memset(spec, 0, sizeof(*spec));
    if (!p11p_attrlist_get_ulong(&priv->attrs, CKA_KEY_TYPE, &type)) {
        return P11P_ERR_INVALID_INPUT;
    }
    spec->key_type = type;
    if (type == CKK_RSA) {
        a = p11p_attrlist_get0(&priv->attrs, CKA_MODULUS);
        if (a == NULL || a->ulValueLen == 0) {
            return P11P_ERR_INVALID_INPUT;
        }
        p = a->pValue;
        size_t len = a->ulValueLen;
        while (len > 0 && *p == 0) { /* leading zero bytes */
            p++;
            len--;
        }
        spec->bits = (unsigned)len * 8;
        return P11P_OK;
    }
    if (type == CKK_EC_EDWARDS) {
        spec->curve_nid = NID_ED25519;
        return P11P_OK;
    }
    if (type != CKK_EC) {
        return P11P_ERR_UNSUPPORTED;
    }
    a = p11p_attrlist_get0(&priv->attrs, CKA_EC_PARAMS);
    if (a == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    p = a->pValue;
    oid = d2i_ASN1_OBJECT(NULL, &p, (long)a->ulValueLen);
    spec->curve_nid = oid != NULL ? OBJ_obj2nid(oid) : NID_undef;
    ASN1_OBJECT_free(oid);
    return spec->curve_nid != NID_undef ? P11P_OK : P11P_ERR_INVALID_INPUT;
}

/* A copy of a key object's attributes without the old key material. */
static enum p11p_status template_of(const struct p11p_cache_object *obj,
                                    struct p11p_attrlist *out)
{
    enum p11p_status rc = p11p_attrlist_merge(out, &obj->attrs);
    for (size_t i = 0;
         rc == P11P_OK
         && i < sizeof(key_material_attrs) / sizeof(key_material_attrs[0]);
         i++) {
        p11p_attrlist_remove(out, key_material_attrs[i]);
    }
    return rc;
}

/* Same key: the renewal order shares old's key objects. */
static enum p11p_status renew_same_key(struct p11p_enroll *e,
                                       const struct p11p_order *old,
                                       const struct p11p_cache_object *priv,
                                       struct p11p_enroll_result *out)
{
    struct p11p_order o;
    struct p11p_cache_txn *t = NULL;
    enum p11p_status rc;

    memset(&o, 0, sizeof(o));
    rc = copy_order(old, &o);
    if (rc == P11P_OK) {
        memcpy(o.ckaid, old->ckaid, old->ckaid_len);
        o.ckaid_len = old->ckaid_len;
        memcpy(o.pubkey_sha256, old->pubkey_sha256, sizeof(o.pubkey_sha256));
        o.priv_object_id = priv->id;
        o.pub_object_id = old->pub_object_id;
        rc = sign_csr(e, priv->id, NULL, &o);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_begin(e->cache, &t);
    }
    if (rc == P11P_OK) {
        rc = check_renewable(e, t, old->id);
    }
    if (rc == P11P_OK) {
        rc = p11p_engine_insert_order(t, &o);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_commit(t);
        t = NULL;
    }
    if (rc == P11P_OK) {
        out->pub_id = o.pub_object_id;
        out->priv_id = o.priv_object_id;
        P11P_INFO(COMP,
                  "token \"%s\": order %" PRId64 " (label %s): new, renews "
                  "order %" PRId64 " with the same key",
                  p11p_submit_token_name(e), o.id,
                  o.label != NULL ? o.label : "", old->id);
        /* The key is the renewed certificate's: a rejection keeps it. */
        rc = p11p_engine_run_order(e, &o, false, out);
    }
    p11p_cache_txn_rollback(t);
    p11p_order_clear(&o);
    return rc;
}

/* New key: a key pair of the same type and size, stored with the
 * renewal order in one transaction. */
static enum p11p_status renew_new_key(struct p11p_enroll *e,
                                      const struct p11p_order *old,
                                      const struct p11p_cache_object *priv,
                                      struct p11p_enroll_result *out)
{
    struct p11p_keygen_spec spec;
    struct p11p_cache_object pubold;
    struct p11p_cache_object pubobj;
    struct p11p_cache_object privobj;
    struct p11p_attrlist pub_attrs;
    struct p11p_attrlist priv_attrs;
    struct p11p_cache_keyblob blob;
    struct p11p_cache_txn *t = NULL;
    struct p11p_order o;
    EVP_PKEY *pub = NULL;
    bool stored = false, pending = false;
    enum p11p_status rc;

    memset(&pubold, 0, sizeof(pubold));
    memset(&pubobj, 0, sizeof(pubobj));
    memset(&privobj, 0, sizeof(privobj));
    memset(&pub_attrs, 0, sizeof(pub_attrs));
    memset(&priv_attrs, 0, sizeof(priv_attrs));
    memset(&blob, 0, sizeof(blob));
    memset(&o, 0, sizeof(o));
    rc = spec_of(priv, &spec);
    if (rc != P11P_OK) {
        P11P_ERROR(COMP,
                   "token \"%s\": order %" PRId64 ": the type of its key "
                   "cannot be told: %s",
                   p11p_submit_token_name(e), old->id, p11p_status_text(rc));
        goto out;
    }
    rc = copy_order(old, &o);
    if (rc == P11P_OK) {
        spec.label = o.label;
        rc = template_of(priv, &priv_attrs);
    }
    if (rc == P11P_OK && old->pub_object_id != 0
        && p11p_cache_object_get(e->cache, old->pub_object_id, &pubold)
               == P11P_OK) {
        rc = template_of(&pubold, &pub_attrs);
    } else if (rc == P11P_OK) {
        rc = p11p_attrlist_set_ulong(&pub_attrs, CKA_CLASS, CKO_PUBLIC_KEY);
        if (rc == P11P_OK && o.label != NULL) {
            rc = p11p_attrlist_set_str(&pub_attrs, CKA_LABEL, o.label);
        }
    }
    if (rc == P11P_OK) {
        rc = p11p_engine_generate(e, &spec, &pub_attrs, &priv_attrs, &pub,
                                  &blob, &o);
        pending = rc == P11P_OK; /* until committed (backend.h) */
    }
    if (rc == P11P_OK) {
        rc = sign_csr(e, 0, &blob, &o);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_begin(e->cache, &t);
    }
    if (rc == P11P_OK) {
        rc = check_renewable(e, t, old->id);
    }
    if (rc == P11P_OK) {
        rc = p11p_engine_insert_keys(t, &pub_attrs, &priv_attrs, &blob, &pubobj,
                                     &privobj);
    }
    if (rc == P11P_OK) {
        rc = p11p_engine_insert_order_for(t, &o, &pubobj, &privobj);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_commit(t);
        t = NULL;
    }
    if (rc != P11P_OK) {
        goto out;
    }
    stored = true;
    p11p_keystore_pending_done(e->keys);
    pending = false;
    out->pub_id = pubobj.id;
    out->priv_id = privobj.id;
    P11P_INFO(COMP,
              "token \"%s\": order %" PRId64 " (label %s): new, renews order "
              "%" PRId64 " with a new key",
              p11p_submit_token_name(e), o.id, o.label != NULL ? o.label : "",
              old->id);
    rc = p11p_engine_run_order(e, &o, true, out);
    if (rc == P11P_ERR_REJECTED && !e->conf->keep_key_on_reject) {
        out->pub_id = 0;
        out->priv_id = 0;
    }
out:
    p11p_cache_txn_rollback(t);
    if (!stored && blob.blob != NULL) {
        p11p_keystore_destroy(e->keys, &blob); /* hsm: no orphan key */
    }
    if (pending) {
        p11p_keystore_pending_done(e->keys);
    }
    p11p_cache_keyblob_clear(&blob);
    EVP_PKEY_free(pub);
    p11p_attrlist_clear(&pub_attrs);
    p11p_attrlist_clear(&priv_attrs);
    p11p_cache_object_clear(&pubold);
    p11p_cache_object_clear(&pubobj);
    p11p_cache_object_clear(&privobj);
    p11p_order_clear(&o);
    return rc;
}

enum p11p_status p11p_enroll_renew(struct p11p_enroll *e, int64_t cert_id,
                                   bool new_key, struct p11p_enroll_result *out)
{
    struct p11p_cache_object cert;
    struct p11p_cache_object priv;
    struct p11p_order old;
    int64_t order_id = 0;
    enum p11p_status rc;

    memset(&cert, 0, sizeof(cert));
    memset(&priv, 0, sizeof(priv));
    memset(&old, 0, sizeof(old));
    memset(out, 0, sizeof(*out));
    rc = p11p_cache_object_get(e->cache, cert_id, &cert);
    if (rc == P11P_OK && cert.klass != CKO_CERTIFICATE) {
        rc = P11P_ERR_INVALID_INPUT;
    }
    if (rc == P11P_OK) {
        order_id = p11p_revoke_cert_order_id(&cert);
        rc = order_id != 0 ? p11p_cache_order_get(e->cache, order_id, &old)
                           : P11P_ERR_NOT_FOUND;
    }
    if (rc != P11P_OK) {
        P11P_ERROR(COMP,
                   "token \"%s\": object %" PRId64 " is not a certificate "
                   "with an order: %s (p11portal adopt links one)",
                   p11p_submit_token_name(e), cert_id, p11p_status_text(rc));
        goto out;
    }
    if (old.state != P11P_ORDER_ISSUED) {
        P11P_ERROR(COMP,
                   "token \"%s\": order %" PRId64 " of certificate %" PRId64
                   " is %s: only an issued certificate is renewed",
                   p11p_submit_token_name(e), old.id, cert_id,
                   p11p_order_state_name(old.state));
        rc = old.state == P11P_ORDER_RENEWED ? P11P_ERR_EXISTS
                                             : P11P_ERR_INVALID_INPUT;
        goto out;
    }
    rc = load_priv(e, &old, &priv);
    if (rc == P11P_OK) {
        rc = new_key ? renew_new_key(e, &old, &priv, out)
                     : renew_same_key(e, &old, &priv, out);
    }
out:
    p11p_order_clear(&old);
    p11p_cache_object_clear(&priv);
    p11p_cache_object_clear(&cert);
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enrollment engine (enroll.h, DESIGN.md "Enrollment"): key pair and
 * order persisted together, CSR, submission under an order lock with the
 * order marked SUBMITTING and committed before the driver is called,
 * collection within the token's wait budget, reconciliation of SUBMITTING
 * orders through the driver's find, and storage of verified certificates
 * with their chain. Every state change goes through the transition table
 * (order.c) and a compare-and-set update of the order, together with the
 * rebuild of the order's CKO_DATA object, in one transaction.
 *
 * Nothing here holds a transaction or a mutex across a driver call or a
 * sleep; the order lock is a lease row in the cache (other processes skip
 * the order while it is held, a crashed holder's lease expires).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/ossl.h"
#include "core/base/str.h"
#include "core/conf/subject.h"
#include "core/enroll/csr.h"
#include "core/enroll/enroll.h"
#include "core/enroll/internal.h"
#include "core/enroll/order.h"
#include "core/enroll/orderobj.h"
#include "core/enroll/verify.h"
#include "p11portal/pkcs11-vendor.h"
#include "remote/http.h"

#define COMP          "enroll"
#define POLL_FIRST_MS 100
#define POLL_MAX_MS   1000
#define COLLECT_BATCH 64
/* Background collection lets one portal request take this long even when
 * the caller's budget is smaller (a request cut shorter than a portal's
 * normal answer time would never succeed). */
#define COLLECT_MIN_REQUEST_MS 1500

/* ---- engine life ---- */

enum p11p_status p11p_enroll_new(const struct p11p_conf_token *conf,
                                 struct p11p_cache *cache,
                                 struct p11p_keystore *keys,
                                 struct p11p_enroll **out)
{
    enum p11p_status rc = P11P_ERR_NOMEM;
    struct p11p_enroll *e = NULL;

    *out = NULL;
    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        goto out;
    }
    e->conf = conf;
    e->cache = cache;
    e->keys = keys;
    rc = p11p_remote_open(conf, &e->remote);
    if (rc != P11P_OK) {
        goto out;
    }
    *out = e;
    e = NULL;
out:
    p11p_enroll_free(e);
    return rc;
}

void p11p_enroll_free(struct p11p_enroll *e)
{
    if (e == NULL) {
        return;
    }
    p11p_remote_close(e->remote);
    free(e);
}

/* Driver states the children of fork() gave up (see p11p_enroll_discard):
 * kept reachable so that a leak checker does not report them. */
#define DISCARDED_MAX 8
static struct p11p_remote *discarded[DISCARDED_MAX];
static size_t n_discarded;

void p11p_enroll_discard(struct p11p_enroll *e)
{
    if (e == NULL) {
        return;
    }
    /* The HTTP drivers' curl handles hold the parent's TLS connections:
     * closing them here would read from and shut down sockets the parent
     * still uses (remote/http.h "Fork"). The child drops the state without
     * touching it; the memory goes with the child. */
    if (n_discarded < DISCARDED_MAX) {
        discarded[n_discarded++] = e->remote;
    }
    free(e);
}

/* ---- key pair + order ---- */

/* Copies the public attributes private keys also carry (PKCS#11 3.0
 * 4.8/4.9: RSA modulus and exponent, EC params, public key info). */
static enum p11p_status add_private_public(const struct p11p_attrlist *pub,
                                           struct p11p_attrlist *priv)
{
    static const CK_ATTRIBUTE_TYPE types[] = { CKA_MODULUS, CKA_PUBLIC_EXPONENT,
                                               CKA_EC_PARAMS,
                                               CKA_PUBLIC_KEY_INFO,
                                               CKA_KEY_TYPE };
    enum p11p_status rc = P11P_OK;
    for (size_t i = 0; rc == P11P_OK && i < sizeof(types) / sizeof(types[0]);
         i++) {
        const CK_ATTRIBUTE *a = p11p_attrlist_get0(pub, types[i]);
        if (a != NULL
            && (types[i] != CKA_KEY_TYPE
                || p11p_attrlist_get0(priv, CKA_KEY_TYPE) == NULL)) {
            rc = p11p_attrlist_set(priv, types[i], a->pValue, a->ulValueLen);
        }
    }
    return rc;
}

/* The order's CKA_ID: the private key's, else the public key's. */
static void take_ckaid(const struct p11p_attrlist *priv,
                       const struct p11p_attrlist *pub, struct p11p_order *o)
{
    const CK_ATTRIBUTE *a = p11p_attrlist_get0(priv, CKA_ID);
    if (a == NULL) {
        a = p11p_attrlist_get0(pub, CKA_ID);
    }
    o->ckaid_len = 0;
    if (a != NULL && a->ulValueLen <= sizeof(o->ckaid)) {
        memcpy(o->ckaid, a->pValue, a->ulValueLen);
        o->ckaid_len = a->ulValueLen;
    }
}

/* The caller's explicit MAC (p11portal batch, params has_mac): within the
 * token's [mac_start, mac_end] and on no other order of the token but a
 * REJECTED one (P11P_ERR_EXISTS), checked in t, the transaction that
 * inserts the order. */
static enum p11p_status explicit_mac(struct p11p_enroll *e,
                                     struct p11p_cache_txn *t, uint64_t mac,
                                     char str[18])
{
    bool used = false;
    enum p11p_status rc;

    p11p_subject_mac_format(mac, ':', false, str);
    if (!e->conf->has_mac || mac < e->conf->mac_start
        || mac > e->conf->mac_end) {
        P11P_ERROR(COMP,
                   "token \"%s\": MAC %s is outside the token's MAC range "
                   "(mac_start/mac_end, %s)",
                   p11p_submit_token_name(e), str, e->conf->source);
        return P11P_ERR_INVALID_INPUT;
    }
    rc = p11p_cache_order_mac_used(t, str, &used);
    if (rc == P11P_OK && used) {
        P11P_DEBUG(COMP, "token \"%s\": MAC %s is already on an order",
                   p11p_submit_token_name(e), str);
        rc = P11P_ERR_EXISTS;
    }
    return rc;
}

/* The next MAC of the token's sequence that no order holds yet (a batch
 * may have used MACs ahead of the sequence), consumed in t. */
static enum p11p_status sequence_mac(struct p11p_enroll *e,
                                     struct p11p_cache_txn *t, uint64_t *out)
{
    char str[18];
    bool used = true;
    enum p11p_status rc = P11P_OK;

    /* Bounded: every turn consumes a value of a finite sequence. */
    while (rc == P11P_OK && used) {
        rc = p11p_cache_seq_next(t, "mac", e->conf->mac_start,
                                 e->conf->mac_increment, e->conf->mac_end, out);
        if (rc == P11P_OK) {
            p11p_subject_mac_format(*out, ':', false, str);
            rc = p11p_cache_order_mac_used(t, str, &used);
        }
    }
    return rc;
}

/* Expands the subject and SAN templates into o (MAC consumed in t). */
static enum p11p_status expand_names(struct p11p_enroll *e,
                                     struct p11p_cache_txn *t,
                                     const struct p11p_enroll_params *params,
                                     struct p11p_order *o)
{
    const char *subj = params->subject != NULL    ? params->subject
                       : e->conf->subject != NULL ? e->conf->subject
                                                  : "CN=${label}";
    const char *sans = params->sans != NULL ? params->sans : e->conf->sans;
    struct p11p_subject_vars v;
    char id_hex[2 * sizeof(o->ckaid) + 1];
    char mac[18];
    enum p11p_status rc = P11P_OK;

    memset(&v, 0, sizeof(v));
    p11p_str_hex(o->ckaid, o->ckaid_len, id_hex);
    v.label = o->label;
    v.id_hex = id_hex;
    v.token = e->conf->name;
    if (params->has_mac) {
        rc = explicit_mac(e, t, params->mac, mac);
        v.has_mac = true;
        v.mac = params->mac;
        if (rc == P11P_OK) {
            rc = p11p_submit_set_str(&o->mac, mac);
        }
    } else if (p11p_subject_uses_mac(subj)
               || (sans != NULL && p11p_subject_uses_mac(sans))) {
        if (!e->conf->has_mac) {
            P11P_ERROR(COMP,
                       "token \"%s\": the subject uses ${mac} but the "
                       "token has no mac_start (%s)",
                       p11p_submit_token_name(e), e->conf->source);
            return P11P_ERR_CONFIG;
        }
        rc = sequence_mac(e, t, &v.mac);
        if (rc == P11P_ERR_EXHAUSTED) {
            p11p_subject_mac_format(e->conf->mac_end, ':', false, mac);
            P11P_ERROR(COMP,
                       "token \"%s\": the MAC address range is "
                       "exhausted (mac_end %s); no key generated",
                       p11p_submit_token_name(e), mac);
        }
        if (rc != P11P_OK) {
            return rc;
        }
        v.has_mac = true;
        p11p_subject_mac_format(v.mac, ':', false, mac);
        rc = p11p_submit_set_str(&o->mac, mac);
    }
    if (rc == P11P_OK) {
        rc = p11p_subject_expand(subj, &v, &o->subject);
    }
    if (rc == P11P_OK && sans != NULL && sans[0] != '\0') {
        rc = p11p_subject_expand(sans, &v, &o->sans);
    }
    return rc;
}

/* Inserts the order (NEW) and its order object, then links them (in t). */
static enum p11p_status insert_order(struct p11p_cache_txn *t,
                                     struct p11p_order *o)
{
    struct p11p_cache_object obj;
    enum p11p_status rc;

    memset(&obj, 0, sizeof(obj));
    rc = p11p_submit_random_hex(o->request_token, 16);
    if (rc == P11P_OK) {
        rc = p11p_cache_order_insert(t, o);
    }
    if (rc == P11P_OK) {
        obj.klass = CKO_DATA;
        obj.order_id = o->id;
        rc = p11p_orderobj_attrs(o, &obj.attrs);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_object_insert(t, &obj, NULL);
    }
    if (rc == P11P_OK) {
        o->data_object_id = obj.id;
        rc = p11p_submit_write_order(t, o, P11P_ORDER_NEW);
    }
    p11p_attrlist_clear(&obj.attrs);
    return rc;
}

/* Sets CKA_P11PORTAL_ORDER_ID on a stored key object (in t). */
static enum p11p_status tag_object(struct p11p_cache_txn *t,
                                   struct p11p_cache_object *obj,
                                   int64_t order_id)
{
    char idstr[32];
    snprintf(idstr, sizeof(idstr), "%" PRId64, order_id);
    obj->order_id = order_id;
    enum p11p_status rc =
        p11p_attrlist_set_str(&obj->attrs, CKA_P11PORTAL_ORDER_ID, idstr);
    return rc == P11P_OK ? p11p_cache_object_update(t, obj) : rc;
}

/* How long the wait loop sleeps before the next step of o: the poll
 * interval for a pending order; for one waiting to be sent again or
 * reconciled, until its next attempt (the backoff and the portal's
 * Retry-After are honoured here too). */
static uint64_t step_wait_ms(const struct p11p_order *o, uint64_t poll_ms)
{
    int64_t now = p11p_clock_now();
    if (o->state != P11P_ORDER_NEW && o->state != P11P_ORDER_SUBMITTING) {
        return poll_ms;
    }
    return o->next_attempt > now ? (uint64_t)(o->next_attempt - now) * 1000
                                 : poll_ms;
}

/* Submits o (lock, SUBMITTING, driver) and then keeps stepping it (poll,
 * or submit again / reconcile after a failure) until it is final or the
 * wait budget is spent; no lock is held while sleeping. own_keys: the key
 * objects are the order's own (a synchronous rejection drops them). Fills
 * out. */
static enum p11p_status run_order(struct p11p_enroll *e, struct p11p_order *o,
                                  bool own_keys, struct p11p_enroll_result *out)
{
    char owner[64];
    uint64_t deadline = p11p_clock_deadline(e->conf->enroll_wait_ms);
    uint64_t wait = POLL_FIRST_MS;
    enum p11p_status rc;
    enum p11p_status drv = P11P_OK;
    bool locked = false;

    rc = p11p_submit_lock_owner(owner);
    if (rc == P11P_OK) {
        rc = p11p_submit_lock(e, o->id, owner);
        locked = rc == P11P_OK;
    }
    if (rc == P11P_OK) {
        rc = p11p_submit_order_locked(e, o, own_keys, &drv);
    }
    if (locked) {
        p11p_cache_lock_release(e->cache, o->id, owner);
        locked = false;
    }
    while (rc == P11P_OK && !p11p_order_is_final(o->state)) {
        uint64_t left = p11p_clock_left_ms(deadline);
        uint64_t w = step_wait_ms(o, wait);
        if (left == 0 || w >= left) {
            break; /* collected later */
        }
        p11p_clock_sleep_ms(w); /* no lock held */
        wait = wait * 2 < POLL_MAX_MS ? wait * 2 : POLL_MAX_MS;
        rc = p11p_submit_lock(e, o->id, owner);
        if (rc == P11P_ERR_BUSY) {
            rc = P11P_OK; /* another process works on it */
            break;
        }
        if (rc == P11P_OK) {
            rc = p11p_submit_step_locked(e, o, own_keys);
            p11p_cache_lock_release(e->cache, o->id, owner);
        }
    }
    out->order_id = o->id;
    out->cert_id = o->cert_object_id;
    out->state = o->state;
    if (o->last_error != NULL) {
        p11p_str_copy(out->message, sizeof(out->message), o->last_error);
    }
    if (rc == P11P_OK && o->state == P11P_ORDER_REJECTED) {
        rc = P11P_ERR_REJECTED; /* drv said so, or a synchronous poll */
    }
    if (rc == P11P_ERR_BUSY) {
        rc = P11P_OK; /* the order is safe in the cache; collected later */
    }
    return rc;
}

/* Generates the key pair of spec and completes both attribute lists (see
 * internal.h). */
enum p11p_status
p11p_engine_generate(struct p11p_enroll *e, const struct p11p_keygen_spec *spec,
                     struct p11p_attrlist *pub_attrs,
                     struct p11p_attrlist *priv_attrs, EVP_PKEY **out_pub,
                     struct p11p_cache_keyblob *out_blob, struct p11p_order *o)
{
    EVP_PKEY *pub = NULL;
    struct p11p_cache_keyblob blob;
    unsigned char defid[20];
    enum p11p_status rc;

    memset(&blob, 0, sizeof(blob));
    rc = p11p_keystore_generate(e->keys, spec, &pub, &blob);
    if (rc != P11P_OK) {
        goto out;
    }
    if (p11p_attrlist_get0(pub_attrs, CKA_ID) == NULL
        && p11p_attrlist_get0(priv_attrs, CKA_ID) == NULL) {
        rc = p11p_keyattrs_default_id(pub, defid);
        if (rc == P11P_OK) {
            rc = p11p_attrlist_set(pub_attrs, CKA_ID, defid, sizeof(defid));
        }
        if (rc == P11P_OK) {
            rc = p11p_attrlist_set(priv_attrs, CKA_ID, defid, sizeof(defid));
        }
    }
    if (rc == P11P_OK) {
        rc = p11p_keyattrs_add_public(pub, pub_attrs);
    }
    if (rc == P11P_OK) {
        rc = add_private_public(pub_attrs, priv_attrs);
    }
    if (rc == P11P_OK) {
        rc = p11p_keyattrs_spki_sha256(pub, o->pubkey_sha256);
    }
    if (rc != P11P_OK) {
        goto out;
    }
    take_ckaid(priv_attrs, pub_attrs, o);
    *out_pub = pub;
    pub = NULL;
    *out_blob = blob;
    memset(&blob, 0, sizeof(blob));
out:
    if (blob.blob != NULL) {
        p11p_keystore_destroy(e->keys, &blob); /* hsm: no orphan key */
        p11p_keystore_pending_done(e->keys);
    }
    p11p_cache_keyblob_clear(&blob);
    EVP_PKEY_free(pub);
    return rc;
}

enum p11p_status p11p_enroll_keypair(struct p11p_enroll *e,
                                     const struct p11p_keygen_spec *spec,
                                     const struct p11p_enroll_params *params,
                                     struct p11p_attrlist *pub_attrs,
                                     struct p11p_attrlist *priv_attrs,
                                     struct p11p_enroll_result *out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    EVP_PKEY *pub = NULL;
    struct p11p_cache_keyblob blob;
    struct p11p_key *key = NULL;
    struct p11p_cache_txn *t = NULL;
    struct p11p_cache_object pubobj;
    struct p11p_cache_object privobj;
    struct p11p_order o;
    char *label = NULL;
    bool stored = false, pending = false;

    memset(&blob, 0, sizeof(blob));
    memset(&pubobj, 0, sizeof(pubobj));
    memset(&privobj, 0, sizeof(privobj));
    memset(&o, 0, sizeof(o));
    memset(out, 0, sizeof(*out));
    label = params->label != NULL
                ? strdup(params->label)
                : p11p_attrlist_get_str(priv_attrs, CKA_LABEL);
    rc = p11p_engine_generate(e, spec, pub_attrs, priv_attrs, &pub, &blob, &o);
    if (rc != P11P_OK) {
        goto out;
    }
    pending = true; /* until the key's objects are committed or dropped */
    o.label = label;
    label = NULL;
    if (!params->no_enroll) {
        rc = p11p_keystore_load(e->keys, &blob, &key);
        if (rc != P11P_OK) {
            goto out;
        }
    }

    /* One transaction: MAC, key objects, order (with its CSR), order
     * object. */
    rc = p11p_cache_txn_begin(e->cache, &t);
    if (rc == P11P_OK && !params->no_enroll) {
        rc = expand_names(e, t, params, &o);
    }
    if (rc == P11P_OK && !params->no_enroll) {
        rc = p11p_csr_build(key, o.subject, o.sans, &o.csr_der, &o.csr_len);
    }
    if (rc == P11P_OK) {
        rc = p11p_engine_insert_keys(t, pub_attrs, priv_attrs, &blob, &pubobj,
                                     &privobj);
    }
    if (rc == P11P_OK && params->no_enroll) {
        rc = p11p_cache_txn_commit(t);
        t = NULL;
        stored = rc == P11P_OK;
        out->pub_id = pubobj.id;
        out->priv_id = privobj.id;
        out->state = P11P_ORDER_NEW;
        goto out;
    }
    if (rc == P11P_OK) {
        o.state = P11P_ORDER_NEW;
        o.driver = strdup(e->conf->driver != NULL ? e->conf->driver : "local");
        o.profile = p11p_str_dup(params->profile != NULL ? params->profile
                                                         : e->conf->profile);
        o.term_days =
            params->term_days != 0 ? params->term_days : e->conf->term_days;
        o.pub_object_id = pubobj.id;
        o.priv_object_id = privobj.id;
        rc = o.driver != NULL ? P11P_OK : P11P_ERR_NOMEM;
    }
    if (rc == P11P_OK && params->defer_submit) {
        rc = p11p_job_defer(&o); /* issue 7: a portal job submits it (job.c) */
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
              "token \"%s\": order %" PRId64 " (label %s): new, "
              "subject %s%s%s",
              p11p_submit_token_name(e), o.id, o.label != NULL ? o.label : "",
              o.subject, o.sans != NULL ? ", SANs " : "",
              o.sans != NULL ? o.sans : "");
    if (params->defer_submit) { /* submitted by p11p_enroll_submit_job */
        out->order_id = o.id;
        out->state = o.state;
        goto out;
    }
    rc = run_order(e, &o, true, out);
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
    free(label);
    p11p_key_unref(key);
    EVP_PKEY_free(pub);
    p11p_cache_keyblob_clear(&blob);
    p11p_attrlist_clear(&pubobj.attrs);
    p11p_attrlist_clear(&privobj.attrs);
    p11p_order_clear(&o);
    return rc;
}

/* ---- a CSR given by the application ---- */

/* Takes obj as the key of o: its id, CKA_ID and label. */
static void take_key(const struct p11p_cache_object *obj, struct p11p_order *o)
{
    const CK_ATTRIBUTE *id = p11p_attrlist_get0(&obj->attrs, CKA_ID);

    o->priv_object_id = obj->id;
    if (id != NULL && id->ulValueLen <= sizeof(o->ckaid)) {
        memcpy(o->ckaid, id->pValue, id->ulValueLen);
        o->ckaid_len = id->ulValueLen;
    }
    free(o->label);
    o->label = p11p_attrlist_get_str(&obj->attrs, CKA_LABEL);
}

/* Whether private key object id has the public key spki (its
 * CKA_PUBLIC_KEY_INFO). */
static bool key_has_spki(struct p11p_enroll *e, int64_t id,
                         const unsigned char *spki, int spki_len,
                         struct p11p_cache_object *obj)
{
    const CK_ATTRIBUTE *a;

    if (p11p_cache_object_get(e->cache, id, obj) != P11P_OK) {
        return false;
    }
    a = p11p_attrlist_get0(&obj->attrs, CKA_PUBLIC_KEY_INFO);
    if (a != NULL && a->ulValueLen == (CK_ULONG)spki_len
        && memcmp(a->pValue, spki, (size_t)spki_len) == 0) {
        return true;
    }
    p11p_cache_object_clear(obj);
    return false;
}

/* The private key of the CSR's public key, if the token has it: first by
 * the default CKA_ID (keys generated here), else by comparing public keys
 * (keys adopted from a backing HSM or imported keep other ids). */
static void find_key_for(struct p11p_enroll *e, EVP_PKEY *pub,
                         struct p11p_order *o)
{
    unsigned char id[20];
    struct p11p_cache_filter f;
    int64_t *ids = NULL;
    size_t n = 0;
    struct p11p_cache_object obj;
    unsigned char *spki = NULL;
    int spki_len;

    memset(&f, 0, sizeof(f));
    memset(&obj, 0, sizeof(obj));
    f.has_class = true;
    f.klass = CKO_PRIVATE_KEY;
    if (p11p_keyattrs_default_id(pub, id) == P11P_OK) {
        f.ckaid = id;
        f.ckaid_len = sizeof(id);
        if (p11p_cache_object_find(e->cache, &f, &ids, &n) == P11P_OK && n > 0
            && p11p_cache_object_get(e->cache, ids[0], &obj) == P11P_OK) {
            take_key(&obj, o);
            goto out;
        }
        free(ids);
        ids = NULL;
        n = 0;
    }
    spki_len = i2d_PUBKEY(pub, &spki);
    f.ckaid = NULL;
    f.ckaid_len = 0;
    if (spki_len <= 0
        || p11p_cache_object_find(e->cache, &f, &ids, &n) != P11P_OK) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (key_has_spki(e, ids[i], spki, spki_len, &obj)) {
            take_key(&obj, o);
            break;
        }
    }
out:
    OPENSSL_free(spki);
    p11p_cache_object_clear(&obj);
    free(ids);
}

enum p11p_status p11p_enroll_csr(struct p11p_enroll *e,
                                 const unsigned char *csr_der, size_t csr_len,
                                 const struct p11p_enroll_params *params,
                                 const unsigned char *ckaid, size_t ckaid_len,
                                 struct p11p_enroll_result *out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    EVP_PKEY *pub = NULL;
    struct p11p_order o;
    struct p11p_cache_txn *t = NULL;

    memset(&o, 0, sizeof(o));
    memset(out, 0, sizeof(*out));
    rc = p11p_csr_inspect(csr_der, csr_len, &pub, &o.subject);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_keyattrs_spki_sha256(pub, o.pubkey_sha256);
    if (rc != P11P_OK) {
        goto out;
    }
    if (ckaid != NULL && ckaid_len <= sizeof(o.ckaid)) {
        memcpy(o.ckaid, ckaid, ckaid_len);
        o.ckaid_len = ckaid_len;
    }
    o.label = p11p_str_dup(params->label);
    find_key_for(e, pub, &o);
    o.csr_der = malloc(csr_len);
    o.driver = strdup(e->conf->driver != NULL ? e->conf->driver : "local");
    o.profile = p11p_str_dup(params->profile != NULL ? params->profile
                                                     : e->conf->profile);
    o.sans = p11p_str_dup(params->sans);
    if (o.csr_der == NULL || o.driver == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    memcpy(o.csr_der, csr_der, csr_len);
    o.csr_len = csr_len;
    o.term_days =
        params->term_days != 0 ? params->term_days : e->conf->term_days;
    o.state = P11P_ORDER_NEW;
    rc = p11p_cache_txn_begin(e->cache, &t);
    if (rc == P11P_OK) {
        rc = insert_order(t, &o);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_commit(t);
        t = NULL;
    }
    if (rc == P11P_OK) {
        /* The key (if the token has it) is the application's, not this
         * order's: a rejection never removes it. */
        rc = run_order(e, &o, false, out);
    }
out:
    p11p_cache_txn_rollback(t);
    EVP_PKEY_free(pub);
    p11p_order_clear(&o);
    return rc;
}

/* ---- background collection ---- */

/* True if this run may go ahead (rate limit), recording its time. */
static enum p11p_status claim_run(struct p11p_enroll *e, bool force,
                                  bool *out_go)
{
    char *last = NULL;
    uint64_t when = 0;
    int64_t now = p11p_clock_now();
    struct p11p_cache_txn *t = NULL;
    char buf[32];
    enum p11p_status rc;

    *out_go = false;
    rc = p11p_cache_meta_get(e->cache, "last_collect", &last);
    if (rc != P11P_OK) {
        goto out;
    }
    if (!force && last != NULL
        && p11p_str_to_u64(last, 0, INT64_MAX, &when) == P11P_OK
        && now >= (int64_t)when
        && now - (int64_t)when < (int64_t)e->conf->refresh_interval_s) {
        goto out;
    }
    snprintf(buf, sizeof(buf), "%" PRId64, now);
    rc = p11p_cache_txn_begin(e->cache, &t);
    if (rc == P11P_OK) {
        rc = p11p_cache_meta_set(t, "last_collect", buf);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_commit(t);
        t = NULL;
    }
    *out_go = rc == P11P_OK;
out:
    p11p_cache_txn_rollback(t);
    free(last);
    return rc;
}

enum p11p_status p11p_enroll_collect(struct p11p_enroll *e, unsigned budget_ms,
                                     bool force, size_t *out_changed)
{
    const uint32_t mask = (1u << P11P_ORDER_NEW) | (1u << P11P_ORDER_SUBMITTING)
                          | (1u << P11P_ORDER_SUBMITTED)
                          | (1u << P11P_ORDER_PENDING_APPROVAL)
                          | (1u << P11P_ORDER_PROCESSING);
    uint64_t deadline = p11p_clock_deadline(budget_ms);
    struct p11p_order *list = NULL;
    size_t n = 0;
    size_t changed = 0;
    bool go = false;
    enum p11p_status rc;

    if (out_changed != NULL) {
        *out_changed = 0;
    }
    rc = claim_run(e, force, &go);
    if (rc != P11P_OK || !go) {
        goto out;
    }
    rc = p11p_cache_order_list(e->cache, mask, p11p_clock_now(), COLLECT_BATCH,
                               &list, &n);
    if (rc != P11P_OK) {
        goto out;
    }
    /* No request of this run may outlast the budget by much: a portal that
     * does not answer costs the caller at most COLLECT_MIN_REQUEST_MS. */
    p11p_http_thread_deadline(p11p_clock_deadline(
        budget_ms > COLLECT_MIN_REQUEST_MS ? budget_ms
                                           : COLLECT_MIN_REQUEST_MS));
    (void)p11p_job_collect(e, deadline, &changed); /* issue 7: job.c */
    for (size_t i = 0; i < n && p11p_clock_left_ms(deadline) > 0; i++) {
        struct p11p_order after;
        memset(&after, 0, sizeof(after));
        rc = p11p_submit_step(e, list[i].id);
        if (rc != P11P_OK) {
            P11P_DEBUG(COMP, "token \"%s\": order %" PRId64 ": %s",
                       p11p_submit_token_name(e), list[i].id,
                       p11p_status_text(rc));
            rc = P11P_OK; /* logged where it failed; next order */
        }
        if (p11p_cache_order_get(e->cache, list[i].id, &after) == P11P_OK
            && after.state != list[i].state) {
            changed++;
        }
        p11p_order_clear(&after);
    }
    p11p_http_thread_deadline(0);
    if (out_changed != NULL) {
        *out_changed = changed;
    }
out:
    p11p_cache_order_list_free(list, n);
    return rc;
}

/* ---- shared with renew.c and adopt.c (internal.h) ---- */

enum p11p_status p11p_engine_insert_keys(struct p11p_cache_txn *t,
                                         const struct p11p_attrlist *pub_attrs,
                                         const struct p11p_attrlist *priv_attrs,
                                         const struct p11p_cache_keyblob *blob,
                                         struct p11p_cache_object *pubobj,
                                         struct p11p_cache_object *privobj)
{
    enum p11p_status rc;

    pubobj->klass = CKO_PUBLIC_KEY;
    rc = p11p_attrlist_merge(&pubobj->attrs, pub_attrs);
    if (rc == P11P_OK) {
        rc = p11p_cache_object_insert(t, pubobj, NULL);
    }
    if (rc == P11P_OK) {
        privobj->klass = CKO_PRIVATE_KEY;
        rc = p11p_attrlist_merge(&privobj->attrs, priv_attrs);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_object_insert(t, privobj, blob);
    }
    return rc;
}

enum p11p_status p11p_engine_insert_order_for(struct p11p_cache_txn *t,
                                              struct p11p_order *o,
                                              struct p11p_cache_object *pubobj,
                                              struct p11p_cache_object *privobj)
{
    enum p11p_status rc;

    o->pub_object_id = pubobj->id;
    o->priv_object_id = privobj->id;
    rc = insert_order(t, o);
    if (rc == P11P_OK) {
        rc = tag_object(t, pubobj, o->id);
    }
    if (rc == P11P_OK) {
        rc = tag_object(t, privobj, o->id);
    }
    return rc;
}

enum p11p_status p11p_engine_insert_order(struct p11p_cache_txn *t,
                                          struct p11p_order *o)
{
    return insert_order(t, o);
}

enum p11p_status p11p_engine_tag_object(struct p11p_cache_txn *t,
                                        struct p11p_cache_object *obj,
                                        int64_t order_id)
{
    return tag_object(t, obj, order_id);
}

enum p11p_status p11p_engine_run_order(struct p11p_enroll *e,
                                       struct p11p_order *o, bool own_keys,
                                       struct p11p_enroll_result *out)
{
    return run_order(e, o, own_keys, out);
}

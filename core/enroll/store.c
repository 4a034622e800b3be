/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Storing an issued certificate (see internal.h): the certificate is
 * checked (public key is the order's, chain verifies to the driver's or the
 * token's anchors) and then the certificate object, the deduplicated chain
 * objects and the order's ISSUED state are written in one transaction; a
 * certificate that fails a check is not stored and the order is FAILED.
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
#include "core/enroll/csr.h"
#include "core/enroll/internal.h"
#include "core/enroll/order.h"
#include "core/enroll/orderobj.h"
#include "core/enroll/verify.h"
#include "p11portal/pkcs11-vendor.h"

#define COMP "enroll"

/* ---- storing an issued certificate ---- */

/* CKA_LABEL (subject CN) and CKA_ID (subject key id) of a CA certificate. */
static void ca_label_id(const unsigned char *der, size_t len, char *label,
                        size_t label_size, unsigned char *id, size_t *id_len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    const ASN1_OCTET_STRING *ski =
        x != NULL ? X509_get0_subject_key_id(x) : NULL;
    label[0] = '\0';
    *id_len = 0;
    if (x != NULL
        && X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
                                     label, (int)label_size)
               < 0) {
        label[0] = '\0';
    }
    if (ski != NULL && ASN1_STRING_length(ski) <= 64) {
        *id_len = (size_t)ASN1_STRING_length(ski);
        memcpy(id, ASN1_STRING_get0_data(ski), *id_len);
    }
    X509_free(x);
}

static enum p11p_status sha256(const unsigned char *d, size_t n,
                               unsigned char out[32])
{
    EVP_MD *md = EVP_MD_fetch(p11p_ossl_libctx(), "SHA256", NULL);
    unsigned len = 32;
    enum p11p_status rc = P11P_ERR_CRYPTO;
    if (md != NULL && EVP_Digest(d, n, out, &len, md, NULL) == 1) {
        rc = P11P_OK;
    }
    EVP_MD_free(md);
    return rc;
}

/* Inserts one chain certificate unless an equal one exists (in t). */
enum p11p_status p11p_store_chain_cert(struct p11p_enroll *e,
                                       struct p11p_cache_txn *t,
                                       const unsigned char *der, size_t len)
{
    unsigned char h[32];
    struct p11p_cache_filter f;
    int64_t *ids = NULL;
    size_t n = 0;
    struct p11p_cache_object obj;
    char label[256];
    unsigned char id[64];
    size_t id_len = 0;
    enum p11p_status rc;

    memset(&obj, 0, sizeof(obj));
    memset(&f, 0, sizeof(f));
    rc = sha256(der, len, h);
    if (rc != P11P_OK) {
        goto out;
    }
    f.has_class = true;
    f.klass = CKO_CERTIFICATE;
    f.value_sha256 = h;
    rc = p11p_cache_object_find(e->cache, &f, &ids, &n);
    if (rc != P11P_OK || n > 0) {
        goto out;
    }
    ca_label_id(der, len, label, sizeof(label), id, &id_len);
    obj.klass = CKO_CERTIFICATE;
    rc = p11p_certobj_attrs(der, len, label[0] != '\0' ? label : NULL,
                            id_len > 0 ? id : NULL, id_len, 2, &obj.attrs);
    if (rc == P11P_OK) {
        rc = p11p_cache_object_insert(t, &obj, NULL);
    }
out:
    free(ids);
    p11p_attrlist_clear(&obj.attrs);
    return rc;
}

/* The SubjectPublicKeyInfo DER of the order's key, from its CSR. */
static enum p11p_status order_spki(const struct p11p_order *o,
                                   unsigned char **out, size_t *out_len)
{
    EVP_PKEY *pub = NULL;
    unsigned char *der = NULL;
    int n;
    enum p11p_status rc;

    *out = NULL;
    if (o->csr_der == NULL) {
        return P11P_ERR_INTERNAL;
    }
    rc = p11p_csr_inspect(o->csr_der, o->csr_len, &pub, NULL);
    if (rc != P11P_OK) {
        return rc;
    }
    n = i2d_PUBKEY(pub, &der);
    EVP_PKEY_free(pub);
    if (n <= 0) {
        return P11P_ERR_CRYPTO;
    }
    *out = der;
    *out_len = (size_t)n;
    return P11P_OK;
}

/* Checks res's certificate; why says what failed. */
static enum p11p_status check_cert(struct p11p_enroll *e,
                                   const struct p11p_order *o,
                                   const struct p11p_remote_result *res,
                                   char *why, size_t why_size)
{
    const struct p11p_driver *d = p11p_remote_driver(e->remote);
    struct p11p_remote_result trust;
    struct p11p_verify_ders chain = { res->chain_der, res->chain_lens,
                                      res->chain_n };
    struct p11p_verify_ders anchors = { NULL, NULL, 0 };
    unsigned char *spki = NULL;
    size_t spki_len = 0;
    enum p11p_status rc;

    memset(&trust, 0, sizeof(trust));
    rc = order_spki(o, &spki, &spki_len);
    if (rc == P11P_OK) {
        rc =
            p11p_verify_key_match(res->cert_der, res->cert_len, spki, spki_len);
    }
    if (rc != P11P_OK) {
        snprintf(why, why_size, "certificate does not match the key");
        goto out;
    }
    if (d->trust != NULL) {
        rc = d->trust(p11p_remote_state(e->remote), &trust);
        if (rc != P11P_OK) {
            snprintf(why, why_size, "the driver gave no trust anchors");
            goto out;
        }
        anchors.der = trust.chain_der;
        anchors.len = trust.chain_lens;
        anchors.n = trust.chain_n;
    }
    rc = p11p_verify_chain(p11p_submit_token_name(e), res->cert_der,
                           res->cert_len, &chain, &anchors,
                           e->conf->trust_anchors, why, why_size);
out:
    OPENSSL_free(spki);
    p11p_remote_result_clear(&trust);
    return rc;
}

/* The certificate object, chain objects and order ISSUED, in one
 * transaction; or order FAILED if the certificate does not check out. */
enum p11p_status p11p_store_issued(struct p11p_enroll *e, struct p11p_order *o,
                                   const struct p11p_remote_result *res)
{
    enum p11p_order_event evs[P11P_ENROLL_MAX_EVENTS];
    size_t n_ev = 0;
    enum p11p_order_state from = o->state;
    struct p11p_cache_txn *t = NULL;
    struct p11p_cache_object cert;
    char why[512];
    char idstr[32];
    enum p11p_status rc;

    memset(&cert, 0, sizeof(cert));
    if (o->state == P11P_ORDER_SUBMITTING) {
        evs[n_ev++] = P11P_ORDER_EV_ACCEPTED;
    }
    if (res->cert_der == NULL
        || check_cert(e, o, res, why, sizeof(why)) != P11P_OK) {
        if (res->cert_der == NULL) {
            snprintf(why, sizeof(why), "the portal sent no certificate");
        }
        bool again =
            o->portal_id != NULL && o->attempts < P11P_ENROLL_MAX_BAD_CERTS;
        P11P_ERROR(COMP,
                   "token \"%s\": order %" PRId64 " (label %s), portal id "
                   "%s: %s; the certificate is not stored%s",
                   p11p_submit_token_name(e), o->id,
                   o->label != NULL ? o->label : "",
                   o->portal_id != NULL ? o->portal_id : "", why,
                   again ? "; will collect it again later" : "");
        if (again) {
            /* The portal has the order (and most likely the right
             * certificate): keep it, collect again after a backoff. */
            p11p_submit_retry_later(o, 0);
        } else {
            evs[n_ev++] = P11P_ORDER_EV_FAIL;
        }
        rc = p11p_submit_set_str(&o->last_error, why);
        return rc == P11P_OK ? p11p_submit_advance(e, NULL, o, evs, n_ev) : rc;
    }
    evs[n_ev++] = P11P_ORDER_EV_ISSUE;
    snprintf(idstr, sizeof(idstr), "%" PRId64, o->id);
    cert.klass = CKO_CERTIFICATE;
    cert.order_id = o->id;
    rc = p11p_certobj_attrs(res->cert_der, res->cert_len, o->label, o->ckaid,
                            o->ckaid_len, 1, &cert.attrs);
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_str(&cert.attrs, CKA_P11PORTAL_ORDER_ID, idstr);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_begin(e->cache, &t);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_object_insert(t, &cert, NULL);
    }
    for (size_t i = 0; rc == P11P_OK && i < res->chain_n; i++) {
        rc = p11p_store_chain_cert(e, t, res->chain_der[i], res->chain_lens[i]);
    }
    if (rc == P11P_OK) {
        o->cert_object_id = cert.id;
        o->attempts = 0;
        o->next_attempt = 0;
        rc = p11p_submit_set_str(&o->last_error, NULL);
    }
    if (rc == P11P_OK) {
        rc = p11p_submit_advance(e, t, o, evs, n_ev);
    }
    if (rc == P11P_OK && o->renews_order_id != 0) {
        rc = p11p_renew_finish(e, t, o); /* issue 7: old order RENEWED */
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_commit(t);
        t = NULL;
    }
    if (rc == P11P_OK) {
        p11p_submit_log_change(e, o, from);
        /* hsm backend with hsm_write_certs: station software reading the
         * HSM directly sees the certificate too; failures are logged there
         * and never undo the stored certificate. */
        (void)p11p_keystore_store_cert(e->keys, res->cert_der, res->cert_len,
                                       o->ckaid, o->ckaid_len, o->label);
    } else {
        o->state = from;
        o->cert_object_id = 0;
    }
    p11p_cache_txn_rollback(t);
    p11p_attrlist_clear(&cert.attrs);
    return rc;
}

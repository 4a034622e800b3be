/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Adoption (p11p_enroll_adopt, issue 7): links the portal's certificates
 * of keys that are on the token without a certificate (a reinstall, a
 * wiped cache, keys made by other tools). For each such private key the
 * driver's find is asked by public key alone (request token NULL, the
 * SHA-256 of the SubjectPublicKeyInfo); an issued certificate found is
 * checked and stored by the same code as any issued order
 * (p11p_store_issued: the public key must be the key's, the chain must
 * verify), with its chain and an order record that walks the transition
 * table NEW -> SUBMITTING -> SUBMITTED -> ISSUED. The order carries a CSR
 * signed by the key (the checks compare the certificate with it), so the
 * user must be logged in.
 *
 * hsm backend: the keys of the backing HSM are first brought into the
 * cache (p11p_keystore_adopt), so a fresh cache over the same HSM finds
 * them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/ossl.h"
#include "core/base/str.h"
#include "core/enroll/csr.h"
#include "core/enroll/internal.h"
#include "core/enroll/order.h"
#include "p11portal/pkcs11-vendor.h"

#define COMP "enroll"
/* Collectors leave a freshly adopted order alone this long (it is being
 * stored). */
#define ADOPT_QUIET_S 60

/* The public key of private key object priv (its CKA_PUBLIC_KEY_INFO, else
 * the public key object with its CKA_ID). */
static enum p11p_status key_public(struct p11p_enroll *e,
                                   const struct p11p_cache_object *priv,
                                   EVP_PKEY **out)
{
    const CK_ATTRIBUTE *a =
        p11p_attrlist_get0(&priv->attrs, CKA_PUBLIC_KEY_INFO);
    const CK_ATTRIBUTE *id = p11p_attrlist_get0(&priv->attrs, CKA_ID);
    struct p11p_cache_filter f;
    struct p11p_cache_object pub;
    int64_t *ids = NULL;
    size_t n = 0;
    const unsigned char *p = NULL;
    enum p11p_status rc = P11P_ERR_NOT_FOUND;

    *out = NULL;
    if (a != NULL && a->ulValueLen > 0) {
        p = a->pValue;
        *out = d2i_PUBKEY(NULL, &p, (long)a->ulValueLen);
        if (*out != NULL) {
            return P11P_OK;
        }
    }
    memset(&f, 0, sizeof(f));
    memset(&pub, 0, sizeof(pub));
    if (id == NULL || id->ulValueLen == 0) {
        return P11P_ERR_NOT_FOUND;
    }
    f.has_class = true;
    f.klass = CKO_PUBLIC_KEY;
    f.ckaid = id->pValue;
    f.ckaid_len = id->ulValueLen;
    rc = p11p_cache_object_find(e->cache, &f, &ids, &n);
    if (rc == P11P_OK) {
        rc = n > 0 ? p11p_cache_object_get(e->cache, ids[0], &pub)
                   : P11P_ERR_NOT_FOUND;
    }
    if (rc == P11P_OK) {
        rc = p11p_keyattrs_to_public(&pub.attrs, out);
    }
    p11p_cache_object_clear(&pub);
    free(ids);
    return rc;
}

/* True if priv needs a certificate: it has a CKA_ID, no certificate object
 * has that CKA_ID, and no open order of it is under way. */
static bool wants_cert(struct p11p_enroll *e,
                       const struct p11p_cache_object *priv)
{
    const CK_ATTRIBUTE *id = p11p_attrlist_get0(&priv->attrs, CKA_ID);
    struct p11p_cache_filter f;
    struct p11p_order o;
    int64_t *ids = NULL;
    size_t n = 0;
    bool want = false;

    memset(&f, 0, sizeof(f));
    memset(&o, 0, sizeof(o));
    if (id == NULL || id->ulValueLen == 0 || id->ulValueLen > sizeof(o.ckaid)) {
        return false;
    }
    f.has_class = true;
    f.klass = CKO_CERTIFICATE;
    f.ckaid = id->pValue;
    f.ckaid_len = id->ulValueLen;
    if (p11p_cache_object_find(e->cache, &f, &ids, &n) == P11P_OK && n == 0) {
        want = true;
    }
    free(ids);
    if (want && priv->order_id != 0
        && p11p_cache_order_get(e->cache, priv->order_id, &o) == P11P_OK
        && !p11p_order_is_final(o.state)) {
        want = false; /* pending: the collector brings its certificate */
    }
    p11p_order_clear(&o);
    return want;
}

/* The subject of a DER certificate as "CN=a,O=b" (new string). */
static char *cert_subject(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    BIO *b = BIO_new(BIO_s_mem());
    char *s = NULL;
    char *data = NULL;
    long n = 0;

    if (x != NULL && b != NULL
        && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253)
               >= 0) {
        n = BIO_get_mem_data(b, &data);
        if (n > 0) {
            s = strndup(data, (size_t)n);
        }
    }
    BIO_free(b);
    X509_free(x);
    return s;
}

/* Stores res's certificate for priv with a new order record. *out_linked:
 * the order is ISSUED. */
static enum p11p_status link_cert(struct p11p_enroll *e,
                                  struct p11p_cache_object *priv,
                                  const unsigned char spki_sha[32],
                                  struct p11p_remote_result *res,
                                  bool *out_linked)
{
    enum p11p_order_event evs[2] = { P11P_ORDER_EV_SUBMIT,
                                     P11P_ORDER_EV_ACCEPTED };
    const CK_ATTRIBUTE *id = p11p_attrlist_get0(&priv->attrs, CKA_ID);
    struct p11p_cache_keyblob blob;
    struct p11p_key *key = NULL;
    struct p11p_cache_txn *t = NULL;
    struct p11p_order o;
    enum p11p_status rc;

    *out_linked = false;
    memset(&blob, 0, sizeof(blob));
    memset(&o, 0, sizeof(o));
    o.state = P11P_ORDER_NEW;
    o.driver = strdup(e->conf->driver != NULL ? e->conf->driver : "local");
    o.profile = p11p_str_dup(e->conf->profile);
    o.label = p11p_attrlist_get_str(&priv->attrs, CKA_LABEL);
    o.subject = cert_subject(res->cert_der, res->cert_len);
    o.portal_id = strdup(res->portal_id);
    memcpy(o.ckaid, id->pValue, id->ulValueLen);
    o.ckaid_len = id->ulValueLen;
    memcpy(o.pubkey_sha256, spki_sha, 32);
    o.priv_object_id = priv->id;
    o.next_attempt = p11p_clock_now() + ADOPT_QUIET_S;
    /* A certificate that does not check out fails the order at once
     * (there is nothing to collect again). */
    o.attempts = P11P_ENROLL_MAX_BAD_CERTS;
    if (o.driver == NULL || o.subject == NULL || o.portal_id == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    rc = p11p_cache_keyblob_get(e->cache, priv->id, &blob);
    if (rc == P11P_OK) {
        rc = p11p_keystore_load(e->keys, &blob, &key);
    }
    if (rc == P11P_OK) {
        rc = p11p_csr_build(key, o.subject, NULL, &o.csr_der, &o.csr_len);
        if (rc == P11P_ERR_INVALID_INPUT) {
            /* A subject our CSR builder cannot write: the CSR only
             * carries the key for the checks. */
            rc =
                p11p_csr_build(key, "CN=adopted", NULL, &o.csr_der, &o.csr_len);
        }
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_begin(e->cache, &t);
    }
    if (rc == P11P_OK) {
        rc = p11p_engine_insert_order(t, &o);
    }
    if (rc == P11P_OK) {
        rc = p11p_submit_advance(e, t, &o, evs, 2);
    }
    if (rc == P11P_OK) {
        rc = p11p_engine_tag_object(t, priv, o.id);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_commit(t);
        t = NULL;
    }
    if (rc == P11P_OK) {
        rc = p11p_store_issued(e, &o, res);
    }
    if (rc == P11P_OK && o.state == P11P_ORDER_ISSUED) {
        *out_linked = true;
        P11P_INFO(COMP,
                  "token \"%s\": key %s: adopted portal certificate %s as "
                  "order %" PRId64,
                  p11p_submit_token_name(e), o.label != NULL ? o.label : "",
                  o.portal_id, o.id);
    }
out:
    p11p_cache_txn_rollback(t);
    p11p_key_unref(key);
    p11p_cache_keyblob_clear(&blob);
    p11p_order_clear(&o);
    return rc;
}

/* Asks the portal for priv's certificate and links it. */
static enum p11p_status adopt_one(struct p11p_enroll *e,
                                  struct p11p_cache_object *priv,
                                  bool *out_linked)
{
    const struct p11p_driver *d = p11p_remote_driver(e->remote);
    struct p11p_remote_result res;
    EVP_PKEY *pub = NULL;
    unsigned char sha[32];
    char *label = p11p_attrlist_get_str(&priv->attrs, CKA_LABEL);
    enum p11p_status rc;

    *out_linked = false;
    memset(&res, 0, sizeof(res));
    rc = key_public(e, priv, &pub);
    if (rc == P11P_OK) {
        rc = p11p_keyattrs_spki_sha256(pub, sha);
    }
    if (rc != P11P_OK) {
        P11P_WARN(COMP,
                  "token \"%s\": key %s (object %" PRId64 "): its public key "
                  "is unknown; skipped",
                  p11p_submit_token_name(e), label != NULL ? label : "",
                  priv->id);
        rc = P11P_OK;
        goto out;
    }
    rc = d->find(p11p_remote_state(e->remote), NULL, sha, &res);
    if (rc != P11P_OK || res.state != P11P_REMOTE_ISSUED
        || res.cert_der == NULL) {
        P11P_INFO(COMP,
                  "token \"%s\": key %s: no issued certificate at the portal "
                  "(%s%s%s)",
                  p11p_submit_token_name(e), label != NULL ? label : "",
                  p11p_status_text(rc), res.message[0] != '\0' ? ": " : "",
                  res.message);
        /* Portal trouble: reported, the next key may still work. */
        rc = rc == P11P_ERR_PORTAL_AUTH || rc == P11P_ERR_RATE_LIMITED
                 ? rc
                 : P11P_OK;
        goto out;
    }
    rc = link_cert(e, priv, sha, &res, out_linked);
out:
    p11p_remote_result_clear(&res);
    EVP_PKEY_free(pub);
    free(label);
    return rc;
}

enum p11p_status p11p_enroll_adopt(struct p11p_enroll *e, size_t *out_n)
{
    struct p11p_cache_filter f;
    int64_t *ids = NULL;
    size_t n = 0;
    size_t linked = 0;
    size_t hsm_n = 0;
    enum p11p_status rc;

    memset(&f, 0, sizeof(f));
    rc = p11p_keystore_adopt(e->keys, e->cache, &hsm_n);
    if (rc != P11P_OK) {
        goto out;
    }
    if (hsm_n > 0) {
        P11P_INFO(COMP,
                  "token \"%s\": %zu keys of the HSM taken into the "
                  "cache",
                  p11p_submit_token_name(e), hsm_n);
    }
    f.has_class = true;
    f.klass = CKO_PRIVATE_KEY;
    rc = p11p_cache_object_find(e->cache, &f, &ids, &n);
    for (size_t i = 0; rc == P11P_OK && i < n; i++) {
        struct p11p_cache_object priv;
        bool ok = false;
        memset(&priv, 0, sizeof(priv));
        rc = p11p_cache_object_get(e->cache, ids[i], &priv);
        if (rc == P11P_ERR_NOT_FOUND) {
            rc = P11P_OK; /* deleted meanwhile */
        } else if (rc == P11P_OK && wants_cert(e, &priv)) {
            rc = adopt_one(e, &priv, &ok);
            linked += ok ? 1 : 0;
        }
        p11p_cache_object_clear(&priv);
    }
    if (rc == P11P_OK) {
        *out_n = linked;
    }
out:
    free(ids);
    return rc;
}

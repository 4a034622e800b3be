/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hsm backend's two additions on top of the keystore vtable (see
 * keystore.c): adopting private keys that already live in the backing
 * token (they become p11portal key objects with an "hsm" blob, so they are
 * listed, usable, and a certificate can be enrolled for them through a CSR
 * data object), and writing issued certificates into the backing token
 * (hsm_write_certs) so station software reading the HSM directly sees
 * them next to their keys.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "core/base/log.h"
#include "core/base/str.h"
#include "core/keys/hsm.h"

#define COMP       "keys"
#define FIND_BATCH 64u
#define MAX_ADOPT  100000u
#define MAX_LABEL  256u

static const CK_BBOOL yes = CK_TRUE;
static const CK_BBOOL no = CK_FALSE;

/* One attribute of a backing object into buf (at most cap bytes); false if
 * unavailable. */
static bool get_one(struct p11p_hsm_token *t, CK_SESSION_HANDLE s,
                    CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, void *buf,
                    size_t cap, size_t *len)
{
    CK_ATTRIBUTE a = { type, buf, cap };
    CK_RV rv;

    p11p_hsm_module_enter(t, false);
    rv = t->fl->C_GetAttributeValue(s, h, &a, 1);
    p11p_hsm_module_leave(t, false);
    if (rv != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION
        || a.ulValueLen > cap) {
        return false;
    }
    *len = a.ulValueLen;
    return true;
}

static bool get_bool(struct p11p_hsm_token *t, CK_SESSION_HANDLE s,
                     CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, bool dflt)
{
    CK_BBOOL v = CK_FALSE;
    size_t len = 0;

    return get_one(t, s, h, type, &v, sizeof(v), &len) && len == sizeof(v)
               ? v == CK_TRUE
               : dflt;
}

/* All private keys of the backing token (*out: new array). */
static enum p11p_status list_private(struct p11p_hsm_token *t,
                                     CK_SESSION_HANDLE s,
                                     CK_OBJECT_HANDLE **out, size_t *out_n)
{
    CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl = { CKA_CLASS, &klass, sizeof(klass) };
    CK_OBJECT_HANDLE *all = NULL, *grown;
    size_t n = 0;
    CK_ULONG got = 0;
    CK_RV rv;

    *out = NULL;
    *out_n = 0;
    p11p_hsm_module_enter(t, false);
    rv = t->fl->C_FindObjectsInit(s, &tmpl, 1);
    if (rv != CKR_OK) {
        p11p_hsm_module_leave(t, false);
        return p11p_hsm_module_fail(t, "C_FindObjectsInit", rv,
                                    "listing keys to adopt");
    }
    do {
        grown = n < MAX_ADOPT ? realloc(all, (n + FIND_BATCH) * sizeof(*all))
                              : NULL;
        if (grown == NULL) {
            break;
        }
        all = grown;
        rv = t->fl->C_FindObjects(s, all + n, FIND_BATCH, &got);
        n += rv == CKR_OK ? got : 0;
    } while (rv == CKR_OK && got == FIND_BATCH);
    t->fl->C_FindObjectsFinal(s);
    p11p_hsm_module_leave(t, false);
    if (rv != CKR_OK) {
        free(all);
        return p11p_hsm_module_fail(t, "C_FindObjects", rv,
                                    "listing keys to adopt");
    }
    *out = all;
    *out_n = n;
    return P11P_OK;
}

/* Whether the cache already has a private key object with this CKA_ID. */
static enum p11p_status known(struct p11p_cache *cache, const unsigned char *id,
                              size_t id_len, bool *out)
{
    struct p11p_cache_filter f;
    int64_t *ids = NULL;
    size_t n = 0;
    enum p11p_status rc;

    memset(&f, 0, sizeof(f));
    f.has_class = true;
    f.klass = CKO_PRIVATE_KEY;
    f.ckaid = id;
    f.ckaid_len = id_len;
    rc = p11p_cache_object_find(cache, &f, &ids, &n);
    free(ids);
    *out = n > 0;
    return rc;
}

/* The public key of backing private key h: from the backing public key
 * with the same CKA_ID, else (RSA) from the private key itself. */
static enum p11p_status public_of(struct p11p_hsm_token *t, CK_SESSION_HANDLE s,
                                  CK_OBJECT_HANDLE h, CK_KEY_TYPE kt,
                                  const unsigned char *id, size_t id_len,
                                  EVP_PKEY **out)
{
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE;
    enum p11p_status rc;

    rc = p11p_hsm_key_find(t, s, CKO_PUBLIC_KEY, id, id_len, &hpub);
    if (rc == P11P_OK) {
        return p11p_hsm_key_read_public(t, s, hpub, kt, out);
    }
    if (rc == P11P_ERR_NOT_FOUND && kt == CKK_RSA) {
        return p11p_hsm_key_read_public(t, s, h, kt, out);
    }
    return rc;
}

/* The two objects of an adopted key, as keygen would make them. */
static enum p11p_status build_objects(struct p11p_hsm_token *t,
                                      CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                                      CK_KEY_TYPE kt, EVP_PKEY *pub,
                                      const unsigned char *id, size_t id_len,
                                      struct p11p_cache_object *pubobj,
                                      struct p11p_cache_object *privobj)
{
    static const CK_ATTRIBUTE_TYPE shared[] = { CKA_KEY_TYPE, CKA_MODULUS,
                                                CKA_PUBLIC_EXPONENT,
                                                CKA_EC_PARAMS,
                                                CKA_PUBLIC_KEY_INFO };
    static const struct {
        CK_ATTRIBUTE_TYPE type;
        bool dflt;
    } priv_flags[] = {
        { CKA_SENSITIVE, true },
        { CKA_EXTRACTABLE, false },
        { CKA_ALWAYS_SENSITIVE, false },
        { CKA_NEVER_EXTRACTABLE, false },
        { CKA_SIGN, true },
        { CKA_DECRYPT, false },
        { CKA_LOCAL, false },
    };
    struct p11p_attrlist *pa = &pubobj->attrs, *va = &privobj->attrs;
    char label[MAX_LABEL];
    size_t label_len = 0;
    enum p11p_status rc;
    const CK_ATTRIBUTE *a;
    bool has_label;

    has_label = get_one(t, s, h, CKA_LABEL, label, sizeof(label), &label_len);
    pubobj->klass = CKO_PUBLIC_KEY;
    privobj->klass = CKO_PRIVATE_KEY;
    rc = p11p_keyattrs_add_public(pub, pa);
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_ulong(pa, CKA_CLASS, CKO_PUBLIC_KEY);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_ulong(va, CKA_CLASS, CKO_PRIVATE_KEY);
    }
    for (size_t i = 0; rc == P11P_OK && i < 2; i++) {
        struct p11p_attrlist *l = i == 0 ? pa : va;
        if ((rc = p11p_attrlist_set(l, CKA_ID, id, id_len)) != P11P_OK
            || (rc = p11p_attrlist_set_bool(l, CKA_TOKEN, true)) != P11P_OK
            || (rc = p11p_attrlist_set_bool(l, CKA_PRIVATE, i == 1)) != P11P_OK
            || (rc = p11p_attrlist_set_bool(l, CKA_MODIFIABLE, true)) != P11P_OK
            || (rc = p11p_attrlist_set_bool(l, CKA_DESTROYABLE, true))
                   != P11P_OK
            || (rc = p11p_attrlist_set_bool(l, CKA_DERIVE, false)) != P11P_OK) {
            break;
        }
        if (has_label) {
            rc = p11p_attrlist_set(l, CKA_LABEL, label, label_len);
        }
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_bool(pa, CKA_VERIFY, true);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_bool(pa, CKA_ENCRYPT, kt == CKK_RSA);
    }
    for (size_t i = 0; rc == P11P_OK && i < sizeof(shared) / sizeof(shared[0]);
         i++) {
        a = p11p_attrlist_get0(pa, shared[i]);
        if (a != NULL) {
            rc = p11p_attrlist_set(va, shared[i], a->pValue, a->ulValueLen);
        }
    }
    for (size_t i = 0;
         rc == P11P_OK && i < sizeof(priv_flags) / sizeof(priv_flags[0]); i++) {
        rc = p11p_attrlist_set_bool(
            va, priv_flags[i].type,
            get_bool(t, s, h, priv_flags[i].type, priv_flags[i].dflt));
    }
    return rc;
}

/* Adopts backing key h unless it cannot or need not be; *adopted says. */
static enum p11p_status adopt_one(struct p11p_hsm_ks *ks,
                                  struct p11p_cache *cache, CK_SESSION_HANDLE s,
                                  CK_OBJECT_HANDLE h, bool *adopted)
{
    struct p11p_hsm_token *t = ks->tok;
    enum p11p_status rc = P11P_OK;
    struct p11p_hsm_ref ref;
    struct p11p_cache_object pubobj, privobj;
    struct p11p_cache_keyblob blob;
    struct p11p_cache_txn *txn = NULL;
    EVP_PKEY *pub = NULL;
    CK_KEY_TYPE kt = 0;
    size_t len = 0;
    bool have = false;
    char hex[2 * P11P_HSM_MAX_ID + 1];

    *adopted = false;
    memset(&ref, 0, sizeof(ref));
    memset(&pubobj, 0, sizeof(pubobj));
    memset(&privobj, 0, sizeof(privobj));
    memset(&blob, 0, sizeof(blob));
    if (!get_one(t, s, h, CKA_ID, ref.id, sizeof(ref.id), &ref.id_len)
        || ref.id_len == 0) {
        P11P_INFO(
            COMP,
            "token \"%s\": a private key of backing token \"%s\" has no usable CKA_ID (empty or over %u bytes): not adopted",
            t->name, t->label, P11P_HSM_MAX_ID);
        goto out;
    }
    p11p_str_hex(ref.id, ref.id_len, hex);
    if (!get_one(t, s, h, CKA_KEY_TYPE, &kt, sizeof(kt), &len)
        || (kt != CKK_RSA && kt != CKK_EC && kt != CKK_EC_EDWARDS)) {
        P11P_INFO(
            COMP,
            "token \"%s\": backing key %s is not RSA, EC or EdDSA: not adopted",
            t->name, hex);
        goto out;
    }
    rc = known(cache, ref.id, ref.id_len, &have);
    if (rc != P11P_OK || have) {
        goto out;
    }
    rc = public_of(t, s, h, kt, ref.id, ref.id_len, &pub);
    if (rc != P11P_OK) {
        P11P_WARN(
            COMP,
            "token \"%s\": backing key %s: its public key cannot be read (no public key object with the same CKA_ID?): not adopted",
            t->name, hex);
        rc = P11P_OK;
        goto out;
    }
    ref.key_type = kt;
    memcpy(ref.serial, t->serial, sizeof(ref.serial));
    rc = p11p_hsm_key_blob_encode(&ref, pub, &blob);
    if (rc == P11P_OK) {
        rc = build_objects(t, s, h, kt, pub, ref.id, ref.id_len, &pubobj,
                           &privobj);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_begin(cache, &txn);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_object_insert(txn, &pubobj, NULL);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_object_insert(txn, &privobj, &blob);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_commit(txn);
        txn = NULL;
    }
    if (rc != P11P_OK) {
        goto out;
    }
    P11P_INFO(COMP, "token \"%s\": adopted backing key %s of token \"%s\"",
              t->name, hex, t->label);
    *adopted = true;
out:
    p11p_cache_txn_rollback(txn);
    p11p_cache_keyblob_clear(&blob);
    p11p_attrlist_clear(&pubobj.attrs);
    p11p_attrlist_clear(&privobj.attrs);
    EVP_PKEY_free(pub);
    return rc;
}

enum p11p_status p11p_hsm_adopt_keys(struct p11p_hsm_ks *ks,
                                     struct p11p_cache *cache, size_t *out_n)
{
    struct p11p_hsm_token *t = ks->tok;
    enum p11p_status rc = P11P_ERR_INTERNAL;
    CK_OBJECT_HANDLE *all = NULL;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    size_t n = 0, count = 0;
    bool has_sess = false, adopted = false, exclusive = false;

    if (!p11p_hsm_is_user(ks)) {
        rc = P11P_ERR_AUTH; /* private keys are visible only then */
        goto out;
    }
    /* No key may be half stored (generated in the backing token, its
     * objects not yet committed) while we look for foreign keys: that
     * one would be adopted too (hsm_module.h). Another process or thread
     * generating or adopting: try again at the next login. */
    exclusive = p11p_hsm_module_pending_try_exclusive(t);
    if (!exclusive) {
        P11P_INFO(COMP,
                  "token \"%s\": a key is being generated or adopted "
                  "elsewhere; adoption of backing keys deferred to the next "
                  "login",
                  t->name);
        *out_n = 0;
        rc = P11P_OK;
        goto out;
    }
    rc = p11p_hsm_module_session_get(t, &s);
    if (rc != P11P_OK) {
        goto out;
    }
    has_sess = true;
    rc = list_private(t, s, &all, &n);
    for (size_t i = 0; rc == P11P_OK && i < n; i++) {
        rc = adopt_one(ks, cache, s, all[i], &adopted);
        count += adopted ? 1 : 0;
    }
    if (rc != P11P_OK) {
        goto out;
    }
    *out_n = count;
out:
    if (has_sess) {
        p11p_hsm_module_session_put(t, s, true);
    }
    if (exclusive) {
        p11p_hsm_module_pending_exclusive_end(t);
    }
    free(all);
    return rc;
}

/* DER of a certificate's subject, issuer and serial number. */
struct cert_names {
    unsigned char *subject, *issuer, *serial;
    int subject_len, issuer_len, serial_len;
};

static void cert_names_clear(struct cert_names *c)
{
    OPENSSL_free(c->subject);
    OPENSSL_free(c->issuer);
    OPENSSL_free(c->serial);
}

enum p11p_status p11p_hsm_adopt_store_cert(struct p11p_hsm_ks *ks,
                                           const unsigned char *der, size_t len,
                                           const unsigned char *ckaid,
                                           size_t ckaid_len, const char *label)
{
    struct p11p_hsm_token *t = ks->tok;
    enum p11p_status rc = P11P_ERR_INTERNAL;
    CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ctype = CKC_X_509;
    CK_ATTRIBUTE tmpl[10];
    CK_ATTRIBUTE find[2];
    CK_ULONG n = 0, got = 0;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    struct cert_names c;
    const unsigned char *p = der;
    X509 *x = NULL;
    bool has_sess = false;
    CK_RV rv;

    memset(&c, 0, sizeof(c));
    if (!ks->write_certs) {
        rc = P11P_OK;
        goto out;
    }
    x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL || p != der + len) {
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    c.subject_len = i2d_X509_NAME(X509_get_subject_name(x), &c.subject);
    c.issuer_len = i2d_X509_NAME(X509_get_issuer_name(x), &c.issuer);
    c.serial_len = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &c.serial);
    if (c.subject_len <= 0 || c.issuer_len <= 0 || c.serial_len <= 0) {
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    tmpl[n++] = (CK_ATTRIBUTE){ CKA_CLASS, &klass, sizeof(klass) };
    tmpl[n++] = (CK_ATTRIBUTE){ CKA_VALUE, (void *)der, len };
    find[0] = tmpl[0];
    find[1] = tmpl[1];
    tmpl[n++] = (CK_ATTRIBUTE){ CKA_CERTIFICATE_TYPE, &ctype, sizeof(ctype) };
    tmpl[n++] = (CK_ATTRIBUTE){ CKA_TOKEN, (void *)&yes, sizeof(yes) };
    tmpl[n++] = (CK_ATTRIBUTE){ CKA_PRIVATE, (void *)&no, sizeof(no) };
    tmpl[n++] =
        (CK_ATTRIBUTE){ CKA_SUBJECT, c.subject, (CK_ULONG)c.subject_len };
    tmpl[n++] = (CK_ATTRIBUTE){ CKA_ISSUER, c.issuer, (CK_ULONG)c.issuer_len };
    tmpl[n++] =
        (CK_ATTRIBUTE){ CKA_SERIAL_NUMBER, c.serial, (CK_ULONG)c.serial_len };
    if (ckaid != NULL && ckaid_len > 0) {
        tmpl[n++] = (CK_ATTRIBUTE){ CKA_ID, (void *)ckaid, ckaid_len };
    }
    if (label != NULL && label[0] != '\0') {
        tmpl[n++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label, strlen(label) };
    }
    rc = p11p_hsm_module_session_get(t, &s);
    if (rc != P11P_OK) {
        goto out;
    }
    has_sess = true;
    /* Already there (written by an earlier run, or by another process:
     * the check and the write are one exclusive section): nothing to do. */
    p11p_hsm_module_enter(t, true);
    rv = t->fl->C_FindObjectsInit(s, find, 2);
    if (rv == CKR_OK) {
        rv = t->fl->C_FindObjects(s, &h, 1, &got);
        t->fl->C_FindObjectsFinal(s);
    }
    if (rv == CKR_OK && got == 1) {
        p11p_hsm_module_leave(t, true);
        rc = P11P_OK;
        goto out;
    }
    rv = t->fl->C_CreateObject(s, tmpl, n, &h);
    p11p_hsm_module_leave(t, true);
    if (rv != CKR_OK) {
        rc = p11p_hsm_module_fail(t, "C_CreateObject", rv,
                                  "writing a certificate (hsm_write_certs)");
        goto out;
    }
    P11P_DEBUG(COMP,
               "token \"%s\": certificate written to backing token \"%s\"",
               t->name, t->label);
    rc = P11P_OK;
out:
    if (has_sess) {
        p11p_hsm_module_session_put(t, s, true);
    }
    cert_names_clear(&c);
    X509_free(x);
    return rc;
}

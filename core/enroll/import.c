/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Import of portal-generated keys (enroll.h p11p_enroll_import; issue 7,
 * p11portal import). A package's devices are checked first (key matches
 * certificate, chain verifies), then every new key goes to the key backend
 * (soft: sealed; hsm: a sensitive, non-extractable backing object) and
 * all objects and ISSUED orders of the package are written in one cache
 * transaction; when anything fails nothing stays, and backing keys made
 * for the package are destroyed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/base/log.h"
#include "core/base/ossl.h"
#include "core/base/str.h"
#include "core/enroll/enroll.h"
#include "core/enroll/internal.h"
#include "core/enroll/orderobj.h"
#include "core/enroll/verify.h"
#include "p11portal/pkcs11-vendor.h"

#define COMP          "enroll"
#define IMPORT_PREFIX "import-"

/* Default attributes of imported key objects: as generated keys get them
 * (pkcs11/keygen.c), except that an imported key was not generated here
 * (CKA_LOCAL false) and was once in clear (CKA_ALWAYS_SENSITIVE and
 * CKA_NEVER_EXTRACTABLE false). */
static const struct {
    CK_ATTRIBUTE_TYPE type;
    bool pub_v;
    bool priv_v;
} key_defaults[] = {
    { CKA_TOKEN, true, true },
    { CKA_PRIVATE, false, true },
    { CKA_MODIFIABLE, true, true },
    { CKA_DESTROYABLE, true, true },
    { CKA_COPYABLE, false, false },
    { CKA_DERIVE, false, false },
    { CKA_LOCAL, false, false },
    { CKA_WRAP, false, false },
    { CKA_VERIFY_RECOVER, false, false },
};
static const struct {
    CK_ATTRIBUTE_TYPE type;
    bool v;
} priv_only[] = {
    { CKA_SIGN, true },
    { CKA_SENSITIVE, true },
    { CKA_EXTRACTABLE, false },
    { CKA_ALWAYS_SENSITIVE, false },
    { CKA_NEVER_EXTRACTABLE, false },
    { CKA_UNWRAP, false },
    { CKA_SIGN_RECOVER, false },
};
/* The public attributes a private key object carries too. */
static const CK_ATTRIBUTE_TYPE priv_public[] = {
    CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS, CKA_PUBLIC_KEY_INFO,
    CKA_KEY_TYPE
};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

bool p11p_enroll_is_imported(const struct p11p_order *o)
{
    return o != NULL
           && strncmp(o->request_token, IMPORT_PREFIX, strlen(IMPORT_PREFIX))
                  == 0;
}

/* One device during the import: what is built for it. */
struct work {
    EVP_PKEY *pub;
    X509 *cert;
    CK_KEY_TYPE kt;
    char *label;
    char *subject;
    struct p11p_cache_keyblob blob;
    struct p11p_cache_object pubobj, privobj, certobj;
    struct p11p_order o;
};

static void work_clear(struct work *w)
{
    EVP_PKEY_free(w->pub);
    X509_free(w->cert);
    free(w->label);
    free(w->subject);
    p11p_cache_keyblob_clear(&w->blob);
    p11p_attrlist_clear(&w->pubobj.attrs);
    p11p_attrlist_clear(&w->privobj.attrs);
    p11p_attrlist_clear(&w->certobj.attrs);
    p11p_order_clear(&w->o);
}

static enum p11p_status public_of(EVP_PKEY *priv, EVP_PKEY **out)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    int n = i2d_PUBKEY(priv, &der);

    *out = NULL;
    if (n <= 0) {
        return P11P_ERR_CRYPTO;
    }
    p = der;
    *out = d2i_PUBKEY_ex(NULL, &p, n, p11p_ossl_libctx(), NULL);
    OPENSSL_free(der);
    return *out != NULL ? P11P_OK : P11P_ERR_CRYPTO;
}

/* The key type of pub; false if p11portal cannot hold it. */
static bool key_type_of(EVP_PKEY *pub, CK_KEY_TYPE *out)
{
    static const struct {
        const char *name;
        CK_KEY_TYPE kt;
    } types[] = { { "RSA", CKK_RSA },
                  { "EC", CKK_EC },
                  { "ED25519", CKK_EC_EDWARDS } };
    /* The curves the token generates (and the hsm backend creates). */
    static const char *const curves[] = { "prime256v1", "secp384r1",
                                          "secp521r1" };
    char group[64];

    for (size_t i = 0; i < N_OF(types); i++) {
        if (!EVP_PKEY_is_a(pub, types[i].name)) {
            continue;
        }
        *out = types[i].kt;
        if (types[i].kt != CKK_EC) {
            return true;
        }
        if (EVP_PKEY_get_group_name(pub, group, sizeof(group), NULL) != 1) {
            return false;
        }
        for (size_t c = 0; c < N_OF(curves); c++) {
            if (strcmp(group, curves[c]) == 0) {
                return true;
            }
        }
        return false;
    }
    return false;
}

/* True if the token already has a key object with CKA_ID id. */
static enum p11p_status key_present(struct p11p_enroll *e,
                                    const unsigned char id[20], bool *out)
{
    static const CK_OBJECT_CLASS classes[] = { CKO_PRIVATE_KEY,
                                               CKO_PUBLIC_KEY };
    enum p11p_status rc = P11P_OK;

    *out = false;
    for (size_t i = 0; rc == P11P_OK && !*out && i < N_OF(classes); i++) {
        struct p11p_cache_filter f;
        int64_t *ids = NULL;
        size_t n = 0;

        memset(&f, 0, sizeof(f));
        f.has_class = true;
        f.klass = classes[i];
        f.ckaid = id;
        f.ckaid_len = 20;
        rc = p11p_cache_object_find(e->cache, &f, &ids, &n);
        *out = rc == P11P_OK && n > 0;
        free(ids);
    }
    return rc;
}

/* The SHA-256 of the CKA_PUBLIC_KEY_INFO of every public key object of
 * the token: keys whose CKA_ID is not the default one (pkcs11-tool --id)
 * are recognised by their public key. Read once per import. */
struct spki_set {
    unsigned char (*h)[32];
    size_t n;
};

static enum p11p_status spki_set_load(struct p11p_enroll *e,
                                      struct spki_set *set)
{
    struct p11p_cache_filter f;
    int64_t *ids = NULL;
    size_t n = 0;
    EVP_MD *md = NULL;
    enum p11p_status rc;

    memset(&f, 0, sizeof(f));
    f.has_class = true;
    f.klass = CKO_PUBLIC_KEY;
    rc = p11p_cache_object_find(e->cache, &f, &ids, &n);
    if (rc == P11P_OK) {
        md = EVP_MD_fetch(p11p_ossl_libctx(), "SHA256", NULL);
        set->h = calloc(n + 1, sizeof(*set->h));
        rc = set->h == NULL ? P11P_ERR_NOMEM
             : md == NULL   ? P11P_ERR_CRYPTO
                            : P11P_OK;
    }
    for (size_t i = 0; rc == P11P_OK && i < n; i++) {
        struct p11p_cache_object obj;
        const CK_ATTRIBUTE *a;
        unsigned len = 32;

        memset(&obj, 0, sizeof(obj));
        if (p11p_cache_object_get(e->cache, ids[i], &obj) != P11P_OK) {
            continue; /* deleted meanwhile */
        }
        a = p11p_attrlist_get0(&obj.attrs, CKA_PUBLIC_KEY_INFO);
        if (a != NULL
            && EVP_Digest(a->pValue, a->ulValueLen, set->h[set->n], &len, md,
                          NULL)
                   == 1) {
            set->n++;
        }
        p11p_cache_object_clear(&obj);
    }
    EVP_MD_free(md);
    free(ids);
    return rc;
}

/* True if the token has a public key object with pub's public key. */
static bool spki_set_has(const struct spki_set *set, EVP_PKEY *pub)
{
    unsigned char h[32];
    if (p11p_keyattrs_spki_sha256(pub, h) != P11P_OK) {
        return false;
    }
    for (size_t i = 0; i < set->n; i++) {
        if (memcmp(set->h[i], h, 32) == 0) {
            return true;
        }
    }
    return false;
}

/* The index of a self-signed certificate of the chain, or -1. */
static int chain_root(const struct p11p_enroll_import_item *it)
{
    int root = -1;
    for (size_t i = 0; root < 0 && i < it->chain_n; i++) {
        const unsigned char *p = it->chain[i];
        X509 *x = d2i_X509(NULL, &p, (long)it->chain_lens[i]);
        if (x != NULL && X509_check_issued(x, x) == X509_V_OK) {
            root = (int)i;
        }
        X509_free(x);
    }
    return root;
}

/* Checks one item; fills w (public key, certificate, CKA_ID, label). */
static enum p11p_status check_item(struct p11p_enroll *e,
                                   struct p11p_enroll_import_item *it,
                                   struct work *w, char *why, size_t why_size)
{
    unsigned char *spki = NULL;
    int spki_len;
    const unsigned char *p = it->cert;
    char reason[400];
    char cn[256];
    struct p11p_verify_ders chain = { it->chain, it->chain_lens, it->chain_n };
    struct p11p_verify_ders anchors = { NULL, NULL, 0 };
    int root;
    enum p11p_status rc = P11P_ERR_INVALID_INPUT;

    reason[0] = '\0';
    w->cert = d2i_X509(NULL, &p, (long)it->cert_len);
    if (w->cert == NULL) {
        snprintf(reason, sizeof(reason), "the certificate does not parse");
        goto out;
    }
    if (public_of(it->priv, &w->pub) != P11P_OK) {
        snprintf(reason, sizeof(reason), "the private key does not parse");
        goto out;
    }
    if (!key_type_of(w->pub, &w->kt)) {
        snprintf(reason, sizeof(reason),
                 "unsupported key type or curve %s (RSA, EC P-256, "
                 "P-384, P-521 and Ed25519 are)",
                 EVP_PKEY_get0_type_name(w->pub));
        goto out;
    }
    spki_len = i2d_PUBKEY(w->pub, &spki);
    if (spki_len <= 0
        || p11p_verify_key_match(it->cert, it->cert_len, spki, (size_t)spki_len)
               != P11P_OK) {
        snprintf(reason, sizeof(reason),
                 "the private key does not match the certificate");
        goto out;
    }
    /* Without trust_anchors, the package's own root (when it has one)
     * checks the chain's signatures; p11p_enroll_import warns once that
     * it pins nothing. */
    root = e->conf->trust_anchors == NULL ? chain_root(it) : -1;
    if (root >= 0) {
        anchors.der = &it->chain[root];
        anchors.len = &it->chain_lens[root];
        anchors.n = 1;
    }
    if ((e->conf->trust_anchors != NULL || root >= 0)
        && p11p_verify_chain(p11p_submit_token_name(e), it->cert, it->cert_len,
                             &chain, &anchors, e->conf->trust_anchors, reason,
                             sizeof(reason))
               != P11P_OK) {
        goto out;
    }
    rc = p11p_keyattrs_default_id(w->pub, it->ckaid);
    if (rc != P11P_OK) {
        snprintf(reason, sizeof(reason), "cannot compute the key's CKA_ID");
        goto out;
    }
    if (it->label != NULL) {
        w->label = strdup(it->label);
    } else if (X509_NAME_get_text_by_NID(X509_get_subject_name(w->cert),
                                         NID_commonName, cn, sizeof(cn))
               > 0) {
        w->label = strdup(cn);
    } else {
        char hex[41];
        p11p_str_hex(it->ckaid, 20, hex);
        w->label = strdup(hex);
    }
    rc = w->label != NULL ? P11P_OK : P11P_ERR_NOMEM;
out:
    if (rc == P11P_ERR_INVALID_INPUT) {
        snprintf(why, why_size, "%s: %s", it->name != NULL ? it->name : "?",
                 reason);
    }
    OPENSSL_free(spki);
    return rc;
}

/* The subject of x as an RFC 2253 string. */
static char *subject_of(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = NULL;
    char *data = NULL;
    long n;

    if (b == NULL
        || X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253)
               < 0) {
        BIO_free(b);
        return NULL;
    }
    n = BIO_get_mem_data(b, &data);
    s = malloc((size_t)n + 1);
    if (s != NULL) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
    }
    BIO_free(b);
    return s;
}

/* The attributes of the key objects and the certificate object of w. */
static enum p11p_status build_objects(struct p11p_enroll_import_item *it,
                                      struct work *w)
{
    bool rsa = w->kt == CKK_RSA;
    struct p11p_attrlist *pub = &w->pubobj.attrs;
    struct p11p_attrlist *priv = &w->privobj.attrs;
    enum p11p_status rc;

    w->pubobj.klass = CKO_PUBLIC_KEY;
    w->privobj.klass = CKO_PRIVATE_KEY;
    rc = p11p_keyattrs_add_public(w->pub, pub);
    for (size_t i = 0; rc == P11P_OK && i < N_OF(key_defaults); i++) {
        rc = p11p_attrlist_set_bool(pub, key_defaults[i].type,
                                    key_defaults[i].pub_v);
        if (rc == P11P_OK) {
            rc = p11p_attrlist_set_bool(priv, key_defaults[i].type,
                                        key_defaults[i].priv_v);
        }
    }
    for (size_t i = 0; rc == P11P_OK && i < N_OF(priv_only); i++) {
        rc = p11p_attrlist_set_bool(priv, priv_only[i].type, priv_only[i].v);
    }
    for (size_t i = 0; rc == P11P_OK && i < N_OF(priv_public); i++) {
        const CK_ATTRIBUTE *a = p11p_attrlist_get0(pub, priv_public[i]);
        if (a != NULL) {
            rc = p11p_attrlist_set(priv, priv_public[i], a->pValue,
                                   a->ulValueLen);
        }
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_bool(pub, CKA_VERIFY, true);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_bool(pub, CKA_ENCRYPT, rsa);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_bool(priv, CKA_DECRYPT, rsa);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_ulong(pub, CKA_CLASS, CKO_PUBLIC_KEY);
    }
    if (rc == P11P_OK) {
        rc = p11p_attrlist_set_ulong(priv, CKA_CLASS, CKO_PRIVATE_KEY);
    }
    for (int k = 0; k < 2 && rc == P11P_OK; k++) {
        struct p11p_attrlist *l = k == 0 ? pub : priv;
        rc = p11p_attrlist_set_ulong(l, CKA_KEY_TYPE, w->kt);
        if (rc == P11P_OK) {
            rc = p11p_attrlist_set_ulong(l, CKA_KEY_GEN_MECHANISM,
                                         CK_UNAVAILABLE_INFORMATION);
        }
        if (rc == P11P_OK) {
            rc = p11p_attrlist_set(l, CKA_ID, it->ckaid, 20);
        }
        if (rc == P11P_OK) {
            rc = p11p_attrlist_set_str(l, CKA_LABEL, w->label);
        }
    }
    if (rc == P11P_OK) {
        w->certobj.klass = CKO_CERTIFICATE;
        rc = p11p_certobj_attrs(it->cert, it->cert_len, w->label, it->ckaid, 20,
                                1, &w->certobj.attrs);
    }
    return rc;
}

/* Puts the private key into the key backend (w->blob). */
static enum p11p_status put_key(struct p11p_enroll *e,
                                struct p11p_enroll_import_item *it,
                                struct work *w)
{
    struct p11p_keygen_spec spec;

    memset(&spec, 0, sizeof(spec));
    spec.key_type = w->kt;
    spec.bits = (unsigned)EVP_PKEY_get_bits(w->pub);
    spec.ckaid = it->ckaid;
    spec.ckaid_len = 20;
    spec.label = w->label;
    return p11p_keystore_import(e->keys, it->priv, &spec, &w->blob);
}

/* Sets CKA_P11PORTAL_ORDER_ID on a stored object (in t). */
static enum p11p_status tag_object(struct p11p_cache_txn *t,
                                   struct p11p_cache_object *obj,
                                   int64_t order_id)
{
    char idstr[32];
    enum p11p_status rc;

    snprintf(idstr, sizeof(idstr), "%" PRId64, order_id);
    obj->order_id = order_id;
    rc = p11p_attrlist_set_str(&obj->attrs, CKA_P11PORTAL_ORDER_ID, idstr);
    return rc == P11P_OK ? p11p_cache_object_update(t, obj) : rc;
}

/* The order record of an imported device (ISSUED) and its order object,
 * linked to its objects (in t). */
static enum p11p_status store_order(struct p11p_enroll *e,
                                    struct p11p_cache_txn *t,
                                    struct p11p_enroll_import_item *it,
                                    struct work *w)
{
    struct p11p_order *o = &w->o;
    struct p11p_cache_object data;
    enum p11p_status rc;

    memset(&data, 0, sizeof(data));
    o->state = P11P_ORDER_ISSUED;
    memcpy(o->request_token, IMPORT_PREFIX, strlen(IMPORT_PREFIX));
    rc = p11p_submit_random_hex(o->request_token + strlen(IMPORT_PREFIX), 16);
    if (rc != P11P_OK) {
        goto out;
    }
    o->driver = strdup(e->conf->driver != NULL ? e->conf->driver : "local");
    o->label = strdup(w->label);
    o->subject = subject_of(w->cert);
    o->portal_id = p11p_str_dup(it->portal_id);
    if (o->driver == NULL || o->label == NULL || o->subject == NULL
        || (it->portal_id != NULL && o->portal_id == NULL)) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    memcpy(o->ckaid, it->ckaid, 20);
    o->ckaid_len = 20;
    rc = p11p_keyattrs_spki_sha256(w->pub, o->pubkey_sha256);
    if (rc != P11P_OK) {
        goto out;
    }
    o->priv_object_id = w->privobj.id;
    o->pub_object_id = w->pubobj.id;
    o->cert_object_id = w->certobj.id;
    rc = p11p_cache_order_insert(t, o);
    if (rc == P11P_OK) {
        data.klass = CKO_DATA;
        data.order_id = o->id;
        rc = p11p_orderobj_attrs(o, &data.attrs);
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_object_insert(t, &data, NULL);
    }
    if (rc == P11P_OK) {
        o->data_object_id = data.id;
        rc = p11p_submit_write_order(t, o, P11P_ORDER_ISSUED);
    }
    if (rc == P11P_OK) {
        rc = tag_object(t, &w->pubobj, o->id);
    }
    if (rc == P11P_OK) {
        rc = tag_object(t, &w->privobj, o->id);
    }
    if (rc == P11P_OK) {
        rc = tag_object(t, &w->certobj, o->id);
    }
out:
    p11p_attrlist_clear(&data.attrs);
    return rc;
}

/* True if der equals one of the first n certificates of seen. */
static bool seen_before(unsigned char *const *seen, const size_t *lens,
                        size_t n, const unsigned char *der, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (lens[i] == len && memcmp(seen[i], der, len) == 0) {
            return true;
        }
    }
    return false;
}

/* Every object and order of the package in one transaction. */
static enum p11p_status store_all(struct p11p_enroll *e,
                                  struct p11p_enroll_import_item *items,
                                  struct work *ws, size_t n)
{
    struct p11p_cache_txn *t = NULL;
    unsigned char **seen = NULL;
    size_t *seen_lens = NULL;
    size_t n_seen = 0, total = 0;
    enum p11p_status rc;

    for (size_t i = 0; i < n; i++) {
        total += items[i].chain_n;
    }
    seen = calloc(total + 1, sizeof(*seen));
    seen_lens = calloc(total + 1, sizeof(*seen_lens));
    if (seen == NULL || seen_lens == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    rc = p11p_cache_txn_begin(e->cache, &t);
    for (size_t i = 0; rc == P11P_OK && i < n; i++) {
        struct p11p_enroll_import_item *it = &items[i];
        if (it->present) {
            continue;
        }
        rc = p11p_cache_object_insert(t, &ws[i].pubobj, NULL);
        if (rc == P11P_OK) {
            rc = p11p_cache_object_insert(t, &ws[i].privobj, &ws[i].blob);
        }
        if (rc == P11P_OK) {
            rc = p11p_cache_object_insert(t, &ws[i].certobj, NULL);
        }
        /* The same CA certificate comes with every device of a package:
         * once per transaction (p11p_store_chain_cert sees committed
         * objects only). */
        for (size_t c = 0; rc == P11P_OK && c < it->chain_n; c++) {
            if (seen_before(seen, seen_lens, n_seen, it->chain[c],
                            it->chain_lens[c])) {
                continue;
            }
            seen[n_seen] = it->chain[c];
            seen_lens[n_seen++] = it->chain_lens[c];
            rc = p11p_store_chain_cert(e, t, it->chain[c], it->chain_lens[c]);
        }
        if (rc == P11P_OK) {
            rc = store_order(e, t, it, &ws[i]);
        }
    }
    if (rc == P11P_OK) {
        rc = p11p_cache_txn_commit(t);
        t = NULL;
    }
out:
    p11p_cache_txn_rollback(t);
    free(seen);
    free(seen_lens);
    return rc;
}

enum p11p_status p11p_enroll_import(struct p11p_enroll *e,
                                    struct p11p_enroll_import_item *items,
                                    size_t n, char *why, size_t why_size)
{
    struct work *ws = calloc(n + 1, sizeof(*ws));
    struct spki_set spkis = { NULL, 0 };
    enum p11p_status rc = ws != NULL ? P11P_OK : P11P_ERR_NOMEM;
    bool stored = false;

    snprintf(why, why_size, "%s", "");
    /* 1. Every item checked before anything is stored. */
    for (size_t i = 0; rc == P11P_OK && i < n; i++) {
        items[i].present = false;
        items[i].priv_id = items[i].pub_id = 0;
        items[i].cert_id = items[i].order_id = 0;
        rc = check_item(e, &items[i], &ws[i], why, why_size);
    }
    if (rc == P11P_OK && n > 0 && e->conf->trust_anchors == NULL) {
        P11P_WARN(COMP,
                  "token \"%s\": no trust_anchors configured; imported "
                  "chains are checked against their own roots, which pins "
                  "nothing",
                  p11p_submit_token_name(e));
    }
    /* 2. Keys already on the token (by CKA_ID, else by public key), or
     * twice in the package: skipped. */
    for (size_t i = 0; rc == P11P_OK && i < n; i++) {
        rc = key_present(e, items[i].ckaid, &items[i].present);
        if (rc == P11P_OK && !items[i].present && spkis.h == NULL) {
            rc = spki_set_load(e, &spkis);
        }
        if (rc == P11P_OK && !items[i].present) {
            items[i].present = spki_set_has(&spkis, ws[i].pub);
        }
        for (size_t j = 0; rc == P11P_OK && j < i; j++) {
            if (memcmp(items[j].ckaid, items[i].ckaid, 20) == 0) {
                items[i].present = true;
            }
        }
    }
    /* 3. Keys into the backend, object attributes. */
    for (size_t i = 0; rc == P11P_OK && i < n; i++) {
        if (items[i].present) {
            continue;
        }
        rc = build_objects(&items[i], &ws[i]);
        if (rc == P11P_OK) {
            rc = put_key(e, &items[i], &ws[i]);
        }
        if (rc != P11P_OK) {
            snprintf(why, why_size, "%s: the key backend refused the key: %s",
                     items[i].name != NULL ? items[i].name : "?",
                     p11p_status_text(rc));
        }
    }
    /* 4. One transaction for the whole package. */
    if (rc == P11P_OK) {
        rc = store_all(e, items, ws, n);
        if (rc != P11P_OK) {
            snprintf(why, why_size, "storing in the token's cache failed: %s",
                     p11p_status_text(rc));
        }
    }
    stored = rc == P11P_OK;
    for (size_t i = 0; ws != NULL && i < n; i++) {
        struct p11p_enroll_import_item *it = &items[i];
        if (!stored && ws[i].blob.blob != NULL) {
            p11p_keystore_destroy(e->keys, &ws[i].blob); /* hsm: no orphan */
        }
        if (ws[i].blob.blob != NULL) {
            /* Committed or dropped: adoption may look again. */
            p11p_keystore_pending_done(e->keys);
        }
        if (stored && !it->present) {
            it->priv_id = ws[i].privobj.id;
            it->pub_id = ws[i].pubobj.id;
            it->cert_id = ws[i].certobj.id;
            it->order_id = ws[i].o.id;
            P11P_INFO(
                COMP, "token \"%s\": imported %s (label %s) as order %" PRId64,
                p11p_submit_token_name(e), it->name, ws[i].label, it->order_id);
            /* hsm_write_certs: failures are logged there and never undo
             * the import. */
            (void)p11p_keystore_store_cert(e->keys, it->cert, it->cert_len,
                                           it->ckaid, 20, ws[i].label);
        }
        work_clear(&ws[i]);
    }
    if (rc != P11P_OK && rc != P11P_ERR_INVALID_INPUT) {
        P11P_ERROR(COMP, "token \"%s\": import failed, nothing stored: %s",
                   p11p_submit_token_name(e), why);
    }
    free(ws);
    free(spkis.h);
    return rc;
}

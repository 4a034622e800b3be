/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enrollment engine end to end with a real cache, the soft keystore and
 * the local driver in a temporary folder: issuance with certificate, chain
 * and order objects; the reject and approval profiles; the MAC sequence;
 * no_enroll; unique request tokens; and a SUBMITTING order (as left by a
 * crash) reconciled through find and never submitted twice (the local
 * ledger is counted).
 */
#include <dirent.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/obj_mac.h>

#include "cache/cache.h"
#include "core/base/log.h"
#include "core/base/secret.h"
#include "core/conf/conf.h"
#include "core/enroll/enroll.h"
#include "core/enroll/verify.h"
#include "core/keys/backend.h"
#include "p11portal/pkcs11-vendor.h"
#include "remote/local/local_ca.h"
#include "tests/unit/check.h"

static char root[] = "/tmp/p11p-enroll-XXXXXX";
static int env_n;

struct env {
    char dir[512];
    struct p11p_conf *conf;
    struct p11p_cache *cache;
    struct p11p_keystore *ks;
    struct p11p_enroll *e;
};

static void env_close(struct env *v)
{
    p11p_enroll_free(v->e);
    p11p_keystore_close(v->ks);
    p11p_cache_close(v->cache);
    p11p_conf_free(v->conf);
    memset(v, 0, sizeof(*v));
}

/* A token "t" in its own folder, initialised, user logged in. */
static bool env_open(struct env *v, const char *extra)
{
    char text[2048];
    struct p11p_secret *so = p11p_secret_dup("so-canary-1234", 14);
    struct p11p_secret *user = p11p_secret_dup("user-canary-5678", 16);
    bool ok = false;

    memset(v, 0, sizeof(*v));
    snprintf(v->dir, sizeof(v->dir), "%s/env%d", root, env_n++);
    snprintf(text, sizeof(text),
             "[token \"t\"]\ndata_dir = %s\nkdf_iterations = 1000\n%s", v->dir,
             extra != NULL ? extra : "");
    if (p11p_conf_parse_string(text, "test.conf", &v->conf) != P11P_OK
        || p11p_cache_open(v->conf->tokens[0].cache_path, &v->cache) != P11P_OK
        || p11p_keystore_open(&v->conf->tokens[0], v->cache, &v->ks) != P11P_OK
        || p11p_keystore_init_token(v->ks, so, "t") != P11P_OK
        || p11p_keystore_login(v->ks, P11P_ROLE_SO, so) != P11P_OK
        || p11p_keystore_init_pin(v->ks, user) != P11P_OK) {
        goto out;
    }
    p11p_keystore_logout(v->ks);
    if (p11p_keystore_login(v->ks, P11P_ROLE_USER, user) != P11P_OK
        || p11p_enroll_new(&v->conf->tokens[0], v->cache, v->ks, &v->e)
               != P11P_OK) {
        goto out;
    }
    ok = true;
out:
    CHECK(ok);
    p11p_secret_free(so);
    p11p_secret_free(user);
    return ok;
}

/* Generates an EC P-256 key pair labelled label. */
static enum p11p_status keygen(struct env *v, const char *label,
                               const struct p11p_enroll_params *given,
                               struct p11p_enroll_result *res)
{
    struct p11p_keygen_spec spec = { .key_type = CKK_EC,
                                     .curve_nid = NID_X9_62_prime256v1,
                                     .label = label };
    struct p11p_enroll_params params = { .label = label };
    struct p11p_attrlist pub = { 0 };
    struct p11p_attrlist priv = { 0 };
    enum p11p_status rc;

    if (given != NULL) {
        params = *given;
        params.label = label;
    }
    p11p_attrlist_set_ulong(&pub, CKA_CLASS, CKO_PUBLIC_KEY);
    p11p_attrlist_set_ulong(&pub, CKA_KEY_TYPE, CKK_EC);
    p11p_attrlist_set_str(&pub, CKA_LABEL, label);
    p11p_attrlist_set_bool(&pub, CKA_TOKEN, true);
    p11p_attrlist_set_ulong(&priv, CKA_CLASS, CKO_PRIVATE_KEY);
    p11p_attrlist_set_ulong(&priv, CKA_KEY_TYPE, CKK_EC);
    p11p_attrlist_set_str(&priv, CKA_LABEL, label);
    p11p_attrlist_set_bool(&priv, CKA_TOKEN, true);
    p11p_attrlist_set_bool(&priv, CKA_SENSITIVE, true);
    rc = p11p_enroll_keypair(v->e, &spec, &params, &pub, &priv, res);
    p11p_attrlist_clear(&pub);
    p11p_attrlist_clear(&priv);
    return rc;
}

static size_t count_class(struct env *v, CK_OBJECT_CLASS klass)
{
    struct p11p_cache_filter f = { .has_class = true, .klass = klass };
    int64_t *ids = NULL;
    size_t n = 0;
    CHECK_RV(p11p_cache_object_find(v->cache, &f, &ids, &n), P11P_OK);
    free(ids);
    return n;
}

static size_t ledger_orders(struct env *v)
{
    char path[700];
    size_t n = 0;
    struct dirent *de = NULL;
    snprintf(path, sizeof(path), "%s/t.ca/orders", v->dir);
    DIR *d = opendir(path);
    while (d != NULL && (de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        n += l > 4 && strcmp(de->d_name + l - 4, ".rec") == 0;
    }
    if (d != NULL) {
        closedir(d);
    }
    return n;
}

static bool attr_eq(const struct p11p_attrlist *a,
                    const struct p11p_attrlist *b, CK_ATTRIBUTE_TYPE type)
{
    const CK_ATTRIBUTE *x = p11p_attrlist_get0(a, type);
    const CK_ATTRIBUTE *y = p11p_attrlist_get0(b, type);
    return x != NULL && y != NULL && x->ulValueLen == y->ulValueLen
           && memcmp(x->pValue, y->pValue, x->ulValueLen) == 0;
}

static void test_issue(void)
{
    struct env v;
    struct p11p_enroll_result r1, r2;
    struct p11p_cache_object cert, priv, pub, data;
    struct p11p_order o1, o2;
    CK_ULONG cat = 0;
    char idstr[32];

    memset(&cert, 0, sizeof(cert));
    memset(&priv, 0, sizeof(priv));
    memset(&pub, 0, sizeof(pub));
    memset(&data, 0, sizeof(data));
    memset(&o1, 0, sizeof(o1));
    memset(&o2, 0, sizeof(o2));
    if (!env_open(&v, NULL)) {
        return;
    }
    CHECK_RV(keygen(&v, "web01", NULL, &r1), P11P_OK);
    CHECK_INT_EQ(r1.state, P11P_ORDER_ISSUED);
    CHECK(r1.cert_id != 0 && r1.order_id != 0);
    CHECK_RV(p11p_cache_object_get(v.cache, r1.cert_id, &cert), P11P_OK);
    CHECK_RV(p11p_cache_object_get(v.cache, r1.priv_id, &priv), P11P_OK);
    CHECK_RV(p11p_cache_object_get(v.cache, r1.pub_id, &pub), P11P_OK);
    CHECK(attr_eq(&cert.attrs, &priv.attrs, CKA_ID));
    CHECK(attr_eq(&cert.attrs, &pub.attrs, CKA_ID));
    CHECK(attr_eq(&cert.attrs, &priv.attrs, CKA_LABEL));
    CHECK(attr_eq(&cert.attrs, &pub.attrs, CKA_PUBLIC_KEY_INFO));
    CHECK(attr_eq(&priv.attrs, &pub.attrs, CKA_EC_PARAMS));
    CHECK(attr_eq(&priv.attrs, &pub.attrs, CKA_P11PORTAL_ORDER_ID));
    CHECK(p11p_attrlist_get0(&priv.attrs, CKA_ID) != NULL
          && p11p_attrlist_get0(&priv.attrs, CKA_ID)->ulValueLen == 20);
    CHECK(p11p_attrlist_get_ulong(&cert.attrs, CKA_CERTIFICATE_CATEGORY, &cat)
          && cat == 1);
    snprintf(idstr, sizeof(idstr), "%" PRId64, r1.order_id);
    char *oid = p11p_attrlist_get_str(&cert.attrs, CKA_P11PORTAL_ORDER_ID);
    CHECK_STR_EQ(oid, idstr);
    free(oid);
    /* leaf + issuing + root */
    CHECK_INT_EQ(count_class(&v, CKO_CERTIFICATE), 3);
    /* the order and its object */
    CHECK_RV(p11p_cache_order_get(v.cache, r1.order_id, &o1), P11P_OK);
    CHECK_INT_EQ(o1.state, P11P_ORDER_ISSUED);
    CHECK_INT_EQ(o1.cert_object_id, r1.cert_id);
    CHECK_STR_EQ(o1.portal_id, "L-1");
    CHECK_STR_EQ(o1.subject, "CN=web01");
    CHECK_RV(p11p_cache_object_get(v.cache, o1.data_object_id, &data), P11P_OK);
    char *app = p11p_attrlist_get_str(&data.attrs, CKA_APPLICATION);
    char *json = p11p_attrlist_get_str(&data.attrs, CKA_VALUE);
    char *st = p11p_attrlist_get_str(&data.attrs, CKA_P11PORTAL_ORDER_STATE);
    CHECK_STR_EQ(app, P11PORTAL_APP_ORDER);
    CHECK(json != NULL && strstr(json, "\"state\":\"issued\"") != NULL);
    CHECK(json != NULL && strstr(json, "\"portal_id\":\"L-1\"") != NULL);
    CHECK(json != NULL && strstr(json, "\"label\":\"web01\"") != NULL);
    CHECK_STR_EQ(st, "issued");
    CHECK(attr_eq(&data.attrs, &priv.attrs, CKA_ID));
    free(app);
    free(json);
    free(st);
    /* A second enrollment: one more leaf, the chain is not duplicated, and
     * its request token is its own. */
    CHECK_RV(keygen(&v, "web02", NULL, &r2), P11P_OK);
    CHECK_INT_EQ(r2.state, P11P_ORDER_ISSUED);
    CHECK_INT_EQ(count_class(&v, CKO_CERTIFICATE), 4);
    CHECK_RV(p11p_cache_order_get(v.cache, r2.order_id, &o2), P11P_OK);
    CHECK(strcmp(o1.request_token, o2.request_token) != 0);
    CHECK_INT_EQ(strlen(o1.request_token), 32);
    CHECK_INT_EQ(ledger_orders(&v), 2);
    p11p_order_clear(&o1);
    p11p_order_clear(&o2);
    p11p_cache_object_clear(&cert);
    p11p_cache_object_clear(&priv);
    p11p_cache_object_clear(&pub);
    p11p_cache_object_clear(&data);
    env_close(&v);
}

static void test_reject(void)
{
    struct env v;
    struct p11p_enroll_result r;
    struct p11p_order o;

    memset(&o, 0, sizeof(o));
    if (!env_open(&v, "profile = reject\n")) {
        return;
    }
    CHECK_RV(keygen(&v, "bad", NULL, &r), P11P_ERR_REJECTED);
    CHECK(strstr(r.message, "reject") != NULL);
    CHECK_INT_EQ(r.state, P11P_ORDER_REJECTED);
    CHECK_INT_EQ(count_class(&v, CKO_PRIVATE_KEY), 0);
    CHECK_INT_EQ(count_class(&v, CKO_PUBLIC_KEY), 0);
    CHECK_INT_EQ(count_class(&v, CKO_CERTIFICATE), 0);
    CHECK_INT_EQ(count_class(&v, CKO_DATA), 1); /* the order shows why */
    CHECK_RV(p11p_cache_order_get(v.cache, r.order_id, &o), P11P_OK);
    CHECK_INT_EQ(o.state, P11P_ORDER_REJECTED);
    CHECK(o.last_error != NULL && strstr(o.last_error, "reject") != NULL);
    p11p_order_clear(&o);
    env_close(&v);

    /* keep_key_on_reject keeps them */
    if (!env_open(&v, "profile = reject\nkeep_key_on_reject = true\n")) {
        return;
    }
    CHECK_RV(keygen(&v, "bad", NULL, &r), P11P_ERR_REJECTED);
    CHECK_INT_EQ(count_class(&v, CKO_PRIVATE_KEY), 1);
    env_close(&v);
}

static void test_approval(void)
{
    struct env v;
    struct p11p_enroll_result r;
    struct p11p_order o;
    struct p11p_enroll_params p = { .profile = "approval" };
    size_t changed = 99;

    memset(&o, 0, sizeof(o));
    if (!env_open(&v, "enroll_wait_ms = 0\nrefresh_interval_s = 3600\n")) {
        return;
    }
    CHECK_RV(keygen(&v, "slow", &p, &r), P11P_OK);
    CHECK_INT_EQ(r.state, P11P_ORDER_PENDING_APPROVAL);
    CHECK_INT_EQ(r.cert_id, 0);
    CHECK_INT_EQ(count_class(&v, CKO_CERTIFICATE), 0);
    /* first collect: still pending (issued at the 2nd poll) */
    CHECK_RV(p11p_enroll_collect(v.e, 5000, true, &changed), P11P_OK);
    CHECK_INT_EQ(changed, 0);
    /* rate-limited: nothing happens without force */
    CHECK_RV(p11p_enroll_collect(v.e, 5000, false, &changed), P11P_OK);
    CHECK_INT_EQ(changed, 0);
    CHECK_RV(p11p_cache_order_get(v.cache, r.order_id, &o), P11P_OK);
    CHECK_INT_EQ(o.state, P11P_ORDER_PENDING_APPROVAL);
    p11p_order_clear(&o);
    CHECK_RV(p11p_enroll_collect(v.e, 5000, true, &changed), P11P_OK);
    CHECK_INT_EQ(changed, 1);
    CHECK_RV(p11p_cache_order_get(v.cache, r.order_id, &o), P11P_OK);
    CHECK_INT_EQ(o.state, P11P_ORDER_ISSUED);
    CHECK(o.cert_object_id != 0);
    CHECK_INT_EQ(count_class(&v, CKO_CERTIFICATE), 3);
    CHECK_INT_EQ(ledger_orders(&v), 1);
    p11p_order_clear(&o);
    env_close(&v);
}

static void test_mac(void)
{
    struct env v;
    struct p11p_enroll_result r;
    struct p11p_order o;
    const char *want[] = { "00:11:22:00:00:01", "00:11:22:00:00:03",
                           "00:11:22:00:00:05" };
    char subj[64];

    if (!env_open(&v, "subject = CN=${mac},O=Acme\n"
                      "mac_start = 00:11:22:00:00:01\n"
                      "mac_end = 00-11-22-00-00-05\nmac_increment = 2\n")) {
        return;
    }
    for (int i = 0; i < 3; i++) {
        char label[16];
        memset(&o, 0, sizeof(o));
        snprintf(label, sizeof(label), "dev%d", i);
        CHECK_RV(keygen(&v, label, NULL, &r), P11P_OK);
        CHECK_INT_EQ(r.state, P11P_ORDER_ISSUED);
        CHECK_RV(p11p_cache_order_get(v.cache, r.order_id, &o), P11P_OK);
        CHECK_STR_EQ(o.mac, want[i]);
        snprintf(subj, sizeof(subj), "CN=%s,O=Acme", want[i]);
        CHECK_STR_EQ(o.subject, subj);
        p11p_order_clear(&o);
    }
    CHECK_RV(keygen(&v, "dev3", NULL, &r), P11P_ERR_EXHAUSTED);
    CHECK_INT_EQ(count_class(&v, CKO_PRIVATE_KEY), 3);
    CHECK_INT_EQ(ledger_orders(&v), 3);
    env_close(&v);
}

static void test_no_enroll(void)
{
    struct env v;
    struct p11p_enroll_result r;
    struct p11p_enroll_params p = { .no_enroll = true };
    struct p11p_order *list = NULL;
    size_t n = 9;

    if (!env_open(&v, NULL)) {
        return;
    }
    CHECK_RV(keygen(&v, "plain", &p, &r), P11P_OK);
    CHECK_INT_EQ(r.order_id, 0);
    CHECK(r.priv_id != 0 && r.pub_id != 0);
    CHECK_INT_EQ(count_class(&v, CKO_PRIVATE_KEY), 1);
    CHECK_INT_EQ(count_class(&v, CKO_CERTIFICATE), 0);
    CHECK_INT_EQ(count_class(&v, CKO_DATA), 0);
    CHECK_RV(p11p_cache_order_list(v.cache, 0x7ff, 0, 0, &list, &n), P11P_OK);
    CHECK_INT_EQ(n, 0);
    p11p_cache_order_list_free(list, n);
    CHECK_INT_EQ(ledger_orders(&v), 0);
    env_close(&v);
}

/* A crash between "SUBMITTING committed" and the driver's answer leaves a
 * SUBMITTING order. Reconciliation finds it at the portal (no second
 * order); an order that never arrived is submitted once. */
static void test_reconcile(void)
{
    struct env v;
    struct p11p_enroll_result r;
    struct p11p_order o;
    struct p11p_cache_txn *t = NULL;
    size_t changed = 0;

    memset(&o, 0, sizeof(o));
    if (!env_open(&v, "refresh_interval_s = 3600\n")) {
        return;
    }
    CHECK_RV(keygen(&v, "crash", NULL, &r), P11P_OK);
    CHECK_INT_EQ(ledger_orders(&v), 1);

    /* Write the crashed state directly: the portal has the order, we only
     * know that we were sending it. */
    CHECK_RV(p11p_cache_order_get(v.cache, r.order_id, &o), P11P_OK);
    CHECK_RV(p11p_cache_txn_begin(v.cache, &t), P11P_OK);
    CHECK_RV(p11p_cache_object_delete(t, o.cert_object_id), P11P_OK);
    o.state = P11P_ORDER_SUBMITTING;
    o.cert_object_id = 0;
    free(o.portal_id);
    o.portal_id = NULL;
    CHECK_RV(p11p_cache_order_update(t, &o, P11P_ORDER_ISSUED), P11P_OK);
    CHECK_RV(p11p_cache_txn_commit(t), P11P_OK);
    CHECK_INT_EQ(count_class(&v, CKO_CERTIFICATE), 2);

    CHECK_RV(p11p_enroll_collect(v.e, 5000, true, &changed), P11P_OK);
    CHECK_INT_EQ(changed, 1);
    p11p_order_clear(&o);
    CHECK_RV(p11p_cache_order_get(v.cache, r.order_id, &o), P11P_OK);
    CHECK_INT_EQ(o.state, P11P_ORDER_ISSUED);
    CHECK_STR_EQ(o.portal_id, "L-1");
    CHECK(o.cert_object_id != 0);
    CHECK_INT_EQ(count_class(&v, CKO_CERTIFICATE), 3);
    CHECK_INT_EQ(ledger_orders(&v), 1); /* never ordered twice */

    /* An order that never reached the portal (new request token, unknown
     * key): found nowhere, back to NEW, submitted exactly once. */
    o.id = 0;
    o.state = P11P_ORDER_SUBMITTING;
    memset(o.pubkey_sha256, 0x5a, sizeof(o.pubkey_sha256));
    snprintf(o.request_token, sizeof(o.request_token), "%s",
             "00000000000000000000000000000001");
    free(o.portal_id);
    o.portal_id = NULL;
    o.cert_object_id = 0;
    o.data_object_id = 0;
    CHECK_RV(p11p_cache_txn_begin(v.cache, &t), P11P_OK);
    CHECK_RV(p11p_cache_order_insert(t, &o), P11P_OK);
    CHECK_RV(p11p_cache_txn_commit(t), P11P_OK);
    int64_t lost = o.id;
    p11p_order_clear(&o);
    CHECK_RV(p11p_enroll_collect(v.e, 5000, true, &changed), P11P_OK);
    CHECK_RV(p11p_cache_order_get(v.cache, lost, &o), P11P_OK);
    CHECK_INT_EQ(o.state, P11P_ORDER_ISSUED);
    CHECK_STR_EQ(o.portal_id, "L-2");
    CHECK_INT_EQ(ledger_orders(&v), 2);
    /* and nothing more happens on the next run */
    CHECK_RV(p11p_enroll_collect(v.e, 5000, true, &changed), P11P_OK);
    CHECK_INT_EQ(changed, 0);
    CHECK_INT_EQ(ledger_orders(&v), 2);
    p11p_order_clear(&o);
    env_close(&v);
}

static void test_csr_order(void)
{
    struct env v;
    struct p11p_enroll_result r;
    struct p11p_enroll_result r2;
    struct p11p_enroll_params p = { .no_enroll = true };
    struct p11p_enroll_params none = { 0 };
    struct p11p_order o;

    memset(&o, 0, sizeof(o));
    if (!env_open(&v, NULL)) {
        return;
    }
    /* An issued order's CSR resubmitted through p11p_enroll_csr pairs with
     * the key of the same public key. */
    CHECK_RV(keygen(&v, "k1", NULL, &r), P11P_OK);
    CHECK_RV(p11p_cache_order_get(v.cache, r.order_id, &o), P11P_OK);
    CHECK_RV(p11p_enroll_csr(v.e, o.csr_der, o.csr_len, &none, NULL, 0, &r2),
             P11P_OK);
    CHECK_INT_EQ(r2.state, P11P_ORDER_ISSUED);
    CHECK(r2.order_id != r.order_id);
    p11p_order_clear(&o);
    CHECK_RV(p11p_cache_order_get(v.cache, r2.order_id, &o), P11P_OK);
    CHECK_STR_EQ(o.label, "k1");
    CHECK_INT_EQ(o.priv_object_id, r.priv_id);
    p11p_order_clear(&o);
    (void)p;
    env_close(&v);
}

/* A certificate that does not chain to the driver's anchors is not
 * stored: order FAILED, keys kept, logged. verify.c directly too. */
static void test_verify(void)
{
    struct env v;
    struct p11p_enroll_result r;
    struct p11p_order o;
    struct p11p_local_ca *ca = NULL;
    struct p11p_local_ca *other = NULL;
    char dir[700];
    char odir[700];
    char path[800];
    unsigned char *pem = NULL;
    size_t pem_len = 0;
    const unsigned char *inter = NULL, *rootc = NULL, *oi = NULL, *orc = NULL;
    size_t inter_len = 0, root_len = 0, oi_len = 0, or_len = 0;
    char why[256];

    memset(&o, 0, sizeof(o));
    if (!env_open(&v, NULL)) {
        return;
    }
    snprintf(dir, sizeof(dir), "%s/t.ca", v.dir);
    snprintf(odir, sizeof(odir), "%s/other.ca", v.dir);
    CHECK_RV(p11p_local_ca_open(dir, "t", &ca), P11P_OK);
    CHECK_RV(p11p_local_ca_open(odir, "other", &other), P11P_OK);
    if (ca == NULL || other == NULL) {
        goto out;
    }
    p11p_local_ca_get0_chain(ca, &inter, &inter_len, &rootc, &root_len);
    p11p_local_ca_get0_chain(other, &oi, &oi_len, &orc, &or_len);
    {
        unsigned char *const chain_d[2] = { (unsigned char *)inter,
                                            (unsigned char *)rootc };
        const size_t chain_l[2] = { inter_len, root_len };
        unsigned char *const anc_d[1] = { (unsigned char *)orc };
        const size_t anc_l[1] = { or_len };
        unsigned char *const good_d[1] = { (unsigned char *)rootc };
        const size_t good_l[1] = { root_len };
        struct p11p_verify_ders chain = { chain_d, chain_l, 1 };
        struct p11p_verify_ders bad = { anc_d, anc_l, 1 };
        struct p11p_verify_ders good = { good_d, good_l, 1 };
        struct p11p_verify_ders none = { NULL, NULL, 0 };
        struct p11p_verify_ders full = { chain_d, chain_l, 2 };
        /* the issuing CA certificate itself as the "leaf" */
        CHECK_RV(p11p_verify_chain("t", inter, inter_len, &none, &good, NULL,
                                   why, sizeof(why)),
                 P11P_OK);
        CHECK_RV(p11p_verify_chain("t", inter, inter_len, &chain, &bad, NULL,
                                   why, sizeof(why)),
                 P11P_ERR_PROTOCOL);
        CHECK(strstr(why, "chain does not verify") != NULL);
        CHECK_RV(p11p_verify_chain("t", inter, inter_len, &full, &none, NULL,
                                   why, sizeof(why)),
                 P11P_OK); /* its own root, with a warning */
        CHECK_RV(p11p_verify_chain("t", inter, inter_len, &full, &none,
                                   "/nonexistent.pem", why, sizeof(why)),
                 P11P_ERR_CONFIG);
    }
    /* The token's root replaced by another CA's: issued certificates no
     * longer chain to the driver's trust anchor. */
    snprintf(path, sizeof(path), "%s/root.pem", odir);
    CHECK_RV(p11p_local_ca_read_file(path, &pem, &pem_len), P11P_OK);
    snprintf(path, sizeof(path), "%s/root.pem", dir);
    CHECK_RV(p11p_local_ca_write_file(path, pem, pem_len), P11P_OK);
    CHECK_RV(keygen(&v, "mismatch", NULL, &r), P11P_OK);
    CHECK_INT_EQ(r.state, P11P_ORDER_FAILED);
    CHECK(strstr(r.message, "chain does not verify") != NULL);
    CHECK_INT_EQ(count_class(&v, CKO_CERTIFICATE), 0);
    CHECK_INT_EQ(count_class(&v, CKO_PRIVATE_KEY), 1);
    CHECK_RV(p11p_cache_order_get(v.cache, r.order_id, &o), P11P_OK);
    CHECK_INT_EQ(o.state, P11P_ORDER_FAILED);
    CHECK_INT_EQ(o.cert_object_id, 0);
    p11p_order_clear(&o);
out:
    free(pem);
    p11p_local_ca_free(ca);
    p11p_local_ca_free(other);
    env_close(&v);
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int main(void)
{
    if (mkdtemp(root) == NULL) {
        return 1;
    }
    CHECK_RUN(test_issue);
    CHECK_RUN(test_reject);
    CHECK_RUN(test_approval);
    CHECK_RUN(test_mac);
    CHECK_RUN(test_no_enroll);
    CHECK_RUN(test_reconcile);
    CHECK_RUN(test_csr_order);
    CHECK_RUN(test_verify);
    int rc = check_summary();
    if (rc == 0) {
        nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    return rc;
}

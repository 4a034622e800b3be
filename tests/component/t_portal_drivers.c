/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Sectigo and DigiCert drivers against the portal simulator
 * (tests/portal-sim), started by tests/integration/sim_drivers.sh, which
 * passes the simulator's state folder as argv[1]. Per driver: enroll (a CSR
 * built here), collect, find (reconciliation), renew, revoke, refusals
 * before sending, pending answers; then the ledger must hold exactly one
 * order per public key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/base/log.h"
#include "core/base/str.h"
#include "remote/chain.h"
#include "remote/json.h"
#include "remote/portals.h"
#include "tests/unit/check.h"

static const char *state_dir;
static char url[256];
static int keys_made;
static int orders_expected; /* orders the ledger must hold */

struct key {
    unsigned char *csr;
    size_t csr_len;
    unsigned char spki[32];
    char spki_hex[65];
};

static void key_make(struct key *k, const char *cn)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    char alg[16], param[16];
    int len;

    memset(k, 0, sizeof(*k));
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_REQ_set_subject_name(req, name);
    X509_REQ_set_pubkey(req, pk);
    X509_REQ_sign(req, pk, EVP_sha256());
    len = i2d_X509_REQ(req, &k->csr);
    k->csr_len = len > 0 ? (size_t)len : 0;
    CHECK_RV(p11p_chain_csr_key(k->csr, k->csr_len, alg, param, k->spki),
             P11P_OK);
    p11p_str_hex(k->spki, 32, k->spki_hex);
    X509_NAME_free(name);
    X509_REQ_free(req);
    EVP_PKEY_free(pk);
    keys_made++;
}

static void key_free(struct key *k)
{
    OPENSSL_free(k->csr);
}

static char *read_text(const char *name)
{
    char path[512];
    FILE *f;
    char *buf = calloc(1, 1 << 20);
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", state_dir, name);
    f = fopen(path, "r");
    if (f == NULL || buf == NULL) {
        free(buf);
        if (f != NULL) {
            fclose(f);
        }
        return NULL;
    }
    n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static struct p11p_conf_kv *kvs(const char *const *pairs, size_t *n)
{
    size_t c = 0;
    struct p11p_conf_kv *kv;
    while (pairs[2 * c] != NULL) {
        c++;
    }
    kv = calloc(c + 1, sizeof(*kv));
    for (size_t i = 0; i < c; i++) {
        kv[i].key = (char *)pairs[2 * i];
        kv[i].value = (char *)pairs[2 * i + 1];
    }
    *n = c;
    return kv;
}

static void conf_init(struct p11p_conf_token *t, const char *name,
                      const char *driver, const char *cred,
                      const char *const *pairs, char *credpath, size_t cpsz)
{
    memset(t, 0, sizeof(*t));
    snprintf(credpath, cpsz, "%s/%s", state_dir, cred);
    t->name = (char *)name;
    t->driver = (char *)driver;
    t->url = url;
    t->credentials_file = credpath;
    t->timeout_ms = 20000;
    t->extra = kvs(pairs, &t->n_extra);
}

static void req_init(struct p11p_enroll_req *r, const struct key *k,
                     const char *token, const char *subject)
{
    memset(r, 0, sizeof(*r));
    r->request_token = token;
    r->csr_der = k->csr;
    r->csr_len = k->csr_len;
    r->subject = subject;
    r->sans = "DNS:dev.example.org";
    r->label = "dev";
}

static void check_issued(const struct p11p_remote_result *res,
                         const struct key *k)
{
    unsigned char got[32];
    CHECK_INT_EQ(res->state, P11P_REMOTE_ISSUED);
    CHECK(res->cert_der != NULL);
    CHECK_INT_EQ(res->chain_n, 2);
    if (res->cert_der != NULL) {
        CHECK_RV(p11p_chain_cert_spki_sha256(res->cert_der, res->cert_len, got),
                 P11P_OK);
        CHECK_MEM_EQ(got, 32, k->spki, 32);
    }
}

static void test_sectigo(const char *family, const char *instant,
                         const char *approval, const char *auth)
{
    const struct p11p_driver *drv = &p11p_driver_sectigo;
    const char *pairs[] = {
        "cert_type", instant, "family", family,     "auth",
        auth,        "term",  "365",    "comments", "t_portal_drivers",
        NULL
    };
    struct p11p_conf_token t;
    struct p11p_enroll_req req;
    struct p11p_remote_result res, res2;
    void *st = NULL;
    char cp[512];
    char token[64];
    char id[128];
    struct key k1, k2, k3;

    conf_init(&t, "sectigo-t", "sectigo", "sectigo.cred", pairs, cp,
              sizeof(cp));
    CHECK_RV(drv->open(&t, &st), P11P_OK);
    if (st == NULL) {
        free(t.extra);
        return;
    }
    memset(&res, 0, sizeof(res));
    memset(&res2, 0, sizeof(res2));
    key_make(&k1, "dev-s1");
    snprintf(token, sizeof(token), "tok-%s-%s-1", family, auth);
    req_init(&req, &k1, token, "CN=dev-s1");
    CHECK_RV(drv->enroll(st, &req, &res), P11P_OK);
    orders_expected++;
    check_issued(&res, &k1);
    p11p_str_copy(id, sizeof(id), res.portal_id);
    p11p_remote_result_clear(&res);
    CHECK_RV(drv->collect(st, id, &res), P11P_OK);
    check_issued(&res, &k1);
    p11p_remote_result_clear(&res);
    /* reconciliation by request token */
    CHECK_RV(drv->find(st, token, k1.spki, &res), P11P_OK);
    CHECK_STR_EQ(res.portal_id, id);
    CHECK_INT_EQ(res.state, P11P_REMOTE_ISSUED);
    p11p_remote_result_clear(&res);
    CHECK_RV(drv->find(st, "no-such-token", k1.spki, &res), P11P_OK);
    CHECK_INT_EQ(res.state, P11P_REMOTE_UNKNOWN);
    p11p_remote_result_clear(&res);
    /* renew with a new key */
    key_make(&k2, "dev-s1");
    req_init(&req, &k2, "tok-renew", "CN=dev-s1");
    CHECK_RV(drv->renew(st, id, &req, &res), P11P_OK);
    if (strcmp(family, "ssl") == 0) {
        orders_expected++;
        CHECK(strcmp(res.portal_id, id) != 0);
        check_issued(&res, &k2);
    } else {
        /* device renew reuses the order's CSR (k1): one more order for k1 */
        orders_expected++;
        check_issued(&res, &k1);
    }
    p11p_remote_result_clear(&res);
    /* revoke, twice (a repeat after an unknown outcome succeeds) */
    CHECK_RV(drv->revoke(st, id, NULL, P11P_REVOKE_SUPERSEDED, &res), P11P_OK);
    CHECK_INT_EQ(res.state, P11P_REMOTE_REVOKED);
    p11p_remote_result_clear(&res);
    CHECK_RV(drv->revoke(st, id, NULL, P11P_REVOKE_SUPERSEDED, &res), P11P_OK);
    p11p_remote_result_clear(&res);
    CHECK_RV(drv->collect(st, id, &res), P11P_OK);
    CHECK_INT_EQ(res.state, P11P_REMOTE_REVOKED);
    p11p_remote_result_clear(&res);
    drv->close(st);
    st = NULL;
    free(t.extra);

    /* approval profile: pending */
    {
        const char *p2[] = { "cert_type", approval, "family", family,
                             "auth",      auth,     NULL };
        conf_init(&t, "sectigo-t", "sectigo", "sectigo.cred", p2, cp,
                  sizeof(cp));
        CHECK_RV(drv->open(&t, &st), P11P_OK);
        key_make(&k3, "dev-s3");
        req_init(&req, &k3, "tok-approval", "CN=dev-s3");
        CHECK_RV(drv->enroll(st, &req, &res), P11P_OK);
        orders_expected++;
        CHECK_INT_EQ(res.state, P11P_REMOTE_PENDING_APPROVAL);
        CHECK(res.cert_der == NULL);
        CHECK(res.portal_id[0] != '\0');
        p11p_str_copy(id, sizeof(id), res.portal_id);
        p11p_remote_result_clear(&res);
        CHECK_RV(drv->collect(st, id, &res), P11P_OK);
        CHECK_INT_EQ(res.state, P11P_REMOTE_PENDING_APPROVAL);
        p11p_remote_result_clear(&res);
        drv->close(st);
        st = NULL;
        free(t.extra);
    }
    /* refused before sending: a term the profile does not offer, an
     * unknown profile */
    {
        const char *p3[] = { "cert_type", instant, "family", family, "auth",
                             auth,        "term",  "999",    NULL };
        conf_init(&t, "sectigo-t", "sectigo", "sectigo.cred", p3, cp,
                  sizeof(cp));
        CHECK_RV(drv->open(&t, &st), P11P_OK);
        req_init(&req, &k3, "tok-refused", "CN=dev-s3");
        CHECK_RV(drv->enroll(st, &req, &res), P11P_ERR_REJECTED);
        CHECK(strstr(res.message, "term 999") != NULL);
        p11p_remote_result_clear(&res);
        drv->close(st);
        free(t.extra);
        const char *p4[] = {
            "cert_type", "No Such Profile", "family", family, "auth", auth, NULL
        };
        conf_init(&t, "sectigo-t", "sectigo", "sectigo.cred", p4, cp,
                  sizeof(cp));
        CHECK_RV(drv->open(&t, &st), P11P_OK);
        CHECK_RV(drv->enroll(st, &req, &res), P11P_ERR_REJECTED);
        CHECK(strstr(res.message, "No Such Profile") != NULL);
        p11p_remote_result_clear(&res);
        drv->close(st);
        free(t.extra);
    }
    key_free(&k1);
    key_free(&k2);
    key_free(&k3);
}

static void test_sectigo_bad_password(void)
{
    const char *pairs[] = { "cert_type", "Sim SSL Instant", NULL };
    struct p11p_conf_token t;
    struct p11p_remote_result res;
    void *st = NULL;
    char cp[512];

    memset(&res, 0, sizeof(res));
    setenv("P11PORTAL_SECTIGO_BAD_PASSWORD", "wrong-password", 1);
    conf_init(&t, "sectigo-bad", "sectigo", "sectigo.cred", pairs, cp,
              sizeof(cp));
    CHECK_RV(p11p_driver_sectigo.open(&t, &st), P11P_OK);
    CHECK_RV(p11p_driver_sectigo.collect(st, "1", &res), P11P_ERR_PORTAL_AUTH);
    CHECK_INT_EQ(res.http_status, 401);
    p11p_remote_result_clear(&res);
    p11p_driver_sectigo.close(st);
    free(t.extra);
    unsetenv("P11PORTAL_SECTIGO_BAD_PASSWORD");
}

static void test_untrusted_tls(void)
{
    const char *pairs[] = { "cert_type", "Sim SSL Instant", NULL };
    struct p11p_conf_token t;
    struct p11p_remote_result res;
    void *st = NULL;
    char cp[512];

    memset(&res, 0, sizeof(res));
    conf_init(&t, "sectigo-tls", "sectigo", "sectigo.cred", pairs, cp,
              sizeof(cp));
    static char system_cas[] = "/etc/ssl/certs/ca-certificates.crt";

    t.ca_bundle = system_cas; /* not the simulator's CA */
    CHECK_RV(p11p_driver_sectigo.open(&t, &st), P11P_OK);
    CHECK_RV(p11p_driver_sectigo.collect(st, "1", &res), P11P_ERR_NOT_SENT);
    p11p_remote_result_clear(&res);
    p11p_driver_sectigo.close(st);
    free(t.extra);
}

static void test_digicert(void)
{
    const struct p11p_driver *drv = &p11p_driver_digicert;
    const char *pairs[] = { "enrollment_profile_id",
                            "IOT_5f0c0a6e-51a1-4c1e-9a55-000000000001",
                            "token_attribute", "p11portal_request_token",
                            NULL };
    struct p11p_conf_token t;
    struct p11p_enroll_req req;
    struct p11p_remote_result res;
    void *st = NULL;
    char cp[512];
    char id[128];
    struct key k1, k2, k3, k4;

    memset(&res, 0, sizeof(res));
    conf_init(&t, "digicert-t", "digicert", "digicert.cred", pairs, cp,
              sizeof(cp));
    CHECK_RV(drv->open(&t, &st), P11P_OK);
    if (st == NULL) {
        free(t.extra);
        return;
    }
    key_make(&k1, "dev-d1");
    req_init(&req, &k1, "dtok-1", "CN=dev-d1,O=p11portal test");
    req.mac = "00:11:22:33:44:55";
    CHECK_RV(drv->enroll(st, &req, &res), P11P_OK);
    orders_expected++;
    check_issued(&res, &k1);
    p11p_str_copy(id, sizeof(id), res.portal_id);
    p11p_remote_result_clear(&res);
    CHECK_RV(drv->collect(st, id, &res), P11P_OK);
    check_issued(&res, &k1);
    p11p_remote_result_clear(&res);
    CHECK_RV(drv->find(st, "dtok-1", k1.spki, &res), P11P_OK);
    CHECK_STR_EQ(res.portal_id, id);
    p11p_remote_result_clear(&res);
    key_make(&k2, "dev-d1");
    req_init(&req, &k2, "dtok-2", "CN=dev-d1");
    CHECK_RV(drv->renew(st, id, &req, &res), P11P_OK);
    orders_expected++;
    check_issued(&res, &k2);
    CHECK(strcmp(res.portal_id, id) != 0);
    p11p_remote_result_clear(&res);
    CHECK_RV(drv->revoke(st, id, NULL, P11P_REVOKE_KEY_COMPROMISE, &res),
             P11P_OK);
    CHECK_INT_EQ(res.state, P11P_REMOTE_REVOKED);
    p11p_remote_result_clear(&res);
    CHECK_RV(drv->revoke(st, id, NULL, P11P_REVOKE_KEY_COMPROMISE, &res),
             P11P_OK);
    p11p_remote_result_clear(&res);
    CHECK_RV(drv->collect(st, id, &res), P11P_OK);
    CHECK_INT_EQ(res.state, P11P_REMOTE_REVOKED);
    p11p_remote_result_clear(&res);
    CHECK_RV(drv->collect(st, "00000000-0000-0000-0000-000000000000", &res),
             P11P_ERR_NOT_FOUND);
    p11p_remote_result_clear(&res);
    drv->close(st);
    free(t.extra);

    /* approval profile: pending; reconciliation must not say "unknown" */
    {
        const char *p2[] = { "enrollment_profile_id",
                             "IOT_5f0c0a6e-51a1-4c1e-9a55-000000000003", NULL };
        conf_init(&t, "digicert-t", "digicert", "digicert.cred", p2, cp,
                  sizeof(cp));
        CHECK_RV(drv->open(&t, &st), P11P_OK);
        key_make(&k3, "dev-d3");
        req_init(&req, &k3, "dtok-3", "CN=dev-d3");
        CHECK_RV(drv->enroll(st, &req, &res), P11P_OK);
        orders_expected++;
        CHECK_INT_EQ(res.state, P11P_REMOTE_PENDING_APPROVAL);
        p11p_str_copy(id, sizeof(id), res.portal_id);
        p11p_remote_result_clear(&res);
        CHECK_RV(drv->collect(st, id, &res), P11P_OK);
        CHECK_INT_EQ(res.state, P11P_REMOTE_PENDING_APPROVAL);
        p11p_remote_result_clear(&res);
        key_make(&k4, "dev-d4");
        CHECK_RV(drv->find(st, "dtok-4", k4.spki, &res), P11P_ERR_SENT_UNKNOWN);
        p11p_remote_result_clear(&res);
        drv->close(st);
        free(t.extra);
    }
    /* synchronous rejection */
    {
        const char *p3[] = { "enrollment_profile_id",
                             "IOT_5f0c0a6e-51a1-4c1e-9a55-000000000004", NULL };
        conf_init(&t, "digicert-t", "digicert", "digicert.cred", p3, cp,
                  sizeof(cp));
        CHECK_RV(drv->open(&t, &st), P11P_OK);
        req_init(&req, &k4, "dtok-5", "CN=dev-d4");
        CHECK_RV(drv->enroll(st, &req, &res), P11P_ERR_REJECTED);
        CHECK(strstr(res.message, "invalid_input") != NULL);
        p11p_remote_result_clear(&res);
        drv->close(st);
        free(t.extra);
    }
    key_free(&k1);
    key_free(&k2);
    key_free(&k3);
    key_free(&k4);
}

/* Every order of the ledger: one per public key, except the device renewal
 * which reuses the order's CSR by design. */
static void test_ledger(void)
{
    char *text = read_text("ledger.json");
    struct p11p_json *j = NULL;
    struct p11p_json_err err;
    size_t n = 0;
    size_t dup = 0;

    CHECK(text != NULL);
    if (text == NULL) {
        return;
    }
    CHECK_RV(p11p_json_parse(text, strlen(text), &j, &err), P11P_OK);
    CHECK_RV(p11p_json_array_len(j, "orders", &n, &err), P11P_OK);
    CHECK_INT_EQ(n, orders_expected);
    for (size_t a = 0; a < n; a++) {
        for (size_t b = a + 1; b < n; b++) {
            char pa[64], pb[64];
            const char *sa = NULL, *sb = NULL;
            snprintf(pa, sizeof(pa), "orders[%zu].spki_sha256", a);
            snprintf(pb, sizeof(pb), "orders[%zu].spki_sha256", b);
            if (p11p_json_get_string(j, pa, &sa, NULL) == P11P_OK
                && p11p_json_get_string(j, pb, &sb, NULL) == P11P_OK
                && strcmp(sa, sb) == 0) {
                dup++;
            }
        }
    }
    /* only the device renewal of the test (same CSR by API design) */
    CHECK_INT_EQ(dup, 1);
    p11p_json_free(j);
    free(text);
}

int main(int argc, char **argv)
{
    char *u;

    if (argc < 2) {
        fprintf(stderr, "usage: t_portal_drivers SIM_STATE_DIR\n");
        return 77;
    }
    state_dir = argv[1];
    u = read_text("url");
    if (u == NULL) {
        return 99;
    }
    u[strcspn(u, "\r\n")] = '\0';
    p11p_str_copy(url, sizeof(url), u);
    free(u);
    CHECK_RUN(test_untrusted_tls);
    CHECK_RUN(test_sectigo_bad_password);
    test_sectigo("ssl", "Sim SSL Instant", "Sim SSL Approval", "password");
    fprintf(stderr, "ok sectigo ssl password\n");
    test_sectigo("ssl", "1001", "1003", "client_cert");
    fprintf(stderr, "ok sectigo ssl client_cert\n");
    test_sectigo("device", "Sim Device Instant", "Sim Device Approval",
                 "password");
    fprintf(stderr, "ok sectigo device\n");
    CHECK_RUN(test_digicert);
    CHECK_RUN(test_ledger);
    (void)keys_made;
    return check_summary();
}

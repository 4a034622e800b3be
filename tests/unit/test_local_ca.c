/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of remote/local: the embedded CA hierarchy (files, modes,
 * extensions, leaves from CSRs, two processes creating at once) and the
 * local driver (profiles default/reject/approval, ledger, find, revoke,
 * trust), in a temporary data folder.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/base/log.h"
#include "core/conf/conf.h"
#include "remote/driver.h"
#include "remote/local/local_ca.h"
#include "tests/unit/check.h"

static char tmpdir[] = "/tmp/p11p-localca-XXXXXX";

static EVP_PKEY *new_key(const char *alg, const char *param)
{
    if (strcmp(alg, "RSA") == 0) {
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    }
    if (param == NULL) {
        return EVP_PKEY_Q_keygen(NULL, NULL, alg);
    }
    return EVP_PKEY_Q_keygen(NULL, NULL, alg, param);
}

/* A CSR made directly with OpenSSL (the engine's CSR code is tested in
 * test_csr). */
static unsigned char *make_csr(EVP_PKEY *key, const char *cn, const char *san,
                               size_t *len)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *dn = X509_NAME_new();
    unsigned char *der = NULL;
    X509_NAME_add_entry_by_txt(dn, "CN", MBSTRING_UTF8,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_REQ_set_subject_name(req, dn);
    X509_REQ_set_pubkey(req, key);
    if (san != NULL) {
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        X509_EXTENSION *e =
            X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
        sk_X509_EXTENSION_push(exts, e);
        X509_REQ_add_extensions(req, exts);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
    X509_REQ_sign(req, key,
                  EVP_PKEY_is_a(key, "ED25519") ? NULL : EVP_sha256());
    int n = i2d_X509_REQ(req, &der);
    *len = n > 0 ? (size_t)n : 0;
    X509_NAME_free(dn);
    X509_REQ_free(req);
    return der;
}

static X509 *d2i_cert(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    return d2i_X509(NULL, &p, (long)len);
}

static int verify_chain(const unsigned char *leaf, size_t leaf_len,
                        const unsigned char *inter, size_t inter_len,
                        const unsigned char *root, size_t root_len)
{
    X509 *l = d2i_cert(leaf, leaf_len);
    X509 *i = d2i_cert(inter, inter_len);
    X509 *r = d2i_cert(root, root_len);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    sk_X509_push(untrusted, i);
    X509_STORE_add_cert(store, r);
    X509_STORE_CTX_init(ctx, store, l, untrusted);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    int ok = X509_verify_cert(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_free(untrusted);
    X509_free(l);
    X509_free(i);
    X509_free(r);
    return ok;
}

static void test_hierarchy(void)
{
    struct p11p_local_ca *ca = NULL;
    struct p11p_local_ca *ca2 = NULL;
    char dir[512];
    char path[600];
    struct stat st;
    const unsigned char *inter = NULL, *root = NULL;
    const unsigned char *inter2 = NULL, *root2 = NULL;
    size_t inter_len = 0, root_len = 0, inter2_len = 0, root2_len = 0;

    snprintf(dir, sizeof(dir), "%s/h.ca", tmpdir);
    CHECK_RV(p11p_local_ca_open(dir, "h", &ca), P11P_OK);
    if (ca == NULL) {
        return;
    }
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    snprintf(path, sizeof(path), "%s/root.key", dir);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    snprintf(path, sizeof(path), "%s/issuing.key", dir);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    p11p_local_ca_get0_chain(ca, &inter, &inter_len, &root, &root_len);
    X509 *r = d2i_cert(root, root_len);
    X509 *i = d2i_cert(inter, inter_len);
    CHECK(r != NULL && i != NULL);
    if (r != NULL && i != NULL) {
        CHECK(X509_check_ca(r) > 0);
        CHECK(X509_check_ca(i) > 0);
        CHECK(X509_check_issued(r, i) == X509_V_OK);
        CHECK(X509_check_issued(r, r) == X509_V_OK);
        CHECK(X509_get_key_usage(i) & KU_KEY_CERT_SIGN);
        CHECK(X509_get0_subject_key_id(i) != NULL);
        CHECK(X509_get0_authority_key_id(i) != NULL);
        EVP_PKEY *rk = X509_get0_pubkey(r);
        EVP_PKEY *ik = X509_get0_pubkey(i);
        CHECK_INT_EQ(EVP_PKEY_get_bits(rk), 384);
        CHECK_INT_EQ(EVP_PKEY_get_bits(ik), 256);
    }
    X509_free(r);
    X509_free(i);
    /* Opening again loads the same CA. */
    CHECK_RV(p11p_local_ca_open(dir, "h", &ca2), P11P_OK);
    if (ca2 != NULL) {
        p11p_local_ca_get0_chain(ca2, &inter2, &inter2_len, &root2, &root2_len);
        CHECK_MEM_EQ(root, root_len, root2, root2_len);
        CHECK_MEM_EQ(inter, inter_len, inter2, inter2_len);
    }
    p11p_local_ca_free(ca2);
    p11p_local_ca_free(ca);
}

static void test_issue(void)
{
    struct p11p_local_ca *ca = NULL;
    char dir[512];
    const char *algs[][2] = { { "EC", "P-256" },
                              { "RSA", NULL },
                              { "ED25519", NULL } };
    const unsigned char *inter = NULL, *root = NULL;
    size_t inter_len = 0, root_len = 0;

    snprintf(dir, sizeof(dir), "%s/i.ca", tmpdir);
    CHECK_RV(p11p_local_ca_open(dir, "i", &ca), P11P_OK);
    if (ca == NULL) {
        return;
    }
    p11p_local_ca_get0_chain(ca, &inter, &inter_len, &root, &root_len);
    for (size_t k = 0; k < 3; k++) {
        EVP_PKEY *key = new_key(algs[k][0], algs[k][1]);
        size_t csr_len = 0;
        unsigned char *csr =
            make_csr(key, "web01.example.com",
                     "DNS:web01.example.com,IP:192.0.2.1", &csr_len);
        unsigned char *der = NULL;
        size_t len = 0;
        CHECK_RV(p11p_local_ca_issue(ca, csr, csr_len, 30, &der, &len),
                 P11P_OK);
        X509 *c = der != NULL ? d2i_cert(der, len) : NULL;
        CHECK(c != NULL);
        if (c != NULL) {
            char cn[128] = "";
            X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName,
                                      cn, sizeof(cn));
            CHECK_STR_EQ(cn, "web01.example.com");
            CHECK(EVP_PKEY_eq(X509_get0_pubkey(c), key) == 1);
            CHECK(X509_check_host(c, "web01.example.com", 0, 0, NULL) == 1);
            CHECK(X509_check_ip_asc(c, "192.0.2.1", 0) == 1);
            CHECK(X509_check_ca(c) == 0);
            CHECK(X509_get_extended_key_usage(c) & XKU_SSL_SERVER);
            CHECK(X509_get_extended_key_usage(c) & XKU_SSL_CLIENT);
            CHECK(X509_get_key_usage(c) & KU_DIGITAL_SIGNATURE);
            CHECK_INT_EQ((X509_get_key_usage(c) & KU_KEY_ENCIPHERMENT) != 0,
                         k == 1);
            const ASN1_INTEGER *sn = X509_get0_serialNumber(c);
            CHECK_INT_EQ(ASN1_STRING_length(sn), 16);
            int days = 0, secs = 0;
            ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(c),
                           X509_get0_notAfter(c));
            CHECK(days == 30);
            CHECK(verify_chain(der, len, inter, inter_len, root, root_len)
                  == 1);
        }
        X509_free(c);
        free(der);
        OPENSSL_free(csr);
        EVP_PKEY_free(key);
    }
    /* A CSR with a broken signature is rejected. */
    EVP_PKEY *key = new_key("EC", "P-256");
    size_t csr_len = 0;
    unsigned char *csr = make_csr(key, "x", NULL, &csr_len);
    unsigned char *der = NULL;
    size_t len = 0;
    csr[csr_len - 3] ^= 0x55;
    CHECK_RV(p11p_local_ca_issue(ca, csr, csr_len, 0, &der, &len),
             P11P_ERR_REJECTED);
    CHECK(der == NULL);
    OPENSSL_free(csr);
    EVP_PKEY_free(key);
    p11p_local_ca_free(ca);
}

/* Two processes creating the CA at once end with one CA. */
static void test_concurrent_create(void)
{
    char dir[512];
    pid_t pids[4];
    struct p11p_local_ca *ca = NULL;
    const unsigned char *inter = NULL, *root = NULL;
    size_t inter_len = 0, root_len = 0;

    snprintf(dir, sizeof(dir), "%s/c.ca", tmpdir);
    for (int i = 0; i < 4; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            struct p11p_local_ca *c = NULL;
            enum p11p_status rc = p11p_local_ca_open(dir, "c", &c);
            char out[600];
            snprintf(out, sizeof(out), "%s/root-%d.der", tmpdir, i);
            const unsigned char *a = NULL, *b = NULL;
            size_t al = 0, bl = 0;
            if (rc == P11P_OK) {
                p11p_local_ca_get0_chain(c, &a, &al, &b, &bl);
                rc = p11p_local_ca_write_file(out, b, bl);
            }
            p11p_local_ca_free(c);
            _exit(rc == P11P_OK ? 0 : 1);
        }
    }
    for (int i = 0; i < 4; i++) {
        int status = 0;
        waitpid(pids[i], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK_RV(p11p_local_ca_open(dir, "c", &ca), P11P_OK);
    if (ca == NULL) {
        return;
    }
    p11p_local_ca_get0_chain(ca, &inter, &inter_len, &root, &root_len);
    for (int i = 0; i < 4; i++) {
        char path[600];
        unsigned char *data = NULL;
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/root-%d.der", tmpdir, i);
        CHECK_RV(p11p_local_ca_read_file(path, &data, &len), P11P_OK);
        CHECK_MEM_EQ(data, len, root, root_len);
        free(data);
    }
    p11p_local_ca_free(ca);
}

static struct p11p_conf_token *token_conf(const char *name, const char *profile)
{
    static struct p11p_conf_token t;
    memset(&t, 0, sizeof(t));
    t.name = (char *)name;
    t.driver = (char *)"local";
    t.data_dir = tmpdir;
    t.profile = (char *)profile;
    return &t;
}

static void spki_sha256(EVP_PKEY *key, unsigned char out[32])
{
    unsigned char *spki = NULL;
    int n = i2d_PUBKEY(key, &spki);
    unsigned len = 32;
    EVP_Digest(spki, (size_t)n, out, &len, EVP_sha256(), NULL);
    OPENSSL_free(spki);
}

static void test_driver(void)
{
    struct p11p_remote *r = NULL;
    struct p11p_remote_result res;
    EVP_PKEY *key = new_key("EC", "P-256");
    size_t csr_len = 0;
    unsigned char *csr = make_csr(key, "dev1", "DNS:dev1", &csr_len);
    unsigned char h[32];
    struct p11p_enroll_req req = { .request_token = "tok-aaa",
                                   .csr_der = csr,
                                   .csr_len = csr_len,
                                   .subject = "CN=dev1",
                                   .label = "dev1" };
    char issued_id[128] = "";
    char marker[700];
    const struct p11p_driver *d = NULL;
    void *st = NULL;

    memset(&res, 0, sizeof(res));
    spki_sha256(key, h);
    CHECK_RV(p11p_remote_open(token_conf("drv", NULL), &r), P11P_OK);
    if (r == NULL) {
        goto out;
    }
    d = p11p_remote_driver(r);
    st = p11p_remote_state(r);
    CHECK_STR_EQ(d->name, "local");
    CHECK(p11p_registry_find("local") == d);
    CHECK(p11p_registry_find("nope") == NULL);

    /* default: issued at once, chain [issuing, root]. */
    CHECK_RV(d->enroll(st, &req, &res), P11P_OK);
    CHECK_INT_EQ(res.state, P11P_REMOTE_ISSUED);
    CHECK_INT_EQ(res.chain_n, 2);
    CHECK(res.cert_der != NULL);
    CHECK(strncmp(res.portal_id, "L-", 2) == 0);
    snprintf(issued_id, sizeof(issued_id), "%s", res.portal_id);
    if (res.chain_n == 2) {
        CHECK(verify_chain(res.cert_der, res.cert_len, res.chain_der[0],
                           res.chain_lens[0], res.chain_der[1],
                           res.chain_lens[1])
              == 1);
    }
    p11p_remote_result_clear(&res);

    /* trust: the root. */
    CHECK_RV(d->trust(st, &res), P11P_OK);
    CHECK_INT_EQ(res.chain_n, 1);
    p11p_remote_result_clear(&res);

    /* find by request token, by key, and nothing. */
    CHECK_RV(d->find(st, "tok-aaa", (unsigned char[32]){ 0 }, &res), P11P_OK);
    CHECK_INT_EQ(res.state, P11P_REMOTE_ISSUED);
    CHECK_STR_EQ(res.portal_id, issued_id);
    CHECK(res.cert_der != NULL);
    p11p_remote_result_clear(&res);
    CHECK_RV(d->find(st, "other", h, &res), P11P_OK);
    CHECK_STR_EQ(res.portal_id, issued_id);
    p11p_remote_result_clear(&res);
    CHECK_RV(d->find(st, "other", (unsigned char[32]){ 1 }, &res), P11P_OK);
    CHECK_INT_EQ(res.state, P11P_REMOTE_UNKNOWN);
    p11p_remote_result_clear(&res);

    /* collect of an issued order, revoke, and an unknown id. */
    CHECK_RV(d->collect(st, issued_id, &res), P11P_OK);
    CHECK_INT_EQ(res.state, P11P_REMOTE_ISSUED);
    p11p_remote_result_clear(&res);
    CHECK_RV(d->revoke(st, issued_id, "01", P11P_REVOKE_SUPERSEDED, &res),
             P11P_OK);
    CHECK_INT_EQ(res.state, P11P_REMOTE_REVOKED);
    p11p_remote_result_clear(&res);
    CHECK_RV(d->collect(st, issued_id, &res), P11P_OK);
    CHECK_INT_EQ(res.state, P11P_REMOTE_REVOKED);
    p11p_remote_result_clear(&res);
    CHECK_RV(d->collect(st, "L-999", &res), P11P_ERR_NOT_FOUND);
    p11p_remote_result_clear(&res);
    CHECK_RV(d->collect(st, "../x", &res), P11P_ERR_NOT_FOUND);
    p11p_remote_result_clear(&res);

    /* reject */
    req.profile = "reject";
    req.request_token = "tok-bbb";
    CHECK_RV(d->enroll(st, &req, &res), P11P_ERR_REJECTED);
    CHECK_INT_EQ(res.state, P11P_REMOTE_REJECTED);
    CHECK(strstr(res.message, "reject") != NULL);
    p11p_remote_result_clear(&res);
    req.profile = "nonsense";
    CHECK_RV(d->enroll(st, &req, &res), P11P_ERR_REJECTED);
    CHECK(strstr(res.message, "unknown profile") != NULL);
    p11p_remote_result_clear(&res);

    /* approval: two collects */
    req.profile = "approval";
    req.request_token = "tok-ccc";
    CHECK_RV(d->enroll(st, &req, &res), P11P_OK);
    CHECK_INT_EQ(res.state, P11P_REMOTE_PENDING_APPROVAL);
    snprintf(issued_id, sizeof(issued_id), "%s", res.portal_id);
    p11p_remote_result_clear(&res);
    CHECK_RV(d->collect(st, issued_id, &res), P11P_OK);
    CHECK_INT_EQ(res.state, P11P_REMOTE_PENDING_APPROVAL);
    p11p_remote_result_clear(&res);
    CHECK_RV(d->collect(st, issued_id, &res), P11P_OK);
    CHECK_INT_EQ(res.state, P11P_REMOTE_ISSUED);
    CHECK(res.cert_der != NULL);
    p11p_remote_result_clear(&res);

    /* approval:0 waits for the marker file */
    req.profile = "approval:0";
    req.request_token = "tok-ddd";
    CHECK_RV(d->enroll(st, &req, &res), P11P_OK);
    snprintf(issued_id, sizeof(issued_id), "%s", res.portal_id);
    p11p_remote_result_clear(&res);
    for (int i = 0; i < 3; i++) {
        CHECK_RV(d->collect(st, issued_id, &res), P11P_OK);
        CHECK_INT_EQ(res.state, P11P_REMOTE_PENDING_APPROVAL);
        p11p_remote_result_clear(&res);
    }
    snprintf(marker, sizeof(marker), "%s/drv.ca/orders/%s.approved", tmpdir,
             issued_id);
    CHECK_RV(p11p_local_ca_write_file(marker, "", 0), P11P_OK);
    CHECK_RV(d->collect(st, issued_id, &res), P11P_OK);
    CHECK_INT_EQ(res.state, P11P_REMOTE_ISSUED);
    p11p_remote_result_clear(&res);
out:
    p11p_remote_close(r);
    OPENSSL_free(csr);
    EVP_PKEY_free(key);
}

static void test_unknown_driver(void)
{
    struct p11p_remote *r = NULL;
    struct p11p_conf_token *t = token_conf("x", NULL);
    t->driver = (char *)"verisign";
    CHECK_RV(p11p_remote_open(t, &r), P11P_ERR_CONFIG);
    CHECK(r == NULL);
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int main(void)
{
    if (mkdtemp(tmpdir) == NULL) {
        return 1;
    }
    CHECK_RUN(test_hierarchy);
    CHECK_RUN(test_issue);
    CHECK_RUN(test_concurrent_create);
    CHECK_RUN(test_driver);
    CHECK_RUN(test_unknown_driver);
    int rc = check_summary();
    if (rc == 0) {
        nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    return rc;
}

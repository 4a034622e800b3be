/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of remote/chain.c: chains in any order, PKCS#7 (PEM and DER),
 * a DER certificate, the key check, garbage. Uses the PEM seeds of
 * tests/fuzz/corpus/fuzz_pem_chain (leaf CN=dev-001, Fuzz Issuing CA, Fuzz
 * Root). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "remote/chain.h"
#include "tests/unit/check.h"

static unsigned char *load(const char *name, size_t *len)
{
    const char *src = getenv("P11P_SOURCE_DIR");
    char path[1024];
    unsigned char *buf = malloc(65536);
    FILE *f;

    snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/fuzz_pem_chain/%s",
             src != NULL ? src : ".", name);
    f = fopen(path, "rb");
    if (f == NULL || buf == NULL) {
        if (f != NULL) {
            fclose(f);
        }
        free(buf);
        *len = 0;
        return NULL;
    }
    *len = fread(buf, 1, 65536, f);
    fclose(f);
    return buf;
}

static void cn_of(const unsigned char *der, size_t len, char *out, size_t outsz)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    out[0] = '\0';
    if (x != NULL) {
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out,
                                  (int)outsz);
        X509_free(x);
    }
}

static void check_file(const char *name, size_t chain_n)
{
    struct p11p_remote_result res;
    size_t len = 0;
    unsigned char *data = load(name, &len);
    char why[256];
    char cn[64];

    memset(&res, 0, sizeof(res));
    CHECK(data != NULL);
    if (data == NULL) {
        return;
    }
    CHECK_RV(p11p_chain_parse(data, len, NULL, &res, why, sizeof(why)),
             P11P_OK);
    CHECK_INT_EQ(res.chain_n, chain_n);
    if (res.cert_der != NULL) {
        cn_of(res.cert_der, res.cert_len, cn, sizeof(cn));
        CHECK_STR_EQ(cn, "dev-001");
    }
    if (res.chain_n >= 1) {
        cn_of(res.chain_der[0], res.chain_lens[0], cn, sizeof(cn));
        CHECK_STR_EQ(cn, "Fuzz Issuing CA");
    }
    if (res.chain_n >= 2) {
        cn_of(res.chain_der[1], res.chain_lens[1], cn, sizeof(cn));
        CHECK_STR_EQ(cn, "Fuzz Root");
    }
    p11p_remote_result_clear(&res);
    free(data);
}

static void test_orders(void)
{
    check_file("leaf_first.pem", 2);
    check_file("root_first.pem", 2);
    check_file("no_root.pem", 1);
    check_file("chain.p7b", 2);
    check_file("chain.p7b.der", 2);
    check_file("leaf.der", 0);
}

static void test_key_and_garbage(void)
{
    struct p11p_remote_result res;
    size_t len = 0;
    unsigned char *data = load("root_first.pem", &len);
    unsigned char spki[32];
    unsigned char wrong[32];
    char why[256];
    char serial[80];

    memset(&res, 0, sizeof(res));
    CHECK_RV(p11p_chain_parse(data, len, NULL, &res, why, sizeof(why)),
             P11P_OK);
    CHECK_RV(p11p_chain_cert_spki_sha256(res.cert_der, res.cert_len, spki),
             P11P_OK);
    CHECK_RV(p11p_chain_cert_serial(res.cert_der, res.cert_len, serial,
                                    sizeof(serial)),
             P11P_OK);
    CHECK(strlen(serial) > 0);
    p11p_remote_result_clear(&res);
    CHECK_RV(p11p_chain_parse(data, len, spki, &res, why, sizeof(why)),
             P11P_OK);
    p11p_remote_result_clear(&res);
    memset(wrong, 0x5a, sizeof(wrong));
    CHECK_RV(p11p_chain_parse(data, len, wrong, &res, why, sizeof(why)),
             P11P_ERR_PROTOCOL);
    CHECK_STR_EQ(why, "certificate for a different key");
    p11p_remote_result_clear(&res);
    /* truncated PEM: the last block is lost, the leaf must still be found
     * or the reply refused, never a crash */
    (void)p11p_chain_parse(data, len / 2, NULL, &res, why, sizeof(why));
    p11p_remote_result_clear(&res);
    free(data);
    CHECK_RV(p11p_chain_parse((const unsigned char *)"hello", 5, NULL, &res,
                              why, sizeof(why)),
             P11P_ERR_PROTOCOL);
    CHECK_STR_EQ(why, "no certificate found in the reply");
    CHECK_RV(p11p_chain_parse((const unsigned char *)"\x30\x03\x02\x01\x01", 5,
                              NULL, &res, why, sizeof(why)),
             P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_chain_parse(NULL, 0, NULL, &res, why, sizeof(why)),
             P11P_ERR_PROTOCOL);
    CHECK_RV(
        p11p_chain_parse(
            (const unsigned char
                 *)"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            60, NULL, &res, why, sizeof(why)),
        P11P_ERR_PROTOCOL);
    p11p_remote_result_clear(&res);
}

static void test_two_leaves(void)
{
    struct p11p_remote_result res;
    size_t l1 = 0, l2 = 0;
    unsigned char *a = load("leaf_first.pem", &l1);
    unsigned char *b = load("no_root.pem", &l2);
    unsigned char *both = NULL;
    char why[256];

    memset(&res, 0, sizeof(res));
    if (a == NULL || b == NULL) {
        CHECK(0);
        free(a);
        free(b);
        return;
    }
    /* the same leaf twice is deduplicated, not two leaves */
    both = malloc(l1 + l2);
    memcpy(both, a, l1);
    memcpy(both + l1, b, l2);
    CHECK_RV(p11p_chain_parse(both, l1 + l2, NULL, &res, why, sizeof(why)),
             P11P_OK);
    CHECK_INT_EQ(res.chain_n, 2);
    p11p_remote_result_clear(&res);
    free(both);
    free(a);
    free(b);
}

int main(void)
{
    CHECK_RUN(test_orders);
    CHECK_RUN(test_key_and_garbage);
    CHECK_RUN(test_two_leaves);
    return check_summary();
}

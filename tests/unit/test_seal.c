/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/keys/seal.c: the PIN KDF, master key wrapping (round
 * trip, wrong PIN, tampering, records moved to another role, unknown
 * formats) and private key sealing (round trip, tampered blob, another
 * master key, bad magic).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/base/ossl.h"
#include "core/keys/seal.h"
#include "tests/unit/check.h"

#define ITER 1000

static struct p11p_secret *pin(const char *s)
{
    return p11p_secret_dup(s, strlen(s));
}

static void test_derive(void)
{
    struct p11p_secret *p1 = pin("1234"), *p2 = pin("1235");
    struct p11p_secret *k1 = NULL, *k2 = NULL, *k3 = NULL;
    static const unsigned char salt[16] = { 1, 2, 3 };

    CHECK_RV(p11p_seal_derive(p1, salt, sizeof(salt), ITER, &k1), P11P_OK);
    CHECK_RV(p11p_seal_derive(p1, salt, sizeof(salt), ITER, &k2), P11P_OK);
    CHECK_RV(p11p_seal_derive(p2, salt, sizeof(salt), ITER, &k3), P11P_OK);
    CHECK(k1 != NULL && k2 != NULL && k3 != NULL);
    if (k1 != NULL && k2 != NULL && k3 != NULL) {
        CHECK_INT_EQ(k1->len, 32);
        CHECK_MEM_EQ(k1->data, k1->len, k2->data, k2->len);
        CHECK(memcmp(k1->data, k3->data, 32) != 0);
    }
    p11p_secret_free(k3);
    k3 = NULL;
    CHECK_RV(p11p_seal_derive(p1, salt, sizeof(salt), 0, &k3),
             P11P_ERR_INVALID_INPUT);
    p11p_secret_free(k1);
    p11p_secret_free(k2);
    p11p_secret_free(p1);
    p11p_secret_free(p2);
}

static void test_master(void)
{
    struct p11p_secret *good = pin("1234"), *bad = pin("0000");
    struct p11p_secret *empty = p11p_secret_new(0);
    struct p11p_secret *master = NULL, *got = NULL;
    struct p11p_cache_auth a;

    CHECK_RV(p11p_seal_new_master(&master), P11P_OK);
    CHECK_RV(p11p_seal_wrap_master(master, good, P11P_ROLE_USER, ITER, &a),
             P11P_OK);
    CHECK_STR_EQ(a.kdf, "pbkdf2-sha256");
    CHECK_INT_EQ(a.salt_len, 16);
    CHECK_INT_EQ(a.wrapped_len, 12 + 32 + 16);
    CHECK_RV(p11p_seal_unwrap_master(&a, good, &got), P11P_OK);
    CHECK(got != NULL && p11p_secret_equal(master, got->data, got->len));
    p11p_secret_free(got);
    got = NULL;

    /* Wrong PIN. */
    CHECK_RV(p11p_seal_unwrap_master(&a, bad, &got), P11P_ERR_AUTH);
    CHECK(got == NULL);
    /* The record moved to the SO role: AAD mismatch. */
    a.role = P11P_ROLE_SO;
    CHECK_RV(p11p_seal_unwrap_master(&a, good, &got), P11P_ERR_AUTH);
    a.role = P11P_ROLE_USER;
    /* A flipped bit in the ciphertext or the salt. */
    a.wrapped[20] ^= 1;
    CHECK_RV(p11p_seal_unwrap_master(&a, good, &got), P11P_ERR_AUTH);
    a.wrapped[20] ^= 1;
    a.salt[0] ^= 1;
    CHECK_RV(p11p_seal_unwrap_master(&a, good, &got), P11P_ERR_AUTH);
    a.salt[0] ^= 1;
    /* Unknown format. */
    memcpy(a.kdf, "scrypt", 7);
    CHECK_RV(p11p_seal_unwrap_master(&a, good, &got), P11P_ERR_CORRUPT);
    memcpy(a.kdf, "pbkdf2-sha256", 14);
    a.wrapped_len--;
    CHECK_RV(p11p_seal_unwrap_master(&a, good, &got), P11P_ERR_CORRUPT);
    a.wrapped_len++;
    CHECK_RV(p11p_seal_unwrap_master(&a, good, &got), P11P_OK);
    p11p_secret_free(got);
    got = NULL;
    p11p_cache_auth_clear(&a);

    /* An empty PIN works like any other. */
    CHECK_RV(p11p_seal_wrap_master(master, empty, P11P_ROLE_SO, ITER, &a),
             P11P_OK);
    CHECK_RV(p11p_seal_unwrap_master(&a, empty, &got), P11P_OK);
    p11p_secret_free(got);
    got = NULL;
    CHECK_RV(p11p_seal_unwrap_master(&a, good, &got), P11P_ERR_AUTH);
    p11p_cache_auth_clear(&a);
    p11p_secret_free(got);

    p11p_secret_free(master);
    p11p_secret_free(good);
    p11p_secret_free(bad);
    p11p_secret_free(empty);
}

static EVP_PKEY *gen_ec(void)
{
    EVP_PKEY_CTX *ctx =
        EVP_PKEY_CTX_new_from_name(p11p_ossl_libctx(), "EC", NULL);
    EVP_PKEY *pkey = NULL;

    if (ctx != NULL && EVP_PKEY_keygen_init(ctx) == 1
        && EVP_PKEY_CTX_set_group_name(ctx, "P-256") == 1) {
        EVP_PKEY_generate(ctx, &pkey);
    }
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static void test_key_blob(void)
{
    struct p11p_secret *m1 = NULL, *m2 = NULL;
    struct p11p_cache_keyblob kb;
    EVP_PKEY *key = gen_ec(), *back = NULL;

    CHECK(key != NULL);
    CHECK_RV(p11p_seal_new_master(&m1), P11P_OK);
    CHECK_RV(p11p_seal_new_master(&m2), P11P_OK);
    CHECK_RV(p11p_seal_key(m1, key, &kb), P11P_OK);
    CHECK_STR_EQ(kb.backend, "soft");
    CHECK(kb.blob_len > 4 + 12 + 16);
    CHECK_MEM_EQ(kb.blob, 4, "P1K1", 4);
    CHECK_RV(p11p_seal_unseal_key(m1, kb.blob, kb.blob_len, &back), P11P_OK);
    CHECK(back != NULL && EVP_PKEY_eq(key, back) == 1);
    EVP_PKEY_free(back);
    back = NULL;

    fprintf(stderr, "(three error lines about soft key blobs are expected)\n");
    CHECK_RV(p11p_seal_unseal_key(m2, kb.blob, kb.blob_len, &back),
             P11P_ERR_CORRUPT);
    kb.blob[kb.blob_len / 2] ^= 0x40;
    CHECK_RV(p11p_seal_unseal_key(m1, kb.blob, kb.blob_len, &back),
             P11P_ERR_CORRUPT);
    kb.blob[kb.blob_len / 2] ^= 0x40;
    kb.blob[0] = 'X';
    CHECK_RV(p11p_seal_unseal_key(m1, kb.blob, kb.blob_len, &back),
             P11P_ERR_CORRUPT);
    CHECK(back == NULL);
    p11p_cache_keyblob_clear(&kb);

    p11p_secret_free(m1);
    p11p_secret_free(m2);
    EVP_PKEY_free(key);
}

static void test_low_level(void)
{
    unsigned char key[32] = { 9 };
    unsigned char *ct = NULL;
    size_t ct_len = 0;
    struct p11p_secret *pt = NULL;

    CHECK_RV(p11p_seal_encrypt(key, (const unsigned char *)"aad", 3,
                               (const unsigned char *)"hello", 5, &ct, &ct_len),
             P11P_OK);
    CHECK_INT_EQ(ct_len, 12 + 5 + 16);
    CHECK_RV(p11p_seal_decrypt(key, (const unsigned char *)"aad", 3, ct, ct_len,
                               &pt),
             P11P_OK);
    CHECK(pt != NULL && p11p_secret_equal(pt, "hello", 5));
    p11p_secret_free(pt);
    pt = NULL;
    CHECK_RV(p11p_seal_decrypt(key, (const unsigned char *)"aaX", 3, ct, ct_len,
                               &pt),
             P11P_ERR_AUTH);
    CHECK_RV(
        p11p_seal_decrypt(key, (const unsigned char *)"aad", 3, ct, 27, &pt),
        P11P_ERR_CORRUPT);
    free(ct);
}

int main(void)
{
    CHECK_RUN(test_derive);
    CHECK_RUN(test_master);
    CHECK_RUN(test_key_blob);
    CHECK_RUN(test_low_level);
    return check_summary();
}

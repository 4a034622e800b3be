/* SPDX-License-Identifier: Apache-2.0 */
/*
 * t_provider_fork: the p11portal OpenSSL provider over our module in a
 * libcrypto program that forks (issue 4, STYLE.md 3.8). The parent loads a
 * token key through the provider (OSSL_STORE, pin-source in the URI) and
 * signs; it forks; the child signs with the same EVP_PKEY (the provider
 * re-initialises the module lazily in the child and logs in again with the
 * kept PIN) and with a key it loads afresh; the parent signs again after
 * the child has run. Every signature is checked with the public key in the
 * default provider. Before that, a wrong PIN must fail with an error on
 * OpenSSL's error queue that names the URI and CKR_PIN_INCORRECT.
 *
 * The token is prepared with the PKCS#11 API (tests/component/p11t.h), then
 * finalised, so that the provider is the only user of the module.
 * Environment: P11P_MODULE (our module) and OPENSSL_MODULES (the directory
 * of p11portal.so), both set by CTest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/store.h>

#include "tests/component/p11t.h"
#include "tests/unit/check.h"

#define EC_LABEL  "fork-ec"
#define RSA_LABEL "fork-rsa"

static struct p11t T;
static OSSL_LIB_CTX *libctx;
static char pin_file[400];

/* The URI of a private key, with the PIN file (never the PIN) in it. */
static void key_uri(char *out, size_t size, const char *label)
{
    snprintf(out, size,
             "pkcs11:token=" P11T_TOKEN_LABEL
             ";object=%s;type=private?pin-source=file:%s",
             label, pin_file);
}

/* Loads the first private key of a pkcs11: URI through the provider's
 * store; NULL on failure (the error queue says why). */
static EVP_PKEY *load_key(const char *uri)
{
    OSSL_STORE_CTX *st = NULL;
    OSSL_STORE_INFO *info = NULL;
    EVP_PKEY *pkey = NULL;

    st = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    if (st == NULL) {
        goto out;
    }
    OSSL_STORE_expect(st, OSSL_STORE_INFO_PKEY);
    while (pkey == NULL && !OSSL_STORE_eof(st)) {
        info = OSSL_STORE_load(st);
        if (info != NULL
            && OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY) {
            pkey = OSSL_STORE_INFO_get1_PKEY(info);
        }
        OSSL_STORE_INFO_free(info);
        info = NULL;
        if (OSSL_STORE_error(st)) {
            break;
        }
    }
out:
    OSSL_STORE_close(st);
    return pkey;
}

/* Signs msg with the token key and verifies the signature with its public
 * part exported to the default provider. Returns 1 if both worked. */
static int sign_and_verify(EVP_PKEY *key, const char *msg)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY *pub = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    unsigned char sig[1024];
    size_t siglen = sizeof(sig);
    int derlen;
    int ok = 0;

    if (md == NULL
        || !EVP_DigestSignInit_ex(md, NULL, "SHA256", libctx, NULL, key, NULL)
        || !EVP_DigestSign(md, sig, &siglen, (const unsigned char *)msg,
                           strlen(msg))) {
        goto out;
    }
    derlen = i2d_PUBKEY(key, &der);
    p = der;
    if (derlen <= 0
        || (pub = d2i_PUBKEY_ex(NULL, &p, derlen, libctx, "provider=default"))
               == NULL) {
        goto out;
    }
    EVP_MD_CTX_reset(md);
    if (!EVP_DigestVerifyInit_ex(md, NULL, "SHA256", libctx, "provider=default",
                                 pub, NULL)
        || EVP_DigestVerify(md, sig, siglen, (const unsigned char *)msg,
                            strlen(msg))
               != 1) {
        goto out;
    }
    ok = 1;
out:
    if (!ok) {
        ERR_print_errors_fp(stderr);
    }
    OPENSSL_free(der);
    EVP_PKEY_free(pub);
    EVP_MD_CTX_free(md);
    return ok;
}

/* Collects the error queue as text. */
static int append_error(const char *str, size_t len, void *u)
{
    char *buf = u;
    size_t used = strlen(buf);

    if (used + len + 1 < 4096) {
        memcpy(buf + used, str, len);
        buf[used + len] = '\0';
    }
    return 1;
}

static void test_setup_token(void)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE pub, priv;
    FILE *f;

    CHECK_RV(p11t_init(&T), CKR_OK);
    CHECK_RV(p11t_init_token(&T), CKR_OK);
    CHECK_RV(p11t_open_user(&T, &s), CKR_OK);
    CHECK_RV(p11t_gen_ec(&T, s, "P-256", EC_LABEL, false, &pub, &priv), CKR_OK);
    CHECK_RV(p11t_gen_rsa(&T, s, 2048, RSA_LABEL, false, &pub, &priv), CKR_OK);
    CHECK_RV(T.f->C_CloseSession(s), CKR_OK);
    /* From here on the provider is the only user of the module. */
    CHECK_RV(p11t_finalize(&T), CKR_OK);
    snprintf(pin_file, sizeof(pin_file), "%s/user.pin", T.dir);
    f = fopen(pin_file, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs(P11T_USER_PIN, f);
        fclose(f);
    }
}

static void test_wrong_pin_error(void)
{
    char uri[600];
    char wrong[400];
    char errs[4096] = "";
    EVP_PKEY *key;
    FILE *f;

    snprintf(wrong, sizeof(wrong), "%s/wrong.pin", T.dir);
    f = fopen(wrong, "w");
    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    fputs("WrongPin-0000", f);
    fclose(f);
    snprintf(uri, sizeof(uri),
             "pkcs11:token=" P11T_TOKEN_LABEL ";object=" EC_LABEL
             ";type=private?pin-source=file:%s",
             wrong);
    ERR_clear_error();
    key = load_key(uri);
    CHECK(key == NULL);
    EVP_PKEY_free(key);
    ERR_print_errors_cb(append_error, errs);
    fprintf(stderr, "wrong PIN error: %s", errs);
    CHECK(strstr(errs, "CKR_PIN_INCORRECT") != NULL);
    CHECK(strstr(errs, "pkcs11:") != NULL);
    CHECK(strstr(errs, "token=" P11T_TOKEN_LABEL) != NULL);
    CHECK(strstr(errs, "WrongPin-0000") == NULL);
}

static void test_fork(void)
{
    char uri_ec[600], uri_rsa[600];
    EVP_PKEY *ec = NULL, *rsa = NULL;
    pid_t pid;
    int status = 0;

    key_uri(uri_ec, sizeof(uri_ec), EC_LABEL);
    key_uri(uri_rsa, sizeof(uri_rsa), RSA_LABEL);
    ec = load_key(uri_ec);
    rsa = load_key(uri_rsa);
    CHECK(ec != NULL);
    CHECK(rsa != NULL);
    if (ec == NULL || rsa == NULL) {
        ERR_print_errors_fp(stderr);
        goto out;
    }
    CHECK(sign_and_verify(ec, "parent before fork"));
    CHECK(sign_and_verify(rsa, "parent before fork"));

    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        EVP_PKEY *again;
        int ok;

        /* The inherited keys: the provider re-initialises the module in
         * the child and logs in again with the kept PIN. */
        ok = sign_and_verify(ec, "child, inherited key")
             && sign_and_verify(rsa, "child, inherited key")
             && sign_and_verify(ec, "child, second signature");
        /* A key looked up afresh in the child. */
        again = ok ? load_key(uri_ec) : NULL;
        ok = ok && again != NULL && sign_and_verify(again, "child, new key");
        if (!ok) {
            ERR_print_errors_fp(stderr);
        }
        EVP_PKEY_free(again);
        fflush(NULL);
        _exit(ok ? 0 : 3);
    }
    if (pid > 0) {
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        CHECK_INT_EQ(WEXITSTATUS(status), 0);
    }
    /* The parent is unaffected by what the child did. */
    CHECK(sign_and_verify(ec, "parent after fork"));
    CHECK(sign_and_verify(rsa, "parent after fork"));
out:
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
}

int main(int argc, char **argv)
{
    OSSL_PROVIDER *p11 = NULL, *dflt = NULL;
    int rc;

    p11t_setup(&T, argc, argv, P11T_CONF_FAST);
    /* The provider finds the module through P11PORTAL_MODULE. */
    setenv("P11PORTAL_MODULE", T.module, 1);
    CHECK_RUN(test_setup_token);
    libctx = OSSL_LIB_CTX_new();
    CHECK(libctx != NULL);
    if (libctx != NULL) {
        p11 = OSSL_PROVIDER_load(libctx, "p11portal");
        dflt = OSSL_PROVIDER_load(libctx, "default");
    }
    CHECK(p11 != NULL);
    CHECK(dflt != NULL);
    if (p11 == NULL || dflt == NULL) {
        ERR_print_errors_fp(stderr);
    } else {
        CHECK_RUN(test_wrong_pin_error);
        CHECK_RUN(test_fork);
    }
    OSSL_PROVIDER_unload(p11);
    OSSL_PROVIDER_unload(dflt);
    OSSL_LIB_CTX_free(libctx);
    rc = check_summary();
    p11t_teardown(&T);
    return rc;
}

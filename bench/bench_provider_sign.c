/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signatures per second through the p11portal provider, against the
 * default provider with the same kind of key in memory and against the
 * PKCS#11 engine of libengine-pkcs11-openssl over the same module and the
 * same token key, ratios printed from one run. A bench, not a test.
 *
 *   bench_provider_sign TOKEN-LABEL PIN-FILE [SECONDS]
 *
 * The module is P11PORTAL_MODULE (default SoftHSM2; docs/performance.md,
 * "Provider", runs it over libp11portal.so), the provider is found
 * through OPENSSL_MODULES. The bench generates its token keys through the
 * provider (ECDSA P-256 and RSA-2048, labels bench-ec and bench-rsa) and
 * digest-signs (EVP_DigestSignInit_ex + EVP_DigestSign, SHA-256) a 32-byte
 * message in a loop, one thread. The three contenders run interleaved in
 * short slices (ROUNDS of SECONDS/ROUNDS each), so that load from other
 * processes on a shared machine hits all of them alike.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define ROUNDS 10

/* A contender's running total. */
struct tally {
    long n;
    double secs;
};

/* Signs in a loop for seconds, adding to t; returns 0 on failure. */
static int run(EVP_PKEY *pkey, OSSL_LIB_CTX *libctx, const char *propq,
               double seconds, struct tally *t)
{
    unsigned char msg[32] = { 1, 2, 3 };
    unsigned char sig[1024];
    size_t siglen;
    double start = now();
    double end = start + seconds;
    long n = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    if (md == NULL) {
        return 0;
    }
    do {
        siglen = sizeof(sig);
        if (!EVP_DigestSignInit_ex(md, NULL, "SHA256", libctx, propq, pkey,
                                   NULL)
            || !EVP_DigestSign(md, sig, &siglen, msg, sizeof(msg))) {
            ERR_print_errors_fp(stderr);
            EVP_MD_CTX_free(md);
            return 0;
        }
        n++;
    } while ((n & 15) != 0 || now() < end);
    EVP_MD_CTX_free(md);
    t->n += n;
    t->secs += now() - start;
    return 1;
}

static double rate(const struct tally *t)
{
    return t->secs > 0 ? (double)t->n / t->secs : 0;
}

static EVP_PKEY *token_key(OSSL_LIB_CTX *libctx, const char *alg,
                           const char *uri)
{
    EVP_PKEY_CTX *ctx;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM p[3];
    size_t bits = 2048;

    ctx = EVP_PKEY_CTX_new_from_name(libctx, alg, "provider=p11portal");
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0) {
        goto out;
    }
    p[0] = OSSL_PARAM_construct_utf8_string("pkcs11_uri", (char *)uri, 0);
    if (strcmp(alg, "EC") == 0) {
        p[1] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                (char *)"P-256", 0);
    } else {
        p[1] = OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_RSA_BITS, &bits);
    }
    p[2] = OSSL_PARAM_construct_end();
    if (EVP_PKEY_CTX_set_params(ctx, p) <= 0
        || EVP_PKEY_generate(ctx, &pkey) <= 0) {
        pkey = NULL;
    }
out:
    EVP_PKEY_CTX_free(ctx);
    if (pkey == NULL) {
        ERR_print_errors_fp(stderr);
    }
    return pkey;
}

static EVP_PKEY *soft_key(OSSL_LIB_CTX *libctx, const char *alg)
{
    if (strcmp(alg, "EC") == 0) {
        return EVP_PKEY_Q_keygen(libctx, "provider=default", "EC", "P-256");
    }
    return EVP_PKEY_Q_keygen(libctx, "provider=default", "RSA", (size_t)2048);
}

/* The libp11 engine over the same module; NULL if it is not installed. */
static ENGINE *engine_open(const char *module, const char *pin)
{
    ENGINE *e;

    ENGINE_load_dynamic();
    e = ENGINE_by_id("pkcs11");
    if (e == NULL) {
        ERR_clear_error();
        return NULL;
    }
    if (!ENGINE_ctrl_cmd_string(e, "MODULE_PATH", module, 0)
        || !ENGINE_ctrl_cmd_string(e, "PIN", pin, 0) || !ENGINE_init(e)) {
        ERR_print_errors_fp(stderr);
        ENGINE_free(e);
        return NULL;
    }
    return e;
}

static int read_pin(const char *path, char *pin, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL) {
        return 0;
    }
    n = fread(pin, 1, size - 1, f);
    fclose(f);
    while (n > 0 && (pin[n - 1] == '\n' || pin[n - 1] == '\r')) {
        n--;
    }
    pin[n] = '\0';
    return 1;
}

int main(int argc, char **argv)
{
    const char *module = getenv("P11PORTAL_MODULE");
    double seconds = argc > 3 ? atof(argv[3]) : 3.0;
    OSSL_LIB_CTX *libctx = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *p11 = NULL, *dflt = NULL;
    ENGINE *e = NULL;
    char pin[256];
    const char *algs[2] = { "EC", "RSA" };
    const char *labels[2] = { "bench-ec", "bench-rsa" };
    int i;

    if (argc < 3) {
        fprintf(stderr, "usage: %s TOKEN-LABEL PIN-FILE [SECONDS]\n", argv[0]);
        return 2;
    }
    if (module == NULL) {
        module = DEFAULT_MODULE;
        setenv("P11PORTAL_MODULE", module, 1);
    }
    if (!read_pin(argv[2], pin, sizeof(pin))) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        return 1;
    }
    p11 = OSSL_PROVIDER_load(libctx, "p11portal");
    dflt = OSSL_PROVIDER_load(libctx, "default");
    if (p11 == NULL || dflt == NULL) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    printf("module %s, %.1f s per contender and key (%d interleaved "
           "slices), one thread, EVP_DigestSign SHA-256\n",
           module, seconds, ROUNDS);
    printf("%-10s %14s %14s %14s %10s %10s\n", "key", "provider/s", "default/s",
           "engine/s", "prov/dflt", "prov/eng");
    for (i = 0; i < 2; i++) {
        char uri[512];
        EVP_PKEY *tok, *soft, *eng = NULL;
        struct tally t_prov = { 0, 0 }, t_soft = { 0, 0 }, t_eng = { 0, 0 };
        double r_prov, r_soft, r_eng;
        double slice = seconds / ROUNDS;
        int round;
        int ok = 1;

        snprintf(uri, sizeof(uri),
                 "pkcs11:token=%s;object=%s?pin-source=file:%s", argv[1],
                 labels[i], argv[2]);
        tok = token_key(libctx, algs[i], uri);
        soft = soft_key(libctx, algs[i]);
        if (tok == NULL || soft == NULL) {
            return 1;
        }
        if (i == 0) {
            e = engine_open(module, pin);
        }
        if (e != NULL) {
            snprintf(uri, sizeof(uri), "pkcs11:token=%s;object=%s;type=private",
                     argv[1], labels[i]);
            eng = ENGINE_load_private_key(e, uri, NULL, NULL);
            if (eng == NULL) {
                ERR_print_errors_fp(stderr);
            }
        }
        for (round = 0; ok && round < ROUNDS; round++) {
            ok = run(tok, libctx, NULL, slice, &t_prov)
                 && run(soft, libctx, "provider=default", slice, &t_soft)
                 && (eng == NULL || run(eng, NULL, NULL, slice, &t_eng));
        }
        if (!ok) {
            return 1;
        }
        r_prov = rate(&t_prov);
        r_soft = rate(&t_soft);
        r_eng = rate(&t_eng);
        printf("%-10s %14.0f %14.0f %14.0f %10.2f %10.2f\n",
               i == 0 ? "ECDSA-256" : "RSA-2048", r_prov, r_soft, r_eng,
               r_soft > 0 ? r_prov / r_soft : 0,
               r_eng > 0 ? r_prov / r_eng : 0);
        EVP_PKEY_free(tok);
        EVP_PKEY_free(soft);
        EVP_PKEY_free(eng);
    }
    if (e == NULL) {
        printf("engine: libengine-pkcs11-openssl not available\n");
    } else {
        ENGINE_finish(e);
        ENGINE_free(e);
    }
    OPENSSL_cleanse(pin, sizeof(pin));
    OSSL_PROVIDER_unload(p11);
    OSSL_PROVIDER_unload(dflt);
    OSSL_LIB_CTX_free(libctx);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the hsm key backend (core/keys/hsm*.c) against a real
 * SoftHSM2 in a temporary folder (its own SOFTHSM2_CONF and tokendir; the
 * backing token is initialised with softhsm2-util): pass-through login and
 * wrong PIN, key generation for every type, sign + verify for every
 * mechanism (single and multi-part), RSA decrypt (PKCS#1 v1.5, OAEP), the
 * generated keys seen through SoftHSM2 directly (token, sensitive, not
 * extractable, CKA_ID = the default id), adoption of a key created directly
 * in SoftHSM2, certificates written to the backing token, destroy,
 * C_InitToken keeping the backing keys, C_SetPIN, the PIN-source mode with
 * p11portal's own PINs, and the CKR -> status table. Skips (77) without
 * SoftHSM2.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/base/ossl.h"
#include "core/conf/conf.h"
#include "core/keys/backend.h"
#include "core/keys/hsm_module.h"
#include "tests/unit/check.h"

#define SOFTHSM      "/usr/lib/softhsm/libsofthsm2.so"
#define BACKING_SO   "backing-so-4411"
#define BACKING_USER "backing-user-2290"

static char tmpdir[64];
static struct p11p_conf *conf;
static struct p11p_cache *cache;
static struct p11p_keystore *ks;
static CK_FUNCTION_LIST *direct; /* SoftHSM2 itself */
static void *direct_dl;

static const unsigned char msg[] = "p11portal hsm backend test message, "
                                   "long enough for multi-part pieces";

static struct p11p_secret *pin(const char *s)
{
    return p11p_secret_dup(s, strlen(s));
}

static enum p11p_status login_as(struct p11p_keystore *k,
                                 enum p11p_cache_role role, const char *p)
{
    struct p11p_secret *s = pin(p);
    enum p11p_status rc = p11p_keystore_login(k, role, s);
    p11p_secret_free(s);
    return rc;
}

static int run(char *const argv[])
{
    int status = 0;
    pid_t pid = fork();

    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* A temporary SoftHSM2 with one initialised token "backing". */
static bool setup(void)
{
    char path[256], text[1024];
    FILE *f;
    static char a0[] = "softhsm2-util", a1[] = "--init-token", a2[] = "--free",
                a3[] = "--label", a4[] = "backing", a5[] = "--so-pin",
                a6[] = BACKING_SO, a7[] = "--pin", a8[] = BACKING_USER;
    char *init[] = { a0, a1, a2, a3, a4, a5, a6, a7, a8, NULL };

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/p11p_hsm.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return false;
    }
    snprintf(path, sizeof(path), "%s/tokens", tmpdir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/softhsm2.conf", tmpdir);
    f = fopen(path, "w");
    if (f == NULL) {
        return false;
    }
    fprintf(
        f,
        "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n",
        tmpdir);
    fclose(f);
    setenv("SOFTHSM2_CONF", path, 1);
    if (run(init) != 0) {
        fprintf(stderr, "softhsm2-util --init-token failed\n");
        return false;
    }
    snprintf(
        text, sizeof(text),
        "[token \"station\"]\nkey_backend = hsm\nhsm_module = %s\n"
        "hsm_token_label = backing\nhsm_write_certs = true\n"
        "kdf_iterations = 1000\n\n"
        "[token \"factory\"]\nkey_backend = hsm\nhsm_module = %s\n"
        "hsm_token_label = backing\nhsm_pin_source = env:P11P_TEST_HSM_PIN\n"
        "kdf_iterations = 1000\npin_max_retries = 3\n\n"
        "[token \"nowhere\"]\nkey_backend = hsm\nhsm_module = %s\n"
        "hsm_token_label = no-such-token\n",
        SOFTHSM, SOFTHSM, SOFTHSM);
    if (p11p_conf_parse_string(text, "test_hsm.conf", &conf) != P11P_OK) {
        fprintf(stderr, "config does not parse\n");
        return false;
    }
    snprintf(path, sizeof(path), "%s/station.db", tmpdir);
    if (p11p_cache_open(path, &cache) != P11P_OK) {
        return false;
    }
    /* Our own view of SoftHSM2, as station software would have. */
    direct_dl = dlopen(SOFTHSM, RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList gfl = NULL;
    *(void **)&gfl =
        direct_dl != NULL ? dlsym(direct_dl, "C_GetFunctionList") : NULL;
    return gfl != NULL && gfl(&direct) == CKR_OK;
}

/* A session on the backing token through SoftHSM2 directly (the process
 * shares the login p11portal made). */
static CK_SESSION_HANDLE direct_session(void)
{
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_RV rv = direct->C_Initialize(NULL);

    CHECK(rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED);
    CHECK_RV(direct->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    for (CK_ULONG i = 0; i < n; i++) {
        if (direct->C_GetTokenInfo(slots[i], &ti) == CKR_OK
            && memcmp(ti.label, "backing ", 8) == 0) {
            CHECK_RV(direct->C_OpenSession(slots[i],
                                           CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                           NULL, NULL, &s),
                     CKR_OK);
        }
    }
    return s;
}

static CK_ULONG direct_count(CK_SESSION_HANDLE s, CK_OBJECT_CLASS klass,
                             const void *id, size_t id_len, CK_OBJECT_HANDLE *h)
{
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &klass, sizeof(klass) },
                         { CKA_ID, (void *)id, id_len } };
    CK_OBJECT_HANDLE found[4];
    CK_ULONG n = 0;

    CHECK_RV(direct->C_FindObjectsInit(s, t, id != NULL ? 2 : 1), CKR_OK);
    CHECK_RV(direct->C_FindObjects(s, found, 4, &n), CKR_OK);
    direct->C_FindObjectsFinal(s);
    if (n > 0 && h != NULL) {
        *h = found[0];
    }
    return n;
}

static struct p11p_keystore *open_token(const char *name)
{
    struct p11p_keystore *k = NULL;
    CHECK_RV(p11p_keystore_open(p11p_conf_find_token(conf, name), cache, &k),
             P11P_OK);
    return k;
}

static void test_open_and_login(void)
{
    struct p11p_keystore_info info;
    struct p11p_keystore *bad = NULL;

    ks = open_token("station");
    if (ks == NULL) {
        return;
    }
    CHECK_STR_EQ(p11p_keystore_backend_name(ks), "hsm");
    CHECK_RV(p11p_keystore_info(ks, &info), P11P_OK);
    CHECK(info.initialized);
    CHECK(info.user_pin_set);
    CHECK(!info.user_locked);
    CHECK_RV(
        p11p_keystore_open(p11p_conf_find_token(conf, "nowhere"), cache, &bad),
        P11P_ERR_CONFIG);
    CHECK(bad == NULL);
    CHECK_RV(login_as(ks, P11P_ROLE_USER, "wrong-pin"), P11P_ERR_AUTH);
    CHECK(!p11p_keystore_is_logged_in(ks, P11P_ROLE_USER));
    CHECK_RV(p11p_keystore_info(ks, &info), P11P_OK);
    CHECK_RV(login_as(ks, P11P_ROLE_USER, BACKING_USER), P11P_OK);
    CHECK(p11p_keystore_is_logged_in(ks, P11P_ROLE_USER));
}

static struct p11p_key *gen_load(CK_KEY_TYPE kt, unsigned bits, int nid,
                                 struct p11p_cache_keyblob *blob)
{
    struct p11p_keygen_spec spec = {
        .key_type = kt, .bits = bits, .curve_nid = nid, .label = "unit key"
    };
    EVP_PKEY *pub = NULL;
    struct p11p_key *k = NULL;
    unsigned char defid[20];
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, token = CK_FALSE;
    CK_ATTRIBUTE a[] = { { CKA_SENSITIVE, &sensitive, sizeof(sensitive) },
                         { CKA_EXTRACTABLE, &extractable, sizeof(extractable) },
                         { CKA_TOKEN, &token, sizeof(token) } };

    CHECK_RV(p11p_keystore_generate(ks, &spec, &pub, blob), P11P_OK);
    if (pub == NULL) {
        return NULL;
    }
    p11p_keystore_pending_done(ks); /* the test keeps no cache objects */
    CHECK_STR_EQ(blob->backend, "hsm");
    CHECK_RV(p11p_keystore_load(ks, blob, &k), P11P_OK);
    /* Seen through SoftHSM2 directly: a sensitive, non-extractable token
     * key whose CKA_ID is the one p11portal shows (SHA-1 default id). */
    CHECK_RV(p11p_keyattrs_default_id(pub, defid), P11P_OK);
    s = direct_session();
    CHECK_INT_EQ(direct_count(s, CKO_PRIVATE_KEY, defid, 20, &h), 1);
    CHECK_INT_EQ(direct_count(s, CKO_PUBLIC_KEY, defid, 20, NULL), 1);
    CHECK_RV(direct->C_GetAttributeValue(s, h, a, 3), CKR_OK);
    CHECK(sensitive == CK_TRUE);
    CHECK(extractable == CK_FALSE);
    CHECK(token == CK_TRUE);
    direct->C_CloseSession(s);
    EVP_PKEY_free(pub);
    return k;
}

static enum p11p_status sign_once(struct p11p_key *k, CK_MECHANISM *m,
                                  struct p11p_key_op **op,
                                  const unsigned char *in, size_t inlen,
                                  unsigned char *sig, size_t *sig_len)
{
    enum p11p_status rc = p11p_key_op_init(k, P11P_KEY_OP_SIGN, m, op);
    if (rc != P11P_OK) {
        return rc;
    }
    *sig_len = p11p_key_op_max_output(*op);
    return p11p_key_op_oneshot(*op, in, inlen, sig, sig_len);
}

/* Signs in with m once and in three parts (hashed mechanisms) and checks
 * both with p11p_keyattrs_verify. */
static void sign_case(struct p11p_key *k, CK_MECHANISM *m, bool hashed,
                      const unsigned char *in, size_t inlen)
{
    EVP_PKEY *pub = p11p_key_get0_public(k);
    struct p11p_key_op *op = NULL, *first;
    unsigned char sig[1024];
    size_t sig_len = 0;

    CHECK_RV(sign_once(k, m, &op, in, inlen, sig, &sig_len), P11P_OK);
    CHECK_RV(p11p_keyattrs_verify(pub, m, in, inlen, sig, sig_len), P11P_OK);
    sig[sig_len / 2] ^= 1;
    CHECK_RV(p11p_keyattrs_verify(pub, m, in, inlen, sig, sig_len),
             P11P_ERR_AUTH);
    first = op;
    CHECK_RV(sign_once(k, m, &op, in, inlen, sig, &sig_len), P11P_OK);
    CHECK(op == first); /* the op and its backing session are reused */
    CHECK_RV(p11p_keyattrs_verify(pub, m, in, inlen, sig, sig_len), P11P_OK);
    if (hashed) {
        CHECK_RV(p11p_key_op_init(k, P11P_KEY_OP_SIGN, m, &op), P11P_OK);
        CHECK_RV(p11p_key_op_update(op, in, 3), P11P_OK);
        CHECK_RV(p11p_key_op_update(op, in + 3, inlen - 3), P11P_OK);
        sig_len = p11p_key_op_max_output(op);
        CHECK_RV(p11p_key_op_final(op, sig, &sig_len), P11P_OK);
        CHECK_RV(p11p_keyattrs_verify(pub, m, in, inlen, sig, sig_len),
                 P11P_OK);
    } else {
        CHECK_RV(p11p_key_op_update(op, in, inlen), P11P_ERR_UNSUPPORTED);
    }
    /* An abandoned operation does not block the next one. */
    CHECK_RV(p11p_key_op_init(k, P11P_KEY_OP_SIGN, m, &op), P11P_OK);
    CHECK_RV(sign_once(k, m, &op, in, inlen, sig, &sig_len), P11P_OK);
    p11p_key_op_free(op);
}

static void test_rsa(void)
{
    static const struct {
        CK_MECHANISM_TYPE mech, hash;
        CK_RSA_PKCS_MGF_TYPE mgf;
        size_t hlen;
        bool pss;
    } cases[] = {
        { CKM_SHA1_RSA_PKCS, 0, 0, 0, false },
        { CKM_SHA224_RSA_PKCS, 0, 0, 0, false },
        { CKM_SHA256_RSA_PKCS, 0, 0, 0, false },
        { CKM_SHA384_RSA_PKCS, 0, 0, 0, false },
        { CKM_SHA512_RSA_PKCS, 0, 0, 0, false },
        { CKM_SHA1_RSA_PKCS_PSS, CKM_SHA_1, CKG_MGF1_SHA1, 20, true },
        { CKM_SHA224_RSA_PKCS_PSS, CKM_SHA224, CKG_MGF1_SHA224, 28, true },
        { CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32, true },
        { CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 48, true },
        { CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 64, true },
    };
    struct p11p_cache_keyblob blob = { 0 };
    struct p11p_key *k = gen_load(CKK_RSA, 2048, 0, &blob);
    unsigned char digest[32];
    CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
    CK_RSA_PKCS_PSS_PARAMS pp = { CKM_SHA256, CKG_MGF1_SHA256, 32 };

    if (k == NULL) {
        return;
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CK_RSA_PKCS_PSS_PARAMS p = { cases[i].hash, cases[i].mgf,
                                     cases[i].hlen };
        CK_MECHANISM cm = { cases[i].mech, cases[i].pss ? &p : NULL,
                            cases[i].pss ? sizeof(p) : 0 };
        sign_case(k, &cm, true, msg, sizeof(msg));
    }
    memset(digest, 0x5a, sizeof(digest));
    sign_case(k, &m, false, digest, sizeof(digest));
    m.mechanism = CKM_RSA_PKCS_PSS;
    m.pParameter = &pp;
    m.ulParameterLen = sizeof(pp);
    sign_case(k, &m, false, digest, sizeof(digest));
    p11p_key_unref(k);
    p11p_cache_keyblob_clear(&blob);
}

static void test_rsa_decrypt(void)
{
    struct p11p_cache_keyblob blob = { 0 };
    struct p11p_key *k = gen_load(CKK_RSA, 2048, 0, &blob);
    EVP_PKEY_CTX *ctx = NULL;
    unsigned char ct[256], pt[256];
    size_t ct_len = sizeof(ct), pt_len = sizeof(pt);
    struct p11p_key_op *op = NULL;
    CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
    /* SoftHSM2 2.6 decrypts OAEP with SHA-1 only (docs/hsm.md). */
    CK_RSA_PKCS_OAEP_PARAMS oaep = { CKM_SHA_1, CKG_MGF1_SHA1,
                                     CKZ_DATA_SPECIFIED, NULL, 0 };

    if (k == NULL) {
        return;
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(p11p_ossl_libctx(),
                                     p11p_key_get0_public(k), NULL);
    CHECK(ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1
          && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1
          && EVP_PKEY_encrypt(ctx, ct, &ct_len, msg, 32) == 1);
    EVP_PKEY_CTX_free(ctx);
    CHECK_RV(p11p_key_op_init(k, P11P_KEY_OP_DECRYPT, &m, &op), P11P_OK);
    CHECK_INT_EQ(p11p_key_op_max_output(op), 256);
    CHECK_RV(p11p_key_op_oneshot(op, ct, ct_len, pt, &pt_len), P11P_OK);
    CHECK_MEM_EQ(pt, pt_len, msg, 32);
    CHECK_RV(p11p_key_op_update(op, ct, ct_len), P11P_ERR_UNSUPPORTED);

    ct_len = sizeof(ct);
    ctx = EVP_PKEY_CTX_new_from_pkey(p11p_ossl_libctx(),
                                     p11p_key_get0_public(k), NULL);
    CHECK(ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1
          && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1
          && EVP_PKEY_encrypt(ctx, ct, &ct_len, msg, 40) == 1);
    EVP_PKEY_CTX_free(ctx);
    m.mechanism = CKM_RSA_PKCS_OAEP;
    m.pParameter = &oaep;
    m.ulParameterLen = sizeof(oaep);
    CHECK_RV(p11p_key_op_init(k, P11P_KEY_OP_DECRYPT, &m, &op), P11P_OK);
    pt_len = sizeof(pt);
    CHECK_RV(p11p_key_op_oneshot(op, ct, ct_len, pt, &pt_len), P11P_OK);
    CHECK_MEM_EQ(pt, pt_len, msg, 40);
    /* A corrupted ciphertext fails (and the op stays usable). */
    ct[7] ^= 1;
    CHECK_RV(p11p_key_op_init(k, P11P_KEY_OP_DECRYPT, &m, &op), P11P_OK);
    pt_len = sizeof(pt);
    CHECK(p11p_key_op_oneshot(op, ct, ct_len, pt, &pt_len) != P11P_OK);
    p11p_key_op_free(op);
    p11p_key_unref(k);
    p11p_cache_keyblob_clear(&blob);
}

static void test_ec(void)
{
    static const int nids[] = { NID_X9_62_prime256v1, NID_secp384r1,
                                NID_secp521r1 };
    static const CK_MECHANISM_TYPE hashed[] = {
        CKM_ECDSA_SHA1, CKM_ECDSA_SHA224, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384,
        CKM_ECDSA_SHA512
    };
    unsigned char digest[32];

    memset(digest, 0xa5, sizeof(digest));
    for (size_t i = 0; i < sizeof(nids) / sizeof(nids[0]); i++) {
        struct p11p_cache_keyblob blob = { 0 };
        struct p11p_key *k = gen_load(CKK_EC, 0, nids[i], &blob);
        CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
        if (k == NULL) {
            continue;
        }
        sign_case(k, &m, false, digest, sizeof(digest));
        for (size_t j = 0; j < sizeof(hashed) / sizeof(hashed[0]); j++) {
            m.mechanism = hashed[j];
            sign_case(k, &m, true, msg, sizeof(msg));
        }
        p11p_key_unref(k);
        p11p_cache_keyblob_clear(&blob);
    }
}

static void test_ed25519(void)
{
    struct p11p_cache_keyblob blob = { 0 };
    struct p11p_key *k = gen_load(CKK_EC_EDWARDS, 0, NID_ED25519, &blob);
    CK_MECHANISM m = { CKM_EDDSA, NULL, 0 };

    if (k == NULL) {
        return;
    }
    sign_case(k, &m, false, msg, sizeof(msg));
    p11p_key_unref(k);
    p11p_cache_keyblob_clear(&blob);
}

/* Each thread signs with its own op (its own backing session). */
static void *sign_thread(void *arg)
{
    struct p11p_key *k = arg;
    CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
    struct p11p_key_op *op = NULL;
    unsigned char sig[160];
    size_t sig_len;
    long bad = 0;

    for (int i = 0; i < 50; i++) {
        if (sign_once(k, &m, &op, msg, 32, sig, &sig_len) != P11P_OK
            || p11p_keyattrs_verify(p11p_key_get0_public(k), &m, msg, 32, sig,
                                    sig_len)
                   != P11P_OK) {
            bad++;
        }
    }
    p11p_key_op_free(op);
    return (void *)bad;
}

static void test_threads_and_fork(void)
{
    struct p11p_cache_keyblob blob = { 0 };
    struct p11p_key *k = gen_load(CKK_EC, 0, NID_X9_62_prime256v1, &blob);
    pthread_t th[4];
    void *bad = NULL;
    int status = -1;
    pid_t pid;

    if (k == NULL) {
        return;
    }
    for (int i = 0; i < 4; i++) {
        CHECK_INT_EQ(pthread_create(&th[i], NULL, sign_thread, k), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], &bad);
        CHECK_INT_EQ((long)bad, 0);
    }
    /* Fork: the child forgets the parent's backing sessions and login,
     * initialises the backing module again and works. */
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        struct p11p_keystore *again = NULL;
        struct p11p_key *k2 = NULL;
        CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
        struct p11p_key_op *op = NULL;
        unsigned char sig[160];
        size_t sig_len = 0;
        int ok;

        p11p_key_unref(k); /* the child's copy: no backing call */
        p11p_keystore_discard(ks);
        ok = p11p_keystore_open(p11p_conf_find_token(conf, "station"), cache,
                                &again)
                 == P11P_OK
             && login_as(again, P11P_ROLE_USER, BACKING_USER) == P11P_OK
             && p11p_keystore_load(again, &blob, &k2) == P11P_OK
             && sign_once(k2, &m, &op, msg, 32, sig, &sig_len) == P11P_OK
             && p11p_keyattrs_verify(p11p_key_get0_public(k2), &m, msg, 32, sig,
                                     sig_len)
                    == P11P_OK;
        _exit(ok ? 0 : 1);
    }
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The parent is unaffected. */
    bad = sign_thread(k);
    CHECK_INT_EQ((long)bad, 0);
    p11p_key_unref(k);
    p11p_cache_keyblob_clear(&blob);
}

static void test_import(void)
{
    static const struct {
        const char *alg, *param;
        CK_MECHANISM_TYPE mech;
    } cases[] = {
        { "RSA", NULL, CKM_SHA256_RSA_PKCS },
        { "EC", "P-384", CKM_ECDSA_SHA384 },
        { "ED25519", NULL, CKM_EDDSA },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        EVP_PKEY *priv =
            cases[i].param != NULL ? EVP_PKEY_Q_keygen(
                p11p_ossl_libctx(), NULL, cases[i].alg, cases[i].param)
            : strcmp(cases[i].alg, "RSA") == 0
                ? EVP_PKEY_Q_keygen(p11p_ossl_libctx(), NULL, "RSA",
                                    (size_t)2048)
                : EVP_PKEY_Q_keygen(p11p_ossl_libctx(), NULL, cases[i].alg);
        struct p11p_keygen_spec spec = { .label = "imported" };
        struct p11p_cache_keyblob blob = { 0 };
        struct p11p_key *k = NULL;
        CK_MECHANISM m = { cases[i].mech, NULL, 0 };
        unsigned char defid[20];
        CK_SESSION_HANDLE s;
        CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
        CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE;
        CK_ATTRIBUTE a[] = { { CKA_SENSITIVE, &sensitive, sizeof(sensitive) },
                             { CKA_EXTRACTABLE, &extractable,
                               sizeof(extractable) } };

        CHECK(priv != NULL);
        CHECK_RV(p11p_keystore_import(ks, priv, &spec, &blob), P11P_OK);
        p11p_keystore_pending_done(ks);
        CHECK_RV(p11p_keystore_load(ks, &blob, &k), P11P_OK);
        if (k != NULL) {
            sign_case(k, &m, cases[i].mech != CKM_EDDSA, msg, sizeof(msg));
            CHECK_RV(p11p_keyattrs_default_id(p11p_key_get0_public(k), defid),
                     P11P_OK);
            s = direct_session();
            CHECK_INT_EQ(direct_count(s, CKO_PRIVATE_KEY, defid, 20, &h), 1);
            CHECK_RV(direct->C_GetAttributeValue(s, h, a, 2), CKR_OK);
            CHECK(sensitive == CK_TRUE && extractable == CK_FALSE);
            direct->C_CloseSession(s);
            CHECK_RV(p11p_keystore_destroy(ks, &blob), P11P_OK);
        }
        p11p_key_unref(k);
        p11p_cache_keyblob_clear(&blob);
        EVP_PKEY_free(priv);
    }
}

/* A self-signed certificate for pub (signed by a throwaway key). */
static unsigned char *make_cert(EVP_PKEY *pub, int *len)
{
    EVP_PKEY *ca = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    unsigned char *der = NULL;

    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                               (const unsigned char *)"adopted", -1, -1, 0);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pub);
    X509_sign(x, ca, EVP_sha256());
    *len = i2d_X509(x, &der);
    X509_NAME_free(n);
    X509_free(x);
    EVP_PKEY_free(ca);
    return der;
}

/* A key being generated (in the HSM, not yet committed to the cache)
 * defers adoption: another foreign key waits until it is done. */
static void test_adopt_deferred(CK_SESSION_HANDLE s)
{
    CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    static const unsigned char p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
                                          0xce, 0x3d, 0x03, 0x01, 0x07 };
    static const char id[] = "adopt-02";
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE pubt[] = { { CKA_TOKEN, &yes, 1 },
                            { CKA_EC_PARAMS, (void *)p256, sizeof(p256) },
                            { CKA_ID, (void *)id, 8 } };
    CK_ATTRIBUTE privt[] = { { CKA_TOKEN, &yes, 1 },
                             { CKA_PRIVATE, &yes, 1 },
                             { CKA_SENSITIVE, &yes, 1 },
                             { CKA_ID, (void *)id, 8 },
                             { CKA_SIGN, &yes, 1 } };
    CK_OBJECT_HANDLE hpub, hpriv;
    struct p11p_keygen_spec spec = { .key_type = CKK_EC,
                                     .curve_nid = NID_X9_62_prime256v1 };
    struct p11p_cache_keyblob blob = { 0 };
    EVP_PKEY *pub = NULL;
    size_t n = 99;

    CHECK_RV(
        direct->C_GenerateKeyPair(s, &gen, pubt, 3, privt, 5, &hpub, &hpriv),
        CKR_OK);
    CHECK_RV(p11p_keystore_generate(ks, &spec, &pub, &blob), P11P_OK);
    CHECK_RV(p11p_keystore_adopt(ks, cache, &n), P11P_OK);
    CHECK_INT_EQ(n, 0); /* deferred: a key is pending */
    CHECK_RV(p11p_keystore_destroy(ks, &blob), P11P_OK);
    p11p_keystore_pending_done(ks);
    CHECK_RV(p11p_keystore_adopt(ks, cache, &n), P11P_OK);
    CHECK_INT_EQ(n, 1); /* adopt-02 */
    EVP_PKEY_free(pub);
    p11p_cache_keyblob_clear(&blob);
}

static void test_adopt_and_certs(void)
{
    CK_SESSION_HANDLE s = direct_session();
    CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    static const unsigned char p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
                                          0xce, 0x3d, 0x03, 0x01, 0x07 };
    static const char id[] = "adopt-01";
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE pubt[] = { { CKA_TOKEN, &yes, 1 },
                            { CKA_EC_PARAMS, (void *)p256, sizeof(p256) },
                            { CKA_ID, (void *)id, 8 },
                            { CKA_VERIFY, &yes, 1 } };
    CK_ATTRIBUTE privt[] = { { CKA_TOKEN, &yes, 1 },
                             { CKA_PRIVATE, &yes, 1 },
                             { CKA_SENSITIVE, &yes, 1 },
                             { CKA_EXTRACTABLE, &no, 1 },
                             { CKA_ID, (void *)id, 8 },
                             { CKA_SIGN, &yes, 1 },
                             { CKA_LABEL, (void *)"factory-key", 11 } };
    CK_OBJECT_HANDLE hpub, hpriv, hcert = CK_INVALID_HANDLE;
    struct p11p_cache_filter f = { .has_class = true,
                                   .klass = CKO_PRIVATE_KEY,
                                   .ckaid = (const unsigned char *)id,
                                   .ckaid_len = 8 };
    struct p11p_cache_object obj = { 0 };
    struct p11p_cache_keyblob blob = { 0 };
    struct p11p_key *k = NULL;
    int64_t *ids = NULL;
    size_t n = 99;
    unsigned char *der = NULL;
    int der_len = 0;
    char *label = NULL;
    bool flag = true;
    CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };

    CHECK_RV(
        direct->C_GenerateKeyPair(s, &gen, pubt, 4, privt, 7, &hpub, &hpriv),
        CKR_OK);
    CHECK_RV(p11p_keystore_adopt(ks, cache, &n), P11P_OK);
    CHECK(n >= 1); /* the factory key (and none of ours, already known) */
    CHECK_RV(p11p_keystore_adopt(ks, cache, &n), P11P_OK);
    CHECK_INT_EQ(n, 0);
    test_adopt_deferred(s);
    CHECK_RV(p11p_cache_object_find(cache, &f, &ids, &n), P11P_OK);
    CHECK_INT_EQ(n, 1);
    if (n == 1) {
        CHECK_RV(p11p_cache_object_get(cache, ids[0], &obj), P11P_OK);
        label = p11p_attrlist_get_str(&obj.attrs, CKA_LABEL);
        CHECK_STR_EQ(label, "factory-key");
        CHECK(p11p_attrlist_get_bool(&obj.attrs, CKA_SENSITIVE, &flag) && flag);
        CHECK(p11p_attrlist_get_bool(&obj.attrs, CKA_EXTRACTABLE, &flag)
              && !flag);
        CHECK(p11p_attrlist_get0(&obj.attrs, CKA_EC_PARAMS) != NULL);
        CHECK_RV(p11p_cache_keyblob_get(cache, ids[0], &blob), P11P_OK);
        CHECK_RV(p11p_keystore_load(ks, &blob, &k), P11P_OK);
    }
    if (k != NULL) {
        sign_case(k, &m, true, msg, sizeof(msg));
        /* hsm_write_certs: the certificate lands in the backing token. */
        der = make_cert(p11p_key_get0_public(k), &der_len);
        CHECK(der != NULL && der_len > 0);
        CHECK_RV(p11p_keystore_store_cert(ks, der, (size_t)der_len,
                                          (const unsigned char *)id, 8,
                                          "factory-key"),
                 P11P_OK);
        CHECK_RV(p11p_keystore_store_cert(ks, der, (size_t)der_len,
                                          (const unsigned char *)id, 8,
                                          "factory-key"),
                 P11P_OK); /* idempotent */
        CHECK_INT_EQ(direct_count(s, CKO_CERTIFICATE, id, 8, &hcert), 1);
        /* Destroy removes the backing pair. */
        CHECK_RV(p11p_keystore_destroy(ks, &blob), P11P_OK);
        CHECK_INT_EQ(direct_count(s, CKO_PRIVATE_KEY, id, 8, NULL), 0);
        CHECK_INT_EQ(direct_count(s, CKO_PUBLIC_KEY, id, 8, NULL), 0);
    }
    OPENSSL_free(der);
    free(label);
    free(ids);
    p11p_key_unref(k);
    p11p_cache_keyblob_clear(&blob);
    p11p_cache_object_clear(&obj);
    direct->C_CloseSession(s);
}

static void test_pins_pass_through(void)
{
    struct p11p_secret *so = pin(BACKING_SO), *bad = pin("wrong-so-pin");
    struct p11p_secret *u1 = pin(BACKING_USER), *u2 = pin("backing-user-new");
    CK_SESSION_HANDLE s;
    size_t before, after;

    s = direct_session();
    before = direct_count(s, CKO_PRIVATE_KEY, NULL, 0, NULL);
    /* C_InitToken: a wrong SO PIN is refused by the backing token. */
    CHECK_RV(p11p_keystore_init_token(ks, bad, "station"), P11P_ERR_AUTH);
    CHECK_RV(p11p_keystore_init_token(ks, so, "station"), P11P_OK);
    CHECK(!p11p_keystore_is_logged_in(ks, P11P_ROLE_USER));
    /* ... and the backing keys are all still there. */
    CHECK_RV(login_as(ks, P11P_ROLE_USER, BACKING_USER), P11P_OK);
    after = direct_count(s, CKO_PRIVATE_KEY, NULL, 0, NULL);
    CHECK_INT_EQ(after, before);
    direct->C_CloseSession(s);
    /* C_SetPIN passes through, both ways. */
    CHECK_RV(p11p_keystore_set_pin(ks, P11P_ROLE_USER, u1, u2), P11P_OK);
    p11p_keystore_logout(ks);
    CHECK_RV(login_as(ks, P11P_ROLE_USER, BACKING_USER), P11P_ERR_AUTH);
    CHECK_RV(login_as(ks, P11P_ROLE_USER, "backing-user-new"), P11P_OK);
    CHECK_RV(p11p_keystore_set_pin(ks, P11P_ROLE_USER, u2, u1), P11P_OK);
    /* SO login and C_InitPIN pass through too. */
    p11p_keystore_logout(ks);
    CHECK_RV(login_as(ks, P11P_ROLE_SO, BACKING_SO), P11P_OK);
    CHECK_RV(p11p_keystore_init_pin(ks, u1), P11P_OK);
    p11p_keystore_logout(ks);
    p11p_secret_free(so);
    p11p_secret_free(bad);
    p11p_secret_free(u1);
    p11p_secret_free(u2);
}

static void test_pin_source(void)
{
    struct p11p_cache *c2 = NULL;
    struct p11p_keystore *fk = NULL;
    struct p11p_keystore_info info;
    struct p11p_secret *so = pin("station-so-pin"), *user = pin("station-pin");
    struct p11p_cache_keyblob blob = { 0 }, blob2 = { 0 };
    struct p11p_keygen_spec spec = { .key_type = CKK_EC,
                                     .curve_nid = NID_X9_62_prime256v1,
                                     .ckaid = (const unsigned char *)"\x01\x02",
                                     .ckaid_len = 2 };
    EVP_PKEY *pub = NULL;
    char path[256];

    snprintf(path, sizeof(path), "%s/factory.db", tmpdir);
    CHECK_RV(p11p_cache_open(path, &c2), P11P_OK);
    CHECK_RV(p11p_keystore_open(p11p_conf_find_token(conf, "factory"), c2, &fk),
             P11P_OK);
    if (fk == NULL) {
        p11p_cache_close(c2);
        return;
    }
    CHECK_RV(p11p_keystore_info(fk, &info), P11P_OK);
    CHECK(!info.initialized);
    CHECK_RV(p11p_keystore_init_token(fk, so, "factory"), P11P_OK);
    CHECK_RV(login_as(fk, P11P_ROLE_SO, "station-so-pin"), P11P_OK);
    CHECK_RV(p11p_keystore_init_pin(fk, user), P11P_OK);
    p11p_keystore_logout(fk);
    CHECK_RV(p11p_keystore_info(fk, &info), P11P_OK);
    CHECK(info.initialized && info.user_pin_set);
    /* The station PIN is p11portal's; the backing PIN comes from the
     * environment. */
    unsetenv("P11P_TEST_HSM_PIN");
    CHECK_RV(login_as(fk, P11P_ROLE_USER, "station-pin"), P11P_ERR_CONFIG);
    setenv("P11P_TEST_HSM_PIN", "not-the-backing-pin", 1);
    CHECK_RV(login_as(fk, P11P_ROLE_USER, "station-pin"), P11P_ERR_CONFIG);
    setenv("P11P_TEST_HSM_PIN", BACKING_USER, 1);
    CHECK_RV(login_as(fk, P11P_ROLE_USER, BACKING_USER), P11P_ERR_AUTH);
    CHECK_RV(p11p_keystore_info(fk, &info), P11P_OK);
    CHECK_INT_EQ(info.user_fails, 1);
    CHECK_RV(login_as(fk, P11P_ROLE_USER, "station-pin"), P11P_OK);
    CHECK_RV(p11p_keystore_generate(fk, &spec, &pub, &blob), P11P_OK);
    p11p_keystore_pending_done(fk);
    /* The template's CKA_ID is the backing CKA_ID; a second key with it is
     * refused. */
    EVP_PKEY_free(pub);
    pub = NULL;
    CHECK_RV(p11p_keystore_generate(fk, &spec, &pub, &blob2), P11P_ERR_EXISTS);
    CHECK_RV(p11p_keystore_destroy(fk, &blob), P11P_OK);
    EVP_PKEY_free(pub);
    p11p_cache_keyblob_clear(&blob);
    p11p_keystore_close(fk);
    p11p_cache_close(c2);
    p11p_secret_free(so);
    p11p_secret_free(user);
}

static void test_status_table(void)
{
    char buf[32];

    CHECK_RV(p11p_hsm_module_status(CKR_PIN_INCORRECT), P11P_ERR_AUTH);
    CHECK_RV(p11p_hsm_module_status(CKR_PIN_LOCKED), P11P_ERR_PIN_LOCKED);
    CHECK_RV(p11p_hsm_module_status(CKR_MECHANISM_INVALID),
             P11P_ERR_UNSUPPORTED);
    CHECK_RV(p11p_hsm_module_status(CKR_DEVICE_ERROR), P11P_ERR_IO);
    CHECK_RV(p11p_hsm_module_status(CKR_VENDOR_DEFINED + 7), P11P_ERR_IO);
    CHECK_STR_EQ(p11p_hsm_module_rv_name(CKR_PIN_LOCKED, buf, sizeof(buf)),
                 "CKR_PIN_LOCKED");
    CHECK_STR_EQ(p11p_hsm_module_rv_name(0x8123, buf, sizeof(buf)),
                 "CKR_0x8123");
}

int main(void)
{
    int rc;

    if (access(SOFTHSM, R_OK) != 0) {
        fprintf(stderr, "SKIP: %s is not installed\n", SOFTHSM);
        return 77;
    }
    if (!setup()) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    CHECK_RUN(test_status_table);
    CHECK_RUN(test_open_and_login);
    if (ks != NULL) {
        CHECK_RUN(test_rsa);
        CHECK_RUN(test_rsa_decrypt);
        CHECK_RUN(test_ec);
        CHECK_RUN(test_ed25519);
        CHECK_RUN(test_threads_and_fork);
        CHECK_RUN(test_import);
        CHECK_RUN(test_adopt_and_certs);
        CHECK_RUN(test_pins_pass_through);
    }
    p11p_keystore_close(ks);
    CHECK_RUN(test_pin_source);
    p11p_cache_close(cache);
    p11p_conf_free(conf);
    rc = check_summary();
    if (direct != NULL) {
        direct->C_Finalize(NULL);
    }
    /* direct_dl stays loaded: leak reports inside SoftHSM2 must resolve to
     * libsofthsm2.so for tests/lsan.supp (its Ed25519 C_SignInit leak). */
    nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    return rc;
}

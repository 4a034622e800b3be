/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hsm key backend under the enrollment engine (issue 5), against a real
 * SoftHSM2 in a temporary folder and the local CA: a key generated in the
 * HSM signs its CSR there and gets its certificate (same CKA_ID in p11portal
 * and in the HSM); a key created directly in SoftHSM2 is adopted, a CSR is
 * signed with it inside the HSM and enrolled (the "p11portal csr" path),
 * and its certificate pairs with the adopted key. Skips (77) without
 * SoftHSM2.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/obj_mac.h>

#include "cache/cache.h"
#include "core/conf/conf.h"
#include "core/enroll/csr.h"
#include "core/enroll/enroll.h"
#include "core/keys/backend.h"
#include "tests/unit/check.h"

#define SOFTHSM  "/usr/lib/softhsm/libsofthsm2.so"
#define HSM_SO   "enroll-so-3321"
#define HSM_USER "enroll-user-7764"

static char tmpdir[64];
static struct p11p_conf *conf;
static struct p11p_cache *cache;
static struct p11p_keystore *ks;
static struct p11p_enroll *eng;
static CK_FUNCTION_LIST *direct;

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

static bool setup(void)
{
    static char a0[] = "softhsm2-util", a1[] = "--init-token", a2[] = "--free",
                a3[] = "--label", a4[] = "backing", a5[] = "--so-pin",
                a6[] = HSM_SO, a7[] = "--pin", a8[] = HSM_USER;
    char *init[] = { a0, a1, a2, a3, a4, a5, a6, a7, a8, NULL };
    char path[256], text[1024];
    struct p11p_secret *user = p11p_secret_dup(HSM_USER, strlen(HSM_USER));
    CK_C_GetFunctionList gfl = NULL;
    void *dl;
    FILE *f;
    bool ok;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/p11p_hsme.XXXXXX");
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
        return false;
    }
    snprintf(text, sizeof(text),
             "[token \"station\"]\ndriver = local\ndata_dir = %s/data\n"
             "key_backend = hsm\nhsm_module = %s\nhsm_token_label = backing\n"
             "kdf_iterations = 1000\n",
             tmpdir, SOFTHSM);
    ok = p11p_conf_parse_string(text, "test_hsm_enroll.conf", &conf) == P11P_OK
         && p11p_cache_open(conf->tokens[0].cache_path, &cache) == P11P_OK
         && p11p_keystore_open(&conf->tokens[0], cache, &ks) == P11P_OK
         && p11p_keystore_login(ks, P11P_ROLE_USER, user) == P11P_OK
         && p11p_enroll_new(&conf->tokens[0], cache, ks, &eng) == P11P_OK;
    p11p_secret_free(user);
    /* Kept loaded to the end (leak reports must resolve in SoftHSM2). */
    dl = dlopen(SOFTHSM, RTLD_NOW | RTLD_LOCAL);
    *(void **)&gfl = dl != NULL ? dlsym(dl, "C_GetFunctionList") : NULL;
    return ok && gfl != NULL && gfl(&direct) == CKR_OK;
}

static CK_SESSION_HANDLE direct_session(void)
{
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;

    direct->C_Initialize(NULL); /* already initialised by p11portal */
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

static bool same_attr(const struct p11p_attrlist *a,
                      const struct p11p_attrlist *b, CK_ATTRIBUTE_TYPE t)
{
    const CK_ATTRIBUTE *x = p11p_attrlist_get0(a, t);
    const CK_ATTRIBUTE *y = p11p_attrlist_get0(b, t);
    return x != NULL && y != NULL && x->ulValueLen == y->ulValueLen
           && memcmp(x->pValue, y->pValue, x->ulValueLen) == 0;
}

static void test_keygen_enrolls(void)
{
    struct p11p_keygen_spec spec = { .key_type = CKK_EC,
                                     .curve_nid = NID_X9_62_prime256v1,
                                     .label = "dev01" };
    struct p11p_enroll_params params = { .label = "dev01" };
    struct p11p_attrlist pub = { 0 }, priv = { 0 };
    struct p11p_enroll_result r;
    struct p11p_cache_object cert = { 0 }, key = { 0 };
    CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE find[2] = { { CKA_CLASS, &klass, sizeof(klass) } };
    CK_OBJECT_HANDLE h;
    CK_ULONG n = 0;
    CK_SESSION_HANDLE s;
    const CK_ATTRIBUTE *id;

    p11p_attrlist_set_ulong(&pub, CKA_CLASS, CKO_PUBLIC_KEY);
    p11p_attrlist_set_str(&pub, CKA_LABEL, "dev01");
    p11p_attrlist_set_ulong(&priv, CKA_CLASS, CKO_PRIVATE_KEY);
    p11p_attrlist_set_str(&priv, CKA_LABEL, "dev01");
    p11p_attrlist_set_bool(&priv, CKA_SIGN, true);
    CHECK_RV(p11p_enroll_keypair(eng, &spec, &params, &pub, &priv, &r),
             P11P_OK);
    CHECK_INT_EQ(r.state, P11P_ORDER_ISSUED);
    CHECK_RV(p11p_cache_object_get(cache, r.cert_id, &cert), P11P_OK);
    CHECK_RV(p11p_cache_object_get(cache, r.priv_id, &key), P11P_OK);
    CHECK(same_attr(&cert.attrs, &key.attrs, CKA_ID));
    /* The HSM holds the key under that same CKA_ID. */
    id = p11p_attrlist_get0(&key.attrs, CKA_ID);
    if (id != NULL) {
        find[1] = (CK_ATTRIBUTE){ CKA_ID, id->pValue, id->ulValueLen };
        s = direct_session();
        CHECK_RV(direct->C_FindObjectsInit(s, find, 2), CKR_OK);
        CHECK_RV(direct->C_FindObjects(s, &h, 1, &n), CKR_OK);
        direct->C_FindObjectsFinal(s);
        CHECK_INT_EQ(n, 1);
        direct->C_CloseSession(s);
    }
    p11p_cache_object_clear(&cert);
    p11p_cache_object_clear(&key);
    p11p_attrlist_clear(&pub);
    p11p_attrlist_clear(&priv);
}

static void test_adopt_then_csr(void)
{
    CK_SESSION_HANDLE s = direct_session();
    CK_MECHANISM gen = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    static const char id[] = "factory-7";
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG bits = 2048;
    CK_BYTE e[] = { 1, 0, 1 };
    CK_ATTRIBUTE pubt[] = { { CKA_TOKEN, &yes, 1 },
                            { CKA_MODULUS_BITS, &bits, sizeof(bits) },
                            { CKA_PUBLIC_EXPONENT, e, 3 },
                            { CKA_ID, (void *)id, 9 },
                            { CKA_VERIFY, &yes, 1 } };
    CK_ATTRIBUTE privt[] = { { CKA_TOKEN, &yes, 1 },
                             { CKA_PRIVATE, &yes, 1 },
                             { CKA_SENSITIVE, &yes, 1 },
                             { CKA_EXTRACTABLE, &no, 1 },
                             { CKA_ID, (void *)id, 9 },
                             { CKA_SIGN, &yes, 1 },
                             { CKA_LABEL, (void *)"factory-7", 9 } };
    CK_OBJECT_HANDLE hpub, hpriv;
    struct p11p_cache_filter f = { .has_class = true,
                                   .klass = CKO_PRIVATE_KEY,
                                   .ckaid = (const unsigned char *)id,
                                   .ckaid_len = 9 };
    struct p11p_cache_keyblob blob = { 0 };
    struct p11p_cache_object cert = { 0 };
    struct p11p_enroll_params params = { .label = "factory-7" };
    struct p11p_enroll_result r;
    struct p11p_key *k = NULL;
    unsigned char *csr = NULL;
    size_t csr_len = 0, n = 0;
    int64_t *ids = NULL;
    const CK_ATTRIBUTE *cid;

    CHECK_RV(
        direct->C_GenerateKeyPair(s, &gen, pubt, 5, privt, 7, &hpub, &hpriv),
        CKR_OK);
    direct->C_CloseSession(s);
    CHECK_RV(p11p_keystore_adopt(ks, cache, &n), P11P_OK);
    CHECK_INT_EQ(n, 1);
    CHECK_RV(p11p_cache_object_find(cache, &f, &ids, &n), P11P_OK);
    CHECK_INT_EQ(n, 1);
    if (n != 1) {
        free(ids);
        return;
    }
    CHECK_RV(p11p_cache_keyblob_get(cache, ids[0], &blob), P11P_OK);
    CHECK_RV(p11p_keystore_load(ks, &blob, &k), P11P_OK);
    /* The CSR is signed inside the HSM by the adopted key. */
    CHECK_RV(p11p_csr_build(k, "CN=factory-7", NULL, &csr, &csr_len), P11P_OK);
    CHECK_RV(p11p_enroll_csr(eng, csr, csr_len, &params,
                             (const unsigned char *)id, 9, &r),
             P11P_OK);
    CHECK_INT_EQ(r.state, P11P_ORDER_ISSUED);
    CHECK_RV(p11p_cache_object_get(cache, r.cert_id, &cert), P11P_OK);
    cid = p11p_attrlist_get0(&cert.attrs, CKA_ID);
    CHECK(cid != NULL && cid->ulValueLen == 9
          && memcmp(cid->pValue, id, 9) == 0);
    p11p_cache_object_clear(&cert);
    p11p_key_unref(k);
    p11p_cache_keyblob_clear(&blob);
    free(csr);
    free(ids);
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
    CHECK_RUN(test_keygen_enrolls);
    CHECK_RUN(test_adopt_then_csr);
    p11p_enroll_free(eng);
    p11p_keystore_close(ks);
    p11p_cache_close(cache);
    p11p_conf_free(conf);
    rc = check_summary();
    nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    return rc;
}

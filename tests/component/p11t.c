/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared helpers of the component tests: module loading, a private
 * temporary folder per test, token and PIN set-up, key generation, attribute
 * reads and OpenSSL public keys from token objects. Standard PKCS#11 only.
 */
#include "tests/component/p11t.h"

#include <dlfcn.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "include/p11portal/pkcs11-vendor.h"

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void p11t_write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (fp == NULL) {
        perror(path);
        exit(1);
    }
    fputs(text, fp);
    fclose(fp);
}

void p11t_setup(struct p11t *t, int argc, char **argv, const char *conf_text)
{
    CK_C_GetFunctionList gfl = NULL;
    const char *tmp = getenv("TMPDIR");

    memset(t, 0, sizeof(*t));
    t->module = argc > 1 ? argv[1] : getenv("P11P_MODULE");
    if (t->module == NULL || t->module[0] == '\0') {
        fprintf(stderr, "SKIP: no module (set P11P_MODULE or pass a path)\n");
        exit(77);
    }
    snprintf(t->dir, sizeof(t->dir), "%s/p11t.XXXXXX",
             tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(t->dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(t->data, sizeof(t->data), "%s/data", t->dir);
    setenv("XDG_DATA_HOME", t->data, 1);
    if (conf_text != NULL) {
        snprintf(t->conf, sizeof(t->conf), "%s/p11portal.conf", t->dir);
        p11t_write_file(t->conf, conf_text);
        setenv("P11PORTAL_CONF", t->conf, 1);
    } else {
        unsetenv("P11PORTAL_CONF");
    }
    t->dl = dlopen(t->module, RTLD_NOW | RTLD_LOCAL);
    if (t->dl == NULL) {
        fprintf(stderr, "FAIL: dlopen %s: %s\n", t->module, dlerror());
        exit(1);
    }
    gfl = (CK_C_GetFunctionList)dlsym(t->dl, "C_GetFunctionList");
    if (gfl == NULL || gfl(&t->f) != CKR_OK || t->f == NULL) {
        fprintf(stderr, "FAIL: C_GetFunctionList\n");
        exit(1);
    }
}

void p11t_teardown(struct p11t *t)
{
    if (t->initialized) {
        t->f->C_Finalize(NULL);
        t->initialized = false;
    }
    /* No dlclose: ASan leak reports keep their symbols (STYLE.md 3.15). */
    if (t->dir[0] != '\0' && getenv("P11T_KEEP") == NULL) {
        nftw(t->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

void *p11t_sym(struct p11t *t, const char *name)
{
    return dlsym(t->dl, name);
}

CK_RV p11t_init(struct p11t *t)
{
    CK_C_INITIALIZE_ARGS args;
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    CK_RV rv;

    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    rv = t->f->C_Initialize(&args);
    if (rv != CKR_OK) {
        return rv;
    }
    t->initialized = true;
    rv = t->f->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv == CKR_OK && n == 0) {
        rv = CKR_SLOT_ID_INVALID;
    }
    if (rv == CKR_OK) {
        t->slot = slots[0];
    }
    return rv;
}

CK_RV p11t_finalize(struct p11t *t)
{
    CK_RV rv = t->f->C_Finalize(NULL);
    if (rv == CKR_OK) {
        t->initialized = false;
    }
    return rv;
}

static void pad_label(CK_UTF8CHAR out[32], const char *label)
{
    size_t n = strlen(label);
    memset(out, ' ', 32);
    memcpy(out, label, n > 32 ? 32 : n);
}

CK_RV p11t_init_token(struct p11t *t)
{
    CK_UTF8CHAR label[32];
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_RV rv;

    pad_label(label, P11T_TOKEN_LABEL);
    rv = t->f->C_InitToken(t->slot, (CK_UTF8CHAR *)P11T_SO_PIN,
                           strlen(P11T_SO_PIN), label);
    if (rv != CKR_OK) {
        fprintf(stderr, "p11t: C_InitToken: 0x%lx\n", rv);
        return rv;
    }
    rv = t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                             NULL, &s);
    if (rv != CKR_OK) {
        return rv;
    }
    rv = t->f->C_Login(s, CKU_SO, (CK_UTF8CHAR *)P11T_SO_PIN,
                       strlen(P11T_SO_PIN));
    if (rv == CKR_OK) {
        rv = t->f->C_InitPIN(s, (CK_UTF8CHAR *)P11T_USER_PIN,
                             strlen(P11T_USER_PIN));
        if (rv != CKR_OK) {
            fprintf(stderr, "p11t: C_InitPIN: 0x%lx\n", rv);
        }
        t->f->C_Logout(s);
    }
    t->f->C_CloseSession(s);
    return rv;
}

CK_RV p11t_open_user(struct p11t *t, CK_SESSION_HANDLE *out)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_RV rv;

    rv = t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                             NULL, &s);
    if (rv != CKR_OK) {
        return rv;
    }
    rv = t->f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)P11T_USER_PIN,
                       strlen(P11T_USER_PIN));
    if (rv == CKR_USER_ALREADY_LOGGED_IN) {
        rv = CKR_OK;
    }
    if (rv != CKR_OK) {
        t->f->C_CloseSession(s);
        return rv;
    }
    *out = s;
    return CKR_OK;
}

CK_RV p11t_gen(struct p11t *t, CK_SESSION_HANDLE s, CK_MECHANISM_TYPE mech,
               CK_ATTRIBUTE *pub_extra, CK_ULONG n_pub_extra,
               CK_ATTRIBUTE *priv_extra, CK_ULONG n_priv_extra,
               CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = { mech, NULL, 0 };
    return t->f->C_GenerateKeyPair(s, &m, pub_extra, n_pub_extra, priv_extra,
                                   n_priv_extra, pub, priv);
}

static CK_BBOOL ck_true = CK_TRUE;

CK_RV p11t_gen_rsa(struct p11t *t, CK_SESSION_HANDLE s, CK_ULONG bits,
                   const char *label, bool enroll, CK_OBJECT_HANDLE *pub,
                   CK_OBJECT_HANDLE *priv)
{
    CK_BYTE e[] = { 0x01, 0x00, 0x01 };
    CK_ATTRIBUTE pt[] = {
        { CKA_TOKEN, &ck_true, sizeof(ck_true) },
        { CKA_VERIFY, &ck_true, sizeof(ck_true) },
        { CKA_ENCRYPT, &ck_true, sizeof(ck_true) },
        { CKA_MODULUS_BITS, &bits, sizeof(bits) },
        { CKA_PUBLIC_EXPONENT, e, sizeof(e) },
        { CKA_LABEL, (void *)label, strlen(label) },
    };
    CK_ATTRIBUTE kt[] = {
        { CKA_TOKEN, &ck_true, sizeof(ck_true) },
        { CKA_PRIVATE, &ck_true, sizeof(ck_true) },
        { CKA_SENSITIVE, &ck_true, sizeof(ck_true) },
        { CKA_SIGN, &ck_true, sizeof(ck_true) },
        { CKA_DECRYPT, &ck_true, sizeof(ck_true) },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_P11PORTAL_NO_ENROLL, &ck_true, sizeof(ck_true) },
    };
    return p11t_gen(t, s, CKM_RSA_PKCS_KEY_PAIR_GEN, pt, 6, kt, enroll ? 6 : 7,
                    pub, priv);
}

/* DER OIDs of the named curves and of Ed25519. */
static const unsigned char oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
                                          0xce, 0x3d, 0x03, 0x01, 0x07 };
static const unsigned char oid_p384[] = { 0x06, 0x05, 0x2b, 0x81,
                                          0x04, 0x00, 0x22 };
static const unsigned char oid_p521[] = { 0x06, 0x05, 0x2b, 0x81,
                                          0x04, 0x00, 0x23 };
static const unsigned char oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };

static CK_RV gen_ec_like(struct p11t *t, CK_SESSION_HANDLE s,
                         CK_MECHANISM_TYPE mech, const unsigned char *oid,
                         size_t oid_len, const char *label, bool enroll,
                         CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_ATTRIBUTE pt[] = {
        { CKA_TOKEN, &ck_true, sizeof(ck_true) },
        { CKA_VERIFY, &ck_true, sizeof(ck_true) },
        { CKA_EC_PARAMS, (void *)oid, oid_len },
        { CKA_LABEL, (void *)label, strlen(label) },
    };
    CK_ATTRIBUTE kt[] = {
        { CKA_TOKEN, &ck_true, sizeof(ck_true) },
        { CKA_PRIVATE, &ck_true, sizeof(ck_true) },
        { CKA_SENSITIVE, &ck_true, sizeof(ck_true) },
        { CKA_SIGN, &ck_true, sizeof(ck_true) },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_P11PORTAL_NO_ENROLL, &ck_true, sizeof(ck_true) },
    };
    return p11t_gen(t, s, mech, pt, 4, kt, enroll ? 5 : 6, pub, priv);
}

CK_RV p11t_gen_ec(struct p11t *t, CK_SESSION_HANDLE s, const char *curve,
                  const char *label, bool enroll, CK_OBJECT_HANDLE *pub,
                  CK_OBJECT_HANDLE *priv)
{
    const unsigned char *oid = oid_p256;
    size_t len = sizeof(oid_p256);

    if (strcmp(curve, "P-384") == 0) {
        oid = oid_p384;
        len = sizeof(oid_p384);
    } else if (strcmp(curve, "P-521") == 0) {
        oid = oid_p521;
        len = sizeof(oid_p521);
    }
    return gen_ec_like(t, s, CKM_EC_KEY_PAIR_GEN, oid, len, label, enroll, pub,
                       priv);
}

CK_RV p11t_gen_ed25519(struct p11t *t, CK_SESSION_HANDLE s, const char *label,
                       bool enroll, CK_OBJECT_HANDLE *pub,
                       CK_OBJECT_HANDLE *priv)
{
    return gen_ec_like(t, s, CKM_EC_EDWARDS_KEY_PAIR_GEN, oid_ed25519,
                       sizeof(oid_ed25519), label, enroll, pub, priv);
}

CK_RV p11t_get_attr(struct p11t *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                    CK_ATTRIBUTE_TYPE type, unsigned char **out,
                    CK_ULONG *out_len)
{
    CK_ATTRIBUTE a = { type, NULL, 0 };
    CK_RV rv;

    *out = NULL;
    *out_len = 0;
    rv = t->f->C_GetAttributeValue(s, o, &a, 1);
    if (rv != CKR_OK) {
        return rv;
    }
    a.pValue = malloc(a.ulValueLen + 1);
    if (a.pValue == NULL) {
        return CKR_HOST_MEMORY;
    }
    rv = t->f->C_GetAttributeValue(s, o, &a, 1);
    if (rv != CKR_OK) {
        free(a.pValue);
        return rv;
    }
    ((unsigned char *)a.pValue)[a.ulValueLen] = 0;
    *out = a.pValue;
    *out_len = a.ulValueLen;
    return CKR_OK;
}

CK_RV p11t_get_ulong(struct p11t *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                     CK_ATTRIBUTE_TYPE type, CK_ULONG *out)
{
    CK_ATTRIBUTE a = { type, out, sizeof(*out) };
    return t->f->C_GetAttributeValue(s, o, &a, 1);
}

CK_RV p11t_find(struct p11t *t, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl,
                CK_ULONG n, CK_OBJECT_HANDLE *out, CK_ULONG max,
                CK_ULONG *out_n)
{
    CK_RV rv = t->f->C_FindObjectsInit(s, tmpl, n);
    CK_ULONG got = 0;

    *out_n = 0;
    if (rv != CKR_OK) {
        return rv;
    }
    rv = t->f->C_FindObjects(s, out, max, &got);
    t->f->C_FindObjectsFinal(s);
    if (rv == CKR_OK) {
        *out_n = got;
    }
    return rv;
}

CK_ULONG p11t_count(struct p11t *t, CK_SESSION_HANDLE s, CK_OBJECT_CLASS klass,
                    const char *label)
{
    CK_ATTRIBUTE tmpl[2];
    CK_ULONG n = 0, got = 0;
    CK_OBJECT_HANDLE h[256];

    if (klass != (CK_OBJECT_CLASS)-1) {
        tmpl[n].type = CKA_CLASS;
        tmpl[n].pValue = &klass;
        tmpl[n].ulValueLen = sizeof(klass);
        n++;
    }
    if (label != NULL) {
        tmpl[n].type = CKA_LABEL;
        tmpl[n].pValue = (void *)label;
        tmpl[n].ulValueLen = strlen(label);
        n++;
    }
    if (p11t_find(t, s, tmpl, n, h, 256, &got) != CKR_OK) {
        return (CK_ULONG)-1;
    }
    return got;
}

const unsigned char *p11t_ec_point_raw(const unsigned char *buf, size_t len,
                                       size_t *out_len)
{
    const unsigned char *p = buf;
    long inner = 0;
    int tag = 0, cls = 0;
    int r = ASN1_get_object(&p, &inner, &tag, &cls, (long)len);

    if (r == 0 && tag == V_ASN1_OCTET_STRING && cls == V_ASN1_UNIVERSAL
        && (size_t)(p - buf) + (size_t)inner == len) {
        *out_len = (size_t)inner;
        return p;
    }
    *out_len = len;
    return buf;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pk = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        pk = NULL;
    }
    OSSL_PARAM_free(params);
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

EVP_PKEY *p11t_pubkey(struct p11t *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub)
{
    CK_ULONG kt = 0, n = 0, elen = 0, plen = 0, ptlen = 0;
    unsigned char *a = NULL, *b = NULL;
    EVP_PKEY *pk = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    BIGNUM *bn_n = NULL, *bn_e = NULL;

    if (p11t_get_ulong(t, s, pub, CKA_KEY_TYPE, &kt) != CKR_OK) {
        return NULL;
    }
    bld = OSSL_PARAM_BLD_new();
    if (kt == CKK_RSA) {
        if (p11t_get_attr(t, s, pub, CKA_MODULUS, &a, &n) == CKR_OK
            && p11t_get_attr(t, s, pub, CKA_PUBLIC_EXPONENT, &b, &elen)
                   == CKR_OK) {
            bn_n = BN_bin2bn(a, (int)n, NULL);
            bn_e = BN_bin2bn(b, (int)elen, NULL);
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
            pk = pkey_from_params("RSA", bld);
        }
    } else if (kt == CKK_EC || kt == CKK_EC_EDWARDS) {
        if (p11t_get_attr(t, s, pub, CKA_EC_PARAMS, &a, &plen) == CKR_OK
            && p11t_get_attr(t, s, pub, CKA_EC_POINT, &b, &ptlen) == CKR_OK) {
            size_t rl = 0;
            const unsigned char *raw = p11t_ec_point_raw(b, ptlen, &rl);
            const unsigned char *q = a;
            ASN1_OBJECT *obj = d2i_ASN1_OBJECT(NULL, &q, (long)plen);
            int nid = obj != NULL ? OBJ_obj2nid(obj) : NID_undef;
            ASN1_OBJECT_free(obj);
            if (kt == CKK_EC_EDWARDS) {
                pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw,
                                                 rl);
            } else if (nid != NID_undef) {
                OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                                OBJ_nid2sn(nid), 0);
                OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                                 raw, rl);
                pk = pkey_from_params("EC", bld);
            }
        }
    }
    BN_free(bn_n);
    BN_free(bn_e);
    OSSL_PARAM_BLD_free(bld);
    free(a);
    free(b);
    return pk;
}

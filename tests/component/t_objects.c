/* SPDX-License-Identifier: Apache-2.0 */
/*
 * t_objects: what C_GenerateKeyPair leaves on the token (key pair, issued
 * certificate with the key's CKA_ID and label, chain certificates of
 * category 2, the order data object in state issued), vendor attributes
 * (subject, SANs, no-enroll), finds with full templates, C_CreateObject of
 * a certificate and a data object, C_SetAttributeValue of label and id,
 * C_DestroyObject, and private objects hidden when logged out.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "include/p11portal/pkcs11-vendor.h"
#include "tests/component/p11t.h"
#include "tests/unit/check.h"

static struct p11t T;
static CK_SESSION_HANDLE S;
static CK_OBJECT_HANDLE PUB, PRIV;

#define LABEL   "obj-key"
#define SUBJECT "CN=custom-subject,O=Acme Devices"
#define SANS    "DNS:dev01.example.com,IP:192.0.2.7"

static CK_BBOOL yes = CK_TRUE;
static CK_BBOOL no = CK_FALSE;

static X509 *cert_of(CK_OBJECT_HANDLE h)
{
    unsigned char *v = NULL;
    CK_ULONG vl = 0;
    const unsigned char *p;
    X509 *x = NULL;

    if (p11t_get_attr(&T, S, h, CKA_VALUE, &v, &vl) == CKR_OK) {
        p = v;
        x = d2i_X509(NULL, &p, (long)vl);
    }
    free(v);
    return x;
}

static CK_OBJECT_HANDLE find_one(CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    CK_OBJECT_HANDLE h[4];
    CK_ULONG got = 0;
    if (p11t_find(&T, S, tmpl, n, h, 4, &got) != CKR_OK || got != 1) {
        return CK_INVALID_HANDLE;
    }
    return h[0];
}

static void test_setup(void)
{
    CK_OBJECT_CLASS kc = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE pt[] = {
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_VERIFY, &yes, sizeof(yes) },
        { CKA_EC_PARAMS, P11T_V("\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07"),
          10 },
        { CKA_LABEL, P11T_V(LABEL), strlen(LABEL) },
    };
    CK_ATTRIBUTE kt[] = {
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_PRIVATE, &yes, sizeof(yes) },
        { CKA_SIGN, &yes, sizeof(yes) },
        { CKA_LABEL, P11T_V(LABEL), strlen(LABEL) },
        { CKA_P11PORTAL_SUBJECT, P11T_V(SUBJECT), strlen(SUBJECT) },
        { CKA_P11PORTAL_SANS, P11T_V(SANS), strlen(SANS) },
    };
    (void)kc;
    CHECK_RV(p11t_init(&T), CKR_OK);
    CHECK_RV(p11t_init_token(&T), CKR_OK);
    CHECK_RV(p11t_open_user(&T, &S), CKR_OK);
    CHECK_RV(p11t_gen(&T, S, CKM_EC_KEY_PAIR_GEN, pt, 4, kt, 6, &PUB, &PRIV),
             CKR_OK);
}

static void test_issued_cert(void)
{
    CK_OBJECT_CLASS cc = CKO_CERTIFICATE;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cc, sizeof(cc) },
        { CKA_LABEL, P11T_V(LABEL), strlen(LABEL) },
    };
    CK_OBJECT_HANDLE h = find_one(t, 2);
    unsigned char *kid = NULL, *cid = NULL, *subj = NULL;
    CK_ULONG kl = 0, cl = 0, sl = 0, cat = 99, ctype = 99;
    X509 *x = NULL;
    EVP_PKEY *tokpub = NULL;
    char dn[256];
    GENERAL_NAMES *gens = NULL;
    bool dns = false;

    CHECK(h != CK_INVALID_HANDLE);
    if (h == CK_INVALID_HANDLE) {
        return;
    }
    CHECK_RV(p11t_get_attr(&T, S, PRIV, CKA_ID, &kid, &kl), CKR_OK);
    CHECK_RV(p11t_get_attr(&T, S, h, CKA_ID, &cid, &cl), CKR_OK);
    CHECK(kl > 0);
    CHECK_MEM_EQ(cid, cl, kid, kl);
    CHECK_RV(p11t_get_ulong(&T, S, h, CKA_CERTIFICATE_CATEGORY, &cat), CKR_OK);
    CHECK_INT_EQ(cat, 1);
    CHECK_RV(p11t_get_ulong(&T, S, h, CKA_CERTIFICATE_TYPE, &ctype), CKR_OK);
    CHECK_INT_EQ(ctype, CKC_X_509);
    x = cert_of(h);
    CHECK(x != NULL);
    if (x != NULL) {
        unsigned char *der = NULL;
        int dl = i2d_X509_NAME(X509_get_subject_name(x), &der);
        X509_NAME_oneline(X509_get_subject_name(x), dn, sizeof(dn));
        CHECK(strstr(dn, "CN=custom-subject") != NULL);
        CHECK(strstr(dn, "O=Acme Devices") != NULL);
        CHECK_RV(p11t_get_attr(&T, S, h, CKA_SUBJECT, &subj, &sl), CKR_OK);
        CHECK_MEM_EQ(subj, sl, der, (size_t)dl);
        OPENSSL_free(der);
        gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
        CHECK(gens != NULL);
        for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
            GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
            if (g->type == GEN_DNS
                && strcmp((const char *)ASN1_STRING_get0_data(g->d.dNSName),
                          "dev01.example.com")
                       == 0) {
                dns = true;
            }
        }
        CHECK(dns);
        GENERAL_NAMES_free(gens);
        tokpub = p11t_pubkey(&T, S, PUB);
        CHECK(tokpub != NULL);
        CHECK(tokpub != NULL && EVP_PKEY_eq(tokpub, X509_get0_pubkey(x)) == 1);
    }
    EVP_PKEY_free(tokpub);
    X509_free(x);
    free(kid);
    free(cid);
    free(subj);
}

static void test_cert_attributes(void)
{
    CK_OBJECT_CLASS cc = CKO_CERTIFICATE;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cc, sizeof(cc) },
        { CKA_LABEL, P11T_V(LABEL), strlen(LABEL) },
    };
    CK_OBJECT_HANDLE h = find_one(t, 2);
    X509 *x = h != CK_INVALID_HANDLE ? cert_of(h) : NULL;
    unsigned char *v = NULL, *der = NULL;
    CK_ULONG vl = 0;
    CK_DATE start, end;
    CK_ATTRIBUTE dates[] = {
        { CKA_START_DATE, &start, sizeof(start) },
        { CKA_END_DATE, &end, sizeof(end) },
    };
    int dl;

    CHECK(x != NULL);
    if (x == NULL) {
        return;
    }
    CHECK_RV(p11t_get_attr(&T, S, h, CKA_ISSUER, &v, &vl), CKR_OK);
    dl = i2d_X509_NAME(X509_get_issuer_name(x), &der);
    CHECK_MEM_EQ(v, vl, der, (size_t)dl);
    free(v);
    v = NULL;
    OPENSSL_free(der);
    der = NULL;
    CHECK_RV(p11t_get_attr(&T, S, h, CKA_SERIAL_NUMBER, &v, &vl), CKR_OK);
    dl = i2d_ASN1_INTEGER(X509_get_serialNumber(x), &der);
    CHECK_MEM_EQ(v, vl, der, (size_t)dl);
    free(v);
    OPENSSL_free(der);
    CHECK_RV(T.f->C_GetAttributeValue(S, h, dates, 2), CKR_OK);
    {
        /* notBefore as YYYYMMDD */
        struct tm tm;
        char want[40];
        ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm);
        snprintf(want, sizeof(want), "%04d%02d%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday);
        CHECK_MEM_EQ(start.year, 4, want, 4);
        CHECK_MEM_EQ(start.month, 2, want + 4, 2);
        CHECK_MEM_EQ(start.day, 2, want + 6, 2);
        ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm);
        snprintf(want, sizeof(want), "%04d%02d%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday);
        CHECK_MEM_EQ(end.year, 4, want, 4);
    }
    X509_free(x);
}

/* Every object once, whatever the chunk size of C_FindObjects. */
static void test_find_chunks(void)
{
    CK_OBJECT_HANDLE all[64], one[64];
    CK_ULONG n_all = 0, n_one = 0, got = 0;

    CHECK_RV(p11t_find(&T, S, NULL, 0, all, 64, &n_all), CKR_OK);
    CHECK(n_all >= 6); /* key pair, cert, chain (2), order */
    CHECK_RV(T.f->C_FindObjectsInit(S, NULL, 0), CKR_OK);
    do {
        got = 0;
        CHECK_RV(T.f->C_FindObjects(S, one + n_one, 1, &got), CKR_OK);
        n_one += got;
    } while (got == 1 && n_one < 64);
    CHECK_RV(T.f->C_FindObjectsFinal(S), CKR_OK);
    CHECK_INT_EQ(n_one, n_all);
    for (CK_ULONG i = 0; i < n_one; i++) {
        for (CK_ULONG j = i + 1; j < n_one; j++) {
            CHECK(one[i] != one[j]);
        }
    }
}

static void test_chain(void)
{
    CK_OBJECT_CLASS cc = CKO_CERTIFICATE;
    CK_ULONG two = 2;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cc, sizeof(cc) },
        { CKA_CERTIFICATE_CATEGORY, &two, sizeof(two) },
    };
    CK_ATTRIBUTE tl[] = {
        { CKA_CLASS, &cc, sizeof(cc) },
        { CKA_LABEL, P11T_V(LABEL), strlen(LABEL) },
    };
    CK_OBJECT_HANDLE h[16];
    CK_ULONG n = 0;
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    X509 *leaf = NULL;
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    bool root = false;

    CHECK_RV(p11t_find(&T, S, t, 2, h, 16, &n), CKR_OK);
    CHECK(n >= 1);
    for (CK_ULONG i = 0; i < n; i++) {
        X509 *x = cert_of(h[i]);
        CHECK(x != NULL);
        if (x == NULL) {
            continue;
        }
        if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x))
            == 0) {
            root = true;
            X509_STORE_add_cert(store, x);
            X509_free(x);
        } else {
            sk_X509_push(untrusted, x);
        }
    }
    CHECK(root);
    leaf = cert_of(find_one(tl, 2));
    CHECK(leaf != NULL);
    if (leaf != NULL) {
        X509_STORE_CTX_init(ctx, store, leaf, untrusted);
        CHECK(X509_verify_cert(ctx) == 1);
    }
    X509_STORE_CTX_free(ctx);
    X509_free(leaf);
    sk_X509_pop_free(untrusted, X509_free);
    X509_STORE_free(store);
}

static void test_order_object(void)
{
    CK_OBJECT_CLASS dc = CKO_DATA;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &dc, sizeof(dc) },
        { CKA_APPLICATION, P11T_V(P11PORTAL_APP_ORDER),
          strlen(P11PORTAL_APP_ORDER) },
        { CKA_LABEL, P11T_V(LABEL), strlen(LABEL) },
    };
    CK_OBJECT_HANDLE h = find_one(t, 3);
    unsigned char *v = NULL;
    CK_ULONG vl = 0;

    CHECK(h != CK_INVALID_HANDLE);
    if (h == CK_INVALID_HANDLE) {
        return;
    }
    CHECK_RV(p11t_get_attr(&T, S, h, CKA_VALUE, &v, &vl), CKR_OK);
    CHECK(v != NULL && v[0] == '{');
    CHECK(v != NULL && strstr((char *)v, "\"state\"") != NULL);
    CHECK(v != NULL && strstr((char *)v, "\"issued\"") != NULL);
    free(v);
}

static void test_order_attributes(void)
{
    unsigned char *v = NULL;
    CK_ULONG vl = 0;

    /* Read-only vendor attributes on the key (pkcs11-vendor.h). */
    CHECK_RV(p11t_get_attr(&T, S, PRIV, CKA_P11PORTAL_ORDER_STATE, &v, &vl),
             CKR_OK);
    CHECK_MEM_EQ(v, vl, "issued", 6);
    free(v);
    v = NULL;
    CHECK_RV(p11t_get_attr(&T, S, PRIV, CKA_P11PORTAL_ORDER_ID, &v, &vl),
             CKR_OK);
    CHECK(vl > 0);
    free(v);
    {
        CK_ATTRIBUTE a = { CKA_P11PORTAL_ORDER_STATE, P11T_V("new"), 3 };
        CHECK(T.f->C_SetAttributeValue(S, PRIV, &a, 1) != CKR_OK);
    }
}

/* C_CreateObject of a "p11portal csr" data object submits the CSR: the
 * certificate for its key lands on the token. */
static void test_csr_object(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509_REQ *req = X509_REQ_new();
    unsigned char *der = NULL;
    int dl;
    CK_OBJECT_CLASS dc = CKO_DATA, cc = CKO_CERTIFICATE;
    CK_OBJECT_HANDLE h = 0, found[8];
    CK_ULONG n = 0;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &dc, sizeof(dc) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_APPLICATION, P11T_V(P11PORTAL_APP_CSR),
          strlen(P11PORTAL_APP_CSR) },
        { CKA_LABEL, P11T_V("csr-device"), 10 },
        { CKA_VALUE, NULL, 0 },
    };
    CK_ATTRIBUTE ft[] = {
        { CKA_CLASS, &cc, sizeof(cc) },
    };
    bool match = false;

    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
                               MBSTRING_ASC,
                               (const unsigned char *)"csr-device", -1, -1, 0);
    X509_REQ_set_pubkey(req, k);
    X509_REQ_sign(req, k, EVP_sha256());
    dl = i2d_X509_REQ(req, &der);
    t[4].pValue = der;
    t[4].ulValueLen = (CK_ULONG)dl;
    CHECK_RV(T.f->C_CreateObject(S, t, 5, &h), CKR_OK);
    CHECK_RV(p11t_find(&T, S, ft, 1, found, 8, &n), CKR_OK);
    for (CK_ULONG i = 0; i < n; i++) {
        X509 *x = cert_of(found[i]);
        if (x != NULL && EVP_PKEY_eq(X509_get0_pubkey(x), k) == 1) {
            match = true;
        }
        X509_free(x);
    }
    CHECK(match);
    OPENSSL_free(der);
    X509_REQ_free(req);
    EVP_PKEY_free(k);
}

static void test_default_subject_and_no_enroll(void)
{
    CK_OBJECT_HANDLE pub, priv, h;
    CK_OBJECT_CLASS cc = CKO_CERTIFICATE;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cc, sizeof(cc) },
        { CKA_LABEL, P11T_V("obj-default"), 11 },
    };
    X509 *x = NULL;
    char dn[256] = "";

    CHECK_RV(p11t_gen_ec(&T, S, "P-256", "obj-default", true, &pub, &priv),
             CKR_OK);
    h = find_one(t, 2);
    CHECK(h != CK_INVALID_HANDLE);
    x = h != CK_INVALID_HANDLE ? cert_of(h) : NULL;
    if (x != NULL) {
        X509_NAME_oneline(X509_get_subject_name(x), dn, sizeof(dn));
        CHECK(strstr(dn, "CN=obj-default") != NULL);
    }
    X509_free(x);

    CHECK_RV(p11t_gen_ec(&T, S, "P-256", "obj-noenroll", false, &pub, &priv),
             CKR_OK);
    CHECK_INT_EQ(p11t_count(&T, S, CKO_CERTIFICATE, "obj-noenroll"), 0);
    CHECK_INT_EQ(p11t_count(&T, S, CKO_PRIVATE_KEY, "obj-noenroll"), 1);
}

static void test_full_template(void)
{
    CK_OBJECT_CLASS pk = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_EC;
    unsigned char *id = NULL;
    CK_ULONG idl = 0, n = 0;
    CK_OBJECT_HANDLE h[4];
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &pk, sizeof(pk) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_LABEL, P11T_V(LABEL), strlen(LABEL) },
        { CKA_ID, NULL, 0 },
        { CKA_SIGN, &yes, sizeof(yes) },
    };
    CK_ATTRIBUTE absent[] = {
        { CKA_CLASS, &pk, sizeof(pk) },
        { CKA_LABEL, P11T_V(LABEL), strlen(LABEL) },
        { CKA_MODULUS, P11T_V("\x01"), 1 },
    };

    CHECK_RV(p11t_get_attr(&T, S, PRIV, CKA_ID, &id, &idl), CKR_OK);
    t[3].pValue = id;
    t[3].ulValueLen = idl;
    CHECK_RV(p11t_find(&T, S, t, 5, h, 4, &n), CKR_OK);
    CHECK_INT_EQ(n, 1);
    CHECK(n == 1 && h[0] == PRIV);
    t[4].pValue = &no;
    CHECK_RV(p11t_find(&T, S, t, 5, h, 4, &n), CKR_OK);
    CHECK_INT_EQ(n, 0);
    t[4].pValue = &yes;
    t[3].ulValueLen = idl - 1; /* a prefix of the id is not the id */
    CHECK_RV(p11t_find(&T, S, t, 5, h, 4, &n), CKR_OK);
    CHECK_INT_EQ(n, 0);
    CHECK_RV(p11t_find(&T, S, absent, 3, h, 4, &n), CKR_OK);
    CHECK_INT_EQ(n, 0);
    free(id);
}

static unsigned char *self_signed(int *out_len)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    unsigned char *der = NULL;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4711);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"imported-cert", -1, -1,
                               0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, k);
    X509_sign(x, k, EVP_sha256());
    *out_len = i2d_X509(x, &der);
    X509_free(x);
    EVP_PKEY_free(k);
    return der;
}

static void test_create_set_destroy(void)
{
    CK_OBJECT_CLASS cc = CKO_CERTIFICATE, dc = CKO_DATA;
    CK_CERTIFICATE_TYPE ct = CKC_X_509;
    int dl = 0;
    unsigned char *der = self_signed(&dl);
    unsigned char *v = NULL;
    CK_ULONG vl = 0;
    CK_OBJECT_HANDLE cert = 0, data = 0, sess = 0;
    CK_ATTRIBUTE ctmpl[] = {
        { CKA_CLASS, &cc, sizeof(cc) },
        { CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_LABEL, P11T_V("imported"), 8 },
        { CKA_ID, P11T_V("\x01\x02\x03"), 3 },
        { CKA_VALUE, der, (CK_ULONG)dl },
    };
    CK_ATTRIBUTE dtmpl[] = {
        { CKA_CLASS, &dc, sizeof(dc) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_PRIVATE, &no, sizeof(no) },
        { CKA_APPLICATION, P11T_V("notes"), 5 },
        { CKA_LABEL, P11T_V("a-note"), 6 },
        { CKA_VALUE, P11T_V("hello"), 5 },
    };
    CK_ATTRIBUTE stmpl[] = {
        { CKA_CLASS, &dc, sizeof(dc) },
        { CKA_TOKEN, &no, sizeof(no) },
        { CKA_LABEL, P11T_V("session-note"), 12 },
        { CKA_VALUE, P11T_V("bye"), 3 },
    };
    CK_ATTRIBUTE set[] = {
        { CKA_LABEL, P11T_V("renamed"), 7 },
        { CKA_ID, P11T_V("\x0a\x0b"), 2 },
    };
    CK_ATTRIBUTE a = { CKA_LABEL, NULL, 0 };

    CHECK_RV(T.f->C_CreateObject(S, ctmpl, 6, &cert), CKR_OK);
    CHECK_INT_EQ(p11t_count(&T, S, CKO_CERTIFICATE, "imported"), 1);
    CHECK_RV(p11t_get_attr(&T, S, cert, CKA_VALUE, &v, &vl), CKR_OK);
    CHECK_MEM_EQ(v, vl, der, (size_t)dl);
    free(v);
    v = NULL;
    /* CKA_SUBJECT is filled from the certificate when not given. */
    CHECK_RV(p11t_get_attr(&T, S, cert, CKA_SUBJECT, &v, &vl), CKR_OK);
    CHECK(vl > 0);
    free(v);
    v = NULL;

    CHECK_RV(T.f->C_CreateObject(S, dtmpl, 6, &data), CKR_OK);
    CHECK_INT_EQ(p11t_count(&T, S, CKO_DATA, "a-note"), 1);
    /* Session objects (CKA_TOKEN false) are not offered (pkcs11/object.c):
     * refused with CKR_ATTRIBUTE_VALUE_INVALID, and nothing is stored. */
    CHECK_RV(T.f->C_CreateObject(S, stmpl, 4, &sess),
             CKR_ATTRIBUTE_VALUE_INVALID);
    CHECK_INT_EQ(p11t_count(&T, S, CKO_DATA, "session-note"), 0);

    CHECK_RV(T.f->C_SetAttributeValue(S, cert, set, 2), CKR_OK);
    CHECK_INT_EQ(p11t_count(&T, S, CKO_CERTIFICATE, "imported"), 0);
    CHECK_INT_EQ(p11t_count(&T, S, CKO_CERTIFICATE, "renamed"), 1);
    CHECK_RV(p11t_get_attr(&T, S, cert, CKA_ID, &v, &vl), CKR_OK);
    CHECK_MEM_EQ(v, vl, "\x0a\x0b", 2);
    free(v);
    v = NULL;
    /* The class is not modifiable. */
    {
        CK_ATTRIBUTE bad = { CKA_CLASS, &dc, sizeof(dc) };
        CHECK(T.f->C_SetAttributeValue(S, cert, &bad, 1) != CKR_OK);
    }

    CHECK_RV(T.f->C_DestroyObject(S, data), CKR_OK);
    CHECK_INT_EQ(p11t_count(&T, S, CKO_DATA, "a-note"), 0);
    CHECK_RV(T.f->C_GetAttributeValue(S, data, &a, 1),
             CKR_OBJECT_HANDLE_INVALID);
    CHECK_RV(T.f->C_DestroyObject(S, data), CKR_OBJECT_HANDLE_INVALID);
    CHECK_RV(T.f->C_DestroyObject(S, cert), CKR_OK);
    CHECK_INT_EQ(p11t_count(&T, S, CKO_CERTIFICATE, "renamed"), 0);
    OPENSSL_free(der);
}

static void test_private_hidden(void)
{
    CK_SESSION_HANDLE pub = CK_INVALID_HANDLE;

    CHECK_RV(T.f->C_OpenSession(T.slot, CKF_SERIAL_SESSION, NULL, NULL, &pub),
             CKR_OK);
    /* Logged in (login is per token): the private key is visible. */
    CHECK_INT_EQ(p11t_count(&T, pub, CKO_PRIVATE_KEY, LABEL), 1);
    CHECK_RV(T.f->C_Logout(S), CKR_OK);
    CHECK_INT_EQ(p11t_count(&T, pub, CKO_PRIVATE_KEY, LABEL), 0);
    CHECK_INT_EQ(p11t_count(&T, pub, CKO_PUBLIC_KEY, LABEL), 1);
    CHECK_INT_EQ(p11t_count(&T, pub, CKO_CERTIFICATE, LABEL), 1);
    {
        CK_ATTRIBUTE a = { CKA_LABEL, NULL, 0 };
        CK_RV rv = T.f->C_GetAttributeValue(pub, PRIV, &a, 1);
        CHECK(rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_USER_NOT_LOGGED_IN);
    }
    CHECK_RV(T.f->C_CloseSession(pub), CKR_OK);
    CHECK_RV(T.f->C_Login(S, CKU_USER, (CK_UTF8CHAR *)P11T_USER_PIN,
                          strlen(P11T_USER_PIN)),
             CKR_OK);
}

/* C_InitToken again wipes the token's objects and PINs. */
static void test_reinit_wipes(void)
{
    CK_TOKEN_INFO a, b;

    CHECK_RV(T.f->C_GetTokenInfo(T.slot, &a), CKR_OK);
    CHECK_RV(T.f->C_CloseAllSessions(T.slot), CKR_OK);
    CHECK_RV(p11t_init_token(&T), CKR_OK);
    CHECK_RV(p11t_open_user(&T, &S), CKR_OK);
    CHECK_INT_EQ(p11t_count(&T, S, CKO_PRIVATE_KEY, NULL), 0);
    CHECK_INT_EQ(p11t_count(&T, S, CKO_PUBLIC_KEY, NULL), 0);
    CHECK_INT_EQ(p11t_count(&T, S, CKO_CERTIFICATE, LABEL), 0);
    CHECK_RV(T.f->C_GetTokenInfo(T.slot, &b), CKR_OK);
    /* The serial is the token's identity: stable. */
    CHECK_MEM_EQ(a.serialNumber, 16, b.serialNumber, 16);
}

static void test_persistence(void)
{
    CHECK_RV(T.f->C_CloseSession(S), CKR_OK);
    CHECK_RV(p11t_finalize(&T), CKR_OK);
    CHECK_RV(p11t_init(&T), CKR_OK);
    CHECK_RV(p11t_open_user(&T, &S), CKR_OK);
    CHECK_INT_EQ(p11t_count(&T, S, CKO_PRIVATE_KEY, LABEL), 1);
    CHECK_INT_EQ(p11t_count(&T, S, CKO_CERTIFICATE, LABEL), 1);
    CHECK_INT_EQ(p11t_count(&T, S, CKO_DATA, "session-note"), 0);
}

int main(int argc, char **argv)
{
    p11t_setup(&T, argc, argv, P11T_CONF_FAST);
    CHECK_RUN(test_setup);
    if (check_failures == 0) {
        CHECK_RUN(test_issued_cert);
        CHECK_RUN(test_cert_attributes);
        CHECK_RUN(test_find_chunks);
        CHECK_RUN(test_chain);
        CHECK_RUN(test_order_object);
        CHECK_RUN(test_order_attributes);
        CHECK_RUN(test_csr_object);
        CHECK_RUN(test_default_subject_and_no_enroll);
        CHECK_RUN(test_full_template);
        CHECK_RUN(test_create_set_destroy);
        CHECK_RUN(test_private_hidden);
        CHECK_RUN(test_persistence);
        CHECK_RUN(test_reinit_wipes);
    }
    p11t_teardown(&T);
    return check_summary();
}

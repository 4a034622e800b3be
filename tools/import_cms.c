/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal import: CMS EnvelopedData packages encrypted to a certificate
 * whose private key is on the token (import.h). The recipient is found
 * by matching each key-transport recipient info (issuer and serial, or
 * subject key id) to the token's certificate objects; the private key with
 * that certificate's CKA_ID decrypts the content-encryption key through
 * the key backend (p11p_key_op DECRYPT: RSA PKCS#1 v1.5 or OAEP with the
 * recipient info's hash, MGF1 hash and label), so the token key never
 * leaves the token and the package is never decrypted on disk.
 *
 * OpenSSL 3.0 offers no way to hand CMS_decrypt an already decrypted
 * content-encryption key for a key-transport recipient, nor a getter of
 * its encryptedKey: the EnvelopedData is re-encoded as DER (OpenSSL reads
 * BER) and walked here to take the encryptedKey of each recipient info and
 * the EncryptedContentInfo, which then becomes a CMS EncryptedData that
 * CMS_EncryptedData_decrypt opens with the key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/base/log.h"
#include "tools/import.h"

#define MAX_RECIPIENTS 64

/* ---- a small DER walker (definite lengths, one-byte tags) ---- */

struct tlv {
    unsigned tag;
    const unsigned char *start; /* the whole TLV */
    const unsigned char *val;
    size_t len, total;
};

static bool tlv_next(const unsigned char **p, const unsigned char *end,
                     struct tlv *t)
{
    const unsigned char *q = *p;
    size_t len = 0;

    if (end - q < 2) {
        return false;
    }
    t->start = q;
    t->tag = *q++;
    if (*q < 0x80) {
        len = *q++;
    } else {
        unsigned nb = *q++ & 0x7fu;
        if (nb == 0 || nb > 4 || (size_t)(end - q) < nb) {
            return false; /* indefinite or absurd */
        }
        for (unsigned i = 0; i < nb; i++) {
            len = (len << 8) | *q++;
        }
    }
    if ((size_t)(end - q) < len) {
        return false;
    }
    t->val = q;
    t->len = len;
    t->total = (size_t)(q - t->start) + len;
    *p = q + len;
    return true;
}

/* What the walk finds in an EnvelopedData. */
struct env_parts {
    const unsigned char *enc_key[MAX_RECIPIENTS]; /* NULL: not ktri */
    size_t enc_key_len[MAX_RECIPIENTS];
    size_t n_ri;
    const unsigned char *eci; /* EncryptedContentInfo TLV */
    size_t eci_len;
};

static bool walk_ktri(const struct tlv *ri, const unsigned char **key,
                      size_t *len)
{
    const unsigned char *p = ri->val, *end = ri->val + ri->len;
    struct tlv f[4];

    for (int i = 0; i < 4; i++) {
        if (!tlv_next(&p, end, &f[i])) {
            return false;
        }
    }
    if (f[3].tag != 0x04) {
        return false;
    }
    *key = f[3].val;
    *len = f[3].len;
    return true;
}

static bool walk_enveloped(const unsigned char *der, size_t n,
                           struct env_parts *out)
{
    const unsigned char *p = der, *end = der + n;
    struct tlv ci, oid, a0, env, f, ri;

    memset(out, 0, sizeof(*out));
    if (!tlv_next(&p, end, &ci) || ci.tag != 0x30) {
        return false;
    }
    p = ci.val;
    end = ci.val + ci.len;
    if (!tlv_next(&p, end, &oid) || !tlv_next(&p, end, &a0) || a0.tag != 0xa0) {
        return false;
    }
    p = a0.val;
    end = a0.val + a0.len;
    if (!tlv_next(&p, end, &env) || env.tag != 0x30) {
        return false;
    }
    p = env.val;
    end = env.val + env.len;
    if (!tlv_next(&p, end, &f) || f.tag != 0x02 || !tlv_next(&p, end, &f)) {
        return false; /* version */
    }
    if (f.tag == 0xa0 && !tlv_next(&p, end, &f)) {
        return false; /* originatorInfo */
    }
    if (f.tag != 0x31) {
        return false;
    }
    for (const unsigned char *q = f.val; q < f.val + f.len;) {
        if (out->n_ri == MAX_RECIPIENTS || !tlv_next(&q, f.val + f.len, &ri)) {
            return false;
        }
        if (ri.tag == 0x30
            && !walk_ktri(&ri, &out->enc_key[out->n_ri],
                          &out->enc_key_len[out->n_ri])) {
            return false;
        }
        out->n_ri++;
    }
    if (!tlv_next(&p, end, &f) || f.tag != 0x30) {
        return false;
    }
    out->eci = f.start;
    out->eci_len = f.total;
    return true;
}

/* Appends a DER length. */
static size_t put_len(unsigned char *o, size_t len)
{
    if (len < 0x80) {
        o[0] = (unsigned char)len;
        return 1;
    }
    size_t nb = len > 0xffffff ? 4 : len > 0xffff ? 3 : len > 0xff ? 2 : 1;
    o[0] = (unsigned char)(0x80 | nb);
    for (size_t i = 0; i < nb; i++) {
        o[1 + i] = (unsigned char)(len >> (8 * (nb - 1 - i)));
    }
    return 1 + nb;
}

/* ContentInfo { id-encryptedData, [0] EncryptedData { 0, eci } }. */
static unsigned char *encrypted_data(const struct env_parts *e, size_t *out_len)
{
    static const unsigned char oid[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                         0xf7, 0x0d, 0x01, 0x07, 0x06 };
    static const unsigned char ver[] = { 0x02, 0x01, 0x00 };
    size_t ed_len = sizeof(ver) + e->eci_len;
    size_t a0_len = 1 + 5 + ed_len;
    size_t ci_len = sizeof(oid) + 1 + 5 + a0_len;
    unsigned char *b = malloc(1 + 5 + ci_len);
    size_t o = 0;

    if (b == NULL) {
        return NULL;
    }
    /* Real lengths (the 5s above are upper bounds of the length octets). */
    unsigned char l1[6], l2[6], l3[6];
    size_t n3 = put_len(l3, ed_len);
    size_t a0 = 1 + n3 + ed_len;
    size_t n2 = put_len(l2, a0);
    size_t ci = sizeof(oid) + 1 + n2 + a0;
    size_t n1 = put_len(l1, ci);

    b[o++] = 0x30;
    memcpy(b + o, l1, n1);
    o += n1;
    memcpy(b + o, oid, sizeof(oid));
    o += sizeof(oid);
    b[o++] = 0xa0;
    memcpy(b + o, l2, n2);
    o += n2;
    b[o++] = 0x30;
    memcpy(b + o, l3, n3);
    o += n3;
    memcpy(b + o, ver, sizeof(ver));
    o += sizeof(ver);
    memcpy(b + o, e->eci, e->eci_len);
    o += e->eci_len;
    *out_len = o;
    return b;
}

/* ---- reading the package ---- */

static CMS_ContentInfo *read_cms(const unsigned char *d, size_t n)
{
    BIO *b = BIO_new_mem_buf(d, (int)n);
    CMS_ContentInfo *cms = NULL;
    BIO *content = NULL;

    if (b == NULL) {
        return NULL;
    }
    if (n > 0 && d[0] == 0x30) {
        cms = d2i_CMS_bio(b, NULL);
    } else if (n >= 10 && memcmp(d, "-----BEGIN", 10) == 0) {
        /* "-----BEGIN CMS-----" or "-----BEGIN PKCS7-----": the same DER. */
        char *pname = NULL, *header = NULL;
        unsigned char *data = NULL;
        long len = 0;
        if (PEM_read_bio(b, &pname, &header, &data, &len) == 1) {
            const unsigned char *p = data;
            cms = d2i_CMS_ContentInfo(NULL, &p, len);
        }
        OPENSSL_free(pname);
        OPENSSL_free(header);
        OPENSSL_free(data);
    } else {
        cms = SMIME_read_CMS(b, &content);
        BIO_free(content);
    }
    BIO_free(b);
    return cms;
}

/* ---- the recipient's key on the token ---- */

/* The private key object whose certificate matches ri, loaded. */
static enum p11p_status find_key(struct p11p_tool *t, CMS_RecipientInfo *ri,
                                 struct p11p_key **out)
{
    struct p11p_cache_filter f;
    int64_t *ids = NULL;
    size_t n = 0;
    enum p11p_status rc;

    *out = NULL;
    memset(&f, 0, sizeof(f));
    f.has_class = true;
    f.klass = CKO_CERTIFICATE;
    rc = p11p_cache_object_find(t->cache, &f, &ids, &n);
    for (size_t i = 0; rc == P11P_OK && *out == NULL && i < n; i++) {
        struct p11p_cache_object obj;
        const CK_ATTRIBUTE *v, *id;
        X509 *x = NULL;
        int64_t *kids = NULL;
        size_t kn = 0;
        struct p11p_cache_keyblob blob;

        memset(&obj, 0, sizeof(obj));
        memset(&blob, 0, sizeof(blob));
        if (p11p_cache_object_get(t->cache, ids[i], &obj) != P11P_OK) {
            continue;
        }
        v = p11p_attrlist_get0(&obj.attrs, CKA_VALUE);
        id = p11p_attrlist_get0(&obj.attrs, CKA_ID);
        if (v != NULL && id != NULL && id->ulValueLen > 0) {
            const unsigned char *p = v->pValue;
            x = d2i_X509(NULL, &p, (long)v->ulValueLen);
        }
        if (x != NULL && CMS_RecipientInfo_ktri_cert_cmp(ri, x) == 0) {
            struct p11p_cache_filter kf;
            memset(&kf, 0, sizeof(kf));
            kf.has_class = true;
            kf.klass = CKO_PRIVATE_KEY;
            kf.ckaid = id->pValue;
            kf.ckaid_len = id->ulValueLen;
            if (p11p_cache_object_find(t->cache, &kf, &kids, &kn) == P11P_OK
                && kn > 0
                && p11p_cache_keyblob_get(t->cache, kids[0], &blob)
                       == P11P_OK) {
                rc = p11p_keystore_load(t->ks, &blob, out);
            }
        }
        p11p_cache_keyblob_clear(&blob);
        free(kids);
        X509_free(x);
        p11p_cache_object_clear(&obj);
    }
    ERR_clear_error();
    free(ids);
    return rc == P11P_OK && *out == NULL ? P11P_ERR_NOT_FOUND : rc;
}

/* ---- the key-transport mechanism ---- */

static const struct {
    int nid;
    CK_MECHANISM_TYPE hash;
    CK_RSA_PKCS_MGF_TYPE mgf;
} oaep_hashes[] = {
    { NID_sha1, CKM_SHA_1, CKG_MGF1_SHA1 },
    { NID_sha224, CKM_SHA224, CKG_MGF1_SHA224 },
    { NID_sha256, CKM_SHA256, CKG_MGF1_SHA256 },
    { NID_sha384, CKM_SHA384, CKG_MGF1_SHA384 },
    { NID_sha512, CKM_SHA512, CKG_MGF1_SHA512 },
};

static int oaep_row(const X509_ALGOR *a)
{
    int nid = a != NULL ? OBJ_obj2nid(a->algorithm) : NID_sha1;
    for (size_t i = 0; i < sizeof(oaep_hashes) / sizeof(oaep_hashes[0]); i++) {
        if (oaep_hashes[i].nid == nid) {
            return (int)i;
        }
    }
    return -1;
}

/* The mechanism of the recipient info's keyEncryptionAlgorithm; the OAEP
 * label (if any) is a new buffer in *label. */
static enum p11p_status ktri_mech(X509_ALGOR *alg, CK_MECHANISM *mech,
                                  CK_RSA_PKCS_OAEP_PARAMS *oaep,
                                  unsigned char **label)
{
    int nid = OBJ_obj2nid(alg->algorithm);
    RSA_OAEP_PARAMS *op = NULL;
    X509_ALGOR *mgf_md = NULL;
    int h, m;
    enum p11p_status rc = P11P_ERR_UNSUPPORTED;

    memset(mech, 0, sizeof(*mech));
    *label = NULL;
    if (nid == NID_rsaEncryption) {
        mech->mechanism = CKM_RSA_PKCS;
        return P11P_OK;
    }
    if (nid != NID_rsaesOaep) {
        return P11P_ERR_UNSUPPORTED;
    }
    if (alg->parameter != NULL && alg->parameter->type == V_ASN1_SEQUENCE) {
        op = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_OAEP_PARAMS),
                                       alg->parameter);
        if (op == NULL) {
            goto out;
        }
    }
    h = oaep_row(op != NULL ? op->hashFunc : NULL);
    if (op != NULL && op->maskGenFunc != NULL) {
        if (OBJ_obj2nid(op->maskGenFunc->algorithm) != NID_mgf1
            || op->maskGenFunc->parameter == NULL) {
            goto out;
        }
        mgf_md = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR),
                                           op->maskGenFunc->parameter);
        if (mgf_md == NULL) {
            goto out;
        }
    }
    m = oaep_row(mgf_md);
    if (h < 0 || m < 0) {
        goto out;
    }
    memset(oaep, 0, sizeof(*oaep));
    oaep->hashAlg = oaep_hashes[h].hash;
    oaep->mgf = oaep_hashes[m].mgf;
    oaep->source = CKZ_DATA_SPECIFIED;
    if (op != NULL && op->pSourceFunc != NULL
        && op->pSourceFunc->parameter != NULL
        && op->pSourceFunc->parameter->type == V_ASN1_OCTET_STRING) {
        const ASN1_OCTET_STRING *l =
            op->pSourceFunc->parameter->value.octet_string;
        int len = ASN1_STRING_length(l);
        if (len > 0) {
            *label = malloc((size_t)len);
            if (*label == NULL) {
                rc = P11P_ERR_NOMEM;
                goto out;
            }
            memcpy(*label, ASN1_STRING_get0_data(l), (size_t)len);
            oaep->pSourceData = *label;
            oaep->ulSourceDataLen = (CK_ULONG)len;
        }
    }
    mech->mechanism = CKM_RSA_PKCS_OAEP;
    mech->pParameter = oaep;
    mech->ulParameterLen = sizeof(*oaep);
    rc = P11P_OK;
out:
    RSA_OAEP_PARAMS_free(op);
    X509_ALGOR_free(mgf_md);
    return rc;
}

/* Decrypts the content-encryption key with the token key. */
static enum p11p_status unwrap_cek(struct p11p_key *key, X509_ALGOR *alg,
                                   const unsigned char *enc, size_t enc_len,
                                   struct p11p_secret **out)
{
    CK_MECHANISM mech;
    CK_RSA_PKCS_OAEP_PARAMS oaep;
    unsigned char *label = NULL;
    struct p11p_key_op *op = NULL;
    struct p11p_secret *buf = NULL;
    size_t len;
    enum p11p_status rc;

    *out = NULL;
    rc = ktri_mech(alg, &mech, &oaep, &label);
    if (rc == P11P_OK) {
        rc = p11p_key_op_init(key, P11P_KEY_OP_DECRYPT, &mech, &op);
    }
    if (rc == P11P_OK) {
        len = p11p_key_op_max_output(op);
        buf = p11p_secret_new(len);
        rc = buf != NULL
                 ? p11p_key_op_oneshot(op, enc, enc_len, buf->data, &len)
                 : P11P_ERR_NOMEM;
    }
    if (rc == P11P_OK) {
        buf->len = len;
        *out = buf;
        buf = NULL;
    }
    p11p_secret_free(buf);
    p11p_key_op_free(op);
    free(label);
    return rc;
}

/* Decrypts the content with the content-encryption key into a wiped
 * buffer (a secure-heap BIO on the way). */
static enum p11p_status open_content(const struct env_parts *parts,
                                     const struct p11p_secret *cek,
                                     struct p11p_secret **out)
{
    size_t der_len = 0;
    unsigned char *der = encrypted_data(parts, &der_len);
    const unsigned char *p = der;
    CMS_ContentInfo *ed = NULL;
    BIO *mem = BIO_new(BIO_s_secmem());
    BUF_MEM *bm = NULL;
    enum p11p_status rc = P11P_ERR_CRYPTO;

    *out = NULL;
    if (der == NULL || mem == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    ed = d2i_CMS_ContentInfo(NULL, &p, (long)der_len);
    if (ed == NULL
        || CMS_EncryptedData_decrypt(ed, cek->data, cek->len, NULL, mem,
                                     CMS_BINARY)
               != 1) {
        goto out;
    }
    BIO_get_mem_ptr(mem, &bm);
    if (bm == NULL || bm->length == 0) {
        goto out;
    }
    *out = p11p_secret_dup(bm->data, bm->length);
    rc = *out != NULL ? P11P_OK : P11P_ERR_NOMEM;
out:
    ERR_clear_error();
    BIO_free(mem);
    CMS_ContentInfo_free(ed);
    free(der);
    return rc;
}

enum p11p_status p11p_import_cms_decrypt(struct p11p_tool *t, const char *name,
                                         const unsigned char *d, size_t n,
                                         struct p11p_secret **out,
                                         struct p11p_import_err *err)
{
    CMS_ContentInfo *cms = read_cms(d, n);
    STACK_OF(CMS_RecipientInfo) *ris = NULL;
    unsigned char *der = NULL;
    int der_len;
    struct env_parts parts;
    struct p11p_key *key = NULL;
    struct p11p_secret *cek = NULL;
    enum p11p_status rc = P11P_ERR_INVALID_INPUT;
    bool any_ktri = false;

    *out = NULL;
    if (cms == NULL || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_enveloped) {
        rc = p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                              "%s: not a CMS EnvelopedData package (corrupt?)",
                              name);
        goto out;
    }
    der_len = i2d_CMS_ContentInfo(cms, &der);
    ris = CMS_get0_RecipientInfos(cms);
    if (der_len <= 0 || ris == NULL
        || !walk_enveloped(der, (size_t)der_len, &parts)
        || parts.n_ri != (size_t)sk_CMS_RecipientInfo_num(ris)) {
        rc =
            p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                             "%s: the CMS EnvelopedData does not decode", name);
        goto out;
    }
    for (size_t i = 0; key == NULL && i < parts.n_ri; i++) {
        CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, (int)i);
        X509_ALGOR *alg = NULL;
        if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS
            || parts.enc_key[i] == NULL) {
            continue;
        }
        any_ktri = true;
        rc = find_key(t, ri, &key);
        if (rc == P11P_ERR_NOT_FOUND) {
            continue;
        }
        if (rc == P11P_OK) {
            CMS_RecipientInfo_ktri_get0_algs(ri, NULL, NULL, &alg);
            rc = unwrap_cek(key, alg, parts.enc_key[i], parts.enc_key_len[i],
                            &cek);
        }
        if (rc != P11P_OK) {
            rc = p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                                  "%s: the token's key could not decrypt the "
                                  "package's key (%s)",
                                  name, p11p_status_text(rc));
            goto out;
        }
    }
    if (cek == NULL) {
        rc = p11p_import_errf(
            err, P11P_ERR_INVALID_INPUT,
            any_ktri ? "%s: the package is encrypted to no certificate of "
                       "this token (no recipient matches a certificate "
                       "object whose private key is on the token)"
                     : "%s: the package has no RSA key-transport recipient",
            name);
        goto out;
    }
    rc = open_content(&parts, cek, out);
    if (rc != P11P_OK) {
        rc = p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                              "%s: the content does not decrypt (corrupt?)",
                              name);
    }
out:
    ERR_clear_error();
    p11p_secret_free(cek);
    p11p_key_unref(key);
    OPENSSL_free(der);
    CMS_ContentInfo_free(cms);
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Public-key attributes for any EVP_PKEY (RSA, EC P-256/384/521, Ed25519):
 * to and from the PKCS#11 attributes, the default CKA_ID and the SPKI hash.
 *
 * Choices (PKCS#11 3.0 §2.3, 2.3.5):
 * - CKA_EC_POINT is the DER OCTET STRING of the uncompressed point
 *   (04||X||Y); for Ed25519, the OCTET STRING of the 32-byte key.
 * - CKA_EC_PARAMS is the DER OID of the curve; for Ed25519 the OID
 *   1.3.101.112 (id-Ed25519, RFC 8410), which pkcs11-provider and OpenSC
 *   accept. On input we also accept the PrintableString "edwards25519"
 *   that PKCS#11 3.0 allows as the curve name.
 * - Default CKA_ID is the SHA-1 of the modulus (RSA, big-endian, no
 *   leading zero) or of the raw public point (EC 04||X||Y; Ed25519 the 32
 *   bytes), as NSS's pk11_MakeIDFromPublicKey does (modulus, or
 *   u.ec.publicValue) and as OpenSC pkcs15-init does for RSA.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "core/base/log.h"
#include "core/base/ossl.h"
#include "core/keys/backend.h"
#include "core/keys/internal.h"

#define COMP      "keys"
#define MAX_POINT 133 /* P-521 uncompressed: 1 + 2 * 66 */

/* DER OIDs of the supported curves. */
struct curve {
    int nid;
    const char *group; /* OpenSSL group name */
    const unsigned char *oid;
    size_t oid_len;
};

static const unsigned char oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
                                          0xce, 0x3d, 0x03, 0x01, 0x07 };
static const unsigned char oid_p384[] = { 0x06, 0x05, 0x2b, 0x81,
                                          0x04, 0x00, 0x22 };
static const unsigned char oid_p521[] = { 0x06, 0x05, 0x2b, 0x81,
                                          0x04, 0x00, 0x23 };
static const unsigned char oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
/* PrintableString "edwards25519" */
static const unsigned char name_ed25519[] = { 0x13, 0x0c, 'e', 'd', 'w',
                                              'a',  'r',  'd', 's', '2',
                                              '5',  '5',  '1', '9' };

static const struct curve curves[] = {
    { NID_X9_62_prime256v1, "P-256", oid_p256, sizeof(oid_p256) },
    { NID_secp384r1, "P-384", oid_p384, sizeof(oid_p384) },
    { NID_secp521r1, "P-521", oid_p521, sizeof(oid_p521) },
    { NID_ED25519, "ED25519", oid_ed25519, sizeof(oid_ed25519) },
    { NID_ED25519, "ED25519", name_ed25519, sizeof(name_ed25519) },
};

static const struct curve *curve_by_group(const char *group)
{
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (OPENSSL_strcasecmp(curves[i].group, group) == 0) {
            return &curves[i];
        }
    }
    /* OpenSSL also names P-256 "prime256v1", P-384 "secp384r1". */
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (OBJ_sn2nid(group) == curves[i].nid) {
            return &curves[i];
        }
    }
    return NULL;
}

static const struct curve *curve_by_params(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (curves[i].oid_len == len && memcmp(curves[i].oid, p, len) == 0) {
            return &curves[i];
        }
    }
    return NULL;
}

/* The raw public point: EC 04||X||Y, Ed25519 32 bytes. */
static enum p11p_status raw_point(EVP_PKEY *pkey, unsigned char *out,
                                  size_t cap, size_t *out_len)
{
    size_t len = cap;

    if (EVP_PKEY_is_a(pkey, "ED25519")) {
        if (EVP_PKEY_get_raw_public_key(pkey, out, &len) != 1) {
            p11p_ossl_log_errors(COMP, "reading an Ed25519 public key");
            return P11P_ERR_CRYPTO;
        }
    } else if (EVP_PKEY_get_octet_string_param(
                   pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out, cap, &len)
               != 1) {
        p11p_ossl_log_errors(COMP, "reading an EC public point");
        return P11P_ERR_CRYPTO;
    }
    *out_len = len;
    return P11P_OK;
}

/* A big-endian unsigned integer parameter (n, e) into a new buffer. */
static enum p11p_status bn_bytes(EVP_PKEY *pkey, const char *name,
                                 unsigned char **out, size_t *out_len)
{
    BIGNUM *bn = NULL;
    unsigned char *buf = NULL;
    int n;

    *out = NULL;
    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
        p11p_ossl_log_errors(COMP, "reading an RSA public parameter");
        return P11P_ERR_CRYPTO;
    }
    n = BN_num_bytes(bn);
    buf = OPENSSL_malloc(n > 0 ? (size_t)n : 1);
    if (buf == NULL) {
        BN_free(bn);
        return P11P_ERR_NOMEM;
    }
    BN_bn2bin(bn, buf);
    BN_free(bn);
    *out = buf;
    *out_len = (size_t)n;
    return P11P_OK;
}

enum p11p_status p11p_keyattrs_add_public(EVP_PKEY *pkey,
                                          struct p11p_attrlist *l)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    unsigned char *n = NULL, *e = NULL, *spki = NULL;
    size_t n_len = 0, e_len = 0;
    unsigned char point[2 + MAX_POINT];
    size_t point_len = 0;
    char group[64];
    const struct curve *cv;
    int spki_len;

    if (pkey == NULL || l == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        if ((rc = bn_bytes(pkey, OSSL_PKEY_PARAM_RSA_N, &n, &n_len)) != P11P_OK
            || (rc = bn_bytes(pkey, OSSL_PKEY_PARAM_RSA_E, &e, &e_len))
                   != P11P_OK) {
            goto out;
        }
        if ((rc = p11p_attrlist_set_ulong(l, CKA_KEY_TYPE, CKK_RSA)) != P11P_OK
            || (rc = p11p_attrlist_set(l, CKA_MODULUS, n, n_len)) != P11P_OK
            || (rc = p11p_attrlist_set_ulong(l, CKA_MODULUS_BITS,
                                             (CK_ULONG)EVP_PKEY_get_bits(pkey)))
                   != P11P_OK
            || (rc = p11p_attrlist_set(l, CKA_PUBLIC_EXPONENT, e, e_len))
                   != P11P_OK) {
            goto out;
        }
    } else {
        bool ed = EVP_PKEY_is_a(pkey, "ED25519");
        if (ed) {
            cv = curve_by_group("ED25519");
        } else if (EVP_PKEY_is_a(pkey, "EC")
                   && EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL)
                          == 1) {
            cv = curve_by_group(group);
        } else {
            cv = NULL;
        }
        if (cv == NULL) {
            P11P_ERROR(COMP, "unsupported public key type %s",
                       EVP_PKEY_get0_type_name(pkey));
            rc = P11P_ERR_UNSUPPORTED;
            goto out;
        }
        rc = raw_point(pkey, point + 2, MAX_POINT, &point_len);
        if (rc != P11P_OK) {
            goto out;
        }
        /* DER OCTET STRING; every supported point is < 128 bytes except
         * P-521 (133), which needs the long form. */
        if (point_len < 128) {
            point[0] = 0x04;
            point[1] = (unsigned char)point_len;
            point_len += 2;
            rc = p11p_attrlist_set(l, CKA_EC_POINT, point, point_len);
        } else {
            unsigned char der[3 + MAX_POINT];
            der[0] = 0x04;
            der[1] = 0x81;
            der[2] = (unsigned char)point_len;
            memcpy(der + 3, point + 2, point_len);
            rc = p11p_attrlist_set(l, CKA_EC_POINT, der, point_len + 3);
        }
        if (rc != P11P_OK
            || (rc = p11p_attrlist_set_ulong(l, CKA_KEY_TYPE,
                                             ed ? CKK_EC_EDWARDS : CKK_EC))
                   != P11P_OK
            || (rc = p11p_attrlist_set(l, CKA_EC_PARAMS, cv->oid, cv->oid_len))
                   != P11P_OK) {
            goto out;
        }
    }
    spki_len = i2d_PUBKEY(pkey, &spki);
    if (spki_len <= 0) {
        p11p_ossl_log_errors(COMP, "encoding a public key");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    rc = p11p_attrlist_set(l, CKA_PUBLIC_KEY_INFO, spki, (size_t)spki_len);
out:
    OPENSSL_free(n);
    OPENSSL_free(e);
    OPENSSL_free(spki);
    return rc;
}

/* Strips the DER OCTET STRING around CKA_EC_POINT (short or long form). */
static bool unwrap_octet_string(const unsigned char *p, size_t len,
                                const unsigned char **out, size_t *out_len)
{
    size_t hdr, n;

    if (len < 2 || p[0] != 0x04) {
        return false;
    }
    if (p[1] < 0x80) {
        hdr = 2;
        n = p[1];
    } else if (p[1] == 0x81 && len >= 3) {
        hdr = 3;
        n = p[2];
    } else {
        return false;
    }
    if (hdr + n != len) {
        return false;
    }
    *out = p + hdr;
    *out_len = n;
    return true;
}

static enum p11p_status rsa_from_attrs(const struct p11p_attrlist *l,
                                       EVP_PKEY **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    const CK_ATTRIBUTE *n = p11p_attrlist_get0(l, CKA_MODULUS);
    const CK_ATTRIBUTE *e = p11p_attrlist_get0(l, CKA_PUBLIC_EXPONENT);
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;

    if (n == NULL || e == NULL || n->ulValueLen == 0 || e->ulValueLen == 0) {
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    bn_n = BN_bin2bn(n->pValue, (int)n->ulValueLen, NULL);
    bn_e = BN_bin2bn(e->pValue, (int)e->ulValueLen, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (bn_n == NULL || bn_e == NULL || bld == NULL
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1
        || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    ctx = EVP_PKEY_CTX_new_from_name(p11p_ossl_libctx(), "RSA", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        p11p_ossl_log_errors(COMP, "building an RSA public key");
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    *out = pkey;
    pkey = NULL;
    rc = P11P_OK;
out:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return rc;
}

static enum p11p_status ec_from_attrs(const struct p11p_attrlist *l,
                                      EVP_PKEY **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    const CK_ATTRIBUTE *params = p11p_attrlist_get0(l, CKA_EC_PARAMS);
    const CK_ATTRIBUTE *point = p11p_attrlist_get0(l, CKA_EC_POINT);
    const struct curve *cv;
    const unsigned char *raw;
    size_t raw_len;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM p[3];

    if (params == NULL || point == NULL
        || (cv = curve_by_params(params->pValue, params->ulValueLen)) == NULL
        || !unwrap_octet_string(point->pValue, point->ulValueLen, &raw,
                                &raw_len)) {
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    if (cv->nid == NID_ED25519) {
        pkey = EVP_PKEY_new_raw_public_key_ex(p11p_ossl_libctx(), "ED25519",
                                              NULL, raw, raw_len);
    } else {
        p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                (char *)cv->group, 0);
        p[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                 (void *)raw, raw_len);
        p[2] = OSSL_PARAM_construct_end();
        ctx = EVP_PKEY_CTX_new_from_name(p11p_ossl_libctx(), "EC", NULL);
        if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
            || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, p) != 1) {
            pkey = NULL;
        }
    }
    if (pkey == NULL) {
        p11p_ossl_log_errors(COMP, "building an EC public key");
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    *out = pkey;
    pkey = NULL;
    rc = P11P_OK;
out:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return rc;
}

enum p11p_status p11p_keyattrs_to_public(const struct p11p_attrlist *l,
                                         EVP_PKEY **out)
{
    const CK_ATTRIBUTE *spki;
    CK_ULONG kt;

    *out = NULL;
    if (l == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    spki = p11p_attrlist_get0(l, CKA_PUBLIC_KEY_INFO);
    if (spki != NULL && spki->ulValueLen > 0) {
        const unsigned char *p = spki->pValue;
        EVP_PKEY *pkey = d2i_PUBKEY_ex(NULL, &p, (long)spki->ulValueLen,
                                       p11p_ossl_libctx(), NULL);
        if (pkey == NULL) {
            p11p_ossl_log_errors(COMP, "decoding CKA_PUBLIC_KEY_INFO");
            return P11P_ERR_INVALID_INPUT;
        }
        *out = pkey;
        return P11P_OK;
    }
    if (!p11p_attrlist_get_ulong(l, CKA_KEY_TYPE, &kt)) {
        return P11P_ERR_INVALID_INPUT;
    }
    switch (kt) {
    case CKK_RSA:
        return rsa_from_attrs(l, out);
    case CKK_EC:
    case CKK_EC_EDWARDS:
        return ec_from_attrs(l, out);
    default:
        return P11P_ERR_UNSUPPORTED;
    }
}

enum p11p_status p11p_keyattrs_default_id(EVP_PKEY *pkey, unsigned char out[20])
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    unsigned char point[MAX_POINT];
    unsigned char *n = NULL;
    const unsigned char *data;
    size_t len = 0;
    EVP_MD *sha1 = NULL;

    if (pkey == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        rc = bn_bytes(pkey, OSSL_PKEY_PARAM_RSA_N, &n, &len);
        data = n;
    } else {
        rc = raw_point(pkey, point, sizeof(point), &len);
        data = point;
    }
    if (rc != P11P_OK) {
        goto out;
    }
    sha1 = EVP_MD_fetch(p11p_ossl_libctx(), "SHA1", NULL);
    if (sha1 == NULL || EVP_Digest(data, len, out, NULL, sha1, NULL) != 1) {
        p11p_ossl_log_errors(COMP, "SHA-1 of a public key");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    rc = P11P_OK;
out:
    EVP_MD_free(sha1);
    OPENSSL_free(n);
    return rc;
}

enum p11p_status p11p_keyattrs_spki_sha256(EVP_PKEY *pkey,
                                           unsigned char out[32])
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    unsigned char *spki = NULL;
    EVP_MD *sha = NULL;
    int len;

    if (pkey == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    len = i2d_PUBKEY(pkey, &spki);
    sha = EVP_MD_fetch(p11p_ossl_libctx(), "SHA256", NULL);
    if (len <= 0 || sha == NULL
        || EVP_Digest(spki, (size_t)len, out, NULL, sha, NULL) != 1) {
        p11p_ossl_log_errors(COMP, "SHA-256 of a public key");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    rc = P11P_OK;
out:
    EVP_MD_free(sha);
    OPENSSL_free(spki);
    return rc;
}

enum p11p_status p11p_keyattrs_public_copy(EVP_PKEY *pkey, EVP_PKEY **out)
{
    unsigned char *spki = NULL;
    const unsigned char *p;
    EVP_PKEY *pub;
    int len;

    *out = NULL;
    len = i2d_PUBKEY(pkey, &spki);
    if (len <= 0) {
        p11p_ossl_log_errors(COMP, "encoding a public key");
        return P11P_ERR_CRYPTO;
    }
    p = spki;
    pub = d2i_PUBKEY_ex(NULL, &p, len, p11p_ossl_libctx(), NULL);
    OPENSSL_free(spki);
    if (pub == NULL) {
        p11p_ossl_log_errors(COMP, "decoding a public key");
        return P11P_ERR_CRYPTO;
    }
    *out = pub;
    return P11P_OK;
}

enum p11p_status p11p_keyattrs_verify(EVP_PKEY *pub, const CK_MECHANISM *mech,
                                      const unsigned char *data, size_t len,
                                      const unsigned char *sig, size_t sig_len)
{
    return p11p_evp_op_verify(pub, mech, data, len, sig, sig_len);
}

/* ---- defaults of generated key pairs (C_GenerateKeyPair, batch) ---- */

enum {
    ON_PUB = 1,
    ON_PRIV = 2,
    ON_BOTH = 3
};

/* Where the caller's template is silent. */
static const struct {
    CK_ATTRIBUTE_TYPE type;
    unsigned on; /* which key objects carry the attribute */
    bool pub_v;
    bool priv_v;
} key_defaults[] = {
    { CKA_TOKEN, ON_BOTH, true, true },
    { CKA_PRIVATE, ON_BOTH, false, true },
    { CKA_MODIFIABLE, ON_BOTH, true, true },
    { CKA_DESTROYABLE, ON_BOTH, true, true },
    { CKA_COPYABLE, ON_BOTH, false, false },
    { CKA_DERIVE, ON_BOTH, false, false },
    { CKA_VERIFY, ON_PUB, true, false },
    { CKA_SIGN, ON_PRIV, false, true },
    { CKA_SENSITIVE, ON_PRIV, false, true },
    { CKA_EXTRACTABLE, ON_PRIV, false, false },
    { CKA_WRAP, ON_PUB, false, false },
    { CKA_UNWRAP, ON_PRIV, false, false },
    { CKA_VERIFY_RECOVER, ON_PUB, false, false },
    { CKA_SIGN_RECOVER, ON_PRIV, false, false },
};

enum p11p_status p11p_keyattrs_add_defaults(struct p11p_attrlist *l,
                                            CK_OBJECT_CLASS klass,
                                            CK_KEY_TYPE kt,
                                            CK_MECHANISM_TYPE mech)
{
    bool is_priv = klass == CKO_PRIVATE_KEY;
    unsigned me = is_priv ? ON_PRIV : ON_PUB;
    bool sensitive = true;
    enum p11p_status st = P11P_OK;

    for (size_t i = 0;
         st == P11P_OK && i < sizeof(key_defaults) / sizeof(key_defaults[0]);
         i++) {
        if ((key_defaults[i].on & me) == 0
            || p11p_attrlist_get0(l, key_defaults[i].type) != NULL) {
            continue;
        }
        st = p11p_attrlist_set_bool(l, key_defaults[i].type,
                                    is_priv ? key_defaults[i].priv_v
                                            : key_defaults[i].pub_v);
    }
    if (st == P11P_OK && !is_priv
        && p11p_attrlist_get0(l, CKA_ENCRYPT) == NULL) {
        st = p11p_attrlist_set_bool(l, CKA_ENCRYPT, kt == CKK_RSA);
    }
    if (st == P11P_OK && is_priv
        && p11p_attrlist_get0(l, CKA_DECRYPT) == NULL) {
        st = p11p_attrlist_set_bool(l, CKA_DECRYPT, kt == CKK_RSA);
    }
    if (st == P11P_OK && is_priv) {
        (void)p11p_attrlist_get_bool(l, CKA_SENSITIVE, &sensitive);
        st = p11p_attrlist_set_bool(l, CKA_ALWAYS_SENSITIVE, sensitive);
        if (st == P11P_OK) {
            st = p11p_attrlist_set_bool(l, CKA_NEVER_EXTRACTABLE, true);
        }
    }
    if (st == P11P_OK) {
        st = p11p_attrlist_set_ulong(l, CKA_CLASS, klass);
    }
    if (st == P11P_OK) {
        st = p11p_attrlist_set_ulong(l, CKA_KEY_TYPE, kt);
    }
    if (st == P11P_OK) {
        st = p11p_attrlist_set_bool(l, CKA_LOCAL, true);
    }
    if (st == P11P_OK) {
        st = p11p_attrlist_set_ulong(l, CKA_KEY_GEN_MECHANISM, mech);
    }
    return st;
}

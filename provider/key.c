/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Provider key objects (see key.h): building the public part from token
 * attributes, and single-part token operations with re-lookup after fork.
 */
#include "provider/key.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "core/base/log.h"
#include "provider/err.h"
#include "provider/provider.h"
#include "provider/uri.h"

/* Bound for attribute values we read (certificates, SPKI, moduli). */
#define MAX_ATTR_LEN (64 * 1024)

const char *p11p_prov_key_type_name(int type)
{
    switch (type) {
    case EVP_PKEY_RSA:
        return "RSA";
    case EVP_PKEY_EC:
        return "EC";
    case EVP_PKEY_ED25519:
        return "ED25519";
    default:
        return "unknown";
    }
}

struct p11p_prov_key *p11p_prov_key_new(struct p11p_prov_ctx *ctx, int type)
{
    struct p11p_prov_key *key = calloc(1, sizeof(*key));

    if (key == NULL) {
        return NULL;
    }
    key->refs = 1;
    key->ctx = ctx;
    key->type = type;
    key->handle = CK_INVALID_HANDLE;
    return key;
}

struct p11p_prov_key *p11p_prov_key_ref(struct p11p_prov_key *key)
{
    if (key != NULL) {
        __atomic_add_fetch(&key->refs, 1, __ATOMIC_RELAXED);
    }
    return key;
}

void p11p_prov_key_unref(struct p11p_prov_key *key)
{
    if (key == NULL || __atomic_sub_fetch(&key->refs, 1, __ATOMIC_ACQ_REL)) {
        return;
    }
    free(key->id);
    free(key->label);
    free(key->uri);
    EVP_PKEY_free(key->pub);
    EVP_PKEY_free(key->soft);
    free(key);
}

bool p11p_prov_key_has_private(const struct p11p_prov_key *key)
{
    return key->soft != NULL || (key->on_token && key->cls == CKO_PRIVATE_KEY);
}

CK_RV p11p_prov_key_get_attr(CK_FUNCTION_LIST *fl, CK_SESSION_HANDLE session,
                             CK_OBJECT_HANDLE handle, CK_ATTRIBUTE_TYPE type,
                             unsigned char **out, size_t *len)
{
    CK_RV rv;
    CK_ATTRIBUTE a = { type, NULL, 0 };
    unsigned char *buf = NULL;

    *out = NULL;
    *len = 0;
    rv = fl->C_GetAttributeValue(session, handle, &a, 1);
    if (rv != CKR_OK) {
        goto out;
    }
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION
        || a.ulValueLen > MAX_ATTR_LEN) {
        rv = CKR_ATTRIBUTE_TYPE_INVALID;
        goto out;
    }
    if (a.ulValueLen == 0) {
        rv = CKR_OK;
        goto out;
    }
    buf = malloc(a.ulValueLen + 1);
    if (buf == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    a.pValue = buf;
    rv = fl->C_GetAttributeValue(session, handle, &a, 1);
    if (rv != CKR_OK) {
        goto out;
    }
    buf[a.ulValueLen] = '\0';
    *out = buf;
    *len = a.ulValueLen;
    buf = NULL;
out:
    free(buf);
    return rv;
}

static EVP_PKEY *pub_from_params(struct p11p_prov_ctx *ctx, const char *name,
                                 OSSL_PARAM *params)
{
    EVP_PKEY_CTX *pctx;
    EVP_PKEY *pkey = NULL;

    pctx = EVP_PKEY_CTX_new_from_name(ctx->libctx, name, P11P_PROV_SOFT_PROPQ);
    if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) <= 0
        || EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(pctx);
    return pkey;
}

static EVP_PKEY *pub_rsa(struct p11p_prov_ctx *ctx, const unsigned char *n,
                         size_t nlen, const unsigned char *e, size_t elen)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    BIGNUM *bn_n = BN_bin2bn(n, (int)nlen, NULL);
    BIGNUM *bn_e = BN_bin2bn(e, (int)elen, NULL);
    EVP_PKEY *pkey = NULL;

    if (bld == NULL || bn_n == NULL || bn_e == NULL
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e)) {
        goto out;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL) {
        goto out;
    }
    pkey = pub_from_params(ctx, "RSA", params);
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

/* CKA_EC_POINT is a DER OCTET STRING (PKCS#11 3.0, 2.3.3); some modules
 * return the raw point. Returns a pointer into data. */
static const unsigned char *unwrap_point(const unsigned char *data, size_t len,
                                         size_t *out_len)
{
    const unsigned char *p = data;
    ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)len);
    const unsigned char *ret = data;

    *out_len = len;
    if (os != NULL && p == data + len) {
        size_t olen = (size_t)ASN1_STRING_length(os);

        ret = data + len - olen;
        *out_len = olen;
    }
    ASN1_OCTET_STRING_free(os);
    return ret;
}

/* Maps CKA_EC_PARAMS (a DER OID, or the PrintableString "edwards25519")
 * to an OpenSSL NID. */
static int ec_params_nid(const unsigned char *data, size_t len)
{
    const unsigned char *p = data;
    ASN1_OBJECT *obj;
    int nid = NID_undef;

    if (len > 2 && data[0] == 0x13) {
        if (len - 2 == 12 && memcmp(data + 2, "edwards25519", 12) == 0) {
            return NID_ED25519;
        }
        return NID_undef;
    }
    obj = d2i_ASN1_OBJECT(NULL, &p, (long)len);
    if (obj != NULL) {
        nid = OBJ_obj2nid(obj);
    }
    ASN1_OBJECT_free(obj);
    return nid;
}

static EVP_PKEY *pub_ec(struct p11p_prov_ctx *ctx, int nid,
                        const unsigned char *point, size_t point_len)
{
    OSSL_PARAM params[3];
    size_t plen;
    const unsigned char *pt = unwrap_point(point, point_len, &plen);

    if (nid == NID_ED25519) {
        params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                      (void *)pt, plen);
        params[1] = OSSL_PARAM_construct_end();
        return pub_from_params(ctx, "ED25519", params);
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *)OBJ_nid2sn(nid), 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  (void *)pt, plen);
    params[2] = OSSL_PARAM_construct_end();
    return pub_from_params(ctx, "EC", params);
}

static EVP_PKEY *pub_from_spki(struct p11p_prov_ctx *ctx,
                               const unsigned char *der, size_t len)
{
    const unsigned char *p = der;

    return d2i_PUBKEY_ex(NULL, &p, (long)len, ctx->libctx,
                         P11P_PROV_SOFT_PROPQ);
}

static EVP_PKEY *pub_from_cert(struct p11p_prov_ctx *ctx,
                               const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    unsigned char *spki = NULL;
    int spki_len;
    EVP_PKEY *pkey = NULL;

    if (x == NULL) {
        return NULL;
    }
    spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
    if (spki_len > 0) {
        pkey = pub_from_spki(ctx, spki, (size_t)spki_len);
    }
    OPENSSL_free(spki);
    X509_free(x);
    return pkey;
}

/* Finds the first object of class cls with CKA_ID id on the session. */
static CK_OBJECT_HANDLE find_twin(CK_FUNCTION_LIST *fl,
                                  CK_SESSION_HANDLE session,
                                  CK_OBJECT_CLASS cls, const unsigned char *id,
                                  size_t id_len)
{
    CK_ATTRIBUTE tmpl[2] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_ID, (void *)id, (CK_ULONG)id_len },
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG n = 0;

    if (fl->C_FindObjectsInit(session, tmpl, 2) != CKR_OK) {
        return CK_INVALID_HANDLE;
    }
    if (fl->C_FindObjects(session, &h, 1, &n) != CKR_OK || n != 1) {
        h = CK_INVALID_HANDLE;
    }
    fl->C_FindObjectsFinal(session);
    return h;
}

/* Builds the public EVP_PKEY of an EC/Ed25519 key: CKA_PUBLIC_KEY_INFO,
 * else CKA_EC_POINT of the object or its public twin, else the
 * certificate with the same CKA_ID. */
static EVP_PKEY *pub_ec_lookup(struct p11p_prov_ctx *ctx, CK_FUNCTION_LIST *fl,
                               CK_SESSION_HANDLE session,
                               CK_OBJECT_HANDLE handle,
                               const struct p11p_prov_key *key)
{
    unsigned char *params = NULL;
    unsigned char *point = NULL;
    unsigned char *cert = NULL;
    size_t params_len = 0, point_len = 0, cert_len = 0;
    CK_OBJECT_HANDLE twin;
    EVP_PKEY *pkey = NULL;
    int nid;

    p11p_prov_key_get_attr(fl, session, handle, CKA_EC_PARAMS, &params,
                           &params_len);
    nid = params != NULL ? ec_params_nid(params, params_len) : NID_undef;
    if (p11p_prov_key_get_attr(fl, session, handle, CKA_EC_POINT, &point,
                               &point_len)
            != CKR_OK
        || point == NULL) {
        free(point);
        point = NULL;
        twin = find_twin(fl, session, CKO_PUBLIC_KEY, key->id, key->id_len);
        if (twin != CK_INVALID_HANDLE) {
            p11p_prov_key_get_attr(fl, session, twin, CKA_EC_POINT, &point,
                                   &point_len);
        }
    }
    if (point != NULL && nid != NID_undef) {
        pkey = pub_ec(ctx, nid, point, point_len);
    }
    if (pkey == NULL) {
        twin = find_twin(fl, session, CKO_CERTIFICATE, key->id, key->id_len);
        if (twin != CK_INVALID_HANDLE
            && p11p_prov_key_get_attr(fl, session, twin, CKA_VALUE, &cert,
                                      &cert_len)
                   == CKR_OK
            && cert != NULL) {
            pkey = pub_from_cert(ctx, cert, cert_len);
        }
    }
    free(params);
    free(point);
    free(cert);
    return pkey;
}

CK_RV p11p_prov_key_from_token(struct p11p_prov_ctx *ctx, CK_SLOT_ID slot,
                               CK_SESSION_HANDLE session,
                               CK_OBJECT_HANDLE handle,
                               struct p11p_prov_key **out)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    CK_FUNCTION_LIST *fl = NULL;
    struct p11p_prov_key *key = NULL;
    CK_OBJECT_CLASS cls = 0;
    CK_KEY_TYPE kt = 0;
    CK_ATTRIBUTE a[2] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
    };
    unsigned char *n = NULL, *e = NULL, *spki = NULL, *label = NULL;
    size_t n_len = 0, e_len = 0, spki_len = 0, label_len = 0;
    CK_TOKEN_INFO info;
    int type;

    *out = NULL;
    rv = p11p_prov_module_get(ctx, &fl);
    if (rv != CKR_OK) {
        goto out;
    }
    rv = fl->C_GetAttributeValue(session, handle, a, 2);
    if (rv != CKR_OK) {
        P11PV_RAISE(ctx, P11P_PROV_R_PKCS11,
                    "%s: C_GetAttributeValue(CKA_CLASS, CKA_KEY_TYPE): %s",
                    ctx->module_path, p11p_prov_err_ckr_name(rv));
        goto out;
    }
    switch (kt) {
    case CKK_RSA:
        type = EVP_PKEY_RSA;
        break;
    case CKK_EC:
        type = EVP_PKEY_EC;
        break;
    case CKK_EC_EDWARDS:
        type = EVP_PKEY_ED25519;
        break;
    default:
        rv = CKR_KEY_TYPE_INCONSISTENT;
        goto out;
    }
    key = p11p_prov_key_new(ctx, type);
    if (key == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    key->on_token = true;
    key->slot = slot;
    key->cls = cls;
    key->handle = handle;
    key->epoch = p11p_prov_module_epoch(ctx);
    p11p_prov_key_get_attr(fl, session, handle, CKA_ID, &key->id, &key->id_len);
    if (p11p_prov_key_get_attr(fl, session, handle, CKA_LABEL, &label,
                               &label_len)
            == CKR_OK
        && label != NULL) {
        key->label = (char *)label;
        label = NULL;
    }
    if (p11p_prov_key_get_attr(fl, session, handle, CKA_PUBLIC_KEY_INFO, &spki,
                               &spki_len)
            == CKR_OK
        && spki != NULL) {
        key->pub = pub_from_spki(ctx, spki, spki_len);
    }
    if (key->pub == NULL && type == EVP_PKEY_RSA
        && p11p_prov_key_get_attr(fl, session, handle, CKA_MODULUS, &n, &n_len)
               == CKR_OK
        && p11p_prov_key_get_attr(fl, session, handle, CKA_PUBLIC_EXPONENT, &e,
                                  &e_len)
               == CKR_OK
        && n != NULL && e != NULL) {
        key->pub = pub_rsa(ctx, n, n_len, e, e_len);
    }
    if (key->pub == NULL && type != EVP_PKEY_RSA) {
        key->pub = pub_ec_lookup(ctx, fl, session, handle, key);
    }
    if (p11p_prov_module_token_info(ctx, slot, &info)) {
        key->uri = p11p_prov_uri_for_object(&info, cls, key->id, key->id_len,
                                            key->label);
    }
    if (key->pub == NULL) {
        P11PV_RAISE(
            ctx, P11P_PROV_R_NOT_FOUND,
            "%s: cannot read the public part of the %s key (no CKA_PUBLIC_KEY_INFO, public key object or certificate with its CKA_ID)",
            key->uri != NULL ? key->uri : ctx->module_path,
            p11p_prov_key_type_name(type));
        rv = CKR_KEY_HANDLE_INVALID;
        goto out;
    }
    *out = key;
    key = NULL;
    rv = CKR_OK;
out:
    p11p_prov_key_unref(key);
    free(n);
    free(e);
    free(spki);
    free(label);
    return rv;
}

/* Finds the key's object again after the module was re-initialised (fork):
 * by class, CKA_ID and label. */
static CK_RV refind(struct p11p_prov_key *key, CK_FUNCTION_LIST *fl,
                    CK_SESSION_HANDLE session)
{
    CK_ATTRIBUTE tmpl[3];
    CK_ULONG nt = 0;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    CK_RV rv;

    tmpl[nt].type = CKA_CLASS;
    tmpl[nt].pValue = &key->cls;
    tmpl[nt++].ulValueLen = sizeof(key->cls);
    if (key->id != NULL) {
        tmpl[nt].type = CKA_ID;
        tmpl[nt].pValue = key->id;
        tmpl[nt++].ulValueLen = key->id_len;
    }
    if (key->label != NULL) {
        tmpl[nt].type = CKA_LABEL;
        tmpl[nt].pValue = key->label;
        tmpl[nt++].ulValueLen = strlen(key->label);
    }
    rv = fl->C_FindObjectsInit(session, tmpl, nt);
    if (rv != CKR_OK) {
        return rv;
    }
    rv = fl->C_FindObjects(session, &h, 1, &n);
    fl->C_FindObjectsFinal(session);
    if (rv != CKR_OK) {
        return rv;
    }
    if (n != 1) {
        return CKR_KEY_HANDLE_INVALID;
    }
    key->handle = h;
    key->epoch = p11p_prov_module_epoch(key->ctx);
    return CKR_OK;
}

static CK_RV run_op(struct p11p_prov_key *key, CK_FUNCTION_LIST *fl,
                    CK_SESSION_HANDLE session, bool sign, CK_MECHANISM *mech,
                    const unsigned char *in, size_t inlen, unsigned char *out,
                    size_t *outlen, const char **what)
{
    CK_RV rv;
    CK_ULONG olen = (CK_ULONG)*outlen;

    if (key->epoch != p11p_prov_module_epoch(key->ctx)) {
        *what = "C_FindObjects";
        rv = refind(key, fl, session);
        if (rv != CKR_OK) {
            return rv;
        }
    }
    *what = sign ? "C_SignInit" : "C_DecryptInit";
    rv = sign ? fl->C_SignInit(session, mech, key->handle)
              : fl->C_DecryptInit(session, mech, key->handle);
    if (rv != CKR_OK) {
        return rv;
    }
    *what = sign ? "C_Sign" : "C_Decrypt";
    rv = sign ? fl->C_Sign(session, (CK_BYTE *)in, (CK_ULONG)inlen, out, &olen)
              : fl->C_Decrypt(session, (CK_BYTE *)in, (CK_ULONG)inlen, out,
                              &olen);
    if (rv == CKR_OK) {
        *outlen = olen;
    }
    return rv;
}

CK_RV p11p_prov_key_op(struct p11p_prov_key *key, bool sign, CK_MECHANISM *mech,
                       const unsigned char *in, size_t inlen,
                       unsigned char *out, size_t *outlen)
{
    CK_RV rv;
    CK_FUNCTION_LIST *fl = NULL;
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    const char *what = "C_OpenSession";
    struct p11p_prov_pin_req req = { 0 };
    bool broken = false;

    rv = p11p_prov_module_get(key->ctx, &fl);
    if (rv != CKR_OK) {
        goto out;
    }
    if (p11p_prov_login_needed(key->ctx, key->slot)) {
        /* A forked child, or a key decoded without a prompt: use the kept
         * PIN or the provider's pin-source. */
        rv = p11p_prov_login(key->ctx, key->slot, &req, key->uri);
        if (rv != CKR_OK) {
            goto out;
        }
    }
    rv = p11p_prov_session_get(key->ctx, key->slot, &session);
    if (rv != CKR_OK) {
        goto out;
    }
    rv = run_op(key, fl, session, sign, mech, in, inlen, out, outlen, &what);
    if (rv == CKR_OPERATION_ACTIVE) {
        /* A stale operation on a pooled session: start afresh. */
        broken = true;
    }
    if (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED) {
        broken = true;
    }
    if (rv != CKR_OK) {
        P11PV_RAISE(key->ctx, P11P_PROV_R_PKCS11, "%s: %s: %s",
                    key->uri != NULL ? key->uri : "pkcs11:", what,
                    p11p_prov_err_ckr_name(rv));
        goto out;
    }
out:
    if (session != CK_INVALID_HANDLE) {
        if (broken && rv != CKR_SESSION_HANDLE_INVALID
            && rv != CKR_SESSION_CLOSED) {
            fl->C_CloseSession(session);
        }
        p11p_prov_session_put(key->ctx, key->slot, session, broken);
    }
    return rv;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * C_Sign* and C_Verify*. Signing runs on the token's loaded-key map and
 * the session's reusable backend operation (crypt.c): no SQLite, no
 * allocation per signature once warm. The size query (NULL output ->
 * length) and CKR_BUFFER_TOO_SMALL keep the operation alive (2.40 section
 * 5.2); every other outcome ends it. Raw mechanisms (CKM_RSA_PKCS,
 * CKM_RSA_PKCS_PSS, CKM_ECDSA, CKM_EDDSA) buffer multi-part input;
 * verification always buffers and checks in one shot with the public key.
 */
#include "pkcs11/sign.h"

#include <string.h>

#include "core/base/log.h"
#include "pkcs11/attrs.h"
#include "pkcs11/ckr.h"
#include "pkcs11/crypt.h"
#include "pkcs11/object.h"

/* RSA PKCS#1 v1.5 padding takes at least 11 bytes (section 2.1.6). */
#define PKCS1_OVERHEAD 11

CK_RV p11p_sign_init(struct p11p_session *s, CK_MECHANISM_PTR mech,
                     CK_OBJECT_HANDLE key)
{
    return p11p_crypt_op_init_private(s, P11P_OP_SIGN, &s->sign, mech, key,
                                      P11P_MECH_SIGN);
}

static CK_RV sign_status(struct p11p_session *s, enum p11p_status st)
{
    if (st == P11P_OK) {
        return CKR_OK;
    }
    p11p_session_set_status(s, st);
    if (st == P11P_ERR_INVALID_INPUT) {
        return CKR_DATA_LEN_RANGE;
    }
    if (st == P11P_ERR_AUTH) {
        return CKR_USER_NOT_LOGGED_IN;
    }
    P11P_INFO("pkcs11", "signature failed: %s", p11p_status_text(st));
    return p11p_ckr_from_status(st);
}

/* Checks a raw input length against the mechanism. */
static CK_RV check_raw_len(const struct p11p_crypt_op *op, size_t len)
{
    if (op->mechanism.mechanism == CKM_RSA_PKCS
        && (op->modulus_bytes < PKCS1_OVERHEAD
            || len > op->modulus_bytes - PKCS1_OVERHEAD)) {
        return CKR_DATA_LEN_RANGE;
    }
    if (op->mechanism.mechanism == CKM_ECDSA && len == 0) {
        return CKR_DATA_LEN_RANGE;
    }
    return CKR_OK;
}

/* Checks the input of a one-shot call (fn: "C_Sign" or "C_Verify"). A
 * one-shot call cannot finish a multi-part operation (section 5.12); the
 * spec names no code for it, so the call just fails. */
static CK_RV check_oneshot(const struct p11p_crypt_op *op, const CK_BYTE *data,
                           CK_ULONG len, const char *fn)
{
    CK_RV rv = CKR_OK;

    if (data == NULL && len != 0) {
        rv = CKR_ARGUMENTS_BAD;
    } else if (op->multipart) {
        P11P_INFO("pkcs11", "%s after %sUpdate: finish with %sFinal", fn, fn,
                  fn);
        rv = CKR_FUNCTION_FAILED;
    }
    return rv;
}

/* Ends the update call of kind: a successful update makes op multi-part,
 * any failure ends the operation. Returns rv. */
static CK_RV end_update(struct p11p_session *s, struct p11p_crypt_op *op,
                        enum p11p_op_kind kind, CK_RV rv)
{
    if (rv == CKR_OK) {
        op->multipart = true;
    } else {
        p11p_session_op_end(s, kind);
    }
    return rv;
}

/* Produces the signature of data (or of the buffered input) into sig. */
static CK_RV do_sign(struct p11p_session *s, const CK_BYTE *data, CK_ULONG len,
                     bool final, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    struct p11p_crypt_op *op = &s->sign;
    size_t out_len = 0;
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    if (sig_len == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    if (!p11p_crypt_op_is_current(s, op)) {
        return CKR_USER_NOT_LOGGED_IN;
    }
    out_len = p11p_key_op_max_output(op->kop);
    rv = p11p_crypt_output_check(sig, sig_len, out_len);
    if (rv != CKR_OK || sig == NULL) {
        return rv;
    }
    if (final && op->mech->raw) {
        data = op->buf;
        len = op->buf_len;
    }
    if (op->mech->raw) {
        rv = check_raw_len(op, len);
        if (rv != CKR_OK) {
            return rv;
        }
    }
    out_len = *sig_len;
    if (final && !op->mech->raw) {
        st = p11p_key_op_final(op->kop, sig, &out_len);
    } else {
        st = p11p_key_op_oneshot(op->kop, data, len, sig, &out_len);
    }
    rv = sign_status(s, st);
    if (rv == CKR_OK) {
        *sig_len = out_len;
    }
    return rv;
}

CK_RV p11p_sign(struct p11p_session *s, CK_BYTE_PTR data, CK_ULONG len,
                CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_require(s, P11P_OP_SIGN);
    if (rv != CKR_OK) {
        goto out;
    }
    rv = check_oneshot(&s->sign, data, len, "C_Sign");
    if (rv == CKR_OK) {
        rv = do_sign(s, data, len, false, sig, sig_len);
    }
    if (p11p_crypt_output_ends_op(rv, sig)) {
        p11p_session_op_end(s, P11P_OP_SIGN);
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rv;
}

CK_RV p11p_sign_update(struct p11p_session *s, CK_BYTE_PTR data, CK_ULONG len)
{
    struct p11p_crypt_op *op = &s->sign;
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_require(s, P11P_OP_SIGN);
    if (rv != CKR_OK) {
        goto out;
    }
    if (data == NULL && len != 0) {
        rv = CKR_ARGUMENTS_BAD;
    } else if (!p11p_crypt_op_is_current(s, op)) {
        rv = CKR_USER_NOT_LOGGED_IN;
    } else if (op->mech->raw) {
        rv = p11p_crypt_op_append(op, data, len);
    } else {
        st = p11p_key_op_update(op->kop, data, len);
        rv = sign_status(s, st);
    }
    rv = end_update(s, op, P11P_OP_SIGN, rv);
out:
    pthread_mutex_unlock(&s->lock);
    return rv;
}

CK_RV p11p_sign_final(struct p11p_session *s, CK_BYTE_PTR sig,
                      CK_ULONG_PTR sig_len)
{
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_require(s, P11P_OP_SIGN);
    if (rv != CKR_OK) {
        goto out;
    }
    rv = do_sign(s, NULL, 0, true, sig, sig_len);
    if (p11p_crypt_output_ends_op(rv, sig)) {
        p11p_session_op_end(s, P11P_OP_SIGN);
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rv;
}

/* Loads the public key of a key or certificate object for verification. */
static CK_RV verify_key(struct p11p_session *s, const struct p11p_mech *m,
                        CK_OBJECT_HANDLE h, EVP_PKEY **out)
{
    struct p11p_cache_object obj = { 0 };
    CK_ULONG kt = CK_UNAVAILABLE_INFORMATION;
    bool allowed = true;
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    rv = p11p_object_load(s, h, &obj);
    if (rv != CKR_OK) {
        rv = CKR_KEY_HANDLE_INVALID;
        goto out;
    }
    if (obj.klass != CKO_PUBLIC_KEY && obj.klass != CKO_PRIVATE_KEY) {
        rv = CKR_KEY_TYPE_INCONSISTENT;
        goto out;
    }
    if (!p11p_attrlist_get_ulong(&obj.attrs, CKA_KEY_TYPE, &kt)
        || kt != m->key_type) {
        rv = CKR_KEY_TYPE_INCONSISTENT;
        goto out;
    }
    if (obj.klass == CKO_PUBLIC_KEY
        && p11p_attrlist_get_bool(&obj.attrs, CKA_VERIFY, &allowed)
        && !allowed) {
        rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
        goto out;
    }
    st = p11p_keyattrs_to_public(&obj.attrs, out);
    if (st != P11P_OK) {
        p11p_session_set_status(s, st);
        rv = p11p_ckr_from_status(st);
        goto out;
    }
out:
    p11p_cache_object_clear(&obj);
    return rv;
}

CK_RV p11p_sign_verify_init(struct p11p_session *s, CK_MECHANISM_PTR mech,
                            CK_OBJECT_HANDLE key)
{
    const struct p11p_mech *m = NULL;
    EVP_PKEY *pub = NULL;
    CK_RV rv = CKR_OK;

    rv = p11p_mech_check(mech, P11P_MECH_VERIFY, &m);
    if (rv == CKR_OK) {
        rv = verify_key(s, m, key, &pub); /* SQLite: no session lock */
    }
    pthread_mutex_lock(&s->lock);
    if (rv == CKR_OK) {
        rv = p11p_session_op_begin(s, P11P_OP_VERIFY);
    }
    if (rv == CKR_OK) {
        rv = p11p_crypt_op_set_mech(&s->verify, m, mech);
        if (rv == CKR_OK) {
            s->verify.pub = pub;
            pub = NULL;
            s->verify.buf_len = 0;
            s->verify.multipart = false;
        } else {
            p11p_session_op_end(s, P11P_OP_VERIFY);
        }
    }
    pthread_mutex_unlock(&s->lock);
    EVP_PKEY_free(pub);
    return rv;
}

/* The exact signature length of a public key and mechanism. */
static size_t sig_size(const struct p11p_crypt_op *op)
{
    int bits = EVP_PKEY_get_bits(op->pub);

    switch (op->mech->key_type) {
    case CKK_EC:
        return 2 * (((size_t)bits + 7) / 8);
    case CKK_EC_EDWARDS:
        return 64;
    default:
        return (size_t)EVP_PKEY_get_size(op->pub);
    }
}

static CK_RV do_verify(struct p11p_session *s, const CK_BYTE *data,
                       CK_ULONG len, const CK_BYTE *sig, CK_ULONG sig_len)
{
    struct p11p_crypt_op *op = &s->verify;
    enum p11p_status st = P11P_OK;

    if (sig == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    if (sig_len != sig_size(op)) {
        return CKR_SIGNATURE_LEN_RANGE;
    }
    if (op->mechanism.mechanism == CKM_RSA_PKCS
        && len > (CK_ULONG)EVP_PKEY_get_size(op->pub) - PKCS1_OVERHEAD) {
        return CKR_DATA_LEN_RANGE;
    }
    st = p11p_keyattrs_verify(op->pub, &op->mechanism, data, len, sig, sig_len);
    if (st == P11P_ERR_AUTH) {
        return CKR_SIGNATURE_INVALID;
    }
    if (st == P11P_ERR_INVALID_INPUT) {
        return CKR_DATA_LEN_RANGE;
    }
    if (st != P11P_OK) {
        p11p_session_set_status(s, st);
    }
    return p11p_ckr_from_status(st);
}

CK_RV p11p_sign_verify(struct p11p_session *s, CK_BYTE_PTR data, CK_ULONG len,
                       CK_BYTE_PTR sig, CK_ULONG sig_len)
{
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_require(s, P11P_OP_VERIFY);
    if (rv != CKR_OK) {
        goto out;
    }
    rv = check_oneshot(&s->verify, data, len, "C_Verify");
    if (rv == CKR_OK) {
        rv = do_verify(s, data, len, sig, sig_len);
    }
    p11p_session_op_end(s, P11P_OP_VERIFY);
out:
    pthread_mutex_unlock(&s->lock);
    return rv;
}

CK_RV p11p_sign_verify_update(struct p11p_session *s, CK_BYTE_PTR data,
                              CK_ULONG len)
{
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_require(s, P11P_OP_VERIFY);
    if (rv != CKR_OK) {
        goto out;
    }
    rv = data == NULL && len != 0 ? CKR_ARGUMENTS_BAD
                                  : p11p_crypt_op_append(&s->verify, data, len);
    rv = end_update(s, &s->verify, P11P_OP_VERIFY, rv);
out:
    pthread_mutex_unlock(&s->lock);
    return rv;
}

CK_RV p11p_sign_verify_final(struct p11p_session *s, CK_BYTE_PTR sig,
                             CK_ULONG sig_len)
{
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_require(s, P11P_OP_VERIFY);
    if (rv != CKR_OK) {
        goto out;
    }
    rv = do_verify(s, s->verify.buf, s->verify.buf_len, sig, sig_len);
    p11p_session_op_end(s, P11P_OP_VERIFY);
out:
    pthread_mutex_unlock(&s->lock);
    return rv;
}

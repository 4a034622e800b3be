/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared operation state of sign.c and decrypt.c (see crypt.h). On the
 * hot path (key already in the map, same key and mechanism as the last
 * operation of the session) starting an operation touches no SQLite and
 * allocates nothing: p11p_key_op_init reuses the session's context.
 */
#include "pkcs11/crypt.h"

#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "pkcs11/ckr.h"
#include "pkcs11/names.h"

#define INPUT_MAX (16u * 1024u * 1024u)

CK_RV p11p_crypt_op_set_mech(struct p11p_crypt_op *op,
                             const struct p11p_mech *m,
                             const CK_MECHANISM *mech)
{
    op->mech = m;
    op->mechanism.mechanism = mech->mechanism;
    op->mechanism.pParameter = NULL;
    op->mechanism.ulParameterLen = 0;
    if (mech->ulParameterLen == 0) {
        return CKR_OK;
    }
    if (mech->ulParameterLen > sizeof(op->param)) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    memcpy(&op->param, mech->pParameter, mech->ulParameterLen);
    op->mechanism.pParameter = &op->param;
    op->mechanism.ulParameterLen = mech->ulParameterLen;
    return CKR_OK;
}

/* Starts op on private key handle (see p11p_crypt_op_init_private); the
 * caller holds s->lock and has begun the operation slot. */
static CK_RV init_private_locked(struct p11p_session *s,
                                 struct p11p_crypt_op *op,
                                 const CK_MECHANISM *mech, CK_OBJECT_HANDLE key,
                                 enum p11p_mech_op kind)
{
    const struct p11p_mech *m = NULL;
    struct p11p_keyslot ks = { 0 };
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    rv = p11p_mech_check(mech, kind, &m);
    if (rv != CKR_OK) {
        goto out;
    }
    rv = p11p_slot_key_get(s->token, key, &ks);
    if (rv != CKR_OK) {
        goto out;
    }
    if (ks.key_type != m->key_type) {
        rv = CKR_KEY_TYPE_INCONSISTENT;
        goto out;
    }
    if (!p11p_slot_key_allows(&ks, mech->mechanism)) {
        /* CKA_ALLOWED_MECHANISMS (2.40 section 4.7). */
        rv = CKR_MECHANISM_INVALID;
        goto out;
    }
    if ((kind == P11P_MECH_SIGN && !ks.can_sign)
        || (kind == P11P_MECH_DECRYPT && !ks.can_decrypt)) {
        rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
        goto out;
    }
    if (ks.modulus_bytes != 0
        && (ks.modulus_bytes * 8 < m->min_bits
            || ks.modulus_bytes * 8 > m->max_bits)) {
        rv = CKR_KEY_SIZE_RANGE;
        goto out;
    }
    rv = p11p_crypt_op_set_mech(op, m, mech);
    if (rv != CKR_OK) {
        goto out;
    }
    st = p11p_key_op_init(
        ks.key, kind == P11P_MECH_SIGN ? P11P_KEY_OP_SIGN : P11P_KEY_OP_DECRYPT,
        &op->mechanism, &op->kop);
    if (st != P11P_OK) {
        p11p_session_set_status(s, st);
        P11P_INFO("pkcs11", "%s on key %lu: %s",
                  p11p_names_mech(mech->mechanism), (unsigned long)key,
                  p11p_status_text(st));
        rv = st == P11P_ERR_UNSUPPORTED     ? CKR_MECHANISM_INVALID
             : st == P11P_ERR_INVALID_INPUT ? CKR_MECHANISM_PARAM_INVALID
                                            : p11p_ckr_from_status(st);
        goto out;
    }
    op->key = ks.key;
    ks.key = NULL;
    op->modulus_bytes = ks.modulus_bytes;
    op->epoch = atomic_load(&s->token->login_epoch);
    op->multipart = false;
    op->buf_len = 0;
out:
    p11p_key_unref(ks.key);
    return rv;
}

CK_RV p11p_crypt_op_init_private(struct p11p_session *s, enum p11p_op_kind slot,
                                 struct p11p_crypt_op *op,
                                 const CK_MECHANISM *mech, CK_OBJECT_HANDLE key,
                                 enum p11p_mech_op kind)
{
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_begin(s, slot);
    if (rv == CKR_OK) {
        rv = init_private_locked(s, op, mech, key, kind);
        if (rv != CKR_OK) {
            p11p_session_op_end(s, slot);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rv;
}

CK_RV p11p_crypt_op_append(struct p11p_crypt_op *op, const CK_BYTE *data,
                           CK_ULONG len)
{
    unsigned char *grown = NULL;
    size_t need = op->buf_len + len;

    if (len == 0) {
        return CKR_OK;
    }
    if (need > INPUT_MAX || need < op->buf_len) {
        return CKR_DATA_LEN_RANGE;
    }
    if (need > op->buf_alloc) {
        size_t n = op->buf_alloc ? op->buf_alloc : 256;
        while (n < need) {
            n *= 2;
        }
        grown = realloc(op->buf, n);
        if (grown == NULL) {
            return CKR_HOST_MEMORY;
        }
        op->buf = grown;
        op->buf_alloc = n;
    }
    memcpy(op->buf + op->buf_len, data, len);
    op->buf_len = need;
    return CKR_OK;
}

bool p11p_crypt_op_is_current(const struct p11p_session *s,
                              const struct p11p_crypt_op *op)
{
    return op->key == NULL || atomic_load(&s->token->login_epoch) == op->epoch;
}

void p11p_crypt_op_reset(struct p11p_crypt_op *op)
{
    p11p_key_unref(op->key);
    op->key = NULL;
    EVP_PKEY_free(op->pub);
    op->pub = NULL;
    if (op->buf != NULL && op->buf_len != 0) {
        /* Decrypt input and signed data may be confidential. */
        OPENSSL_cleanse(op->buf, op->buf_len);
    }
    op->buf_len = 0;
    op->multipart = false;
    op->mech = NULL;
}

void p11p_crypt_op_free(struct p11p_crypt_op *op)
{
    if (op == NULL) {
        return;
    }
    p11p_crypt_op_reset(op);
    p11p_key_op_free(op->kop);
    op->kop = NULL;
    free(op->buf);
    op->buf = NULL;
    op->buf_alloc = 0;
}

CK_RV p11p_crypt_output_check(CK_BYTE_PTR out, CK_ULONG_PTR out_len,
                              size_t need)
{
    if (out == NULL) {
        *out_len = need;
        return CKR_OK;
    }
    if (*out_len < need) {
        *out_len = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    return CKR_OK;
}

bool p11p_crypt_output_ends_op(CK_RV rv, const CK_BYTE *out)
{
    return !(rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && out == NULL));
}

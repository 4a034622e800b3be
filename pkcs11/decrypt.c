/* SPDX-License-Identifier: Apache-2.0 */
/*
 * C_Decrypt*: RSA PKCS#1 v1.5 and OAEP with a token private key. RSA
 * decryption is single-part in the spec; C_DecryptUpdate buffers the
 * ciphertext (returning no output) and C_DecryptFinal decrypts it. The
 * plaintext is produced into a wiped stack buffer first, so that a short
 * caller buffer gets the exact length with CKR_BUFFER_TOO_SMALL and the
 * operation stays alive (section 5.2).
 */
#include "pkcs11/decrypt.h"

#include <string.h>

#include <openssl/crypto.h>

#include "core/base/log.h"
#include "pkcs11/ckr.h"
#include "pkcs11/crypt.h"

#define PLAIN_MAX 512 /* RSA-4096 */

CK_RV p11p_decrypt_init(struct p11p_session *s, CK_MECHANISM_PTR mech,
                        CK_OBJECT_HANDLE key)
{
    return p11p_crypt_op_init_private(s, P11P_OP_DECRYPT, &s->decrypt, mech,
                                      key, P11P_MECH_DECRYPT);
}

static CK_RV do_decrypt(struct p11p_session *s, const CK_BYTE *in,
                        CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    struct p11p_crypt_op *op = &s->decrypt;
    unsigned char plain[PLAIN_MAX];
    size_t plain_len = sizeof(plain);
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    if (out_len == NULL || (in == NULL && in_len != 0)) {
        return CKR_ARGUMENTS_BAD;
    }
    if (!p11p_crypt_op_is_current(s, op)) {
        return CKR_USER_NOT_LOGGED_IN;
    }
    if (in_len != op->modulus_bytes) {
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    }
    if (out == NULL) {
        *out_len = p11p_key_op_max_output(op->kop);
        return CKR_OK;
    }
    st = p11p_key_op_oneshot(op->kop, in, in_len, plain, &plain_len);
    if (st != P11P_OK) {
        p11p_session_set_status(s, st);
        rv = st == P11P_ERR_INVALID_INPUT || st == P11P_ERR_CRYPTO
                 ? CKR_ENCRYPTED_DATA_INVALID
                 : p11p_ckr_from_status(st);
        goto out;
    }
    rv = p11p_crypt_output_check(out, out_len, plain_len);
    if (rv == CKR_OK) {
        memcpy(out, plain, plain_len);
        *out_len = plain_len;
    }
out:
    OPENSSL_cleanse(plain, sizeof(plain));
    return rv;
}

CK_RV p11p_decrypt(struct p11p_session *s, CK_BYTE_PTR in, CK_ULONG in_len,
                   CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_require(s, P11P_OP_DECRYPT);
    if (rv != CKR_OK) {
        goto out;
    }
    /* C_Decrypt cannot finish a multi-part operation: the call fails. */
    rv = s->decrypt.multipart ? CKR_FUNCTION_FAILED
                              : do_decrypt(s, in, in_len, out, out_len);
    if (p11p_crypt_output_ends_op(rv, out)) {
        p11p_session_op_end(s, P11P_OP_DECRYPT);
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rv;
}

CK_RV p11p_decrypt_update(struct p11p_session *s, CK_BYTE_PTR in,
                          CK_ULONG in_len, CK_BYTE_PTR out,
                          CK_ULONG_PTR out_len)
{
    CK_RV rv = CKR_OK;

    (void)out;
    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_require(s, P11P_OP_DECRYPT);
    if (rv != CKR_OK) {
        goto out;
    }
    if (out_len == NULL || (in == NULL && in_len != 0)) {
        rv = CKR_ARGUMENTS_BAD;
    } else {
        rv = p11p_crypt_op_append(&s->decrypt, in, in_len);
    }
    if (rv == CKR_OK) {
        s->decrypt.multipart = true;
        *out_len = 0;
    } else {
        p11p_session_op_end(s, P11P_OP_DECRYPT);
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rv;
}

CK_RV p11p_decrypt_final(struct p11p_session *s, CK_BYTE_PTR out,
                         CK_ULONG_PTR out_len)
{
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_require(s, P11P_OP_DECRYPT);
    if (rv != CKR_OK) {
        goto out;
    }
    rv = do_decrypt(s, s->decrypt.buf, s->decrypt.buf_len, out, out_len);
    if (p11p_crypt_output_ends_op(rv, out)) {
        p11p_session_op_end(s, P11P_OP_DECRYPT);
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rv;
}

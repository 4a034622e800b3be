/* SPDX-License-Identifier: Apache-2.0 */
/*
 * C_Digest*. Digests come from the module's private OSSL_LIB_CTX, never
 * from the application's default context (where the p11portal provider
 * may be loaded). C_DigestKey is not supported (entry.c).
 */
#include "pkcs11/digest.h"

#include "core/base/log.h"
#include "core/base/ossl.h"
#include "pkcs11/crypt.h"

CK_RV p11p_digest_init(struct p11p_session *s, CK_MECHANISM_PTR mech)
{
    const struct p11p_mech *m = NULL;
    EVP_MD *md = NULL;
    EVP_MD_CTX *ctx = NULL;
    CK_RV rv = CKR_OK;

    rv = p11p_mech_check(mech, P11P_MECH_DIGEST, &m);
    if (rv != CKR_OK) {
        goto out;
    }
    md = EVP_MD_fetch(p11p_ossl_libctx(), m->md_name, NULL);
    ctx = EVP_MD_CTX_new();
    if (md == NULL || ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        p11p_ossl_log_errors("pkcs11", "digest init");
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_begin(s, P11P_OP_DIGEST);
    if (rv == CKR_OK) {
        s->md = ctx;
        ctx = NULL;
    }
    pthread_mutex_unlock(&s->lock);
out:
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    return rv;
}

static CK_RV finish(struct p11p_session *s, CK_BYTE_PTR out,
                    CK_ULONG_PTR out_len)
{
    unsigned int n = 0;
    CK_RV rv = CKR_OK;

    if (out_len == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    rv = p11p_crypt_output_check(out, out_len,
                                 (size_t)EVP_MD_CTX_get_size(s->md));
    if (rv != CKR_OK || out == NULL) {
        return rv;
    }
    if (EVP_DigestFinal_ex(s->md, out, &n) != 1) {
        return CKR_FUNCTION_FAILED;
    }
    *out_len = n;
    return CKR_OK;
}

CK_RV p11p_digest(struct p11p_session *s, CK_BYTE_PTR data, CK_ULONG len,
                  CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_require(s, P11P_OP_DIGEST);
    if (rv != CKR_OK) {
        goto out;
    }
    if ((data == NULL && len != 0) || out_len == NULL) {
        rv = CKR_ARGUMENTS_BAD;
    } else if (out != NULL && *out_len < (CK_ULONG)EVP_MD_CTX_get_size(s->md)) {
        *out_len = (CK_ULONG)EVP_MD_CTX_get_size(s->md);
        rv = CKR_BUFFER_TOO_SMALL;
        goto out; /* the operation stays active */
    } else if (out != NULL && EVP_DigestUpdate(s->md, data, len) != 1) {
        rv = CKR_FUNCTION_FAILED;
    } else {
        rv = finish(s, out, out_len);
        if (rv == CKR_OK && out == NULL) {
            goto out; /* a length query keeps it active */
        }
    }
    p11p_session_op_end(s, P11P_OP_DIGEST);
out:
    pthread_mutex_unlock(&s->lock);
    return rv;
}

CK_RV p11p_digest_update(struct p11p_session *s, CK_BYTE_PTR data, CK_ULONG len)
{
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_require(s, P11P_OP_DIGEST);
    if (rv != CKR_OK) {
        goto out;
    }
    if (data == NULL && len != 0) {
        rv = CKR_ARGUMENTS_BAD;
    } else if (EVP_DigestUpdate(s->md, data, len) != 1) {
        rv = CKR_FUNCTION_FAILED;
    }
    if (rv != CKR_OK) {
        p11p_session_op_end(s, P11P_OP_DIGEST);
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rv;
}

CK_RV p11p_digest_final(struct p11p_session *s, CK_BYTE_PTR out,
                        CK_ULONG_PTR out_len)
{
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&s->lock);
    rv = p11p_session_op_require(s, P11P_OP_DIGEST);
    if (rv != CKR_OK) {
        goto out;
    }
    rv = finish(s, out, out_len);
    if (!(rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && out == NULL))) {
        p11p_session_op_end(s, P11P_OP_DIGEST);
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rv;
}

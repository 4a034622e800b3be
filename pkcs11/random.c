/* SPDX-License-Identifier: Apache-2.0 */
/*
 * C_GenerateRandom from the private libctx's DRBG; C_SeedRandom is refused
 * with CKR_RANDOM_SEED_NOT_SUPPORTED (OpenSSL seeds itself from the OS).
 */
#include "pkcs11/random.h"

#include <limits.h>

#include <openssl/rand.h>

#include "core/base/log.h"
#include "core/base/ossl.h"

CK_RV p11p_random_generate(struct p11p_session *s, CK_BYTE_PTR out,
                           CK_ULONG len)
{
    (void)s;
    if (out == NULL && len != 0) {
        return CKR_ARGUMENTS_BAD;
    }
    if (len == 0) {
        return CKR_OK;
    }
    if (RAND_bytes_ex(p11p_ossl_libctx(), out, (size_t)len, 0) != 1) {
        p11p_ossl_log_errors("pkcs11", "C_GenerateRandom");
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

CK_RV p11p_random_seed(struct p11p_session *s, CK_BYTE_PTR seed, CK_ULONG len)
{
    (void)s;
    if (seed == NULL && len != 0) {
        return CKR_ARGUMENTS_BAD;
    }
    return CKR_RANDOM_SEED_NOT_SUPPORTED;
}

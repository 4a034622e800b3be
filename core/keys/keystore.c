/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The keystore calls of backend.h that only some backends implement
 * (issue 5): adoption of keys already in a backing HSM and writing
 * certificates to it. They dispatch on the backend row; every other
 * backend gets a no-op. The vtable of internal.h stays as it is.
 */
#include "core/keys/backend.h"
#include "core/keys/hsm.h"
#include "core/keys/hsm_module.h"
#include "core/keys/internal.h"

enum p11p_status p11p_keystore_adopt(struct p11p_keystore *ks,
                                     struct p11p_cache *cache, size_t *out_n)
{
    if (ks == NULL || cache == NULL || out_n == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    if (ks->backend != &p11p_hsm_backend) {
        *out_n = 0;
        return P11P_OK;
    }
    return p11p_hsm_adopt_keys((struct p11p_hsm_ks *)ks, cache, out_n);
}

void p11p_keystore_pending_hold(struct p11p_keystore *ks)
{
    if (ks != NULL && ks->backend == &p11p_hsm_backend) {
        p11p_hsm_module_pending_begin(((struct p11p_hsm_ks *)ks)->tok);
    }
}

void p11p_keystore_pending_done(struct p11p_keystore *ks)
{
    if (ks != NULL && ks->backend == &p11p_hsm_backend) {
        p11p_hsm_module_pending_end(((struct p11p_hsm_ks *)ks)->tok);
    }
}

enum p11p_status p11p_keystore_store_cert(struct p11p_keystore *ks,
                                          const unsigned char *der, size_t len,
                                          const unsigned char *ckaid,
                                          size_t ckaid_len, const char *label)
{
    if (ks == NULL || der == NULL || len == 0) {
        return P11P_ERR_INVALID_INPUT;
    }
    if (ks->backend != &p11p_hsm_backend) {
        return P11P_OK;
    }
    return p11p_hsm_adopt_store_cert((struct p11p_hsm_ks *)ks, der, len, ckaid,
                                     ckaid_len, label);
}

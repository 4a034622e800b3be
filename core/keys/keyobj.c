/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Destroying a token object with its key material (keyobj.h): shared by
 * C_DestroyObject and p11portal delete.
 */
#include "core/keys/keyobj.h"

#include <inttypes.h>

#include "core/base/log.h"

#define COMP "keys"

/* Deletes the row (and its key blob) in one transaction. */
static enum p11p_status delete_row(struct p11p_cache *c, int64_t id)
{
    struct p11p_cache_txn *txn = NULL;
    enum p11p_status st = p11p_cache_txn_begin(c, &txn);

    if (st != P11P_OK) {
        return st;
    }
    st = p11p_cache_object_delete(txn, id);
    if (st != P11P_OK) {
        p11p_cache_txn_rollback(txn);
        return st;
    }
    return p11p_cache_txn_commit(txn);
}

enum p11p_status p11p_keyobj_destroy(struct p11p_keystore *ks,
                                     struct p11p_cache *c, int64_t id)
{
    struct p11p_cache_object o = { 0 };
    struct p11p_cache_keyblob blob = { 0 };
    enum p11p_status st = p11p_cache_object_get(c, id, &o);

    if (st != P11P_OK) {
        goto out;
    }
    if (o.klass == CKO_PRIVATE_KEY) {
        st = p11p_cache_keyblob_get(c, id, &blob);
        if (st == P11P_OK) {
            if (ks == NULL) {
                P11P_ERROR(COMP,
                           "object %" PRId64 ": a private key needs the "
                           "keystore to be destroyed",
                           id);
                st = P11P_ERR_INTERNAL;
                goto out;
            }
            st = p11p_keystore_destroy(ks, &blob);
        }
        if (st != P11P_OK && st != P11P_ERR_NOT_FOUND) {
            goto out;
        }
    }
    st = delete_row(c, id);
out:
    p11p_cache_keyblob_clear(&blob);
    p11p_cache_object_clear(&o);
    return st;
}

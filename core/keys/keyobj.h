/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Destroying a token object with its key material: the one path shared by
 * the module's C_DestroyObject (pkcs11/object.c) and p11portal delete
 * (tools/cmd_delete.c), so that a private key's backing material (hsm: the
 * backing HSM objects) never outlives its p11portal object.
 */
#ifndef P11P_CORE_KEYS_KEYOBJ_H
#define P11P_CORE_KEYS_KEYOBJ_H

#include <stdint.h>

#include "cache/cache.h"
#include "core/base/status.h"
#include "core/keys/backend.h"

/* Deletes object id from c. For a private key object with a key blob, first
 * removes the backend material (p11p_keystore_destroy; material already
 * gone is fine), then the object row and blob (one transaction).
 * P11P_ERR_NOT_FOUND if the object is absent. A failing backend leaves the
 * object in place (so the call can be repeated). ks may be NULL only for
 * objects that are not private keys. */
enum p11p_status p11p_keyobj_destroy(struct p11p_keystore *ks,
                                     struct p11p_cache *c, int64_t id);

#endif

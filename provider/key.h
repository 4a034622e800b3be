/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The provider key object (keymgmt keydata): a reference-counted handle to
 * a key on a token (slot, object handle, CKA_ID, label, URI) with its
 * public part as a default-provider EVP_PKEY, or an in-memory key that is
 * not on a token (then every operation stays with the default provider).
 * Immutable after creation except for the object handle, which is looked up
 * again after a fork re-initialised the module.
 */
#ifndef P11P_PROVIDER_KEY_H
#define P11P_PROVIDER_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include "provider/module.h"

struct p11p_prov_ctx;

struct p11p_prov_key {
    int refs;                  /* atomic */
    struct p11p_prov_ctx *ctx; /* borrowed: lives as long as the provider */
    int type;                  /* EVP_PKEY_RSA, EVP_PKEY_EC, EVP_PKEY_ED25519 */
    bool on_token;             /* slot/handle are meaningful */
    CK_SLOT_ID slot;
    CK_OBJECT_CLASS cls;     /* CKO_PRIVATE_KEY or CKO_PUBLIC_KEY */
    CK_OBJECT_HANDLE handle; /* valid for epoch */
    unsigned long epoch;     /* module epoch the handle belongs to */
    unsigned char *id;       /* CKA_ID, owned */
    size_t id_len;
    char *label;    /* CKA_LABEL, owned, or NULL */
    char *uri;      /* display URI, owned, never a PIN */
    EVP_PKEY *pub;  /* public part, default provider; owned */
    EVP_PKEY *soft; /* in-memory private key, or NULL; owned */
};

/* Returns "RSA", "EC" or "ED25519". */
const char *p11p_prov_key_type_name(int type);

/* A new key object with one reference and nothing in it; NULL on failure. */
struct p11p_prov_key *p11p_prov_key_new(struct p11p_prov_ctx *ctx, int type);

/* Reference counting; unref is NULL-safe and frees on the last one. */
struct p11p_prov_key *p11p_prov_key_ref(struct p11p_prov_key *key);
void p11p_prov_key_unref(struct p11p_prov_key *key);

/* True if the key can sign/decrypt (a token private key or a soft key). */
bool p11p_prov_key_has_private(const struct p11p_prov_key *key);

/* Builds a key object for the token object handle (private or public key)
 * on slot, reading the public part from the object, its public-key twin or
 * its certificate (same CKA_ID). Returns CKR_OK and a new reference in out,
 * or raises. */
CK_RV p11p_prov_key_from_token(struct p11p_prov_ctx *ctx, CK_SLOT_ID slot,
                               CK_SESSION_HANDLE session,
                               CK_OBJECT_HANDLE handle,
                               struct p11p_prov_key **out);

/* Runs one single-part operation on the token: C_SignInit+C_Sign (sign
 * true) or C_DecryptInit+C_Decrypt with mech over in. *outlen is the size
 * of out on entry and the produced length on success. Logs in again with
 * a kept PIN after a fork when the module asks for it. Raises naming the
 * key URI and the CKR_ name. */
CK_RV p11p_prov_key_op(struct p11p_prov_key *key, bool sign, CK_MECHANISM *mech,
                       const unsigned char *in, size_t inlen,
                       unsigned char *out, size_t *outlen);

/* Reads an attribute into a new buffer (free with free()); CKR_OK and
 * *out NULL with *len 0 when it is empty. */
CK_RV p11p_prov_key_get_attr(CK_FUNCTION_LIST *fl, CK_SESSION_HANDLE session,
                             CK_OBJECT_HANDLE handle, CK_ATTRIBUTE_TYPE type,
                             unsigned char **out, size_t *len);

#endif

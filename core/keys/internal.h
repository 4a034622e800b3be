/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside core/keys/: the two vtables behind backend.h, and the base
 * structs that every backend embeds as its first member.
 *
 * Adding a backend (hsm, issue 5) takes three steps and touches nothing
 * else: write hsm.c defining `const struct p11p_keystore_backend
 * p11p_hsm_backend` and a `struct p11p_key_ops` for its keys; declare
 * p11p_hsm_backend below; replace the NULL in the "hsm" row of the table in
 * backend.c with &p11p_hsm_backend (and add hsm.c to CMakeLists.txt).
 *
 * Keystore: backend.c allocates nothing; the backend's open() returns its
 * own struct whose first member is a struct p11p_keystore, and backend.c
 * sets ks->backend. Every function of the vtable receives that pointer.
 * backend.c checks arguments for NULL before dispatching, so backends need
 * not; backends do their own locking (one mutex per keystore is enough).
 *
 * Keys: a backend's load()/generate() return structs whose first member is
 * a struct p11p_key with ops set and refs = 1; backend.c does ref/unref and
 * calls ops->free at zero. An operation (struct p11p_key_op) is likewise
 * the first member of the backend's op struct; backend.c frees an op of
 * another ops table before asking the key's ops for a new one, so op_init
 * only has to decide whether *inout (same ops) can be reused.
 */
#ifndef P11P_CORE_KEYS_INTERNAL_H
#define P11P_CORE_KEYS_INTERNAL_H

#include <stdatomic.h>

#include "core/keys/backend.h"

/* ---- keys ---- */

struct p11p_key_ops {
    /* Frees the backend key (refs reached 0); must free k itself. */
    void (*free)(struct p11p_key *k);
    /* Starts an operation; *inout is NULL or an op of these ops (possibly
     * of another key): reuse it or free it, and store the new one. */
    enum p11p_status (*op_init)(struct p11p_key *k, enum p11p_key_op_kind kind,
                                const CK_MECHANISM *mech,
                                struct p11p_key_op **inout);
    enum p11p_status (*op_update)(struct p11p_key_op *op,
                                  const unsigned char *in, size_t inlen);
    enum p11p_status (*op_final)(struct p11p_key_op *op, unsigned char *out,
                                 size_t *out_len);
    enum p11p_status (*op_oneshot)(struct p11p_key_op *op,
                                   const unsigned char *in, size_t inlen,
                                   unsigned char *out, size_t *out_len);
    size_t (*op_max_output)(const struct p11p_key_op *op);
    void (*op_free)(struct p11p_key_op *op);
};

struct p11p_key {
    const struct p11p_key_ops *ops;
    atomic_uint refs;
    EVP_PKEY *pub; /* public half, owned */
};

struct p11p_key_op {
    const struct p11p_key_ops *ops;
    struct p11p_key *key; /* a reference, owned by the op */
};

/* ---- keystores ---- */

struct p11p_keystore_backend {
    const char *name; /* conf key_backend value */
    /* Opens for one token; returns the backend struct (first member a
     * struct p11p_keystore). cache is borrowed. */
    enum p11p_status (*open)(const struct p11p_conf_token *conf,
                             struct p11p_cache *cache,
                             struct p11p_keystore **out);
    void (*close)(struct p11p_keystore *ks);   /* logout, wipe, free */
    void (*discard)(struct p11p_keystore *ks); /* after fork: forget */
    enum p11p_status (*info)(struct p11p_keystore *ks,
                             struct p11p_keystore_info *out);
    enum p11p_status (*init_token)(struct p11p_keystore *ks,
                                   const struct p11p_secret *so_pin,
                                   const char *label);
    enum p11p_status (*login)(struct p11p_keystore *ks,
                              enum p11p_cache_role role,
                              const struct p11p_secret *pin);
    void (*logout)(struct p11p_keystore *ks);
    bool (*is_logged_in)(struct p11p_keystore *ks, enum p11p_cache_role role);
    enum p11p_status (*init_pin)(struct p11p_keystore *ks,
                                 const struct p11p_secret *pin);
    enum p11p_status (*set_pin)(struct p11p_keystore *ks,
                                enum p11p_cache_role role,
                                const struct p11p_secret *old_pin,
                                const struct p11p_secret *new_pin);
    enum p11p_status (*generate)(struct p11p_keystore *ks,
                                 const struct p11p_keygen_spec *spec,
                                 EVP_PKEY **out_pub,
                                 struct p11p_cache_keyblob *out_blob);
    enum p11p_status (*import)(struct p11p_keystore *ks, EVP_PKEY *priv,
                               const struct p11p_keygen_spec *spec,
                               struct p11p_cache_keyblob *out_blob);
    enum p11p_status (*load)(struct p11p_keystore *ks,
                             const struct p11p_cache_keyblob *blob,
                             struct p11p_key **out);
    enum p11p_status (*destroy)(struct p11p_keystore *ks,
                                const struct p11p_cache_keyblob *blob);
};

struct p11p_keystore {
    const struct p11p_keystore_backend *backend; /* set by backend.c */
};

/* The rows of backend.c's table. */
extern const struct p11p_keystore_backend p11p_soft_backend;
extern const struct p11p_keystore_backend p11p_hsm_backend;

/* ---- evp_op.c: EVP operations on an in-memory private key ---- */

/* Key ops for keys held as a private EVP_PKEY (soft). The backend key
 * struct must be a struct p11p_evp_op_key. */
struct p11p_evp_op_key {
    struct p11p_key base;
    EVP_PKEY *priv;
    int alg; /* evp_op.c's algorithm of priv, found once (EVP_PKEY_is_a
                costs a name lookup on every sign init otherwise) */
};
extern const struct p11p_key_ops p11p_evp_op_key_ops;

/* Builds a key of p11p_evp_op_key_ops from a private key (takes priv on
 * success; derives the public half). refs = 1. */
enum p11p_status p11p_evp_op_key_new(EVP_PKEY *priv, struct p11p_key **out);

/* Verification with a public key (p11p_keyattrs_verify). */
enum p11p_status p11p_evp_op_verify(EVP_PKEY *pub, const CK_MECHANISM *mech,
                                    const unsigned char *data, size_t len,
                                    const unsigned char *sig, size_t sig_len);

/* ---- keyattrs.c ---- */

/* A public-only copy of pkey in the private libctx. */
enum p11p_status p11p_keyattrs_public_copy(EVP_PKEY *pkey, EVP_PKEY **out);

/* keystore.c: takes the pending hold of a generation or import (see
 * p11p_keystore_pending_done). */
void p11p_keystore_pending_hold(struct p11p_keystore *ks);

#endif

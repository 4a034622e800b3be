/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key backend seam (DESIGN.md "Key backends"): where private keys live
 * and are used. "soft" keeps keys in the cache sealed under a token master
 * key wrapped by the PIN (soft.c, seal.c); "hsm" keeps them inside a backing
 * PKCS#11 module (hsm.c, issue 5). The module and the tool call only this
 * header; the table of backends is in backend.c.
 *
 * Login state is per token (PKCS#11 semantics): one struct p11p_keystore per
 * open token holds it. A struct p11p_key is a private key ready for use,
 * loaded after login, shared by sessions, reference counted. A struct
 * p11p_key_op is one operation in progress (one per session), reusable for
 * the next operation on the same key.
 *
 * Threads: every function is thread-safe; ops on one struct p11p_key_op are
 * not (a session runs one operation at a time, the caller serialises).
 */
#ifndef P11P_CORE_KEYS_BACKEND_H
#define P11P_CORE_KEYS_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include "cache/cache.h"
#include "core/base/secret.h"
#include "core/base/status.h"
#include "core/conf/conf.h"

struct p11p_keystore;
struct p11p_key;
struct p11p_key_op;

/* What to generate. */
struct p11p_keygen_spec {
    CK_KEY_TYPE key_type;       /* CKK_RSA, CKK_EC, CKK_EC_EDWARDS */
    unsigned bits;              /* RSA: 2048, 3072, 4096 */
    int curve_nid;              /* EC: NID_X9_62_prime256v1, NID_secp384r1,
                                   NID_secp521r1; EdDSA: NID_ED25519 */
    unsigned long rsa_exponent; /* 0: 65537 */
    const unsigned char *ckaid; /* the CKA_ID p11portal exposes (hsm
                                   stores it on the backing object) */
    size_t ckaid_len;
    const char *label;
};

/* Login state of the token as the backend knows it. */
struct p11p_keystore_info {
    bool initialized;    /* C_InitToken done */
    bool user_pin_set;   /* C_InitPIN done */
    unsigned user_fails; /* consecutive wrong user PINs */
    unsigned so_fails;
    unsigned max_retries; /* 0 = unlimited */
    bool user_locked;
    bool so_locked;
};

/* Opens the backend named by conf->key_backend for one token. The cache is
 * borrowed and must outlive the keystore. */
enum p11p_status p11p_keystore_open(const struct p11p_conf_token *conf,
                                    struct p11p_cache *cache,
                                    struct p11p_keystore **out);
/* Logs out, wipes the master key and frees. NULL-safe. */
void p11p_keystore_close(struct p11p_keystore *ks);
/* After fork in the child: forgets without closing backend resources. */
void p11p_keystore_discard(struct p11p_keystore *ks);

/* The backend's name ("soft", "hsm"). */
const char *p11p_keystore_backend_name(const struct p11p_keystore *ks);

enum p11p_status p11p_keystore_info(struct p11p_keystore *ks,
                                    struct p11p_keystore_info *out);

/* C_InitToken: sets (or checks, when already initialised) the SO PIN, wipes
 * every object, key and order, and sets the label. P11P_ERR_AUTH on a wrong
 * SO PIN of an initialised token. */
enum p11p_status p11p_keystore_init_token(struct p11p_keystore *ks,
                                          const struct p11p_secret *so_pin,
                                          const char *label);

/* C_Login: P11P_ERR_AUTH (wrong PIN, counted), P11P_ERR_PIN_LOCKED,
 * P11P_ERR_NOT_FOUND (user PIN not initialised). After a successful user
 * login, keys can be loaded. */
enum p11p_status p11p_keystore_login(struct p11p_keystore *ks,
                                     enum p11p_cache_role role,
                                     const struct p11p_secret *pin);
/* C_Logout: drops loaded keys' secrets and the master key. */
void p11p_keystore_logout(struct p11p_keystore *ks);
bool p11p_keystore_is_logged_in(struct p11p_keystore *ks,
                                enum p11p_cache_role role);

/* C_InitPIN (SO logged in): sets the user PIN, keeping existing keys. */
enum p11p_status p11p_keystore_init_pin(struct p11p_keystore *ks,
                                        const struct p11p_secret *pin);
/* C_SetPIN for the logged-in role (or the user when nobody is logged in):
 * verifies old, re-wraps only the master key under new. */
enum p11p_status p11p_keystore_set_pin(struct p11p_keystore *ks,
                                       enum p11p_cache_role role,
                                       const struct p11p_secret *old_pin,
                                       const struct p11p_secret *new_pin);

/* Generates a key pair (user logged in). Returns the public key and the
 * blob to store with the private key object (same transaction as the
 * object and its order). */
enum p11p_status p11p_keystore_generate(struct p11p_keystore *ks,
                                        const struct p11p_keygen_spec *spec,
                                        EVP_PKEY **out_pub,
                                        struct p11p_cache_keyblob *out_blob);

/* Generated or imported keys are "pending" from p11p_keystore_generate /
 * p11p_keystore_import until the caller has committed the key's objects to
 * the cache (or given up): then it calls p11p_keystore_pending_done, once
 * per successful generate or import. Until then the hsm backend's adoption
 * (p11p_keystore_adopt, in any process) leaves the backing token's keys
 * alone, so a key being generated is never adopted as a foreign one. A
 * no-op for the soft backend. */
void p11p_keystore_pending_done(struct p11p_keystore *ks);

/* Imports an existing private key (tool import, issue 7) into a blob. */
enum p11p_status p11p_keystore_import(struct p11p_keystore *ks, EVP_PKEY *priv,
                                      const struct p11p_keygen_spec *spec,
                                      struct p11p_cache_keyblob *out_blob);

/* Loads a private key from its blob (user logged in; P11P_ERR_AUTH if
 * not). Returns a new reference; release with p11p_key_unref. */
enum p11p_status p11p_keystore_load(struct p11p_keystore *ks,
                                    const struct p11p_cache_keyblob *blob,
                                    struct p11p_key **out);

/* Removes backend material of a destroyed object (hsm: the backing object;
 * soft: nothing beyond the cache row). */
enum p11p_status p11p_keystore_destroy(struct p11p_keystore *ks,
                                       const struct p11p_cache_keyblob *blob);

/* hsm (issue 5): adds a private and a public key object (attributes as
 * keygen makes them, CKA_ID = the backing CKA_ID, with their blob) to cache
 * for every private key of the backing token that has no p11portal object
 * yet. Needs the user logged in (P11P_ERR_AUTH otherwise). *out_n: how many
 * were adopted. Other backends: a no-op, *out_n = 0. Implemented in
 * keystore.c. */
enum p11p_status p11p_keystore_adopt(struct p11p_keystore *ks,
                                     struct p11p_cache *cache, size_t *out_n);

/* hsm with hsm_write_certs = true: writes the DER certificate into the
 * backing token as a CKO_CERTIFICATE token object with CKA_ID ckaid and
 * CKA_LABEL label (both optional), unless it is already there. Otherwise
 * (and for other backends) a no-op returning P11P_OK. */
enum p11p_status p11p_keystore_store_cert(struct p11p_keystore *ks,
                                          const unsigned char *der, size_t len,
                                          const unsigned char *ckaid,
                                          size_t ckaid_len, const char *label);

struct p11p_key *p11p_key_ref(struct p11p_key *k);
void p11p_key_unref(struct p11p_key *k); /* NULL-safe */

/* The public half (borrowed, lives as long as k). */
EVP_PKEY *p11p_key_get0_public(const struct p11p_key *k);

/* ---- operations with a private key ---- */

enum p11p_key_op_kind {
    P11P_KEY_OP_SIGN,
    P11P_KEY_OP_DECRYPT,
};

/* Starts an operation with mech (one of the mechanisms of pkcs11/mech.c;
 * parameters already validated by the caller). *inout may hold a previous
 * op of this session: it is reused when possible (same key and mechanism
 * avoids building a new EVP context), else freed and replaced. */
enum p11p_status p11p_key_op_init(struct p11p_key *k,
                                  enum p11p_key_op_kind kind,
                                  const CK_MECHANISM *mech,
                                  struct p11p_key_op **inout);

/* Multi-part: feeds data (hashing mechanisms only; P11P_ERR_UNSUPPORTED
 * for raw ones, which the caller buffers). */
enum p11p_status p11p_key_op_update(struct p11p_key_op *op,
                                    const unsigned char *in, size_t inlen);

/* Finishes a multi-part operation. out must hold *out_len bytes (the
 * caller sizes it with p11p_key_op_max_output); *out_len is set to the
 * length written. */
enum p11p_status p11p_key_op_final(struct p11p_key_op *op, unsigned char *out,
                                   size_t *out_len);

/* One shot: the whole input at once. Same sizing rule. */
enum p11p_status p11p_key_op_oneshot(struct p11p_key_op *op,
                                     const unsigned char *in, size_t inlen,
                                     unsigned char *out, size_t *out_len);

/* Upper bound of the output (signature or plaintext) length. */
size_t p11p_key_op_max_output(const struct p11p_key_op *op);

void p11p_key_op_free(struct p11p_key_op *op); /* NULL-safe */

/* ---- public-key helpers, for any EVP_PKEY ---- */

/* Adds the public attributes of pkey to l: CKA_KEY_TYPE, CKA_MODULUS,
 * CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT (RSA); CKA_EC_PARAMS, CKA_EC_POINT
 * (EC and Ed25519, CKA_EC_POINT as a DER OCTET STRING); and
 * CKA_PUBLIC_KEY_INFO (SubjectPublicKeyInfo DER). */
enum p11p_status p11p_keyattrs_add_public(EVP_PKEY *pkey,
                                          struct p11p_attrlist *l);

/* The attributes a generated key pair's key object (klass CKO_PUBLIC_KEY
 * or CKO_PRIVATE_KEY, key type kt, generated by mechanism mech) gets where
 * l is silent: CKA_TOKEN true, CKA_PRIVATE (private key only), usage flags
 * (verify / sign; encrypt / decrypt for RSA), CKA_SENSITIVE true,
 * CKA_EXTRACTABLE false, ...; and always CKA_CLASS, CKA_KEY_TYPE,
 * CKA_LOCAL, CKA_KEY_GEN_MECHANISM, CKA_ALWAYS_SENSITIVE and
 * CKA_NEVER_EXTRACTABLE (private key). One table for C_GenerateKeyPair and
 * p11portal batch. */
enum p11p_status p11p_keyattrs_add_defaults(struct p11p_attrlist *l,
                                            CK_OBJECT_CLASS klass,
                                            CK_KEY_TYPE kt,
                                            CK_MECHANISM_TYPE mech);

/* Builds a public EVP_PKEY from such attributes. */
enum p11p_status p11p_keyattrs_to_public(const struct p11p_attrlist *l,
                                         EVP_PKEY **out);

/* SHA-1 of the public key as NSS computes CKA_ID (RSA: of the modulus;
 * EC/EdDSA: of the EC point, raw). out: 20 bytes. */
enum p11p_status p11p_keyattrs_default_id(EVP_PKEY *pkey,
                                          unsigned char out[20]);

/* SHA-256 of the SubjectPublicKeyInfo DER (orders, ledger matching). */
enum p11p_status p11p_keyattrs_spki_sha256(EVP_PKEY *pkey,
                                           unsigned char out[32]);

/* Verifies sig over data with a public key and a sign mechanism, the same
 * mechanism table as p11p_key_op_init. P11P_ERR_AUTH if the signature is
 * invalid. Multi-part verify: the pkcs11 layer accumulates input. */
enum p11p_status p11p_keyattrs_verify(EVP_PKEY *pub, const CK_MECHANISM *mech,
                                      const unsigned char *data, size_t len,
                                      const unsigned char *sig, size_t sig_len);

#endif

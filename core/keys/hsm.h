/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside core/keys/: the structs shared by the files of the hsm backend
 * (issue 5, docs/hsm.md): hsm.c (the keystore row p11p_hsm_backend: open,
 * login, PINs, info), hsm_key.c (key blobs, generation, loading, the
 * pass-through sign and decrypt operations), hsm_import.c (import),
 * hsm_adopt.c (adopting keys already in the backing token, writing
 * certificates to it), hsm_pin.c (PIN sources) and hsm_module.c.
 *
 * The key blob ("P1H1") is a reference into the backing token, never key
 * material:
 *   "P1H1" || key type (u32 BE) || id length (u16 BE) || backing CKA_ID
 *   || serial length (u8) || backing token serial
 *   || SPKI length (u16 BE) || SubjectPublicKeyInfo DER
 * The backing CKA_ID equals the CKA_ID p11portal shows whenever the
 * backing token lets us set it (see hsm_key.c); the blob is what counts.
 */
#ifndef P11P_CORE_KEYS_HSM_H
#define P11P_CORE_KEYS_HSM_H

#include <pthread.h>

#include "core/keys/hsm_module.h"
#include "core/keys/hsm_pin.h"
#include "core/keys/internal.h"
#include "core/keys/pin.h"

#define P11P_HSM_BLOB_MAGIC "P1H1"
#define P11P_HSM_MAX_ID     64

struct p11p_hsm_ks {
    struct p11p_keystore base;
    struct p11p_cache *cache;   /* borrowed */
    struct p11p_hsm_token *tok; /* one reference */
    char *pin_source;           /* NULL: pass-through */
    bool write_certs;
    struct p11p_pin pin; /* the soft verifier (PIN source mode) */
    pthread_mutex_t mu;  /* guards role and the login session */
    int role;            /* p11portal login: -1 none, else the role */
    bool has_login_sess; /* a backing session holds the login */
    CK_SESSION_HANDLE login_sess;
};

/* The decoded blob; spki points into the blob it was decoded from. */
struct p11p_hsm_ref {
    CK_KEY_TYPE key_type;
    unsigned char id[P11P_HSM_MAX_ID];
    size_t id_len;
    char serial[17];
    const unsigned char *spki;
    size_t spki_len;
};

/* Appends one attribute (type t, value pointer p, length l) to template
 * array arr at index n and increments n. The caller sizes arr. */
#define P11P_HSM_TMPL_ADD(arr, n, t, p, l) \
    do {                                   \
        (arr)[(n)].type = (t);             \
        (arr)[(n)].pValue = (void *)(p);   \
        (arr)[(n)].ulValueLen = (l);       \
        (n)++;                             \
    } while (0)

/* ---- hsm.c ---- */

/* Whether the user is logged in (p11portal's state). */
bool p11p_hsm_is_user(struct p11p_hsm_ks *ks);

/* ---- hsm_key.c ---- */

/* Encodes ref (with pub's SPKI) into a new "hsm" key blob. */
enum p11p_status p11p_hsm_key_blob_encode(const struct p11p_hsm_ref *ref,
                                          EVP_PKEY *pub,
                                          struct p11p_cache_keyblob *out);

/* Decodes a blob; P11P_ERR_CORRUPT (logged) if malformed. */
enum p11p_status p11p_hsm_key_blob_decode(const struct p11p_cache_keyblob *b,
                                          struct p11p_hsm_ref *out);

/* The single object of class with CKA_ID id in the backing token.
 * P11P_ERR_NOT_FOUND if none, P11P_ERR_CORRUPT (logged) if several. */
enum p11p_status p11p_hsm_key_find(struct p11p_hsm_token *t,
                                   CK_SESSION_HANDLE s, CK_OBJECT_CLASS klass,
                                   const unsigned char *id, size_t id_len,
                                   CK_OBJECT_HANDLE *out);

/* Reads the public key of a backing key object (RSA: CKA_MODULUS and
 * CKA_PUBLIC_EXPONENT; EC/EdDSA: CKA_EC_PARAMS and CKA_EC_POINT) into a new
 * EVP_PKEY (private libctx). */
enum p11p_status p11p_hsm_key_read_public(struct p11p_hsm_token *t,
                                          CK_SESSION_HANDLE s,
                                          CK_OBJECT_HANDLE h,
                                          CK_KEY_TYPE key_type, EVP_PKEY **out);

/* The key type and CKA_EC_PARAMS (named-curve OID DER) of an OpenSSL group
 * name ("prime256v1", "secp384r1", "secp521r1", "ED25519");
 * P11P_ERR_UNSUPPORTED for others. */
enum p11p_status p11p_hsm_key_curve_by_group(const char *group,
                                             CK_KEY_TYPE *key_type,
                                             const unsigned char **der,
                                             size_t *len);

enum p11p_status p11p_hsm_key_generate(struct p11p_hsm_ks *ks,
                                       const struct p11p_keygen_spec *spec,
                                       EVP_PKEY **out_pub,
                                       struct p11p_cache_keyblob *out_blob);
/* hsm_import.c */
enum p11p_status p11p_hsm_import_key(struct p11p_hsm_ks *ks, EVP_PKEY *priv,
                                     const struct p11p_keygen_spec *spec,
                                     struct p11p_cache_keyblob *out_blob);
enum p11p_status p11p_hsm_key_load(struct p11p_hsm_ks *ks,
                                   const struct p11p_cache_keyblob *blob,
                                   struct p11p_key **out);
enum p11p_status p11p_hsm_key_destroy(struct p11p_hsm_ks *ks,
                                      const struct p11p_cache_keyblob *blob);

/* ---- hsm_adopt.c (behind p11p_keystore_adopt/_store_cert) ---- */

enum p11p_status p11p_hsm_adopt_keys(struct p11p_hsm_ks *ks,
                                     struct p11p_cache *cache, size_t *out_n);
enum p11p_status p11p_hsm_adopt_store_cert(struct p11p_hsm_ks *ks,
                                           const unsigned char *der, size_t len,
                                           const unsigned char *ckaid,
                                           size_t ckaid_len, const char *label);

#endif

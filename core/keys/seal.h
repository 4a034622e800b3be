/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealing for the soft backend (DESIGN.md "Key backends"): the PIN-derived
 * key (PBKDF2-HMAC-SHA256), the token master key wrapped under it, and
 * private keys sealed under the master key. All AES-256-GCM with a random
 * 96-bit IV; the additional data binds each ciphertext to what it is (a
 * master key record of one role, or a key blob of one format), so a record
 * cannot be moved to another place undetected.
 *
 * Formats (stored in the cache; never change, add a version instead):
 *   wrapped master key: iv(12) || ciphertext(32) || tag(16)
 *     AAD = "p11portal master v1" || role (1 byte) || iterations (u32 BE)
 *           || salt
 *   key blob: "P1K1" || iv(12) || ciphertext || tag(16), the plaintext
 *     being the PKCS#8 DER of the private key; AAD = "p11portal key v1"
 *     || "P1K1"
 * Plaintexts live only in struct p11p_secret and are wiped after use.
 */
#ifndef P11P_CORE_KEYS_SEAL_H
#define P11P_CORE_KEYS_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "cache/cache.h"
#include "core/base/secret.h"
#include "core/base/status.h"

#define P11P_SEAL_KEY_LEN  32 /* master key and PIN-derived key */
#define P11P_SEAL_SALT_LEN 16 /* fresh for every PIN set */
#define P11P_SEAL_KDF      "pbkdf2-sha256"

/* Derives the 32-byte key-encryption key from a PIN. Returns a new secret
 * in *out. */
enum p11p_status p11p_seal_derive(const struct p11p_secret *pin,
                                  const unsigned char *salt, size_t salt_len,
                                  uint32_t iterations,
                                  struct p11p_secret **out);

/* Fills a new random master key. */
enum p11p_status p11p_seal_new_master(struct p11p_secret **out);

/* Wraps master under a PIN into a complete auth record of role (new random
 * salt; fail_count 0). Slow: runs the KDF. Free out with
 * p11p_cache_auth_clear. */
enum p11p_status p11p_seal_wrap_master(const struct p11p_secret *master,
                                       const struct p11p_secret *pin,
                                       enum p11p_cache_role role,
                                       uint32_t iterations,
                                       struct p11p_cache_auth *out);

/* Unwraps the master key of an auth record with a PIN. P11P_ERR_AUTH if the
 * PIN is wrong (the tag does not verify); P11P_ERR_CORRUPT if the record
 * is malformed. Slow: runs the KDF. */
enum p11p_status p11p_seal_unwrap_master(const struct p11p_cache_auth *a,
                                         const struct p11p_secret *pin,
                                         struct p11p_secret **out);

/* Seals a private key under master into a "soft" key blob (out->blob is a
 * new buffer; free with p11p_cache_keyblob_clear). */
enum p11p_status p11p_seal_key(const struct p11p_secret *master, EVP_PKEY *priv,
                               struct p11p_cache_keyblob *out);

/* Unseals a "soft" key blob into a new private EVP_PKEY (private libctx).
 * P11P_ERR_CORRUPT if the blob was altered or sealed under another master
 * key (logged). */
enum p11p_status p11p_seal_unseal_key(const struct p11p_secret *master,
                                      const unsigned char *blob,
                                      size_t blob_len, EVP_PKEY **out);

/* Low level: AES-256-GCM of pt under key32 with aad. *out is a new buffer
 * iv || ct || tag. */
enum p11p_status p11p_seal_encrypt(const unsigned char *key32,
                                   const unsigned char *aad, size_t aad_len,
                                   const unsigned char *pt, size_t pt_len,
                                   unsigned char **out, size_t *out_len);

/* The reverse; P11P_ERR_AUTH if the tag does not verify, P11P_ERR_CORRUPT
 * if in is too short. *out is a new secret. */
enum p11p_status p11p_seal_decrypt(const unsigned char *key32,
                                   const unsigned char *aad, size_t aad_len,
                                   const unsigned char *in, size_t in_len,
                                   struct p11p_secret **out);

#endif

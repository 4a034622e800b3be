/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#10 certificate requests, built with OpenSSL and signed through the
 * key backend's operation interface (never with an exported private key:
 * the hsm backend cannot export). The CertificationRequestInfo is encoded
 * with i2d_re_X509_REQ_tbs, signed with a PKCS#11 mechanism
 * (CKM_SHA256_RSA_PKCS, CKM_ECDSA_SHA256/384/512, CKM_EDDSA), and the
 * signature (ECDSA r||s converted to DER) is set back into the request.
 *
 * Subject syntax: "CN=a,O=b" or "/CN=a/O=b", attributes in the order
 * written (a backslash escapes ',', '/', '=' and '\'). SANs: OpenSSL's
 * "DNS:x,IP:1.2.3.4,email:y,URI:z", sent as an extension request.
 * All crypto uses p11p_ossl_libctx().
 */
#ifndef P11P_CORE_ENROLL_CSR_H
#define P11P_CORE_ENROLL_CSR_H

#include <stddef.h>

#include <openssl/types.h>
#include <p11-kit/pkcs11.h>

#include "core/base/status.h"
#include "core/keys/backend.h"

/* Signs tbs with mech; sig holds *sig_len bytes, set to the length
 * written. */
typedef enum p11p_status (*p11p_csr_sign_fn)(void *ctx,
                                             const CK_MECHANISM *mech,
                                             const unsigned char *tbs,
                                             size_t tbs_len, unsigned char *sig,
                                             size_t *sig_len);

/* Builds a DER CSR for the public key pub, signed by sign(ctx, ...).
 * P11P_ERR_INVALID_INPUT (logged, naming the part) for a bad subject or SAN
 * string. *out is a new buffer (free()). */
enum p11p_status p11p_csr_build_with(EVP_PKEY *pub, const char *subject,
                                     const char *sans, p11p_csr_sign_fn sign,
                                     void *ctx, unsigned char **out,
                                     size_t *out_len);

/* The same, signed with a loaded backend key (its public half is used). */
enum p11p_status p11p_csr_build(struct p11p_key *key, const char *subject,
                                const char *sans, unsigned char **out,
                                size_t *out_len);

/* Parses a subject string into a new X509_NAME (X509_NAME_free). */
enum p11p_status p11p_csr_parse_subject(const char *subject, X509_NAME **out);

/* Parses a DER CSR and checks its signature. Returns its public key (new
 * reference) and its subject in OpenSSL one-line form "/CN=a/O=b" (new
 * string, may be NULL if not wanted). P11P_ERR_INVALID_INPUT if the CSR is
 * malformed or its signature is wrong. */
enum p11p_status p11p_csr_inspect(const unsigned char *der, size_t len,
                                  EVP_PKEY **out_pub, char **out_subject);

#endif

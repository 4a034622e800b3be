/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks on an issued certificate before it is stored (DESIGN.md
 * "Enrollment" step 4): its public key is the key's (SubjectPublicKeyInfo
 * DER compared), and it chains to the token's trust anchors, with
 * X509_STORE in p11p_ossl_libctx(). Anchors: given as DER (the local
 * driver's trust()), else the PEM file conf->trust_anchors, else the
 * chain's own self-signed root, with a warning that no anchor is pinned.
 */
#ifndef P11P_CORE_ENROLL_VERIFY_H
#define P11P_CORE_ENROLL_VERIFY_H

#include <stddef.h>

#include <openssl/types.h>

#include "core/base/status.h"

/* A list of DER certificates (borrowed). */
struct p11p_verify_ders {
    unsigned char *const *der;
    const size_t *len;
    size_t n;
};

/* P11P_OK if the certificate's SubjectPublicKeyInfo equals spki (DER);
 * P11P_ERR_PROTOCOL if not or if cert is not a certificate. Not logged. */
enum p11p_status p11p_verify_key_match(const unsigned char *cert,
                                       size_t cert_len,
                                       const unsigned char *spki,
                                       size_t spki_len);

/* P11P_OK if cert verifies through chain (untrusted intermediates) to one
 * of anchors, or to the certificates of anchors_file (PEM) when anchors is
 * empty, or else to the self-signed root found in chain (warning logged,
 * token named). P11P_ERR_PROTOCOL with why (a human reason) otherwise. */
enum p11p_status p11p_verify_chain(const char *token, const unsigned char *cert,
                                   size_t cert_len,
                                   const struct p11p_verify_ders *chain,
                                   const struct p11p_verify_ders *anchors,
                                   const char *anchors_file, char *why,
                                   size_t why_size);

#endif

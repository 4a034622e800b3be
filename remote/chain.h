/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate chains from portal replies: PEM sequences (any order), PEM or
 * DER PKCS#7 bundles, and single DER certificates. The order is normalised
 * by issuer and subject, never assumed (PORTALS.md §1.4.4: Sectigo serves
 * root first; §2.5: DigiCert leaf first): the leaf is the one certificate
 * that issued no other, then each next certificate is the issuer of the one
 * before. Used by both portal drivers; fuzzed by tests/fuzz/fuzz_pem_chain.c.
 */
#ifndef P11P_REMOTE_CHAIN_H
#define P11P_REMOTE_CHAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/base/status.h"
#include "remote/driver.h"

/* The most certificates a chain may hold. */
#define P11P_CHAIN_MAX 16

/*
 * Parses data (len bytes: PEM text with CERTIFICATE and/or PKCS7 blocks, or
 * DER of a certificate or a PKCS#7) and stores the leaf in res->cert_der
 * and its issuers, leaf's issuer first, in res's chain. If expect_spki_sha256
 * is not NULL, the leaf's SubjectPublicKeyInfo must hash to it (else
 * P11P_ERR_PROTOCOL, "certificate for a different key"). P11P_ERR_PROTOCOL
 * with a reason in why for no certificate, garbage, more than one leaf,
 * more than P11P_CHAIN_MAX certificates. res must be empty of certificates.
 */
enum p11p_status p11p_chain_parse(const unsigned char *data, size_t len,
                                  const unsigned char *expect_spki_sha256,
                                  struct p11p_remote_result *res, char *why,
                                  size_t whysz);

/* SHA-256 of the SubjectPublicKeyInfo of a DER certificate. */
enum p11p_status p11p_chain_cert_spki_sha256(const unsigned char *der,
                                             size_t len, unsigned char out[32]);

/* Upper-case hex serial of a DER certificate (no colons) into out. */
enum p11p_status p11p_chain_cert_serial(const unsigned char *der, size_t len,
                                        char *out, size_t outsz);

/* The key of a DER PKCS#10 CSR: algorithm ("RSA", "EC", "ED25519",
 * "ED448"), parameter ("2048", "P-256", ""), and the SHA-256 of its
 * SubjectPublicKeyInfo. P11P_ERR_INVALID_INPUT for an undecodable CSR. */
enum p11p_status p11p_chain_csr_key(const unsigned char *der, size_t len,
                                    char alg[16], char param[16],
                                    unsigned char spki_sha256[32]);

/* Base64 of der into a new string: PEM with "CERTIFICATE REQUEST" armour
 * and 64-column lines (pem true) or one bare line (pem false). */
enum p11p_status p11p_chain_csr_encode(const unsigned char *der, size_t len,
                                       bool pem, char **out);

#endif

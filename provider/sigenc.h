/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Encodings on the signing path, without allocations: the DER DigestInfo
 * of PKCS#1 v1.5 (RFC 8017, 9.2) from a table of prefixes, and the DER
 * ECDSA-Sig-Value (RFC 3279, 2.2.3) from the raw r||s that CKM_ECDSA
 * returns (PKCS#11 3.0, 2.3.1).
 */
#ifndef P11P_PROVIDER_SIGENC_H
#define P11P_PROVIDER_SIGENC_H

#include <stdbool.h>
#include <stddef.h>

/* Writes DigestInfo(digest nid, dgst) into out (outsize bytes); returns
 * its length, or 0 if the digest is not in the table (the caller then
 * encodes it generically) or out is too small. */
size_t p11p_prov_sigenc_digest_info(int md_nid, const unsigned char *dgst,
                                    size_t dgstlen, unsigned char *out,
                                    size_t outsize);

/* Encodes raw r||s (rawlen even, at most 2 * 66 bytes) as a DER
 * SEQUENCE { INTEGER r, INTEGER s } into out; false if rawlen is odd or
 * too long, or out is too small. */
bool p11p_prov_sigenc_ecdsa_der(const unsigned char *raw, size_t rawlen,
                                unsigned char *out, size_t outsize,
                                size_t *outlen);

#endif

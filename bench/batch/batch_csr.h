/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key generation and PKCS#10 requests for the batch benchmark
 * (bench/batch/run.sh): what one device of a batch costs the machine, with
 * plain libcrypto and no token. EC P-256 requests get their
 * SubjectPublicKeyInfo filled from the encoded point (the fast path of
 * DESIGN.md "Performance budget"; X509_REQ_set_pubkey runs OpenSSL 3.0's
 * encoder machinery, ~20x slower); RSA keys take X509_REQ_set_pubkey (key
 * generation dominates there). Not project code: a bench helper.
 */
#ifndef P11P_BENCH_BATCH_CSR_H
#define P11P_BENCH_BATCH_CSR_H

#include <stddef.h>

#include <openssl/types.h>

/* The key types of the bench. */
enum batch_key_type {
    BATCH_KEY_EC_P256,
    BATCH_KEY_RSA_2048,
};

/* Parses "ec" or "rsa"; returns 0, or -1 for anything else. */
int batch_key_type_parse(const char *s, enum batch_key_type *out);

/* A key generator (one per thread: an EVP_PKEY_CTX ready for keygen). */
struct batch_keygen;

/* A new generator for type; NULL (message on stderr) on failure. */
struct batch_keygen *batch_keygen_new(enum batch_key_type type);

/* Frees g (NULL-safe). */
void batch_keygen_free(struct batch_keygen *g);

/* Generates one key pair and a signed CSR with subject CN=cn. On success
 * returns 0 and sets *der / *der_len to the DER request (OPENSSL_free);
 * -1 otherwise (message on stderr). */
int batch_keygen_csr(struct batch_keygen *g, const char *cn,
                     unsigned char **der, size_t *der_len);

#endif

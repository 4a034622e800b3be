/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The embedded CA hierarchy of the local driver: a root CA (ECDSA P-384)
 * and an issuing intermediate (ECDSA P-256), created on first use in
 * <data_dir>/<token>.ca/ (folder 0700, keys 0600, each file written to a
 * temporary name and renamed). Creation runs under an flock on
 * <dir>/.lock, so two processes creating at once agree on one CA. All
 * crypto uses p11p_ossl_libctx().
 *
 * Leaf certificates take subject and subjectAltName from the CSR (after
 * checking its signature), get a random 16-byte serial, keyUsage by key type
 * (EC/EdDSA: digitalSignature; RSA: digitalSignature, keyEncipherment),
 * extendedKeyUsage serverAuth + clientAuth, SKI/AKI, basicConstraints
 * CA:FALSE, and term_days of validity (default 365).
 *
 * Threads: a loaded struct p11p_local_ca is read-only and may be shared.
 */
#ifndef P11P_REMOTE_LOCAL_LOCAL_CA_H
#define P11P_REMOTE_LOCAL_LOCAL_CA_H

#include <stddef.h>

#include "core/base/status.h"

struct p11p_local_ca;

/* Loads the CA kept in dir (an absolute folder path), creating the folder
 * and the hierarchy if absent. name goes into the CA subjects. Returns a new
 * CA in *out; free with p11p_local_ca_free. */
enum p11p_status p11p_local_ca_open(const char *dir, const char *name,
                                    struct p11p_local_ca **out);
void p11p_local_ca_free(struct p11p_local_ca *ca); /* NULL-safe */

/* Issues a leaf for a DER CSR. P11P_ERR_REJECTED (logged) if the CSR does
 * not parse or its signature is wrong. *out_der is a new buffer (free()). */
enum p11p_status p11p_local_ca_issue(struct p11p_local_ca *ca,
                                     const unsigned char *csr_der,
                                     size_t csr_len, unsigned term_days,
                                     unsigned char **out_der, size_t *out_len);

/* Borrowed DER of the issuing intermediate and of the root. */
void p11p_local_ca_get0_chain(const struct p11p_local_ca *ca,
                              const unsigned char **inter_der,
                              size_t *inter_len, const unsigned char **root_der,
                              size_t *root_len);

/* Takes an exclusive flock on <dir>/.lock (creating it, mode 0600);
 * returns the descriptor in *out_fd. Unlock with p11p_local_ca_unlock. */
enum p11p_status p11p_local_ca_lock(const char *dir, int *out_fd);
void p11p_local_ca_unlock(int fd); /* -1 is ignored */

/* Writes len bytes to path atomically (temporary file in the same folder,
 * fsync, rename), mode 0600. */
enum p11p_status p11p_local_ca_write_file(const char *path, const void *data,
                                          size_t len);

/* Reads a whole small file (at most 1 MiB) into a new NUL-terminated
 * buffer. P11P_ERR_NOT_FOUND if absent. */
enum p11p_status p11p_local_ca_read_file(const char *path, unsigned char **out,
                                         size_t *out_len);

#endif

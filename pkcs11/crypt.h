/* SPDX-License-Identifier: Apache-2.0 */
/*
 * State shared by the private- and public-key operations of sign.c and
 * decrypt.c: starting an operation on a key of the loaded-key map (checks
 * of mechanism, key type, key size and usage flag), the input buffer of
 * raw and verify operations, and the output size-query protocol.
 */
#ifndef P11P_PKCS11_CRYPT_H
#define P11P_PKCS11_CRYPT_H

#include <stdbool.h>
#include <stddef.h>

#include "pkcs11/mech.h"
#include "pkcs11/pkcs11-3.h"
#include "pkcs11/session.h"

/* C_SignInit and C_DecryptInit: begins the session's operation slot
 * (P11P_OP_SIGN or P11P_OP_DECRYPT) and starts op on private key handle
 * for kind (P11P_MECH_SIGN or P11P_MECH_DECRYPT): mechanism and parameters
 * checked, key from the token's map (CKR_KEY_HANDLE_INVALID,
 * CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_SIZE_RANGE,
 * CKR_KEY_FUNCTION_NOT_PERMITTED), backend operation initialised (reusing
 * op->kop). On failure the slot is ended again. Takes s->lock. */
CK_RV p11p_crypt_op_init_private(struct p11p_session *s, enum p11p_op_kind slot,
                                 struct p11p_crypt_op *op,
                                 const CK_MECHANISM *mech, CK_OBJECT_HANDLE key,
                                 enum p11p_mech_op kind);

/* Copies the mechanism and its parameters into op (pointer fixed up). */
CK_RV p11p_crypt_op_set_mech(struct p11p_crypt_op *op,
                             const struct p11p_mech *m,
                             const CK_MECHANISM *mech);

/* Appends input to op's buffer (bounded: CKR_DATA_LEN_RANGE past 16 MiB). */
CK_RV p11p_crypt_op_append(struct p11p_crypt_op *op, const CK_BYTE *data,
                           CK_ULONG len);

/* True if the op still belongs to the current login (no logout since). */
bool p11p_crypt_op_is_current(const struct p11p_session *s,
                              const struct p11p_crypt_op *op);

/* Ends an operation: drops the key reference and public key, empties the
 * buffer; keeps op->kop and the buffer's memory for the next one. */
void p11p_crypt_op_reset(struct p11p_crypt_op *op);

/* Frees everything (session close). NULL-safe. */
void p11p_crypt_op_free(struct p11p_crypt_op *op);

/* The output size protocol (2.40 section 5.2): out NULL -> *out_len = need,
 * CKR_OK; *out_len < need -> *out_len = need, CKR_BUFFER_TOO_SMALL; else
 * CKR_OK (the caller writes and sets the real length). */
CK_RV p11p_crypt_output_check(CK_BYTE_PTR out, CK_ULONG_PTR out_len,
                              size_t need);

/* True if an output call with this result ends the operation: everything
 * but a length query (out NULL, CKR_OK) and CKR_BUFFER_TOO_SMALL. */
bool p11p_crypt_output_ends_op(CK_RV rv, const CK_BYTE *out);

#endif

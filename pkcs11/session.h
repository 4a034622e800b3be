/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session table and per-session state: handles, RO/RW, one active
 * operation slot per kind with the CKR_OPERATION_ACTIVE and
 * CKR_OPERATION_NOT_INITIALIZED checks (written only here),
 * C_GetSessionInfo with ulDeviceError = the session's last core status.
 */
#ifndef P11P_PKCS11_SESSION_H
#define P11P_PKCS11_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "core/base/status.h"
#include "core/keys/backend.h"
#include "pkcs11/mech.h"
#include "pkcs11/pkcs11-3.h"
#include "pkcs11/slot.h"

enum p11p_op_kind {
    P11P_OP_FIND,
    P11P_OP_SIGN,
    P11P_OP_VERIFY,
    P11P_OP_DECRYPT,
    P11P_OP_DIGEST,
    P11P_OP_COUNT,
};

/* A sign, verify or decrypt operation (sign.c, decrypt.c). */
struct p11p_crypt_op {
    const struct p11p_mech *mech;
    CK_MECHANISM mechanism; /* pParameter points at param below */
    union {
        CK_RSA_PKCS_PSS_PARAMS pss;
        CK_RSA_PKCS_OAEP_PARAMS oaep;
    } param;
    struct p11p_key_op *kop; /* kept across operations (reused) */
    struct p11p_key *key;    /* reference held while active */
    EVP_PKEY *pub;           /* verify: the public key */
    unsigned long epoch;     /* token login epoch at init */
    size_t modulus_bytes;
    bool multipart;     /* an Update was called */
    unsigned char *buf; /* raw/verify: accumulated input */
    size_t buf_len;
    size_t buf_alloc;
};

struct p11p_session {
    CK_SESSION_HANDLE handle;
    struct p11p_token *token; /* borrowed */
    CK_FLAGS flags;           /* CKF_SERIAL_SESSION [| CKF_RW_SESSION] */
    atomic_int refs;
    atomic_int last_status; /* enum p11p_status, for ulDeviceError */
    pthread_mutex_t lock;   /* session lock: everything below */
    bool active[P11P_OP_COUNT];
    /* find.c */
    int64_t *find_ids;
    size_t find_n;
    size_t find_pos;
    /* sign.c, decrypt.c */
    struct p11p_crypt_op sign;
    struct p11p_crypt_op verify;
    struct p11p_crypt_op decrypt;
    /* digest.c */
    EVP_MD_CTX *md;
};

/* C_OpenSession: CKR_SESSION_PARALLEL_NOT_SUPPORTED without
 * CKF_SERIAL_SESSION; CKR_SESSION_READ_WRITE_SO_EXISTS for RO with SO. */
CK_RV p11p_session_open(CK_SLOT_ID slot, CK_FLAGS flags,
                        CK_SESSION_HANDLE_PTR out);
/* C_CloseSession (the gate's reference is dropped by the gate). Closing
 * the token's last session logs it out. */
CK_RV p11p_session_close(struct p11p_session *s);
CK_RV p11p_session_close_all(CK_SLOT_ID slot);
CK_RV p11p_session_get_info(struct p11p_session *s, CK_SESSION_INFO_PTR info);
/* C_SessionCancel: ends the operations named in flags (CKF_SIGN, ...). */
CK_RV p11p_session_cancel(struct p11p_session *s, CK_FLAGS flags);

/* Looks a handle up under the module lock and returns a new reference, or
 * NULL. */
struct p11p_session *p11p_session_lookup(CK_SESSION_HANDLE h);
void p11p_session_unref(struct p11p_session *s); /* NULL-safe */

/* Frees every session of the table (C_Finalize, or discard after fork).
 * Caller holds the module lock. */
void p11p_session_free_all_locked(bool discard);

bool p11p_session_is_rw(const struct p11p_session *s);

/* Records the last core status (ulDeviceError). */
void p11p_session_set_status(struct p11p_session *s, enum p11p_status st);

/* Operation slots; caller holds s->lock. begin: CKR_OPERATION_ACTIVE if
 * one of that kind is active, else marks it. require:
 * CKR_OPERATION_NOT_INITIALIZED unless active. end: releases the state of
 * that kind and clears the mark. */
CK_RV p11p_session_op_begin(struct p11p_session *s, enum p11p_op_kind kind);
CK_RV p11p_session_op_require(const struct p11p_session *s,
                              enum p11p_op_kind kind);
void p11p_session_op_end(struct p11p_session *s, enum p11p_op_kind kind);

#endif

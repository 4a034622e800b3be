/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The core status enum. One X-macro list names every failure, its text and
 * its default CK_RV (STYLE.md 3.5). The core (cache, keys, enroll, remote,
 * tools) speaks only in these; pkcs11/ckr.c translates them to CK_RV once.
 * "Pending" is not an error: an enrollment result says it.
 */
#ifndef P11P_CORE_BASE_STATUS_H
#define P11P_CORE_BASE_STATUS_H

#include <p11-kit/pkcs11.h>

/* X(name, default CK_RV, text) */
#define P11P_STATUS_LIST(X)                                                   \
    X(OK, CKR_OK, "success")                                                  \
    X(ERR_NOMEM, CKR_HOST_MEMORY, "out of memory")                            \
    X(ERR_INVALID_INPUT, CKR_ARGUMENTS_BAD, "invalid input")                  \
    X(ERR_CONFIG, CKR_FUNCTION_FAILED, "configuration error")                 \
    X(ERR_IO, CKR_DEVICE_ERROR, "input/output error")                         \
    X(ERR_CORRUPT, CKR_DEVICE_ERROR, "corrupt data")                          \
    X(ERR_BUSY, CKR_FUNCTION_FAILED, "busy")                                  \
    X(ERR_AUTH, CKR_PIN_INCORRECT, "authentication failed")                   \
    X(ERR_PIN_LOCKED, CKR_PIN_LOCKED, "PIN locked")                           \
    X(ERR_NOT_FOUND, CKR_OBJECT_HANDLE_INVALID, "not found")                  \
    X(ERR_EXISTS, CKR_FUNCTION_FAILED, "already exists")                      \
    X(ERR_UNSUPPORTED, CKR_FUNCTION_NOT_SUPPORTED, "not supported")           \
    X(ERR_CRYPTO, CKR_FUNCTION_FAILED, "cryptographic operation failed")      \
    X(ERR_NOT_SENT, CKR_FUNCTION_FAILED, "request not sent (safe to retry)")  \
    X(ERR_SENT_UNKNOWN, CKR_FUNCTION_FAILED,                                  \
      "request outcome unknown (reconcile before retrying)")                  \
    X(ERR_REJECTED, CKR_FUNCTION_FAILED, "rejected by the portal")            \
    X(ERR_PORTAL_AUTH, CKR_FUNCTION_FAILED, "portal refused the credentials") \
    X(ERR_RATE_LIMITED, CKR_FUNCTION_FAILED, "rate limited by the portal")    \
    X(ERR_PROTOCOL, CKR_FUNCTION_FAILED, "malformed or untrusted reply")      \
    X(ERR_EXHAUSTED, CKR_FUNCTION_FAILED, "range or quota exhausted")         \
    X(ERR_INTERNAL, CKR_GENERAL_ERROR, "internal error")

enum p11p_status {
#define P11P_STATUS_ENUM(name, ckr, text) P11P_##name,
    P11P_STATUS_LIST(P11P_STATUS_ENUM)
#undef P11P_STATUS_ENUM
    P11P_STATUS_COUNT
};

/* Returns the symbolic name ("ERR_NOMEM"); never NULL. */
const char *p11p_status_name(enum p11p_status st);

/* Returns the human text ("out of memory"); never NULL. */
const char *p11p_status_text(enum p11p_status st);

/* Returns the default CK_RV for a status (pkcs11/ckr.c may override). */
CK_RV p11p_status_default_ckr(enum p11p_status st);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one place where a core status becomes a CK_RV (STYLE.md 3.5), and
 * the table of PKCS#11 functions: each one's name and the return codes the
 * spec allows for it (checked by the gate in debug builds).
 */
#ifndef P11P_PKCS11_CKR_H
#define P11P_PKCS11_CKR_H

#include <stdbool.h>

#include "core/base/status.h"
#include "pkcs11/pkcs11-3.h"

/* Every entry point, in function-list order. X(enum suffix, C name). */
#define P11P_FN_LIST(X)                             \
    X(INITIALIZE, C_Initialize)                     \
    X(FINALIZE, C_Finalize)                         \
    X(GET_INFO, C_GetInfo)                          \
    X(GET_FUNCTION_LIST, C_GetFunctionList)         \
    X(GET_SLOT_LIST, C_GetSlotList)                 \
    X(GET_SLOT_INFO, C_GetSlotInfo)                 \
    X(GET_TOKEN_INFO, C_GetTokenInfo)               \
    X(GET_MECHANISM_LIST, C_GetMechanismList)       \
    X(GET_MECHANISM_INFO, C_GetMechanismInfo)       \
    X(INIT_TOKEN, C_InitToken)                      \
    X(INIT_PIN, C_InitPIN)                          \
    X(SET_PIN, C_SetPIN)                            \
    X(OPEN_SESSION, C_OpenSession)                  \
    X(CLOSE_SESSION, C_CloseSession)                \
    X(CLOSE_ALL_SESSIONS, C_CloseAllSessions)       \
    X(GET_SESSION_INFO, C_GetSessionInfo)           \
    X(GET_OPERATION_STATE, C_GetOperationState)     \
    X(SET_OPERATION_STATE, C_SetOperationState)     \
    X(LOGIN, C_Login)                               \
    X(LOGOUT, C_Logout)                             \
    X(CREATE_OBJECT, C_CreateObject)                \
    X(COPY_OBJECT, C_CopyObject)                    \
    X(DESTROY_OBJECT, C_DestroyObject)              \
    X(GET_OBJECT_SIZE, C_GetObjectSize)             \
    X(GET_ATTRIBUTE_VALUE, C_GetAttributeValue)     \
    X(SET_ATTRIBUTE_VALUE, C_SetAttributeValue)     \
    X(FIND_OBJECTS_INIT, C_FindObjectsInit)         \
    X(FIND_OBJECTS, C_FindObjects)                  \
    X(FIND_OBJECTS_FINAL, C_FindObjectsFinal)       \
    X(ENCRYPT_INIT, C_EncryptInit)                  \
    X(ENCRYPT, C_Encrypt)                           \
    X(ENCRYPT_UPDATE, C_EncryptUpdate)              \
    X(ENCRYPT_FINAL, C_EncryptFinal)                \
    X(DECRYPT_INIT, C_DecryptInit)                  \
    X(DECRYPT, C_Decrypt)                           \
    X(DECRYPT_UPDATE, C_DecryptUpdate)              \
    X(DECRYPT_FINAL, C_DecryptFinal)                \
    X(DIGEST_INIT, C_DigestInit)                    \
    X(DIGEST, C_Digest)                             \
    X(DIGEST_UPDATE, C_DigestUpdate)                \
    X(DIGEST_KEY, C_DigestKey)                      \
    X(DIGEST_FINAL, C_DigestFinal)                  \
    X(SIGN_INIT, C_SignInit)                        \
    X(SIGN, C_Sign)                                 \
    X(SIGN_UPDATE, C_SignUpdate)                    \
    X(SIGN_FINAL, C_SignFinal)                      \
    X(SIGN_RECOVER_INIT, C_SignRecoverInit)         \
    X(SIGN_RECOVER, C_SignRecover)                  \
    X(VERIFY_INIT, C_VerifyInit)                    \
    X(VERIFY, C_Verify)                             \
    X(VERIFY_UPDATE, C_VerifyUpdate)                \
    X(VERIFY_FINAL, C_VerifyFinal)                  \
    X(VERIFY_RECOVER_INIT, C_VerifyRecoverInit)     \
    X(VERIFY_RECOVER, C_VerifyRecover)              \
    X(DIGEST_ENCRYPT_UPDATE, C_DigestEncryptUpdate) \
    X(DECRYPT_DIGEST_UPDATE, C_DecryptDigestUpdate) \
    X(SIGN_ENCRYPT_UPDATE, C_SignEncryptUpdate)     \
    X(DECRYPT_VERIFY_UPDATE, C_DecryptVerifyUpdate) \
    X(GENERATE_KEY, C_GenerateKey)                  \
    X(GENERATE_KEY_PAIR, C_GenerateKeyPair)         \
    X(WRAP_KEY, C_WrapKey)                          \
    X(UNWRAP_KEY, C_UnwrapKey)                      \
    X(DERIVE_KEY, C_DeriveKey)                      \
    X(SEED_RANDOM, C_SeedRandom)                    \
    X(GENERATE_RANDOM, C_GenerateRandom)            \
    X(GET_FUNCTION_STATUS, C_GetFunctionStatus)     \
    X(CANCEL_FUNCTION, C_CancelFunction)            \
    X(WAIT_FOR_SLOT_EVENT, C_WaitForSlotEvent)      \
    X(GET_INTERFACE_LIST, C_GetInterfaceList)       \
    X(GET_INTERFACE, C_GetInterface)                \
    X(LOGIN_USER, C_LoginUser)                      \
    X(SESSION_CANCEL, C_SessionCancel)              \
    X(MESSAGE_ENCRYPT_INIT, C_MessageEncryptInit)   \
    X(ENCRYPT_MESSAGE, C_EncryptMessage)            \
    X(ENCRYPT_MESSAGE_BEGIN, C_EncryptMessageBegin) \
    X(ENCRYPT_MESSAGE_NEXT, C_EncryptMessageNext)   \
    X(MESSAGE_ENCRYPT_FINAL, C_MessageEncryptFinal) \
    X(MESSAGE_DECRYPT_INIT, C_MessageDecryptInit)   \
    X(DECRYPT_MESSAGE, C_DecryptMessage)            \
    X(DECRYPT_MESSAGE_BEGIN, C_DecryptMessageBegin) \
    X(DECRYPT_MESSAGE_NEXT, C_DecryptMessageNext)   \
    X(MESSAGE_DECRYPT_FINAL, C_MessageDecryptFinal) \
    X(MESSAGE_SIGN_INIT, C_MessageSignInit)         \
    X(SIGN_MESSAGE, C_SignMessage)                  \
    X(SIGN_MESSAGE_BEGIN, C_SignMessageBegin)       \
    X(SIGN_MESSAGE_NEXT, C_SignMessageNext)         \
    X(MESSAGE_SIGN_FINAL, C_MessageSignFinal)       \
    X(MESSAGE_VERIFY_INIT, C_MessageVerifyInit)     \
    X(VERIFY_MESSAGE, C_VerifyMessage)              \
    X(VERIFY_MESSAGE_BEGIN, C_VerifyMessageBegin)   \
    X(VERIFY_MESSAGE_NEXT, C_VerifyMessageNext)     \
    X(MESSAGE_VERIFY_FINAL, C_MessageVerifyFinal)

enum p11p_fn {
#define P11P_FN_ENUM(e, name) P11P_FN_##e,
    P11P_FN_LIST(P11P_FN_ENUM)
#undef P11P_FN_ENUM
    P11P_FN_COUNT
};

/* "C_SignInit"; never NULL. */
const char *p11p_ckr_fn_name(enum p11p_fn fn);

/* True if the spec allows rv as a return of fn (common codes included). */
bool p11p_ckr_allowed(enum p11p_fn fn, CK_RV rv);

/* The default translation of a core status (STYLE.md 3.5 table). Callers
 * that know better (which handle was not found, which input was invalid)
 * choose themselves. */
CK_RV p11p_ckr_from_status(enum p11p_status st);

#endif

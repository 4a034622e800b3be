/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The whole PKCS#11 API at a glance (STYLE.md 3.9): every C_* function as a
 * static entry_C_<Name> that goes through the gate and calls one topic
 * function, the 2.40 CK_FUNCTION_LIST and the 3.0 CK_FUNCTION_LIST_3_0
 * (every slot filled), and the only three exported symbols:
 * C_GetFunctionList, C_GetInterfaceList and C_GetInterface ("PKCS 11" 3.0
 * and 2.40). Functions the module does not implement return
 * CKR_FUNCTION_NOT_SUPPORTED through the same gate.
 */
#include "pkcs11/entry.h"

#include <string.h>

#include "pkcs11/ckr.h"
#include "pkcs11/decrypt.h"
#include "pkcs11/digest.h"
#include "pkcs11/find.h"
#include "pkcs11/gate.h"
#include "pkcs11/keygen.h"
#include "pkcs11/login.h"
#include "pkcs11/module.h"
#include "pkcs11/names.h"
#include "pkcs11/object.h"
#include "pkcs11/random.h"
#include "pkcs11/session.h"
#include "pkcs11/sign.h"
#include "pkcs11/slot.h"

#define P11P_EXPORT __attribute__((visibility("default")))

/* A function the module does not implement. */
static CK_RV unsupported(enum p11p_fn fn)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, fn, CK_INVALID_HANDLE, P11P_NEED_INIT);

    if (rv == CKR_OK) {
        rv = CKR_FUNCTION_NOT_SUPPORTED;
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_Initialize(CK_VOID_PTR pInitArgs)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_INITIALIZE, CK_INVALID_HANDLE,
                               P11P_NEED_NOTHING);

    if (rv == CKR_OK) {
        rv = p11p_module_initialize(pInitArgs);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_Finalize(CK_VOID_PTR pReserved)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_FINALIZE, CK_INVALID_HANDLE,
                               P11P_NEED_NOTHING);

    if (rv == CKR_OK) {
        rv = p11p_module_finalize(pReserved);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_GetInfo(CK_INFO_PTR pInfo)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_GET_INFO, CK_INVALID_HANDLE,
                               P11P_NEED_INIT);

    if (rv == CKR_OK) {
        rv = p11p_module_get_info(pInfo);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_GetSlotList(CK_BBOOL tokenPresent,
                                 CK_SLOT_ID_PTR pSlotList,
                                 CK_ULONG_PTR pulCount)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_GET_SLOT_LIST, CK_INVALID_HANDLE,
                               P11P_NEED_INIT);

    if (rv == CKR_OK) {
        rv = p11p_slot_get_list(tokenPresent, pSlotList, pulCount);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_GET_SLOT_INFO, CK_INVALID_HANDLE,
                               P11P_NEED_INIT);

    p11p_gate_args(&call, "slot=%lu", (unsigned long)slotID);
    if (rv == CKR_OK) {
        rv = p11p_slot_get_info(slotID, pInfo);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_GET_TOKEN_INFO, CK_INVALID_HANDLE,
                               P11P_NEED_INIT);

    p11p_gate_args(&call, "slot=%lu", (unsigned long)slotID);
    if (rv == CKR_OK) {
        rv = p11p_slot_get_token_info(slotID, pInfo);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_GetMechanismList(CK_SLOT_ID slotID,
                                      CK_MECHANISM_TYPE_PTR pMechanismList,
                                      CK_ULONG_PTR pulCount)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_GET_MECHANISM_LIST,
                               CK_INVALID_HANDLE, P11P_NEED_INIT);

    p11p_gate_args(&call, "slot=%lu", (unsigned long)slotID);
    if (rv == CKR_OK) {
        rv = p11p_slot_get_mechanism_list(slotID, pMechanismList, pulCount);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
                                      CK_MECHANISM_INFO_PTR pInfo)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_GET_MECHANISM_INFO,
                               CK_INVALID_HANDLE, P11P_NEED_INIT);

    p11p_gate_args(&call, "slot=%lu, %s", (unsigned long)slotID,
                   p11p_names_mech(type));
    if (rv == CKR_OK) {
        rv = p11p_slot_get_mechanism_info(slotID, type, pInfo);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin,
                               CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pLabel)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_INIT_TOKEN, CK_INVALID_HANDLE,
                               P11P_NEED_INIT);

    /* A PIN's length is a secret too: never traced. */
    p11p_gate_args(&call, "slot=%lu, pin=[redacted]", (unsigned long)slotID);
    if (rv == CKR_OK) {
        rv = p11p_slot_init_token(slotID, pPin, ulPinLen, pLabel);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin,
                             CK_ULONG ulPinLen)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_INIT_PIN, hSession, P11P_NEED_SO);

    p11p_gate_args(&call, "pin=[redacted]");
    if (rv == CKR_OK) {
        rv = p11p_login_init_pin(call.session, pPin, ulPinLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin,
                            CK_ULONG ulOldLen, CK_UTF8CHAR_PTR pNewPin,
                            CK_ULONG ulNewLen)
{
    struct p11p_call call;
    CK_RV rv =
        p11p_gate_enter(&call, P11P_FN_SET_PIN, hSession, P11P_NEED_PUBLIC_RW);

    if (rv == CKR_OK) {
        rv = p11p_login_set_pin(call.session, pOldPin, ulOldLen, pNewPin,
                                ulNewLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags,
                                 CK_VOID_PTR pApplication, CK_NOTIFY Notify,
                                 CK_SESSION_HANDLE_PTR phSession)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_OPEN_SESSION, CK_INVALID_HANDLE,
                               P11P_NEED_INIT);

    (void)pApplication;
    (void)Notify;
    p11p_gate_args(&call, "slot=%lu, flags=0x%lx", (unsigned long)slotID,
                   (unsigned long)flags);
    if (rv == CKR_OK) {
        rv = p11p_session_open(slotID, flags, phSession);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_CloseSession(CK_SESSION_HANDLE hSession)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_CLOSE_SESSION, hSession,
                               P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = p11p_session_close(call.session);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_CloseAllSessions(CK_SLOT_ID slotID)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_CLOSE_ALL_SESSIONS,
                               CK_INVALID_HANDLE, P11P_NEED_INIT);

    p11p_gate_args(&call, "slot=%lu", (unsigned long)slotID);
    if (rv == CKR_OK) {
        rv = p11p_session_close_all(slotID);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_GetSessionInfo(CK_SESSION_HANDLE hSession,
                                    CK_SESSION_INFO_PTR pInfo)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_GET_SESSION_INFO, hSession,
                               P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = p11p_session_get_info(call.session, pInfo);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
                           CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
    struct p11p_call call;
    CK_RV rv =
        p11p_gate_enter(&call, P11P_FN_LOGIN, hSession, P11P_NEED_SESSION);

    p11p_gate_args(&call, "%s, pin=[redacted]",
                   p11p_names_get(P11P_NAMES_CKU, userType));
    if (rv == CKR_OK) {
        rv = p11p_login(call.session, userType, pPin, ulPinLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_Logout(CK_SESSION_HANDLE hSession)
{
    struct p11p_call call;
    CK_RV rv =
        p11p_gate_enter(&call, P11P_FN_LOGOUT, hSession, P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = p11p_login_logout(call.session);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_CreateObject(CK_SESSION_HANDLE hSession,
                                  CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                                  CK_OBJECT_HANDLE_PTR phObject)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_CREATE_OBJECT, hSession,
                               P11P_NEED_PUBLIC_RW);

    p11p_gate_args(&call, "%lu attributes", (unsigned long)ulCount);
    if (rv == CKR_OK) {
        rv = p11p_object_create(call.session, pTemplate, ulCount, phObject);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_CopyObject(CK_SESSION_HANDLE hSession,
                                CK_OBJECT_HANDLE hObject,
                                CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                                CK_OBJECT_HANDLE_PTR phNewObject)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_COPY_OBJECT, hSession,
                               P11P_NEED_PUBLIC_RW);

    if (rv == CKR_OK) {
        rv = p11p_object_copy(call.session, hObject, pTemplate, ulCount,
                              phNewObject);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_DestroyObject(CK_SESSION_HANDLE hSession,
                                   CK_OBJECT_HANDLE hObject)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_DESTROY_OBJECT, hSession,
                               P11P_NEED_PUBLIC_RW);

    p11p_gate_args(&call, "object=%lu", (unsigned long)hObject);
    if (rv == CKR_OK) {
        rv = p11p_object_destroy(call.session, hObject);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_GetObjectSize(CK_SESSION_HANDLE hSession,
                                   CK_OBJECT_HANDLE hObject,
                                   CK_ULONG_PTR pulSize)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_GET_OBJECT_SIZE, hSession,
                               P11P_NEED_SESSION);

    p11p_gate_args(&call, "object=%lu", (unsigned long)hObject);
    if (rv == CKR_OK) {
        rv = p11p_object_get_size(call.session, hObject, pulSize);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_GetAttributeValue(CK_SESSION_HANDLE hSession,
                                       CK_OBJECT_HANDLE hObject,
                                       CK_ATTRIBUTE_PTR pTemplate,
                                       CK_ULONG ulCount)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_GET_ATTRIBUTE_VALUE, hSession,
                               P11P_NEED_SESSION);

    p11p_gate_args(&call, "object=%lu, %lu attributes%s%s",
                   (unsigned long)hObject, (unsigned long)ulCount,
                   ulCount > 0 && pTemplate != NULL ? ", first " : "",
                   ulCount > 0 && pTemplate != NULL
                       ? p11p_names_attr(pTemplate[0].type)
                       : "");
    if (rv == CKR_OK) {
        rv = p11p_object_get_attrs(call.session, hObject, pTemplate, ulCount);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_SetAttributeValue(CK_SESSION_HANDLE hSession,
                                       CK_OBJECT_HANDLE hObject,
                                       CK_ATTRIBUTE_PTR pTemplate,
                                       CK_ULONG ulCount)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_SET_ATTRIBUTE_VALUE, hSession,
                               P11P_NEED_PUBLIC_RW);

    p11p_gate_args(&call, "object=%lu, %lu attributes", (unsigned long)hObject,
                   (unsigned long)ulCount);
    if (rv == CKR_OK) {
        rv = p11p_object_set_attrs(call.session, hObject, pTemplate, ulCount);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_FindObjectsInit(CK_SESSION_HANDLE hSession,
                                     CK_ATTRIBUTE_PTR pTemplate,
                                     CK_ULONG ulCount)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_FIND_OBJECTS_INIT, hSession,
                               P11P_NEED_SESSION);

    p11p_gate_args(&call, "%lu attributes", (unsigned long)ulCount);
    if (rv == CKR_OK) {
        rv = p11p_find_init(call.session, pTemplate, ulCount);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_FindObjects(CK_SESSION_HANDLE hSession,
                                 CK_OBJECT_HANDLE_PTR phObject,
                                 CK_ULONG ulMaxObjectCount,
                                 CK_ULONG_PTR pulObjectCount)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_FIND_OBJECTS, hSession,
                               P11P_NEED_SESSION);

    p11p_gate_args(&call, "max=%lu", (unsigned long)ulMaxObjectCount);
    if (rv == CKR_OK) {
        rv = p11p_find_next(call.session, phObject, ulMaxObjectCount,
                            pulObjectCount);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_FIND_OBJECTS_FINAL, hSession,
                               P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = p11p_find_final(call.session);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_DecryptInit(CK_SESSION_HANDLE hSession,
                                 CK_MECHANISM_PTR pMechanism,
                                 CK_OBJECT_HANDLE hKey)
{
    struct p11p_call call;
    CK_RV rv =
        p11p_gate_enter(&call, P11P_FN_DECRYPT_INIT, hSession, P11P_NEED_USER);

    p11p_gate_args(&call, "%s, key=%lu",
                   pMechanism != NULL ? p11p_names_mech(pMechanism->mechanism)
                                      : "NULL",
                   (unsigned long)hKey);
    if (rv == CKR_OK) {
        rv = p11p_decrypt_init(call.session, pMechanism, hKey);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_Decrypt(CK_SESSION_HANDLE hSession,
                             CK_BYTE_PTR pEncryptedData,
                             CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData,
                             CK_ULONG_PTR pulDataLen)
{
    struct p11p_call call;
    CK_RV rv =
        p11p_gate_enter(&call, P11P_FN_DECRYPT, hSession, P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = p11p_decrypt(call.session, pEncryptedData, ulEncryptedDataLen,
                          pData, pulDataLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_DecryptUpdate(CK_SESSION_HANDLE hSession,
                                   CK_BYTE_PTR pEncryptedPart,
                                   CK_ULONG ulEncryptedPartLen,
                                   CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_DECRYPT_UPDATE, hSession,
                               P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = p11p_decrypt_update(call.session, pEncryptedPart,
                                 ulEncryptedPartLen, pPart, pulPartLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_DecryptFinal(CK_SESSION_HANDLE hSession,
                                  CK_BYTE_PTR pLastPart,
                                  CK_ULONG_PTR pulLastPartLen)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_DECRYPT_FINAL, hSession,
                               P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = p11p_decrypt_final(call.session, pLastPart, pulLastPartLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_DigestInit(CK_SESSION_HANDLE hSession,
                                CK_MECHANISM_PTR pMechanism)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_DIGEST_INIT, hSession,
                               P11P_NEED_SESSION);

    p11p_gate_args(&call, "%s",
                   pMechanism != NULL ? p11p_names_mech(pMechanism->mechanism)
                                      : "NULL");
    if (rv == CKR_OK) {
        rv = p11p_digest_init(call.session, pMechanism);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
                            CK_ULONG ulDataLen, CK_BYTE_PTR pDigest,
                            CK_ULONG_PTR pulDigestLen)
{
    struct p11p_call call;
    CK_RV rv =
        p11p_gate_enter(&call, P11P_FN_DIGEST, hSession, P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = p11p_digest(call.session, pData, ulDataLen, pDigest, pulDigestLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                  CK_ULONG ulPartLen)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_DIGEST_UPDATE, hSession,
                               P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = p11p_digest_update(call.session, pPart, ulPartLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_DigestFinal(CK_SESSION_HANDLE hSession,
                                 CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_DIGEST_FINAL, hSession,
                               P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = p11p_digest_final(call.session, pDigest, pulDigestLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_SignInit(CK_SESSION_HANDLE hSession,
                              CK_MECHANISM_PTR pMechanism,
                              CK_OBJECT_HANDLE hKey)
{
    struct p11p_call call;
    CK_RV rv =
        p11p_gate_enter(&call, P11P_FN_SIGN_INIT, hSession, P11P_NEED_USER);

    p11p_gate_args(&call, "%s, key=%lu",
                   pMechanism != NULL ? p11p_names_mech(pMechanism->mechanism)
                                      : "NULL",
                   (unsigned long)hKey);
    if (rv == CKR_OK) {
        rv = p11p_sign_init(call.session, pMechanism, hKey);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
                          CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                          CK_ULONG_PTR pulSignatureLen)
{
    struct p11p_call call;
    CK_RV rv =
        p11p_gate_enter(&call, P11P_FN_SIGN, hSession, P11P_NEED_SESSION);

    p11p_gate_args(&call, "%lu bytes", (unsigned long)ulDataLen);
    if (rv == CKR_OK) {
        rv = p11p_sign(call.session, pData, ulDataLen, pSignature,
                       pulSignatureLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                CK_ULONG ulPartLen)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_SIGN_UPDATE, hSession,
                               P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = p11p_sign_update(call.session, pPart, ulPartLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_SignFinal(CK_SESSION_HANDLE hSession,
                               CK_BYTE_PTR pSignature,
                               CK_ULONG_PTR pulSignatureLen)
{
    struct p11p_call call;
    CK_RV rv =
        p11p_gate_enter(&call, P11P_FN_SIGN_FINAL, hSession, P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = p11p_sign_final(call.session, pSignature, pulSignatureLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_VerifyInit(CK_SESSION_HANDLE hSession,
                                CK_MECHANISM_PTR pMechanism,
                                CK_OBJECT_HANDLE hKey)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_VERIFY_INIT, hSession,
                               P11P_NEED_SESSION);

    p11p_gate_args(&call, "%s, key=%lu",
                   pMechanism != NULL ? p11p_names_mech(pMechanism->mechanism)
                                      : "NULL",
                   (unsigned long)hKey);
    if (rv == CKR_OK) {
        rv = p11p_sign_verify_init(call.session, pMechanism, hKey);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
                            CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                            CK_ULONG ulSignatureLen)
{
    struct p11p_call call;
    CK_RV rv =
        p11p_gate_enter(&call, P11P_FN_VERIFY, hSession, P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = p11p_sign_verify(call.session, pData, ulDataLen, pSignature,
                              ulSignatureLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                  CK_ULONG ulPartLen)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_VERIFY_UPDATE, hSession,
                               P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = p11p_sign_verify_update(call.session, pPart, ulPartLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_VerifyFinal(CK_SESSION_HANDLE hSession,
                                 CK_BYTE_PTR pSignature,
                                 CK_ULONG ulSignatureLen)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_VERIFY_FINAL, hSession,
                               P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = p11p_sign_verify_final(call.session, pSignature, ulSignatureLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_GenerateKeyPair(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
    CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,
    CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_GENERATE_KEY_PAIR, hSession,
                               P11P_NEED_USER_RW);

    p11p_gate_args(&call, "%s",
                   pMechanism != NULL ? p11p_names_mech(pMechanism->mechanism)
                                      : "NULL");
    if (rv == CKR_OK) {
        rv = p11p_keygen_pair(call.session, pMechanism, pPublicKeyTemplate,
                              ulPublicKeyAttributeCount, pPrivateKeyTemplate,
                              ulPrivateKeyAttributeCount, phPublicKey,
                              phPrivateKey);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed,
                                CK_ULONG ulSeedLen)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_SEED_RANDOM, hSession,
                               P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = p11p_random_seed(call.session, pSeed, ulSeedLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_GenerateRandom(CK_SESSION_HANDLE hSession,
                                    CK_BYTE_PTR RandomData,
                                    CK_ULONG ulRandomLen)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_GENERATE_RANDOM, hSession,
                               P11P_NEED_SESSION);

    p11p_gate_args(&call, "%lu bytes", (unsigned long)ulRandomLen);
    if (rv == CKR_OK) {
        rv = p11p_random_generate(call.session, RandomData, ulRandomLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_GetFunctionStatus(CK_SESSION_HANDLE hSession)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_GET_FUNCTION_STATUS, hSession,
                               P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = CKR_FUNCTION_NOT_PARALLEL;
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_CancelFunction(CK_SESSION_HANDLE hSession)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_CANCEL_FUNCTION, hSession,
                               P11P_NEED_SESSION);

    if (rv == CKR_OK) {
        rv = CKR_FUNCTION_NOT_PARALLEL;
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot,
                                      CK_VOID_PTR pReserved)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_WAIT_FOR_SLOT_EVENT,
                               CK_INVALID_HANDLE, P11P_NEED_INIT);

    (void)pReserved;
    p11p_gate_args(&call, "flags=0x%lx", (unsigned long)flags);
    if (rv == CKR_OK) {
        rv = p11p_slot_wait_for_event(flags, pSlot);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_LoginUser(CK_SESSION_HANDLE hSession,
                               CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
                               CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername,
                               CK_ULONG ulUsernameLen)
{
    struct p11p_call call;
    CK_RV rv =
        p11p_gate_enter(&call, P11P_FN_LOGIN_USER, hSession, P11P_NEED_SESSION);

    (void)pUsername;
    (void)ulUsernameLen;
    p11p_gate_args(&call, "%s, pin=[redacted], username %lu bytes (ignored)",
                   p11p_names_get(P11P_NAMES_CKU, userType),
                   (unsigned long)ulUsernameLen);
    if (rv == CKR_OK) {
        rv = p11p_login(call.session, userType, pPin, ulPinLen);
    }
    return p11p_gate_leave(&call, rv);
}

static CK_RV entry_C_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags)
{
    struct p11p_call call;
    CK_RV rv = p11p_gate_enter(&call, P11P_FN_SESSION_CANCEL, hSession,
                               P11P_NEED_SESSION);

    p11p_gate_args(&call, "flags=0x%lx", (unsigned long)flags);
    if (rv == CKR_OK) {
        rv = p11p_session_cancel(call.session, flags);
    }
    return p11p_gate_leave(&call, rv);
}

/* Not implemented: no symmetric keys, no recovery, no message-based API,
 * no parallel functions, no operation state. Their parameters are unused
 * by design. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"

static CK_RV entry_C_GetOperationState(CK_SESSION_HANDLE hSession,
                                       CK_BYTE_PTR pOperationState,
                                       CK_ULONG_PTR pulOperationStateLen)
{
    return unsupported(P11P_FN_GET_OPERATION_STATE);
}

static CK_RV entry_C_SetOperationState(CK_SESSION_HANDLE hSession,
                                       CK_BYTE_PTR pOperationState,
                                       CK_ULONG ulOperationStateLen,
                                       CK_OBJECT_HANDLE hEncryptionKey,
                                       CK_OBJECT_HANDLE hAuthenticationKey)
{
    return unsupported(P11P_FN_SET_OPERATION_STATE);
}

static CK_RV entry_C_EncryptInit(CK_SESSION_HANDLE hSession,
                                 CK_MECHANISM_PTR pMechanism,
                                 CK_OBJECT_HANDLE hKey)
{
    return unsupported(P11P_FN_ENCRYPT_INIT);
}

static CK_RV entry_C_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
                             CK_ULONG ulDataLen, CK_BYTE_PTR pEncryptedData,
                             CK_ULONG_PTR pulEncryptedDataLen)
{
    return unsupported(P11P_FN_ENCRYPT);
}

static CK_RV entry_C_EncryptUpdate(CK_SESSION_HANDLE hSession,
                                   CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                                   CK_BYTE_PTR pEncryptedPart,
                                   CK_ULONG_PTR pulEncryptedPartLen)
{
    return unsupported(P11P_FN_ENCRYPT_UPDATE);
}

static CK_RV entry_C_EncryptFinal(CK_SESSION_HANDLE hSession,
                                  CK_BYTE_PTR pLastEncryptedPart,
                                  CK_ULONG_PTR pulLastEncryptedPartLen)
{
    return unsupported(P11P_FN_ENCRYPT_FINAL);
}

static CK_RV entry_C_DigestKey(CK_SESSION_HANDLE hSession,
                               CK_OBJECT_HANDLE hKey)
{
    return unsupported(P11P_FN_DIGEST_KEY);
}

static CK_RV entry_C_SignRecoverInit(CK_SESSION_HANDLE hSession,
                                     CK_MECHANISM_PTR pMechanism,
                                     CK_OBJECT_HANDLE hKey)
{
    return unsupported(P11P_FN_SIGN_RECOVER_INIT);
}

static CK_RV entry_C_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
                                 CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                                 CK_ULONG_PTR pulSignatureLen)
{
    return unsupported(P11P_FN_SIGN_RECOVER);
}

static CK_RV entry_C_VerifyRecoverInit(CK_SESSION_HANDLE hSession,
                                       CK_MECHANISM_PTR pMechanism,
                                       CK_OBJECT_HANDLE hKey)
{
    return unsupported(P11P_FN_VERIFY_RECOVER_INIT);
}

static CK_RV entry_C_VerifyRecover(CK_SESSION_HANDLE hSession,
                                   CK_BYTE_PTR pSignature,
                                   CK_ULONG ulSignatureLen, CK_BYTE_PTR pData,
                                   CK_ULONG_PTR pulDataLen)
{
    return unsupported(P11P_FN_VERIFY_RECOVER);
}

static CK_RV entry_C_DigestEncryptUpdate(CK_SESSION_HANDLE hSession,
                                         CK_BYTE_PTR pIn, CK_ULONG ulInLen,
                                         CK_BYTE_PTR pOut,
                                         CK_ULONG_PTR pulOutLen)
{
    return unsupported(P11P_FN_DIGEST_ENCRYPT_UPDATE);
}

static CK_RV entry_C_DecryptDigestUpdate(CK_SESSION_HANDLE hSession,
                                         CK_BYTE_PTR pIn, CK_ULONG ulInLen,
                                         CK_BYTE_PTR pOut,
                                         CK_ULONG_PTR pulOutLen)
{
    return unsupported(P11P_FN_DECRYPT_DIGEST_UPDATE);
}

static CK_RV entry_C_SignEncryptUpdate(CK_SESSION_HANDLE hSession,
                                       CK_BYTE_PTR pIn, CK_ULONG ulInLen,
                                       CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen)
{
    return unsupported(P11P_FN_SIGN_ENCRYPT_UPDATE);
}

static CK_RV entry_C_DecryptVerifyUpdate(CK_SESSION_HANDLE hSession,
                                         CK_BYTE_PTR pIn, CK_ULONG ulInLen,
                                         CK_BYTE_PTR pOut,
                                         CK_ULONG_PTR pulOutLen)
{
    return unsupported(P11P_FN_DECRYPT_VERIFY_UPDATE);
}

static CK_RV entry_C_GenerateKey(CK_SESSION_HANDLE hSession,
                                 CK_MECHANISM_PTR pMechanism,
                                 CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                                 CK_OBJECT_HANDLE_PTR phKey)
{
    return unsupported(P11P_FN_GENERATE_KEY);
}

static CK_RV entry_C_WrapKey(CK_SESSION_HANDLE hSession,
                             CK_MECHANISM_PTR pMechanism,
                             CK_OBJECT_HANDLE hWrappingKey,
                             CK_OBJECT_HANDLE hKey, CK_BYTE_PTR pWrappedKey,
                             CK_ULONG_PTR pulWrappedKeyLen)
{
    return unsupported(P11P_FN_WRAP_KEY);
}

static CK_RV
entry_C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                  CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
                  CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
                  CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    return unsupported(P11P_FN_UNWRAP_KEY);
}

static CK_RV
entry_C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                  CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate,
                  CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    return unsupported(P11P_FN_DERIVE_KEY);
}

static CK_RV entry_C_MessageEncryptInit(CK_SESSION_HANDLE hSession,
                                        CK_MECHANISM_PTR pMechanism,
                                        CK_OBJECT_HANDLE hKey)
{
    return unsupported(P11P_FN_MESSAGE_ENCRYPT_INIT);
}

static CK_RV entry_C_EncryptMessage(
    CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
    CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pIn,
    CK_ULONG ulInLen, CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen)
{
    return unsupported(P11P_FN_ENCRYPT_MESSAGE);
}

static CK_RV entry_C_EncryptMessageBegin(CK_SESSION_HANDLE hSession,
                                         CK_VOID_PTR pParameter,
                                         CK_ULONG ulParameterLen,
                                         CK_BYTE_PTR pAssociatedData,
                                         CK_ULONG ulAssociatedDataLen)
{
    return unsupported(P11P_FN_ENCRYPT_MESSAGE_BEGIN);
}

static CK_RV entry_C_EncryptMessageNext(CK_SESSION_HANDLE hSession,
                                        CK_VOID_PTR pParameter,
                                        CK_ULONG ulParameterLen,
                                        CK_BYTE_PTR pIn, CK_ULONG ulInLen,
                                        CK_BYTE_PTR pOut,
                                        CK_ULONG_PTR pulOutLen, CK_FLAGS flags)
{
    return unsupported(P11P_FN_ENCRYPT_MESSAGE_NEXT);
}

static CK_RV entry_C_MessageEncryptFinal(CK_SESSION_HANDLE hSession)
{
    return unsupported(P11P_FN_MESSAGE_ENCRYPT_FINAL);
}

static CK_RV entry_C_MessageDecryptInit(CK_SESSION_HANDLE hSession,
                                        CK_MECHANISM_PTR pMechanism,
                                        CK_OBJECT_HANDLE hKey)
{
    return unsupported(P11P_FN_MESSAGE_DECRYPT_INIT);
}

static CK_RV entry_C_DecryptMessage(
    CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
    CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pIn,
    CK_ULONG ulInLen, CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen)
{
    return unsupported(P11P_FN_DECRYPT_MESSAGE);
}

static CK_RV entry_C_DecryptMessageBegin(CK_SESSION_HANDLE hSession,
                                         CK_VOID_PTR pParameter,
                                         CK_ULONG ulParameterLen,
                                         CK_BYTE_PTR pAssociatedData,
                                         CK_ULONG ulAssociatedDataLen)
{
    return unsupported(P11P_FN_DECRYPT_MESSAGE_BEGIN);
}

static CK_RV entry_C_DecryptMessageNext(CK_SESSION_HANDLE hSession,
                                        CK_VOID_PTR pParameter,
                                        CK_ULONG ulParameterLen,
                                        CK_BYTE_PTR pIn, CK_ULONG ulInLen,
                                        CK_BYTE_PTR pOut,
                                        CK_ULONG_PTR pulOutLen, CK_FLAGS flags)
{
    return unsupported(P11P_FN_DECRYPT_MESSAGE_NEXT);
}

static CK_RV entry_C_MessageDecryptFinal(CK_SESSION_HANDLE hSession)
{
    return unsupported(P11P_FN_MESSAGE_DECRYPT_FINAL);
}

static CK_RV entry_C_MessageSignInit(CK_SESSION_HANDLE hSession,
                                     CK_MECHANISM_PTR pMechanism,
                                     CK_OBJECT_HANDLE hKey)
{
    return unsupported(P11P_FN_MESSAGE_SIGN_INIT);
}

static CK_RV entry_C_SignMessage(CK_SESSION_HANDLE hSession,
                                 CK_VOID_PTR pParameter,
                                 CK_ULONG ulParameterLen, CK_BYTE_PTR pData,
                                 CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                                 CK_ULONG_PTR pulSignatureLen)
{
    return unsupported(P11P_FN_SIGN_MESSAGE);
}

static CK_RV entry_C_SignMessageBegin(CK_SESSION_HANDLE hSession,
                                      CK_VOID_PTR pParameter,
                                      CK_ULONG ulParameterLen)
{
    return unsupported(P11P_FN_SIGN_MESSAGE_BEGIN);
}

static CK_RV entry_C_SignMessageNext(CK_SESSION_HANDLE hSession,
                                     CK_VOID_PTR pParameter,
                                     CK_ULONG ulParameterLen, CK_BYTE_PTR pData,
                                     CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                                     CK_ULONG_PTR pulSignatureLen)
{
    return unsupported(P11P_FN_SIGN_MESSAGE_NEXT);
}

static CK_RV entry_C_MessageSignFinal(CK_SESSION_HANDLE hSession)
{
    return unsupported(P11P_FN_MESSAGE_SIGN_FINAL);
}

static CK_RV entry_C_MessageVerifyInit(CK_SESSION_HANDLE hSession,
                                       CK_MECHANISM_PTR pMechanism,
                                       CK_OBJECT_HANDLE hKey)
{
    return unsupported(P11P_FN_MESSAGE_VERIFY_INIT);
}

static CK_RV entry_C_VerifyMessage(CK_SESSION_HANDLE hSession,
                                   CK_VOID_PTR pParameter,
                                   CK_ULONG ulParameterLen, CK_BYTE_PTR pData,
                                   CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                                   CK_ULONG ulSignatureLen)
{
    return unsupported(P11P_FN_VERIFY_MESSAGE);
}

static CK_RV entry_C_VerifyMessageBegin(CK_SESSION_HANDLE hSession,
                                        CK_VOID_PTR pParameter,
                                        CK_ULONG ulParameterLen)
{
    return unsupported(P11P_FN_VERIFY_MESSAGE_BEGIN);
}

static CK_RV entry_C_VerifyMessageNext(CK_SESSION_HANDLE hSession,
                                       CK_VOID_PTR pParameter,
                                       CK_ULONG ulParameterLen,
                                       CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                                       CK_BYTE_PTR pSignature,
                                       CK_ULONG ulSignatureLen)
{
    return unsupported(P11P_FN_VERIFY_MESSAGE_NEXT);
}

static CK_RV entry_C_MessageVerifyFinal(CK_SESSION_HANDLE hSession)
{
    return unsupported(P11P_FN_MESSAGE_VERIFY_FINAL);
}

#pragma GCC diagnostic pop

/* clang-format off */
/* The 2.40 functions, shared by both lists (the 3.0 list begins with the
 * same members in the same order). */
#define P11P_FUNCTIONS_2_40 \
    .C_Initialize = entry_C_Initialize, \
    .C_Finalize = entry_C_Finalize, \
    .C_GetInfo = entry_C_GetInfo, \
    .C_GetFunctionList = C_GetFunctionList, \
    .C_GetSlotList = entry_C_GetSlotList, \
    .C_GetSlotInfo = entry_C_GetSlotInfo, \
    .C_GetTokenInfo = entry_C_GetTokenInfo, \
    .C_GetMechanismList = entry_C_GetMechanismList, \
    .C_GetMechanismInfo = entry_C_GetMechanismInfo, \
    .C_InitToken = entry_C_InitToken, \
    .C_InitPIN = entry_C_InitPIN, \
    .C_SetPIN = entry_C_SetPIN, \
    .C_OpenSession = entry_C_OpenSession, \
    .C_CloseSession = entry_C_CloseSession, \
    .C_CloseAllSessions = entry_C_CloseAllSessions, \
    .C_GetSessionInfo = entry_C_GetSessionInfo, \
    .C_GetOperationState = entry_C_GetOperationState, \
    .C_SetOperationState = entry_C_SetOperationState, \
    .C_Login = entry_C_Login, \
    .C_Logout = entry_C_Logout, \
    .C_CreateObject = entry_C_CreateObject, \
    .C_CopyObject = entry_C_CopyObject, \
    .C_DestroyObject = entry_C_DestroyObject, \
    .C_GetObjectSize = entry_C_GetObjectSize, \
    .C_GetAttributeValue = entry_C_GetAttributeValue, \
    .C_SetAttributeValue = entry_C_SetAttributeValue, \
    .C_FindObjectsInit = entry_C_FindObjectsInit, \
    .C_FindObjects = entry_C_FindObjects, \
    .C_FindObjectsFinal = entry_C_FindObjectsFinal, \
    .C_EncryptInit = entry_C_EncryptInit, \
    .C_Encrypt = entry_C_Encrypt, \
    .C_EncryptUpdate = entry_C_EncryptUpdate, \
    .C_EncryptFinal = entry_C_EncryptFinal, \
    .C_DecryptInit = entry_C_DecryptInit, \
    .C_Decrypt = entry_C_Decrypt, \
    .C_DecryptUpdate = entry_C_DecryptUpdate, \
    .C_DecryptFinal = entry_C_DecryptFinal, \
    .C_DigestInit = entry_C_DigestInit, \
    .C_Digest = entry_C_Digest, \
    .C_DigestUpdate = entry_C_DigestUpdate, \
    .C_DigestKey = entry_C_DigestKey, \
    .C_DigestFinal = entry_C_DigestFinal, \
    .C_SignInit = entry_C_SignInit, \
    .C_Sign = entry_C_Sign, \
    .C_SignUpdate = entry_C_SignUpdate, \
    .C_SignFinal = entry_C_SignFinal, \
    .C_SignRecoverInit = entry_C_SignRecoverInit, \
    .C_SignRecover = entry_C_SignRecover, \
    .C_VerifyInit = entry_C_VerifyInit, \
    .C_Verify = entry_C_Verify, \
    .C_VerifyUpdate = entry_C_VerifyUpdate, \
    .C_VerifyFinal = entry_C_VerifyFinal, \
    .C_VerifyRecoverInit = entry_C_VerifyRecoverInit, \
    .C_VerifyRecover = entry_C_VerifyRecover, \
    .C_DigestEncryptUpdate = entry_C_DigestEncryptUpdate, \
    .C_DecryptDigestUpdate = entry_C_DecryptDigestUpdate, \
    .C_SignEncryptUpdate = entry_C_SignEncryptUpdate, \
    .C_DecryptVerifyUpdate = entry_C_DecryptVerifyUpdate, \
    .C_GenerateKey = entry_C_GenerateKey, \
    .C_GenerateKeyPair = entry_C_GenerateKeyPair, \
    .C_WrapKey = entry_C_WrapKey, \
    .C_UnwrapKey = entry_C_UnwrapKey, \
    .C_DeriveKey = entry_C_DeriveKey, \
    .C_SeedRandom = entry_C_SeedRandom, \
    .C_GenerateRandom = entry_C_GenerateRandom, \
    .C_GetFunctionStatus = entry_C_GetFunctionStatus, \
    .C_CancelFunction = entry_C_CancelFunction, \
    .C_WaitForSlotEvent = entry_C_WaitForSlotEvent,

static CK_FUNCTION_LIST function_list_240 = {
    .version = { 2, 40 },
    P11P_FUNCTIONS_2_40
};

static CK_FUNCTION_LIST_3_0 function_list_30 = {
    .version = { 3, 0 },
    P11P_FUNCTIONS_2_40
    .C_GetInterfaceList = C_GetInterfaceList,
    .C_GetInterface = C_GetInterface,
    .C_LoginUser = entry_C_LoginUser,
    .C_SessionCancel = entry_C_SessionCancel,
    .C_MessageEncryptInit = entry_C_MessageEncryptInit,
    .C_EncryptMessage = entry_C_EncryptMessage,
    .C_EncryptMessageBegin = entry_C_EncryptMessageBegin,
    .C_EncryptMessageNext = entry_C_EncryptMessageNext,
    .C_MessageEncryptFinal = entry_C_MessageEncryptFinal,
    .C_MessageDecryptInit = entry_C_MessageDecryptInit,
    .C_DecryptMessage = entry_C_DecryptMessage,
    .C_DecryptMessageBegin = entry_C_DecryptMessageBegin,
    .C_DecryptMessageNext = entry_C_DecryptMessageNext,
    .C_MessageDecryptFinal = entry_C_MessageDecryptFinal,
    .C_MessageSignInit = entry_C_MessageSignInit,
    .C_SignMessage = entry_C_SignMessage,
    .C_SignMessageBegin = entry_C_SignMessageBegin,
    .C_SignMessageNext = entry_C_SignMessageNext,
    .C_MessageSignFinal = entry_C_MessageSignFinal,
    .C_MessageVerifyInit = entry_C_MessageVerifyInit,
    .C_VerifyMessage = entry_C_VerifyMessage,
    .C_VerifyMessageBegin = entry_C_VerifyMessageBegin,
    .C_VerifyMessageNext = entry_C_VerifyMessageNext,
    .C_MessageVerifyFinal = entry_C_MessageVerifyFinal,
};
/* clang-format on */

/* "PKCS 11" 3.0 first: the default of C_GetInterface(NULL, NULL, ...). No
 * CKF_INTERFACE_FORK_SAFE: a forked child must call C_Initialize again. */
static CK_INTERFACE interfaces[] = {
    { (CK_UTF8CHAR *)"PKCS 11", &function_list_30, 0 },
    { (CK_UTF8CHAR *)"PKCS 11", &function_list_240, 0 },
};
#define N_INTERFACES (sizeof(interfaces) / sizeof(interfaces[0]))

P11P_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    if (list == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    *list = &function_list_240;
    return CKR_OK;
}

P11P_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE_PTR list, CK_ULONG_PTR count)
{
    if (count == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    if (list == NULL) {
        *count = N_INTERFACES;
        return CKR_OK;
    }
    if (*count < N_INTERFACES) {
        *count = N_INTERFACES;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(list, interfaces, sizeof(interfaces));
    *count = N_INTERFACES;
    return CKR_OK;
}

P11P_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version,
                                 CK_INTERFACE_PTR_PTR out, CK_FLAGS flags)
{
    if (out == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    for (size_t i = 0; i < N_INTERFACES; i++) {
        const CK_VERSION *v = interfaces[i].pFunctionList;

        if (name != NULL
            && strcmp((const char *)name,
                      (const char *)interfaces[i].pInterfaceName)
                   != 0) {
            continue;
        }
        if (version != NULL
            && (version->major != v->major || version->minor != v->minor)) {
            continue;
        }
        if ((flags & interfaces[i].flags) != flags) {
            continue;
        }
        *out = &interfaces[i];
        return CKR_OK;
    }
    return CKR_ARGUMENTS_BAD;
}

const CK_FUNCTION_LIST *p11p_entry_list_240(void)
{
    return &function_list_240;
}

const CK_FUNCTION_LIST_3_0 *p11p_entry_list_30(void)
{
    return &function_list_30;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* C_Sign* and C_Verify* (sign.c). Each takes the session lock itself. */
#ifndef P11P_PKCS11_SIGN_H
#define P11P_PKCS11_SIGN_H

#include "pkcs11/pkcs11-3.h"
#include "pkcs11/session.h"

CK_RV p11p_sign_init(struct p11p_session *s, CK_MECHANISM_PTR mech,
                     CK_OBJECT_HANDLE key);
CK_RV p11p_sign(struct p11p_session *s, CK_BYTE_PTR data, CK_ULONG len,
                CK_BYTE_PTR sig, CK_ULONG_PTR sig_len);
CK_RV p11p_sign_update(struct p11p_session *s, CK_BYTE_PTR data, CK_ULONG len);
CK_RV p11p_sign_final(struct p11p_session *s, CK_BYTE_PTR sig,
                      CK_ULONG_PTR sig_len);

CK_RV p11p_sign_verify_init(struct p11p_session *s, CK_MECHANISM_PTR mech,
                            CK_OBJECT_HANDLE key);
CK_RV p11p_sign_verify(struct p11p_session *s, CK_BYTE_PTR data, CK_ULONG len,
                       CK_BYTE_PTR sig, CK_ULONG sig_len);
CK_RV p11p_sign_verify_update(struct p11p_session *s, CK_BYTE_PTR data,
                              CK_ULONG len);
CK_RV p11p_sign_verify_final(struct p11p_session *s, CK_BYTE_PTR sig,
                             CK_ULONG sig_len);

#endif

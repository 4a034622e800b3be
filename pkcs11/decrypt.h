/* SPDX-License-Identifier: Apache-2.0 */
/* C_Decrypt* (decrypt.c): RSA PKCS#1 v1.5 and OAEP. */
#ifndef P11P_PKCS11_DECRYPT_H
#define P11P_PKCS11_DECRYPT_H

#include "pkcs11/pkcs11-3.h"
#include "pkcs11/session.h"

CK_RV p11p_decrypt_init(struct p11p_session *s, CK_MECHANISM_PTR mech,
                        CK_OBJECT_HANDLE key);
CK_RV p11p_decrypt(struct p11p_session *s, CK_BYTE_PTR in, CK_ULONG in_len,
                   CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV p11p_decrypt_update(struct p11p_session *s, CK_BYTE_PTR in,
                          CK_ULONG in_len, CK_BYTE_PTR out,
                          CK_ULONG_PTR out_len);
CK_RV p11p_decrypt_final(struct p11p_session *s, CK_BYTE_PTR out,
                         CK_ULONG_PTR out_len);

#endif

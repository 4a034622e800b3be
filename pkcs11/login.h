/* SPDX-License-Identifier: Apache-2.0 */
/* C_Login, C_LoginUser, C_Logout, C_InitPIN, C_SetPIN (login.c). */
#ifndef P11P_PKCS11_LOGIN_H
#define P11P_PKCS11_LOGIN_H

#include "pkcs11/pkcs11-3.h"
#include "pkcs11/session.h"

CK_RV p11p_login(struct p11p_session *s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                 CK_ULONG len);
CK_RV p11p_login_logout(struct p11p_session *s);
CK_RV p11p_login_init_pin(struct p11p_session *s, CK_UTF8CHAR_PTR pin,
                          CK_ULONG len);
CK_RV p11p_login_set_pin(struct p11p_session *s, CK_UTF8CHAR_PTR old_pin,
                         CK_ULONG old_len, CK_UTF8CHAR_PTR new_pin,
                         CK_ULONG new_len);

#endif

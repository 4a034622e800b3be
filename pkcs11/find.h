/* SPDX-License-Identifier: Apache-2.0 */
/* C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal (find.c). */
#ifndef P11P_PKCS11_FIND_H
#define P11P_PKCS11_FIND_H

#include "pkcs11/pkcs11-3.h"
#include "pkcs11/session.h"

CK_RV p11p_find_init(struct p11p_session *s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n);
CK_RV p11p_find_next(struct p11p_session *s, CK_OBJECT_HANDLE_PTR out,
                     CK_ULONG max, CK_ULONG_PTR count);
CK_RV p11p_find_final(struct p11p_session *s);

#endif

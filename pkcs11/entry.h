/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The module's exported getters (the only symbols the version script
 * exports) and, for unit tests, the two function lists.
 */
#ifndef P11P_PKCS11_ENTRY_H
#define P11P_PKCS11_ENTRY_H

#include "pkcs11/pkcs11-3.h"

/* PKCS#11 3.0 getters (p11-kit 0.24's header does not declare them). */
CK_RV C_GetInterfaceList(CK_INTERFACE_PTR list, CK_ULONG_PTR count);
CK_RV C_GetInterface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version,
                     CK_INTERFACE_PTR_PTR out, CK_FLAGS flags);

/* The 2.40 and 3.0 function lists (borrowed, static). */
const CK_FUNCTION_LIST *p11p_entry_list_240(void);
const CK_FUNCTION_LIST_3_0 *p11p_entry_list_30(void);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* C_GenerateKeyPair (keygen.c): key pair + enrollment. */
#ifndef P11P_PKCS11_KEYGEN_H
#define P11P_PKCS11_KEYGEN_H

#include "pkcs11/pkcs11-3.h"
#include "pkcs11/session.h"

/* Validates both templates through the schema, derives the key spec and
 * the enrollment parameters, and runs p11p_enroll_keypair with no module,
 * token or session lock held (it may talk to the portal within the
 * token's enroll_wait budget). A pending order is CKR_OK. */
CK_RV p11p_keygen_pair(struct p11p_session *s, CK_MECHANISM_PTR mech,
                       CK_ATTRIBUTE_PTR pub, CK_ULONG n_pub,
                       CK_ATTRIBUTE_PTR priv, CK_ULONG n_priv,
                       CK_OBJECT_HANDLE_PTR out_pub,
                       CK_OBJECT_HANDLE_PTR out_priv);

#endif

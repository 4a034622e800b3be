/* SPDX-License-Identifier: Apache-2.0 */
/* C_Digest* (digest.c): SHA-1/224/256/384/512 on the private libctx. */
#ifndef P11P_PKCS11_DIGEST_H
#define P11P_PKCS11_DIGEST_H

#include "pkcs11/pkcs11-3.h"
#include "pkcs11/session.h"

CK_RV p11p_digest_init(struct p11p_session *s, CK_MECHANISM_PTR mech);
CK_RV p11p_digest(struct p11p_session *s, CK_BYTE_PTR data, CK_ULONG len,
                  CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV p11p_digest_update(struct p11p_session *s, CK_BYTE_PTR data,
                         CK_ULONG len);
CK_RV p11p_digest_final(struct p11p_session *s, CK_BYTE_PTR out,
                        CK_ULONG_PTR out_len);

#endif

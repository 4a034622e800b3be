/* SPDX-License-Identifier: Apache-2.0 */
/* C_GenerateRandom and C_SeedRandom (random.c). */
#ifndef P11P_PKCS11_RANDOM_H
#define P11P_PKCS11_RANDOM_H

#include "pkcs11/pkcs11-3.h"
#include "pkcs11/session.h"

CK_RV p11p_random_generate(struct p11p_session *s, CK_BYTE_PTR out,
                           CK_ULONG len);
CK_RV p11p_random_seed(struct p11p_session *s, CK_BYTE_PTR seed, CK_ULONG len);

#endif

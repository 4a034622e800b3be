/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The core's private OpenSSL library context: only the default provider is
 * loaded in it, so that an application that loaded the p11portal provider
 * can never make the module call itself (DESIGN.md "Rules"). Every core
 * crypto call (keys, CSR, chain checks) fetches from it.
 */
#ifndef P11P_CORE_BASE_OSSL_H
#define P11P_CORE_BASE_OSSL_H

#include <openssl/types.h>

#include "core/base/status.h"

/* Returns the shared private context, created on first use (thread-safe).
 * NULL only if OpenSSL cannot load its default provider. */
OSSL_LIB_CTX *p11p_ossl_libctx(void);

/* Logs the OpenSSL error queue at error level for component, prefixed with
 * what, and clears it. */
void p11p_ossl_log_errors(const char *component, const char *what);

#endif

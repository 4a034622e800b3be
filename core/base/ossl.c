/* SPDX-License-Identifier: Apache-2.0 */
/* The core's private OpenSSL library context. */
#include "core/base/ossl.h"

#include <pthread.h>

#include <openssl/err.h>
#include <openssl/provider.h>

#include "core/base/log.h"

static pthread_once_t ossl_once = PTHREAD_ONCE_INIT;
static OSSL_LIB_CTX *ossl_ctx;

static void ossl_init_once(void)
{
    OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
    if (ctx == NULL) {
        return;
    }
    /* Kept loaded for the life of the process: unloading from a library
     * destructor races with OpenSSL's own exit handlers. */
    if (OSSL_PROVIDER_load(ctx, "default") == NULL) {
        OSSL_LIB_CTX_free(ctx);
        return;
    }
    ossl_ctx = ctx;
}

OSSL_LIB_CTX *p11p_ossl_libctx(void)
{
    pthread_once(&ossl_once, ossl_init_once);
    return ossl_ctx;
}

void p11p_ossl_log_errors(const char *component, const char *what)
{
    unsigned long e;
    char buf[256];
    int n = 0;
    while ((e = ERR_get_error()) != 0) {
        if (n++ < 4) {
            ERR_error_string_n(e, buf, sizeof(buf));
            P11P_ERROR(component, "%s: %s", what, buf);
        }
    }
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Provider errors (STYLE.md 3.5, 3.11): our own reason enum and strings, and
 * P11PV_RAISE, which puts an error on OpenSSL's queue through the core
 * callbacks captured at init and writes the same text to the log. Messages
 * name the pkcs11: URI and the CKR_ name; never a PIN.
 */
#ifndef P11P_PROVIDER_ERR_H
#define P11P_PROVIDER_ERR_H

#include <openssl/core.h>
#include <p11-kit/pkcs11.h>

struct p11p_prov_ctx;

enum p11p_prov_reason {
    P11P_PROV_R_MODULE_LOAD = 1,
    P11P_PROV_R_PKCS11 = 2,
    P11P_PROV_R_URI = 3,
    P11P_PROV_R_NOT_FOUND = 4,
    P11P_PROV_R_LOGIN = 5,
    P11P_PROV_R_PIN_SOURCE = 6,
    P11P_PROV_R_UNSUPPORTED = 7,
    P11P_PROV_R_INVALID_ARG = 8,
    P11P_PROV_R_NOMEM = 9,
    P11P_PROV_R_CRYPTO = 10,
    P11P_PROV_R_NO_PRIVATE_KEY = 11,
};

/* The reason table for OSSL_FUNC_PROVIDER_GET_REASON_STRINGS. */
const OSSL_ITEM *p11p_prov_err_reasons(void);

/* Returns "CKR_PIN_INCORRECT" for a CK_RV, "CKR_0x..." (static buffer per
 * thread) for unknown values. Never NULL. */
const char *p11p_prov_err_ckr_name(CK_RV rv);

/* Raises an error on OpenSSL's queue and logs it. Use P11PV_RAISE. */
void p11p_prov_err_raise(const struct p11p_prov_ctx *ctx, int reason,
                         const char *file, int line, const char *func,
                         const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#define P11PV_RAISE(ctx, reason, ...)                                  \
    p11p_prov_err_raise((ctx), (reason), __FILE__, __LINE__, __func__, \
                        __VA_ARGS__)

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PKCS#11 module as the provider sees it: dlopen on first use,
 * C_GetInterface("PKCS 11", 3.0) falling back to C_GetFunctionList,
 * C_Initialize with CKF_OS_LOCKING_OK, the slot list, a small pool of idle
 * sessions per slot, user login and fork handling (the child re-initialises
 * lazily and logs in again with the PIN kept in a wiped buffer).
 *
 * C_Finalize is never called: OpenSSL tears providers down from its own
 * atexit handler, where modules built on OpenSSL crash (DESIGN.md, pitfall
 * 3). The module stays loaded until the process exits.
 *
 * Locking: one mutex per module guards the slot table and session pools;
 * it is never held across a call into the module except C_Initialize and
 * C_GetSlotList during (re)initialisation, which take the separate init
 * mutex only.
 */
#ifndef P11P_PROVIDER_MODULE_H
#define P11P_PROVIDER_MODULE_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/core.h>
#include <p11-kit/pkcs11.h>

struct p11p_prov_ctx;

/* Where a PIN may come from, in this order: pin_value (from the URI),
 * pin_source (from the URI), the provider's "pin-source" parameter, the PIN
 * kept from an earlier login, pw_cb (OpenSSL's UI through the store or the
 * decoder), and OpenSSL's default UI method when allow_ui is set. */
struct p11p_prov_pin_req {
    const char *pin_value;  /* borrowed; a secret: never logged */
    const char *pin_source; /* borrowed; "file:/path" or "/path" */
    OSSL_PASSPHRASE_CALLBACK *pw_cb;
    void *pw_cbarg;
    bool allow_ui;
};

/* Returns new, empty module state (nothing loaded yet); NULL on allocation
 * failure. Free with p11p_prov_module_free. */
struct p11p_prov_module *p11p_prov_module_new(void);

/* Frees the module state (not the loaded library); NULL-safe. Never calls
 * C_Finalize. */
void p11p_prov_module_free(struct p11p_prov_module *m);

/* Loads and initialises the module if needed (first use, or first use in a
 * forked child) and returns its function list (borrowed). Raises an error
 * naming the module path and the CKR_ name on failure. Thread-safe. */
CK_RV p11p_prov_module_get(struct p11p_prov_ctx *ctx, CK_FUNCTION_LIST **out);

/* Increments at every (re)initialisation: object handles recorded under an
 * older epoch must be looked up again. */
unsigned long p11p_prov_module_epoch(struct p11p_prov_ctx *ctx);

/* Copies the ids of the slots with a token present into out (at most max);
 * returns how many. The module must have been got first. */
size_t p11p_prov_module_slots(struct p11p_prov_ctx *ctx, CK_SLOT_ID *out,
                              size_t max);

/* Copies the token info of slot into out; false if the slot is unknown. */
bool p11p_prov_module_token_info(struct p11p_prov_ctx *ctx, CK_SLOT_ID slot,
                                 CK_TOKEN_INFO *out);

/* Takes an idle read/write session on slot, or opens one. Give it back with
 * p11p_prov_session_put. */
CK_RV p11p_prov_session_get(struct p11p_prov_ctx *ctx, CK_SLOT_ID slot,
                            CK_SESSION_HANDLE *out);

/* Returns a session to the pool (closes it if the pool is full). If
 * broken is set (the module reported the session invalid), it is dropped. */
void p11p_prov_session_put(struct p11p_prov_ctx *ctx, CK_SLOT_ID slot,
                           CK_SESSION_HANDLE session, bool broken);

/* True if the token in slot needs a login that has not happened yet. */
bool p11p_prov_login_needed(struct p11p_prov_ctx *ctx, CK_SLOT_ID slot);

/* Logs the user in on slot if the token needs it, with a PIN from req.
 * uri names the object in error messages (never contains a PIN). Returns
 * CKR_OK when logged in or no login is needed. */
CK_RV p11p_prov_login(struct p11p_prov_ctx *ctx, CK_SLOT_ID slot,
                      const struct p11p_prov_pin_req *req, const char *uri);

#endif

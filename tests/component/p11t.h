/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared helpers of the component tests (STYLE.md 3.14): each t_<group>.c
 * program dlopens the built module (path from $P11P_MODULE or argv[1]),
 * works in its own temporary folder (XDG_DATA_HOME, P11PORTAL_CONF) and
 * speaks only the standard PKCS#11 API, never our internals. Checks come
 * from tests/unit/check.h. The PINs are canaries: secrets_canary.sh greps
 * for them.
 */
#ifndef P11P_TESTS_COMPONENT_P11T_H
#define P11P_TESTS_COMPONENT_P11T_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#define P11T_SO_PIN      "canary-so-7d2a41"
#define P11T_USER_PIN    "canary-user-5c1f9e"
#define P11T_USER_PIN2   "canary-user2-b83e07"
#define P11T_TOKEN_LABEL "p11portal"

/* A configuration for tests: one local token with a cheap KDF (tests log in
 * often) and a small PIN retry limit. */
#define P11T_CONF_FAST        \
    "[token \"p11portal\"]\n" \
    "driver = local\n"        \
    "kdf_iterations = 1000\n" \
    "pin_max_retries = 3\n"

/* A string or byte literal as a CK_ATTRIBUTE value (PKCS#11 takes
 * non-const pointers; -Wwrite-strings is on). */
#define P11T_V(lit) ((void *)(lit))

/* PKCS#11 3.0 interface record (p11-kit 0.24's pkcs11.h lacks it). */
struct p11t_interface {
    CK_CHAR *name;
    void *functions;
    CK_FLAGS flags;
};
typedef CK_RV (*p11t_get_interface_list_fn)(struct p11t_interface *list,
                                            CK_ULONG *count);
typedef CK_RV (*p11t_get_interface_fn)(CK_UTF8CHAR *name, CK_VERSION *version,
                                       struct p11t_interface **out,
                                       CK_FLAGS flags);

struct p11t {
    void *dl;
    CK_FUNCTION_LIST *f;
    char dir[256];      /* the test's temporary folder */
    char conf[300];     /* its config file, "" for none */
    char data[300];     /* its XDG_DATA_HOME */
    const char *module; /* module path */
    bool initialized;
    CK_SLOT_ID slot;
};

/* Loads the module and makes the temporary folder; exports XDG_DATA_HOME and,
 * when conf_text is not NULL, writes it and exports P11PORTAL_CONF (else
 * unsets it: the embedded default). Exits 77 (skip) when no module path is
 * given, 1 when the module does not load. */
void p11t_setup(struct p11t *t, int argc, char **argv, const char *conf_text);

/* C_Finalize if initialized, dlclose, removes the folder. */
void p11t_teardown(struct p11t *t);

/* dlsym from the module. */
void *p11t_sym(struct p11t *t, const char *name);

/* C_Initialize with CKF_OS_LOCKING_OK, then picks the first slot. */
CK_RV p11t_init(struct p11t *t);
CK_RV p11t_finalize(struct p11t *t);

/* C_InitToken (SO PIN), then C_InitPIN with the user PIN. */
CK_RV p11t_init_token(struct p11t *t);

/* Opens a RW session and logs the user in. */
CK_RV p11t_open_user(struct p11t *t, CK_SESSION_HANDLE *out);

/* Key pair generation; enroll false sets CKA_P11PORTAL_NO_ENROLL. Sets
 * CKA_SIGN/VERIFY (and DECRYPT/ENCRYPT for RSA), token objects. */
CK_RV p11t_gen_rsa(struct p11t *t, CK_SESSION_HANDLE s, CK_ULONG bits,
                   const char *label, bool enroll, CK_OBJECT_HANDLE *pub,
                   CK_OBJECT_HANDLE *priv);
/* curve: "P-256", "P-384", "P-521" */
CK_RV p11t_gen_ec(struct p11t *t, CK_SESSION_HANDLE s, const char *curve,
                  const char *label, bool enroll, CK_OBJECT_HANDLE *pub,
                  CK_OBJECT_HANDLE *priv);
CK_RV p11t_gen_ed25519(struct p11t *t, CK_SESSION_HANDLE s, const char *label,
                       bool enroll, CK_OBJECT_HANDLE *pub,
                       CK_OBJECT_HANDLE *priv);
/* Generic form with extra private-key attributes appended. */
CK_RV p11t_gen(struct p11t *t, CK_SESSION_HANDLE s, CK_MECHANISM_TYPE mech,
               CK_ATTRIBUTE *pub_extra, CK_ULONG n_pub_extra,
               CK_ATTRIBUTE *priv_extra, CK_ULONG n_priv_extra,
               CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv);

/* Reads one attribute into a new buffer (*out, *out_len; free()). */
CK_RV p11t_get_attr(struct p11t *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                    CK_ATTRIBUTE_TYPE type, unsigned char **out,
                    CK_ULONG *out_len);
CK_RV p11t_get_ulong(struct p11t *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                     CK_ATTRIBUTE_TYPE type, CK_ULONG *out);

/* Finds up to max objects matching the template. */
CK_RV p11t_find(struct p11t *t, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl,
                CK_ULONG n, CK_OBJECT_HANDLE *out, CK_ULONG max,
                CK_ULONG *out_n);
/* Number of objects of a class with a label (class (CK_ULONG)-1 = any). */
CK_ULONG p11t_count(struct p11t *t, CK_SESSION_HANDLE s, CK_OBJECT_CLASS klass,
                    const char *label);

/* The public key of a token public-key object as an OpenSSL key (RSA from
 * CKA_MODULUS/CKA_PUBLIC_EXPONENT, EC from CKA_EC_PARAMS/CKA_EC_POINT,
 * Ed25519 from CKA_EC_POINT). NULL on failure. */
EVP_PKEY *p11t_pubkey(struct p11t *t, CK_SESSION_HANDLE s,
                      CK_OBJECT_HANDLE pub);

/* CKA_EC_POINT may be a DER OCTET STRING (the spec) or raw: returns a
 * pointer into buf to the raw point and its length. */
const unsigned char *p11t_ec_point_raw(const unsigned char *buf, size_t len,
                                       size_t *out_len);

/* A fresh copy of the conf path or data folder, for child processes. */
void p11t_write_file(const char *path, const char *text);

#endif

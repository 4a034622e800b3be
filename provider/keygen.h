/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key generation for keymgmt's gen: in memory with the default provider
 * when nothing asks for a token (TLS ephemeral keys, plain genpkey), or on
 * the token with C_GenerateKeyPair, carrying the p11portal enrollment
 * attributes (subject, SANs, profile, term, no-enroll) in the private-key
 * template only when they were given, so that other modules (SoftHSM2)
 * that reject unknown attributes still work.
 */
#ifndef P11P_PROVIDER_KEYGEN_H
#define P11P_PROVIDER_KEYGEN_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/core.h>

struct p11p_prov_ctx;
struct p11p_prov_key;

struct p11p_prov_gen {
    struct p11p_prov_ctx *ctx; /* borrowed */
    int type;                  /* EVP_PKEY_RSA, EVP_PKEY_EC, EVP_PKEY_ED25519 */
    size_t bits;               /* RSA modulus bits (default 2048) */
    unsigned long e;           /* RSA public exponent (default 65537) */
    char *group;               /* EC group name, owned */
    char *uri;                 /* "pkcs11_uri": token and/or object, owned */
    char *token;               /* "token": a pkcs11: URI or a token label */
    char *label;               /* "label" (CKA_LABEL) */
    char *id;                  /* "id": hex CKA_ID */
    char *subject;             /* CKA_P11PORTAL_SUBJECT */
    char *sans;                /* CKA_P11PORTAL_SANS */
    char *profile;             /* CKA_P11PORTAL_PROFILE */
    unsigned long term_days;   /* CKA_P11PORTAL_TERM_DAYS, 0 = absent */
    int no_enroll;             /* CKA_P11PORTAL_NO_ENROLL, -1 = absent */
};

/* True if a parameter asked for a token key. */
bool p11p_prov_gen_wants_token(const struct p11p_prov_gen *gen);

/* Applies OSSL_PARAMs (standard and ours) to gen. Returns 1 or 0. */
int p11p_prov_gen_set_params(struct p11p_prov_gen *gen,
                             const OSSL_PARAM params[]);

/* The settable parameters for a key type. */
const OSSL_PARAM *p11p_prov_gen_settable(int type);

/* Frees the strings of gen (not gen itself). */
void p11p_prov_gen_clear(struct p11p_prov_gen *gen);

/* Generates the key in memory (default provider). Returns a new key object
 * or NULL (raised). */
struct p11p_prov_key *p11p_prov_gen_soft(struct p11p_prov_gen *gen);

/* Generates the key pair on the token and returns the key object for the
 * private key, or NULL (raised: the message names the token URI and the
 * CKR_ name). */
struct p11p_prov_key *p11p_prov_gen_token(struct p11p_prov_gen *gen);

#endif

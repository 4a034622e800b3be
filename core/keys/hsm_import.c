/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Import into the hsm backend (p11portal import, issue 7): an existing
 * private key becomes a token object of the backing token with
 * C_CreateObject (CKA_SENSITIVE true, CKA_EXTRACTABLE false, CKA_PRIVATE
 * true) and a "P1H1" blob refers to it. The private values pass only
 * through wiped secrets on their way to the HSM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>

#include "core/keys/hsm.h"

static const CK_BBOOL yes = CK_TRUE;
static const CK_BBOOL no = CK_FALSE;

/* Big-number parameters of an RSA private key, as CKA_* of the object. */
static const struct {
    CK_ATTRIBUTE_TYPE type;
    const char *param;
} rsa_params[] = {
    { CKA_MODULUS, OSSL_PKEY_PARAM_RSA_N },
    { CKA_PUBLIC_EXPONENT, OSSL_PKEY_PARAM_RSA_E },
    { CKA_PRIVATE_EXPONENT, OSSL_PKEY_PARAM_RSA_D },
    { CKA_PRIME_1, OSSL_PKEY_PARAM_RSA_FACTOR1 },
    { CKA_PRIME_2, OSSL_PKEY_PARAM_RSA_FACTOR2 },
    { CKA_EXPONENT_1, OSSL_PKEY_PARAM_RSA_EXPONENT1 },
    { CKA_EXPONENT_2, OSSL_PKEY_PARAM_RSA_EXPONENT2 },
    { CKA_COEFFICIENT, OSSL_PKEY_PARAM_RSA_COEFFICIENT1 },
};
#define N_RSA (sizeof(rsa_params) / sizeof(rsa_params[0]))

/* Private values of priv as secrets: RSA's eight numbers, or the EC/EdDSA
 * private value (fixed length) with its curve. */
static enum p11p_status private_values(EVP_PKEY *priv, CK_KEY_TYPE *kt,
                                       struct p11p_secret *v[N_RSA],
                                       CK_ATTRIBUTE_TYPE types[N_RSA],
                                       size_t *n, const unsigned char **ecp,
                                       size_t *ecp_len)
{
    BIGNUM *bn = NULL;
    CK_KEY_TYPE curve_kt = 0;
    char group[64];
    size_t len = 0;

    *n = 0;
    if (EVP_PKEY_is_a(priv, "RSA")) {
        *kt = CKK_RSA;
        for (size_t i = 0; i < N_RSA; i++) {
            if (EVP_PKEY_get_bn_param(priv, rsa_params[i].param, &bn) != 1
                || (v[i] = p11p_secret_new((size_t)BN_num_bytes(bn))) == NULL
                || BN_bn2bin(bn, v[i]->data) < 0) {
                BN_clear_free(bn);
                return P11P_ERR_CRYPTO;
            }
            BN_clear_free(bn);
            bn = NULL;
            types[i] = rsa_params[i].type;
            *n = i + 1;
        }
        return P11P_OK;
    }
    if (EVP_PKEY_is_a(priv, "ED25519")) {
        snprintf(group, sizeof(group), "ED25519");
        *kt = CKK_EC_EDWARDS;
        if ((v[0] = p11p_secret_new(32)) == NULL) {
            return P11P_ERR_NOMEM;
        }
        len = 32;
        if (EVP_PKEY_get_raw_private_key(priv, v[0]->data, &len) != 1) {
            return P11P_ERR_CRYPTO;
        }
    } else {
        *kt = CKK_EC;
        if (EVP_PKEY_get_group_name(priv, group, sizeof(group), NULL) != 1
            || EVP_PKEY_get_bn_param(priv, OSSL_PKEY_PARAM_PRIV_KEY, &bn)
                   != 1) {
            return P11P_ERR_UNSUPPORTED;
        }
        len = ((size_t)EVP_PKEY_get_bits(priv) + 7) / 8;
        v[0] = p11p_secret_new(len);
        if (v[0] == NULL || BN_bn2binpad(bn, v[0]->data, (int)len) < 0) {
            BN_clear_free(bn);
            return P11P_ERR_CRYPTO;
        }
        BN_clear_free(bn);
    }
    types[0] = CKA_VALUE;
    *n = 1;
    return p11p_hsm_key_curve_by_group(group, &curve_kt, ecp, ecp_len);
}

enum p11p_status p11p_hsm_import_key(struct p11p_hsm_ks *ks, EVP_PKEY *priv,
                                     const struct p11p_keygen_spec *spec,
                                     struct p11p_cache_keyblob *out_blob)
{
    struct p11p_hsm_token *t = ks->tok;
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_secret *v[N_RSA] = { NULL };
    CK_ATTRIBUTE_TYPE types[N_RSA];
    CK_ATTRIBUTE tmpl[24];
    CK_ULONG n = 0;
    CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = 0;
    struct p11p_hsm_ref ref;
    EVP_PKEY *pub = NULL;
    const unsigned char *ecp = NULL;
    size_t ecp_len = 0, nv = 0;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    bool has_sess = false;
    CK_RV rv;

    memset(&ref, 0, sizeof(ref));
    if (!p11p_hsm_is_user(ks)) {
        rc = P11P_ERR_AUTH;
        goto out;
    }
    rc = p11p_keyattrs_public_copy(priv, &pub);
    if (rc == P11P_OK) {
        rc = private_values(priv, &kt, v, types, &nv, &ecp, &ecp_len);
    }
    if (rc != P11P_OK) {
        goto out;
    }
    if (spec != NULL && spec->ckaid != NULL && spec->ckaid_len > 0
        && spec->ckaid_len <= sizeof(ref.id)) {
        memcpy(ref.id, spec->ckaid, spec->ckaid_len);
        ref.id_len = spec->ckaid_len;
    } else {
        rc = p11p_keyattrs_default_id(pub, ref.id);
        ref.id_len = 20;
        if (rc != P11P_OK) {
            goto out;
        }
    }
    P11P_HSM_TMPL_ADD(tmpl, n, CKA_CLASS, &klass, sizeof(klass));
    P11P_HSM_TMPL_ADD(tmpl, n, CKA_KEY_TYPE, &kt, sizeof(kt));
    P11P_HSM_TMPL_ADD(tmpl, n, CKA_TOKEN, &yes, sizeof(yes));
    P11P_HSM_TMPL_ADD(tmpl, n, CKA_PRIVATE, &yes, sizeof(yes));
    P11P_HSM_TMPL_ADD(tmpl, n, CKA_SENSITIVE, &yes, sizeof(yes));
    P11P_HSM_TMPL_ADD(tmpl, n, CKA_EXTRACTABLE, &no, sizeof(no));
    P11P_HSM_TMPL_ADD(tmpl, n, CKA_SIGN, &yes, sizeof(yes));
    P11P_HSM_TMPL_ADD(tmpl, n, CKA_ID, ref.id, ref.id_len);
    /* Explicit: SoftHSM2 defaults CKA_DECRYPT and CKA_UNWRAP to true on
     * C_CreateObject (an EC key that may decrypt or unwrap). */
    P11P_HSM_TMPL_ADD(tmpl, n, CKA_DECRYPT, kt == CKK_RSA ? &yes : &no,
                      sizeof(yes));
    P11P_HSM_TMPL_ADD(tmpl, n, CKA_UNWRAP, &no, sizeof(no));
    P11P_HSM_TMPL_ADD(tmpl, n, CKA_DERIVE, &no, sizeof(no));
    if (kt != CKK_RSA) {
        P11P_HSM_TMPL_ADD(tmpl, n, CKA_EC_PARAMS, ecp, ecp_len);
    }
    if (spec != NULL && spec->label != NULL) {
        P11P_HSM_TMPL_ADD(tmpl, n, CKA_LABEL, spec->label, strlen(spec->label));
    }
    for (size_t i = 0; i < nv; i++) {
        P11P_HSM_TMPL_ADD(tmpl, n, types[i], v[i]->data, v[i]->len);
    }
    rc = p11p_hsm_module_session_get(t, &s);
    if (rc != P11P_OK) {
        goto out;
    }
    has_sess = true;
    p11p_hsm_module_enter(t, true);
    rv = t->fl->C_CreateObject(s, tmpl, n, &h);
    p11p_hsm_module_leave(t, true);
    if (rv != CKR_OK) {
        rc = p11p_hsm_module_fail(t, "C_CreateObject", rv,
                                  "importing a private key");
        goto out;
    }
    ref.key_type = kt;
    memcpy(ref.serial, t->serial, sizeof(ref.serial));
    rc = p11p_hsm_key_blob_encode(&ref, pub, out_blob);
    if (rc != P11P_OK) {
        p11p_hsm_module_enter(t, true);
        t->fl->C_DestroyObject(s, h);
        p11p_hsm_module_leave(t, true);
    }
out:
    if (has_sess) {
        p11p_hsm_module_session_put(t, s, true);
    }
    for (size_t i = 0; i < N_RSA; i++) {
        p11p_secret_free(v[i]);
    }
    EVP_PKEY_free(pub);
    return rc;
}

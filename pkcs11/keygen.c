/* SPDX-License-Identifier: Apache-2.0 */
/*
 * C_GenerateKeyPair -> key backend -> enrollment engine. The templates are
 * checked by the schema walker; the key spec comes from CKA_MODULUS_BITS
 * and CKA_PUBLIC_EXPONENT (RSA) or CKA_EC_PARAMS (a named-curve OID, or
 * the PrintableString "edwards25519"/"ed25519" for EdDSA); the vendor
 * attributes of the private template steer enrollment. CKA_ID is passed
 * only when a template has one: otherwise the engine sets the SHA-1 of
 * the public key on both keys after generation.
 */
#include "pkcs11/keygen.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>

#include "core/base/log.h"
#include "core/enroll/enroll.h"
#include "p11portal/pkcs11-vendor.h"
#include "pkcs11/attrs.h"
#include "pkcs11/ckr.h"
#include "pkcs11/mech.h"
#include "pkcs11/names.h"
#include "pkcs11/schema.h"

/* The vendor attributes of the private template: read here, not stored. */
static bool is_vendor_input(CK_ATTRIBUTE_TYPE t)
{
    return t == CKA_P11PORTAL_SUBJECT || t == CKA_P11PORTAL_SANS
           || t == CKA_P11PORTAL_PROFILE || t == CKA_P11PORTAL_TERM_DAYS
           || t == CKA_P11PORTAL_NO_ENROLL;
}

/* Named curves we generate, by NID. */
static bool curve_supported(CK_KEY_TYPE kt, int nid)
{
    if (kt == CKK_EC_EDWARDS) {
        return nid == NID_ED25519;
    }
    return nid == NID_X9_62_prime256v1 || nid == NID_secp384r1
           || nid == NID_secp521r1;
}

/* CKA_EC_PARAMS: DER of an OBJECT IDENTIFIER, or of a PrintableString
 * curve name (PKCS#11 3.0 section 2.3.10 for Edwards curves). */
static CK_RV parse_ec_params(const CK_ATTRIBUTE *a, CK_KEY_TYPE kt, int *nid)
{
    const unsigned char *p = a->pValue;
    ASN1_OBJECT *oid = NULL;
    ASN1_PRINTABLESTRING *name = NULL;
    int n = NID_undef;

    if (a->ulValueLen > 2 && p[0] == V_ASN1_OBJECT) {
        oid = d2i_ASN1_OBJECT(NULL, &p, (long)a->ulValueLen);
        n = oid != NULL ? OBJ_obj2nid(oid) : NID_undef;
        ASN1_OBJECT_free(oid);
    } else if (a->ulValueLen > 2 && p[0] == V_ASN1_PRINTABLESTRING) {
        name = d2i_ASN1_PRINTABLESTRING(NULL, &p, (long)a->ulValueLen);
        if (name != NULL
            && ((ASN1_STRING_length(name) == 12
                 && memcmp(ASN1_STRING_get0_data(name), "edwards25519", 12)
                        == 0)
                || (ASN1_STRING_length(name) == 7
                    && memcmp(ASN1_STRING_get0_data(name), "ed25519", 7)
                           == 0))) {
            n = NID_ED25519;
        }
        ASN1_PRINTABLESTRING_free(name);
    } else {
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (n == NID_undef) {
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (!curve_supported(kt, n)) {
        return CKR_CURVE_NOT_SUPPORTED;
    }
    *nid = n;
    return CKR_OK;
}

static CK_RV parse_rsa(const CK_ATTRIBUTE *pub, CK_ULONG n,
                       struct p11p_keygen_spec *spec)
{
    const CK_ATTRIBUTE *e = p11p_attrs_find(pub, n, CKA_PUBLIC_EXPONENT);
    CK_ULONG bits = 0;

    if (!p11p_attrs_get_ulong(pub, n, CKA_MODULUS_BITS, &bits)) {
        return CKR_TEMPLATE_INCOMPLETE;
    }
    if (bits != 2048 && bits != 3072 && bits != 4096) {
        P11P_INFO(
            "pkcs11",
            "C_GenerateKeyPair: RSA keys are 2048, 3072 or 4096 bits, not %lu",
            (unsigned long)bits);
        return CKR_KEY_SIZE_RANGE;
    }
    spec->bits = (unsigned)bits;
    if (e != NULL) {
        const unsigned char *p = e->pValue;
        unsigned long v = 0;

        if (e->ulValueLen == 0 || e->ulValueLen > sizeof(unsigned long)) {
            return CKR_ATTRIBUTE_VALUE_INVALID;
        }
        for (CK_ULONG i = 0; i < e->ulValueLen; i++) {
            v = (v << 8) | p[i];
        }
        if (v < 3 || (v & 1) == 0) {
            return CKR_ATTRIBUTE_VALUE_INVALID;
        }
        spec->rsa_exponent = v;
    }
    return CKR_OK;
}

/* Copies a template (minus vendor inputs) and adds the defaults. */
static CK_RV build_attrs(const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                         CK_OBJECT_CLASS klass, CK_KEY_TYPE kt,
                         CK_MECHANISM_TYPE mech, struct p11p_attrlist *l)
{
    enum p11p_status st = P11P_OK;

    for (CK_ULONG i = 0; i < n && st == P11P_OK; i++) {
        if (!is_vendor_input(tmpl[i].type)) {
            st = p11p_attrlist_set(l, tmpl[i].type, tmpl[i].pValue,
                                   tmpl[i].ulValueLen);
        }
    }
    /* Defaults where the template is silent: one table for the module
     * and p11portal batch (core/keys/keyattrs.c). */
    if (st == P11P_OK) {
        st = p11p_keyattrs_add_defaults(l, klass, kt, mech);
    }
    return st == P11P_OK ? CKR_OK : CKR_HOST_MEMORY;
}

/* Values our keys cannot take: session keys and extractable keys. */
static CK_RV check_policy(const CK_ATTRIBUTE *pub, CK_ULONG n_pub,
                          const CK_ATTRIBUTE *priv, CK_ULONG n_priv)
{
    bool v = false;

    if ((p11p_attrs_get_bool(pub, n_pub, CKA_TOKEN, &v) && !v)
        || (p11p_attrs_get_bool(priv, n_priv, CKA_TOKEN, &v) && !v)) {
        P11P_INFO(
            "pkcs11",
            "C_GenerateKeyPair: session keys are not supported (CKA_TOKEN false)");
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (p11p_attrs_get_bool(priv, n_priv, CKA_EXTRACTABLE, &v) && v) {
        P11P_INFO(
            "pkcs11",
            "C_GenerateKeyPair: private keys are never extractable (CKA_EXTRACTABLE true)");
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (p11p_attrs_get_bool(priv, n_priv, CKA_PRIVATE, &v) && !v) {
        P11P_INFO(
            "pkcs11",
            "C_GenerateKeyPair: private keys are private objects (CKA_PRIVATE false)");
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    return CKR_OK;
}

/* Puts the same CKA_ID and CKA_LABEL on both keys when one has it. */
static CK_RV pair_up(struct p11p_attrlist *pub, struct p11p_attrlist *priv,
                     CK_ATTRIBUTE_TYPE type)
{
    const CK_ATTRIBUTE *a = p11p_attrlist_get0(priv, type);
    struct p11p_attrlist *dst = pub;

    if (a == NULL) {
        a = p11p_attrlist_get0(pub, type);
        dst = priv;
    }
    if (a == NULL || p11p_attrlist_get0(dst, type) != NULL) {
        return CKR_OK;
    }
    return p11p_attrlist_set(dst, type, a->pValue, a->ulValueLen) == P11P_OK
               ? CKR_OK
               : CKR_HOST_MEMORY;
}

CK_RV p11p_keygen_pair(struct p11p_session *s, CK_MECHANISM_PTR mech,
                       CK_ATTRIBUTE_PTR pub, CK_ULONG n_pub,
                       CK_ATTRIBUTE_PTR priv, CK_ULONG n_priv,
                       CK_OBJECT_HANDLE_PTR out_pub,
                       CK_OBJECT_HANDLE_PTR out_priv)
{
    const struct p11p_mech *m = NULL;
    struct p11p_keygen_spec spec = { 0 };
    struct p11p_enroll_params params = { 0 };
    struct p11p_enroll_result res = { 0 };
    struct p11p_attrlist pub_attrs = { 0 };
    struct p11p_attrlist priv_attrs = { 0 };
    const CK_ATTRIBUTE *ecp = NULL;
    const CK_ATTRIBUTE *id = NULL;
    char *label = NULL, *subject = NULL, *sans = NULL, *profile = NULL;
    CK_ULONG term = 0;
    bool present = false, no_enroll = false;
    enum p11p_status st = P11P_OK;
    CK_RV rv = CKR_OK;

    if ((pub == NULL && n_pub != 0) || (priv == NULL && n_priv != 0)
        || out_pub == NULL || out_priv == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    rv = p11p_mech_check(mech, P11P_MECH_KEYGEN, &m);
    if (rv != CKR_OK) {
        goto out;
    }
    spec.key_type = m->key_type;
    rv = p11p_schema_check(P11P_SCHEMA_GENERATE, CKO_PUBLIC_KEY, m->key_type,
                           pub, n_pub, NULL);
    if (rv == CKR_OK) {
        rv = p11p_schema_check(P11P_SCHEMA_GENERATE, CKO_PRIVATE_KEY,
                               m->key_type, priv, n_priv, NULL);
    }
    if (rv == CKR_OK) {
        rv = check_policy(pub, n_pub, priv, n_priv);
    }
    if (rv != CKR_OK) {
        goto out;
    }
    if (m->key_type == CKK_RSA) {
        rv = parse_rsa(pub, n_pub, &spec);
    } else {
        ecp = p11p_attrs_find(pub, n_pub, CKA_EC_PARAMS);
        rv = ecp == NULL ? CKR_TEMPLATE_INCOMPLETE
                         : parse_ec_params(ecp, m->key_type, &spec.curve_nid);
    }
    if (rv != CKR_OK) {
        goto out;
    }
    rv = build_attrs(pub, n_pub, CKO_PUBLIC_KEY, m->key_type, m->type,
                     &pub_attrs);
    if (rv == CKR_OK) {
        rv = build_attrs(priv, n_priv, CKO_PRIVATE_KEY, m->key_type, m->type,
                         &priv_attrs);
    }
    if (rv == CKR_OK) {
        rv = pair_up(&pub_attrs, &priv_attrs, CKA_ID);
    }
    if (rv == CKR_OK) {
        rv = pair_up(&pub_attrs, &priv_attrs, CKA_LABEL);
    }
    if (rv != CKR_OK) {
        goto out;
    }
    id = p11p_attrlist_get0(&priv_attrs, CKA_ID);
    if (id != NULL && id->ulValueLen != 0) {
        spec.ckaid = id->pValue;
        spec.ckaid_len = id->ulValueLen;
    }
    label = p11p_attrlist_get_str(&priv_attrs, CKA_LABEL);
    subject = p11p_attrs_dup_str(priv, n_priv, CKA_P11PORTAL_SUBJECT, &present);
    sans = p11p_attrs_dup_str(priv, n_priv, CKA_P11PORTAL_SANS, &present);
    profile = p11p_attrs_dup_str(priv, n_priv, CKA_P11PORTAL_PROFILE, &present);
    (void)p11p_attrs_get_ulong(priv, n_priv, CKA_P11PORTAL_TERM_DAYS, &term);
    (void)p11p_attrs_get_bool(priv, n_priv, CKA_P11PORTAL_NO_ENROLL,
                              &no_enroll);
    if (label == NULL && subject == NULL && !no_enroll
        && (s->token->conf->subject == NULL
            || strstr(s->token->conf->subject, "${label}") != NULL)) {
        /* The subject template needs a label: say so before generating. */
        P11P_INFO(
            "pkcs11",
            "C_GenerateKeyPair: token \"%s\" builds the subject from ${label}: give CKA_LABEL or CKA_P11PORTAL_SUBJECT",
            s->token->conf->name);
        rv = CKR_TEMPLATE_INCOMPLETE;
        goto out;
    }
    spec.label = label;
    params.label = label;
    params.subject = subject;
    params.sans = sans;
    params.profile = profile;
    params.term_days = (unsigned)term;
    params.no_enroll = no_enroll;

    /* No lock is held here: the engine may talk to the portal. */
    st = p11p_enroll_keypair(s->token->enroll, &spec, &params, &pub_attrs,
                             &priv_attrs, &res);
    if (st != P11P_OK) {
        p11p_session_set_status(s, st);
    }
    switch (st) {
    case P11P_OK:
        break;
    case P11P_ERR_REJECTED:
        P11P_ERROR(
            "pkcs11",
            "token \"%s\": C_GenerateKeyPair for \"%s\": the portal rejected the request: %s",
            s->token->conf->name, label != NULL ? label : "", res.message);
        rv = CKR_FUNCTION_FAILED;
        goto out;
    case P11P_ERR_AUTH:
        rv = CKR_USER_NOT_LOGGED_IN;
        goto out;
    case P11P_ERR_INVALID_INPUT:
        P11P_INFO("pkcs11", "C_GenerateKeyPair: %s", res.message);
        rv = CKR_TEMPLATE_INCONSISTENT;
        goto out;
    case P11P_ERR_NOT_FOUND:
        /* A key that vanished from a backing HSM mid-generation: no handle
         * of the caller's is invalid, so not CKR_OBJECT_HANDLE_INVALID
         * (which C_GenerateKeyPair may not return). */
        P11P_INFO("pkcs11", "C_GenerateKeyPair: %s%s%s", p11p_status_text(st),
                  res.message[0] ? ": " : "", res.message);
        rv = CKR_DEVICE_ERROR;
        goto out;
    default:
        P11P_INFO("pkcs11", "C_GenerateKeyPair: %s%s%s", p11p_status_text(st),
                  res.message[0] ? ": " : "", res.message);
        rv = p11p_ckr_from_status(st);
        goto out;
    }
    if (res.cert_id == 0 && res.order_id != 0) {
        P11P_INFO(
            "pkcs11",
            "token \"%s\": order %lld for \"%s\" is pending; the certificate will appear when issued",
            s->token->conf->name, (long long)res.order_id,
            label != NULL ? label : "");
    }
    *out_pub = (CK_OBJECT_HANDLE)res.pub_id;
    *out_priv = (CK_OBJECT_HANDLE)res.priv_id;
out:
    free(label);
    free(subject);
    free(sans);
    free(profile);
    p11p_attrlist_clear(&pub_attrs);
    p11p_attrlist_clear(&priv_attrs);
    return rv;
}

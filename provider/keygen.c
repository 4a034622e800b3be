/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key generation (see keygen.h).
 */
#include "provider/keygen.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include "core/base/log.h"
#include "include/p11portal/pkcs11-vendor.h"
#include "provider/err.h"
#include "provider/key.h"
#include "provider/module.h"
#include "provider/provider.h"
#include "provider/uri.h"

/* Our genpkey -pkeyopt names. */
#define GEN_URI       "pkcs11_uri"
#define GEN_TOKEN     "token"
#define GEN_LABEL     "label"
#define GEN_ID        "id"
#define GEN_SUBJECT   "subject"
#define GEN_SANS      "sans"
#define GEN_PROFILE   "profile"
#define GEN_TERM_DAYS "term_days"
#define GEN_NO_ENROLL "no_enroll"

#define MAX_ID_LEN 64

static const OSSL_PARAM rsa_settable[] = {
    OSSL_PARAM_size_t(OSSL_PKEY_PARAM_RSA_BITS, NULL),
    OSSL_PARAM_size_t(OSSL_PKEY_PARAM_RSA_PRIMES, NULL),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_URI, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_TOKEN, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_LABEL, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_ID, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_SUBJECT, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_SANS, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_PROFILE, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_TERM_DAYS, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_NO_ENROLL, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM ec_settable[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_URI, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_TOKEN, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_LABEL, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_ID, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_SUBJECT, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_SANS, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_PROFILE, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_TERM_DAYS, NULL, 0),
    OSSL_PARAM_utf8_string(GEN_NO_ENROLL, NULL, 0),
    OSSL_PARAM_END,
};

/* Ed25519 takes ours only (ec_settable without the group). */
static const OSSL_PARAM *ed_settable = ec_settable + 1;

const OSSL_PARAM *p11p_prov_gen_settable(int type)
{
    switch (type) {
    case EVP_PKEY_RSA:
        return rsa_settable;
    case EVP_PKEY_EC:
        return ec_settable;
    default:
        return ed_settable;
    }
}

void p11p_prov_gen_clear(struct p11p_prov_gen *gen)
{
    if (gen == NULL) {
        return;
    }
    free(gen->group);
    free(gen->uri);
    free(gen->token);
    free(gen->label);
    free(gen->id);
    free(gen->subject);
    free(gen->sans);
    free(gen->profile);
    gen->group = gen->uri = gen->token = gen->label = gen->id = NULL;
    gen->subject = gen->sans = gen->profile = NULL;
}

bool p11p_prov_gen_wants_token(const struct p11p_prov_gen *gen)
{
    return gen->uri != NULL || gen->token != NULL || gen->label != NULL
           || gen->id != NULL || gen->subject != NULL || gen->sans != NULL
           || gen->profile != NULL || gen->term_days != 0
           || gen->no_enroll != -1;
}

static int set_string(const OSSL_PARAM params[], const char *name, char **dst)
{
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, name);
    char *s = NULL;

    if (p == NULL) {
        return 1;
    }
    if (!OSSL_PARAM_get_utf8_string(p, &s, 0)) {
        return 0;
    }
    free(*dst);
    *dst = strdup(s);
    OPENSSL_free(s);
    return *dst != NULL;
}

static bool parse_bool(const char *s, int *out)
{
    if (strcmp(s, "1") == 0 || strcmp(s, "yes") == 0
        || strcmp(s, "true") == 0) {
        *out = 1;
        return true;
    }
    if (strcmp(s, "0") == 0 || strcmp(s, "no") == 0
        || strcmp(s, "false") == 0) {
        *out = 0;
        return true;
    }
    return false;
}

int p11p_prov_gen_set_params(struct p11p_prov_gen *gen,
                             const OSSL_PARAM params[])
{
    const OSSL_PARAM *p;
    char *tmp = NULL;
    int ok = 0;

    if (params == NULL) {
        return 1;
    }
    p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_BITS);
    if (p != NULL && !OSSL_PARAM_get_size_t(p, &gen->bits)) {
        goto out;
    }
    p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_E);
    if (p != NULL) {
        BIGNUM *bn = NULL;

        if (!OSSL_PARAM_get_BN(p, &bn)) {
            goto out;
        }
        gen->e = BN_get_word(bn);
        BN_free(bn);
    }
    if (!set_string(params, OSSL_PKEY_PARAM_GROUP_NAME, &gen->group)
        || !set_string(params, GEN_URI, &gen->uri)
        || !set_string(params, GEN_TOKEN, &gen->token)
        || !set_string(params, GEN_LABEL, &gen->label)
        || !set_string(params, GEN_ID, &gen->id)
        || !set_string(params, GEN_SUBJECT, &gen->subject)
        || !set_string(params, GEN_SANS, &gen->sans)
        || !set_string(params, GEN_PROFILE, &gen->profile)) {
        goto out;
    }
    if (!set_string(params, GEN_TERM_DAYS, &tmp)) {
        goto out;
    }
    if (tmp != NULL) {
        char *end = NULL;

        gen->term_days = strtoul(tmp, &end, 10);
        if (end == tmp || *end != '\0' || gen->term_days == 0) {
            P11PV_RAISE(gen->ctx, P11P_PROV_R_INVALID_ARG,
                        "term_days must be a positive number of days");
            goto out;
        }
        free(tmp);
        tmp = NULL;
    }
    if (!set_string(params, GEN_NO_ENROLL, &tmp)) {
        goto out;
    }
    if (tmp != NULL && !parse_bool(tmp, &gen->no_enroll)) {
        P11PV_RAISE(gen->ctx, P11P_PROV_R_INVALID_ARG,
                    "no_enroll must be yes or no");
        goto out;
    }
    ok = 1;
out:
    free(tmp);
    return ok;
}

struct p11p_prov_key *p11p_prov_gen_soft(struct p11p_prov_gen *gen)
{
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *pkey = NULL;
    struct p11p_prov_key *key = NULL;
    struct p11p_prov_key *ret = NULL;
    OSSL_PARAM params[3];
    size_t n = 0;
    BIGNUM *e = NULL;
    unsigned char ebuf[sizeof(unsigned long)];
    size_t i;

    pctx = EVP_PKEY_CTX_new_from_name(gen->ctx->libctx,
                                      p11p_prov_key_type_name(gen->type),
                                      P11P_PROV_SOFT_PROPQ);
    if (pctx == NULL || EVP_PKEY_keygen_init(pctx) <= 0) {
        goto out;
    }
    if (gen->type == EVP_PKEY_RSA) {
        /* Native-endian unsigned integer for OSSL_PARAM_BN. */
        unsigned long ev = gen->e;

        for (i = 0; i < sizeof(ebuf); i++) {
            ebuf[i] = ((unsigned char *)&ev)[i];
        }
        params[n++] =
            OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_RSA_BITS, &gen->bits);
        params[n++] =
            OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_E, ebuf, sizeof(ebuf));
    } else if (gen->type == EVP_PKEY_EC && gen->group != NULL) {
        params[n++] = OSSL_PARAM_construct_utf8_string(
            OSSL_PKEY_PARAM_GROUP_NAME, gen->group, 0);
    }
    params[n] = OSSL_PARAM_construct_end();
    if (EVP_PKEY_CTX_set_params(pctx, params) <= 0
        || EVP_PKEY_generate(pctx, &pkey) <= 0) {
        goto out;
    }
    key = p11p_prov_key_new(gen->ctx, gen->type);
    if (key == NULL) {
        goto out;
    }
    key->soft = pkey;
    key->pub = pkey;
    EVP_PKEY_up_ref(pkey);
    pkey = NULL;
    ret = key;
    key = NULL;
out:
    BN_free(e);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(pctx);
    p11p_prov_key_unref(key);
    return ret;
}

static bool hex_decode(const char *hex, unsigned char *out, size_t max,
                       size_t *len)
{
    size_t n = strlen(hex);
    size_t i;

    if (n % 2 != 0 || n / 2 > max) {
        return false;
    }
    for (i = 0; i < n / 2; i++) {
        unsigned int v;
        char byte[3] = { hex[2 * i], hex[2 * i + 1], '\0' };
        char *end = NULL;

        v = (unsigned int)strtoul(byte, &end, 16);
        if (end != byte + 2) {
            return false;
        }
        out[i] = (unsigned char)v;
    }
    *len = n / 2;
    return true;
}

/* Picks the slot: the URI's token, a token label, the provider's "token"
 * parameter, or the first initialised token. */
static bool pick_slot(struct p11p_prov_ctx *ctx, const struct p11p_prov_uri *u,
                      const char *token_label, CK_SLOT_ID *out)
{
    CK_SLOT_ID ids[64];
    size_t n = p11p_prov_module_slots(ctx, ids, 64);
    size_t i;

    for (i = 0; i < n; i++) {
        CK_TOKEN_INFO info;

        if (!p11p_prov_module_token_info(ctx, ids[i], &info)
            || !(info.flags & CKF_TOKEN_INITIALIZED)) {
            continue;
        }
        if (u != NULL && !p11p_prov_uri_match_token(u, &info)) {
            continue;
        }
        if (token_label != NULL) {
            size_t l = strlen(token_label);

            if (l > 32 || memcmp(info.label, token_label, l) != 0
                || (l < 32 && info.label[l] != ' ')) {
                continue;
            }
        }
        *out = ids[i];
        return true;
    }
    return false;
}

static void add_attr(CK_ATTRIBUTE *t, CK_ULONG *n, CK_ATTRIBUTE_TYPE type,
                     void *value, size_t len)
{
    t[*n].type = type;
    t[*n].pValue = value;
    t[*n].ulValueLen = (CK_ULONG)len;
    (*n)++;
}

/* After generation without CKA_ID: SHA-1 of the public value (the NSS
 * convention our module uses too), set on both keys. */
static void set_default_id(CK_FUNCTION_LIST *fl, CK_SESSION_HANDLE session,
                           CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv,
                           int type)
{
    unsigned char *val = NULL;
    unsigned char *cur = NULL;
    size_t len = 0, cur_len = 0;
    unsigned char md[SHA_DIGEST_LENGTH];
    CK_ATTRIBUTE a = { CKA_ID, md, sizeof(md) };

    p11p_prov_key_get_attr(fl, session, priv, CKA_ID, &cur, &cur_len);
    if (cur_len > 0) {
        goto out;
    }
    p11p_prov_key_get_attr(fl, session, pub,
                           type == EVP_PKEY_RSA ? CKA_MODULUS : CKA_EC_POINT,
                           &val, &len);
    if (val == NULL) {
        goto out;
    }
    SHA1(val, len, md);
    fl->C_SetAttributeValue(session, pub, &a, 1);
    fl->C_SetAttributeValue(session, priv, &a, 1);
out:
    free(val);
    free(cur);
}

struct p11p_prov_key *p11p_prov_gen_token(struct p11p_prov_gen *gen)
{
    struct p11p_prov_ctx *ctx = gen->ctx;
    struct p11p_prov_key *ret = NULL;
    struct p11p_prov_uri *u = NULL;
    CK_FUNCTION_LIST *fl = NULL;
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    CK_SLOT_ID slot = 0;
    CK_RV rv;
    CK_BBOOL yes = CK_TRUE;
    CK_BBOOL no_enroll;
    CK_ULONG bits = (CK_ULONG)gen->bits;
    CK_ULONG term_days = gen->term_days;
    unsigned char exp[8];
    size_t exp_len = 0;
    unsigned char id[MAX_ID_LEN];
    size_t id_len = 0;
    unsigned char *ec_params = NULL;
    int ec_params_len = 0;
    const char *label = gen->label;
    const char *token_label = NULL;
    const char *uri_text = gen->uri;
    CK_MECHANISM mech = { 0, NULL, 0 };
    CK_ATTRIBUTE pubt[8], privt[16];
    CK_ULONG npub = 0, npriv = 0;
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
    struct p11p_prov_pin_req req = { 0 };
    bool have_id = false;
    unsigned long ev;
    int i;

    if (p11p_prov_module_get(ctx, &fl) != CKR_OK) {
        goto out;
    }
    if (uri_text == NULL && gen->token != NULL
        && strncmp(gen->token, "pkcs11:", 7) == 0) {
        uri_text = gen->token;
    } else if (gen->token != NULL) {
        token_label = gen->token;
    } else if (uri_text == NULL) {
        uri_text = ctx->token_uri;
    }
    if (uri_text != NULL) {
        u = p11p_prov_uri_parse(ctx, uri_text);
        if (u == NULL) {
            goto out;
        }
        if (label == NULL) {
            label = u->label;
        }
        if (u->id != NULL && u->id_len <= MAX_ID_LEN) {
            memcpy(id, u->id, u->id_len);
            id_len = u->id_len;
            have_id = true;
        }
        req.pin_value = u->pin != NULL ? (const char *)u->pin->data : NULL;
        req.pin_source = u->pin_source;
    }
    if (gen->id != NULL) {
        if (!hex_decode(gen->id, id, sizeof(id), &id_len)) {
            P11PV_RAISE(ctx, P11P_PROV_R_INVALID_ARG,
                        "id must be hexadecimal, at most %d bytes", MAX_ID_LEN);
            goto out;
        }
        have_id = true;
    }
    if (!pick_slot(ctx, u, token_label, &slot)) {
        P11PV_RAISE(
            ctx, P11P_PROV_R_NOT_FOUND, "%s: no matching token",
            u != NULL ? u->display
                      : (token_label != NULL ? token_label : ctx->module_path));
        goto out;
    }
    req.allow_ui = true;
    if (p11p_prov_login(ctx, slot, &req, u != NULL ? u->display : NULL)
        != CKR_OK) {
        goto out;
    }
    add_attr(pubt, &npub, CKA_TOKEN, &yes, sizeof(yes));
    add_attr(pubt, &npub, CKA_VERIFY, &yes, sizeof(yes));
    add_attr(privt, &npriv, CKA_TOKEN, &yes, sizeof(yes));
    add_attr(privt, &npriv, CKA_PRIVATE, &yes, sizeof(yes));
    add_attr(privt, &npriv, CKA_SENSITIVE, &yes, sizeof(yes));
    add_attr(privt, &npriv, CKA_SIGN, &yes, sizeof(yes));
    switch (gen->type) {
    case EVP_PKEY_RSA:
        mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
        ev = gen->e;
        for (i = 7; i >= 0; i--) {
            if (exp_len > 0 || ((ev >> (8 * i)) & 0xff) != 0) {
                exp[exp_len++] = (unsigned char)((ev >> (8 * i)) & 0xff);
            }
        }
        add_attr(pubt, &npub, CKA_MODULUS_BITS, &bits, sizeof(bits));
        add_attr(pubt, &npub, CKA_PUBLIC_EXPONENT, exp, exp_len);
        add_attr(pubt, &npub, CKA_ENCRYPT, &yes, sizeof(yes));
        add_attr(privt, &npriv, CKA_DECRYPT, &yes, sizeof(yes));
        break;
    case EVP_PKEY_EC: {
        int nid = NID_undef;
        ASN1_OBJECT *obj;

        if (gen->group != NULL) {
            nid = EC_curve_nist2nid(gen->group);
        }
        if (nid == NID_undef && gen->group != NULL) {
            nid = OBJ_sn2nid(gen->group);
        }
        if (nid == NID_undef) {
            P11PV_RAISE(
                ctx, P11P_PROV_R_INVALID_ARG,
                "EC key generation needs -pkeyopt group:P-256 (or P-384, P-521)");
            goto out;
        }
        mech.mechanism = CKM_EC_KEY_PAIR_GEN;
        obj = OBJ_nid2obj(nid);
        ec_params_len = i2d_ASN1_OBJECT(obj, &ec_params);
        if (ec_params_len <= 0) {
            goto out;
        }
        add_attr(pubt, &npub, CKA_EC_PARAMS, ec_params, (size_t)ec_params_len);
        break;
    }
    default:
        mech.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
        ec_params_len = i2d_ASN1_OBJECT(OBJ_nid2obj(NID_ED25519), &ec_params);
        if (ec_params_len <= 0) {
            goto out;
        }
        add_attr(pubt, &npub, CKA_EC_PARAMS, ec_params, (size_t)ec_params_len);
        break;
    }
    if (label != NULL) {
        add_attr(pubt, &npub, CKA_LABEL, (void *)label, strlen(label));
        add_attr(privt, &npriv, CKA_LABEL, (void *)label, strlen(label));
    }
    if (have_id) {
        add_attr(pubt, &npub, CKA_ID, id, id_len);
        add_attr(privt, &npriv, CKA_ID, id, id_len);
    }
    /* Vendor attributes only when given: other modules reject them. */
    if (gen->subject != NULL) {
        add_attr(privt, &npriv, CKA_P11PORTAL_SUBJECT, gen->subject,
                 strlen(gen->subject));
    }
    if (gen->sans != NULL) {
        add_attr(privt, &npriv, CKA_P11PORTAL_SANS, gen->sans,
                 strlen(gen->sans));
    }
    if (gen->profile != NULL) {
        add_attr(privt, &npriv, CKA_P11PORTAL_PROFILE, gen->profile,
                 strlen(gen->profile));
    }
    if (gen->term_days != 0) {
        add_attr(privt, &npriv, CKA_P11PORTAL_TERM_DAYS, &term_days,
                 sizeof(term_days));
    }
    if (gen->no_enroll != -1) {
        no_enroll = gen->no_enroll ? CK_TRUE : CK_FALSE;
        add_attr(privt, &npriv, CKA_P11PORTAL_NO_ENROLL, &no_enroll,
                 sizeof(no_enroll));
    }
    if (p11p_prov_session_get(ctx, slot, &session) != CKR_OK) {
        goto out;
    }
    rv = fl->C_GenerateKeyPair(session, &mech, pubt, npub, privt, npriv, &hpub,
                               &hpriv);
    if (rv != CKR_OK) {
        CK_TOKEN_INFO info;
        char *where = NULL;

        if (p11p_prov_module_token_info(ctx, slot, &info)) {
            where = p11p_prov_uri_for_object(
                &info, CKO_PRIVATE_KEY, have_id ? id : NULL, id_len, label);
        }
        P11PV_RAISE(ctx, P11P_PROV_R_PKCS11, "%s: C_GenerateKeyPair(%s): %s",
                    where != NULL ? where : ctx->module_path,
                    p11p_prov_key_type_name(gen->type),
                    p11p_prov_err_ckr_name(rv));
        free(where);
        goto out;
    }
    if (!have_id) {
        set_default_id(fl, session, hpub, hpriv, gen->type);
    }
    if (p11p_prov_key_from_token(ctx, slot, session, hpriv, &ret) != CKR_OK) {
        ret = NULL;
        goto out;
    }
    P11P_INFO("provider", "generated %s key %s",
              p11p_prov_key_type_name(gen->type),
              ret->uri != NULL ? ret->uri : "");
out:
    p11p_prov_session_put(ctx, slot, session, false);
    OPENSSL_free(ec_params);
    p11p_prov_uri_free(u);
    return ret;
}

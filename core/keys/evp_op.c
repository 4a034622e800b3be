/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#11 mechanisms as EVP operations on keys held in memory (the soft
 * backend's keys), and verification with a public key.
 *
 * Fast path (DESIGN.md "Performance budget"): an op keeps one initialised
 * EVP_PKEY_CTX (EVP_PKEY_sign_init / decrypt_init and its padding, md and
 * salt settings done once) and, for hashing mechanisms, one EVP_MD_CTX. A
 * hashing mechanism is "digest, then raw sign" on that same context, so a
 * new signature on the same key and mechanism allocates no context: only
 * EVP_DigestInit_ex2 on the kept EVP_MD_CTX (which reuses its algorithm
 * context) and EVP_PKEY_sign on the kept EVP_PKEY_CTX. EdDSA is one-shot
 * on a kept EVP_DigestSign context. ECDSA signatures are converted from
 * DER to the PKCS#11 r||s form by hand (no allocation).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "core/base/log.h"
#include "core/base/ossl.h"
#include "core/keys/internal.h"

#define COMP          "keys"
#define MAX_ECDSA_DER 160  /* SEQUENCE of two 67-byte INTEGERs + headers */
#define MAX_RSA_BYTES 1024 /* 8192-bit keys */

enum alg {
    ALG_RSA,
    ALG_EC,
    ALG_ED
};

enum scheme {
    S_RSA_PKCS_RAW, /* CKM_RSA_PKCS sign: input is a DigestInfo */
    S_RSA_PKCS,     /* hashed PKCS#1 v1.5 */
    S_RSA_PSS,      /* input is the hash, or hashed by the mechanism */
    S_ECDSA,
    S_EDDSA,
    S_DEC_RSA_PKCS,
    S_DEC_RSA_OAEP,
};

enum dg {
    DG_NONE = -1,
    DG_SHA1,
    DG_SHA224,
    DG_SHA256,
    DG_SHA384,
    DG_SHA512,
    DG_COUNT
};

struct digest_row {
    CK_MECHANISM_TYPE hash; /* CKM_SHA_1 ... */
    CK_RSA_PKCS_MGF_TYPE mgf;
    const char *name;
};

static const struct digest_row digests[DG_COUNT] = {
    { CKM_SHA_1, CKG_MGF1_SHA1, "SHA1" },
    { CKM_SHA224, CKG_MGF1_SHA224, "SHA224" },
    { CKM_SHA256, CKG_MGF1_SHA256, "SHA256" },
    { CKM_SHA384, CKG_MGF1_SHA384, "SHA384" },
    { CKM_SHA512, CKG_MGF1_SHA512, "SHA512" },
};

struct mech_row {
    CK_MECHANISM_TYPE mech;
    enum p11p_key_op_kind kind;
    enum alg alg;
    enum scheme scheme;
    enum dg digest; /* hashed by the mechanism, or DG_NONE */
};

static const struct mech_row mechs[] = {
    { CKM_RSA_PKCS, P11P_KEY_OP_SIGN, ALG_RSA, S_RSA_PKCS_RAW, DG_NONE },
    { CKM_SHA1_RSA_PKCS, P11P_KEY_OP_SIGN, ALG_RSA, S_RSA_PKCS, DG_SHA1 },
    { CKM_SHA224_RSA_PKCS, P11P_KEY_OP_SIGN, ALG_RSA, S_RSA_PKCS, DG_SHA224 },
    { CKM_SHA256_RSA_PKCS, P11P_KEY_OP_SIGN, ALG_RSA, S_RSA_PKCS, DG_SHA256 },
    { CKM_SHA384_RSA_PKCS, P11P_KEY_OP_SIGN, ALG_RSA, S_RSA_PKCS, DG_SHA384 },
    { CKM_SHA512_RSA_PKCS, P11P_KEY_OP_SIGN, ALG_RSA, S_RSA_PKCS, DG_SHA512 },
    { CKM_RSA_PKCS_PSS, P11P_KEY_OP_SIGN, ALG_RSA, S_RSA_PSS, DG_NONE },
    { CKM_SHA1_RSA_PKCS_PSS, P11P_KEY_OP_SIGN, ALG_RSA, S_RSA_PSS, DG_SHA1 },
    { CKM_SHA224_RSA_PKCS_PSS, P11P_KEY_OP_SIGN, ALG_RSA, S_RSA_PSS,
      DG_SHA224 },
    { CKM_SHA256_RSA_PKCS_PSS, P11P_KEY_OP_SIGN, ALG_RSA, S_RSA_PSS,
      DG_SHA256 },
    { CKM_SHA384_RSA_PKCS_PSS, P11P_KEY_OP_SIGN, ALG_RSA, S_RSA_PSS,
      DG_SHA384 },
    { CKM_SHA512_RSA_PKCS_PSS, P11P_KEY_OP_SIGN, ALG_RSA, S_RSA_PSS,
      DG_SHA512 },
    { CKM_ECDSA, P11P_KEY_OP_SIGN, ALG_EC, S_ECDSA, DG_NONE },
    { CKM_ECDSA_SHA1, P11P_KEY_OP_SIGN, ALG_EC, S_ECDSA, DG_SHA1 },
    { CKM_ECDSA_SHA224, P11P_KEY_OP_SIGN, ALG_EC, S_ECDSA, DG_SHA224 },
    { CKM_ECDSA_SHA256, P11P_KEY_OP_SIGN, ALG_EC, S_ECDSA, DG_SHA256 },
    { CKM_ECDSA_SHA384, P11P_KEY_OP_SIGN, ALG_EC, S_ECDSA, DG_SHA384 },
    { CKM_ECDSA_SHA512, P11P_KEY_OP_SIGN, ALG_EC, S_ECDSA, DG_SHA512 },
    { CKM_EDDSA, P11P_KEY_OP_SIGN, ALG_ED, S_EDDSA, DG_NONE },
    { CKM_RSA_PKCS, P11P_KEY_OP_DECRYPT, ALG_RSA, S_DEC_RSA_PKCS, DG_NONE },
    { CKM_RSA_PKCS_OAEP, P11P_KEY_OP_DECRYPT, ALG_RSA, S_DEC_RSA_OAEP,
      DG_NONE },
};

/* Mechanism parameters, normalised so that two ops compare with memcmp
 * on everything but the label. */
struct op_params {
    enum dg pss_md; /* PSS hash / OAEP hash, DG_NONE if unused */
    enum dg mgf_md;
    long salt_len;
    unsigned char *label; /* OAEP source data (owned) */
    size_t label_len;
};

struct evp_op {
    struct p11p_key_op base;
    const struct mech_row *row;
    struct op_params prm;
    EVP_PKEY_CTX *pctx; /* sign or decrypt context, initialised once */
    EVP_MD_CTX *mdctx;  /* digest (hashed mechs) or DigestSign (EdDSA) */
    bool updating;      /* a multi-part digest is under way */
    size_t max_out;
    size_t ec_half; /* ECDSA: bytes of r and of s */
};

/* ---- fetched digests, once per process, from the private libctx ---- */

static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_table[DG_COUNT];

static void fetch_digests(void)
{
    for (int i = 0; i < DG_COUNT; i++) {
        md_table[i] = EVP_MD_fetch(p11p_ossl_libctx(), digests[i].name, NULL);
    }
}

static const EVP_MD *get_md(enum dg d)
{
    pthread_once(&md_once, fetch_digests);
    return d == DG_NONE ? NULL : md_table[d];
}

static enum dg dg_by_hash(CK_MECHANISM_TYPE h)
{
    for (int i = 0; i < DG_COUNT; i++) {
        if (digests[i].hash == h) {
            return (enum dg)i;
        }
    }
    return DG_NONE;
}

static enum dg dg_by_mgf(CK_RSA_PKCS_MGF_TYPE m)
{
    for (int i = 0; i < DG_COUNT; i++) {
        if (digests[i].mgf == m) {
            return (enum dg)i;
        }
    }
    return DG_NONE;
}

static const struct mech_row *find_mech(CK_MECHANISM_TYPE m,
                                        enum p11p_key_op_kind kind)
{
    for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
        if (mechs[i].mech == m && mechs[i].kind == kind) {
            return &mechs[i];
        }
    }
    return NULL;
}

static bool alg_matches(EVP_PKEY *pkey, enum alg a);

static int alg_of(EVP_PKEY *pkey)
{
    static const enum alg algs[] = { ALG_RSA, ALG_EC, ALG_ED };

    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (alg_matches(pkey, algs[i])) {
            return (int)algs[i];
        }
    }
    return -1;
}

static bool alg_matches(EVP_PKEY *pkey, enum alg a)
{
    switch (a) {
    case ALG_RSA:
        return EVP_PKEY_is_a(pkey, "RSA");
    case ALG_EC:
        return EVP_PKEY_is_a(pkey, "EC");
    case ALG_ED:
        return EVP_PKEY_is_a(pkey, "ED25519");
    }
    return false;
}

static void params_clear(struct op_params *p)
{
    if (p->label != NULL) {
        OPENSSL_free(p->label);
    }
    memset(p, 0, sizeof(*p));
}

/* Reads mech->pParameter for row into p (validated again here: the module
 * checks them, but a wrong size must never be read). */
static enum p11p_status parse_params(const struct mech_row *row,
                                     const CK_MECHANISM *mech,
                                     struct op_params *p)
{
    memset(p, 0, sizeof(*p));
    p->pss_md = DG_NONE;
    p->mgf_md = DG_NONE;
    if (row->scheme == S_RSA_PSS) {
        const CK_RSA_PKCS_PSS_PARAMS *pp = mech->pParameter;
        if (pp == NULL || mech->ulParameterLen != sizeof(*pp)) {
            return P11P_ERR_INVALID_INPUT;
        }
        p->pss_md = dg_by_hash(pp->hashAlg);
        p->mgf_md = dg_by_mgf(pp->mgf);
        p->salt_len = (long)pp->sLen;
        if (p->pss_md == DG_NONE || p->mgf_md == DG_NONE || pp->sLen > INT32_MAX
            || (row->digest != DG_NONE && row->digest != p->pss_md)) {
            return P11P_ERR_INVALID_INPUT;
        }
    } else if (row->scheme == S_DEC_RSA_OAEP) {
        const CK_RSA_PKCS_OAEP_PARAMS *op = mech->pParameter;
        if (op == NULL || mech->ulParameterLen != sizeof(*op)) {
            return P11P_ERR_INVALID_INPUT;
        }
        p->pss_md = dg_by_hash(op->hashAlg);
        p->mgf_md = dg_by_mgf(op->mgf);
        if (p->pss_md == DG_NONE || p->mgf_md == DG_NONE
            || (op->source != 0 && op->source != CKZ_DATA_SPECIFIED)
            || (op->ulSourceDataLen > 0 && op->pSourceData == NULL)) {
            return P11P_ERR_INVALID_INPUT;
        }
        if (op->ulSourceDataLen > 0) {
            p->label = OPENSSL_memdup(op->pSourceData, op->ulSourceDataLen);
            if (p->label == NULL) {
                return P11P_ERR_NOMEM;
            }
            p->label_len = op->ulSourceDataLen;
        }
    }
    return P11P_OK;
}

static bool params_equal(const struct op_params *a, const struct op_params *b)
{
    return a->pss_md == b->pss_md && a->mgf_md == b->mgf_md
           && a->salt_len == b->salt_len && a->label_len == b->label_len
           && (a->label_len == 0
               || memcmp(a->label, b->label, a->label_len) == 0);
}

/* Sets padding, md, mgf1 and salt (or OAEP label) on an initialised RSA
 * context for sign, verify or decrypt. */
static bool set_rsa_params(EVP_PKEY_CTX *ctx, const struct mech_row *row,
                           const struct op_params *p)
{
    switch (row->scheme) {
    case S_RSA_PKCS_RAW:
    case S_DEC_RSA_PKCS:
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0;
    case S_RSA_PKCS:
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0
               && EVP_PKEY_CTX_set_signature_md(ctx, get_md(row->digest)) > 0;
    case S_RSA_PSS:
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) > 0
               && EVP_PKEY_CTX_set_signature_md(ctx, get_md(p->pss_md)) > 0
               && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, get_md(p->mgf_md)) > 0
               && EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int)p->salt_len) > 0;
    case S_DEC_RSA_OAEP: {
        unsigned char *label = NULL;
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0
            || EVP_PKEY_CTX_set_rsa_oaep_md(ctx, get_md(p->pss_md)) <= 0
            || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, get_md(p->mgf_md)) <= 0) {
            return false;
        }
        if (p->label_len == 0) {
            return true;
        }
        label = OPENSSL_memdup(p->label, p->label_len);
        if (label == NULL
            || EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, (int)p->label_len)
                   <= 0) {
            OPENSSL_free(label);
            return false;
        }
        return true;
    }
    case S_ECDSA:
    case S_EDDSA:
        return true;
    }
    return false;
}

/* ---- ECDSA signature format: DER <-> r||s ---- */

/* Reads one DER INTEGER at *p into a right-aligned half-width field. */
static bool der_int_to_fixed(const unsigned char **p, const unsigned char *end,
                             unsigned char *out, size_t half)
{
    const unsigned char *q = *p;
    size_t len;

    if (end - q < 2 || q[0] != 0x02 || q[1] >= 0x80) {
        return false;
    }
    len = q[1];
    q += 2;
    if ((size_t)(end - q) < len || len == 0) {
        return false;
    }
    while (len > 0 && *q == 0) {
        q++;
        len--;
    }
    if (len > half) {
        return false;
    }
    memset(out, 0, half - len);
    memcpy(out + half - len, q, len);
    *p = q + len;
    return true;
}

static bool ecdsa_der_to_raw(const unsigned char *der, size_t der_len,
                             size_t half, unsigned char *out)
{
    const unsigned char *p = der, *end = der + der_len;
    size_t seq_len;

    if (der_len < 2 || p[0] != 0x30) {
        return false;
    }
    if (p[1] < 0x80) {
        seq_len = p[1];
        p += 2;
    } else if (p[1] == 0x81 && der_len >= 3) {
        seq_len = p[2];
        p += 3;
    } else {
        return false;
    }
    if ((size_t)(end - p) != seq_len) {
        return false;
    }
    return der_int_to_fixed(&p, end, out, half)
           && der_int_to_fixed(&p, end, out + half, half) && p == end;
}

/* Writes a non-negative big-endian integer as a DER INTEGER. */
static size_t der_int(const unsigned char *v, size_t len, unsigned char *out)
{
    size_t n = 0;

    while (len > 1 && *v == 0) {
        v++;
        len--;
    }
    out[n++] = 0x02;
    out[n++] = (unsigned char)(len + ((v[0] & 0x80) != 0));
    if ((v[0] & 0x80) != 0) {
        out[n++] = 0;
    }
    memcpy(out + n, v, len);
    return n + len;
}

static bool ecdsa_raw_to_der(const unsigned char *raw, size_t half,
                             unsigned char *out, size_t *out_len)
{
    unsigned char body[MAX_ECDSA_DER];
    size_t n = 0, hdr = 0;

    if (half == 0 || half > 66) {
        return false;
    }
    n = der_int(raw, half, body);
    n += der_int(raw + half, half, body + n);
    out[hdr++] = 0x30;
    if (n >= 0x80) {
        out[hdr++] = 0x81;
    }
    out[hdr++] = (unsigned char)n;
    memcpy(out + hdr, body, n);
    *out_len = hdr + n;
    return true;
}

/* ---- keys ---- */

static void key_free(struct p11p_key *k)
{
    struct p11p_evp_op_key *ek = (struct p11p_evp_op_key *)k;

    if (ek == NULL) {
        return;
    }
    EVP_PKEY_free(ek->priv);
    EVP_PKEY_free(ek->base.pub);
    free(ek);
}

enum p11p_status p11p_evp_op_key_new(EVP_PKEY *priv, struct p11p_key **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_evp_op_key *ek = NULL;

    *out = NULL;
    ek = calloc(1, sizeof(*ek));
    if (ek == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    rc = p11p_keyattrs_public_copy(priv, &ek->base.pub);
    if (rc != P11P_OK) {
        goto out;
    }
    ek->alg = alg_of(priv);
    if (ek->alg < 0) {
        P11P_ERROR(COMP, "unsupported private key type %s",
                   EVP_PKEY_get0_type_name(priv));
        rc = P11P_ERR_UNSUPPORTED;
        goto out;
    }
    ek->base.ops = &p11p_evp_op_key_ops;
    atomic_init(&ek->base.refs, 1);
    ek->priv = priv;
    *out = &ek->base;
    ek = NULL;
    rc = P11P_OK;
out:
    key_free(ek != NULL ? &ek->base : NULL);
    return rc;
}

/* ---- operations ---- */

static void op_free(struct p11p_key_op *base)
{
    struct evp_op *op = (struct evp_op *)base;

    if (op == NULL) {
        return;
    }
    EVP_PKEY_CTX_free(op->pctx);
    EVP_MD_CTX_free(op->mdctx);
    params_clear(&op->prm);
    p11p_key_unref(op->base.key);
    free(op);
}

static enum p11p_status op_build(struct p11p_evp_op_key *k,
                                 const struct mech_row *row,
                                 struct op_params *prm, struct evp_op **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct evp_op *op = NULL;
    OSSL_LIB_CTX *lc = p11p_ossl_libctx();

    *out = NULL;
    op = calloc(1, sizeof(*op));
    if (op == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    op->base.ops = &p11p_evp_op_key_ops;
    op->base.key = p11p_key_ref(&k->base);
    op->row = row;
    op->prm = *prm;
    memset(prm, 0, sizeof(*prm)); /* the label moved into op */
    if (row->scheme == S_EDDSA) {
        op->mdctx = EVP_MD_CTX_new();
        if (op->mdctx == NULL
            || EVP_DigestSignInit_ex(op->mdctx, NULL, NULL, lc, NULL, k->priv,
                                     NULL)
                   != 1) {
            p11p_ossl_log_errors(COMP, "EdDSA sign init");
            rc = P11P_ERR_CRYPTO;
            goto out;
        }
        op->max_out = 64;
    } else {
        op->pctx = EVP_PKEY_CTX_new_from_pkey(lc, k->priv, NULL);
        if (op->pctx == NULL
            || (row->kind == P11P_KEY_OP_SIGN ? EVP_PKEY_sign_init(op->pctx)
                                              : EVP_PKEY_decrypt_init(op->pctx))
                   != 1
            || !set_rsa_params(op->pctx, row, &op->prm)) {
            p11p_ossl_log_errors(COMP, "sign/decrypt init");
            rc = P11P_ERR_CRYPTO;
            goto out;
        }
        if (row->digest != DG_NONE) {
            op->mdctx = EVP_MD_CTX_new();
            if (op->mdctx == NULL || get_md(row->digest) == NULL) {
                rc = P11P_ERR_NOMEM;
                goto out;
            }
        }
        if (row->alg == ALG_EC) {
            op->ec_half = ((size_t)EVP_PKEY_get_bits(k->priv) + 7) / 8;
            op->max_out = 2 * op->ec_half;
        } else {
            op->max_out = (size_t)EVP_PKEY_get_size(k->priv);
        }
    }
    *out = op;
    op = NULL;
    rc = P11P_OK;
out:
    op_free(op != NULL ? &op->base : NULL);
    return rc;
}

static enum p11p_status op_init(struct p11p_key *key,
                                enum p11p_key_op_kind kind,
                                const CK_MECHANISM *mech,
                                struct p11p_key_op **inout)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_evp_op_key *k = (struct p11p_evp_op_key *)key;
    struct evp_op *prev = (struct evp_op *)*inout;
    struct evp_op *op = NULL;
    const struct mech_row *row;
    struct op_params prm;

    memset(&prm, 0, sizeof(prm));
    row = find_mech(mech->mechanism, kind);
    if (row == NULL) {
        rc = P11P_ERR_UNSUPPORTED;
        goto out;
    }
    if (k->alg != (int)row->alg) {
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    rc = parse_params(row, mech, &prm);
    if (rc != P11P_OK) {
        goto out;
    }
    /* Same key, mechanism and parameters: keep the contexts. */
    if (prev != NULL && prev->base.key == key && prev->row == row
        && params_equal(&prev->prm, &prm)) {
        prev->updating = false;
        rc = P11P_OK;
        goto out;
    }
    rc = op_build(k, row, &prm, &op);
    if (rc != P11P_OK) {
        goto out;
    }
    op_free(*inout);
    *inout = &op->base;
    rc = P11P_OK;
out:
    params_clear(&prm);
    return rc;
}

static enum p11p_status op_update(struct p11p_key_op *base,
                                  const unsigned char *in, size_t inlen)
{
    struct evp_op *op = (struct evp_op *)base;

    if (op->row->digest == DG_NONE) {
        return P11P_ERR_UNSUPPORTED;
    }
    if (!op->updating) {
        if (EVP_DigestInit_ex2(op->mdctx, get_md(op->row->digest), NULL) != 1) {
            p11p_ossl_log_errors(COMP, "digest init");
            return P11P_ERR_CRYPTO;
        }
        op->updating = true;
    }
    if (EVP_DigestUpdate(op->mdctx, in, inlen) != 1) {
        p11p_ossl_log_errors(COMP, "digest update");
        return P11P_ERR_CRYPTO;
    }
    return P11P_OK;
}

/* Raw signature of tbs (a hash, or a DigestInfo for CKM_RSA_PKCS). */
static enum p11p_status sign_raw(struct evp_op *op, const unsigned char *tbs,
                                 size_t tbs_len, unsigned char *out,
                                 size_t *out_len)
{
    if (op->row->alg == ALG_EC) {
        unsigned char der[MAX_ECDSA_DER];
        size_t der_len = sizeof(der);

        if (*out_len < op->max_out) {
            return P11P_ERR_INVALID_INPUT;
        }
        if (EVP_PKEY_sign(op->pctx, der, &der_len, tbs, tbs_len) != 1
            || !ecdsa_der_to_raw(der, der_len, op->ec_half, out)) {
            p11p_ossl_log_errors(COMP, "ECDSA sign");
            return P11P_ERR_CRYPTO;
        }
        *out_len = op->max_out;
        return P11P_OK;
    }
    /* Input the mechanism cannot take is the caller's (the module maps it
     * to CKR_DATA_LEN_RANGE): a PSS hash of the wrong size, a DigestInfo
     * longer than the modulus allows (RFC 8017 9.2), a short buffer. */
    if (*out_len < op->max_out
        || (op->row->scheme == S_RSA_PSS
            && tbs_len != (size_t)EVP_MD_get_size(get_md(op->prm.pss_md)))
        || (op->row->scheme == S_RSA_PKCS_RAW && tbs_len + 11 > op->max_out)) {
        return P11P_ERR_INVALID_INPUT;
    }
    if (EVP_PKEY_sign(op->pctx, out, out_len, tbs, tbs_len) != 1) {
        p11p_ossl_log_errors(COMP, "RSA sign");
        return P11P_ERR_CRYPTO;
    }
    return P11P_OK;
}

static enum p11p_status finish_digest_sign(struct evp_op *op,
                                           unsigned char *out, size_t *out_len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (EVP_DigestFinal_ex(op->mdctx, md, &md_len) != 1) {
        p11p_ossl_log_errors(COMP, "digest final");
        return P11P_ERR_CRYPTO;
    }
    op->updating = false;
    return sign_raw(op, md, md_len, out, out_len);
}

static enum p11p_status op_final(struct p11p_key_op *base, unsigned char *out,
                                 size_t *out_len)
{
    struct evp_op *op = (struct evp_op *)base;

    if (op->row->digest == DG_NONE) {
        return P11P_ERR_UNSUPPORTED;
    }
    if (!op->updating) {
        /* No update at all: the signature of empty input. */
        enum p11p_status rc = op_update(base, NULL, 0);
        if (rc != P11P_OK) {
            return rc;
        }
    }
    return finish_digest_sign(op, out, out_len);
}

static enum p11p_status decrypt(struct evp_op *op, const unsigned char *in,
                                size_t inlen, unsigned char *out,
                                size_t *out_len)
{
    unsigned char buf[MAX_RSA_BYTES];
    size_t n = sizeof(buf);
    enum p11p_status rc = P11P_ERR_INTERNAL;

    /* Into a buffer of the full modulus size, whatever the caller's. */
    if (op->max_out > sizeof(buf)) {
        return P11P_ERR_UNSUPPORTED;
    }
    if (EVP_PKEY_decrypt(op->pctx, buf, &n, in, inlen) != 1) {
        /* A bad padding or length: CKR_ENCRYPTED_DATA_INVALID. Logged at
         * debug only (no padding-oracle detail in the log). */
        ERR_clear_error();
        P11P_DEBUG(COMP, "RSA decryption failed (padding or length)");
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    if (n > *out_len) {
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    memcpy(out, buf, n);
    *out_len = n;
    rc = P11P_OK;
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

static enum p11p_status op_oneshot(struct p11p_key_op *base,
                                   const unsigned char *in, size_t inlen,
                                   unsigned char *out, size_t *out_len)
{
    struct evp_op *op = (struct evp_op *)base;
    enum p11p_status rc;

    switch (op->row->scheme) {
    case S_DEC_RSA_PKCS:
    case S_DEC_RSA_OAEP:
        return decrypt(op, in, inlen, out, out_len);
    case S_EDDSA:
        if (*out_len < op->max_out) {
            return P11P_ERR_INVALID_INPUT;
        }
        if (EVP_DigestSign(op->mdctx, out, out_len, in, inlen) != 1) {
            p11p_ossl_log_errors(COMP, "EdDSA sign");
            return P11P_ERR_CRYPTO;
        }
        return P11P_OK;
    case S_RSA_PKCS_RAW:
    case S_RSA_PKCS:
    case S_RSA_PSS:
    case S_ECDSA:
        break;
    }
    if (op->row->digest == DG_NONE) {
        return sign_raw(op, in, inlen, out, out_len);
    }
    op->updating = false;
    rc = op_update(base, in, inlen);
    if (rc != P11P_OK) {
        return rc;
    }
    return finish_digest_sign(op, out, out_len);
}

static size_t op_max_output(const struct p11p_key_op *base)
{
    return ((const struct evp_op *)base)->max_out;
}

const struct p11p_key_ops p11p_evp_op_key_ops = {
    .free = key_free,
    .op_init = op_init,
    .op_update = op_update,
    .op_final = op_final,
    .op_oneshot = op_oneshot,
    .op_max_output = op_max_output,
    .op_free = op_free,
};

/* ---- verification with a public key ---- */

enum p11p_status p11p_evp_op_verify(EVP_PKEY *pub, const CK_MECHANISM *mech,
                                    const unsigned char *data, size_t len,
                                    const unsigned char *sig, size_t sig_len)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    OSSL_LIB_CTX *lc = p11p_ossl_libctx();
    const struct mech_row *row;
    struct op_params prm;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *mdctx = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    unsigned char der[MAX_ECDSA_DER];
    size_t der_len = 0;
    const unsigned char *tbs = data;
    size_t tbs_len = len;
    int ok;

    memset(&prm, 0, sizeof(prm));
    if (pub == NULL || mech == NULL || (data == NULL && len > 0)
        || sig == NULL) {
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    row = find_mech(mech->mechanism, P11P_KEY_OP_SIGN);
    if (row == NULL) {
        rc = P11P_ERR_UNSUPPORTED;
        goto out;
    }
    if (!alg_matches(pub, row->alg)) {
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    rc = parse_params(row, mech, &prm);
    if (rc != P11P_OK) {
        goto out;
    }
    if (row->scheme == S_EDDSA) {
        mdctx = EVP_MD_CTX_new();
        if (mdctx == NULL
            || EVP_DigestVerifyInit_ex(mdctx, NULL, NULL, lc, NULL, pub, NULL)
                   != 1) {
            p11p_ossl_log_errors(COMP, "EdDSA verify init");
            rc = P11P_ERR_CRYPTO;
            goto out;
        }
        ok = EVP_DigestVerify(mdctx, sig, sig_len, data, len);
        rc = ok == 1 ? P11P_OK : P11P_ERR_AUTH;
        goto out;
    }
    if (row->digest != DG_NONE) {
        if (EVP_Digest(data, len, md, &md_len, get_md(row->digest), NULL)
            != 1) {
            p11p_ossl_log_errors(COMP, "digest");
            rc = P11P_ERR_CRYPTO;
            goto out;
        }
        tbs = md;
        tbs_len = md_len;
    }
    if (row->alg == ALG_EC) {
        size_t half = ((size_t)EVP_PKEY_get_bits(pub) + 7) / 8;
        if (sig_len != 2 * half
            || !ecdsa_raw_to_der(sig, half, der, &der_len)) {
            rc = P11P_ERR_AUTH;
            goto out;
        }
        sig = der;
        sig_len = der_len;
    }
    pctx = EVP_PKEY_CTX_new_from_pkey(lc, pub, NULL);
    if (pctx == NULL || EVP_PKEY_verify_init(pctx) != 1
        || !set_rsa_params(pctx, row, &prm)) {
        p11p_ossl_log_errors(COMP, "verify init");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    ok = EVP_PKEY_verify(pctx, sig, sig_len, tbs, tbs_len);
    rc = ok == 1 ? P11P_OK : P11P_ERR_AUTH;
out:
    if (rc == P11P_ERR_AUTH) {
        ERR_clear_error();
    }
    params_clear(&prm);
    EVP_PKEY_CTX_free(pctx);
    EVP_MD_CTX_free(mdctx);
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keys of the hsm backend (hsm.h): the "P1H1" blob, generation inside the
 * backing token, loading (one find per key and login; the object handle is
 * then cached in the key), destruction, import, and the operations, which
 * pass every sign and decrypt through to the backing module with the
 * caller's CK_MECHANISM unchanged. Import is in hsm_import.c.
 *
 * The hot path: an operation owns one backing session, taken from the
 * token's pool when first used and kept for the next operation of the same
 * p11portal session, so C_SignInit + C_Sign through p11portal cost one
 * backing C_SignInit + C_Sign and no lookup.
 *
 * Hashed ECDSA (CKM_ECDSA_SHA*) that the backing module lacks (SoftHSM2
 * 2.6 has only CKM_ECDSA) is done as the digest here (not secret) and
 * CKM_ECDSA there; the first CKR_MECHANISM_INVALID is remembered per token.
 *
 * CKA_ID: the key is generated with the CKA_ID of the template when there
 * is one; otherwise with a random temporary CKA_ID, which is replaced by
 * the default id (SHA-1 of the public key, what the enrollment engine will
 * show) with C_SetAttributeValue. A token that refuses that keeps the
 * temporary id; the blob always carries the backing id, so both work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "core/base/log.h"
#include "core/base/ossl.h"
#include "core/base/str.h"
#include "core/keys/hsm.h"

#define COMP       "keys"
#define TMP_ID_LEN 16
#define MAX_ATTR   4096

struct hsm_key {
    struct p11p_key base;
    struct p11p_hsm_token *tok; /* one reference */
    CK_OBJECT_HANDLE handle;    /* the backing private key */
    size_t max_out;
};

struct hsm_op {
    struct p11p_key_op base;
    EVP_MD_CTX *md_ctx; /* hashing here (emulated mechanism), else NULL */
    EVP_MD *md;
    CK_MECHANISM_TYPE md_mech; /* the mechanism md was fetched for */
    bool hash_here;
    struct p11p_hsm_token *tok; /* one reference */
    CK_SESSION_HANDLE sess;
    bool has_sess;
    bool active; /* a backing operation may be in progress */
    bool multipart_ok;
    enum p11p_key_op_kind kind;
};

static const CK_BBOOL yes = CK_TRUE;
static const CK_BBOOL no = CK_FALSE;

/* Named curves: the DER of their OID as CKA_EC_PARAMS. */
static const struct {
    int nid;
    CK_KEY_TYPE key_type;
    const char *group; /* OpenSSL group name, for import */
    unsigned char der[10];
    size_t der_len;
} curves[] = {
    { NID_X9_62_prime256v1,
      CKK_EC,
      "prime256v1",
      { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 },
      10 },
    { NID_secp384r1,
      CKK_EC,
      "secp384r1",
      { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 },
      7 },
    { NID_secp521r1,
      CKK_EC,
      "secp521r1",
      { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 },
      7 },
    { NID_ED25519,
      CKK_EC_EDWARDS,
      "ED25519",
      { 0x06, 0x03, 0x2b, 0x65, 0x70 },
      5 },
};

/* Mechanisms without a hash: one-shot only (the caller buffers). */
static const CK_MECHANISM_TYPE raw_mechs[] = {
    CKM_RSA_PKCS,      CKM_RSA_X_509, CKM_RSA_PKCS_PSS,
    CKM_RSA_PKCS_OAEP, CKM_ECDSA,     CKM_EDDSA,
};

/* Hashed mechanisms we can emulate with a digest here and the raw
 * mechanism there (index = bit in p11p_hsm_token.emulated). */
static const struct {
    CK_MECHANISM_TYPE mech;
    CK_MECHANISM_TYPE raw;
    const char *md;
} emulable[] = {
    { CKM_ECDSA_SHA1, CKM_ECDSA, "SHA1" },
    { CKM_ECDSA_SHA224, CKM_ECDSA, "SHA224" },
    { CKM_ECDSA_SHA256, CKM_ECDSA, "SHA256" },
    { CKM_ECDSA_SHA384, CKM_ECDSA, "SHA384" },
    { CKM_ECDSA_SHA512, CKM_ECDSA, "SHA512" },
};

/* ---- blobs ---- */

static void put_u16(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

enum p11p_status p11p_hsm_key_blob_encode(const struct p11p_hsm_ref *ref,
                                          EVP_PKEY *pub,
                                          struct p11p_cache_keyblob *out)
{
    unsigned char *spki = NULL, *b = NULL, *p;
    size_t serial_len = strlen(ref->serial), len;
    int spki_len;

    spki_len = i2d_PUBKEY(pub, &spki);
    if (spki_len <= 0 || spki_len > 0xffff || ref->id_len > 0xffff) {
        OPENSSL_free(spki);
        p11p_ossl_log_errors(COMP, "encoding a public key");
        return P11P_ERR_CRYPTO;
    }
    len = 4 + 4 + 2 + ref->id_len + 1 + serial_len + 2 + (size_t)spki_len;
    b = malloc(len);
    if (b == NULL) {
        OPENSSL_free(spki);
        return P11P_ERR_NOMEM;
    }
    p = b;
    memcpy(p, P11P_HSM_BLOB_MAGIC, 4);
    p += 4;
    p[0] = (unsigned char)(ref->key_type >> 24);
    p[1] = (unsigned char)(ref->key_type >> 16);
    p[2] = (unsigned char)(ref->key_type >> 8);
    p[3] = (unsigned char)ref->key_type;
    p += 4;
    put_u16(p, ref->id_len);
    p += 2;
    memcpy(p, ref->id, ref->id_len);
    p += ref->id_len;
    *p++ = (unsigned char)serial_len;
    memcpy(p, ref->serial, serial_len);
    p += serial_len;
    put_u16(p, (size_t)spki_len);
    p += 2;
    memcpy(p, spki, (size_t)spki_len);
    OPENSSL_free(spki);
    memset(out->backend, 0, sizeof(out->backend));
    memcpy(out->backend, "hsm", 3);
    out->blob = b;
    out->blob_len = len;
    return P11P_OK;
}

enum p11p_status p11p_hsm_key_blob_decode(const struct p11p_cache_keyblob *b,
                                          struct p11p_hsm_ref *out)
{
    enum p11p_status rc = P11P_ERR_CORRUPT;
    const unsigned char *p = b->blob, *end = b->blob + b->blob_len;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (b->blob_len < 4 + 4 + 2 || memcmp(p, P11P_HSM_BLOB_MAGIC, 4) != 0) {
        goto out;
    }
    p += 4;
    out->key_type = ((CK_KEY_TYPE)p[0] << 24) | ((CK_KEY_TYPE)p[1] << 16)
                    | ((CK_KEY_TYPE)p[2] << 8) | p[3];
    p += 4;
    n = ((size_t)p[0] << 8) | p[1];
    p += 2;
    if (n == 0 || n > sizeof(out->id) || (size_t)(end - p) < n + 1) {
        goto out;
    }
    memcpy(out->id, p, n);
    out->id_len = n;
    p += n;
    n = *p++;
    if (n >= sizeof(out->serial) || (size_t)(end - p) < n + 2) {
        goto out;
    }
    memcpy(out->serial, p, n);
    out->serial[n] = '\0';
    p += n;
    n = ((size_t)p[0] << 8) | p[1];
    p += 2;
    if (n == 0 || (size_t)(end - p) != n) {
        goto out;
    }
    out->spki = p;
    out->spki_len = n;
    rc = P11P_OK;
out:
    if (rc != P11P_OK) {
        P11P_ERROR(COMP,
                   "a key blob of the hsm backend is malformed (%zu bytes)",
                   b->blob_len);
    }
    return rc;
}

/* ---- backing objects ---- */

enum p11p_status p11p_hsm_key_find(struct p11p_hsm_token *t,
                                   CK_SESSION_HANDLE s, CK_OBJECT_CLASS klass,
                                   const unsigned char *id, size_t id_len,
                                   CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &klass, sizeof(klass) },
        { CKA_ID, (void *)id, id_len },
    };
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n = 0;
    CK_RV rv;

    p11p_hsm_module_enter(t, false);
    rv = t->fl->C_FindObjectsInit(s, tmpl, 2);
    if (rv != CKR_OK) {
        p11p_hsm_module_leave(t, false);
        return p11p_hsm_module_fail(t, "C_FindObjectsInit", rv,
                                    "looking up a key");
    }
    rv = t->fl->C_FindObjects(s, found, 2, &n);
    t->fl->C_FindObjectsFinal(s);
    p11p_hsm_module_leave(t, false);
    if (rv != CKR_OK) {
        return p11p_hsm_module_fail(t, "C_FindObjects", rv, "looking up a key");
    }
    if (n == 0) {
        return P11P_ERR_NOT_FOUND;
    }
    if (n > 1) {
        char hex[2 * P11P_HSM_MAX_ID + 1];
        p11p_str_hex(id, id_len, hex);
        P11P_ERROR(
            COMP,
            "token \"%s\": the backing token \"%s\" holds several objects of class %lu with CKA_ID %s; give them distinct ids",
            t->name, t->label, (unsigned long)klass, hex);
        return P11P_ERR_CORRUPT;
    }
    *out = found[0];
    return P11P_OK;
}

/* Reads the attributes types[] of h into l (two-step, bounded). */
static enum p11p_status get_attrs(struct p11p_hsm_token *t, CK_SESSION_HANDLE s,
                                  CK_OBJECT_HANDLE h,
                                  const CK_ATTRIBUTE_TYPE *types, size_t n,
                                  struct p11p_attrlist *l)
{
    enum p11p_status rc = P11P_OK;
    CK_ATTRIBUTE a;
    unsigned char *v = NULL;
    CK_RV rv;

    for (size_t i = 0; i < n && rc == P11P_OK; i++) {
        a.type = types[i];
        a.pValue = NULL;
        a.ulValueLen = 0;
        p11p_hsm_module_enter(t, false);
        rv = t->fl->C_GetAttributeValue(s, h, &a, 1);
        p11p_hsm_module_leave(t, false);
        if (rv != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION
            || a.ulValueLen > MAX_ATTR) {
            rc = p11p_hsm_module_fail(t, "C_GetAttributeValue", rv,
                                      "reading a public key");
            break;
        }
        v = malloc(a.ulValueLen + 1);
        if (v == NULL) {
            rc = P11P_ERR_NOMEM;
            break;
        }
        a.pValue = v;
        p11p_hsm_module_enter(t, false);
        rv = t->fl->C_GetAttributeValue(s, h, &a, 1);
        p11p_hsm_module_leave(t, false);
        if (rv != CKR_OK) {
            rc = p11p_hsm_module_fail(t, "C_GetAttributeValue", rv,
                                      "reading a public key");
        } else {
            rc = p11p_attrlist_set(l, types[i], v, a.ulValueLen);
        }
        free(v);
        v = NULL;
    }
    return rc;
}

enum p11p_status p11p_hsm_key_read_public(struct p11p_hsm_token *t,
                                          CK_SESSION_HANDLE s,
                                          CK_OBJECT_HANDLE h,
                                          CK_KEY_TYPE key_type, EVP_PKEY **out)
{
    static const CK_ATTRIBUTE_TYPE rsa[] = { CKA_MODULUS, CKA_PUBLIC_EXPONENT };
    static const CK_ATTRIBUTE_TYPE ec[] = { CKA_EC_PARAMS, CKA_EC_POINT };
    struct p11p_attrlist l;
    enum p11p_status rc;

    *out = NULL;
    memset(&l, 0, sizeof(l));
    rc = p11p_attrlist_set_ulong(&l, CKA_KEY_TYPE, key_type);
    if (rc == P11P_OK) {
        rc = key_type == CKK_RSA ? get_attrs(t, s, h, rsa, 2, &l)
                                 : get_attrs(t, s, h, ec, 2, &l);
    }
    if (rc == P11P_OK) {
        rc = p11p_keyattrs_to_public(&l, out);
    }
    p11p_attrlist_clear(&l);
    return rc;
}

/* Upper bound of a signature or plaintext with pub. */
static size_t max_output(EVP_PKEY *pub)
{
    if (EVP_PKEY_is_a(pub, "RSA")) {
        return (size_t)EVP_PKEY_get_size(pub);
    }
    if (EVP_PKEY_is_a(pub, "ED25519")) {
        return 64;
    }
    return 2 * (((size_t)EVP_PKEY_get_bits(pub) + 7) / 8);
}

/* ---- key operations ---- */

static void hsm_op_free(struct p11p_key_op *base)
{
    struct hsm_op *op = (struct hsm_op *)base;

    if (op == NULL) {
        return;
    }
    if (op->has_sess) {
        p11p_hsm_module_session_put(op->tok, op->sess, !op->active);
    }
    p11p_key_unref(op->base.key);
    p11p_hsm_module_token_unref(op->tok);
    EVP_MD_CTX_free(op->md_ctx);
    EVP_MD_free(op->md);
    free(op);
}

static bool is_raw(CK_MECHANISM_TYPE m)
{
    for (size_t i = 0; i < sizeof(raw_mechs) / sizeof(raw_mechs[0]); i++) {
        if (raw_mechs[i] == m) {
            return true;
        }
    }
    return false;
}

/* Prepares the local digest of emulated mechanism i. */
static CK_RV digest_init(struct hsm_op *op, size_t i)
{
    if (op->md == NULL || op->md_mech != emulable[i].mech) {
        EVP_MD_free(op->md);
        op->md = EVP_MD_fetch(p11p_ossl_libctx(), emulable[i].md, NULL);
        op->md_mech = emulable[i].mech;
    }
    if (op->md_ctx == NULL) {
        op->md_ctx = EVP_MD_CTX_new();
    }
    if (op->md == NULL || op->md_ctx == NULL
        || EVP_DigestInit_ex(op->md_ctx, op->md, NULL) != 1) {
        return CKR_HOST_MEMORY;
    }
    return CKR_OK;
}

/* C_SignInit in the backing module, or its raw mechanism with a local
 * digest when the backing module lacks the hashed one. */
static CK_RV sign_init(struct hsm_op *op, struct hsm_key *key,
                       const CK_MECHANISM *mech)
{
    CK_MECHANISM raw = { 0, NULL, 0 };
    unsigned bit;
    CK_RV rv;

    op->hash_here = false;
    for (size_t i = 0; i < sizeof(emulable) / sizeof(emulable[0]); i++) {
        if (emulable[i].mech != mech->mechanism) {
            continue;
        }
        bit = 1u << i;
        if ((atomic_load_explicit(&op->tok->emulated, memory_order_relaxed)
             & bit)
            == 0) {
            rv = op->tok->fl->C_SignInit(op->sess, (CK_MECHANISM *)mech,
                                         key->handle);
            if (rv != CKR_MECHANISM_INVALID) {
                return rv;
            }
            atomic_fetch_or(&op->tok->emulated, bit);
            P11P_INFO(
                COMP,
                "token \"%s\": backing token \"%s\" lacks mechanism 0x%lx: hashing here, signing there",
                op->tok->name, op->tok->label, (unsigned long)mech->mechanism);
        }
        raw.mechanism = emulable[i].raw;
        rv = digest_init(op, i);
        if (rv == CKR_OK) {
            rv = op->tok->fl->C_SignInit(op->sess, &raw, key->handle);
        }
        op->hash_here = rv == CKR_OK;
        return rv;
    }
    return op->tok->fl->C_SignInit(op->sess, (CK_MECHANISM *)mech, key->handle);
}

/* Signs the local digest with the backing raw mechanism. */
static enum p11p_status sign_digest(struct hsm_op *op, unsigned char *out,
                                    CK_ULONG *len);

static enum p11p_status hsm_op_init(struct p11p_key *k,
                                    enum p11p_key_op_kind kind,
                                    const CK_MECHANISM *mech,
                                    struct p11p_key_op **inout)
{
    struct hsm_key *key = (struct hsm_key *)k;
    struct hsm_op *op = (struct hsm_op *)*inout;
    enum p11p_status rc = P11P_OK;
    CK_RV rv;

    if (op != NULL && op->tok != key->tok) {
        hsm_op_free(&op->base);
        *inout = NULL;
        op = NULL;
    }
    if (op == NULL) {
        op = calloc(1, sizeof(*op));
        if (op == NULL) {
            return P11P_ERR_NOMEM;
        }
        op->base.ops = key->base.ops;
        op->tok = p11p_hsm_module_token_ref(key->tok);
        *inout = &op->base;
    }
    if (op->active && op->has_sess) {
        /* Abandoned mid-way: the backing operation may still be active,
         * and only closing its session ends it on every module. */
        p11p_hsm_module_session_put(op->tok, op->sess, false);
        op->has_sess = false;
    }
    op->active = false;
    if (!op->has_sess) {
        rc = p11p_hsm_module_session_get(op->tok, &op->sess);
        if (rc != P11P_OK) {
            return rc;
        }
        op->has_sess = true;
    }
    if (op->base.key != k) {
        p11p_key_unref(op->base.key);
        op->base.key = p11p_key_ref(k);
    }
    op->hash_here = false;
    p11p_hsm_module_enter(op->tok, false);
    rv = kind == P11P_KEY_OP_SIGN
             ? sign_init(op, key, mech)
             : op->tok->fl->C_DecryptInit(op->sess, (CK_MECHANISM *)mech,
                                          key->handle);
    p11p_hsm_module_leave(op->tok, false);
    if (rv != CKR_OK) {
        return p11p_hsm_module_fail(
            op->tok, kind == P11P_KEY_OP_SIGN ? "C_SignInit" : "C_DecryptInit",
            rv, NULL);
    }
    op->kind = kind;
    op->active = true;
    op->multipart_ok = kind == P11P_KEY_OP_SIGN && !is_raw(mech->mechanism);
    return P11P_OK;
}

/* The result of a call that ends the backing operation (all but
 * CKR_BUFFER_TOO_SMALL do, PKCS#11 2.40 section 5.2). */
static enum p11p_status op_end(struct hsm_op *op, const char *fn, CK_RV rv)
{
    if (rv == CKR_OK) {
        op->active = false;
        return P11P_OK;
    }
    if (rv != CKR_BUFFER_TOO_SMALL) {
        op->active = false;
    }
    return p11p_hsm_module_fail(op->tok, fn, rv, NULL);
}

static enum p11p_status hsm_op_update(struct p11p_key_op *base,
                                      const unsigned char *in, size_t inlen)
{
    struct hsm_op *op = (struct hsm_op *)base;
    CK_RV rv;

    if (!op->multipart_ok) {
        return P11P_ERR_UNSUPPORTED;
    }
    if (!op->active) {
        return P11P_ERR_INTERNAL;
    }
    if (op->hash_here) {
        if (EVP_DigestUpdate(op->md_ctx, in, inlen) != 1) {
            return op_end(op, "EVP_DigestUpdate", CKR_FUNCTION_FAILED);
        }
        return P11P_OK;
    }
    p11p_hsm_module_enter(op->tok, false);
    rv = op->tok->fl->C_SignUpdate(op->sess, (CK_BYTE *)in, inlen);
    p11p_hsm_module_leave(op->tok, false);
    if (rv != CKR_OK) {
        return op_end(op, "C_SignUpdate", rv);
    }
    return P11P_OK;
}

static enum p11p_status hsm_op_final(struct p11p_key_op *base,
                                     unsigned char *out, size_t *out_len)
{
    struct hsm_op *op = (struct hsm_op *)base;
    CK_ULONG len = *out_len;
    enum p11p_status rc;

    if (!op->multipart_ok) {
        return P11P_ERR_UNSUPPORTED;
    }
    if (!op->active) {
        return P11P_ERR_INTERNAL;
    }
    p11p_hsm_module_enter(op->tok, false);
    rc = op->hash_here ? sign_digest(op, out, &len)
                       : op_end(op, "C_SignFinal",
                                op->tok->fl->C_SignFinal(op->sess, out, &len));
    p11p_hsm_module_leave(op->tok, false);
    if (rc == P11P_OK) {
        *out_len = len;
    }
    return rc;
}

static enum p11p_status hsm_op_oneshot(struct p11p_key_op *base,
                                       const unsigned char *in, size_t inlen,
                                       unsigned char *out, size_t *out_len)
{
    struct hsm_op *op = (struct hsm_op *)base;
    CK_ULONG len = *out_len;
    enum p11p_status rc;

    if (!op->active) {
        return P11P_ERR_INTERNAL;
    }
    p11p_hsm_module_enter(op->tok, false);
    if (op->hash_here) {
        rc = EVP_DigestUpdate(op->md_ctx, in, inlen) == 1
                 ? sign_digest(op, out, &len)
                 : op_end(op, "EVP_DigestUpdate", CKR_FUNCTION_FAILED);
    } else if (op->kind == P11P_KEY_OP_SIGN) {
        rc = op_end(
            op, "C_Sign",
            op->tok->fl->C_Sign(op->sess, (CK_BYTE *)in, inlen, out, &len));
    } else {
        rc = op_end(
            op, "C_Decrypt",
            op->tok->fl->C_Decrypt(op->sess, (CK_BYTE *)in, inlen, out, &len));
    }
    p11p_hsm_module_leave(op->tok, false);
    if (rc == P11P_OK) {
        *out_len = len;
    }
    return rc;
}

static enum p11p_status sign_digest(struct hsm_op *op, unsigned char *out,
                                    CK_ULONG *len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (EVP_DigestFinal_ex(op->md_ctx, md, &md_len) != 1) {
        return op_end(op, "EVP_DigestFinal", CKR_FUNCTION_FAILED);
    }
    return op_end(op, "C_Sign",
                  op->tok->fl->C_Sign(op->sess, md, md_len, out, len));
}

static size_t hsm_op_max_output(const struct p11p_key_op *base)
{
    return ((const struct hsm_key *)base->key)->max_out;
}

static void hsm_key_free(struct p11p_key *k)
{
    struct hsm_key *key = (struct hsm_key *)k;

    p11p_hsm_module_token_unref(key->tok);
    EVP_PKEY_free(key->base.pub);
    free(key);
}

static const struct p11p_key_ops hsm_key_ops = {
    .free = hsm_key_free,
    .op_init = hsm_op_init,
    .op_update = hsm_op_update,
    .op_final = hsm_op_final,
    .op_oneshot = hsm_op_oneshot,
    .op_max_output = hsm_op_max_output,
    .op_free = hsm_op_free,
};

/* ---- generation ---- */

static enum p11p_status curve_of(const struct p11p_keygen_spec *spec,
                                 const unsigned char **der, size_t *len)
{
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (curves[i].nid == spec->curve_nid
            && curves[i].key_type == spec->key_type) {
            *der = curves[i].der;
            *len = curves[i].der_len;
            return P11P_OK;
        }
    }
    return P11P_ERR_UNSUPPORTED;
}

enum p11p_status p11p_hsm_key_curve_by_group(const char *group,
                                             CK_KEY_TYPE *key_type,
                                             const unsigned char **der,
                                             size_t *len)
{
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (strcmp(curves[i].group, group) == 0) {
            *key_type = curves[i].key_type;
            *der = curves[i].der;
            *len = curves[i].der_len;
            return P11P_OK;
        }
    }
    return P11P_ERR_UNSUPPORTED;
}

/* The generation templates: mechanism, public and private halves. */
struct gen_tmpl {
    CK_MECHANISM mech;
    CK_ULONG bits;
    unsigned char exp[8];
    CK_ATTRIBUTE pub[12];
    CK_ULONG n_pub;
    CK_ATTRIBUTE priv[14];
    CK_ULONG n_priv;
};

static enum p11p_status build_tmpl(const struct p11p_keygen_spec *spec,
                                   const unsigned char *id, size_t id_len,
                                   struct gen_tmpl *g)
{
    const unsigned char *ecp = NULL;
    size_t ecp_len = 0,
           label_len = spec->label != NULL ? strlen(spec->label) : 0;
    unsigned long e = spec->rsa_exponent != 0 ? spec->rsa_exponent : 65537;
    size_t elen = 0;
    enum p11p_status rc = P11P_OK;
    bool rsa = spec->key_type == CKK_RSA;

    memset(g, 0, sizeof(*g));
    if (rsa) {
        if (spec->bits < 2048 || spec->bits > 8192 || spec->bits % 8 != 0) {
            return P11P_ERR_INVALID_INPUT;
        }
        g->mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
        g->bits = spec->bits;
        for (unsigned long v = e; v != 0; v >>= 8) {
            elen++;
        }
        for (size_t i = 0; i < elen; i++) {
            g->exp[elen - 1 - i] = (unsigned char)(e >> (8 * i));
        }
    } else {
        rc = curve_of(spec, &ecp, &ecp_len);
        if (rc != P11P_OK) {
            return rc;
        }
        g->mech.mechanism = spec->key_type == CKK_EC
                                ? CKM_EC_KEY_PAIR_GEN
                                : CKM_EC_EDWARDS_KEY_PAIR_GEN;
    }
    P11P_HSM_TMPL_ADD(g->pub, g->n_pub, CKA_TOKEN, &yes, sizeof(yes));
    P11P_HSM_TMPL_ADD(g->pub, g->n_pub, CKA_PRIVATE, &no, sizeof(no));
    P11P_HSM_TMPL_ADD(g->pub, g->n_pub, CKA_VERIFY, &yes, sizeof(yes));
    P11P_HSM_TMPL_ADD(g->pub, g->n_pub, CKA_ID, id, id_len);
    P11P_HSM_TMPL_ADD(g->priv, g->n_priv, CKA_TOKEN, &yes, sizeof(yes));
    P11P_HSM_TMPL_ADD(g->priv, g->n_priv, CKA_PRIVATE, &yes, sizeof(yes));
    P11P_HSM_TMPL_ADD(g->priv, g->n_priv, CKA_SENSITIVE, &yes, sizeof(yes));
    P11P_HSM_TMPL_ADD(g->priv, g->n_priv, CKA_EXTRACTABLE, &no, sizeof(no));
    P11P_HSM_TMPL_ADD(g->priv, g->n_priv, CKA_SIGN, &yes, sizeof(yes));
    P11P_HSM_TMPL_ADD(g->priv, g->n_priv, CKA_ID, id, id_len);
    if (label_len > 0) {
        P11P_HSM_TMPL_ADD(g->pub, g->n_pub, CKA_LABEL, spec->label, label_len);
        P11P_HSM_TMPL_ADD(g->priv, g->n_priv, CKA_LABEL, spec->label,
                          label_len);
    }
    /* Only what p11portal offers: no wrapping or derivation (SoftHSM2
     * would default some of these to true). */
    P11P_HSM_TMPL_ADD(g->pub, g->n_pub, CKA_WRAP, &no, sizeof(no));
    P11P_HSM_TMPL_ADD(g->priv, g->n_priv, CKA_UNWRAP, &no, sizeof(no));
    P11P_HSM_TMPL_ADD(g->priv, g->n_priv, CKA_DERIVE, &no, sizeof(no));
    P11P_HSM_TMPL_ADD(g->priv, g->n_priv, CKA_DECRYPT, rsa ? &yes : &no,
                      sizeof(yes));
    if (rsa) {
        P11P_HSM_TMPL_ADD(g->pub, g->n_pub, CKA_MODULUS_BITS, &g->bits,
                          sizeof(g->bits));
        P11P_HSM_TMPL_ADD(g->pub, g->n_pub, CKA_PUBLIC_EXPONENT, g->exp, elen);
        P11P_HSM_TMPL_ADD(g->pub, g->n_pub, CKA_ENCRYPT, &yes, sizeof(yes));
    } else {
        P11P_HSM_TMPL_ADD(g->pub, g->n_pub, CKA_EC_PARAMS, ecp, ecp_len);
    }
    return P11P_OK;
}

/* Sets CKA_ID of both halves to the default id; false if the token
 * refuses (then the temporary id stays). */
static bool retag(struct p11p_hsm_token *t, CK_SESSION_HANDLE s,
                  CK_OBJECT_HANDLE hpub, CK_OBJECT_HANDLE hpriv,
                  const unsigned char id[20])
{
    CK_ATTRIBUTE a = { CKA_ID, (void *)id, 20 };
    CK_RV rv = t->fl->C_SetAttributeValue(s, hpriv, &a, 1);

    if (rv == CKR_OK) {
        rv = t->fl->C_SetAttributeValue(s, hpub, &a, 1);
    }
    if (rv != CKR_OK) {
        char buf[32];
        P11P_WARN(
            COMP,
            "token \"%s\": backing token \"%s\" refused to set CKA_ID (%s); the key keeps a random backing CKA_ID different from the one p11portal shows",
            t->name, t->label, p11p_hsm_module_rv_name(rv, buf, sizeof(buf)));
        return false;
    }
    return true;
}

enum p11p_status p11p_hsm_key_generate(struct p11p_hsm_ks *ks,
                                       const struct p11p_keygen_spec *spec,
                                       EVP_PKEY **out_pub,
                                       struct p11p_cache_keyblob *out_blob)
{
    struct p11p_hsm_token *t = ks->tok;
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct gen_tmpl g;
    struct p11p_hsm_ref ref;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE other = CK_INVALID_HANDLE;
    EVP_PKEY *pub = NULL;
    unsigned char defid[20];
    bool has_sess = false, keep = false, locked = false;
    CK_RV rv;

    memset(&ref, 0, sizeof(ref));
    if (!p11p_hsm_is_user(ks)) {
        rc = P11P_ERR_AUTH;
        goto out;
    }
    if (spec->ckaid != NULL && spec->ckaid_len > 0) {
        if (spec->ckaid_len > sizeof(ref.id)) {
            rc = P11P_ERR_INVALID_INPUT;
            goto out;
        }
        memcpy(ref.id, spec->ckaid, spec->ckaid_len);
        ref.id_len = spec->ckaid_len;
    } else {
        if (RAND_bytes_ex(p11p_ossl_libctx(), ref.id, TMP_ID_LEN, 0) != 1) {
            rc = P11P_ERR_CRYPTO;
            goto out;
        }
        ref.id_len = TMP_ID_LEN;
    }
    rc = build_tmpl(spec, ref.id, ref.id_len, &g);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_hsm_module_session_get(t, &s);
    if (rc != P11P_OK) {
        goto out;
    }
    has_sess = true;
    /* The id check, the generation and the retagging are one exclusive
     * section of the backing store (hsm_module.h). */
    p11p_hsm_module_enter(t, true);
    locked = true;
    rc = p11p_hsm_key_find(t, s, CKO_PRIVATE_KEY, ref.id, ref.id_len, &other);
    if (rc == P11P_OK) {
        P11P_ERROR(
            COMP,
            "token \"%s\": the backing token \"%s\" already holds a private key with this CKA_ID; adopt it or choose another id",
            t->name, t->label);
        rc = P11P_ERR_EXISTS;
        goto out;
    }
    if (rc != P11P_ERR_NOT_FOUND) {
        goto out;
    }
    rv = t->fl->C_GenerateKeyPair(s, &g.mech, g.pub, g.n_pub, g.priv, g.n_priv,
                                  &hpub, &hpriv);
    if (rv != CKR_OK) {
        rc = p11p_hsm_module_fail(t, "C_GenerateKeyPair", rv,
                                  "generating a key");
        goto out;
    }
    rc = p11p_hsm_key_read_public(t, s, hpub, spec->key_type, &pub);
    if (rc != P11P_OK) {
        goto out;
    }
    if (spec->ckaid == NULL || spec->ckaid_len == 0) {
        rc = p11p_keyattrs_default_id(pub, defid);
        if (rc != P11P_OK) {
            goto out;
        }
        if (retag(t, s, hpub, hpriv, defid)) {
            memcpy(ref.id, defid, sizeof(defid));
            ref.id_len = sizeof(defid);
        }
    }
    ref.key_type = spec->key_type;
    memcpy(ref.serial, t->serial, sizeof(ref.serial));
    rc = p11p_hsm_key_blob_encode(&ref, pub, out_blob);
    if (rc != P11P_OK) {
        goto out;
    }
    keep = true;
    *out_pub = pub;
    pub = NULL;
    rc = P11P_OK;
out:
    if (!keep && hpriv != CK_INVALID_HANDLE) {
        t->fl->C_DestroyObject(s, hpriv); /* no orphan key */
    }
    if (!keep && hpub != CK_INVALID_HANDLE) {
        t->fl->C_DestroyObject(s, hpub);
    }
    if (locked) {
        p11p_hsm_module_leave(t, true);
    }
    if (has_sess) {
        p11p_hsm_module_session_put(t, s, true);
    }
    EVP_PKEY_free(pub);
    return rc;
}

/* ---- loading and destroying ---- */

/* Decodes blob and checks it names this backing token. */
static enum p11p_status decode_here(struct p11p_hsm_ks *ks,
                                    const struct p11p_cache_keyblob *blob,
                                    struct p11p_hsm_ref *ref)
{
    enum p11p_status rc = p11p_hsm_key_blob_decode(blob, ref);

    if (rc == P11P_OK && ref->serial[0] != '\0'
        && strcmp(ref->serial, ks->tok->serial) != 0) {
        P11P_ERROR(
            COMP,
            "token \"%s\": this key lives in the backing token with serial %s, but the token is configured with the backing token \"%s\" serial %s",
            ks->tok->name, ref->serial, ks->tok->label, ks->tok->serial);
        rc = P11P_ERR_CONFIG;
    }
    return rc;
}

enum p11p_status p11p_hsm_key_load(struct p11p_hsm_ks *ks,
                                   const struct p11p_cache_keyblob *blob,
                                   struct p11p_key **out)
{
    struct p11p_hsm_token *t = ks->tok;
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_hsm_ref ref;
    struct hsm_key *key = NULL;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    const unsigned char *p;
    bool has_sess = false;

    *out = NULL;
    rc = decode_here(ks, blob, &ref);
    if (rc != P11P_OK) {
        goto out;
    }
    if (!p11p_hsm_is_user(ks)) {
        rc = P11P_ERR_AUTH;
        goto out;
    }
    key = calloc(1, sizeof(*key));
    if (key == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    key->base.ops = &hsm_key_ops;
    atomic_init(&key->base.refs, 1);
    key->tok = p11p_hsm_module_token_ref(t);
    p = ref.spki;
    key->base.pub =
        d2i_PUBKEY_ex(NULL, &p, (long)ref.spki_len, p11p_ossl_libctx(), NULL);
    if (key->base.pub == NULL) {
        p11p_ossl_log_errors(COMP, "decoding the public key of an hsm blob");
        rc = P11P_ERR_CORRUPT;
        goto out;
    }
    key->max_out = max_output(key->base.pub);
    rc = p11p_hsm_module_session_get(t, &s);
    if (rc != P11P_OK) {
        goto out;
    }
    has_sess = true;
    rc = p11p_hsm_key_find(t, s, CKO_PRIVATE_KEY, ref.id, ref.id_len,
                           &key->handle);
    if (rc == P11P_ERR_NOT_FOUND) {
        P11P_ERROR(
            COMP,
            "token \"%s\": the private key is gone from the backing token \"%s\" (module %s)",
            t->name, t->label, t->path);
    }
    if (rc != P11P_OK) {
        goto out;
    }
    *out = &key->base;
    key = NULL;
    rc = P11P_OK;
out:
    if (has_sess) {
        p11p_hsm_module_session_put(t, s, true);
    }
    if (key != NULL) {
        hsm_key_free(&key->base);
    }
    return rc;
}

enum p11p_status p11p_hsm_key_destroy(struct p11p_hsm_ks *ks,
                                      const struct p11p_cache_keyblob *blob)
{
    static const CK_OBJECT_CLASS classes[] = { CKO_PRIVATE_KEY,
                                               CKO_PUBLIC_KEY };
    struct p11p_hsm_token *t = ks->tok;
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_hsm_ref ref;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    bool has_sess = false, locked = false;
    CK_RV rv;

    rc = decode_here(ks, blob, &ref);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_hsm_module_session_get(t, &s);
    if (rc != P11P_OK) {
        goto out;
    }
    has_sess = true;
    p11p_hsm_module_enter(t, true);
    locked = true;
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
        rc = p11p_hsm_key_find(t, s, classes[i], ref.id, ref.id_len, &h);
        if (rc == P11P_ERR_NOT_FOUND) {
            continue;
        }
        if (rc != P11P_OK) {
            goto out;
        }
        rv = t->fl->C_DestroyObject(s, h);
        if (rv != CKR_OK) {
            rc = p11p_hsm_module_fail(t, "C_DestroyObject", rv,
                                      "destroying a key");
            goto out;
        }
    }
    rc = P11P_OK;
out:
    if (locked) {
        p11p_hsm_module_leave(t, true);
    }
    if (has_sess) {
        p11p_hsm_module_session_put(t, s, true);
    }
    return rc;
}

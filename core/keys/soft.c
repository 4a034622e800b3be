/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The soft key backend: private keys live in the cache, sealed under a
 * token master key (seal.c); the master key is wrapped under the SO PIN
 * and, separately, under the user PIN, each record with its own salt.
 *
 * - PINs are checked, counted and stored by pin.c (shared with the hsm
 *   backend): failures are counted in the cache across processes and
 *   crashes; at conf->pin_max_retries (0 = unlimited) the role is locked.
 * - The KDF is slow on purpose (600,000 iterations by default): it never
 *   runs with the keystore mutex or a transaction held.
 * - The master key is in memory only while someone is logged in; logout
 *   wipes it and drops the loaded keys. Loaded keys are kept by the hash
 *   of their blob, so repeated loads of one key are a lookup.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>

#include "core/base/log.h"
#include "core/base/ossl.h"
#include "core/base/str.h"
#include "core/keys/internal.h"
#include "core/keys/pin.h"
#include "core/keys/seal.h"

#define COMP        "keys"
#define MAP_BUCKETS 256u

struct loaded {
    unsigned char hash[32]; /* SHA-256 of the blob */
    struct p11p_key *key;   /* one reference */
    struct loaded *next;
};

struct soft_ks {
    struct p11p_keystore base;
    struct p11p_cache *cache;   /* borrowed */
    char *token;                /* for log lines */
    struct p11p_pin pin;        /* PIN records (pin.c) */
    pthread_mutex_t mu;         /* guards everything below */
    struct p11p_secret *master; /* NULL when logged out */
    int role;                   /* -1 when logged out */
    unsigned long login_gen;    /* changes at every login and logout */
    struct loaded *map[MAP_BUCKETS];
    EVP_MD *sha256;
};

static struct soft_ks *soft(struct p11p_keystore *ks)
{
    return (struct soft_ks *)ks;
}

/* ---- loaded keys ---- */

static void map_clear_locked(struct soft_ks *s)
{
    for (size_t i = 0; i < MAP_BUCKETS; i++) {
        struct loaded *e = s->map[i];
        while (e != NULL) {
            struct loaded *next = e->next;
            p11p_key_unref(e->key);
            free(e);
            e = next;
        }
        s->map[i] = NULL;
    }
}

static struct loaded **map_slot(struct soft_ks *s, const unsigned char h[32])
{
    struct loaded **pp = &s->map[h[0] % MAP_BUCKETS];

    while (*pp != NULL && memcmp((*pp)->hash, h, 32) != 0) {
        pp = &(*pp)->next;
    }
    return pp;
}

/* Adds key under h unless present; returns the mapped key (referenced
 * once more for the caller). */
static struct p11p_key *map_put_locked(struct soft_ks *s,
                                       const unsigned char h[32],
                                       struct p11p_key *key)
{
    struct loaded **pp = map_slot(s, h);
    struct loaded *e;

    if (*pp != NULL) {
        return p11p_key_ref((*pp)->key);
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return p11p_key_ref(key); /* works, just not cached */
    }
    memcpy(e->hash, h, 32);
    e->key = p11p_key_ref(key);
    *pp = e;
    return p11p_key_ref(key);
}

static bool blob_hash(struct soft_ks *s, const unsigned char *blob, size_t len,
                      unsigned char out[32])
{
    return EVP_Digest(blob, len, out, NULL, s->sha256, NULL) == 1;
}

/* ---- login state ---- */

static void logout_locked(struct soft_ks *s)
{
    p11p_secret_free(s->master);
    s->master = NULL;
    s->role = -1;
    s->login_gen++;
    map_clear_locked(s);
}

/* Copies the master key if role (or, for -1, anyone) is logged in. */
static struct p11p_secret *master_dup(struct soft_ks *s, int role,
                                      unsigned long *gen)
{
    struct p11p_secret *m = NULL;

    pthread_mutex_lock(&s->mu);
    if (s->master != NULL && (role < 0 || s->role == role)) {
        m = p11p_secret_dup(s->master->data, s->master->len);
        if (gen != NULL) {
            *gen = s->login_gen;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return m;
}

/* ---- the vtable ---- */

/* Frees s. locked: take the mutex first (false after fork, where a thread
 * of the parent may have held it: the child has only this thread). */
static void soft_free(struct soft_ks *s, bool lock)
{
    if (s == NULL) {
        return;
    }
    if (lock) {
        pthread_mutex_lock(&s->mu);
    }
    logout_locked(s);
    if (lock) {
        pthread_mutex_unlock(&s->mu);
        pthread_mutex_destroy(&s->mu);
    }
    EVP_MD_free(s->sha256);
    free(s->token);
    free(s);
}

static enum p11p_status soft_open(const struct p11p_conf_token *conf,
                                  struct p11p_cache *cache,
                                  struct p11p_keystore **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct soft_ks *s = NULL;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->cache = cache;
    s->role = -1;
    s->token = p11p_str_dup(conf->name != NULL ? conf->name : "?");
    p11p_pin_setup(&s->pin, conf, cache, s->token);
    s->sha256 = EVP_MD_fetch(p11p_ossl_libctx(), "SHA256", NULL);
    if (s->token == NULL || s->sha256 == NULL) {
        rc = s->token == NULL ? P11P_ERR_NOMEM : P11P_ERR_CRYPTO;
        goto out;
    }
    *out = &s->base;
    s = NULL;
    rc = P11P_OK;
out:
    soft_free(s, true);
    return rc;
}

static void soft_close(struct p11p_keystore *ks)
{
    soft_free(soft(ks), true);
}

static void soft_discard(struct p11p_keystore *ks)
{
    /* Nothing is shared with the parent but memory (the cache is
     * discarded by its owner): wipe and free it all, without the lock. */
    soft_free(soft(ks), false);
}

static enum p11p_status soft_info(struct p11p_keystore *ks,
                                  struct p11p_keystore_info *out)
{
    struct soft_ks *s = soft(ks);
    enum p11p_status rc;

    out->max_retries = s->pin.max_retries;
    rc = p11p_pin_state(&s->pin, P11P_ROLE_SO, &out->initialized,
                        &out->so_fails, &out->so_locked);
    if (rc == P11P_OK) {
        rc = p11p_pin_state(&s->pin, P11P_ROLE_USER, &out->user_pin_set,
                            &out->user_fails, &out->user_locked);
    }
    return rc;
}

static enum p11p_status soft_init_token(struct p11p_keystore *ks,
                                        const struct p11p_secret *so_pin,
                                        const char *label)
{
    struct soft_ks *s = soft(ks);
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_secret *master = NULL;
    struct p11p_cache_auth rec;

    memset(&rec, 0, sizeof(rec));
    rc = p11p_pin_verify(&s->pin, P11P_ROLE_SO, so_pin, NULL);
    if (rc != P11P_OK && rc != P11P_ERR_NOT_FOUND) {
        goto out; /* initialised, and the SO PIN is wrong or locked */
    }
    rc = p11p_seal_new_master(&master);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_seal_wrap_master(master, so_pin, P11P_ROLE_SO, s->pin.iterations,
                               &rec);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_pin_init_token(&s->pin, &rec, label);
    if (rc != P11P_OK) {
        goto out;
    }
    pthread_mutex_lock(&s->mu);
    logout_locked(s);
    pthread_mutex_unlock(&s->mu);
    P11P_INFO(COMP, "token \"%s\": initialised (label \"%s\")", s->token,
              label);
out:
    p11p_cache_auth_clear(&rec);
    p11p_secret_free(master);
    return rc;
}

static enum p11p_status soft_login(struct p11p_keystore *ks,
                                   enum p11p_cache_role role,
                                   const struct p11p_secret *pin)
{
    struct soft_ks *s = soft(ks);
    struct p11p_secret *master = NULL;
    enum p11p_status rc;

    rc = p11p_pin_verify(&s->pin, role, pin, &master);
    if (rc != P11P_OK) {
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    logout_locked(s);
    s->master = master;
    s->role = (int)role;
    pthread_mutex_unlock(&s->mu);
    return P11P_OK;
}

static void soft_logout(struct p11p_keystore *ks)
{
    struct soft_ks *s = soft(ks);

    pthread_mutex_lock(&s->mu);
    logout_locked(s);
    pthread_mutex_unlock(&s->mu);
}

static bool soft_is_logged_in(struct p11p_keystore *ks,
                              enum p11p_cache_role role)
{
    struct soft_ks *s = soft(ks);
    bool in;

    pthread_mutex_lock(&s->mu);
    in = s->master != NULL && s->role == (int)role;
    pthread_mutex_unlock(&s->mu);
    return in;
}

static enum p11p_status soft_init_pin(struct p11p_keystore *ks,
                                      const struct p11p_secret *pin)
{
    struct soft_ks *s = soft(ks);
    struct p11p_secret *master = master_dup(s, P11P_ROLE_SO, NULL);
    enum p11p_status rc;

    if (master == NULL) {
        P11P_WARN(COMP, "token \"%s\": C_InitPIN needs the SO logged in",
                  s->token);
        return P11P_ERR_AUTH;
    }
    rc = p11p_pin_put(&s->pin, P11P_ROLE_USER, master, pin);
    p11p_secret_free(master);
    return rc;
}

static enum p11p_status soft_set_pin(struct p11p_keystore *ks,
                                     enum p11p_cache_role role,
                                     const struct p11p_secret *old_pin,
                                     const struct p11p_secret *new_pin)
{
    struct soft_ks *s = soft(ks);
    struct p11p_secret *master = NULL;
    enum p11p_status rc;

    rc = p11p_pin_verify(&s->pin, role, old_pin, &master);
    if (rc == P11P_OK) {
        rc = p11p_pin_put(&s->pin, role, master, new_pin);
    }
    p11p_secret_free(master);
    return rc;
}

/* Generation parameters by key type and curve. */
static const struct {
    int nid;
    CK_KEY_TYPE key_type;
    const char *alg;
    const char *group;
} curve_table[] = {
    { NID_X9_62_prime256v1, CKK_EC, "EC", "P-256" },
    { NID_secp384r1, CKK_EC, "EC", "P-384" },
    { NID_secp521r1, CKK_EC, "EC", "P-521" },
    { NID_ED25519, CKK_EC_EDWARDS, "ED25519", NULL },
};

static enum p11p_status keygen(const struct p11p_keygen_spec *spec,
                               EVP_PKEY **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    EVP_PKEY_CTX *ctx = NULL;
    BIGNUM *e = NULL;
    EVP_PKEY *pkey = NULL;
    const char *alg = NULL, *group = NULL;
    bool ok;

    *out = NULL;
    if (spec->key_type == CKK_RSA) {
        if (spec->bits < 2048 || spec->bits > 8192 || spec->bits % 8 != 0) {
            rc = P11P_ERR_INVALID_INPUT;
            goto out;
        }
        alg = "RSA";
    } else {
        for (size_t i = 0; i < sizeof(curve_table) / sizeof(curve_table[0]);
             i++) {
            if (curve_table[i].nid == spec->curve_nid
                && curve_table[i].key_type == spec->key_type) {
                alg = curve_table[i].alg;
                group = curve_table[i].group;
            }
        }
        if (alg == NULL) {
            rc = P11P_ERR_UNSUPPORTED;
            goto out;
        }
    }
    ctx = EVP_PKEY_CTX_new_from_name(p11p_ossl_libctx(), alg, NULL);
    ok = ctx != NULL && EVP_PKEY_keygen_init(ctx) == 1;
    if (ok && spec->key_type == CKK_RSA) {
        e = BN_new();
        ok = e != NULL
             && BN_set_word(e, spec->rsa_exponent != 0 ? spec->rsa_exponent
                                                       : 65537)
                    == 1
             && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)spec->bits) > 0
             && EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) > 0;
    } else if (ok && group != NULL) {
        ok = EVP_PKEY_CTX_set_group_name(ctx, group) > 0;
    }
    if (!ok || EVP_PKEY_generate(ctx, &pkey) != 1) {
        p11p_ossl_log_errors(COMP, "key generation");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    *out = pkey;
    rc = P11P_OK;
out:
    BN_free(e);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* Seals priv and, when still logged in under the same login, keeps it
 * loaded. Takes priv in all cases. */
static enum p11p_status seal_and_keep(struct soft_ks *s,
                                      const struct p11p_secret *master,
                                      unsigned long gen, EVP_PKEY *priv,
                                      struct p11p_cache_keyblob *out_blob)
{
    enum p11p_status rc;
    struct p11p_key *key = NULL;
    unsigned char h[32];

    rc = p11p_seal_key(master, priv, out_blob);
    if (rc != P11P_OK) {
        EVP_PKEY_free(priv);
        return rc;
    }
    if (p11p_evp_op_key_new(priv, &key) != P11P_OK) {
        EVP_PKEY_free(priv);
        return P11P_OK; /* sealed fine; loading later works */
    }
    if (blob_hash(s, out_blob->blob, out_blob->blob_len, h)) {
        pthread_mutex_lock(&s->mu);
        if (s->login_gen == gen) {
            p11p_key_unref(map_put_locked(s, h, key));
        }
        pthread_mutex_unlock(&s->mu);
    }
    p11p_key_unref(key);
    return P11P_OK;
}

static enum p11p_status soft_generate(struct p11p_keystore *ks,
                                      const struct p11p_keygen_spec *spec,
                                      EVP_PKEY **out_pub,
                                      struct p11p_cache_keyblob *out_blob)
{
    struct soft_ks *s = soft(ks);
    enum p11p_status rc = P11P_ERR_INTERNAL;
    unsigned long gen = 0;
    struct p11p_secret *master = master_dup(s, P11P_ROLE_USER, &gen);
    EVP_PKEY *priv = NULL, *pub = NULL;

    if (master == NULL) {
        rc = P11P_ERR_AUTH;
        goto out;
    }
    rc = keygen(spec, &priv);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_keyattrs_public_copy(priv, &pub);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = seal_and_keep(s, master, gen, priv, out_blob);
    priv = NULL;
    if (rc != P11P_OK) {
        goto out;
    }
    *out_pub = pub;
    pub = NULL;
    rc = P11P_OK;
out:
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
    p11p_secret_free(master);
    return rc;
}

static enum p11p_status soft_import(struct p11p_keystore *ks, EVP_PKEY *priv,
                                    const struct p11p_keygen_spec *spec,
                                    struct p11p_cache_keyblob *out_blob)
{
    struct soft_ks *s = soft(ks);
    struct p11p_secret *master = master_dup(s, P11P_ROLE_USER, NULL);
    enum p11p_status rc;

    (void)spec;
    if (master == NULL) {
        return P11P_ERR_AUTH;
    }
    rc = p11p_seal_key(master, priv, out_blob);
    p11p_secret_free(master);
    return rc;
}

static enum p11p_status soft_load(struct p11p_keystore *ks,
                                  const struct p11p_cache_keyblob *blob,
                                  struct p11p_key **out)
{
    struct soft_ks *s = soft(ks);
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_secret *master = NULL;
    struct p11p_key *key = NULL;
    EVP_PKEY *priv = NULL;
    unsigned long gen = 0;
    unsigned char h[32];
    struct loaded **pp;

    if (!blob_hash(s, blob->blob, blob->blob_len, h)) {
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    pthread_mutex_lock(&s->mu);
    if (s->master == NULL || s->role != P11P_ROLE_USER) {
        pthread_mutex_unlock(&s->mu);
        rc = P11P_ERR_AUTH;
        goto out;
    }
    pp = map_slot(s, h);
    if (*pp != NULL) {
        *out = p11p_key_ref((*pp)->key);
        pthread_mutex_unlock(&s->mu);
        rc = P11P_OK;
        goto out;
    }
    master = p11p_secret_dup(s->master->data, s->master->len);
    gen = s->login_gen;
    pthread_mutex_unlock(&s->mu);
    if (master == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    rc = p11p_seal_unseal_key(master, blob->blob, blob->blob_len, &priv);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = p11p_evp_op_key_new(priv, &key);
    if (rc != P11P_OK) {
        goto out;
    }
    priv = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->login_gen != gen) {
        /* Logged out meanwhile. */
        pthread_mutex_unlock(&s->mu);
        rc = P11P_ERR_AUTH;
        goto out;
    }
    *out = map_put_locked(s, h, key);
    pthread_mutex_unlock(&s->mu);
    rc = P11P_OK;
out:
    p11p_key_unref(key);
    EVP_PKEY_free(priv);
    p11p_secret_free(master);
    return rc;
}

static enum p11p_status soft_destroy(struct p11p_keystore *ks,
                                     const struct p11p_cache_keyblob *blob)
{
    struct soft_ks *s = soft(ks);
    unsigned char h[32];
    struct loaded **pp, *e = NULL;

    if (!blob_hash(s, blob->blob, blob->blob_len, h)) {
        return P11P_ERR_CRYPTO;
    }
    pthread_mutex_lock(&s->mu);
    pp = map_slot(s, h);
    if (*pp != NULL) {
        e = *pp;
        *pp = e->next;
    }
    pthread_mutex_unlock(&s->mu);
    if (e != NULL) {
        p11p_key_unref(e->key);
        free(e);
    }
    return P11P_OK;
}

const struct p11p_keystore_backend p11p_soft_backend = {
    .name = "soft",
    .open = soft_open,
    .close = soft_close,
    .discard = soft_discard,
    .info = soft_info,
    .init_token = soft_init_token,
    .login = soft_login,
    .logout = soft_logout,
    .is_logged_in = soft_is_logged_in,
    .init_pin = soft_init_pin,
    .set_pin = soft_set_pin,
    .generate = soft_generate,
    .import = soft_import,
    .load = soft_load,
    .destroy = soft_destroy,
};

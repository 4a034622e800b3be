/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The digest cache (see mdcache.h): a fixed table keyed by the name the
 * caller gave ("SHA256", "SHA2-256", "sha256" are separate entries; a
 * handful at most in practice). When the table is full, digests are
 * fetched every time, as without the cache.
 */
#include "provider/mdcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "provider/provider.h"

#define MDCACHE_SLOTS   12
#define MDCACHE_NAMELEN 32

struct entry {
    char name[MDCACHE_NAMELEN];
    EVP_MD *md; /* one reference held by the cache */
};

struct p11p_prov_mdcache {
    pthread_mutex_t lock; /* the table; never held across a fetch */
    struct entry e[MDCACHE_SLOTS];
    size_t n;
};

struct p11p_prov_mdcache *p11p_prov_mdcache_new(void)
{
    struct p11p_prov_mdcache *c = calloc(1, sizeof(*c));

    if (c != NULL) {
        pthread_mutex_init(&c->lock, NULL);
    }
    return c;
}

void p11p_prov_mdcache_free(struct p11p_prov_mdcache *c)
{
    size_t i;

    if (c == NULL) {
        return;
    }
    for (i = 0; i < c->n; i++) {
        EVP_MD_free(c->e[i].md);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* Called with the lock held: the cached digest (a new reference) or NULL. */
static EVP_MD *lookup_locked(struct p11p_prov_mdcache *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        if (strcmp(c->e[i].name, name) == 0) {
            return EVP_MD_up_ref(c->e[i].md) ? c->e[i].md : NULL;
        }
    }
    return NULL;
}

EVP_MD *p11p_prov_mdcache_get(struct p11p_prov_ctx *ctx, const char *name)
{
    struct p11p_prov_mdcache *c = ctx->mdcache;
    EVP_MD *md = NULL;
    EVP_MD *other = NULL;

    if (c == NULL || strlen(name) >= MDCACHE_NAMELEN) {
        return EVP_MD_fetch(ctx->libctx, name, P11P_PROV_SOFT_PROPQ);
    }
    pthread_mutex_lock(&c->lock);
    md = lookup_locked(c, name);
    pthread_mutex_unlock(&c->lock);
    if (md != NULL) {
        return md;
    }
    md = EVP_MD_fetch(ctx->libctx, name, P11P_PROV_SOFT_PROPQ);
    if (md == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&c->lock);
    other = lookup_locked(c, name); /* another thread was faster */
    if (other == NULL && c->n < MDCACHE_SLOTS && EVP_MD_up_ref(md)) {
        memcpy(c->e[c->n].name, name, strlen(name) + 1);
        c->e[c->n].md = md;
        c->n++;
    }
    pthread_mutex_unlock(&c->lock);
    EVP_MD_free(other);
    return md;
}

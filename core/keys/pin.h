/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside core/keys/: the PIN records of a token in the cache, shared by the
 * soft backend and the hsm backend's PIN-source mode. A record of a role
 * (SO, user) is a value wrapped under the role's PIN with the slow KDF
 * (seal.c): the soft backend wraps its master key, the hsm backend a random
 * value that protects nothing and only proves the PIN.
 *
 * PIN failures are counted in the cache, so the count survives crashes and
 * is shared by every process: after a wrong PIN we open a write transaction
 * (BEGIN IMMEDIATE: no other process can commit while we hold it), re-read
 * the committed count, store count + 1 and commit. At max_retries (0 =
 * unlimited) the role is locked. The KDF never runs with a transaction (or
 * any lock of the caller's) held.
 */
#ifndef P11P_CORE_KEYS_PIN_H
#define P11P_CORE_KEYS_PIN_H

#include <stdbool.h>
#include <stdint.h>

#include "cache/cache.h"
#include "core/base/secret.h"
#include "core/base/status.h"
#include "core/conf/conf.h"

struct p11p_pin {
    struct p11p_cache *cache; /* borrowed */
    const char *token;        /* for logs, borrowed */
    unsigned max_retries;     /* 0 = unlimited */
    uint32_t iterations;      /* KDF */
};

/* Fills p from the token's configuration (KDF iterations, default 600000;
 * PIN retry limit). cache and token are borrowed and must outlive p. */
void p11p_pin_setup(struct p11p_pin *p, const struct p11p_conf_token *conf,
                    struct p11p_cache *cache, const char *token);

/* Checks pin against the record of role. On success, *out (if out is not
 * NULL) is the unwrapped value (a new secret) and the failure count is
 * reset. P11P_ERR_AUTH (counted, logged as a warning), P11P_ERR_PIN_LOCKED,
 * P11P_ERR_NOT_FOUND (no PIN set for role). Slow: runs the KDF. */
enum p11p_status p11p_pin_verify(const struct p11p_pin *p,
                                 enum p11p_cache_role role,
                                 const struct p11p_secret *pin,
                                 struct p11p_secret **out);

/* Stores value wrapped under pin (fresh salt) as the record of role, and
 * "user_pin_set" for the user, in its own transaction. Slow. */
enum p11p_status p11p_pin_put(const struct p11p_pin *p,
                              enum p11p_cache_role role,
                              const struct p11p_secret *value,
                              const struct p11p_secret *pin);

/* The record state of role: *exists false (and zero fails) when no PIN is
 * set. Outputs are written only on P11P_OK. */
enum p11p_status p11p_pin_state(const struct p11p_pin *p,
                                enum p11p_cache_role role, bool *exists,
                                unsigned *fails, bool *locked);

/* C_InitToken's cache side, in one transaction: wipes the token's objects,
 * orders and records, stores so_rec (if not NULL), "initialized" and the
 * label, and a new random serial if the token has none yet. */
enum p11p_status p11p_pin_init_token(const struct p11p_pin *p,
                                     const struct p11p_cache_auth *so_rec,
                                     const char *label);

#endif

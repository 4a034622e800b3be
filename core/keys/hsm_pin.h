/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside core/keys/: PIN handling of the hsm backend (docs/hsm.md "PINs").
 *
 * Pass-through (no hsm_pin_source): p11portal keeps no PIN; the PINs given
 * to p11portal log into the backing token. Nothing here is used.
 *
 * PIN source (hsm_pin_source = file:PATH or env:VAR): the backing token's
 * user PIN comes from the source, read at each login and wiped after it;
 * the station's operators never learn it. p11portal's own SO and user
 * PINs are then checked by a soft verifier: a random 32-byte value wrapped
 * under the PIN with the soft backend's KDF, stored as the cache's auth
 * record of the role by pin.c, with the same shared failure counter and
 * lock as the soft backend.
 */
#ifndef P11P_CORE_KEYS_HSM_PIN_H
#define P11P_CORE_KEYS_HSM_PIN_H

#include "core/base/secret.h"
#include "core/base/status.h"

#define P11P_HSM_PIN_MAX 256 /* bytes of a PIN read from a source */

/* Reads the backing PIN from source ("file:PATH": the first line of a file
 * that must not be readable by group or others; "env:VAR"). Returns a new
 * secret in *out. P11P_ERR_CONFIG (logged, without the PIN) when the
 * source is malformed, missing or empty. */
enum p11p_status p11p_hsm_pin_read_source(const char *token, const char *source,
                                          struct p11p_secret **out);

#endif

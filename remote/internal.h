/* SPDX-License-Identifier: Apache-2.0 */
/*
 * remote/ internals: the driver instances the registry lists (one per
 * portal folder) and the registry's helpers. Not for other layers: they use
 * remote/driver.h.
 */
#ifndef P11P_REMOTE_INTERNAL_H
#define P11P_REMOTE_INTERNAL_H

#include <stddef.h>

#include "remote/driver.h"

/* remote/local/local.c: the embedded CA, default and offline. */
extern const struct p11p_driver p11p_driver_local;
/* Issue 3 adds: p11p_driver_sectigo (remote/sectigo/sectigo.c) and
 * p11p_driver_digicert (remote/digicert/digicert.c). */

/* Writes the known driver names, comma separated, into buf. */
void p11p_registry_names(char *buf, size_t size);

/* Refuses a key of a token section that neither the core nor the driver
 * knows (conf.c leaves driver keys to the driver): logs the file, line and
 * key with a pointer to docs/portals/<driver>.md and returns
 * P11P_ERR_CONFIG. known_keys is NULL-terminated. */
enum p11p_status p11p_remote_check_keys(const struct p11p_conf_token *conf,
                                        const char *driver,
                                        const char *const *known_keys);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The real-portal drivers, for remote/registry.c: Sectigo Certificate
 * Manager (remote/sectigo/) and DigiCert ONE IoT Trust Manager
 * (remote/digicert/). Configuration keys: docs/portals/sectigo.md and
 * docs/portals/digicert.md.
 */
#ifndef P11P_REMOTE_PORTALS_H
#define P11P_REMOTE_PORTALS_H

#include "remote/driver.h"

extern const struct p11p_driver p11p_driver_sectigo;
extern const struct p11p_driver p11p_driver_digicert;

/* Sectigo replace (PORTALS.md §1.4.10): a new CSR for an existing order,
 * same parameters; the old certificate ends Replaced. state is the value
 * p11p_driver_sectigo.open returned. Blocks on the network. */
enum p11p_status p11p_sectigo_replace(void *state, const char *portal_id,
                                      const struct p11p_enroll_req *req,
                                      struct p11p_remote_result *res);

#endif

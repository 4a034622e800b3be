/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Subject and SAN templates, and MAC-address arithmetic.
 *
 * Template variables: ${label} (key label), ${id} (CKA_ID, hex), ${token}
 * (token name), ${mac} (aa:bb:cc:dd:ee:ff), ${MAC} (AA:BB:..), ${mac_dash}
 * (aa-bb-..), ${mac_bare} (aabbccddeeff), ${MAC_BARE}. "$$" is a literal
 * dollar. An unknown variable, or ${mac} with no MAC, is an error naming it.
 */
#ifndef P11P_CORE_CONF_SUBJECT_H
#define P11P_CORE_CONF_SUBJECT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/base/status.h"

#define P11P_MAC_MAX 0xffffffffffffULL

struct p11p_subject_vars {
    const char *label;  /* may be NULL */
    const char *id_hex; /* may be NULL */
    const char *token;  /* may be NULL */
    bool has_mac;
    uint64_t mac;
};

/* Expands tmpl. Returns a new string in *out (caller frees). */
enum p11p_status p11p_subject_expand(const char *tmpl,
                                     const struct p11p_subject_vars *vars,
                                     char **out);

/* True if tmpl refers to any ${mac...} variable. */
bool p11p_subject_uses_mac(const char *tmpl);

/* Parses "00:11:22:33:44:55", "00-11-22-33-44-55" or "001122334455". */
enum p11p_status p11p_subject_mac_parse(const char *s, uint64_t *out);

/* Formats a 48-bit MAC with sep (':', '-' or 0 for bare); out holds 18. */
void p11p_subject_mac_format(uint64_t mac, char sep, bool upper, char out[18]);

#endif

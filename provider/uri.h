/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 7512 pkcs11: URIs through p11-kit's p11_kit_uri_* API: parsing into
 * a token match, an object search template and a PIN request, and building
 * the URI of an object found on a token. The display form of a URI never
 * contains pin-value.
 */
#ifndef P11P_PROVIDER_URI_H
#define P11P_PROVIDER_URI_H

#include <stdbool.h>
#include <stddef.h>

#include <p11-kit/pkcs11.h>

#include "core/base/secret.h"

struct p11p_prov_ctx;

struct p11p_prov_uri {
    void *p11kit;            /* P11KitUri, owned */
    char *display;           /* the URI without pin-value, owned */
    struct p11p_secret *pin; /* pin-value, or NULL */
    char *pin_source;        /* pin-source, or NULL, owned */
    bool has_class;
    CK_OBJECT_CLASS cls;
    unsigned char *id; /* CKA_ID, owned, or NULL */
    size_t id_len;
    char *label; /* CKA_LABEL (object=), owned, or NULL */
};

/* Parses str (a "pkcs11:" URI). Returns NULL and raises on a malformed URI
 * (the message names the display form, never the PIN). Free with
 * p11p_prov_uri_free. */
struct p11p_prov_uri *p11p_prov_uri_parse(struct p11p_prov_ctx *ctx,
                                          const char *str);

/* NULL-safe; wipes the PIN. */
void p11p_prov_uri_free(struct p11p_prov_uri *u);

/* True if the token attributes of the URI match info. */
bool p11p_prov_uri_match_token(const struct p11p_prov_uri *u,
                               const CK_TOKEN_INFO *info);

/* Fills tmpl (at least 3 entries) with the object attributes of the URI
 * (class, id, label); returns the count. Pointers borrow from u. */
size_t p11p_prov_uri_template(const struct p11p_prov_uri *u,
                              CK_ATTRIBUTE *tmpl);

/* Builds the URI of an object: token fields from info, then id, object
 * and type. Returns a new string (free with free()) or NULL. */
char *p11p_prov_uri_for_object(const CK_TOKEN_INFO *info, CK_OBJECT_CLASS cls,
                               const unsigned char *id, size_t id_len,
                               const char *label);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate selection for the p11portal subcommands (export, delete,
 * renew, revoke, ...): one place that turns a user's selector into cache
 * objects, and helpers that read what a subcommand shows of a certificate
 * object (DER, subject CN, serial, dates, its key's CKA_ID, its order, its
 * chain).
 *
 * Selectors (all given ones must match; none given selects every leaf
 * certificate of the token):
 *   --uri pkcs11:token=T;object=LABEL;id=%01%02;type=cert   (RFC 7512)
 *   --label LABEL   --id HEX   --serial HEX   --order N
 * A URI's token= must name the token (its label or its section name); its
 * type= may be cert, private or public: the certificates of the key with
 * that CKA_ID/label are selected either way.
 *
 * Use in a subcommand:
 *   static const struct option opts[] = { P11P_SELECT_OPTIONS,
 *       { "format", required_argument, NULL, OPT_FORMAT }, { 0 } };
 *   handler: rc = p11p_select_parse_opt(t, &sel, c, arg);
 *            if (rc != P11P_SELECT_OTHER) return rc;   ... own options
 *   usage text: append P11P_SELECT_USAGE.
 */
#ifndef P11P_TOOLS_SELECT_H
#define P11P_TOOLS_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "core/base/status.h"
#include "tools/tool.h"

/* getopt_long codes of the selection options (above the common ones). */
enum {
    P11P_SELECT_OPT_URI = 0x5301,
    P11P_SELECT_OPT_LABEL,
    P11P_SELECT_OPT_ID,
    P11P_SELECT_OPT_SERIAL,
    P11P_SELECT_OPT_ORDER,
};

/* Rows for a subcommand's struct option table (no terminator). */
#define P11P_SELECT_OPTIONS                                            \
    { "uri", required_argument, NULL, P11P_SELECT_OPT_URI },           \
        { "label", required_argument, NULL, P11P_SELECT_OPT_LABEL },   \
        { "id", required_argument, NULL, P11P_SELECT_OPT_ID },         \
        { "serial", required_argument, NULL, P11P_SELECT_OPT_SERIAL }, \
    {                                                                  \
        "order", required_argument, NULL, P11P_SELECT_OPT_ORDER        \
    }

/* Their lines for a usage text. */
#define P11P_SELECT_USAGE                                                     \
    "Selection (all given must match):\n"                                     \
    "  --uri URI           pkcs11:token=..;object=LABEL;id=%01..;type=cert\n" \
    "  --label LABEL       certificate (key) label\n"                         \
    "  --id HEX            CKA_ID of the key and its certificates\n"          \
    "  --serial HEX        certificate serial number (colons allowed)\n"      \
    "  --order N           local order id (p11portal orders)\n"

/* p11p_select_parse_opt's answer for an option that is not a selector. */
#define P11P_SELECT_OTHER (-2)

/* A parsed selector. Zero-initialise ({ 0 }) before parsing. */
struct p11p_sel {
    bool given; /* any selector option seen */
    bool has_label;
    char label[256];
    bool has_id;
    unsigned char id[64];
    size_t id_len;
    bool has_serial;
    char serial[130]; /* normalised: lower-case hex, no colons or leading 0 */
    int64_t order;    /* 0: any */
    bool has_token;
    char token[64]; /* the URI's token= */
};

/* Handles option c (one of P11P_SELECT_OPT_*): 0, or P11P_EXIT_USAGE with a
 * message on a bad value; P11P_SELECT_OTHER if c is not a selector. */
int p11p_select_parse_opt(const struct p11p_tool *t, struct p11p_sel *s, int c,
                          const char *arg);

/* Ids of the leaf certificate objects (CKA_CERTIFICATE_CATEGORY not
 * authority) that s selects, ascending. *ids is a new array (free(); NULL
 * when *n is 0). P11P_ERR_NOT_FOUND, with a message on stderr, if the
 * URI's token= is not tok (tok may be NULL: not checked). Zero matches is
 * P11P_OK with *n = 0. */
enum p11p_status p11p_select_certs(struct p11p_cache *c,
                                   const struct p11p_conf_token *tok,
                                   const struct p11p_sel *s, int64_t **ids,
                                   size_t *n);

/* What the subcommands show of a certificate object. */
struct p11p_certinfo {
    int64_t id; /* the object */
    unsigned char *der;
    size_t der_len;
    char *label;        /* CKA_LABEL or NULL */
    char cn[256];       /* subject CN, "" if none */
    char serial[130];   /* lower-case hex, as --serial takes it */
    int64_t not_before; /* unix seconds */
    int64_t not_after;
    unsigned char ckaid[64]; /* the key's CKA_ID (ckaid_len 0: none) */
    size_t ckaid_len;
    bool authority;   /* CKA_CERTIFICATE_CATEGORY 2 */
    int64_t order_id; /* 0: no order */
};

/* Loads certificate object id. P11P_ERR_NOT_FOUND if absent or not a
 * certificate, P11P_ERR_CORRUPT if its DER does not decode. Free with
 * p11p_certinfo_clear. */
enum p11p_status p11p_select_certinfo(struct p11p_cache *c, int64_t id,
                                      struct p11p_certinfo *out);
void p11p_certinfo_clear(struct p11p_certinfo *ci); /* NULL-safe */

/* The certificate's order: by its order id, else the newest order with its
 * CKA_ID whose cert_object_id is it. P11P_ERR_NOT_FOUND if none. Free with
 * p11p_order_clear. */
enum p11p_status p11p_select_cert_order(struct p11p_cache *c,
                                        const struct p11p_certinfo *ci,
                                        struct p11p_order *out);

/* The chain of a certificate from the token's authority certificates
 * (issuer by authority key id, then subject name), leaf excluded, issuer
 * first, up to a self-signed root or the first missing issuer. *ders and
 * *lens are new arrays (p11p_select_chain_free). *n may be 0. */
enum p11p_status p11p_select_chain(struct p11p_cache *c,
                                   const unsigned char *leaf, size_t leaf_len,
                                   unsigned char ***ders, size_t **lens,
                                   size_t *n);
void p11p_select_chain_free(unsigned char **ders, size_t *lens, size_t n);

/* Object ids of the keys (private and public) with CKA_ID ckaid. */
enum p11p_status p11p_select_keys(struct p11p_cache *c,
                                  const unsigned char *ckaid, size_t ckaid_len,
                                  int64_t **ids, size_t *n);

/* Parses hex ("0a1b", "0A:1B", "0a-1b") into out (at most cap bytes). */
enum p11p_status p11p_select_hex(const char *s, unsigned char *out, size_t cap,
                                 size_t *out_len);

#endif

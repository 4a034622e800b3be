/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enrollment engine (DESIGN.md "Enrollment"): one C_GenerateKeyPair
 * becomes a key pair, an order, a CSR, a portal request and a certificate
 * object with its chain, through the order state machine of order.c.
 *
 * Never a duplicate order: the order and its unique request token are
 * persisted before any request leaves; an order whose submission outcome is
 * unknown is reconciled with the portal (driver find) before anything is
 * sent again. Only one process submits or polls an order at a time (cache
 * order locks). No lock is held across network I/O.
 *
 * Threads: one engine per token, thread-safe.
 */
#ifndef P11P_CORE_ENROLL_ENROLL_H
#define P11P_CORE_ENROLL_ENROLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "cache/cache.h"
#include "core/base/attrlist.h"
#include "core/base/status.h"
#include "core/conf/conf.h"
#include "core/keys/backend.h"
#include "remote/driver.h"

struct p11p_enroll;

/* Creates the engine of one token. Borrows conf, cache and keystore (they
 * outlive it); opens the token's driver. No network. */
enum p11p_status p11p_enroll_new(const struct p11p_conf_token *conf,
                                 struct p11p_cache *cache,
                                 struct p11p_keystore *keys,
                                 struct p11p_enroll **out);
void p11p_enroll_free(struct p11p_enroll *e);    /* NULL-safe */
void p11p_enroll_discard(struct p11p_enroll *e); /* after fork, child */

/* What the caller (C_GenerateKeyPair, p11portal batch) asks for. NULL or 0
 * fields fall back to the token's configuration. */
struct p11p_enroll_params {
    const char *label;
    const char *subject; /* DN or NULL: token template (default CN=${label}) */
    const char *sans;
    const char *profile;
    unsigned term_days;
    bool no_enroll; /* generate and store the key only */
    /* An explicit MAC (p11portal batch) instead of the token's "mac"
     * sequence: must lie in the token's [mac_start, mac_end] and be on no
     * other order of the token (P11P_ERR_EXISTS otherwise, nothing
     * stored). */
    bool has_mac;
    uint64_t mac;
    /* Create the order (NEW, CSR built and stored) but do not submit it:
     * a portal batch job submits it (p11p_enroll_submit_job). The
     * collector never submits such an order on its own. */
    bool defer_submit;
};

/* The outcome of p11p_enroll_keypair. */
struct p11p_enroll_result {
    int64_t pub_id; /* object ids (= PKCS#11 handles) */
    int64_t priv_id;
    int64_t order_id; /* 0 if no_enroll */
    int64_t cert_id;  /* 0 unless issued within the wait budget */
    enum p11p_order_state state;
    char message[512]; /* why, when rejected or failed */
};

/*
 * Generates a key pair in the keystore (user logged in), then stores the
 * public and private key objects (their attributes come from the caller:
 * pub_attrs and priv_attrs already hold CKA_CLASS, CKA_ID, CKA_LABEL, usage
 * flags; the engine adds the public key attributes and the order id, and
 * when neither list has CKA_ID it sets both to p11p_keyattrs_default_id of
 * the new key, so keys, certificates and orders always pair up), the
 * key blob, the consumed MAC and the order (NEW) and its CKO_DATA order
 * object in one transaction. Then builds and signs the CSR, submits it and
 * collects until issued or until the token's enroll_wait budget is spent;
 * an issued certificate is checked (public key matches, chain verifies)
 * before the certificate and its chain become objects (same CKA_ID and
 * CKA_LABEL as the key).
 *
 * Returns P11P_OK with state ISSUED, or PENDING_APPROVAL/PROCESSING/
 * SUBMITTING/SUBMITTED (collected later), and for no_enroll state NEW with
 * order_id 0. A synchronous rejection returns P11P_ERR_REJECTED with the
 * portal's message, after removing the key objects (unless
 * keep_key_on_reject). Portal unreachable: P11P_OK, order pending.
 */
enum p11p_status p11p_enroll_keypair(struct p11p_enroll *e,
                                     const struct p11p_keygen_spec *spec,
                                     const struct p11p_enroll_params *params,
                                     struct p11p_attrlist *pub_attrs,
                                     struct p11p_attrlist *priv_attrs,
                                     struct p11p_enroll_result *out);

/*
 * Submits an existing DER CSR (a "p11portal csr" data object, an adopted
 * HSM key): creates the order and submits it as above. The certificate is
 * stored with the CKA_ID and label of the private key whose public key
 * matches the CSR, when the token has one, else with ckaid/label given.
 */
enum p11p_status p11p_enroll_csr(struct p11p_enroll *e,
                                 const unsigned char *csr_der, size_t csr_len,
                                 const struct p11p_enroll_params *params,
                                 const unsigned char *ckaid, size_t ckaid_len,
                                 struct p11p_enroll_result *out);

/*
 * Advances pending orders (submit NEW, reconcile SUBMITTING, poll
 * PENDING_APPROVAL/PROCESSING) within budget_ms, never waiting on the
 * network past it. Rate-limited: returns at once if the last run of any
 * process on this token was less than refresh_interval_s ago, unless force.
 * *out_changed (may be NULL) counts orders that changed state.
 */
enum p11p_status p11p_enroll_collect(struct p11p_enroll *e, unsigned budget_ms,
                                     bool force, size_t *out_changed);

/* ---- issue 7: the p11portal tool ---- */

/* Portal batch jobs (job.c). Submits the NEW orders order_ids (created
 * with defer_submit) as one portal job through the driver's batch_submit.
 * Every order moves on with the job (SUBMITTED / PENDING_APPROVAL); the
 * collector polls the job once for all its orders; a rejected job marks
 * every order REJECTED with the portal's reason, an issued one stores
 * each certificate next to its key. job_id receives the portal's job id.
 * P11P_ERR_UNSUPPORTED if the driver has no batch API. */
enum p11p_status p11p_enroll_submit_job(struct p11p_enroll *e,
                                        const int64_t *order_ids, size_t n,
                                        char *job_id, size_t job_id_len);

/* Licences left at the portal (driver's licences op); P11P_ERR_UNSUPPORTED
 * if the portal does not tell. */
enum p11p_status p11p_enroll_licences(struct p11p_enroll *e, int64_t *left);

/* Renewal (renew.c): renews the certificate object cert_id with the same
 * key (new_key false: a new CSR from the existing key) or a new key of the
 * same type (new_key true: new key objects with a new CKA_ID... see
 * renew.c). The old certificate stays until the new one is stored; a
 * renewal of a certificate already being renewed returns P11P_ERR_EXISTS.
 * out as for p11p_enroll_keypair (the new order). */
enum p11p_status p11p_enroll_renew(struct p11p_enroll *e, int64_t cert_id,
                                   bool new_key,
                                   struct p11p_enroll_result *out);

/* Revocation (revoke.c): revokes the certificate object cert_id at the
 * portal with reason, then marks its order REVOKED. The objects stay. */
enum p11p_status p11p_enroll_revoke(struct p11p_enroll *e, int64_t cert_id,
                                    enum p11p_revoke_reason reason,
                                    char *message, size_t message_len);

/* Adoption (adopt.c): for every private key of the token without a
 * certificate, asks the portal (driver find by public key) for an issued
 * certificate of that key and stores it with its chain and an order
 * record (ISSUED). *out_n: how many were linked. */
enum p11p_status p11p_enroll_adopt(struct p11p_enroll *e, size_t *out_n);

/* Import of portal-generated keys (import.c, p11portal import). One
 * device of a package: the private key, its certificate and the CA
 * certificates that came with it (borrowed), and what was stored. */
struct p11p_enroll_import_item {
    const char *name;          /* file or zip entry, for messages */
    EVP_PKEY *priv;            /* the private key (borrowed) */
    const unsigned char *cert; /* DER */
    size_t cert_len;
    unsigned char *const *chain; /* DER CA certificates, any order */
    const size_t *chain_lens;
    size_t chain_n;
    const char *label;     /* NULL: the certificate's CN */
    const char *portal_id; /* the portal's order id if known, or NULL */
    /* Set by p11p_enroll_import. */
    bool present;            /* same public key already on the token: skipped */
    unsigned char ckaid[20]; /* p11p_keyattrs_default_id of the key */
    int64_t priv_id, pub_id, cert_id, order_id;
};

/*
 * Checks every item first (the key matches its certificate; the
 * certificate verifies through its chain to the token's trust_anchors, or,
 * without them, to a self-signed root of its chain when it has one), then
 * puts every item whose key is not yet on the token there in ONE cache
 * transaction: the private key (soft: sealed; hsm: a sensitive,
 * non-extractable backing object), the public key, the certificate object
 * (CKA_ID = p11p_keyattrs_default_id of the key, CKA_LABEL label), the CA
 * certificates (deduplicated) and an ISSUED order marked imported. Any
 * failure stores nothing (backing keys created are destroyed).
 * P11P_ERR_INVALID_INPUT with why (naming the item) when a check fails.
 * User logged in.
 */
enum p11p_status p11p_enroll_import(struct p11p_enroll *e,
                                    struct p11p_enroll_import_item *items,
                                    size_t n, char *why, size_t why_size);

/* True if o was created by p11p_enroll_import (its request token starts
 * with "import-"). */
bool p11p_enroll_is_imported(const struct p11p_order *o);

/* Certificate object attributes from a DER certificate: CKA_CLASS,
 * CKA_CERTIFICATE_TYPE, CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER,
 * CKA_VALUE, CKA_START_DATE, CKA_END_DATE, CKA_CERTIFICATE_CATEGORY
 * (category), CKA_TOKEN, CKA_TRUSTED false, CKA_PRIVATE false,
 * CKA_MODIFIABLE, CKA_PUBLIC_KEY_INFO, CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
 * CKA_HASH_OF_ISSUER_PUBLIC_KEY, CKA_CHECK_VALUE, plus CKA_ID and CKA_LABEL
 * when given. P11P_ERR_INVALID_INPUT if der is not a certificate. */
enum p11p_status p11p_certobj_attrs(const unsigned char *der, size_t len,
                                    const char *label,
                                    const unsigned char *ckaid,
                                    size_t ckaid_len, CK_ULONG category,
                                    struct p11p_attrlist *out);

#endif

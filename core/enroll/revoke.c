/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Revocation (p11p_enroll_revoke, issue 7) and the refresh of issued
 * certificates' states (p11p_enroll_refresh, p11portal sync), see
 * revoke.h. A revoked certificate keeps its objects: the certificate, its
 * keys and its order object stay on the token; the order object's state
 * says "revoked" and its error field the reason. Every state change goes
 * through the transition table (order.c) under the order's lock.
 */
#include "core/enroll/revoke.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/x509.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/str.h"
#include "core/enroll/internal.h"
#include "core/enroll/order.h"
#include "p11portal/pkcs11-vendor.h"

#define COMP          "enroll"
#define REFRESH_BATCH 64

/* ---- reason names ---- */

/* clang-format off */
static const struct {
    enum p11p_revoke_reason reason;
    const char *name;
} reasons_table[] = {
    { P11P_REVOKE_UNSPECIFIED,            "unspecified" },
    { P11P_REVOKE_KEY_COMPROMISE,         "keyCompromise" },
    { P11P_REVOKE_CA_COMPROMISE,          "cACompromise" },
    { P11P_REVOKE_AFFILIATION_CHANGED,    "affiliationChanged" },
    { P11P_REVOKE_SUPERSEDED,             "superseded" },
    { P11P_REVOKE_CESSATION_OF_OPERATION, "cessationOfOperation" },
    { P11P_REVOKE_CERTIFICATE_HOLD,       "certificateHold" },
    { P11P_REVOKE_PRIVILEGE_WITHDRAWN,    "privilegeWithdrawn" },
};
/* clang-format on */

#define N_REASONS (sizeof(reasons_table) / sizeof(reasons_table[0]))

/* a and b equal ignoring case, '-' and '_'. */
static bool loose_equal(const char *a, const char *b)
{
    for (;;) {
        while (*a == '-' || *a == '_') {
            a++;
        }
        while (*b == '-' || *b == '_') {
            b++;
        }
        if (*a == '\0' || *b == '\0') {
            return *a == *b;
        }
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) {
            return false;
        }
        a++;
        b++;
    }
}

enum p11p_status p11p_revoke_reason_parse(const char *name,
                                          enum p11p_revoke_reason *out)
{
    for (size_t i = 0; name != NULL && i < N_REASONS; i++) {
        if (loose_equal(name, reasons_table[i].name)) {
            *out = reasons_table[i].reason;
            return P11P_OK;
        }
    }
    return P11P_ERR_INVALID_INPUT;
}

const char *p11p_revoke_reason_name(enum p11p_revoke_reason r)
{
    for (size_t i = 0; i < N_REASONS; i++) {
        if (reasons_table[i].reason == r) {
            return reasons_table[i].name;
        }
    }
    return "?";
}

const char *p11p_revoke_reason_names(void)
{
    return "unspecified, keyCompromise, cACompromise, affiliationChanged, "
           "superseded, cessationOfOperation, certificateHold, "
           "privilegeWithdrawn";
}

/* ---- certificate helpers ---- */

int64_t p11p_revoke_cert_order_id(const struct p11p_cache_object *obj)
{
    char *s = NULL;
    uint64_t v = 0;

    if (obj->order_id != 0) {
        return obj->order_id;
    }
    s = p11p_attrlist_get_str(&obj->attrs, CKA_P11PORTAL_ORDER_ID);
    if (s == NULL || p11p_str_to_u64(s, 1, INT64_MAX, &v) != P11P_OK) {
        v = 0;
    }
    free(s);
    return (int64_t)v;
}

enum p11p_status p11p_revoke_cert_info(const unsigned char *der, size_t len,
                                       char *serial_hex, size_t serial_size,
                                       int64_t *not_after)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    BIGNUM *bn = NULL;
    char *hex = NULL;
    int days = 0;
    int secs = 0;
    enum p11p_status rc = P11P_ERR_INVALID_INPUT;

    if (x == NULL) {
        goto out;
    }
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    if (hex == NULL || strlen(hex) >= serial_size) {
        goto out;
    }
    if (not_after != NULL) {
        if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) != 1) {
            goto out;
        }
        *not_after = p11p_clock_now() + (int64_t)days * 86400 + secs;
    }
    p11p_str_copy(serial_hex, serial_size, hex);
    rc = P11P_OK;
out:
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(x);
    return rc;
}

/* ---- revocation ---- */

/* Marks o revoked (ISSUED -> REVOKED; a RENEWED or EXPIRED order keeps
 * its state) with the reason in its error field. */
static enum p11p_status mark_revoked(struct p11p_enroll *e,
                                     struct p11p_order *o,
                                     enum p11p_revoke_reason reason)
{
    enum p11p_order_event ev = P11P_ORDER_EV_REVOKE;
    char note[128];
    enum p11p_status rc;

    snprintf(note, sizeof(note), "revoked at the portal, reason %s",
             p11p_revoke_reason_name(reason));
    rc = p11p_submit_set_str(&o->last_error, note);
    if (rc != P11P_OK) {
        return rc;
    }
    return p11p_submit_advance(e, NULL, o, &ev,
                               o->state == P11P_ORDER_ISSUED ? 1 : 0);
}

enum p11p_status p11p_enroll_revoke(struct p11p_enroll *e, int64_t cert_id,
                                    enum p11p_revoke_reason reason,
                                    char *message, size_t message_len)
{
    const struct p11p_driver *d = p11p_remote_driver(e->remote);
    struct p11p_cache_object obj;
    struct p11p_order o;
    struct p11p_remote_result res;
    const CK_ATTRIBUTE *value = NULL;
    char serial[64];
    char owner[64];
    int64_t order_id = 0;
    bool locked = false;
    enum p11p_status rc;

    memset(&obj, 0, sizeof(obj));
    memset(&o, 0, sizeof(o));
    memset(&res, 0, sizeof(res));
    if (message_len > 0) {
        message[0] = '\0';
    }
    rc = p11p_cache_object_get(e->cache, cert_id, &obj);
    if (rc == P11P_OK && obj.klass != CKO_CERTIFICATE) {
        rc = P11P_ERR_INVALID_INPUT;
    }
    if (rc == P11P_OK) {
        value = p11p_attrlist_get0(&obj.attrs, CKA_VALUE);
        rc = value != NULL ? p11p_revoke_cert_info(
                 value->pValue, value->ulValueLen, serial, sizeof(serial), NULL)
                           : P11P_ERR_INVALID_INPUT;
    }
    if (rc != P11P_OK) {
        P11P_ERROR(COMP,
                   "token \"%s\": object %" PRId64 " is not a certificate "
                   "that can be revoked: %s",
                   p11p_submit_token_name(e), cert_id, p11p_status_text(rc));
        snprintf(message, message_len,
                 "object %" PRId64 " is not a "
                 "certificate",
                 cert_id);
        goto out;
    }
    order_id = p11p_revoke_cert_order_id(&obj);
    if (order_id != 0) {
        rc = p11p_submit_lock_owner(owner);
        if (rc == P11P_OK) {
            rc = p11p_submit_lock(e, order_id, owner);
            locked = rc == P11P_OK;
        }
        if (rc == P11P_OK) {
            rc = p11p_cache_order_get(e->cache, order_id, &o);
        }
        if (rc == P11P_ERR_BUSY) {
            snprintf(message, message_len,
                     "order %" PRId64 " is being worked on by another "
                     "process; try again",
                     order_id);
            goto out;
        }
        if (rc == P11P_ERR_NOT_FOUND) {
            order_id = 0; /* an order record that is gone: by serial */
            rc = P11P_OK;
        }
        if (rc != P11P_OK) {
            goto out;
        }
    }
    if (order_id != 0 && o.state == P11P_ORDER_REVOKED) {
        snprintf(message, message_len,
                 "already revoked (order %" PRId64 "): nothing sent", o.id);
        goto out;
    }
    if (order_id != 0 && o.state != P11P_ORDER_ISSUED
        && o.state != P11P_ORDER_RENEWED && o.state != P11P_ORDER_EXPIRED) {
        snprintf(message, message_len,
                 "order %" PRId64 " is %s: only issued certificates can be "
                 "revoked",
                 o.id, p11p_order_state_name(o.state));
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    if (d->revoke == NULL) {
        snprintf(message, message_len, "driver %s cannot revoke", d->name);
        rc = P11P_ERR_UNSUPPORTED;
        goto out;
    }
    rc = d->revoke(p11p_remote_state(e->remote),
                   order_id != 0 ? o.portal_id : NULL, serial, reason, &res);
    if (rc != P11P_OK) {
        P11P_ERROR(COMP,
                   "token \"%s\": revoking certificate %" PRId64
                   " (serial %s) failed: %s%s%s",
                   p11p_submit_token_name(e), cert_id, serial,
                   p11p_status_text(rc), res.message[0] != '\0' ? ": " : "",
                   res.message);
        snprintf(message, message_len, "%s%s%s", p11p_status_text(rc),
                 res.message[0] != '\0' ? ": " : "", res.message);
        goto out;
    }
    if (order_id != 0) {
        rc = mark_revoked(e, &o, reason);
        if (rc != P11P_OK) {
            snprintf(message, message_len,
                     "revoked at the portal, but order %" PRId64
                     " could not be updated: %s",
                     o.id, p11p_status_text(rc));
            goto out;
        }
    }
    P11P_INFO(COMP,
              "token \"%s\": certificate %" PRId64 " (serial %s) revoked, "
              "reason %s",
              p11p_submit_token_name(e), cert_id, serial,
              p11p_revoke_reason_name(reason));
    snprintf(message, message_len, "revoked (serial %s, reason %s)", serial,
             p11p_revoke_reason_name(reason));
out:
    if (locked) {
        p11p_cache_lock_release(e->cache, order_id, owner);
    }
    p11p_remote_result_clear(&res);
    p11p_order_clear(&o);
    p11p_cache_object_clear(&obj);
    return rc;
}

/* ---- refreshing issued certificates ---- */

static enum p11p_status add_change(struct p11p_enroll_refresh_result *r,
                                   const struct p11p_order *o,
                                   enum p11p_order_state from, const char *why)
{
    struct p11p_enroll_change *c =
        realloc(r->changes, (r->n_changes + 1) * sizeof(*c));
    if (c == NULL) {
        return P11P_ERR_NOMEM;
    }
    r->changes = c;
    c = &r->changes[r->n_changes++];
    memset(c, 0, sizeof(*c));
    c->order_id = o->id;
    p11p_str_copy(c->label, sizeof(c->label), o->label != NULL ? o->label : "");
    c->from = from;
    c->to = o->state;
    p11p_str_copy(c->why, sizeof(c->why), why);
    return P11P_OK;
}

/* The notAfter of o's certificate object; 0 if unknown. */
static int64_t cert_not_after(struct p11p_enroll *e, const struct p11p_order *o)
{
    struct p11p_cache_object obj;
    const CK_ATTRIBUTE *v = NULL;
    char serial[64];
    int64_t na = 0;

    memset(&obj, 0, sizeof(obj));
    if (o->cert_object_id != 0
        && p11p_cache_object_get(e->cache, o->cert_object_id, &obj) == P11P_OK
        && (v = p11p_attrlist_get0(&obj.attrs, CKA_VALUE)) != NULL
        && p11p_revoke_cert_info(v->pValue, v->ulValueLen, serial,
                                 sizeof(serial), &na)
               != P11P_OK) {
        na = 0;
    }
    p11p_cache_object_clear(&obj);
    return na;
}

/* Checks one ISSUED order (caller holds its lock). *stop: the portal said
 * to slow down. */
static enum p11p_status refresh_one(struct p11p_enroll *e, struct p11p_order *o,
                                    unsigned interval_s,
                                    struct p11p_enroll_refresh_result *r,
                                    bool *stop)
{
    const struct p11p_driver *d = p11p_remote_driver(e->remote);
    struct p11p_remote_result res;
    enum p11p_order_event evs[1];
    size_t n = 0;
    enum p11p_order_state from = o->state;
    int64_t na = cert_not_after(e, o);
    const char *why = NULL;
    enum p11p_status st;
    enum p11p_status rc;

    memset(&res, 0, sizeof(res));
    if (na != 0 && na < p11p_clock_now()) {
        evs[n++] = P11P_ORDER_EV_EXPIRE;
        why = "expired (notAfter passed)";
    } else if (o->portal_id != NULL && d->collect != NULL) {
        st = d->collect(p11p_remote_state(e->remote), o->portal_id, &res);
        if (st == P11P_ERR_RATE_LIMITED) {
            *stop = true;
            r->rate_limited = true;
            r->retry_after_s = res.retry_after_s;
        } else if (st == P11P_OK && res.state == P11P_REMOTE_REVOKED) {
            evs[n++] = P11P_ORDER_EV_REVOKE;
            why = "revoked at the portal";
        } else if (st == P11P_OK && res.state == P11P_REMOTE_EXPIRED) {
            evs[n++] = P11P_ORDER_EV_EXPIRE;
            why = "expired at the portal";
        } else if (st != P11P_OK) {
            P11P_DEBUG(COMP, "token \"%s\": order %" PRId64 ": refresh: %s%s%s",
                       p11p_submit_token_name(e), o->id, p11p_status_text(st),
                       res.message[0] != '\0' ? ": " : "", res.message);
        }
    }
    p11p_remote_result_clear(&res);
    if (*stop && n == 0) {
        return P11P_OK; /* not checked: due again next run */
    }
    r->checked++;
    o->next_attempt = p11p_clock_now() + (int64_t)interval_s;
    if (why != NULL) {
        rc = p11p_submit_set_str(&o->last_error, why);
        if (rc != P11P_OK) {
            return rc;
        }
    }
    rc = p11p_submit_advance(e, NULL, o, evs, n);
    if (rc == P11P_OK && n > 0) {
        rc = add_change(r, o, from, why);
    }
    return rc;
}

enum p11p_status p11p_enroll_refresh(struct p11p_enroll *e, unsigned budget_ms,
                                     unsigned interval_s,
                                     struct p11p_enroll_refresh_result *out)
{
    uint64_t deadline = p11p_clock_deadline(budget_ms);
    struct p11p_enroll_refresh_result r;
    struct p11p_order *list = NULL;
    size_t n = 0;
    bool stop = false;
    char owner[64];
    enum p11p_status rc;

    memset(&r, 0, sizeof(r));
    memset(out, 0, sizeof(*out));
    rc = p11p_submit_lock_owner(owner);
    while (rc == P11P_OK && !stop && p11p_clock_left_ms(deadline) > 0) {
        size_t done = 0;
        p11p_cache_order_list_free(list, n);
        list = NULL;
        n = 0;
        rc = p11p_cache_order_list(e->cache, 1u << P11P_ORDER_ISSUED,
                                   p11p_clock_now(), REFRESH_BATCH, &list, &n);
        for (size_t i = 0; rc == P11P_OK && i < n && !stop
                           && p11p_clock_left_ms(deadline) > 0;
             i++) {
            struct p11p_order o;
            memset(&o, 0, sizeof(o));
            if (p11p_submit_lock(e, list[i].id, owner) != P11P_OK) {
                continue; /* another process has it */
            }
            rc = p11p_cache_order_get(e->cache, list[i].id, &o);
            if (rc == P11P_OK && o.state == P11P_ORDER_ISSUED) {
                rc = refresh_one(e, &o, interval_s, &r, &stop);
                done++;
            }
            p11p_cache_lock_release(e->cache, list[i].id, owner);
            p11p_order_clear(&o);
            if (rc == P11P_ERR_BUSY) {
                rc = P11P_OK; /* changed by another process meanwhile */
            }
        }
        if (n < REFRESH_BATCH || done == 0) {
            break;
        }
    }
    p11p_cache_order_list_free(list, n);
    list = NULL;
    n = 0;
    if (rc == P11P_OK) {
        /* What is still due (a cheap bounded count). */
        rc = p11p_cache_order_list(e->cache, 1u << P11P_ORDER_ISSUED,
                                   p11p_clock_now(), REFRESH_BATCH, &list, &n);
        r.remaining = rc == P11P_OK ? n : 0;
    }
    if (rc == P11P_OK) {
        *out = r;
        memset(&r, 0, sizeof(r));
    }
    p11p_cache_order_list_free(list, n);
    free(r.changes);
    return rc;
}

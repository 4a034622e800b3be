/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkcs11/schema.c: every rule of every class both ways. For each class and
 * each attribute the class knows, on create, generate and set: a valid
 * value is accepted exactly when the rule's flag allows the operation
 * (else CKR_ATTRIBUTE_READ_ONLY), a bad value is
 * CKR_ATTRIBUTE_VALUE_INVALID, and each required attribute left out is
 * CKR_TEMPLATE_INCOMPLETE. Plus the sticky, class and duplicate rules.
 */
#include <string.h>

#include "p11portal/pkcs11-vendor.h"
#include "pkcs11/names.h"
#include "pkcs11/schema.h"
#include "tests/unit/check.h"

#define NA   CK_UNAVAILABLE_INFORMATION
#define MAXT 64

struct cls {
    CK_OBJECT_CLASS klass;
    CK_KEY_TYPE kt;
};

static const struct cls classes[] = {
    { CKO_DATA, NA },
    { CKO_CERTIFICATE, NA },
    { CKO_PUBLIC_KEY, CKK_RSA },
    { CKO_PUBLIC_KEY, CKK_EC },
    { CKO_PUBLIC_KEY, CKK_EC_EDWARDS },
    { CKO_PRIVATE_KEY, CKK_RSA },
    { CKO_PRIVATE_KEY, CKK_EC },
    { CKO_PRIVATE_KEY, CKK_EC_EDWARDS },
};

/* Value storage for templates built by the test. */
static CK_BBOOL v_true = CK_TRUE;
static CK_ULONG v_zero = 0;
static CK_ULONG v_class;
static CK_ULONG v_kt;
static char v_date[] = "20260101";
static char v_bytes[] = "xy";

/* Fills a with a value the rule accepts (class/key type: the right one). */
static bool valid_value(const struct cls *c, const struct p11p_attr_rule *r,
                        CK_ATTRIBUTE *a)
{
    static const struct {
        void *p;
        CK_ULONG len;
    } cands[] = {
        { &v_true, sizeof(v_true) },
        { &v_zero, sizeof(v_zero) },
        { v_date, 8 },
        { v_bytes, 2 },
    };

    a->type = r->type;
    if (r->type == CKA_CLASS) {
        v_class = c->klass;
        a->pValue = &v_class;
        a->ulValueLen = sizeof(v_class);
        return true;
    }
    if (r->type == CKA_KEY_TYPE) {
        v_kt = c->kt;
        a->pValue = &v_kt;
        a->ulValueLen = sizeof(v_kt);
        return true;
    }
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
        a->pValue = cands[i].p;
        a->ulValueLen = cands[i].len;
        if (r->check(a) == CKR_OK) {
            return true;
        }
    }
    return false;
}

/* Appends every attribute the op requires to t. */
static CK_ULONG required(const struct cls *c, unsigned need, CK_ATTRIBUTE *t,
                         CK_ATTRIBUTE_TYPE skip)
{
    size_t n = 0;
    const struct p11p_name *names = p11p_names_table(P11P_NAMES_CKA, &n);
    CK_ULONG k = 0;

    for (size_t i = 0; i < n; i++) {
        const struct p11p_attr_rule *r =
            p11p_schema_rule(c->klass, c->kt, names[i].value);

        if (r != NULL && (r->flags & need) && r->type != skip
            && r->type != CKA_CLASS && r->type != CKA_KEY_TYPE) {
            CHECK(valid_value(c, r, &t[k]));
            k++;
        }
    }
    return k;
}

static unsigned op_flag(enum p11p_schema_op op)
{
    return op == P11P_SCHEMA_CREATE     ? P11P_A_CREATE
           : op == P11P_SCHEMA_GENERATE ? P11P_A_GENERATE
                                        : P11P_A_MODIFY;
}

static unsigned op_need(enum p11p_schema_op op)
{
    return op == P11P_SCHEMA_CREATE     ? P11P_A_REQUIRED
           : op == P11P_SCHEMA_GENERATE ? P11P_A_REQUIRED_GENERATE
                                        : 0;
}

static void test_every_rule_both_ways(void)
{
    static const enum p11p_schema_op ops[] = {
        P11P_SCHEMA_CREATE,
        P11P_SCHEMA_GENERATE,
        P11P_SCHEMA_SET,
    };
    size_t n = 0;
    const struct p11p_name *names = p11p_names_table(P11P_NAMES_CKA, &n);
    unsigned rules_seen = 0;

    for (size_t c = 0; c < sizeof(classes) / sizeof(classes[0]); c++) {
        const struct cls *cl = &classes[c];

        for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
            for (size_t i = 0; i < n; i++) {
                const struct p11p_attr_rule *r =
                    p11p_schema_rule(cl->klass, cl->kt, names[i].value);
                CK_ATTRIBUTE t[MAXT];
                CK_ULONG k = 0;
                CK_RV want = CKR_OK;
                CK_RV rv = CKR_OK;

                if (r == NULL) {
                    continue;
                }
                rules_seen++;
                k = required(cl, op_need(ops[o]), t, r->type);
                CHECK(valid_value(cl, r, &t[k]));
                want = (r->flags & op_flag(ops[o])) ? CKR_OK
                                                    : CKR_ATTRIBUTE_READ_ONLY;
                rv = p11p_schema_check(ops[o], cl->klass, cl->kt, t, k + 1,
                                       NULL);
                if (rv != want) {
                    CHECK_FAIL_AT("%s/%lu op %zu: %s valid -> %s, want %s",
                                  p11p_names_get(P11P_NAMES_CKO, cl->klass),
                                  (unsigned long)cl->kt, o,
                                  p11p_names_attr(r->type), p11p_names_rv(rv),
                                  p11p_names_rv(want));
                }
                check_count++;
                /* A bad value, when the attribute may be given. */
                if (want == CKR_OK) {
                    t[k].pValue = NULL;
                    t[k].ulValueLen = 5;
                    rv = p11p_schema_check(ops[o], cl->klass, cl->kt, t, k + 1,
                                           NULL);
                    if (rv != CKR_ATTRIBUTE_VALUE_INVALID) {
                        CHECK_FAIL_AT("%s: bad value -> %s",
                                      p11p_names_attr(r->type),
                                      p11p_names_rv(rv));
                    }
                    check_count++;
                }
                /* Leaving out a required attribute. */
                if ((r->flags & op_need(ops[o])) && r->type != CKA_CLASS
                    && r->type != CKA_KEY_TYPE) {
                    rv = p11p_schema_check(ops[o], cl->klass, cl->kt, t, k,
                                           NULL);
                    CHECK_RV(rv, CKR_TEMPLATE_INCOMPLETE);
                }
            }
        }
    }
    CHECK(rules_seen > 100);
}

static void test_unknown_attribute(void)
{
    CK_ULONG v = 1;
    CK_ATTRIBUTE t[] = { { CKA_MODULUS_BITS, &v, sizeof(v) } };
    CK_ATTRIBUTE u[] = { { CKA_VENDOR_DEFINED | 0x7777, &v, sizeof(v) } };

    /* CKA_MODULUS_BITS does not belong to a certificate. */
    CHECK_RV(
        p11p_schema_check(P11P_SCHEMA_SET, CKO_CERTIFICATE, NA, t, 1, NULL),
        CKR_ATTRIBUTE_TYPE_INVALID);
    CHECK_RV(p11p_schema_check(P11P_SCHEMA_SET, CKO_DATA, NA, u, 1, NULL),
             CKR_ATTRIBUTE_TYPE_INVALID);
    CHECK(p11p_schema_rule(CKO_DATA, NA, CKA_MODULUS) == NULL);
    CHECK(p11p_schema_rule(CKO_PRIVATE_KEY, CKK_EC, CKA_MODULUS) == NULL);
    CHECK(p11p_schema_rule(CKO_PRIVATE_KEY, CKK_RSA, CKA_MODULUS) != NULL);
}

static void test_class_rules(void)
{
    CK_ULONG cls = CKO_DATA;
    CK_ULONG kt = CKK_EC;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) } };
    CK_ATTRIBUTE k[] = { { CKA_KEY_TYPE, &kt, sizeof(kt) } };

    CHECK_RV(
        p11p_schema_check(P11P_SCHEMA_CREATE, CKO_CERTIFICATE, NA, t, 1, NULL),
        CKR_TEMPLATE_INCONSISTENT);
    CHECK_RV(p11p_schema_check(P11P_SCHEMA_GENERATE, CKO_PUBLIC_KEY, CKK_RSA, k,
                               1, NULL),
             CKR_TEMPLATE_INCONSISTENT);
    CHECK_RV(p11p_schema_check(P11P_SCHEMA_CREATE, CKO_SECRET_KEY, CKK_AES,
                               NULL, 0, NULL),
             CKR_TEMPLATE_INCONSISTENT);
    CHECK(!p11p_schema_has_class(CKO_SECRET_KEY, CKK_AES));
    CHECK(!p11p_schema_has_class(CKO_PUBLIC_KEY, CKK_DSA));
    CHECK(p11p_schema_has_class(CKO_PUBLIC_KEY, CKK_EC_EDWARDS));
    CHECK_RV(p11p_schema_check(P11P_SCHEMA_CREATE, CKO_DATA, NA, NULL, 2, NULL),
             CKR_ARGUMENTS_BAD);
}

static void test_duplicates(void)
{
    char a[] = "one", b[] = "two";
    CK_ATTRIBUTE same[] = { { CKA_LABEL, a, 3 }, { CKA_LABEL, a, 3 } };
    CK_ATTRIBUTE diff[] = { { CKA_LABEL, a, 3 }, { CKA_LABEL, b, 3 } };

    CHECK_RV(p11p_schema_check(P11P_SCHEMA_SET, CKO_DATA, NA, same, 2, NULL),
             CKR_OK);
    CHECK_RV(p11p_schema_check(P11P_SCHEMA_SET, CKO_DATA, NA, diff, 2, NULL),
             CKR_TEMPLATE_INCONSISTENT);
}

static void test_sticky(void)
{
    struct p11p_attrlist cur = { 0 };
    CK_BBOOL f = CK_FALSE, t = CK_TRUE;
    CK_ATTRIBUTE sens_off[] = { { CKA_SENSITIVE, &f, 1 } };
    CK_ATTRIBUTE sens_on[] = { { CKA_SENSITIVE, &t, 1 } };
    CK_ATTRIBUTE ext_on[] = { { CKA_EXTRACTABLE, &t, 1 } };
    CK_ATTRIBUTE ext_off[] = { { CKA_EXTRACTABLE, &f, 1 } };

    CHECK_RV(p11p_attrlist_set_bool(&cur, CKA_SENSITIVE, true), P11P_OK);
    CHECK_RV(p11p_attrlist_set_bool(&cur, CKA_EXTRACTABLE, false), P11P_OK);
    /* fn 11: once true, CKA_SENSITIVE stays true. */
    CHECK_RV(p11p_schema_check(P11P_SCHEMA_SET, CKO_PRIVATE_KEY, CKK_EC,
                               sens_off, 1, &cur),
             CKR_ATTRIBUTE_READ_ONLY);
    CHECK_RV(p11p_schema_check(P11P_SCHEMA_SET, CKO_PRIVATE_KEY, CKK_EC,
                               sens_on, 1, &cur),
             CKR_OK);
    /* fn 12: once false, CKA_EXTRACTABLE stays false. */
    CHECK_RV(p11p_schema_check(P11P_SCHEMA_SET, CKO_PRIVATE_KEY, CKK_EC, ext_on,
                               1, &cur),
             CKR_ATTRIBUTE_READ_ONLY);
    CHECK_RV(p11p_schema_check(P11P_SCHEMA_SET, CKO_PRIVATE_KEY, CKK_EC,
                               ext_off, 1, &cur),
             CKR_OK);
    /* The other way round both may change. */
    CHECK_RV(p11p_attrlist_set_bool(&cur, CKA_SENSITIVE, false), P11P_OK);
    CHECK_RV(p11p_attrlist_set_bool(&cur, CKA_EXTRACTABLE, true), P11P_OK);
    CHECK_RV(p11p_schema_check(P11P_SCHEMA_SET, CKO_PRIVATE_KEY, CKK_EC,
                               sens_on, 1, &cur),
             CKR_OK);
    CHECK_RV(p11p_schema_check(P11P_SCHEMA_SET, CKO_PRIVATE_KEY, CKK_EC,
                               ext_off, 1, &cur),
             CKR_OK);
    p11p_attrlist_clear(&cur);
}

static void test_value_checks(void)
{
    CK_ULONG x509 = CKC_X_509, attr = CKC_X_509_ATTR_CERT, cat = 4;
    CK_BBOOL two = 2;
    char baddate[] = "2026AB01";
    CK_ATTRIBUTE a[] = { { CKA_CERTIFICATE_TYPE, &attr, sizeof(attr) } };
    CK_ATTRIBUTE b[] = { { CKA_CERTIFICATE_CATEGORY, &cat, sizeof(cat) } };
    CK_ATTRIBUTE c[] = { { CKA_TOKEN, &two, 1 } };
    CK_ATTRIBUTE d[] = { { CKA_START_DATE, baddate, 8 } };
    CK_ATTRIBUTE e[] = { { CKA_CERTIFICATE_TYPE, &x509, sizeof(x509) },
                         { CKA_VALUE, NULL, 0 } };

    CHECK_RV(
        p11p_schema_check(P11P_SCHEMA_CREATE, CKO_CERTIFICATE, NA, a, 1, NULL),
        CKR_ATTRIBUTE_VALUE_INVALID);
    CHECK_RV(
        p11p_schema_check(P11P_SCHEMA_CREATE, CKO_CERTIFICATE, NA, b, 1, NULL),
        CKR_ATTRIBUTE_VALUE_INVALID);
    CHECK_RV(p11p_schema_check(P11P_SCHEMA_CREATE, CKO_DATA, NA, c, 1, NULL),
             CKR_ATTRIBUTE_VALUE_INVALID);
    CHECK_RV(
        p11p_schema_check(P11P_SCHEMA_CREATE, CKO_CERTIFICATE, NA, d, 1, NULL),
        CKR_ATTRIBUTE_VALUE_INVALID);
    /* An empty certificate value. */
    CHECK_RV(
        p11p_schema_check(P11P_SCHEMA_CREATE, CKO_CERTIFICATE, NA, e, 2, NULL),
        CKR_ATTRIBUTE_VALUE_INVALID);
}

int main(void)
{
    CHECK_RUN(test_every_rule_both_ways);
    CHECK_RUN(test_unknown_attribute);
    CHECK_RUN(test_class_rules);
    CHECK_RUN(test_duplicates);
    CHECK_RUN(test_sticky);
    CHECK_RUN(test_value_checks);
    return check_summary();
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/base/attrlist.c: set/get/remove, the stable encoding
 * (round trip, fixed bytes) and corrupt blobs (every truncation, bad magic,
 * lengths that run past the end, trailing bytes).
 */
#include <stdlib.h>
#include <string.h>

#include "core/base/attrlist.h"
#include "tests/unit/check.h"

static void build(struct p11p_attrlist *l)
{
    static const unsigned char id[] = { 0x01, 0x02, 0x03 };

    CHECK_RV(p11p_attrlist_set_ulong(l, CKA_CLASS, CKO_CERTIFICATE), P11P_OK);
    CHECK_RV(p11p_attrlist_set_str(l, CKA_LABEL, "web01"), P11P_OK);
    CHECK_RV(p11p_attrlist_set(l, CKA_ID, id, sizeof(id)), P11P_OK);
    CHECK_RV(p11p_attrlist_set_bool(l, CKA_TOKEN, true), P11P_OK);
    CHECK_RV(p11p_attrlist_set(l, CKA_VALUE, NULL, 0), P11P_OK);
}

static void test_set_get(void)
{
    struct p11p_attrlist l = { 0 };
    CK_ULONG ul = 0;
    bool b = false;
    char *s;

    build(&l);
    CHECK_INT_EQ(l.n, 5);
    CHECK(p11p_attrlist_get_ulong(&l, CKA_CLASS, &ul));
    CHECK_INT_EQ(ul, CKO_CERTIFICATE);
    CHECK(p11p_attrlist_get_bool(&l, CKA_TOKEN, &b));
    CHECK(b);
    CHECK(!p11p_attrlist_get_bool(&l, CKA_CLASS, &b)); /* wrong size */
    s = p11p_attrlist_get_str(&l, CKA_LABEL);
    CHECK_STR_EQ(s, "web01");
    free(s);
    CHECK_RV(p11p_attrlist_set_str(&l, CKA_LABEL, "web02"), P11P_OK);
    CHECK_INT_EQ(l.n, 5); /* replaced, not added */
    p11p_attrlist_remove(&l, CKA_LABEL);
    CHECK(p11p_attrlist_get0(&l, CKA_LABEL) == NULL);
    CHECK_INT_EQ(l.n, 4);
    p11p_attrlist_clear(&l);
    p11p_attrlist_clear(NULL);
}

static void test_round_trip(void)
{
    struct p11p_attrlist l = { 0 }, d = { 0 };
    unsigned char *enc = NULL;
    size_t enc_len = 0;

    build(&l);
    CHECK_RV(p11p_attrlist_encode(&l, &enc, &enc_len), P11P_OK);
    CHECK(enc_len >= 8);
    CHECK_MEM_EQ(enc, 4, "P1A1", 4);
    CHECK_RV(p11p_attrlist_decode(&d, enc, enc_len), P11P_OK);
    CHECK_INT_EQ(d.n, l.n);
    for (size_t i = 0; i < l.n && i < d.n; i++) {
        const CK_ATTRIBUTE *a = p11p_attrlist_get0(&d, l.attrs[i].type);
        CHECK(a != NULL);
        if (a != NULL) {
            CHECK_MEM_EQ(a->pValue, a->ulValueLen, l.attrs[i].pValue,
                         l.attrs[i].ulValueLen);
        }
    }
    free(enc);
    p11p_attrlist_clear(&d);

    /* The empty list encodes to the header alone. */
    p11p_attrlist_clear(&l);
    CHECK_RV(p11p_attrlist_encode(&l, &enc, &enc_len), P11P_OK);
    CHECK_INT_EQ(enc_len, 8);
    CHECK_RV(p11p_attrlist_decode(&d, enc, enc_len), P11P_OK);
    CHECK_INT_EQ(d.n, 0);
    free(enc);
}

/* The encoding is stored: pin its bytes. */
static void test_fixed_bytes(void)
{
    static const unsigned char want[] = { 'P', '1', 'A', '1', 0,   0,
                                          0,   1, /* magic, count 1 */
                                          0,   0,   0,   0,   0,   0,
                                          0,   3, /* CKA_LABEL */
                                          0,   0,   0,   2,   'h', 'i' };
    struct p11p_attrlist l = { 0 };
    unsigned char *enc = NULL;
    size_t enc_len = 0;

    CHECK_RV(p11p_attrlist_set_str(&l, CKA_LABEL, "hi"), P11P_OK);
    CHECK_RV(p11p_attrlist_encode(&l, &enc, &enc_len), P11P_OK);
    CHECK_MEM_EQ(enc, enc_len, want, sizeof(want));
    free(enc);
    p11p_attrlist_clear(&l);
}

static void test_corrupt(void)
{
    struct p11p_attrlist l = { 0 }, d = { 0 };
    unsigned char *enc = NULL, *bad = NULL;
    size_t enc_len = 0;

    build(&l);
    CHECK_RV(p11p_attrlist_encode(&l, &enc, &enc_len), P11P_OK);
    /* Every strict prefix is rejected and leaves the list empty. */
    for (size_t n = 0; n < enc_len; n++) {
        CHECK_RV(p11p_attrlist_decode(&d, enc, n), P11P_ERR_CORRUPT);
        CHECK_INT_EQ(d.n, 0);
    }
    CHECK_RV(p11p_attrlist_decode(&d, NULL, 0), P11P_ERR_CORRUPT);
    bad = malloc(enc_len + 1);
    CHECK(bad != NULL);
    if (bad != NULL) {
        /* Bad magic. */
        memcpy(bad, enc, enc_len);
        bad[0] = 'X';
        CHECK_RV(p11p_attrlist_decode(&d, bad, enc_len), P11P_ERR_CORRUPT);
        /* Count too large. */
        memcpy(bad, enc, enc_len);
        bad[4] = 0xff;
        CHECK_RV(p11p_attrlist_decode(&d, bad, enc_len), P11P_ERR_CORRUPT);
        /* First value length runs past the end. */
        memcpy(bad, enc, enc_len);
        bad[8 + 8] = 0x7f;
        CHECK_RV(p11p_attrlist_decode(&d, bad, enc_len), P11P_ERR_CORRUPT);
        CHECK_INT_EQ(d.n, 0);
        /* Trailing garbage. */
        memcpy(bad, enc, enc_len);
        bad[enc_len] = 0;
        CHECK_RV(p11p_attrlist_decode(&d, bad, enc_len + 1), P11P_ERR_CORRUPT);
    }
    free(bad);
    free(enc);
    p11p_attrlist_clear(&l);
}

int main(void)
{
    CHECK_RUN(test_set_get);
    CHECK_RUN(test_round_trip);
    CHECK_RUN(test_fixed_bytes);
    CHECK_RUN(test_corrupt);
    return check_summary();
}

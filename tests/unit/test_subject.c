/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of core/conf/subject.c: template variables and MAC arithmetic. */
#include <stdlib.h>

#include "core/conf/subject.h"
#include "tests/unit/check.h"

static void test_expand(void)
{
    struct p11p_subject_vars v = { .label = "web01",
                                   .id_hex = "a1b2",
                                   .token = "tok",
                                   .has_mac = true,
                                   .mac = 0x001122aabbccULL };
    char *s = NULL;

    CHECK_RV(p11p_subject_expand("CN=${label},O=Acme", &v, &s), 0);
    CHECK_STR_EQ(s, "CN=web01,O=Acme");
    free(s);
    CHECK_RV(
        p11p_subject_expand("CN=${mac},OU=${MAC_BARE},L=${mac_dash}", &v, &s),
        0);
    CHECK_STR_EQ(s, "CN=00:11:22:aa:bb:cc,OU=001122AABBCC,L=00-11-22-aa-bb-cc");
    free(s);
    CHECK_RV(p11p_subject_expand("id=${id} t=${token} $$5 ${MAC}", &v, &s), 0);
    CHECK_STR_EQ(s, "id=a1b2 t=tok $5 00:11:22:AA:BB:CC");
    free(s);
    CHECK_RV(p11p_subject_expand("", &v, &s), 0);
    CHECK_STR_EQ(s, "");
    free(s);
}

static void test_expand_errors(void)
{
    struct p11p_subject_vars v = { .label = "x" };
    char *s = NULL;

    CHECK_RV(p11p_subject_expand("CN=${nope}", &v, &s), P11P_ERR_INVALID_INPUT);
    CHECK(s == NULL);
    CHECK_RV(p11p_subject_expand("CN=${mac}", &v, &s), P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_subject_expand("CN=${label", &v, &s), P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_subject_expand("CN=$label", &v, &s), P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_subject_expand("CN=${id}", &v, &s), P11P_ERR_INVALID_INPUT);
}

static void test_uses_mac(void)
{
    CHECK(p11p_subject_uses_mac("CN=${mac}"));
    CHECK(p11p_subject_uses_mac("CN=x,OU=${MAC_BARE}"));
    CHECK(!p11p_subject_uses_mac("CN=${label}"));
    CHECK(!p11p_subject_uses_mac("CN=$${mac}"));
    CHECK(!p11p_subject_uses_mac(NULL));
}

static void test_mac_parse_format(void)
{
    uint64_t m = 0;
    char out[18];

    CHECK_RV(p11p_subject_mac_parse("00:11:22:33:44:55", &m), 0);
    CHECK_INT_EQ(m, 0x001122334455ULL);
    CHECK_RV(p11p_subject_mac_parse("aa-BB-cc-dd-ee-ff", &m), 0);
    CHECK_INT_EQ(m, 0xaabbccddeeffULL);
    CHECK_RV(p11p_subject_mac_parse("ffffffffffff", &m), 0);
    CHECK_INT_EQ(m, P11P_MAC_MAX);
    CHECK_RV(p11p_subject_mac_parse("00:11-22:33:44:55", &m),
             P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_subject_mac_parse("00:11:22:33:44", &m),
             P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_subject_mac_parse("0011223344zz", &m),
             P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_subject_mac_parse("", &m), P11P_ERR_INVALID_INPUT);
    p11p_subject_mac_format(0x0a0b0c0d0e0fULL, ':', false, out);
    CHECK_STR_EQ(out, "0a:0b:0c:0d:0e:0f");
    p11p_subject_mac_format(0x0a0b0c0d0e0fULL, 0, true, out);
    CHECK_STR_EQ(out, "0A0B0C0D0E0F");
    p11p_subject_mac_format(0x0a0b0c0d0e0fULL, '-', false, out);
    CHECK_STR_EQ(out, "0a-0b-0c-0d-0e-0f");
}

int main(void)
{
    CHECK_RUN(test_expand);
    CHECK_RUN(test_expand_errors);
    CHECK_RUN(test_uses_mac);
    CHECK_RUN(test_mac_parse_format);
    return check_summary();
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of tools/batch_range.c: MAC notation, MAC formats, ranges,
 * label and subject patterns, and the devices of a range plan. */
#include <stdlib.h>
#include <string.h>

#include "core/conf/subject.h"
#include "tests/unit/check.h"
#include "tools/batch.h"

static void test_parse(void)
{
    static const char *const good[] = { "02:00:5e:10:aa:ff",
                                        "02-00-5E-10-AA-FF", "02005e10aaff",
                                        "02:00:5E:10:aA:Ff" };
    static const char *const bad[] = {
        "",
        "02:00:5e:10:aa",
        "02:00:5e:10:aa:ff:00",
        "02:00-5e:10:aa:ff",
        "02.00.5e.10.aa.ff",
        "02005e10aaf",
        "02005e10aaffe",
        "02:00:5e:10:aa:fg",
        "0x02005e10aaff",
        " 2:00:5e:10:aa:ff",
        "02:00:5e:10:aa:f ",
    };
    uint64_t m = 0;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        m = 0;
        CHECK_RV(p11p_subject_mac_parse(good[i], &m), P11P_OK);
        CHECK(m == 0x02005e10aaffULL);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_RV(p11p_subject_mac_parse(bad[i], &m), P11P_ERR_INVALID_INPUT);
    }
    CHECK_RV(p11p_subject_mac_parse("ff:ff:ff:ff:ff:ff", &m), P11P_OK);
    CHECK(m == P11P_MAC_MAX);
}

static void test_format(void)
{
    static const struct {
        const char *name;
        const char *want;
    } cases[] = {
        { "colon", "0a:0b:0c:dd:ee:ff" },
        { "colon-upper", "0A:0B:0C:DD:EE:FF" },
        { "upper", "0A:0B:0C:DD:EE:FF" },
        { "dash", "0a-0b-0c-dd-ee-ff" },
        { "dash-upper", "0A-0B-0C-DD-EE-FF" },
        { "bare", "0a0b0cddeeff" },
        { "bare-upper", "0A0B0CDDEEFF" },
    };
    enum p11p_batch_macfmt f;
    char out[18];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_RV(p11p_batch_macfmt_parse(cases[i].name, &f), P11P_OK);
        p11p_batch_mac_format(0x0a0b0cddeeffULL, f, out);
        CHECK_STR_EQ(out, cases[i].want);
    }
    CHECK_RV(p11p_batch_macfmt_parse("Colon", &f), P11P_ERR_INVALID_INPUT);
}

static void test_range(void)
{
    uint64_t m = 0;

    CHECK(p11p_batch_range_at(0x10, 2, 0, &m) && m == 0x10);
    CHECK(p11p_batch_range_at(0x10, 2, 49, &m) && m == 0x10 + 98);
    CHECK(p11p_batch_range_at(P11P_MAC_MAX - 4, 1, 4, &m) && m == P11P_MAC_MAX);
    CHECK(!p11p_batch_range_at(P11P_MAC_MAX - 4, 1, 5, &m));
    CHECK(!p11p_batch_range_at(P11P_MAC_MAX - 4, 3, 2, &m));
    CHECK(!p11p_batch_range_at(1, UINT64_MAX / 2, 3, &m));
}

static void test_expand(void)
{
    char *s = NULL;

    CHECK_RV(p11p_batch_expand("dev-${n}-${mac}", "aa:bb", NULL, 7, false, &s),
             P11P_OK);
    CHECK_STR_EQ(s, "dev-7-aa:bb");
    free(s);
    /* Kept for the engine: its own variables and $$; inserted values with
     * '$' doubled. */
    CHECK_RV(p11p_batch_expand("CN=${cn},OU=${token},O=$$x", NULL, "a$b", 1,
                               true, &s),
             P11P_OK);
    CHECK_STR_EQ(s, "CN=a$$b,OU=${token},O=$$x");
    free(s);
    CHECK_RV(p11p_batch_expand("${cn}", NULL, NULL, 1, false, &s),
             P11P_ERR_INVALID_INPUT);
    CHECK(s == NULL);
    CHECK_RV(p11p_batch_expand("${mac}", NULL, "x", 1, true, &s),
             P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_batch_expand("${token}", NULL, "x", 1, false, &s),
             P11P_ERR_INVALID_INPUT);
}

static void test_devices(void)
{
    struct p11p_batch_plan p;
    struct p11p_batch_device d;

    memset(&p, 0, sizeof(p));
    p.start = 0x02005e000010ULL;
    p.inc = 2;
    p.count = 3;
    CHECK_RV(p11p_batch_device_at(&p, 2, &d), P11P_OK);
    CHECK_STR_EQ(d.mac_str, "02:00:5e:00:00:14");
    CHECK_STR_EQ(d.label, "02:00:5e:00:00:14");
    CHECK_STR_EQ(d.subject, "CN=02:00:5e:00:00:14");
    p11p_batch_device_clear(&d);

    p.macfmt = P11P_MACFMT_BARE_UPPER;
    p.label_pattern = "unit-${n}";
    p.conf_subject_mac = true; /* the token's template applies */
    CHECK_RV(p11p_batch_device_at(&p, 0, &d), P11P_OK);
    CHECK_STR_EQ(d.mac_str, "02:00:5e:00:00:10");
    CHECK_STR_EQ(d.label, "unit-1");
    CHECK(d.subject == NULL);
    p11p_batch_device_clear(&d);

    p.subject = "CN=${mac},serialNumber=${n}";
    CHECK_RV(p11p_batch_device_at(&p, 1, &d), P11P_OK);
    CHECK_STR_EQ(d.subject, "CN=02005E000012,serialNumber=2");
    p11p_batch_device_clear(&d);
}

int main(void)
{
    CHECK_RUN(test_parse);
    CHECK_RUN(test_format);
    CHECK_RUN(test_range);
    CHECK_RUN(test_expand);
    CHECK_RUN(test_devices);
    return check_summary();
}

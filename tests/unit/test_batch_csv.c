/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of tools/batch_csv.c: device rows, quoting, custom columns,
 * and bad rows reported with their line. */
#include <string.h>

#include "tests/unit/check.h"
#include "tools/batch.h"

static enum p11p_status parse(const char *text, struct p11p_batch_csv *csv,
                              char *err, size_t err_len)
{
    err[0] = '\0';
    return p11p_batch_csv_parse(text, strlen(text), "dev.csv", csv, err,
                                err_len);
}

static void test_good(void)
{
    struct p11p_batch_csv csv;
    char err[256];
    const char *text =
        "\xef\xbb\xbfMAC,Common_Name,sans,label,site,batch\r\n"
        "02:00:5e:00:00:01,,,,Berlin,7\r\n"
        ",sensor-2.example,\"DNS:sensor-2.example,IP:10.0.0.2\",s2,\"Ham, "
        "\"\"North\"\"\",7\r\n"
        "\r\n"
        "02-00-5E-00-00-03,gw.example,,gw,\"multi\nline\",8\n";

    CHECK_RV(parse(text, &csv, err, sizeof(err)), P11P_OK);
    CHECK_INT_EQ((int)csv.n_rows, 3);
    CHECK_INT_EQ((int)csv.n_extra, 2);
    if (csv.n_rows == 3 && csv.n_extra == 2) {
        CHECK_STR_EQ(csv.extra_names[0], "site");
        CHECK_STR_EQ(csv.extra_names[1], "batch");
        CHECK(csv.rows[0].has_mac && csv.rows[0].mac == 0x02005e000001ULL);
        CHECK(csv.rows[0].cn == NULL && csv.rows[0].label == NULL);
        CHECK_STR_EQ(csv.rows[0].extra[0], "Berlin");
        CHECK(!csv.rows[1].has_mac);
        CHECK_STR_EQ(csv.rows[1].cn, "sensor-2.example");
        CHECK_STR_EQ(csv.rows[1].sans, "DNS:sensor-2.example,IP:10.0.0.2");
        CHECK_STR_EQ(csv.rows[1].label, "s2");
        CHECK_STR_EQ(csv.rows[1].extra[0], "Ham, \"North\"");
        CHECK_INT_EQ((int)csv.rows[1].line, 3);
        CHECK(csv.rows[2].mac == 0x02005e000003ULL);
        CHECK_STR_EQ(csv.rows[2].extra[0], "multi\nline");
        CHECK_INT_EQ((int)csv.rows[2].line, 5);
    }
    p11p_batch_csv_clear(&csv);
}

static void test_bad(void)
{
    static const struct {
        const char *text;
        const char *err;
    } cases[] = {
        { "mac,cn\n02:00:5e:00:00:01,a\n02:00:5e:00:00:0g,b\n",
          "dev.csv, line 3: the mac is not a 6-byte MAC" },
        { "mac,cn\n02:00:5e:00:00:01,a\n,\n", "dev.csv, line 3: the row has "
                                              "neither a mac nor a cn" },
        { "mac,cn\n02:00:5e:00:00:01\n", "dev.csv, line 2: fewer fields" },
        { "mac,cn\n1,2,3\n", "dev.csv, line 2: more fields" },
        { "site,label\nx,y\n", "dev.csv, line 1: the header names neither" },
        { "mac,cn\n02:00:5e:00:00:01,a\n02-00-5e-00-00-01,b\n",
          "dev.csv, line 3: the same mac as an earlier row" },
        { "mac,cn\n\"02:00:5e:00:00:01,a\n", "dev.csv, line 2: a quoted "
                                             "field is not closed" },
        { "mac,cn\n02:00:5e:00:00:01,a\"b\n", "dev.csv, line 2: a quote "
                                              "inside an unquoted field" },
        { "mac,mac\n", "dev.csv, line 1: a column named twice" },
        { "mac,cn\n", "dev.csv, line 1: no device rows" },
        { "", "dev.csv, line 1: no header row" },
    };
    struct p11p_batch_csv csv;
    char err[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_RV(parse(cases[i].text, &csv, err, sizeof(err)),
                 P11P_ERR_INVALID_INPUT);
        CHECK(strncmp(err, cases[i].err, strlen(cases[i].err)) == 0);
        if (strncmp(err, cases[i].err, strlen(cases[i].err)) != 0) {
            CHECK_STR_EQ(err, cases[i].err);
        }
        CHECK(csv.rows == NULL && csv.n_rows == 0);
    }
}

int main(void)
{
    CHECK_RUN(test_good);
    CHECK_RUN(test_bad);
    return check_summary();
}

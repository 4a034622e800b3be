/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of remote/digicert/digicert_json.c over replies shaped as in
 * PORTALS.md Part 2, 3.2 and 3b: answers (issued and pending), search,
 * statuses, both error envelopes, hostile bodies, request bodies. */
#include <stdlib.h>
#include <string.h>

#include "remote/digicert/digicert_internal.h"
#include "tests/unit/check.h"

#define B(s) (s), strlen(s)

static void test_errors(void)
{
    char code[64];
    char msg[128];

    CHECK_RV(
        p11p_digicert_json_error(
            B("{\"errors\": [{\"code\": \"entity_not_found\", \"message\": \"Certificate with id 1234 does not exist\"}]}"),
            code, sizeof(code), msg, sizeof(msg)),
        P11P_OK);
    CHECK_STR_EQ(code, "entity_not_found");
    CHECK_STR_EQ(msg, "Certificate with id 1234 does not exist");
    CHECK_RV(p11p_digicert_json_error(
                 B("{\"error\":{\"code\":\"03\",\"message\":\"duplicate\"}}"),
                 code, sizeof(code), msg, sizeof(msg)),
             P11P_OK);
    CHECK_STR_EQ(code, "03");
    CHECK_RV(p11p_digicert_json_error(B("{\"error\":{\"code\":3}}"), code,
                                      sizeof(code), msg, sizeof(msg)),
             P11P_OK);
    CHECK_STR_EQ(code, "3");
    CHECK_STR_EQ(msg, "(no message)");
    CHECK_RV(
        p11p_digicert_json_error(
            B("{\"errors\":[{\"code\":\"request_limit_exceeded\",\"message\":\"Service unavailable, please limit request volume\"}]}"),
            code, sizeof(code), msg, sizeof(msg)),
        P11P_OK);
    CHECK_STR_EQ(code, "request_limit_exceeded");
    CHECK_RV(p11p_digicert_json_error(B("{\"errors\":[]}"), code, sizeof(code),
                                      msg, sizeof(msg)),
             P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_digicert_json_error(B("{\"errors\":\"x\"}"), code,
                                      sizeof(code), msg, sizeof(msg)),
             P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_digicert_json_error(B("{\"code\":-16}"), code, sizeof(code),
                                      msg, sizeof(msg)),
             P11P_ERR_PROTOCOL);
    CHECK_RV(
        p11p_digicert_json_error(B(""), code, sizeof(code), msg, sizeof(msg)),
        P11P_ERR_PROTOCOL);
}

static void test_answers(void)
{
    struct digicert_answer a;
    char why[256];

    CHECK_RV(
        p11p_digicert_json_answer(
            B("{\"certificate_request_id\":\"b1cef6d1-1449-4b7d-9577-a43839f7367c\",\"status\":\"AUTO_APPROVED\","
              "\"result\":\"SUCCESS\",\"certificate_id\":\"fa39ba51-b556-4a1a-bd78-75e46fa86be7\","
              "\"pem\":\"-----BEGIN CERTIFICATE-----\\nAA==\\n-----END CERTIFICATE-----\\n\"}"),
            &a, why, sizeof(why)),
        P11P_OK);
    CHECK_STR_EQ(a.status, "AUTO_APPROVED");
    CHECK_STR_EQ(a.result, "SUCCESS");
    CHECK_STR_EQ(a.certificate_id, "fa39ba51-b556-4a1a-bd78-75e46fa86be7");
    CHECK(a.pem != NULL && strncmp(a.pem, "-----BEGIN", 10) == 0);
    p11p_digicert_json_answer_clear(&a);
    CHECK_RV(
        p11p_digicert_json_answer(
            B("{\"certificate_request_id\":\"r1\",\"status\":\"PENDING\",\"result\":\"SUCCESS\"}"),
            &a, why, sizeof(why)),
        P11P_OK);
    CHECK(a.pem == NULL);
    CHECK_STR_EQ(a.certificate_id, "");
    p11p_digicert_json_answer_clear(&a);
    CHECK_RV(p11p_digicert_json_answer(B("{\"status\":\"PENDING\"}"), &a, why,
                                       sizeof(why)),
             P11P_ERR_PROTOCOL);
    CHECK_RV(
        p11p_digicert_json_answer(B("{\"certificate_id\":\"x\",\"pem\":5}"), &a,
                                  why, sizeof(why)),
        P11P_ERR_PROTOCOL);
    CHECK_STR_EQ(why, "$.pem: expected string, got number");
    CHECK_RV(
        p11p_digicert_json_answer(B("{\"certificate_id\":\"x\",\"status\":[]}"),
                                  &a, why, sizeof(why)),
        P11P_ERR_PROTOCOL);
    CHECK_STR_EQ(why, "$.status: expected string, got array");
}

static void test_search(void)
{
    struct digicert_record *r = NULL;
    size_t n = 0;
    long long total = 0;
    char why[256];

    CHECK_RV(
        p11p_digicert_json_search(
            B("{\"offset\":0,\"limit\":20,\"total\":1,\"records\":[{\"id\":\"fa39ba51\",\"common_name\":\"dev-001\","
              "\"serial_number\":\"76F8365B420D67AEB3F7E8AC00E0BB844E54D7FE\",\"status\":\"ISSUED\","
              "\"body\":\"LEAF\",\"chain\":[{\"blob\":\"INT\"},{\"blob\":\"ROOT\"}]}]}"),
            &r, &n, &total, why, sizeof(why)),
        P11P_OK);
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(total, 1);
    CHECK_STR_EQ(r[0].id, "fa39ba51");
    CHECK_STR_EQ(r[0].status, "ISSUED");
    CHECK_STR_EQ(r[0].pem, "LEAF\nINT\nROOT\n");
    p11p_digicert_json_records_free(r, n);
    CHECK_RV(p11p_digicert_json_search(B("{\"records\":[]}"), &r, &n, &total,
                                       why, sizeof(why)),
             P11P_OK);
    CHECK_INT_EQ(n, 0);
    CHECK_INT_EQ(total, -1);
    p11p_digicert_json_records_free(r, n);
    CHECK_RV(
        p11p_digicert_json_search(
            B("{\"records\":[{\"id\":\"a\",\"status\":\"PENDING\"},{\"status\":\"ISSUED\"}]}"),
            &r, &n, &total, why, sizeof(why)),
        P11P_ERR_PROTOCOL);
    CHECK_STR_EQ(why,
                 "$.records[1].id: missing: expected an id (number or string)");
    CHECK_RV(
        p11p_digicert_json_search(
            B("{\"records\":[{\"id\":\"a\",\"body\":\"x\",\"chain\":[{\"blob\":1}]}]}"),
            &r, &n, &total, why, sizeof(why)),
        P11P_ERR_PROTOCOL);
    CHECK_STR_EQ(why,
                 "$.records[0].chain[0].blob: expected string, got number");
    CHECK_RV(p11p_digicert_json_search(B("{\"total\":1}"), &r, &n, &total, why,
                                       sizeof(why)),
             P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_digicert_json_search(B("{\"records\":[],\"total\":\"x\"}"),
                                       &r, &n, &total, why, sizeof(why)),
             P11P_ERR_PROTOCOL);
}

static void test_record(void)
{
    struct digicert_record r;
    char why[256];

    CHECK_RV(
        p11p_digicert_json_record(
            B("{\"id\":\"c1\",\"status\":\"PENDING\",\"certificate_request_id\":\"r1\"}"),
            &r, why, sizeof(why)),
        P11P_OK);
    CHECK(r.pem == NULL);
    CHECK_STR_EQ(r.status, "PENDING");
    p11p_digicert_json_record_clear(&r);
    CHECK_RV(p11p_digicert_json_record(B("[]"), &r, why, sizeof(why)),
             P11P_ERR_PROTOCOL);
}

static void test_states(void)
{
    static const struct {
        const char *s;
        enum p11p_remote_state st;
    } t[] = {
        { "ISSUED", P11P_REMOTE_ISSUED },
        { "REVOKED", P11P_REMOTE_REVOKED },
        { "EXPIRED", P11P_REMOTE_EXPIRED },
        { "PENDING", P11P_REMOTE_PENDING_APPROVAL },
        { "AUTO_APPROVED", P11P_REMOTE_PROCESSING },
        { "APPROVED", P11P_REMOTE_PROCESSING },
        { "REJECTED", P11P_REMOTE_REJECTED },
        { "issued", P11P_REMOTE_ISSUED },
        { "PENDING_APPROVAL", P11P_REMOTE_PENDING_APPROVAL },
    };
    enum p11p_remote_state st;

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        CHECK(p11p_digicert_json_state(t[i].s, &st));
        CHECK_INT_EQ(st, t[i].st);
    }
    CHECK(!p11p_digicert_json_state("WHATEVER", &st));
}

static void test_build(void)
{
    char k1[] = "subject.common_name", v1[] = "dev-001";
    char k2[] = "subject.organization_name", v2[] = "ACME";
    char k3[] = "DEVICE_IDENTIFIER", v3[] = "00:11:22:33:44:55";
    struct digicert_kv attrs[] = { { k1, v1 }, { k2, v2 } };
    struct digicert_kv dev[] = { { k3, v3 } };
    char *out = NULL;

    CHECK_RV(p11p_digicert_json_build("PEM", "IOT_1", attrs, 2, dev, 1, &out),
             P11P_OK);
    CHECK_STR_EQ(
        out,
        "{\"csr\":\"PEM\",\"enrollment_profile_id\":\"IOT_1\",\"certificate_profile_attributes\":[{\"id\":\"subject.common_name\",\"value\":\"dev-001\"},"
        "{\"id\":\"subject.organization_name\",\"value\":\"ACME\"}],\"device_attributes\":[{\"id\":\"DEVICE_IDENTIFIER\",\"value\":\"00:11:22:33:44:55\"}]}");
    free(out);
}

static void test_hostile(void)
{
    static const char *const bodies[] = {
        "",
        "{",
        "null",
        "[]",
        "{\"records\":null}",
        "{\"records\":[1]}",
        "{\"records\":[{\"id\":{}}]}",
        "{\"certificate_id\":\"a b\"}",
        "{\"certificate_id\":\"\"}",
        "{\"pem\":\"x\"}",
        "\xef\xbb\xbf{}",
    };
    struct digicert_answer a;
    struct digicert_record *r = NULL;
    size_t n = 0;
    long long total;
    char why[256];
    char code[32];

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        why[0] = '\0';
        CHECK_RV(p11p_digicert_json_answer(B(bodies[i]), &a, why, sizeof(why)),
                 P11P_ERR_PROTOCOL);
        CHECK(why[0] == '$');
        CHECK_RV(p11p_digicert_json_search(B(bodies[i]), &r, &n, &total, why,
                                           sizeof(why)),
                 P11P_ERR_PROTOCOL);
        CHECK(why[0] == '$');
        (void)p11p_digicert_json_error(B(bodies[i]), code, sizeof(code), why,
                                       sizeof(why));
    }
}

int main(void)
{
    CHECK_RUN(test_errors);
    CHECK_RUN(test_answers);
    CHECK_RUN(test_search);
    CHECK_RUN(test_record);
    CHECK_RUN(test_states);
    CHECK_RUN(test_build);
    CHECK_RUN(test_hostile);
    return check_summary();
}

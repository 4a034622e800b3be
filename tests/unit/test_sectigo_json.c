/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of remote/sectigo/sectigo_json.c over replies shaped as in
 * PORTALS.md Part 1 and 3b: every status string, error envelopes, pending
 * collect codes, malformed and hostile bodies. */
#include <string.h>

#include "remote/sectigo/sectigo_internal.h"
#include "tests/unit/check.h"

#define B(s) (s), strlen(s)

static void test_error_envelope(void)
{
    int64_t code = 1;
    char desc[128];

    CHECK_RV(p11p_sectigo_json_error(
                 B("{\"code\":-16,\"description\":\"Unknown user\"}"), &code,
                 desc, sizeof(desc)),
             P11P_OK);
    CHECK_INT_EQ(code, -16);
    CHECK_STR_EQ(desc, "Unknown user");
    CHECK_RV(
        p11p_sectigo_json_error(
            B("{\"code\":0,\"description\":\"Being processed by Sectigo\"}"),
            &code, desc, sizeof(desc)),
        P11P_OK);
    CHECK_INT_EQ(code, 0);
    CHECK_RV(
        p11p_sectigo_json_error(
            B("{\"code\":-1104,\"description\":\"Invalid order number 123\",\"details\":\"more\",\"items\":[]}"),
            &code, desc, sizeof(desc)),
        P11P_OK);
    CHECK_STR_EQ(desc, "Invalid order number 123 - more");
    CHECK_RV(p11p_sectigo_json_error(B(""), &code, desc, sizeof(desc)),
             P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_sectigo_json_error(B("{\"description\":\"x\"}"), &code, desc,
                                     sizeof(desc)),
             P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_sectigo_json_error(B("[1]"), &code, desc, sizeof(desc)),
             P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_sectigo_json_error(B("<html>502</html>"), &code, desc,
                                     sizeof(desc)),
             P11P_ERR_PROTOCOL);
}

static void test_enroll(void)
{
    char id[64];
    char st[32];
    char why[256];

    CHECK_RV(p11p_sectigo_json_enroll(
                 B("{\"sslId\": 55, \"renewId\": \"gu03sW6WENt7GTvDTuOP\"}"),
                 false, id, sizeof(id), st, sizeof(st), why, sizeof(why)),
             P11P_OK);
    CHECK_STR_EQ(id, "55");
    CHECK_STR_EQ(st, "");
    CHECK_RV(
        p11p_sectigo_json_enroll(
            B("{\"deviceCertId\": 84, \"status\": \"APPROVED\", \"backendCertId\": \"5360\", \"orderNumber\": 84}"),
            true, id, sizeof(id), st, sizeof(st), why, sizeof(why)),
        P11P_OK);
    CHECK_STR_EQ(id, "84");
    CHECK_STR_EQ(st, "APPROVED");
    CHECK_RV(p11p_sectigo_json_enroll(B("{\"sslId\":\"56\"}"), false, id,
                                      sizeof(id), st, sizeof(st), why,
                                      sizeof(why)),
             P11P_OK);
    CHECK_STR_EQ(id, "56");
    CHECK_RV(p11p_sectigo_json_enroll(B("{\"renewId\":\"x\"}"), false, id,
                                      sizeof(id), st, sizeof(st), why,
                                      sizeof(why)),
             P11P_ERR_PROTOCOL);
    CHECK(strstr(why, "$.sslId") != NULL);
    CHECK_RV(p11p_sectigo_json_enroll(B("{\"sslId\":true}"), false, id,
                                      sizeof(id), st, sizeof(st), why,
                                      sizeof(why)),
             P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_sectigo_json_enroll(B("{\"sslId\":\"../../x\"}"), false, id,
                                      sizeof(id), st, sizeof(st), why,
                                      sizeof(why)),
             P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_sectigo_json_enroll(B("{\"sslId\":5"), false, id, sizeof(id),
                                      st, sizeof(st), why, sizeof(why)),
             P11P_ERR_PROTOCOL);
}

static void test_details(void)
{
    struct sectigo_details d;
    char why[256];

    CHECK_RV(
        p11p_sectigo_json_details(
            B("{\"commonName\":\"www.example.org\",\"sslId\":55,\"id\":55,\"orgId\":103,\"status\":\"Applied\","
              "\"backendCertId\":\"7344326\",\"certType\":{\"id\":1013,\"name\":\"OV SSL\",\"terms\":[365]},"
              "\"term\":365,\"requestedVia\":\"Web API\",\"requested\":\"05/21/2025\",\"approved\":\"\","
              "\"serialNumber\":\"AB:CD:EF:01\",\"comments\":\"x; p11portal-request-token=tok1\","
              "\"customFields\":[{\"name\":\"requestToken\",\"value\":\"tok1\"},{\"name\":\"other\"}],"
              "\"subjectAlternativeNames\":[\"www.example.org\"],\"keyType\":\"RSA - 2048\",\"renewed\":false}"),
            "requestToken", &d, why, sizeof(why)),
        P11P_OK);
    CHECK_STR_EQ(d.id, "55");
    CHECK_STR_EQ(d.status, "Applied");
    CHECK_STR_EQ(d.serial, "AB:CD:EF:01");
    CHECK_STR_EQ(d.token_value, "tok1");
    CHECK(strstr(d.comments, "tok1") != NULL);
    CHECK_RV(
        p11p_sectigo_json_details(B("{\"id\":55}"), NULL, &d, why, sizeof(why)),
        P11P_ERR_PROTOCOL);
    CHECK_STR_EQ(why, "$.status: missing: expected string");
    CHECK_RV(p11p_sectigo_json_details(
                 B("{\"id\":55,\"status\":\"Issued\",\"customFields\":{}}"),
                 "requestToken", &d, why, sizeof(why)),
             P11P_ERR_PROTOCOL);
    CHECK(strstr(why, "$.customFields") != NULL);
    CHECK_RV(
        p11p_sectigo_json_details(
            B("{\"id\":55,\"status\":\"Issued\",\"customFields\":[{\"value\":\"v\"}]}"),
            "requestToken", &d, why, sizeof(why)),
        P11P_ERR_PROTOCOL);
    CHECK(strstr(why, "$.customFields[0].name") != NULL);
}

static void test_states(void)
{
    static const struct {
        const char *s;
        enum p11p_remote_state st;
    } t[] = {
        { "Invalid", P11P_REMOTE_REJECTED },
        { "Requested", P11P_REMOTE_PENDING_APPROVAL },
        { "Approved", P11P_REMOTE_PROCESSING },
        { "Declined", P11P_REMOTE_REJECTED },
        { "Applied", P11P_REMOTE_PROCESSING },
        { "Issued", P11P_REMOTE_ISSUED },
        { "Revoked", P11P_REMOTE_REVOKED },
        { "Expired", P11P_REMOTE_EXPIRED },
        { "Replaced", P11P_REMOTE_REVOKED },
        { "Rejected", P11P_REMOTE_REJECTED },
        { "SAApproved", P11P_REMOTE_PENDING_APPROVAL },
        { "Init", P11P_REMOTE_PENDING_APPROVAL },
        { "REQUESTED", P11P_REMOTE_PENDING_APPROVAL },
        { "ISSUED", P11P_REMOTE_ISSUED },
        { "DOWNLOADED", P11P_REMOTE_ISSUED },
        { "AWAITING_APPROVAL", P11P_REMOTE_PENDING_APPROVAL },
        { "Awaiting Approval", P11P_REMOTE_PENDING_APPROVAL },
        { "Enrolled - Pending Download", P11P_REMOTE_PROCESSING },
        { "Not Enrolled", P11P_REMOTE_PENDING_APPROVAL },
        { "issued", P11P_REMOTE_ISSUED },
    };
    enum p11p_remote_state st;

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        CHECK(p11p_sectigo_json_state(t[i].s, &st));
        CHECK_INT_EQ(st, t[i].st);
    }
    CHECK(!p11p_sectigo_json_state("Unmanaged", &st));
    CHECK(!p11p_sectigo_json_state("", &st));
}

static void test_collect_codes(void)
{
    CHECK_INT_EQ(p11p_sectigo_json_collect_class(0), SECTIGO_COLLECT_PENDING);
    CHECK_INT_EQ(p11p_sectigo_json_collect_class(-183),
                 SECTIGO_COLLECT_PENDING);
    CHECK_INT_EQ(p11p_sectigo_json_collect_class(-1400),
                 SECTIGO_COLLECT_PENDING);
    CHECK_INT_EQ(p11p_sectigo_json_collect_class(-109),
                 SECTIGO_COLLECT_PENDING);
    CHECK_INT_EQ(p11p_sectigo_json_collect_class(-110),
                 SECTIGO_COLLECT_REVOKED);
    CHECK_INT_EQ(p11p_sectigo_json_collect_class(-192),
                 SECTIGO_COLLECT_REVOKED);
    CHECK_INT_EQ(p11p_sectigo_json_collect_class(-124),
                 SECTIGO_COLLECT_NOT_FOUND);
    CHECK_INT_EQ(p11p_sectigo_json_collect_class(-5101),
                 SECTIGO_COLLECT_NOT_FOUND);
    CHECK_INT_EQ(p11p_sectigo_json_collect_class(-1450), SECTIGO_COLLECT_ERROR);
}

static void test_types(void)
{
    const char *types =
        "[{\"id\":1013,\"name\":\"OV SSL\",\"description\":\"\",\"terms\":[365],"
        "\"keyTypes\":{\"RSA\":[\"2048\",\"4096\"],\"EC\":[\"P-256\"]},\"useSecondaryOrgName\":false},"
        "{\"id\":1014,\"name\":\"DV\",\"terms\":[90,365]}]";
    struct sectigo_type_check w = { "OV SSL", 365, "RSA", "2048" };
    int64_t id = 0;
    unsigned term = 0;
    char why[256];

    CHECK_RV(
        p11p_sectigo_json_types(B(types), &w, &id, &term, why, sizeof(why)),
        P11P_OK);
    CHECK_INT_EQ(id, 1013);
    w.profile = "1013";
    w.key_alg = "EC";
    w.key_param = "P-256";
    CHECK_RV(
        p11p_sectigo_json_types(B(types), &w, &id, &term, why, sizeof(why)),
        P11P_OK);
    w.key_param = "P-384";
    CHECK_RV(
        p11p_sectigo_json_types(B(types), &w, &id, &term, why, sizeof(why)),
        P11P_ERR_REJECTED);
    CHECK(strstr(why, "key type EC P-384") != NULL);
    w.key_param = "P-256";
    w.term = 730;
    CHECK_RV(
        p11p_sectigo_json_types(B(types), &w, &id, &term, why, sizeof(why)),
        P11P_ERR_REJECTED);
    CHECK(strstr(why, "term 730") != NULL);
    w.profile = "EV";
    CHECK_RV(
        p11p_sectigo_json_types(B(types), &w, &id, &term, why, sizeof(why)),
        P11P_ERR_REJECTED);
    CHECK(strstr(why, "OV SSL (1013)") != NULL);
    /* no keyTypes: any key */
    w.profile = "dv";
    w.term = 90;
    w.key_alg = "ED25519";
    CHECK_RV(
        p11p_sectigo_json_types(B(types), &w, &id, &term, why, sizeof(why)),
        P11P_OK);
    CHECK_INT_EQ(id, 1014);
    CHECK_INT_EQ(term, 90);
    w.term = 0;
    w.profile = "OV SSL";
    w.key_alg = NULL;
    CHECK_RV(
        p11p_sectigo_json_types(B(types), &w, &id, &term, why, sizeof(why)),
        P11P_OK);
    CHECK_INT_EQ(term, 365);
    CHECK_RV(p11p_sectigo_json_types(B("[{\"id\":\"x\",\"name\":\"a\"}]"), &w,
                                     &id, &term, why, sizeof(why)),
             P11P_ERR_PROTOCOL);
    CHECK(strstr(why, "$[0].id") != NULL);
    CHECK_RV(p11p_sectigo_json_types(B("{}"), &w, &id, &term, why, sizeof(why)),
             P11P_ERR_PROTOCOL);
}

static void test_custom_fields_and_list(void)
{
    const char *cf =
        "[{\"id\":1,\"name\":\"requestToken\",\"mandatory\":false},{\"id\":2,\"name\":\"station\",\"mandatory\":true}]";
    const char *names1[] = { "requestToken" };
    const char *names2[] = { "requestToken", "station" };
    char why[256];
    char ids[4][64];
    size_t n = 0;

    CHECK_RV(
        p11p_sectigo_json_custom_fields(B(cf), names1, 1, why, sizeof(why)),
        P11P_ERR_REJECTED);
    CHECK(strstr(why, "station") != NULL);
    CHECK_RV(
        p11p_sectigo_json_custom_fields(B(cf), names2, 2, why, sizeof(why)),
        P11P_OK);
    CHECK_RV(p11p_sectigo_json_custom_fields(
                 B("[{\"id\":1,\"name\":\"a\",\"mandatory\":\"yes\"}]"), names1,
                 1, why, sizeof(why)),
             P11P_ERR_PROTOCOL);
    CHECK_RV(
        p11p_sectigo_json_list(
            B("[{\"sslId\":58,\"commonName\":\"a.example.org\"},{\"sslId\":59,\"commonName\":\"b\",\"serialNumber\":\"0A:1B\"}]"),
            false, ids, 4, &n, why, sizeof(why)),
        P11P_OK);
    CHECK_INT_EQ(n, 2);
    CHECK_STR_EQ(ids[1], "59");
    CHECK_RV(
        p11p_sectigo_json_list(B("[]"), false, ids, 4, &n, why, sizeof(why)),
        P11P_OK);
    CHECK_INT_EQ(n, 0);
    CHECK_RV(p11p_sectigo_json_list(B("[{\"id\":3}]"), true, ids, 4, &n, why,
                                    sizeof(why)),
             P11P_OK);
    CHECK_STR_EQ(ids[0], "3");
    CHECK_RV(p11p_sectigo_json_list(B("[{\"commonName\":\"x\"}]"), false, ids,
                                    4, &n, why, sizeof(why)),
             P11P_ERR_PROTOCOL);
}

static void test_hostile(void)
{
    static const char *const bodies[] = {
        "",
        "null",
        "[",
        "{\"sslId\":1e999}",
        "{\"sslId\":-0.5}",
        "\"str\"",
        "{\"status\":\"Issued\",\"id\":{}}",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        "{\"id\":\"a b\",\"status\":\"Issued\",\"customFields\":[1,2,3]}",
        "{\"sslId\":12345678901234567890123}",
    };
    struct sectigo_details d;
    char id[64];
    char st[32];
    char why[256];
    int64_t code;
    char ids[4][64];
    size_t n;
    unsigned uterm;
    struct sectigo_type_check w = { "x", 0, NULL, NULL };

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        why[0] = '\0';
        CHECK_RV(p11p_sectigo_json_enroll(B(bodies[i]), false, id, sizeof(id),
                                          st, sizeof(st), why, sizeof(why)),
                 P11P_ERR_PROTOCOL);
        CHECK(why[0] == '$');
        CHECK_RV(p11p_sectigo_json_details(B(bodies[i]), "requestToken", &d,
                                           why, sizeof(why)),
                 P11P_ERR_PROTOCOL);
        CHECK(why[0] == '$');
        (void)p11p_sectigo_json_error(B(bodies[i]), &code, why, sizeof(why));
        (void)p11p_sectigo_json_list(B(bodies[i]), false, ids, 4, &n, why,
                                     sizeof(why));
        (void)p11p_sectigo_json_types(B(bodies[i]), &w, &code, &uterm, why,
                                      sizeof(why));
    }
}

int main(void)
{
    CHECK_RUN(test_error_envelope);
    CHECK_RUN(test_enroll);
    CHECK_RUN(test_details);
    CHECK_RUN(test_states);
    CHECK_RUN(test_collect_codes);
    CHECK_RUN(test_types);
    CHECK_RUN(test_custom_fields_and_list);
    CHECK_RUN(test_hostile);
    return check_summary();
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the outcome classification and redaction of remote/http.c.
 * The test includes curl only for the CURLcode values. */
#include <string.h>

#include <curl/curl.h>

#include "remote/http.h"
#include "tests/unit/check.h"

static void test_curl_codes(void)
{
    CHECK_RV(p11p_http_classify_curl(CURLE_OK, true), P11P_OK);
    CHECK_RV(p11p_http_classify_curl(CURLE_COULDNT_RESOLVE_HOST, false),
             P11P_ERR_NOT_SENT);
    CHECK_RV(p11p_http_classify_curl(CURLE_COULDNT_CONNECT, false),
             P11P_ERR_NOT_SENT);
    CHECK_RV(p11p_http_classify_curl(CURLE_SSL_CONNECT_ERROR, false),
             P11P_ERR_NOT_SENT);
    CHECK_RV(p11p_http_classify_curl(CURLE_PEER_FAILED_VERIFICATION, false),
             P11P_ERR_NOT_SENT);
    CHECK_RV(p11p_http_classify_curl(CURLE_SEND_ERROR, true),
             P11P_ERR_SENT_UNKNOWN);
    CHECK_RV(p11p_http_classify_curl(CURLE_RECV_ERROR, true),
             P11P_ERR_SENT_UNKNOWN);
    CHECK_RV(p11p_http_classify_curl(CURLE_GOT_NOTHING, true),
             P11P_ERR_SENT_UNKNOWN);
    CHECK_RV(p11p_http_classify_curl(CURLE_PARTIAL_FILE, true),
             P11P_ERR_SENT_UNKNOWN);
    CHECK_RV(p11p_http_classify_curl(CURLE_OPERATION_TIMEDOUT, true),
             P11P_ERR_SENT_UNKNOWN);
    CHECK_RV(p11p_http_classify_curl(CURLE_OPERATION_TIMEDOUT, false),
             P11P_ERR_NOT_SENT);
    CHECK_RV(p11p_http_classify_curl(CURLE_FILESIZE_EXCEEDED, true),
             P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_http_classify_curl(CURLE_WEIRD_SERVER_REPLY, true),
             P11P_ERR_PROTOCOL);
    /* unknown codes: conservative */
    CHECK_RV(p11p_http_classify_curl(9999, true), P11P_ERR_SENT_UNKNOWN);
    CHECK_RV(p11p_http_classify_curl(9999, false), P11P_ERR_NOT_SENT);
}

static void test_http_status(void)
{
    CHECK_RV(p11p_http_classify_status(200, false), P11P_OK);
    CHECK_RV(p11p_http_classify_status(204, false), P11P_OK);
    CHECK_RV(p11p_http_classify_status(401, false), P11P_ERR_PORTAL_AUTH);
    CHECK_RV(p11p_http_classify_status(403, true), P11P_ERR_PORTAL_AUTH);
    CHECK_RV(p11p_http_classify_status(429, false), P11P_ERR_RATE_LIMITED);
    CHECK_RV(p11p_http_classify_status(400, true), P11P_ERR_REJECTED);
    CHECK_RV(p11p_http_classify_status(404, true), P11P_ERR_REJECTED);
    CHECK_RV(p11p_http_classify_status(500, false), P11P_ERR_SENT_UNKNOWN);
    CHECK_RV(p11p_http_classify_status(503, false), P11P_ERR_SENT_UNKNOWN);
    CHECK_RV(p11p_http_classify_status(500, true), P11P_ERR_NOT_SENT);
    CHECK_RV(p11p_http_classify_status(302, true), P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_http_classify_status(0, true), P11P_ERR_PROTOCOL);
    CHECK_RV(p11p_http_classify_status(999, true), P11P_ERR_PROTOCOL);
}

static void test_redaction(void)
{
    static const char *const extra[] = { "requestToken", NULL };
    char body[] =
        "{\"login\":\"admin\", \"password\" : \"s3cr\\\"et\",\"x\":\"keep\",\"requestToken\":\"t\"}";

    CHECK(p11p_http_is_redacted("X-API-KEY", 9, NULL));
    CHECK(p11p_http_is_redacted("Authorization", 13, NULL));
    CHECK(p11p_http_is_redacted("password", 8, NULL));
    CHECK(!p11p_http_is_redacted("customerUri", 11, NULL));
    CHECK(p11p_http_is_redacted("requesttoken", 12, extra));
    p11p_http_redact_json(body, strlen(body), extra);
    CHECK(strstr(body, "admin") == NULL);
    CHECK(strstr(body, "s3cr") == NULL);
    CHECK(strstr(body, "et\"") == NULL);
    CHECK(strstr(body, "keep") != NULL);
}

static void test_escape(void)
{
    char out[32];
    CHECK_RV(p11p_http_escape("IOT_ab-1.x~", out, sizeof(out)), P11P_OK);
    CHECK_STR_EQ(out, "IOT_ab-1.x~");
    CHECK_RV(p11p_http_escape("a/b c?", out, sizeof(out)), P11P_OK);
    CHECK_STR_EQ(out, "a%2Fb%20c%3F");
    CHECK_RV(p11p_http_escape("////////////", out, 8), P11P_ERR_INVALID_INPUT);
}

int main(void)
{
    CHECK_RUN(test_curl_codes);
    CHECK_RUN(test_http_status);
    CHECK_RUN(test_redaction);
    CHECK_RUN(test_escape);
    return check_summary();
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for core/base: status table, bounded buffers, secrets, string
 * helpers, the log switch and the fork counter. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/buf.h"
#include "core/base/fork.h"
#include "core/base/log.h"
#include "core/base/secret.h"
#include "core/base/status.h"
#include "core/base/str.h"
#include "tests/unit/check.h"

static void test_status_table(void)
{
    CHECK_STR_EQ(p11p_status_name(P11P_OK), "OK");
    CHECK_STR_EQ(p11p_status_name(P11P_ERR_SENT_UNKNOWN), "ERR_SENT_UNKNOWN");
    CHECK_RV(p11p_status_default_ckr(P11P_ERR_NOMEM), CKR_HOST_MEMORY);
    CHECK_RV(p11p_status_default_ckr(P11P_ERR_INTERNAL), CKR_GENERAL_ERROR);
    CHECK_RV(p11p_status_default_ckr(P11P_ERR_PIN_LOCKED), CKR_PIN_LOCKED);
    /* Out of range values never crash. */
    CHECK_STR_EQ(p11p_status_name((enum p11p_status)999), "ERR_UNKNOWN_STATUS");
    CHECK_RV(p11p_status_default_ckr((enum p11p_status)999), CKR_GENERAL_ERROR);
    /* Every status has distinct name and non-empty text. */
    for (int i = 0; i < P11P_STATUS_COUNT; i++) {
        CHECK(strlen(p11p_status_text((enum p11p_status)i)) > 0);
        for (int j = i + 1; j < P11P_STATUS_COUNT; j++) {
            CHECK(strcmp(p11p_status_name((enum p11p_status)i),
                         p11p_status_name((enum p11p_status)j))
                  != 0);
        }
    }
}

static void test_buf_cap(void)
{
    struct p11p_buf b;
    p11p_buf_init(&b, 8);
    CHECK_RV(p11p_buf_append(&b, "abcd", 4), P11P_OK);
    CHECK_RV(p11p_buf_printf(&b, "%d", 12), P11P_OK);
    CHECK_STR_EQ((const char *)b.data, "abcd12");
    /* Past the cap: a protocol error, and the buffer is freed. */
    CHECK_RV(p11p_buf_append(&b, "xyz", 3), P11P_ERR_PROTOCOL);
    CHECK(b.data == NULL);
    CHECK_INT_EQ(b.len, 0);
    /* Exactly the cap fits. */
    CHECK_RV(p11p_buf_append(&b, "12345678", 8), P11P_OK);
    size_t n = 0;
    unsigned char *p = p11p_buf_steal(&b, &n);
    CHECK_INT_EQ(n, 8);
    CHECK_MEM_EQ(p, n, "12345678", 8);
    free(p);
    CHECK(b.data == NULL);
    p11p_buf_free(&b);
    p11p_buf_free(NULL);
}

static void test_buf_long_printf(void)
{
    struct p11p_buf b;
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    p11p_buf_init(&b, 4096);
    CHECK_RV(p11p_buf_printf(&b, "<%s>", big), P11P_OK);
    CHECK_INT_EQ(b.len, sizeof(big) + 1);
    p11p_buf_free(&b);
}

static void test_secret(void)
{
    struct p11p_secret *s = p11p_secret_dup("1234", 4);
    CHECK(s != NULL);
    CHECK(p11p_secret_equal(s, "1234", 4));
    CHECK(!p11p_secret_equal(s, "1235", 4));
    CHECK(!p11p_secret_equal(s, "123", 3));
    CHECK(s->data[4] == '\0');
    p11p_secret_free(s);
    p11p_secret_free(NULL);
    struct p11p_secret *z = p11p_secret_new(0);
    CHECK(z != NULL && z->len == 0);
    p11p_secret_free(z);
}

static void test_str(void)
{
    char small[4];
    CHECK(p11p_str_copy(small, sizeof(small), "abc"));
    CHECK(!p11p_str_copy(small, sizeof(small), "abcd"));
    CHECK_STR_EQ(small, "abc");
    unsigned char field[8];
    p11p_str_pad(field, sizeof(field), "ab");
    CHECK_MEM_EQ(field, 8, "ab      ", 8);
    p11p_str_pad(field, sizeof(field), "abcdefghijk");
    CHECK_MEM_EQ(field, 8, "abcdefgh", 8);
    uint64_t v = 0;
    CHECK_RV(p11p_str_to_u64("42", 0, 100, &v), P11P_OK);
    CHECK_INT_EQ(v, 42);
    CHECK_RV(p11p_str_to_u64("101", 0, 100, &v), P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_str_to_u64("-1", 0, 100, &v), P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_str_to_u64("4x", 0, 100, &v), P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_str_to_u64("", 0, 100, &v), P11P_ERR_INVALID_INPUT);
    CHECK_RV(p11p_str_to_u64("99999999999999999999999", 0, UINT64_MAX, &v),
             P11P_ERR_INVALID_INPUT);
    char hex[7];
    p11p_str_hex((const unsigned char *)"\x01\xab\xff", 3, hex);
    CHECK_STR_EQ(hex, "01abff");
}

static void test_log_levels(void)
{
    /* Default (P11PORTAL_LOG unset by main): warn. */
    CHECK(p11p_log_enabled(P11P_LOG_ERROR, "cache"));
    CHECK(p11p_log_enabled(P11P_LOG_WARN, "cache"));
    CHECK(!p11p_log_enabled(P11P_LOG_DEBUG, "cache"));
    p11p_log_set_level(P11P_LOG_DEBUG);
    CHECK(p11p_log_enabled(P11P_LOG_DEBUG, "cache"));
    p11p_log_set_level(P11P_LOG_WARN);
}

static void test_fork_generation(void)
{
    p11p_fork_install();
    unsigned long before = p11p_fork_generation();
    pid_t pid = fork();
    if (pid == 0) {
        _exit(p11p_fork_generation() == before + 1 ? 0 : 1);
    }
    int status = 0;
    CHECK(pid > 0);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_INT_EQ(p11p_fork_generation(), before);
}

int main(void)
{
    unsetenv("P11PORTAL_LOG");
    CHECK_RUN(test_status_table);
    CHECK_RUN(test_buf_cap);
    CHECK_RUN(test_buf_long_printf);
    CHECK_RUN(test_secret);
    CHECK_RUN(test_str);
    CHECK_RUN(test_log_levels);
    CHECK_RUN(test_fork_generation);
    return check_summary();
}

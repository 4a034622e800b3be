/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/conf/conf.c: defaults, every key type, and that each
 * mistake is reported as "FILE:LINE: key 'K': ..." (stderr is captured into
 * a temporary file and searched).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/log.h"
#include "core/conf/conf.h"
#include "core/conf/subject.h"
#include "tests/unit/check.h"

static char logbuf[16384];

/* Parses text with stderr redirected; the log ends up in logbuf. */
static enum p11p_status parse_capture(const char *text, struct p11p_conf **out)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    dup2(fileno(tmp), 2);
    enum p11p_status rc = p11p_conf_parse_string(text, "t.conf", out);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(logbuf, 1, sizeof(logbuf) - 1, tmp);
    logbuf[n] = '\0';
    fclose(tmp);
    return rc;
}

static void expect_error(const char *text, const char *needle)
{
    struct p11p_conf *c = NULL;
    CHECK_RV(parse_capture(text, &c), P11P_ERR_CONFIG);
    CHECK(c == NULL);
    if (strstr(logbuf, needle) == NULL) {
        CHECK_FAIL_AT("expected \"%s\" in log:\n%s", needle, logbuf);
    }
}

static void test_embedded_default(void)
{
    struct p11p_conf *c = NULL;
    setenv("XDG_DATA_HOME", "/tmp/xdgtest", 1);
    setenv("P11PORTAL_CONF", "", 1);
    /* /etc/p11portal/p11portal.conf is absent on test machines. */
    if (access(P11P_CONF_DEFAULT_PATH, F_OK) == 0) {
        return;
    }
    CHECK_RV(p11p_conf_load(NULL, &c), P11P_OK);
    CHECK(c != NULL && c->n_tokens == 1);
    if (c != NULL && c->n_tokens == 1) {
        const struct p11p_conf_token *t = &c->tokens[0];
        CHECK_STR_EQ(t->name, "p11portal");
        CHECK_STR_EQ(t->label, "p11portal");
        CHECK_STR_EQ(t->driver, "local");
        CHECK_STR_EQ(t->key_backend, "soft");
        CHECK_STR_EQ(t->data_dir, "/tmp/xdgtest/p11portal");
        CHECK_STR_EQ(t->cache_path, "/tmp/xdgtest/p11portal/p11portal.db");
        CHECK_STR_EQ(t->subject, "CN=${label}");
        CHECK_STR_EQ(t->source, "(default)");
        CHECK(!t->has_mac);
    }
    p11p_conf_free(c);
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/tmp/hometest", 1);
    char *d = p11p_conf_default_data_dir();
    CHECK_STR_EQ(d, "/tmp/hometest/.local/share/p11portal");
    free(d);
}

static void test_env_override(void)
{
    struct p11p_conf *c = NULL;
    char path[] = "/tmp/p11p-conf-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "[token \"envtok\"]\ndata_dir = /tmp/x\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    setenv("P11PORTAL_CONF", path, 1);
    CHECK_RV(p11p_conf_load(NULL, &c), P11P_OK);
    CHECK(p11p_conf_find_token(c, "envtok") != NULL);
    CHECK_STR_EQ(c != NULL ? c->path : NULL, path);
    p11p_conf_free(c);
    unlink(path);
    CHECK_RV(p11p_conf_load(NULL, &c), P11P_ERR_CONFIG); /* must exist */
    unsetenv("P11PORTAL_CONF");
}

static void test_full_file(void)
{
    struct p11p_conf *c = NULL;
    const char *text = "; comment\n"
                       "[global]\n"
                       "log = syslog\n"
                       "[token \"factory\"]\n"
                       "label = Factory Line 1\n"
                       "data_dir = /tmp/fac\n"
                       "subject = CN=${mac},O=Acme\n"
                       "sans = DNS:${label}.example.com\n"
                       "profile = reject\n"
                       "term_days = 30\n"
                       "enroll_wait_ms = 500\n"
                       "refresh_interval_s = 0\n"
                       "keep_key_on_reject = yes\n"
                       "mac_start = 00-11-22-00-00-00\n"
                       "mac_end = 001122000010\n"
                       "mac_increment = 2\n"
                       "kdf_iterations = 1000\n"
                       "pin_max_retries = 3\n"
                       "trust_anchors = /tmp/anchors.pem\n"
                       "[token \"scm\"]\n"
                       "driver = sectigo\n"
                       "url = https://cert-manager.com/api\n"
                       "customer_uri = acme\n"
                       "org_id = 1234\n"
                       "timeout_ms = 5000\n";
    CHECK_RV(parse_capture(text, &c), P11P_OK);
    if (c == NULL) {
        fprintf(stderr, "%s", logbuf);
        return;
    }
    CHECK_STR_EQ(c->log_target, "syslog");
    CHECK_INT_EQ(c->n_tokens, 2);
    const struct p11p_conf_token *f = p11p_conf_find_token(c, "factory");
    CHECK(f != NULL);
    if (f != NULL) {
        CHECK_STR_EQ(f->label, "Factory Line 1");
        CHECK_STR_EQ(f->cache_path, "/tmp/fac/factory.db");
        CHECK_STR_EQ(f->subject, "CN=${mac},O=Acme");
        CHECK_STR_EQ(f->profile, "reject");
        CHECK_INT_EQ(f->term_days, 30);
        CHECK_INT_EQ(f->enroll_wait_ms, 500);
        CHECK_INT_EQ(f->refresh_interval_s, 0);
        CHECK(f->keep_key_on_reject);
        CHECK(f->has_mac);
        CHECK_INT_EQ(f->mac_start, 0x001122000000ULL);
        CHECK_INT_EQ(f->mac_end, 0x001122000010ULL);
        CHECK_INT_EQ(f->mac_increment, 2);
        CHECK_INT_EQ(f->kdf_iterations, 1000);
        CHECK_INT_EQ(f->pin_max_retries, 3);
        CHECK_STR_EQ(f->source, "t.conf:4");
    }
    const struct p11p_conf_token *s = p11p_conf_find_token(c, "scm");
    CHECK(s != NULL);
    CHECK_STR_EQ(p11p_conf_token_extra(s, "customer_uri"), "acme");
    CHECK_STR_EQ(p11p_conf_token_extra(s, "org_id"), "1234");
    CHECK(p11p_conf_token_extra(s, "nope") == NULL);
    CHECK_INT_EQ(s != NULL ? s->timeout_ms : 0, 5000);
    CHECK_INT_EQ(s != NULL ? s->enroll_wait_ms : 0, 10000);
    CHECK(p11p_conf_find_token(c, "nope") == NULL);
    p11p_conf_free(c);
}

static void test_errors(void)
{
    expect_error("[token \"a\"]\nsubjet = CN=x\n",
                 "t.conf:2: key 'subjet': unknown key");
    expect_error("[token \"a\"]\n\nterm_days = 12x\n",
                 "t.conf:3: key 'term_days': '12x' is not a whole number");
    expect_error("[token \"a\"]\nkeep_key_on_reject = maybe\n",
                 "t.conf:2: key 'keep_key_on_reject': 'maybe' is not a "
                 "boolean");
    expect_error("[token \"a\"]\nmac_start = 00:11:22:33:44\n",
                 "t.conf:2: key 'mac_start': '00:11:22:33:44' is not a MAC");
    expect_error("[token \"a\"]\n[token \"a\"]\n",
                 "t.conf:2: duplicate token \"a\"");
    expect_error("[token \"a\"]\nlabel = 0123456789012345678901234567890123\n",
                 "t.conf:2: key 'label': 34 bytes");
    expect_error("\n[token \"0123456789012345678901234567890123\"]\n",
                 "t.conf:2: token \"0123456789012345678901234567890123\": "
                 "the name is longer");
    expect_error("[token \"a\"]\ndriver = verisign\n",
                 "t.conf:2: key 'driver': unknown driver 'verisign'");
    expect_error("[token \"a\"]\nmac_start = 00:00:00:00:00:10\n"
                 "mac_end = 00:00:00:00:00:01\n",
                 "t.conf:3: key 'mac_end': mac_end is below mac_start");
    expect_error("[token \"a\"]\nmac_start = 00:00:00:00:00:10\n"
                 "mac_increment = 0\n",
                 "t.conf:3: key 'mac_increment': '0' is not a positive");
    expect_error("[token \"a\"]\nkey_backend = tpm\n",
                 "t.conf:2: key 'key_backend': unknown key backend 'tpm'");
    expect_error("[token \"a\"]\nurl = https://x\n",
                 "t.conf:2: key 'url': not used by driver 'local'");
    expect_error("[token \"a\"]\nlabel = x\nlabel = y\n",
                 "t.conf:3: key 'label': already set on line 2");
    expect_error("x = 1\n[token \"a\"]\n", "t.conf:1: key 'x': outside");
    expect_error("[tokens]\n", "t.conf:1: section [tokens]");
    expect_error("[token \"a\"]\nthis is not ini\n", "t.conf:2: syntax error");
    expect_error("[global]\nlog = stderr\n", "no [token \"name\"] section");
    expect_error("[global]\nfoo = 1\n[token \"a\"]\n",
                 "t.conf:2: key 'foo': unknown key in [global]");
    /* Several mistakes: every one is reported. */
    expect_error("[token \"a\"]\nterm_days = -1\nbogus = 1\n",
                 "t.conf:3: key 'bogus'");
    CHECK(strstr(logbuf, "t.conf:2: key 'term_days'") != NULL);
    CHECK(strstr(logbuf, "2 error(s)") != NULL);
}

static void test_mac_notations(void)
{
    struct p11p_conf *c = NULL;
    CHECK_RV(parse_capture("[token \"m\"]\ndata_dir=/tmp\n"
                           "mac_start = 001122334400\n"
                           "mac_increment = 00:00:00:00:01:00\n",
                           &c),
             P11P_OK);
    if (c != NULL) {
        CHECK_INT_EQ(c->tokens[0].mac_increment, 0x100);
        CHECK_INT_EQ(c->tokens[0].mac_end, P11P_MAC_MAX);
    }
    p11p_conf_free(c);
}

int main(void)
{
    p11p_log_set_level(P11P_LOG_WARN);
    CHECK_RUN(test_embedded_default);
    CHECK_RUN(test_env_override);
    CHECK_RUN(test_full_file);
    CHECK_RUN(test_errors);
    CHECK_RUN(test_mac_notations);
    return check_summary();
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of remote/cred.c: mode and owner checks, the file format the
 * simulator writes, environment variables. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "remote/cred.h"
#include "tests/unit/check.h"

static char dir[] = "/tmp/p11p-test-cred-XXXXXX";

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        if (write(fd, text, strlen(text)) < 0) {
            perror("write");
        }
        close(fd);
    }
    chmod(path, mode);
}

static const char sim_text[] =
    "# portal-sim: Sectigo SCM credentials (PORTALS.md 1.2). Mode 0600.\n"
    "base_url = https://127.0.0.1:4443\n"
    "private_base_url = https://127.0.0.1:4443/private\n"
    "login = p11portal-sim-admin\n"
    "password = scm-S3cret\n"
    "customer_uri = p11portal-sim\n"
    "org_id = 7\n"
    "\n"
    "; other comment\n"
    "api_key = \"dc1-abc\"\n"
    "future_key = ignored\n";

static void test_modes(void)
{
    char path[256];
    struct p11p_cred *c = calloc(1, sizeof(*c));

    snprintf(path, sizeof(path), "%s/c.cred", dir);
    write_file(path, sim_text, 0644);
    CHECK_RV(p11p_cred_read_file(path, c), P11P_ERR_CONFIG);
    CHECK(c->password == NULL);
    chmod(path, 0640);
    CHECK_RV(p11p_cred_read_file(path, c), P11P_ERR_CONFIG);
    chmod(path, 0604);
    CHECK_RV(p11p_cred_read_file(path, c), P11P_ERR_CONFIG);
    chmod(path, 0600);
    CHECK_RV(p11p_cred_read_file(path, c), P11P_OK);
    CHECK_STR_EQ(c->login, "p11portal-sim-admin");
    CHECK_STR_EQ(c->customer_uri, "p11portal-sim");
    CHECK_STR_EQ(c->org_id, "7");
    CHECK_STR_EQ(c->base_url, "https://127.0.0.1:4443");
    CHECK(c->password != NULL);
    CHECK_MEM_EQ(c->password->data, c->password->len, "scm-S3cret", 10);
    CHECK(c->api_key != NULL);
    CHECK_MEM_EQ(c->api_key->data, c->api_key->len, "dc1-abc", 7);
    chmod(path, 0400);
    CHECK_RV(p11p_cred_read_file(path, c), P11P_OK);
    snprintf(path, sizeof(path), "%s/missing", dir);
    CHECK_RV(p11p_cred_read_file(path, c), P11P_ERR_CONFIG);
    snprintf(path, sizeof(path), "%s/bad.cred", dir);
    write_file(path, "login admin\n", 0600);
    CHECK_RV(p11p_cred_read_file(path, c), P11P_ERR_CONFIG);
    /* a symlink is not followed */
    snprintf(path, sizeof(path), "%s/link.cred", dir);
    {
        char target[256];
        snprintf(target, sizeof(target), "%s/c.cred", dir);
        CHECK(symlink(target, path) == 0);
    }
    CHECK_RV(p11p_cred_read_file(path, c), P11P_ERR_CONFIG);
    p11p_cred_free(c);
    p11p_cred_free(NULL);
}

static void test_env_and_load(void)
{
    struct p11p_conf_token t;
    struct p11p_cred *c = NULL;
    char path[256];

    char name[] = "factory-1";

    memset(&t, 0, sizeof(t));
    t.name = name;
    setenv("P11PORTAL_FACTORY_1_API_KEY", "env-key", 1);
    setenv("P11PORTAL_FACTORY_1_LOGIN", "env-login", 1);
    CHECK_RV(p11p_cred_load(&t, &c), P11P_OK);
    CHECK(c->api_key != NULL);
    CHECK_MEM_EQ(c->api_key->data, c->api_key->len, "env-key", 7);
    CHECK_STR_EQ(c->login, "env-login");
    CHECK(c->password == NULL);
    p11p_cred_free(c);
    c = NULL;
    /* the environment overrides the file */
    snprintf(path, sizeof(path), "%s/c.cred", dir);
    chmod(path, 0600);
    t.credentials_file = path;
    CHECK_RV(p11p_cred_load(&t, &c), P11P_OK);
    CHECK_MEM_EQ(c->api_key->data, c->api_key->len, "env-key", 7);
    CHECK_MEM_EQ(c->password->data, c->password->len, "scm-S3cret", 10);
    p11p_cred_free(c);
    c = NULL;
    chmod(path, 0666);
    CHECK_RV(p11p_cred_load(&t, &c), P11P_ERR_CONFIG);
    CHECK(c == NULL);
    unsetenv("P11PORTAL_FACTORY_1_API_KEY");
    unsetenv("P11PORTAL_FACTORY_1_LOGIN");
}

int main(void)
{
    char path[300];
    if (mkdtemp(dir) == NULL) {
        return 99;
    }
    CHECK_RUN(test_modes);
    CHECK_RUN(test_env_and_load);
    {
        const char *names[] = { "c.cred", "bad.cred", "link.cred" };
        for (size_t i = 0; i < 3; i++) {
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
            unlink(path);
        }
        rmdir(dir);
    }
    return check_summary();
}

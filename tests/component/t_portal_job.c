/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helper of the portal batch jobs (core/enroll/job.c), driving the
 * enrollment engine of token "p11portal" ($P11PORTAL_CONF, initialised by
 * the test) directly, without the p11portal tool:
 *
 *   t_portal_job PINFILE make N PREFIX   N EC P-256 keys with defer_submit
 *                                        (labels PREFIX-0..), prints the
 *                                        order ids, one a line
 *   t_portal_job PINFILE submit ID...    p11p_enroll_submit_job, prints
 *                                        "job <id>" (exit 3 if refused)
 *   t_portal_job PINFILE collect         one forced p11p_enroll_collect,
 *                                        prints "changed N"
 *   t_portal_job PINFILE licences        prints "licences N" (exit 4 if the
 *                                        portal does not tell)
 *   t_portal_job PINFILE orders          "id state portal_id" per order
 *
 * Used by tests/integration/sim_portal_job.sh. Exit 0 ok, 1 failure, 2
 * usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/obj_mac.h>

#include "cache/cache.h"
#include "core/base/secret.h"
#include "core/base/str.h"
#include "core/conf/conf.h"
#include "core/enroll/enroll.h"
#include "core/enroll/order.h"
#include "core/keys/backend.h"

struct env {
    struct p11p_conf *conf;
    struct p11p_cache *cache;
    struct p11p_keystore *ks;
    struct p11p_enroll *e;
};

static void env_close(struct env *v)
{
    p11p_enroll_free(v->e);
    p11p_keystore_close(v->ks);
    p11p_cache_close(v->cache);
    p11p_conf_free(v->conf);
}

static int env_open(struct env *v, const char *pin_file)
{
    const struct p11p_conf_token *t = NULL;
    struct p11p_secret *pin = NULL;
    char buf[256];
    size_t len = 0;
    FILE *f = fopen(pin_file, "r");
    int rc = 1;

    memset(v, 0, sizeof(*v));
    if (f == NULL || fgets(buf, sizeof(buf), f) == NULL) {
        fprintf(stderr, "t_portal_job: cannot read the PIN file\n");
        goto out;
    }
    len = strcspn(buf, "\r\n");
    pin = p11p_secret_dup(buf, len);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (pin == NULL || p11p_conf_load(NULL, &v->conf) != P11P_OK
        || (t = p11p_conf_find_token(v->conf, "p11portal")) == NULL
        || p11p_cache_open(t->cache_path, &v->cache) != P11P_OK
        || p11p_keystore_open(t, v->cache, &v->ks) != P11P_OK
        || p11p_keystore_login(v->ks, P11P_ROLE_USER, pin) != P11P_OK
        || p11p_enroll_new(t, v->cache, v->ks, &v->e) != P11P_OK) {
        fprintf(stderr, "t_portal_job: cannot open token p11portal\n");
        goto out;
    }
    rc = 0;
out:
    if (f != NULL) {
        fclose(f);
    }
    p11p_secret_free(pin);
    return rc;
}

static enum p11p_status keygen(struct env *v, const char *label,
                               struct p11p_enroll_result *res)
{
    struct p11p_keygen_spec spec = { .key_type = CKK_EC,
                                     .curve_nid = NID_X9_62_prime256v1,
                                     .label = label };
    struct p11p_enroll_params params = { .label = label, .defer_submit = true };
    struct p11p_attrlist pub = { 0 };
    struct p11p_attrlist priv = { 0 };
    enum p11p_status rc;

    p11p_attrlist_set_ulong(&pub, CKA_CLASS, CKO_PUBLIC_KEY);
    p11p_attrlist_set_ulong(&pub, CKA_KEY_TYPE, CKK_EC);
    p11p_attrlist_set_str(&pub, CKA_LABEL, label);
    p11p_attrlist_set_bool(&pub, CKA_TOKEN, true);
    p11p_attrlist_set_ulong(&priv, CKA_CLASS, CKO_PRIVATE_KEY);
    p11p_attrlist_set_ulong(&priv, CKA_KEY_TYPE, CKK_EC);
    p11p_attrlist_set_str(&priv, CKA_LABEL, label);
    p11p_attrlist_set_bool(&priv, CKA_TOKEN, true);
    p11p_attrlist_set_bool(&priv, CKA_SENSITIVE, true);
    p11p_attrlist_set_bool(&priv, CKA_SIGN, true);
    rc = p11p_enroll_keypair(v->e, &spec, &params, &pub, &priv, res);
    p11p_attrlist_clear(&pub);
    p11p_attrlist_clear(&priv);
    return rc;
}

static int cmd_make(struct env *v, int argc, char **argv)
{
    uint64_t n = 0;
    char label[128];

    if (argc != 2 || p11p_str_to_u64(argv[0], 1, 100000, &n) != P11P_OK) {
        return 2;
    }
    for (uint64_t i = 0; i < n; i++) {
        struct p11p_enroll_result res;
        snprintf(label, sizeof(label), "%s-%" PRIu64, argv[1], i);
        if (keygen(v, label, &res) != P11P_OK || res.state != P11P_ORDER_NEW) {
            fprintf(stderr, "t_portal_job: key %s failed\n", label);
            return 1;
        }
        printf("%" PRId64 "\n", res.order_id);
    }
    return 0;
}

static int cmd_submit(struct env *v, int argc, char **argv)
{
    int64_t *ids = calloc((size_t)argc + 1, sizeof(*ids));
    char job[200];
    uint64_t u = 0;
    enum p11p_status rc = P11P_OK;

    if (ids == NULL || argc < 1) {
        free(ids);
        return 2;
    }
    for (int i = 0; i < argc; i++) {
        if (p11p_str_to_u64(argv[i], 1, INT64_MAX, &u) != P11P_OK) {
            free(ids);
            return 2;
        }
        ids[i] = (int64_t)u;
    }
    job[0] = '\0';
    rc = p11p_enroll_submit_job(v->e, ids, (size_t)argc, job, sizeof(job));
    free(ids);
    if (rc != P11P_OK) {
        printf("refused %s\n", p11p_status_name(rc));
        return 3;
    }
    printf("job %s\n", job);
    return 0;
}

static int cmd_orders(struct env *v)
{
    struct p11p_order *list = NULL;
    size_t n = 0;

    if (p11p_cache_order_list(v->cache, 0xffffffffu, 0, 0, &list, &n)
        != P11P_OK) {
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        printf("%" PRId64 " %s %s\n", list[i].id,
               p11p_order_state_name(list[i].state),
               list[i].portal_id != NULL ? list[i].portal_id : "-");
    }
    p11p_cache_order_list_free(list, n);
    return 0;
}

int main(int argc, char **argv)
{
    struct env v;
    int rc = 2;
    size_t changed = 0;
    int64_t left = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: t_portal_job PINFILE make|submit|collect|"
                        "licences|orders [ARGS]\n");
        return 2;
    }
    if (env_open(&v, argv[1]) != 0) {
        env_close(&v);
        return 1;
    }
    if (strcmp(argv[2], "make") == 0) {
        rc = cmd_make(&v, argc - 3, argv + 3);
    } else if (strcmp(argv[2], "submit") == 0) {
        rc = cmd_submit(&v, argc - 3, argv + 3);
    } else if (strcmp(argv[2], "collect") == 0) {
        rc = p11p_enroll_collect(v.e, 30000, true, &changed) == P11P_OK ? 0 : 1;
        printf("changed %zu\n", changed);
    } else if (strcmp(argv[2], "licences") == 0) {
        enum p11p_status st = p11p_enroll_licences(v.e, &left);
        rc = st == P11P_OK ? 0 : st == P11P_ERR_UNSUPPORTED ? 4 : 1;
        if (st == P11P_OK) {
            printf("licences %" PRId64 "\n", left);
        }
    } else if (strcmp(argv[2], "orders") == 0) {
        rc = cmd_orders(&v);
    }
    env_close(&v);
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * batch_simload: the portal simulator's own ceiling (bench/batch/run.sh,
 * issue 7). Makes COUNT EC P-256 CSRs first (not timed), then posts them
 * as bare Sectigo SSL enroll requests (POST /api/ssl/v1/enroll, the call
 * the sectigo driver makes) with CONCURRENCY requests in flight over
 * kept-alive HTTPS connections (libcurl multi, one event loop, little CPU),
 * and counts the answers. The simulator issues each certificate at enroll
 * with certType 1001, so this is the most a batch can get from it with one
 * enroll per device. Credentials come from the simulator's sectigo.cred
 * (0600); they go into request headers only, never to output, and the
 * copies this program holds are wiped.
 *
 *   batch_simload SIM_STATE_DIR CONCURRENCY COUNT [CERT_TYPE]
 *
 * Prints one line: "simload concurrency=C count=N ok=K failed=F
 * seconds=S per_s=R". A bench, not a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bench/batch/batch_csr.h"

#define FIELD_MAX 512

/* What the bench reads from sectigo.cred (the fields it needs). */
struct cred {
    char base_url[FIELD_MAX];
    char login[FIELD_MAX];
    char password[FIELD_MAX];
    char customer_uri[FIELD_MAX];
    char org_id[FIELD_MAX];
    char ca_file[FIELD_MAX];
};

struct load {
    CURLM *multi;
    CURL **easy;
    char **bodies; /* one JSON body per request */
    struct curl_slist *headers;
    char url[FIELD_MAX + 32];
    const char *ca_file;
    int conc;
    int count;
    int next;
    int ok;
    int failed;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_count(const char *s, int max)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);

    if (end == s || *end != '\0' || v < 1 || v > max) {
        return -1;
    }
    return (int)v;
}

/* Copies the value of "key = value" lines into the matching field. */
static int read_cred(const char *dir, struct cred *c)
{
    static const struct {
        const char *key;
        size_t off;
    } fields[] = {
        { "base_url", offsetof(struct cred, base_url) },
        { "login", offsetof(struct cred, login) },
        { "password", offsetof(struct cred, password) },
        { "customer_uri", offsetof(struct cred, customer_uri) },
        { "org_id", offsetof(struct cred, org_id) },
        { "ca_file", offsetof(struct cred, ca_file) },
    };
    char path[FIELD_MAX];
    char line[FIELD_MAX * 2];
    FILE *f = NULL;
    int found = 0;

    snprintf(path, sizeof(path), "%s/sectigo.cred", dir);
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "batch_simload: cannot open %s\n", path);
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
            size_t kl = strlen(fields[i].key);
            if (strncmp(line, fields[i].key, kl) == 0
                && strncmp(line + kl, " = ", 3) == 0) {
                snprintf((char *)c + fields[i].off, FIELD_MAX, "%s",
                         line + kl + 3);
                found++;
            }
        }
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    if (found < (int)(sizeof(fields) / sizeof(fields[0]))) {
        fprintf(stderr, "batch_simload: %s lacks a field\n", path);
        return -1;
    }
    return 0;
}

/* Makes the JSON enroll bodies: COUNT fresh P-256 keys, bare base64 CSRs. */
static int make_bodies(struct load *l, const char *org_id, int cert_type)
{
    struct batch_keygen *g = batch_keygen_new(BATCH_KEY_EC_P256);
    char cn[32];
    int rc = -1;

    if (g == NULL) {
        return -1;
    }
    for (int i = 0; i < l->count; i++) {
        unsigned char *der = NULL;
        size_t len = 0;
        size_t b64_max = 0;
        size_t body_max = 0;
        unsigned char *b64 = NULL;

        snprintf(cn, sizeof(cn), "ld:00:00:%02x:%02x:%02x", (i >> 16) & 0xff,
                 (i >> 8) & 0xff, i & 0xff);
        if (batch_keygen_csr(g, cn, &der, &len) != 0) {
            goto out;
        }
        b64_max = 4 * ((len + 2) / 3) + 1;
        body_max = b64_max + 256;
        b64 = malloc(b64_max);
        l->bodies[i] = malloc(body_max);
        if (b64 == NULL || l->bodies[i] == NULL) {
            free(b64);
            OPENSSL_free(der);
            goto out;
        }
        EVP_EncodeBlock(b64, der, (int)len);
        snprintf(l->bodies[i], body_max,
                 "{\"orgId\":%s,\"certType\":%d,\"term\":365,\"csr\":\"%s\","
                 "\"comments\":\"simload-%d\"}",
                 org_id, cert_type, (const char *)b64, i);
        free(b64);
        OPENSSL_free(der);
    }
    rc = 0;
out:
    batch_keygen_free(g);
    return rc;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* Puts request l->next on easy handle e and adds it to the multi. */
static int start_one(struct load *l, CURL *e)
{
    curl_easy_setopt(e, CURLOPT_URL, l->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, l->headers);
    curl_easy_setopt(e, CURLOPT_CAINFO, l->ca_file);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, l->bodies[l->next]);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    l->next++;
    return curl_multi_add_handle(l->multi, e) == CURLM_OK ? 0 : -1;
}

/* Runs all requests; counts answers 200 as ok. */
static int run_load(struct load *l)
{
    int running = 0;
    int active = 0;

    for (int i = 0; i < l->conc && l->next < l->count; i++) {
        if (start_one(l, l->easy[i]) != 0) {
            return -1;
        }
        active++;
    }
    while (active > 0) {
        CURLMsg *msg = NULL;
        int left = 0;

        if (curl_multi_perform(l->multi, &running) != CURLM_OK
            || curl_multi_poll(l->multi, NULL, 0, 1000, NULL) != CURLM_OK) {
            return -1;
        }
        while ((msg = curl_multi_info_read(l->multi, &left)) != NULL) {
            long status = 0;
            CURL *e = msg->easy_handle;

            if (msg->msg != CURLMSG_DONE) {
                continue;
            }
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
            if (msg->data.result == CURLE_OK && status == 200) {
                l->ok++;
            } else {
                if (l->failed < 5) {
                    fprintf(stderr,
                            "batch_simload: request failed: %s, HTTP %ld\n",
                            curl_easy_strerror(msg->data.result), status);
                }
                l->failed++;
            }
            curl_multi_remove_handle(l->multi, e);
            active--;
            if (l->next < l->count) {
                if (start_one(l, e) != 0) {
                    return -1;
                }
                active++;
            }
        }
    }
    return 0;
}

/* Appends "name: value" to the header list; the temporary copy is wiped. */
static int add_header(struct curl_slist **list, const char *name,
                      const char *value)
{
    char h[FIELD_MAX + 64];
    struct curl_slist *n = NULL;

    snprintf(h, sizeof(h), "%s: %s", name, value);
    n = curl_slist_append(*list, h);
    OPENSSL_cleanse(h, sizeof(h));
    if (n == NULL) {
        return -1;
    }
    *list = n;
    return 0;
}

int main(int argc, char **argv)
{
    struct cred c;
    struct load l;
    int cert_type = 1001;
    double t0 = 0;
    double secs = 0;
    int rc = 2;

    memset(&c, 0, sizeof(c));
    memset(&l, 0, sizeof(l));
    if ((argc != 4 && argc != 5) || (l.conc = parse_count(argv[2], 1024)) < 0
        || (l.count = parse_count(argv[3], 1000000)) < 0
        || (argc == 5 && (cert_type = parse_count(argv[4], 99999)) < 0)) {
        fprintf(stderr, "usage: batch_simload SIM_STATE_DIR CONCURRENCY COUNT "
                        "[CERT_TYPE]\n");
        goto out;
    }
    rc = 1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK
        || read_cred(argv[1], &c) != 0) {
        goto out;
    }
    snprintf(l.url, sizeof(l.url), "%s/api/ssl/v1/enroll", c.base_url);
    l.ca_file = c.ca_file;
    l.bodies = calloc((size_t)l.count, sizeof(*l.bodies));
    l.easy = calloc((size_t)l.conc, sizeof(*l.easy));
    l.multi = curl_multi_init();
    if (l.bodies == NULL || l.easy == NULL || l.multi == NULL
        || add_header(&l.headers, "login", c.login) != 0
        || add_header(&l.headers, "password", c.password) != 0
        || add_header(&l.headers, "customerUri", c.customer_uri) != 0
        || add_header(&l.headers, "Content-Type", "application/json") != 0) {
        fprintf(stderr, "batch_simload: out of memory\n");
        goto out;
    }
    curl_multi_setopt(l.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)l.conc);
    curl_multi_setopt(l.multi, CURLMOPT_MAXCONNECTS, (long)l.conc);
    for (int i = 0; i < l.conc; i++) {
        l.easy[i] = curl_easy_init();
        if (l.easy[i] == NULL) {
            goto out;
        }
    }
    if (make_bodies(&l, c.org_id, cert_type) != 0) {
        goto out;
    }
    t0 = now_s();
    if (run_load(&l) != 0) {
        fprintf(stderr, "batch_simload: the curl event loop failed\n");
        goto out;
    }
    secs = now_s() - t0;
    printf("simload concurrency=%d count=%d ok=%d failed=%d seconds=%.3f "
           "per_s=%.1f\n",
           l.conc, l.count, l.ok, l.failed, secs,
           secs > 0 ? (double)l.ok / secs : 0.0);
    rc = l.failed == 0 ? 0 : 1;
out:
    for (int i = 0; l.easy != NULL && i < l.conc; i++) {
        if (l.easy[i] != NULL) {
            curl_multi_remove_handle(l.multi, l.easy[i]);
            curl_easy_cleanup(l.easy[i]);
        }
    }
    curl_multi_cleanup(l.multi);
    for (int i = 0; l.bodies != NULL && i < l.count; i++) {
        free(l.bodies[i]);
    }
    free(l.bodies);
    free(l.easy);
    if (l.headers != NULL) {
        for (struct curl_slist *h = l.headers; h != NULL; h = h->next) {
            OPENSSL_cleanse(h->data, strlen(h->data));
        }
        curl_slist_free_all(l.headers);
    }
    OPENSSL_cleanse(&c, sizeof(c));
    curl_global_cleanup();
    return rc;
}

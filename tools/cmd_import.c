/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal import FILE...: portal-generated keys onto the token (issue 7
 * item 3; docs/guides/import.md). Each FILE is a PKCS#12, a zip of PKCS#12
 * or PEM files, a PEM file, or a CMS EnvelopedData encrypted to a
 * certificate whose key is on the token (then decrypted with that key,
 * in memory). Each file is atomic: all of its devices are read and checked
 * first, then stored in one transaction (p11p_enroll_import), or nothing
 * of it is. Keys already on the token are skipped with a note.
 *
 * Exit: 0 every device imported (or already there); 2 some file was bad
 * input (wrong password, corrupt, key and certificate that do not match,
 * chain that does not verify; the message names the file); 3 some device
 * failed for another reason while others were imported; 1 nothing could
 * be imported for such a reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "core/base/str.h"
#include "tools/import.h"

#define FILE_MAX  (256u * 1024 * 1024)
#define LABEL_MAX 256

enum {
    OPT_PASSWORD_SOURCE = 0x2000,
    OPT_LABEL
};

static const struct option opts[] = {
    { "password-source", required_argument, NULL, OPT_PASSWORD_SOURCE },
    { "label", required_argument, NULL, OPT_LABEL },
    { NULL, 0, NULL, 0 },
};

static const char usage[] =
    " [OPTIONS] FILE...\n"
    "Puts portal-generated keys with their certificates and chains on the\n"
    "token. FILE: PKCS#12 (.p12/.pfx), a zip of PKCS#12 or PEM files, a PEM\n"
    "file (key + certificates), or a CMS EnvelopedData (DER, PEM or S/MIME)\n"
    "encrypted to a certificate whose key is on the token.\n"
    "  --password-source FILE  the package password from FILE's first line\n"
    "                          (mode 0600); or set P11PORTAL_IMPORT_PASSWORD;\n"
    "                          else a prompt\n"
    "  --label L               label of the imported key (several devices:\n"
    "                          L-1, L-2, ...); default: certificate's CN\n";

/* One line of the report. */
struct row {
    char *file;
    char *label;
    char id[41];
    char *subject;
    char not_after[20];
    const char *result; /* imported, present, refused, failed */
    char *error;
    int64_t order_id;
};

struct imp {
    struct p11p_tool *t;
    const char *label;
    struct p11p_import_pass pass;
    struct row *rows;
    size_t n_rows, cap_rows;
    size_t imported, present, bad, failed;
};

static int handle(void *ud, int c, const char *arg)
{
    struct imp *im = ud;
    switch (c) {
    case OPT_PASSWORD_SOURCE:
        im->pass.source = arg;
        return 0;
    case OPT_LABEL:
        im->label = arg;
        return 0;
    default:
        return P11P_EXIT_USAGE;
    }
}

static struct row *add_row(struct imp *im, const char *file)
{
    struct row *r;

    if (im->n_rows == im->cap_rows) {
        size_t cap = im->cap_rows == 0 ? 16 : im->cap_rows * 2;
        struct row *nr = realloc(im->rows, cap * sizeof(*nr));
        if (nr == NULL) {
            return NULL;
        }
        im->rows = nr;
        im->cap_rows = cap;
    }
    r = &im->rows[im->n_rows];
    memset(r, 0, sizeof(*r));
    r->file = strdup(file);
    if (r->file == NULL) {
        return NULL;
    }
    snprintf(r->not_after, sizeof(r->not_after), "-");
    im->n_rows++;
    return r;
}

static void free_rows(struct imp *im)
{
    for (size_t i = 0; i < im->n_rows; i++) {
        free(im->rows[i].file);
        free(im->rows[i].label);
        free(im->rows[i].subject);
        free(im->rows[i].error);
    }
    free(im->rows);
}

/* Reads a whole file into a wiped buffer (it may hold keys in clear). */
static enum p11p_status read_file(const char *path, struct p11p_secret **out,
                                  struct p11p_import_err *err)
{
    struct stat st;
    struct p11p_secret *buf = NULL;
    size_t got = 0;
    ssize_t r;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *out = NULL;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) {
            close(fd);
        }
        return p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                                "%s: cannot read: %s", path,
                                fd < 0 ? strerror(errno) : "not a file");
    }
    if ((uint64_t)st.st_size > FILE_MAX || st.st_size == 0) {
        close(fd);
        return p11p_import_errf(err, P11P_ERR_INVALID_INPUT, "%s: %s", path,
                                st.st_size == 0 ? "empty file" : "too large");
    }
    buf = p11p_secret_new((size_t)st.st_size);
    while (buf != NULL && got < buf->len
           && (r = read(fd, buf->data + got, buf->len - got)) > 0) {
        got += (size_t)r;
    }
    close(fd);
    if (buf == NULL) {
        return P11P_ERR_NOMEM;
    }
    if (got != buf->len) {
        p11p_secret_free(buf);
        return p11p_import_errf(err, P11P_ERR_INVALID_INPUT, "%s: short read",
                                path);
    }
    *out = buf;
    return P11P_OK;
}

/* The devices of one package (CMS: of its decrypted content). */
static enum p11p_status read_package(struct imp *im, const char *name,
                                     const unsigned char *d, size_t n,
                                     int depth, struct p11p_import_pkg *pkg,
                                     struct p11p_import_err *err)
{
    enum p11p_import_kind kind = p11p_import_detect(d, n);
    struct p11p_import_pem_pool *pool = NULL;
    struct p11p_secret *plain = NULL;
    enum p11p_status rc;

    switch (kind) {
    case P11P_IMPORT_P12:
        return p11p_import_p12_read(pkg, name, d, n, &im->pass, err);
    case P11P_IMPORT_ZIP:
        return p11p_import_zip_read(pkg, name, d, n, &im->pass, err);
    case P11P_IMPORT_PEM:
        pool = p11p_import_pem_pool_new();
        rc = pool != NULL
                 ? p11p_import_pem_read(pool, name, d, n, &im->pass, err)
                 : P11P_ERR_NOMEM;
        if (rc == P11P_OK) {
            rc = p11p_import_pem_pair(pool, pkg, err);
        }
        p11p_import_pem_pool_free(pool);
        return rc;
    case P11P_IMPORT_CMS:
        if (depth > 0) {
            return p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                                    "%s: a CMS package inside a CMS package",
                                    name);
        }
        rc = p11p_import_cms_decrypt(im->t, name, d, n, &plain, err);
        if (rc == P11P_OK) {
            rc = read_package(im, name, plain->data, plain->len, depth + 1, pkg,
                              err);
        }
        p11p_secret_free(plain);
        return rc;
    default:
        return p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                                "%s: not a PKCS#12, zip, PEM or CMS file",
                                name);
    }
}

/* The label of device i of n: --label (numbered when several), else the
 * certificate's CN, else the hex CKA_ID. */
static char *label_of(const struct imp *im, const struct p11p_import_dev *dv,
                      size_t i, size_t n)
{
    char buf[LABEL_MAX];
    unsigned char id[20];
    EVP_PKEY *pub = X509_get0_pubkey(dv->cert);

    if (im->label != NULL && n == 1) {
        return strdup(im->label);
    }
    if (im->label != NULL) {
        snprintf(buf, sizeof(buf), "%s-%zu", im->label, i + 1);
        return strdup(buf);
    }
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(dv->cert),
                                  NID_commonName, buf, sizeof(buf))
        > 0) {
        return strdup(buf);
    }
    if (pub == NULL || p11p_keyattrs_default_id(pub, id) != P11P_OK) {
        return strdup("imported");
    }
    p11p_tool_hex(id, sizeof(id), buf);
    return strdup(buf);
}

static void describe_cert(X509 *x, struct row *r)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    long len;
    struct tm tm;

    if (b != NULL
        && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253)
               >= 0) {
        len = BIO_get_mem_data(b, &data);
        r->subject = malloc((size_t)len + 1);
        if (r->subject != NULL) {
            memcpy(r->subject, data, (size_t)len);
            r->subject[len] = '\0';
        }
    }
    BIO_free(b);
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
        p11p_tool_time((int64_t)timegm(&tm), r->not_after);
    }
}

/* A file whose package could not be read or checked: one row. */
static void refuse_file(struct imp *im, const char *file,
                        const struct p11p_import_err *err)
{
    struct row *r = add_row(im, file);
    bool bad = err->st == P11P_ERR_INVALID_INPUT;

    p11p_tool_fail(im->t, 0, "%s", err->why[0] != '\0' ? err->why : file);
    if (r != NULL) {
        r->result = bad ? "refused" : "failed";
        r->error = strdup(err->why);
    }
    if (bad) {
        im->bad++;
    } else {
        im->failed++;
    }
}

/* Checks and stores the devices of pkg (one transaction). */
static void store_package(struct imp *im, const char *file,
                          struct p11p_import_pkg *pkg)
{
    struct p11p_enroll_import_item *items = calloc(pkg->n + 1, sizeof(*items));
    unsigned char ***ders = calloc(pkg->n + 1, sizeof(*ders));
    size_t **lens = calloc(pkg->n + 1, sizeof(*lens));
    size_t *nders = calloc(pkg->n + 1, sizeof(*nders));
    char **labels = calloc(pkg->n + 1, sizeof(*labels));
    unsigned char **certs = calloc(pkg->n + 1, sizeof(*certs));
    struct p11p_import_err err;
    enum p11p_status rc = P11P_OK;

    memset(&err, 0, sizeof(err));
    if (items == NULL || ders == NULL || lens == NULL || nders == NULL
        || labels == NULL || certs == NULL) {
        rc = P11P_ERR_NOMEM;
    }
    for (size_t i = 0; rc == P11P_OK && i < pkg->n; i++) {
        struct p11p_import_dev *dv = &pkg->devs[i];
        int len = i2d_X509(dv->cert, &certs[i]);
        labels[i] = label_of(im, dv, i, pkg->n);
        rc = len > 0 && labels[i] != NULL
                 ? p11p_import_ders(dv->chain, &ders[i], &lens[i], &nders[i])
                 : P11P_ERR_NOMEM;
        items[i].name = dv->name;
        items[i].priv = dv->priv;
        items[i].cert = certs[i];
        items[i].cert_len = len > 0 ? (size_t)len : 0;
        items[i].chain = ders[i];
        items[i].chain_lens = lens[i];
        items[i].chain_n = nders[i];
        items[i].label = labels[i];
    }
    if (rc == P11P_OK) {
        err.st = P11P_OK;
        rc = p11p_enroll_import(im->t->enroll, items, pkg->n, err.why,
                                sizeof(err.why));
        err.st = rc;
    } else {
        p11p_import_errf(&err, rc, "%s: %s", file, p11p_status_text(rc));
    }
    if (rc != P11P_OK) {
        refuse_file(im, file, &err);
    }
    for (size_t i = 0; rc == P11P_OK && i < pkg->n; i++) {
        struct row *r = add_row(im, pkg->devs[i].name);
        if (r == NULL) {
            break;
        }
        r->label = strdup(labels[i]);
        p11p_tool_hex(items[i].ckaid, sizeof(items[i].ckaid), r->id);
        describe_cert(pkg->devs[i].cert, r);
        r->order_id = items[i].order_id;
        if (items[i].present) {
            r->result = "present";
            im->present++;
            p11p_tool_note(im->t,
                           "%s: the key is already on the token (CKA_ID "
                           "%s): skipped",
                           pkg->devs[i].name, r->id);
        } else {
            r->result = "imported";
            im->imported++;
        }
    }
    for (size_t i = 0; i < pkg->n; i++) {
        if (ders != NULL && lens != NULL && nders != NULL) {
            p11p_import_ders_free(ders[i], lens[i], nders[i]);
        }
        if (labels != NULL) {
            free(labels[i]);
        }
        if (certs != NULL) {
            OPENSSL_free(certs[i]);
        }
    }
    free(items);
    free(ders);
    free(lens);
    free(nders);
    free(labels);
    free(certs);
}

static void import_file(struct imp *im, const char *path)
{
    struct p11p_secret *data = NULL;
    struct p11p_import_pkg pkg;
    struct p11p_import_err err;
    enum p11p_status rc;

    memset(&pkg, 0, sizeof(pkg));
    memset(&err, 0, sizeof(err));
    rc = read_file(path, &data, &err);
    if (rc == P11P_OK) {
        rc = read_package(im, path, data->data, data->len, 0, &pkg, &err);
    }
    if (rc == P11P_OK && pkg.n == 0) {
        rc = p11p_import_errf(&err, P11P_ERR_INVALID_INPUT,
                              "%s: no key in the package", path);
    }
    if (rc != P11P_OK) {
        if (err.why[0] == '\0') {
            p11p_import_errf(&err, rc, "%s: %s", path, p11p_status_text(rc));
        }
        refuse_file(im, path, &err);
    } else {
        store_package(im, path, &pkg);
    }
    p11p_import_pkg_free(&pkg);
    p11p_secret_free(data);
}

static void print_table(const struct imp *im)
{
    static const char *const hdr[] = { "FILE",    "LABEL",     "CKA_ID",
                                       "SUBJECT", "NOT AFTER", "RESULT" };
    struct p11p_table *tb = p11p_table_new(6, hdr);

    if (tb == NULL) {
        return;
    }
    for (size_t i = 0; i < im->n_rows; i++) {
        const struct row *r = &im->rows[i];
        const char *cells[6] = { r->file,
                                 r->label != NULL ? r->label : "-",
                                 r->id[0] != '\0' ? r->id : "-",
                                 r->subject != NULL ? r->subject : "-",
                                 r->not_after,
                                 r->result };
        p11p_table_add(tb, cells);
    }
    p11p_table_print(tb, stdout);
    p11p_table_free(tb);
}

static void print_json(const struct imp *im)
{
    struct p11p_jw w;

    p11p_jw_init(&w, stdout, true);
    p11p_jw_begin_object(&w);
    p11p_jw_kint(&w, "imported", (int64_t)im->imported);
    p11p_jw_kint(&w, "present", (int64_t)im->present);
    p11p_jw_kint(&w, "refused", (int64_t)im->bad);
    p11p_jw_kint(&w, "failed", (int64_t)im->failed);
    p11p_jw_key(&w, "items");
    p11p_jw_begin_array(&w);
    for (size_t i = 0; i < im->n_rows; i++) {
        const struct row *r = &im->rows[i];
        p11p_jw_begin_object(&w);
        p11p_jw_kstr(&w, "file", r->file);
        p11p_jw_kstr(&w, "label", r->label);
        p11p_jw_kstr(&w, "id", r->id[0] != '\0' ? r->id : NULL);
        p11p_jw_kstr(&w, "subject", r->subject);
        p11p_jw_kstr(&w, "not_after",
                     strcmp(r->not_after, "-") != 0 ? r->not_after : NULL);
        p11p_jw_kstr(&w, "result", r->result);
        if (r->order_id != 0) {
            p11p_jw_kint(&w, "order_id", r->order_id);
        }
        if (r->error != NULL) {
            p11p_jw_kstr(&w, "error", r->error);
        }
        p11p_jw_end_object(&w);
    }
    p11p_jw_end_array(&w);
    p11p_jw_end_object(&w);
    p11p_jw_finish(&w);
}

int p11p_cmd_import(struct p11p_tool *t, int argc, char **argv)
{
    struct imp im;
    int first = 0;
    int rc;

    memset(&im, 0, sizeof(im));
    im.t = t;
    im.pass.t = t;
    rc = p11p_tool_getopt(t, argc, argv, opts, "", usage, handle, &im, &first);
    if (rc != 0) {
        return rc;
    }
    if (first >= argc) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "which file? (p11portal import FILE...)");
    }
    if (im.label != NULL
        && (im.label[0] == '\0' || strlen(im.label) >= LABEL_MAX - 12)) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE, "--label: empty or too long");
    }
    rc = p11p_tool_open(t, P11P_TOOL_NEED_ENROLL);
    if (rc != 0) {
        return rc;
    }
    for (int i = first; i < argc; i++) {
        import_file(&im, argv[i]);
    }
    p11p_import_pass_clear(&im.pass);
    if (t->json) {
        print_json(&im);
    } else {
        print_table(&im);
    }
    if (im.bad > 0) {
        rc = P11P_EXIT_USAGE;
    } else if (im.failed > 0) {
        rc =
            im.imported + im.present > 0 ? P11P_EXIT_PARTIAL : P11P_EXIT_FAILED;
    } else {
        rc = P11P_EXIT_OK;
    }
    free_rows(&im);
    return rc;
}

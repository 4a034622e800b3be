/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The embedded CA of the local driver (see local_ca.h): creating and loading
 * the root and issuing keys and certificates, issuing leaves from CSRs, and
 * the small file helpers (flock, atomic write) the driver's ledger shares.
 */
#include "remote/local/local_ca.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/base/log.h"
#include "core/base/ossl.h"

#define FILE_MAX          (1024 * 1024)
#define ROOT_DAYS         (20 * 365)
#define INTER_DAYS        (10 * 365)
#define LEAF_DAYS_DEFAULT 365

struct p11p_local_ca {
    EVP_PKEY *key; /* issuing key */
    X509 *cert;    /* issuing certificate */
    unsigned char *inter_der;
    size_t inter_len;
    unsigned char *root_der;
    size_t root_len;
};

/* One CA level: file names, curve, digest, subject, extensions. */
struct ca_level {
    const char *key_file;
    const char *cert_file;
    const char *curve;
    const char *digest; /* of the signature made with this level's key */
    const char *cn_fmt; /* common name, followed by the token name */
    unsigned days;
    const char *basic;
};

/* clang-format off */
static const struct ca_level root_level = {
    "root.key", "root.pem", "P-384", "SHA384",
    "p11portal local root CA", ROOT_DAYS, "critical,CA:TRUE",
};
static const struct ca_level inter_level = {
    "issuing.key", "issuing.pem", "P-256", "SHA256",
    "p11portal local issuing CA", INTER_DAYS, "critical,CA:TRUE,pathlen:0",
};
/* clang-format on */

/* ---- files ---- */

/* mkdir -p with mode 0700 for every folder it creates. */
static int make_dirs(const char *dir)
{
    char path[4096];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, dir, len + 1);
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0700) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    return mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

enum p11p_status p11p_local_ca_lock(const char *dir, int *out_fd)
{
    char path[4096];
    int fd = -1;

    *out_fd = -1;
    if (make_dirs(dir) != 0) {
        P11P_ERROR("remote", "local CA: cannot create %s: %s", dir,
                   strerror(errno));
        return P11P_ERR_IO;
    }
    snprintf(path, sizeof(path), "%s/.lock", dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        P11P_ERROR("remote", "local CA: cannot open %s: %s", path,
                   strerror(errno));
        return P11P_ERR_IO;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            P11P_ERROR("remote", "local CA: flock %s: %s", path,
                       strerror(errno));
            close(fd);
            return P11P_ERR_IO;
        }
    }
    *out_fd = fd;
    return P11P_OK;
}

void p11p_local_ca_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

enum p11p_status p11p_local_ca_write_file(const char *path, const void *data,
                                          size_t len)
{
    enum p11p_status rc = P11P_ERR_IO;
    char tmp[4096];
    int fd = -1;
    const unsigned char *p = data;
    size_t done = 0;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid())
        >= sizeof(tmp)) {
        rc = P11P_ERR_INVALID_INPUT;
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        P11P_ERROR("remote", "local CA: cannot create %s: %s", tmp,
                   strerror(errno));
        goto out;
    }
    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            P11P_ERROR("remote", "local CA: write %s: %s", tmp,
                       strerror(errno));
            goto out;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        P11P_ERROR("remote", "local CA: sync %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        P11P_ERROR("remote", "local CA: rename to %s: %s", path,
                   strerror(errno));
        goto out;
    }
    rc = P11P_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (rc != P11P_OK) {
        unlink(tmp);
    }
    return rc;
}

enum p11p_status p11p_local_ca_read_file(const char *path, unsigned char **out,
                                         size_t *out_len)
{
    enum p11p_status rc = P11P_ERR_IO;
    FILE *f = NULL;
    unsigned char *buf = NULL;
    size_t n = 0;

    *out = NULL;
    f = fopen(path, "rbe");
    if (f == NULL) {
        if (errno == ENOENT) {
            rc = P11P_ERR_NOT_FOUND;
        } else {
            P11P_ERROR("remote", "local CA: cannot open %s: %s", path,
                       strerror(errno));
        }
        goto out;
    }
    buf = malloc(FILE_MAX + 1);
    if (buf == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    n = fread(buf, 1, FILE_MAX + 1, f);
    if (ferror(f) || n > FILE_MAX) {
        P11P_ERROR("remote", "local CA: cannot read %s (error or too large)",
                   path);
        rc = P11P_ERR_CORRUPT;
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    buf = NULL;
    rc = P11P_OK;
out:
    free(buf);
    if (f != NULL) {
        fclose(f);
    }
    return rc;
}

/* ---- certificates ---- */

static enum p11p_status add_ext(X509 *cert, X509 *issuer, int nid,
                                const char *value)
{
    X509V3_CTX v3;
    X509_EXTENSION *ext = NULL;
    enum p11p_status rc = P11P_ERR_CRYPTO;

    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    ext = X509V3_EXT_nconf_nid(NULL, &v3, nid, value);
    if (ext == NULL || X509_add_ext(cert, ext, -1) != 1) {
        p11p_ossl_log_errors("remote", "local CA: adding an extension");
        goto out;
    }
    rc = P11P_OK;
out:
    X509_EXTENSION_free(ext);
    return rc;
}

/* Signs cert with key (digest by level), through the private libctx. */
static enum p11p_status sign_cert(X509 *cert, EVP_PKEY *key, const char *digest)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    enum p11p_status rc = P11P_ERR_CRYPTO;

    if (mctx == NULL
        || EVP_DigestSignInit_ex(mctx, NULL, digest, p11p_ossl_libctx(), NULL,
                                 key, NULL)
               != 1
        || X509_sign_ctx(cert, mctx) <= 0) {
        p11p_ossl_log_errors("remote", "local CA: signing a certificate");
        goto out;
    }
    rc = P11P_OK;
out:
    EVP_MD_CTX_free(mctx);
    return rc;
}

static enum p11p_status set_serial_validity(X509 *cert, unsigned days)
{
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    enum p11p_status rc = P11P_ERR_CRYPTO;

    if (RAND_bytes_ex(p11p_ossl_libctx(), serial, sizeof(serial), 0) != 1) {
        goto out;
    }
    serial[0] &= 0x7f; /* positive */
    serial[0] |= 0x01; /* and 16 bytes long */
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (bn == NULL
        || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL) {
        goto out;
    }
    if (X509_gmtime_adj(X509_getm_notBefore(cert), -300) == NULL
        || X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0, NULL)
               == NULL) {
        goto out;
    }
    rc = P11P_OK;
out:
    if (rc != P11P_OK) {
        p11p_ossl_log_errors("remote", "local CA: serial and validity");
    }
    BN_free(bn);
    return rc;
}

/* Creates one CA level: a new key, a certificate signed by issuer_key
 * (self-signed when issuer is NULL). */
static enum p11p_status make_ca(const struct ca_level *lv, const char *name,
                                X509 *issuer, EVP_PKEY *issuer_key,
                                EVP_PKEY **out_key, X509 **out_cert)
{
    enum p11p_status rc = P11P_ERR_CRYPTO;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    X509_NAME *dn = NULL;
    char cn[256];

    *out_key = NULL;
    *out_cert = NULL;
    key = EVP_PKEY_Q_keygen(p11p_ossl_libctx(), NULL, "EC", lv->curve);
    cert = X509_new_ex(p11p_ossl_libctx(), NULL);
    dn = X509_NAME_new();
    if (key == NULL || cert == NULL || dn == NULL) {
        p11p_ossl_log_errors("remote", "local CA: new CA key");
        goto out;
    }
    snprintf(cn, sizeof(cn), "%s (%s)", lv->cn_fmt, name);
    if (X509_NAME_add_entry_by_txt(dn, "O", MBSTRING_UTF8,
                                   (const unsigned char *)"p11portal", -1, -1,
                                   0)
            != 1
        || X509_NAME_add_entry_by_txt(dn, "CN", MBSTRING_UTF8,
                                      (const unsigned char *)cn, -1, -1, 0)
               != 1
        || X509_set_version(cert, X509_VERSION_3) != 1
        || X509_set_subject_name(cert, dn) != 1
        || X509_set_issuer_name(
               cert, issuer != NULL ? X509_get_subject_name(issuer) : dn)
               != 1
        || X509_set_pubkey(cert, key) != 1) {
        p11p_ossl_log_errors("remote", "local CA: CA certificate fields");
        goto out;
    }
    rc = set_serial_validity(cert, lv->days);
    if (rc == P11P_OK) {
        rc = add_ext(cert, issuer != NULL ? issuer : cert,
                     NID_basic_constraints, lv->basic);
    }
    if (rc == P11P_OK) {
        rc = add_ext(cert, issuer != NULL ? issuer : cert, NID_key_usage,
                     "critical,keyCertSign,cRLSign,digitalSignature");
    }
    if (rc == P11P_OK) {
        rc = add_ext(cert, issuer != NULL ? issuer : cert,
                     NID_subject_key_identifier, "hash");
    }
    if (rc == P11P_OK) {
        rc = add_ext(cert, issuer != NULL ? issuer : cert,
                     NID_authority_key_identifier, "keyid:always");
    }
    if (rc == P11P_OK) {
        rc = sign_cert(cert, issuer_key != NULL ? issuer_key : key,
                       issuer != NULL ? inter_level.digest : lv->digest);
    }
    if (rc != P11P_OK) {
        goto out;
    }
    *out_key = key;
    *out_cert = cert;
    key = NULL;
    cert = NULL;
out:
    X509_NAME_free(dn);
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}

static enum p11p_status save_pem(const char *dir, const char *file,
                                 EVP_PKEY *key, X509 *cert)
{
    enum p11p_status rc = P11P_ERR_CRYPTO;
    BIO *bio = BIO_new(BIO_s_mem());
    char path[4096];
    char *data = NULL;
    long len;

    if (bio == NULL
        || (key != NULL
            && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
                   != 1)
        || (cert != NULL && PEM_write_bio_X509(bio, cert) != 1)) {
        p11p_ossl_log_errors("remote", "local CA: PEM encoding");
        goto out;
    }
    len = BIO_get_mem_data(bio, &data);
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    rc = p11p_local_ca_write_file(path, data, (size_t)len);
out:
    BIO_free(bio);
    return rc;
}

static enum p11p_status load_pem(const char *dir, const char *file,
                                 EVP_PKEY **key, X509 **cert)
{
    enum p11p_status rc = P11P_ERR_CORRUPT;
    char path[4096];
    unsigned char *data = NULL;
    size_t len = 0;
    BIO *bio = NULL;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    rc = p11p_local_ca_read_file(path, &data, &len);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = P11P_ERR_CORRUPT;
    bio = BIO_new_mem_buf(data, (int)len);
    if (bio == NULL) {
        goto out;
    }
    if (key != NULL) {
        *key = PEM_read_bio_PrivateKey_ex(bio, NULL, NULL, NULL,
                                          p11p_ossl_libctx(), NULL);
        if (*key == NULL) {
            P11P_ERROR("remote", "local CA: %s: not a PEM private key", path);
            goto out;
        }
    }
    if (cert != NULL) {
        *cert = X509_new_ex(p11p_ossl_libctx(), NULL);
        if (*cert == NULL || PEM_read_bio_X509(bio, cert, NULL, NULL) == NULL) {
            P11P_ERROR("remote", "local CA: %s: not a PEM certificate", path);
            goto out;
        }
    }
    rc = P11P_OK;
out:
    BIO_free(bio);
    free(data);
    return rc;
}

/* Under the lock: creates the hierarchy unless it exists. */
static enum p11p_status ensure_hierarchy(const char *dir, const char *name)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    char path[4096];
    struct stat st;
    EVP_PKEY *rkey = NULL;
    EVP_PKEY *ikey = NULL;
    X509 *rcert = NULL;
    X509 *icert = NULL;

    snprintf(path, sizeof(path), "%s/%s", dir, inter_level.cert_file);
    if (stat(path, &st) == 0) {
        return P11P_OK;
    }
    rc = make_ca(&root_level, name, NULL, NULL, &rkey, &rcert);
    if (rc == P11P_OK) {
        rc = make_ca(&inter_level, name, rcert, rkey, &ikey, &icert);
    }
    /* Keys first, the issuing certificate last: its presence means done. */
    if (rc == P11P_OK) {
        rc = save_pem(dir, root_level.key_file, rkey, NULL);
    }
    if (rc == P11P_OK) {
        rc = save_pem(dir, root_level.cert_file, NULL, rcert);
    }
    if (rc == P11P_OK) {
        rc = save_pem(dir, inter_level.key_file, ikey, NULL);
    }
    if (rc == P11P_OK) {
        rc = save_pem(dir, inter_level.cert_file, NULL, icert);
    }
    if (rc == P11P_OK) {
        P11P_INFO("remote", "local CA: created a new CA hierarchy in %s", dir);
    }
    EVP_PKEY_free(rkey);
    EVP_PKEY_free(ikey);
    X509_free(rcert);
    X509_free(icert);
    return rc;
}

static enum p11p_status to_der(X509 *cert, unsigned char **out, size_t *out_len)
{
    unsigned char *der = NULL;
    int n = i2d_X509(cert, &der);
    if (n <= 0) {
        p11p_ossl_log_errors("remote", "local CA: DER encoding");
        return P11P_ERR_CRYPTO;
    }
    *out = der; /* OPENSSL_malloc'd; freed with OPENSSL_free */
    *out_len = (size_t)n;
    return P11P_OK;
}

void p11p_local_ca_free(struct p11p_local_ca *ca)
{
    if (ca == NULL) {
        return;
    }
    EVP_PKEY_free(ca->key);
    X509_free(ca->cert);
    OPENSSL_free(ca->inter_der);
    OPENSSL_free(ca->root_der);
    free(ca);
}

enum p11p_status p11p_local_ca_open(const char *dir, const char *name,
                                    struct p11p_local_ca **out)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    struct p11p_local_ca *ca = NULL;
    X509 *root = NULL;
    int lock = -1;

    *out = NULL;
    rc = p11p_local_ca_lock(dir, &lock);
    if (rc != P11P_OK) {
        goto out;
    }
    rc = ensure_hierarchy(dir, name);
    if (rc != P11P_OK) {
        goto out;
    }
    ca = calloc(1, sizeof(*ca));
    if (ca == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    rc = load_pem(dir, inter_level.key_file, &ca->key, NULL);
    if (rc == P11P_OK) {
        rc = load_pem(dir, inter_level.cert_file, NULL, &ca->cert);
    }
    if (rc == P11P_OK) {
        rc = load_pem(dir, root_level.cert_file, NULL, &root);
    }
    if (rc == P11P_OK) {
        rc = to_der(ca->cert, &ca->inter_der, &ca->inter_len);
    }
    if (rc == P11P_OK) {
        rc = to_der(root, &ca->root_der, &ca->root_len);
    }
    if (rc != P11P_OK) {
        P11P_ERROR("remote", "local CA in %s cannot be loaded (%s)", dir,
                   p11p_status_text(rc));
        goto out;
    }
    *out = ca;
    ca = NULL;
out:
    p11p_local_ca_unlock(lock);
    X509_free(root);
    p11p_local_ca_free(ca);
    return rc;
}

void p11p_local_ca_get0_chain(const struct p11p_local_ca *ca,
                              const unsigned char **inter_der,
                              size_t *inter_len, const unsigned char **root_der,
                              size_t *root_len)
{
    *inter_der = ca->inter_der;
    *inter_len = ca->inter_len;
    *root_der = ca->root_der;
    *root_len = ca->root_len;
}

/* keyUsage of a leaf, by its key type. */
static const char *leaf_key_usage(const EVP_PKEY *pkey)
{
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        return "critical,digitalSignature,keyEncipherment";
    }
    return "critical,digitalSignature";
}

/* Copies the CSR's subjectAltName extension request, if any. */
static enum p11p_status copy_san(X509_REQ *req, X509 *cert)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    enum p11p_status rc = P11P_OK;

    for (int i = 0; exts != NULL && i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
        if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) == NID_subject_alt_name
            && X509_add_ext(cert, e, -1) != 1) {
            p11p_ossl_log_errors("remote", "local CA: copying SANs");
            rc = P11P_ERR_CRYPTO;
        }
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

enum p11p_status p11p_local_ca_issue(struct p11p_local_ca *ca,
                                     const unsigned char *csr_der,
                                     size_t csr_len, unsigned term_days,
                                     unsigned char **out_der, size_t *out_len)
{
    enum p11p_status rc = P11P_ERR_INTERNAL;
    X509_REQ *req = NULL;
    X509 *cert = NULL;
    EVP_PKEY *pub = NULL;
    const unsigned char *p = csr_der;
    unsigned char *der = NULL;
    size_t der_len = 0;

    *out_der = NULL;
    req = X509_REQ_new_ex(p11p_ossl_libctx(), NULL);
    if (req == NULL || d2i_X509_REQ(&req, &p, (long)csr_len) == NULL
        || p != csr_der + csr_len) {
        P11P_ERROR("remote", "local CA: the CSR does not parse (%zu bytes)",
                   csr_len);
        rc = P11P_ERR_REJECTED;
        goto out;
    }
    pub = X509_REQ_get_pubkey(req);
    if (pub == NULL
        || X509_REQ_verify_ex(req, pub, p11p_ossl_libctx(), NULL) != 1) {
        p11p_ossl_log_errors("remote", "local CA: CSR signature check");
        P11P_ERROR("remote", "local CA: the CSR's signature does not verify");
        rc = P11P_ERR_REJECTED;
        goto out;
    }
    cert = X509_new_ex(p11p_ossl_libctx(), NULL);
    if (cert == NULL || X509_set_version(cert, X509_VERSION_3) != 1
        || X509_set_subject_name(cert, X509_REQ_get_subject_name(req)) != 1
        || X509_set_issuer_name(cert, X509_get_subject_name(ca->cert)) != 1
        || X509_set_pubkey(cert, pub) != 1) {
        p11p_ossl_log_errors("remote", "local CA: leaf fields");
        rc = P11P_ERR_CRYPTO;
        goto out;
    }
    rc = set_serial_validity(cert,
                             term_days != 0 ? term_days : LEAF_DAYS_DEFAULT);
    if (rc == P11P_OK) {
        rc =
            add_ext(cert, ca->cert, NID_basic_constraints, "critical,CA:FALSE");
    }
    if (rc == P11P_OK) {
        rc = add_ext(cert, ca->cert, NID_key_usage, leaf_key_usage(pub));
    }
    if (rc == P11P_OK) {
        rc =
            add_ext(cert, ca->cert, NID_ext_key_usage, "serverAuth,clientAuth");
    }
    if (rc == P11P_OK) {
        rc = add_ext(cert, ca->cert, NID_subject_key_identifier, "hash");
    }
    if (rc == P11P_OK) {
        rc = add_ext(cert, ca->cert, NID_authority_key_identifier,
                     "keyid:always");
    }
    if (rc == P11P_OK) {
        rc = copy_san(req, cert);
    }
    if (rc == P11P_OK) {
        rc = sign_cert(cert, ca->key, inter_level.digest);
    }
    if (rc == P11P_OK) {
        rc = to_der(cert, &der, &der_len);
    }
    if (rc != P11P_OK) {
        goto out;
    }
    *out_der = malloc(der_len);
    if (*out_der == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    memcpy(*out_der, der, der_len);
    *out_len = der_len;
    rc = P11P_OK;
out:
    OPENSSL_free(der);
    EVP_PKEY_free(pub);
    X509_free(cert);
    X509_REQ_free(req);
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal import: zip archives as the portals' downloads make them
 * (import.h): PKCS#12 files (one password for all) or PEM files (keys,
 * certificates and chains of many devices, paired by public key), read in
 * memory with libzip (entries encrypted with the zip's own password take
 * the package password too). Entries are recognised by content; other
 * entries (README, manifest) are skipped. The whole archive is read and
 * checked before anything is imported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "tools/import.h"

#define ENTRY_MAX (64u * 1024 * 1024) /* one entry, uncompressed */
#define NAME_MAX_ 1024

/* Reads entry i into a wiped buffer (entries may hold keys in clear). */
static enum p11p_status read_entry(zip_t *za, zip_uint64_t i,
                                   const zip_stat_t *st,
                                   struct p11p_secret **out)
{
    zip_file_t *f = zip_fopen_index(za, i, 0);
    struct p11p_secret *buf = NULL;
    zip_uint64_t got = 0;

    *out = NULL;
    if (f == NULL) {
        return P11P_ERR_INVALID_INPUT;
    }
    buf = p11p_secret_new((size_t)st->size);
    while (buf != NULL && got < st->size) {
        zip_int64_t r = zip_fread(f, buf->data + got, st->size - got);
        if (r <= 0) {
            break;
        }
        got += (zip_uint64_t)r;
    }
    zip_fclose(f);
    if (buf == NULL) {
        return P11P_ERR_NOMEM;
    }
    if (got != st->size) {
        p11p_secret_free(buf);
        return P11P_ERR_INVALID_INPUT;
    }
    *out = buf;
    return P11P_OK;
}

static bool is_dir(const char *name)
{
    size_t n = strlen(name);
    return n > 0 && name[n - 1] == '/';
}

enum p11p_status p11p_import_zip_read(struct p11p_import_pkg *pkg,
                                      const char *name, const unsigned char *d,
                                      size_t n, struct p11p_import_pass *pp,
                                      struct p11p_import_err *err)
{
    zip_error_t ze;
    zip_source_t *src = NULL;
    zip_t *za = NULL;
    struct p11p_import_pem_pool *pool = p11p_import_pem_pool_new();
    size_t n_pem = 0, n_p12 = 0;
    zip_int64_t entries;
    enum p11p_status rc = P11P_OK;

    zip_error_init(&ze);
    if (pool == NULL) {
        rc = P11P_ERR_NOMEM;
        goto out;
    }
    src = zip_source_buffer_create(d, n, 0, &ze);
    za = src != NULL
             ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze)
             : NULL;
    if (za == NULL) {
        zip_source_free(src);
        rc = p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                              "%s: not a readable zip archive: %s", name,
                              zip_error_strerror(&ze));
        goto out;
    }
    entries = zip_get_num_entries(za, 0);
    for (zip_int64_t i = 0; rc == P11P_OK && i < entries; i++) {
        zip_stat_t st;
        struct p11p_secret *buf = NULL;
        char ename[NAME_MAX_];
        enum p11p_import_kind kind;

        zip_stat_init(&st);
        if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) != 0
            || (st.valid & ZIP_STAT_NAME) == 0 || is_dir(st.name)) {
            continue;
        }
        snprintf(ename, sizeof(ename), "%s:%s", name, st.name);
        if ((st.valid & ZIP_STAT_SIZE) == 0 || st.size > ENTRY_MAX) {
            rc = p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                                  "%s: entry too large or of unknown size",
                                  ename);
            break;
        }
        if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) != 0
            && st.encryption_method != ZIP_EM_NONE) {
            const struct p11p_secret *pw = p11p_import_pass_get(pp);
            if (pw == NULL) {
                rc =
                    p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                                     "%s: encrypted entry, no password", ename);
                break;
            }
            zip_set_default_password(za, (const char *)pw->data);
        }
        rc = read_entry(za, (zip_uint64_t)i, &st, &buf);
        if (rc != P11P_OK) {
            rc = p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                                  "%s: cannot read the entry (corrupt, or "
                                  "wrong password): %s",
                                  ename, zip_strerror(za));
            break;
        }
        kind = p11p_import_detect(buf->data, buf->len);
        switch (kind) {
        case P11P_IMPORT_P12:
            rc = p11p_import_p12_read(pkg, ename, buf->data, buf->len, pp, err);
            n_p12++;
            break;
        case P11P_IMPORT_PEM:
            rc =
                p11p_import_pem_read(pool, ename, buf->data, buf->len, pp, err);
            n_pem++;
            break;
        default:
            /* Not a key package: a README, a manifest. A corrupt PKCS#12
             * still says so by its name. */
            if (strstr(st.name, ".p12") != NULL
                || strstr(st.name, ".pfx") != NULL) {
                rc = p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                                      "%s: not a PKCS#12 file (corrupt?)",
                                      ename);
            }
            break;
        }
        p11p_secret_free(buf);
    }
    if (rc == P11P_OK && n_pem > 0) {
        rc = p11p_import_pem_pair(pool, pkg, err);
    }
    if (rc == P11P_OK && n_pem + n_p12 == 0) {
        rc =
            p11p_import_errf(err, P11P_ERR_INVALID_INPUT,
                             "%s: no PKCS#12 or PEM file in the archive", name);
    }
out:
    if (za != NULL) {
        zip_discard(za);
    }
    zip_error_fini(&ze);
    p11p_import_pem_pool_free(pool);
    return rc;
}

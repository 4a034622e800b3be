/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal export: writes one certificate, alone or with its chain, as
 * PEM, DER or PKCS#7 certs-only (the formats of the portals' download
 * pages; docs/tool.md "export"). Never a private key. Reads the cache only.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "tools/select.h"
#include "tools/tool.h"

enum {
    OPT_FORMAT = 0x5501,
    OPT_CHAIN,
    OPT_OUT,
};

static const struct option opts[] = {
    P11P_SELECT_OPTIONS,
    { "format", required_argument, NULL, OPT_FORMAT },
    { "chain", no_argument, NULL, OPT_CHAIN },
    { "out", required_argument, NULL, OPT_OUT },
    { NULL, 0, NULL, 0 },
};

static const char usage[] =
    " SELECTION [--format pem|der|p7b|p7b-der] [--chain] [--out FILE]\n"
    "Writes one certificate (and with --chain its issuers from the token)\n"
    "as the portals' download pages offer it. Certificates only: p11portal\n"
    "never exports a private key.\n"
    "  --format pem        PEM, leaf first (default)\n"
    "  --format der        DER of the leaf alone (not with --chain)\n"
    "  --format p7b        PKCS#7 certs-only, PEM armour (BEGIN PKCS7)\n"
    "  --format p7b-der    PKCS#7 certs-only, binary (.p7b)\n"
    "  --chain             the leaf and its chain (default: the leaf only)\n"
    "  --out FILE          write FILE (default: stdout; binary formats are\n"
    "                      not written to a terminal)\n" P11P_SELECT_USAGE;

enum fmt {
    FMT_PEM,
    FMT_DER,
    FMT_P7B,
    FMT_P7B_DER
};

static const struct {
    const char *name;
    enum fmt fmt;
    bool binary;
} formats[] = {
    { "pem", FMT_PEM, false },
    { "der", FMT_DER, true },
    { "p7b", FMT_P7B, false },
    { "p7b-der", FMT_P7B_DER, true },
};

struct export_opts {
    const struct p11p_tool *t;
    struct p11p_sel sel;
    size_t fmt; /* index into formats */
    bool chain;
    const char *out;
};

static int handle(void *ud, int c, const char *arg)
{
    struct export_opts *o = ud;
    int rc = p11p_select_parse_opt(o->t, &o->sel, c, arg);

    if (rc != P11P_SELECT_OTHER) {
        return rc;
    }
    switch (c) {
    case OPT_FORMAT:
        for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
            if (strcmp(arg, formats[i].name) == 0) {
                o->fmt = i;
                return 0;
            }
        }
        return p11p_tool_fail(o->t, P11P_EXIT_USAGE,
                              "--format: \"%s\": use pem, der, p7b or p7b-der",
                              arg);
    case OPT_CHAIN:
        o->chain = true;
        return 0;
    case OPT_OUT:
        o->out = arg;
        return 0;
    default:
        return P11P_EXIT_USAGE;
    }
}

/* Appends one DER certificate to a certs-only PKCS#7 or writes it as PEM. */
static bool add_cert(BIO *bio, PKCS7 *p7, const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    bool ok = false;

    if (x == NULL) {
        return false;
    }
    if (p7 != NULL) {
        ok = PKCS7_add_certificate(p7, x) == 1;
    } else {
        ok = PEM_write_bio_X509(bio, x) == 1;
    }
    X509_free(x);
    return ok;
}

/* Writes the leaf and chain in format f to bio. */
static bool write_certs(BIO *bio, enum fmt f, const struct p11p_certinfo *ci,
                        unsigned char **chain, const size_t *lens, size_t n)
{
    PKCS7 *p7 = NULL;
    bool ok = false;

    if (f == FMT_DER) {
        return BIO_write(bio, ci->der, (int)ci->der_len) == (int)ci->der_len;
    }
    if (f == FMT_P7B || f == FMT_P7B_DER) {
        p7 = PKCS7_new();
        if (p7 == NULL || PKCS7_set_type(p7, NID_pkcs7_signed) != 1
            || PKCS7_content_new(p7, NID_pkcs7_data) != 1) {
            goto out;
        }
    }
    ok = add_cert(bio, p7, ci->der, ci->der_len);
    for (size_t i = 0; ok && i < n; i++) {
        ok = add_cert(bio, p7, chain[i], lens[i]);
    }
    if (ok && f == FMT_P7B) {
        ok = PEM_write_bio_PKCS7(bio, p7) == 1;
    } else if (ok && f == FMT_P7B_DER) {
        ok = i2d_PKCS7_bio(bio, p7) == 1;
    }
out:
    PKCS7_free(p7);
    return ok;
}

/* The one certificate the selection names, in *ci. */
static int pick_one(struct p11p_tool *t, const struct p11p_sel *sel,
                    struct p11p_certinfo *ci)
{
    int64_t *ids = NULL;
    size_t n = 0;
    enum p11p_status st = p11p_select_certs(t->cache, t->tok, sel, &ids, &n);
    int rc = 0;

    if (st != P11P_OK) {
        rc = p11p_tool_fail(t, p11p_tool_exit_of(st),
                            "cannot select the certificate: %s",
                            p11p_status_text(st));
    } else if (n == 0) {
        rc = p11p_tool_fail(t, P11P_EXIT_USAGE,
                            "no certificate on token \"%s\" matches",
                            t->tok->name);
    } else if (n > 1) {
        fprintf(stderr,
                "%s %s: %zu certificates match; narrow the selection "
                "(--serial, --order). Object ids:",
                t->prog, t->cmd, n);
        for (size_t i = 0; i < n; i++) {
            fprintf(stderr, " %" PRId64, ids[i]);
        }
        fputc('\n', stderr);
        rc = P11P_EXIT_USAGE;
    } else {
        st = p11p_select_certinfo(t->cache, ids[0], ci);
        if (st != P11P_OK) {
            rc = p11p_tool_fail(t, p11p_tool_exit_of(st),
                                "certificate object %" PRId64 ": %s", ids[0],
                                p11p_status_text(st));
        }
    }
    free(ids);
    return rc;
}

int p11p_cmd_export(struct p11p_tool *t, int argc, char **argv)
{
    struct export_opts o = { .t = t };
    struct p11p_certinfo ci = { 0 };
    unsigned char **chain = NULL;
    size_t *lens = NULL;
    size_t n = 0;
    BIO *bio = NULL;
    enum p11p_status st;
    int rc =
        p11p_tool_getopt(t, argc, argv, opts, NULL, usage, handle, &o, NULL);

    if (rc != 0) {
        return rc;
    }
    if (!o.sel.given) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "say which certificate: --uri, --label, --id, "
                              "--serial or --order (see --help)");
    }
    if (o.chain && formats[o.fmt].fmt == FMT_DER) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "DER holds one certificate: use --format p7b "
                              "or pem with --chain");
    }
    if (o.out == NULL && formats[o.fmt].binary && isatty(STDOUT_FILENO)) {
        return p11p_tool_fail(t, P11P_EXIT_USAGE,
                              "--format %s is binary: pass --out FILE or "
                              "redirect stdout",
                              formats[o.fmt].name);
    }
    rc = p11p_tool_open(t, P11P_TOOL_NEED_CACHE);
    if (rc == 0) {
        rc = pick_one(t, &o.sel, &ci);
    }
    if (rc != 0) {
        goto out;
    }
    if (o.chain) {
        st = p11p_select_chain(t->cache, ci.der, ci.der_len, &chain, &lens, &n);
        if (st != P11P_OK) {
            rc = p11p_tool_fail(t, p11p_tool_exit_of(st),
                                "cannot build the chain: %s",
                                p11p_status_text(st));
            goto out;
        }
    }
    bio = o.out != NULL ? BIO_new_file(o.out, "wb")
                        : BIO_new_fp(stdout, BIO_NOCLOSE);
    if (bio == NULL) {
        rc = p11p_tool_fail(t, P11P_EXIT_USAGE, "cannot write %s",
                            o.out != NULL ? o.out : "stdout");
        goto out;
    }
    if (!write_certs(bio, formats[o.fmt].fmt, &ci, chain, lens, n)
        || BIO_flush(bio) != 1) {
        rc = p11p_tool_fail(t, P11P_EXIT_FAILED, "writing %s failed",
                            o.out != NULL ? o.out : "stdout");
        goto out;
    }
    if (o.out != NULL) {
        p11p_tool_note(t, "wrote %s: %zu certificate(s), %s (serial %s)", o.out,
                       1 + n, formats[o.fmt].name, ci.serial);
    }
out:
    BIO_free(bio);
    p11p_select_chain_free(chain, lens, n);
    p11p_certinfo_clear(&ci);
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal import: the package password (import.h), asked for once and
 * only when a package needs one. Never an argument: --password-source
 * FILE (first line; the file readable by its owner only), the environment
 * variable P11PORTAL_IMPORT_PASSWORD, or a prompt on the terminal with
 * echo off (p11p_tool_read_secret, as the PIN). Held in a wiped buffer;
 * never printed.
 */
#include "tools/import.h"

#define PASS_MAX 1024

const struct p11p_secret *p11p_import_pass_get(struct p11p_import_pass *pp)
{
    struct p11p_tool_secret_src src = {
        .file = pp->source,
        .option = "--password-source",
        .env = "P11PORTAL_IMPORT_PASSWORD",
        .what = "Password of the package",
        .allow_empty = true, /* PKCS#12 allows an empty password */
        .max = PASS_MAX,
    };

    if (pp->pw != NULL || pp->failed) {
        return pp->pw;
    }
    if (p11p_tool_read_secret(pp->t, &src, &pp->pw) != P11P_OK) {
        pp->pw = NULL;
    }
    pp->failed = pp->pw == NULL;
    return pp->pw;
}

void p11p_import_pass_clear(struct p11p_import_pass *pp)
{
    p11p_secret_free(pp->pw);
    pp->pw = NULL;
}

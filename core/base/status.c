/* SPDX-License-Identifier: Apache-2.0 */
/* Names, texts and default CK_RVs of the core status list. */
#include "core/base/status.h"

#include <stddef.h>

struct status_row {
    const char *name;
    const char *text;
    CK_RV ckr;
};

static const struct status_row status_rows[] = {
#define P11P_STATUS_ROW(name, ckr, text) { #name, text, ckr },
    P11P_STATUS_LIST(P11P_STATUS_ROW)
#undef P11P_STATUS_ROW
};

static const struct status_row *row_of(enum p11p_status st)
{
    if ((size_t)st >= sizeof(status_rows) / sizeof(status_rows[0])) {
        return NULL;
    }
    return &status_rows[st];
}

const char *p11p_status_name(enum p11p_status st)
{
    const struct status_row *r = row_of(st);
    return r ? r->name : "ERR_UNKNOWN_STATUS";
}

const char *p11p_status_text(enum p11p_status st)
{
    const struct status_row *r = row_of(st);
    return r ? r->text : "unknown status";
}

CK_RV p11p_status_default_ckr(enum p11p_status st)
{
    const struct status_row *r = row_of(st);
    return r ? r->ckr : CKR_GENERAL_ERROR;
}

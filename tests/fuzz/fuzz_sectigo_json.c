/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: every Sectigo reply parser over arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "remote/sectigo/sectigo_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *b = (const char *)data;
    struct sectigo_details d;
    struct sectigo_type_check w = { "OV SSL", 365, "RSA", "2048" };
    const char *names[] = { "requestToken" };
    char why[256];
    char id[64];
    char st[64];
    char ids[8][64];
    size_t n = 0;
    int64_t code = 0;
    unsigned term = 0;
    enum p11p_remote_state state;

    (void)p11p_sectigo_json_error(b, size, &code, why, sizeof(why));
    (void)p11p_sectigo_json_enroll(b, size, false, id, sizeof(id), st,
                                   sizeof(st), why, sizeof(why));
    (void)p11p_sectigo_json_enroll(b, size, true, id, sizeof(id), st,
                                   sizeof(st), why, sizeof(why));
    if (p11p_sectigo_json_details(b, size, "requestToken", &d, why, sizeof(why))
        == P11P_OK) {
        (void)p11p_sectigo_json_state(d.status, &state);
    }
    (void)p11p_sectigo_json_types(b, size, &w, &code, &term, why, sizeof(why));
    w.term = 0;
    w.key_alg = "EC";
    w.key_param = "P-256";
    (void)p11p_sectigo_json_types(b, size, &w, &code, &term, why, sizeof(why));
    (void)p11p_sectigo_json_custom_fields(b, size, names, 1, why, sizeof(why));
    (void)p11p_sectigo_json_list(b, size, false, ids, 8, &n, why, sizeof(why));
    (void)p11p_sectigo_json_list(b, size, true, ids, 8, &n, why, sizeof(why));
    return 0;
}

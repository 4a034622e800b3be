/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: every DigiCert reply parser (answers, records, search
 * pages, both error envelopes) over arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "remote/digicert/digicert_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *b = (const char *)data;
    struct digicert_answer a;
    struct digicert_record r;
    struct digicert_record *recs = NULL;
    size_t n = 0;
    long long total = 0;
    char why[256];
    char code[64];
    enum p11p_remote_state state;

    (void)p11p_digicert_json_error(b, size, code, sizeof(code), why,
                                   sizeof(why));
    if (p11p_digicert_json_answer(b, size, &a, why, sizeof(why)) == P11P_OK) {
        (void)p11p_digicert_json_state(a.status, &state);
        p11p_digicert_json_answer_clear(&a);
    }
    if (p11p_digicert_json_record(b, size, &r, why, sizeof(why)) == P11P_OK) {
        p11p_digicert_json_record_clear(&r);
    }
    if (p11p_digicert_json_search(b, size, &recs, &n, &total, why, sizeof(why))
        == P11P_OK) {
        p11p_digicert_json_records_free(recs, n);
    }
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: certificate chains from portal replies (PEM sequences,
 * PEM and DER PKCS#7, DER certificates) and their normalisation. */
#include <stddef.h>
#include <stdint.h>

#include "remote/chain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct p11p_remote_result res = { 0 };
    char why[256];
    unsigned char spki[32] = { 0 };
    char serial[128];

    if (p11p_chain_parse(data, size, NULL, &res, why, sizeof(why)) == P11P_OK) {
        (void)p11p_chain_cert_spki_sha256(res.cert_der, res.cert_len, spki);
        (void)p11p_chain_cert_serial(res.cert_der, res.cert_len, serial,
                                     sizeof(serial));
    }
    p11p_remote_result_clear(&res);
    (void)p11p_chain_parse(data, size, spki, &res, why, sizeof(why));
    p11p_remote_result_clear(&res);
    return 0;
}

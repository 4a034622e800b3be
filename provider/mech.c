/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Digest to PKCS#11 mechanism table (see mech.h).
 */
#include "provider/mech.h"

#include <stddef.h>

#include <openssl/objects.h>

struct hash_row {
    int nid;
    CK_MECHANISM_TYPE hash;
    CK_RSA_PKCS_MGF_TYPE mgf;
};

static const struct hash_row rows[] = {
    { NID_sha1, CKM_SHA_1, CKG_MGF1_SHA1 },
    { NID_sha224, CKM_SHA224, CKG_MGF1_SHA224 },
    { NID_sha256, CKM_SHA256, CKG_MGF1_SHA256 },
    { NID_sha384, CKM_SHA384, CKG_MGF1_SHA384 },
    { NID_sha512, CKM_SHA512, CKG_MGF1_SHA512 },
};

bool p11p_prov_mech_hash(const EVP_MD *md, CK_MECHANISM_TYPE *hash,
                         CK_RSA_PKCS_MGF_TYPE *mgf)
{
    size_t i;
    int nid;

    if (md == NULL) {
        return false;
    }
    nid = EVP_MD_get_type(md);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (rows[i].nid == nid) {
            *hash = rows[i].hash;
            *mgf = rows[i].mgf;
            return true;
        }
    }
    return false;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mechanism table (see mech.h). Sizes are in bits: RSA 2048-4096, EC
 * the NIST curves P-256 to P-521, Ed25519 255 bits (what the soft backend
 * generates and the portals accept). CKM_RSA_PKCS, CKM_ECDSA and CKM_EDDSA
 * are raw: multi-part input is buffered by sign.c.
 */
#include "pkcs11/mech.h"

#include <string.h>

#include "core/base/log.h"
#include "pkcs11/names.h"

static CK_RV param_none(const CK_MECHANISM *m)
{
    return m->ulParameterLen == 0 ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;
}

/* Maps a hash mechanism to its MGF1 generator; 0 if not one of ours. */
static CK_ULONG mgf_of(CK_MECHANISM_TYPE hash)
{
    static const struct {
        CK_MECHANISM_TYPE hash;
        CK_ULONG mgf;
    } rows[] = {
        { CKM_SHA_1, CKG_MGF1_SHA1 },    { CKM_SHA224, CKG_MGF1_SHA224 },
        { CKM_SHA256, CKG_MGF1_SHA256 }, { CKM_SHA384, CKG_MGF1_SHA384 },
        { CKM_SHA512, CKG_MGF1_SHA512 },
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (rows[i].hash == hash) {
            return rows[i].mgf;
        }
    }
    return 0;
}

/* The hash mechanism a hashed signature mechanism implies, or 0 (raw). */
static CK_MECHANISM_TYPE hash_of(CK_MECHANISM_TYPE type)
{
    static const struct {
        CK_MECHANISM_TYPE mech;
        CK_MECHANISM_TYPE hash;
    } rows[] = {
        { CKM_SHA1_RSA_PKCS_PSS, CKM_SHA_1 },
        { CKM_SHA224_RSA_PKCS_PSS, CKM_SHA224 },
        { CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256 },
        { CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384 },
        { CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512 },
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (rows[i].mech == type) {
            return rows[i].hash;
        }
    }
    return 0;
}

/* CK_RSA_PKCS_PSS_PARAMS (2.40 section 2.1.14): a supported hash, the
 * matching MGF1 and, for the hashed forms, the mechanism's own hash. */
static CK_RV param_pss(const CK_MECHANISM *m)
{
    const CK_RSA_PKCS_PSS_PARAMS *p = m->pParameter;
    CK_MECHANISM_TYPE implied = hash_of(m->mechanism);

    if (p == NULL || m->ulParameterLen != sizeof(*p)) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    if (mgf_of(p->hashAlg) == 0 || mgf_of(p->hashAlg) != p->mgf) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    if (implied != 0 && implied != p->hashAlg) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    if (p->sLen > 512) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    return CKR_OK;
}

/* CK_RSA_PKCS_OAEP_PARAMS (section 2.1.8): supported hash with the same
 * MGF1 hash; source CKZ_DATA_SPECIFIED (label) or none. */
static CK_RV param_oaep(const CK_MECHANISM *m)
{
    const CK_RSA_PKCS_OAEP_PARAMS *p = m->pParameter;

    if (p == NULL || m->ulParameterLen != sizeof(*p)) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    if (mgf_of(p->hashAlg) == 0 || mgf_of(p->hashAlg) != p->mgf) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    if (p->source != 0 && p->source != CKZ_DATA_SPECIFIED) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    if (p->ulSourceDataLen != 0 && p->pSourceData == NULL) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    return CKR_OK;
}

#define SV     (CKF_SIGN | CKF_VERIFY)
#define ECF    (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)
#define SIGVER (P11P_MECH_SIGN | P11P_MECH_VERIFY)
#define NA     CK_UNAVAILABLE_INFORMATION

/* clang-format off */
static const struct p11p_mech mechs[] = {
    /* key pair generation */
    { CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, 2048, 4096, CKF_GENERATE_KEY_PAIR, P11P_MECH_KEYGEN, param_none, NULL, false },
    { CKM_EC_KEY_PAIR_GEN, CKK_EC, 256, 521, CKF_GENERATE_KEY_PAIR | ECF, P11P_MECH_KEYGEN, param_none, NULL, false },
    { CKM_EC_EDWARDS_KEY_PAIR_GEN, CKK_EC_EDWARDS, 255, 255, CKF_GENERATE_KEY_PAIR, P11P_MECH_KEYGEN, param_none, NULL, false },
    /* RSA PKCS#1 v1.5 */
    { CKM_RSA_PKCS, CKK_RSA, 2048, 4096, SV | CKF_DECRYPT, SIGVER | P11P_MECH_DECRYPT, param_none, NULL, true },
    { CKM_SHA1_RSA_PKCS, CKK_RSA, 2048, 4096, SV, SIGVER, param_none, "SHA1", false },
    { CKM_SHA224_RSA_PKCS, CKK_RSA, 2048, 4096, SV, SIGVER, param_none, "SHA224", false },
    { CKM_SHA256_RSA_PKCS, CKK_RSA, 2048, 4096, SV, SIGVER, param_none, "SHA256", false },
    { CKM_SHA384_RSA_PKCS, CKK_RSA, 2048, 4096, SV, SIGVER, param_none, "SHA384", false },
    { CKM_SHA512_RSA_PKCS, CKK_RSA, 2048, 4096, SV, SIGVER, param_none, "SHA512", false },
    /* RSA PSS */
    { CKM_RSA_PKCS_PSS, CKK_RSA, 2048, 4096, SV, SIGVER, param_pss, NULL, true },
    { CKM_SHA1_RSA_PKCS_PSS, CKK_RSA, 2048, 4096, SV, SIGVER, param_pss, "SHA1", false },
    { CKM_SHA224_RSA_PKCS_PSS, CKK_RSA, 2048, 4096, SV, SIGVER, param_pss, "SHA224", false },
    { CKM_SHA256_RSA_PKCS_PSS, CKK_RSA, 2048, 4096, SV, SIGVER, param_pss, "SHA256", false },
    { CKM_SHA384_RSA_PKCS_PSS, CKK_RSA, 2048, 4096, SV, SIGVER, param_pss, "SHA384", false },
    { CKM_SHA512_RSA_PKCS_PSS, CKK_RSA, 2048, 4096, SV, SIGVER, param_pss, "SHA512", false },
    /* RSA OAEP, decryption only */
    { CKM_RSA_PKCS_OAEP, CKK_RSA, 2048, 4096, CKF_DECRYPT, P11P_MECH_DECRYPT, param_oaep, NULL, true },
    /* ECDSA */
    { CKM_ECDSA, CKK_EC, 256, 521, SV | ECF, SIGVER, param_none, NULL, true },
    { CKM_ECDSA_SHA1, CKK_EC, 256, 521, SV | ECF, SIGVER, param_none, "SHA1", false },
    { CKM_ECDSA_SHA224, CKK_EC, 256, 521, SV | ECF, SIGVER, param_none, "SHA224", false },
    { CKM_ECDSA_SHA256, CKK_EC, 256, 521, SV | ECF, SIGVER, param_none, "SHA256", false },
    { CKM_ECDSA_SHA384, CKK_EC, 256, 521, SV | ECF, SIGVER, param_none, "SHA384", false },
    { CKM_ECDSA_SHA512, CKK_EC, 256, 521, SV | ECF, SIGVER, param_none, "SHA512", false },
    /* EdDSA (pure Ed25519; no prehash parameters) */
    { CKM_EDDSA, CKK_EC_EDWARDS, 255, 255, SV, SIGVER, param_none, NULL, true },
    /* digests */
    { CKM_SHA_1, NA, 0, 0, CKF_DIGEST, P11P_MECH_DIGEST, param_none, "SHA1", false },
    { CKM_SHA224, NA, 0, 0, CKF_DIGEST, P11P_MECH_DIGEST, param_none, "SHA224", false },
    { CKM_SHA256, NA, 0, 0, CKF_DIGEST, P11P_MECH_DIGEST, param_none, "SHA256", false },
    { CKM_SHA384, NA, 0, 0, CKF_DIGEST, P11P_MECH_DIGEST, param_none, "SHA384", false },
    { CKM_SHA512, NA, 0, 0, CKF_DIGEST, P11P_MECH_DIGEST, param_none, "SHA512", false },
};
/* clang-format on */

const struct p11p_mech *p11p_mech_table(size_t *out_n)
{
    *out_n = sizeof(mechs) / sizeof(mechs[0]);
    return mechs;
}

const struct p11p_mech *p11p_mech_find(CK_MECHANISM_TYPE type)
{
    for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
        if (mechs[i].type == type) {
            return &mechs[i];
        }
    }
    return NULL;
}

CK_RV p11p_mech_check(const CK_MECHANISM *mech, enum p11p_mech_op op,
                      const struct p11p_mech **out)
{
    const struct p11p_mech *m = NULL;
    CK_RV rv = CKR_OK;

    if (mech == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    m = p11p_mech_find(mech->mechanism);
    if (m == NULL || (m->ops & op) == 0) {
        P11P_DEBUG("pkcs11", "%s (0x%lx) not supported for this operation",
                   p11p_names_mech(mech->mechanism),
                   (unsigned long)mech->mechanism);
        return CKR_MECHANISM_INVALID;
    }
    if (mech->pParameter == NULL && mech->ulParameterLen != 0) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    rv = m->check_param(mech);
    if (rv != CKR_OK) {
        P11P_INFO("pkcs11", "%s: invalid mechanism parameters",
                  p11p_names_mech(mech->mechanism));
        return rv;
    }
    *out = m;
    return CKR_OK;
}

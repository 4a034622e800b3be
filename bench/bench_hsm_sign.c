/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_hsm_sign (issue 5): C_SignInit + C_Sign through libp11portal.so
 * with key_backend = hsm over SoftHSM2, against SoftHSM2's own C_SignInit +
 * C_Sign on the very same key (found by its CKA_ID), in one process, for
 * ECDSA P-256 (CKM_ECDSA over a SHA-256 digest) and RSA-2048
 * (CKM_SHA256_RSA_PKCS). Prints signatures/s and the ratio (aim: 0.95x or
 * more: the pass-through adds a table lookup and a pooled backing
 * session, nothing per call). The loops alternate (direct, through, direct,
 * through) and the best of each is kept, so a noisy neighbour hurts both.
 *
 * usage: bench_hsm_sign [module [softhsm-module]]  (or $P11P_MODULE,
 * $P11P_SOFTHSM); $BENCH_SECONDS sets each loop's duration (default 1.5).
 * A benchmark, not a test: it asserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_common.h"

static const unsigned char DIGEST[32] = { 0x5a }; /* stands for a SHA-256 */
static const unsigned char MSG[64] = "p11portal hsm: 64 bytes of data, "
                                     "a typical signed TLS input";
static double seconds = 1.5;

static void must(CK_RV rv, const char *what)
{
    if (rv != CKR_OK) {
        fprintf(stderr, "bench_hsm_sign: %s: 0x%lx\n", what, rv);
        exit(1);
    }
}

/* Generates a key pair through our module (enrolls with the local CA) and
 * returns its private key handle and CKA_ID. */
static CK_OBJECT_HANDLE gen(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, bool ec,
                            unsigned char *id, CK_ULONG *id_len)
{
    CK_BBOOL yes = CK_TRUE;
    CK_ULONG bits = 2048;
    CK_BYTE e[] = { 1, 0, 1 };
    CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
                       0xce, 0x3d, 0x03, 0x01, 0x07 };
    CK_ATTRIBUTE ec_pub[] = {
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_VERIFY, &yes, sizeof(yes) },
        { CKA_EC_PARAMS, p256, sizeof(p256) },
    };
    CK_ATTRIBUTE rsa_pub[] = {
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_VERIFY, &yes, sizeof(yes) },
        { CKA_MODULUS_BITS, &bits, sizeof(bits) },
        { CKA_PUBLIC_EXPONENT, e, sizeof(e) },
    };
    CK_ATTRIBUTE priv[] = {
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_PRIVATE, &yes, sizeof(yes) },
        { CKA_SENSITIVE, &yes, sizeof(yes) },
        { CKA_SIGN, &yes, sizeof(yes) },
        { CKA_LABEL, (void *)(ec ? "bench-hsm-ec" : "bench-hsm-rsa"),
          ec ? 12 : 13 },
    };
    CK_MECHANISM m = { ec ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN,
                       NULL, 0 };
    CK_OBJECT_HANDLE pub = 0, h = 0;
    CK_ATTRIBUTE a = { CKA_ID, id, *id_len };

    must(f->C_GenerateKeyPair(s, &m, ec ? ec_pub : rsa_pub, ec ? 3 : 4, priv, 5,
                              &pub, &h),
         "C_GenerateKeyPair (through p11portal)");
    must(f->C_GetAttributeValue(s, h, &a, 1), "C_GetAttributeValue(CKA_ID)");
    *id_len = a.ulValueLen;
    return h;
}

/* The private key with CKA_ID id, through SoftHSM2 directly. */
static CK_OBJECT_HANDLE find_direct(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s,
                                    const unsigned char *id, CK_ULONG id_len)
{
    CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &klass, sizeof(klass) },
                         { CKA_ID, (void *)id, id_len } };
    CK_OBJECT_HANDLE h = 0;
    CK_ULONG n = 0;

    must(f->C_FindObjectsInit(s, t, 2), "C_FindObjectsInit (SoftHSM2)");
    must(f->C_FindObjects(s, &h, 1, &n), "C_FindObjects (SoftHSM2)");
    f->C_FindObjectsFinal(s);
    if (n != 1) {
        fprintf(stderr, "bench_hsm_sign: the key is not in SoftHSM2\n");
        exit(1);
    }
    return h;
}

static double rate(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k,
                   CK_MECHANISM_TYPE mech, const unsigned char *in,
                   CK_ULONG inlen)
{
    CK_MECHANISM m = { mech, NULL, 0 };
    unsigned char sig[512];
    CK_ULONG sig_len;
    double t0 = bench_now(), t = t0;
    long n = 0;

    while (t - t0 < seconds) {
        for (int i = 0; i < 16; i++) {
            sig_len = sizeof(sig);
            must(f->C_SignInit(s, &m, k), "C_SignInit");
            must(f->C_Sign(s, (CK_BYTE *)in, inlen, sig, &sig_len), "C_Sign");
        }
        n += 16;
        t = bench_now();
    }
    return (double)n / (t - t0);
}

int main(int argc, char **argv)
{
    const char *ours_path = argc > 1 ? argv[1] : getenv("P11P_MODULE");
    const char *hsm_path = argc > 2 ? argv[2] : getenv("P11P_SOFTHSM");
    const char *env_s = getenv("BENCH_SECONDS");
    const char *dir;
    char extra[1024];
    CK_FUNCTION_LIST *ours, *hsm;
    CK_SESSION_HANDLE so, sh, sh_setup;
    CK_SLOT_ID slot_o = 0, slot_h = 0;
    static const struct {
        const char *name;
        bool ec;
        CK_MECHANISM_TYPE mech;
    } rows[] = {
        { "ECDSA P-256 (CKM_ECDSA)", true, CKM_ECDSA },
        { "RSA-2048 (CKM_SHA256_RSA_PKCS)", false, CKM_SHA256_RSA_PKCS },
    };

    if (ours_path == NULL) {
        fprintf(stderr,
                "usage: bench_hsm_sign libp11portal.so [libsofthsm2.so]\n");
        return 2;
    }
    if (hsm_path == NULL) {
        hsm_path = BENCH_SOFTHSM_DEFAULT;
    }
    if (env_s != NULL) {
        seconds = strtod(env_s, NULL);
    }
    dir = bench_scratch("hsm-sign");
    bench_env_softhsm(dir);
    snprintf(extra, sizeof(extra),
             "key_backend = hsm\nhsm_module = %s\nhsm_token_label = bench\n",
             hsm_path);
    bench_env_ours(dir, extra);

    /* The backing token, initialised as the bench's own (never by
     * p11portal); then logged out so p11portal's SO can log in. */
    hsm = bench_load(hsm_path);
    sh_setup = bench_token(hsm, &slot_h);
    must(hsm->C_Logout(sh_setup), "C_Logout (SoftHSM2)");
    ours = bench_load(ours_path);
    so = bench_token(ours, &slot_o); /* logs the backing token in, too */
    must(hsm->C_OpenSession(slot_h, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                            NULL, &sh),
         "C_OpenSession (SoftHSM2)");

    printf("C_SignInit + C_Sign, one thread, %.1f s per loop, best of 2\n",
           seconds);
    printf("%-32s %14s %14s %7s\n", "key", "SoftHSM2 /s", "p11portal /s",
           "ratio");
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        unsigned char id[64];
        CK_ULONG id_len = sizeof(id);
        CK_OBJECT_HANDLE ko = gen(ours, so, rows[r].ec, id, &id_len);
        CK_OBJECT_HANDLE kh = find_direct(hsm, sh, id, id_len);
        const unsigned char *in = rows[r].ec ? DIGEST : MSG;
        CK_ULONG inlen = rows[r].ec ? sizeof(DIGEST) : sizeof(MSG);
        double d = 0, o = 0, x;

        for (int i = 0; i < 2; i++) {
            x = rate(hsm, sh, kh, rows[r].mech, in, inlen);
            d = x > d ? x : d;
            x = rate(ours, so, ko, rows[r].mech, in, inlen);
            o = x > o ? x : o;
        }
        printf("%-32s %14.0f %14.0f %6.2fx\n", rows[r].name, d, o, o / d);
    }
    ours->C_Finalize(NULL);
    return 0;
}

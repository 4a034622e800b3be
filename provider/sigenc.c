/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signature encodings (see sigenc.h).
 */
#include "provider/sigenc.h"

#include <string.h>

#include <openssl/obj_mac.h>

#define MAX_EC_SCALAR 66 /* P-521 */

/* DigestInfo prefixes, RFC 8017 section 9.2, note 1. */
struct di_prefix {
    int nid;
    unsigned char len;
    unsigned char bytes[19];
};

static const struct di_prefix di_prefixes[] = {
    { NID_sha1,
      15,
      { 0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05,
        0x00, 0x04, 0x14 } },
    { NID_sha224,
      19,
      { 0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
        0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c } },
    { NID_sha256,
      19,
      { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
        0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 } },
    { NID_sha384,
      19,
      { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
        0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 } },
    { NID_sha512,
      19,
      { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
        0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 } },
};

size_t p11p_prov_sigenc_digest_info(int md_nid, const unsigned char *dgst,
                                    size_t dgstlen, unsigned char *out,
                                    size_t outsize)
{
    size_t i;

    for (i = 0; i < sizeof(di_prefixes) / sizeof(di_prefixes[0]); i++) {
        const struct di_prefix *p = &di_prefixes[i];

        if (p->nid != md_nid) {
            continue;
        }
        /* The last prefix byte is the digest length. */
        if (dgstlen != p->bytes[p->len - 1] || p->len + dgstlen > outsize) {
            return 0;
        }
        memcpy(out, p->bytes, p->len);
        memcpy(out + p->len, dgst, dgstlen);
        return p->len + dgstlen;
    }
    return 0;
}

/* Writes one DER INTEGER of the unsigned big-endian value v (n bytes);
 * returns the bytes written. out has room for n + 3. */
static size_t der_uint(const unsigned char *v, size_t n, unsigned char *out)
{
    size_t pad;
    size_t len;

    while (n > 1 && v[0] == 0) {
        v++;
        n--;
    }
    pad = (v[0] & 0x80) != 0 ? 1 : 0;
    len = n + pad;
    out[0] = 0x02;
    out[1] = (unsigned char)len; /* at most 67: short form */
    out[2] = 0x00;
    memcpy(out + 2 + pad, v, n);
    return 2 + len;
}

bool p11p_prov_sigenc_ecdsa_der(const unsigned char *raw, size_t rawlen,
                                unsigned char *out, size_t outsize,
                                size_t *outlen)
{
    unsigned char body[2 * (MAX_EC_SCALAR + 3)];
    size_t half = rawlen / 2;
    size_t blen;
    size_t hdr;

    if (rawlen == 0 || rawlen % 2 != 0 || half > MAX_EC_SCALAR) {
        return false;
    }
    blen = der_uint(raw, half, body);
    blen += der_uint(raw + half, half, body + blen);
    hdr = blen < 0x80 ? 2 : 3;
    if (hdr + blen > outsize) {
        return false;
    }
    out[0] = 0x30;
    if (hdr == 2) {
        out[1] = (unsigned char)blen;
    } else {
        out[1] = 0x81;
        out[2] = (unsigned char)blen;
    }
    memcpy(out + hdr, body, blen);
    *outlen = hdr + blen;
    return true;
}

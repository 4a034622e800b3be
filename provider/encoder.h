/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Encoders and decoders: the PEM key reference ("PKCS#11 PROVIDER URI", a
 * DER SEQUENCE { VisibleString description, UTF8String uri }, the layout
 * pkcs11-provider writes, so the files are interchangeable) for token
 * private keys, and SubjectPublicKeyInfo (DER and PEM) for public parts.
 */
#ifndef P11P_PROVIDER_ENCODER_H
#define P11P_PROVIDER_ENCODER_H

#include <openssl/core.h>

extern const OSSL_DISPATCH p11p_prov_rsa_uri_encoder_functions[];
extern const OSSL_DISPATCH p11p_prov_ec_uri_encoder_functions[];
extern const OSSL_DISPATCH p11p_prov_ed25519_uri_encoder_functions[];
extern const OSSL_DISPATCH p11p_prov_spki_der_encoder_functions[];
extern const OSSL_DISPATCH p11p_prov_spki_pem_encoder_functions[];

extern const OSSL_DISPATCH p11p_prov_pem_decoder_functions[];
extern const OSSL_DISPATCH p11p_prov_rsa_uri_decoder_functions[];
extern const OSSL_DISPATCH p11p_prov_ec_uri_decoder_functions[];
extern const OSSL_DISPATCH p11p_prov_ed25519_uri_decoder_functions[];

#endif

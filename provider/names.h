/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Algorithm names, properties and descriptions of the provider's tables
 * (OpenSSL's names.h style). Names list OpenSSL's aliases so that every
 * spelling the default provider accepts reaches our implementation.
 */
#ifndef P11P_PROVIDER_NAMES_H
#define P11P_PROVIDER_NAMES_H

#define P11P_PROV_NAME    "p11portal"
#define P11P_PROV_VERSION "0.1.0"
#define P11P_PROV_PROPS   "provider=p11portal"

#define P11P_PROV_NAMES_RSA     "RSA:rsaEncryption:1.2.840.113549.1.1.1"
#define P11P_PROV_NAMES_EC      "EC:id-ecPublicKey:1.2.840.10045.2.1"
#define P11P_PROV_NAMES_ED25519 "ED25519:1.3.101.112"
#define P11P_PROV_NAMES_ECDSA   "ECDSA"

#define P11P_PROV_DESC_RSA     "p11portal RSA token key"
#define P11P_PROV_DESC_EC      "p11portal EC token key"
#define P11P_PROV_DESC_ED25519 "p11portal Ed25519 token key"

/* PEM label and description of the key-reference file: the same as
 * pkcs11-provider's so that the files are interchangeable. */
#define P11P_PROV_PEM_LABEL     "PKCS#11 PROVIDER URI"
#define P11P_PROV_URI_DESC      "PKCS#11 Provider URI v1.0"
#define P11P_PROV_URI_STRUCTURE "pk11-uri"

#endif

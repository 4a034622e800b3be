/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal vendor-defined PKCS#11 constants: the only installed header.
 *
 * Applications put the optional attributes below into the private-key
 * template of C_GenerateKeyPair to steer enrollment; absent ones come from
 * the token's configuration (for example subject = CN=${label}). Read-only
 * attributes report the enrollment order of a key, certificate or order
 * object. Offsets from P11PORTAL_VENDOR_BASE are fixed and never reused.
 *
 * String values are UTF-8 bytes without a terminating NUL, as CKA_LABEL.
 */
#ifndef P11PORTAL_PKCS11_VENDOR_H
#define P11PORTAL_PKCS11_VENDOR_H

/* 0x80000000 | "P1" */
#define P11PORTAL_VENDOR_BASE (0x80000000UL | 0x50310000UL)

/* --- settable in C_GenerateKeyPair's private-key template --- */

/* Subject DN, OpenSSL one-line or RFC 4514 form: "CN=dev01,O=Acme" or
 * "/CN=dev01/O=Acme". */
#define CKA_P11PORTAL_SUBJECT (P11PORTAL_VENDOR_BASE + 0x01UL)
/* Subject alternative names, comma separated, OpenSSL's syntax:
 * "DNS:web01.example.com,IP:192.0.2.1,email:ops@example.com". */
#define CKA_P11PORTAL_SANS (P11PORTAL_VENDOR_BASE + 0x02UL)
/* Portal certificate profile (Sectigo certType id, DigiCert enrollment
 * profile id, local CA profile name). */
#define CKA_P11PORTAL_PROFILE (P11PORTAL_VENDOR_BASE + 0x03UL)
/* Certificate term in days (CK_ULONG). */
#define CKA_P11PORTAL_TERM_DAYS (P11PORTAL_VENDOR_BASE + 0x04UL)
/* CK_BBOOL: generate the key pair only, do not enroll. */
#define CKA_P11PORTAL_NO_ENROLL (P11PORTAL_VENDOR_BASE + 0x05UL)

/* --- read-only, on keys, certificates and order objects --- */

/* Local order id (decimal string). */
#define CKA_P11PORTAL_ORDER_ID (P11PORTAL_VENDOR_BASE + 0x10UL)
/* Order state name: "new", "submitting", "submitted", "pending_approval",
 * "processing", "issued", "rejected", "failed", "renewed", "revoked",
 * "expired". */
#define CKA_P11PORTAL_ORDER_STATE (P11PORTAL_VENDOR_BASE + 0x11UL)
/* The portal's id for the order (string). */
#define CKA_P11PORTAL_PORTAL_ORDER_ID (P11PORTAL_VENDOR_BASE + 0x12UL)
/* The last portal or enrollment error, human text. */
#define CKA_P11PORTAL_LAST_ERROR (P11PORTAL_VENDOR_BASE + 0x13UL)
/* The MAC address consumed from the token's sequence, "00:11:22:33:44:55". */
#define CKA_P11PORTAL_MAC (P11PORTAL_VENDOR_BASE + 0x14UL)

/* CKA_APPLICATION of the CKO_DATA object of an enrollment order. Its
 * CKA_VALUE is a small JSON status:
 * {"order":"17","state":"issued","portal_id":"...","label":"...",
 *  "error":"...","updated":"2026-11-23T10:00:00Z"} */
#define P11PORTAL_APP_ORDER "p11portal order"

/* CKA_APPLICATION of a CKO_DATA object whose CKA_VALUE is a DER PKCS#10 CSR:
 * C_CreateObject of such an object submits the CSR for enrollment. */
#define P11PORTAL_APP_CSR "p11portal csr"

/* CK_SESSION_INFO.ulDeviceError: the last core status of the session (see
 * docs/troubleshooting.md for the numbers). */

#endif

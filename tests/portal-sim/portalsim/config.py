"""Default configuration: profiles of both portals, portal quirks, credentials.

Override with `--config FILE` (JSON, deep-merged over these defaults) or at run
time with `POST /__admin/config` / `POST /__admin/profiles`. Admin changes are
kept in STATE/config.json so they survive a restart.

Profile `mode` (per profile, both portals):
  issue      issued at once (Sectigo: details say Issued right after enroll;
             DigiCert: `pem` in the enroll answer, status AUTO_APPROVED)
  polls      pending for `polls` status/collect polls, then issued
  approval   waits for approve/decline (Sectigo real calls §1.4.7 / §1.7;
             DigiCert: admin endpoint, plus the [I] certificate-request calls)
  reject     refused synchronously at enroll (`reject_code`/`reject_description`)
  ca_reject  accepted, then the CA rejects it (status Rejected / REJECTED)
`quota` (int or null): number of licences; enroll/renew beyond it is refused.
"""
import copy

DIGI_UUID = "IOT_5f0c0a6e-51a1-4c1e-9a55-00000000000%d"

DEFAULTS = {
    # Issued leaves start backdate_minutes in the past (notBefore).
    "ca": {"backdate_minutes": 1},
    "sectigo": {
        # Credentials: null = generated at first start and stored in STATE/sectigo.cred.
        "login": None, "password": None, "customerUri": "p11portal-sim",
        "orgId": 7, "orgName": "p11portal Simulated Org",
        # [U] §1.6/§3b.2: SSL pending collect answers code 0 by default.
        "ssl_pending": {"code": 0, "description": "Being processed by Sectigo"},
        "device_pending": {"code": -183, "description": "Certificate is not collectable."},
        # [U] §1.4.5: HTTP status for unknown ids (400 or 404).
        "not_found_status": 404,
        # §3b.3: refuse PKCS#7 collect formats (base64, bin) with -1450.
        "refuse_pkcs7": False,
        # §1.2: answer 401 with an empty body instead of {"code":-16,...}.
        "empty_401": False,
        # §1.4.4: order of chain formats x509/pem: "root_first" (as in the 25.5 doc
        # example and observed by SGI) or "leaf_first".
        "pem_chain_order": "root_first",
        # [U] §1.3: page size when `size` is omitted; max is 200.
        "default_page_size": 200,
        # Where the driver's request token is looked for (ledger `request_token`):
        # a custom field with one of these names, else `comments`.
        "token_fields": ["requestToken", "p11portal-token", "p11portal_request_token"],
        "quota_error": {"status": 400, "code": -3,
                        "description": "You are not authorized to perform enroll: no licences left for this certificate profile."},
        "ssl_types": [
            {"id": 1001, "name": "Sim SSL Instant", "mode": "issue"},
            {"id": 1002, "name": "Sim SSL Polls", "mode": "polls", "polls": 2},
            {"id": 1003, "name": "Sim SSL Approval", "mode": "approval"},
            {"id": 1004, "name": "Sim SSL Reject", "mode": "reject"},
            {"id": 1005, "name": "Sim SSL CA Reject", "mode": "ca_reject"},
            {"id": 1006, "name": "Sim SSL Quota", "mode": "issue", "quota": 2},
        ],
        "device_types": [
            {"id": 2001, "name": "Sim Device Instant", "mode": "issue"},
            {"id": 2002, "name": "Sim Device Polls", "mode": "polls", "polls": 2},
            {"id": 2003, "name": "Sim Device Approval", "mode": "approval"},
            {"id": 2004, "name": "Sim Device Reject", "mode": "reject"},
            {"id": 2005, "name": "Sim Device Quota", "mode": "issue", "quota": 2},
        ],
        # Defaults applied to every SSL/device profile (a profile may override each).
        "profile_defaults": {
            "terms": [365, 730],
            "keyTypes": {"RSA": ["2048", "3072", "4096"], "EC": ["P-256", "P-384"]},
            "description": "", "useSecondaryOrgName": False,
            "polls": 0, "quota": None, "renew_allowed": True,
            "reject_code": -843,
            "reject_description": "The organization validation status does not allow this certificate profile.",
        },
        "custom_fields": [
            {"id": 1, "name": "requestToken", "mandatory": False},
            {"id": 2, "name": "station", "mandatory": False},
        ],
        "device_custom_fields": [
            {"id": 11, "name": "requestToken", "mandatory": False},
        ],
    },
    "digicert": {
        "api_key": None,            # null = generated, stored in STATE/digicert.cred
        "passcode": None,           # x-passcode (request/renew only, §2.2)
        # Error envelope: "errors" ({"errors":[{code,message}]}, IoT API §2.3) or
        # "error" ({"error":{code,message}}, other DigiCert ONE services).
        "error_envelope": "errors",
        "not_found_status": 404,    # [U] §2.6: 404 or 400 for entity_not_found
        "unauthorized_status": 401,  # [U] §2.2
        # [U] §2.4: answer of an enroll that is not issued at once; merged into
        # {"certificate_request_id":..., "certificate_id":...}.
        "pending_response": {"status": "PENDING", "result": "SUCCESS"},
        "pending_cert_status": "PENDING",   # [U] §2.5 status of a pending certificate
        "include_certificate_id_when_pending": True,
        "default_limit": 20, "max_limit": 1000,
        # Ledger `request_token`: first certificate/device attribute with one of these ids.
        "token_fields": ["p11portal_request_token", "request_token", "subject.serial_number"],
        "quota_error": {"status": 400, "code": "invalid_input",
                        "message": "The license limit of the enrollment profile has been reached."},
        # Batch jobs (§2.9): status polls a job stays IN_PROGRESS after approval
        # (0: COMPLETE at once).
        "batch_polls": 0,
        "profiles": [
            {"id": DIGI_UUID % 1, "name": "Sim IoT Instant", "mode": "issue"},
            {"id": DIGI_UUID % 2, "name": "Sim IoT Polls", "mode": "polls", "polls": 2},
            {"id": DIGI_UUID % 3, "name": "Sim IoT Approval", "mode": "approval"},
            {"id": DIGI_UUID % 4, "name": "Sim IoT Reject", "mode": "reject"},
            {"id": DIGI_UUID % 5, "name": "Sim IoT Quota", "mode": "issue", "quota": 2},
        ],
        "profile_defaults": {
            "polls": 0, "quota": None, "validity_days": 365,
            "renewal_window_days": None,   # null: renew allowed at any time
            "key_types": {"RSA": ["2048", "3072", "4096"], "EC": ["P-256", "P-384"]},
            "reject_code": "invalid_input",
            "reject_message": "The enrollment profile does not allow this request.",
        },
    },
    "latency_ms": 0,
    "faults": [],
}


def profile_list(cfg, api):
    """Effective profiles of an API ('sectigo-ssl', 'sectigo-device', 'digicert')."""
    if api == "digicert":
        d = cfg["digicert"]
        raw, defaults = d["profiles"], d["profile_defaults"]
    else:
        s = cfg["sectigo"]
        raw = s["ssl_types" if api == "sectigo-ssl" else "device_types"]
        defaults = s["profile_defaults"]
    out = []
    for p in raw:
        q = copy.deepcopy(defaults)
        q.update(p)
        out.append(q)
    return out


def find_profile(cfg, api, pid):
    for p in profile_list(cfg, api):
        if str(p["id"]) == str(pid):
            return p
    return None

"""DigiCert ONE IoT Trust Manager API v1 (PORTALS.md Part 2, §3.2, §3b.15-19).

Auth (§2.2): `x-api-key`; `x-passcode` on request/renew only; or mutual TLS with
the simulator's client certificate and no key header ("clientauth." host mode).
Items marked [I]/[U] in PORTALS.md are configurable in config.py.
"""
import datetime
import re
import uuid

from cryptography import x509
from cryptography.x509.oid import NameOID

from . import ca as camod
from . import orders
from .config import find_profile, profile_list
from .http import ApiError, BadJson, Response, json_response
from .ledger import AWAITING, DECLINED, ISSUED, PENDING, REJECTED, REVOKED
from .util import iso_z, utcnow, as_int, parse_iso

API = "digicert"

# §2.6 revocation reasons -> RFC 5280 reason codes (ledger only).
REASONS = {"unspecified": 0, "key_compromise": 1, "affiliation_changed": 3, "suspended": 4,
           "superseded": 4, "cessation_of_operation": 5, "certificate_hold": 6,
           "privilege_withdrawn": 9, "aa_compromise": 10}

# certificate_profile_attributes ids (§2.4, §2.7) -> subject OIDs
SUBJ = {"subject.common_name": NameOID.COMMON_NAME,
        "subject.organization_name": NameOID.ORGANIZATION_NAME,
        "subject.organization_unit": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "subject.country": NameOID.COUNTRY_NAME, "subject.state": NameOID.STATE_OR_PROVINCE_NAME,
        "subject.locality": NameOID.LOCALITY_NAME, "subject.serial_number": NameOID.SERIAL_NUMBER,
        "subject.email": NameOID.EMAIL_ADDRESS}


def err(sim, status, code, message):
    """Error envelope (§2.3): errors[] on IoT endpoints, or error{} if configured."""
    if sim.cfg["digicert"].get("error_envelope") == "error":
        return ApiError(status, {"error": {"code": code, "message": message}})
    return ApiError(status, {"errors": [{"code": code, "message": message}]})


def bad(sim, message):
    return err(sim, 400, "invalid_input", message)


def not_found(sim, what, oid):
    return err(sim, sim.cfg["digicert"]["not_found_status"], "entity_not_found",
               "%s with id %s does not exist" % (what, oid))


def status_str(sim, o):
    return {ISSUED: "ISSUED", REVOKED: "REVOKED", DECLINED: "REJECTED", REJECTED: "REJECTED",
            PENDING: sim.cfg["digicert"]["pending_cert_status"],
            AWAITING: sim.cfg["digicert"]["pending_cert_status"]}[o["state"]]


# --- auth (§2.2, §3.2.1) --------------------------------------------------------------
def authenticate(sim, req, passcode_ok):
    c = sim.cfg["digicert"]
    key = req.headers.get("x-api-key")
    pc = req.headers.get("x-passcode")
    if key is not None:
        ok, req.auth = key == c["api_key"], "api_key"
    elif pc is not None and passcode_ok:
        ok, req.auth = pc == c["passcode"], "passcode"
    elif req.peer_cert_fp is not None:
        ok, req.auth = req.peer_cert_fp == sim.ca.client_fp, "cert"
    else:
        ok = False
    if not ok:
        raise err(sim, int(c.get("unauthorized_status", 401)), "unauthorized",
                  "The API key, passcode or client certificate is missing or invalid.")


def _body(sim, req, allow_empty=False):
    try:
        b = req.json(allow_empty=allow_empty)
    except BadJson:
        raise bad(sim, "Request body is not valid JSON.")
    if b is None:
        return {}
    if not isinstance(b, dict):
        raise bad(sim, "Request body must be a JSON object.")
    return b


def _attrs(sim, b, name):
    a = b.get(name)
    if a in (None, ""):
        return []
    if not isinstance(a, list) or not all(isinstance(x, dict) and isinstance(x.get("id"), str) for x in a):
        raise bad(sim, "%s must be an array of {id, value}." % name)
    return [{"id": x["id"], "value": x.get("value")} for x in a]


def _subject(sim, csr, attrs):
    """Subject from attributes, the rest from the CSR (update_from_csr, §2.7)."""
    given = {}
    for a in attrs:
        if a["id"] in SUBJ and a["value"] not in (None, "", []):
            given.setdefault(a["id"], [])
            vals = a["value"] if isinstance(a["value"], list) else [a["value"]]
            given[a["id"]] += [str(v) for v in vals]
    overridden = {SUBJ[k] for k in given}
    rdns = [x for x in csr.subject if x.oid not in overridden]
    try:
        for k, vals in given.items():
            for v in vals:
                rdns.append(x509.NameAttribute(SUBJ[k], v))
        name = x509.Name(rdns)
    except ValueError as e:
        raise bad(sim, "Invalid subject attribute: %s" % e)
    if not name.get_attributes_for_oid(NameOID.COMMON_NAME):
        raise bad(sim, "subject.common_name is required.")
    sans = []
    for a in attrs:
        if a["id"] == "san.dns_name" and a["value"]:
            vals = a["value"] if isinstance(a["value"], list) else str(a["value"]).split(",")
            sans += [str(v).strip() for v in vals if str(v).strip()]
    sans += [s for s in camod.csr_sans(csr) if s not in sans]
    return name, [s for s in sans if s.isascii()]


def _token(sim, attrs, dattrs):
    for n in sim.cfg["digicert"]["token_fields"]:
        for a in attrs + dattrs:
            if a["id"] == n and a["value"] not in (None, ""):
                return str(a["value"])
    return None


def _csr(sim, text, profile):
    try:
        csr = camod.parse_csr(text)
    except camod.CsrError as e:
        raise bad(sim, "Invalid CSR: %s" % e)
    alg, param = camod.key_type(csr.public_key())
    kt = profile.get("key_types") or {}
    if kt and (alg not in kt or param not in [str(x) for x in kt[alg]]):
        raise bad(sim, "Key type %s %s is not allowed by the enrollment profile." % (alg, param))
    return csr


def _device_upsert(sim, ident, fields=None):
    for d in sim.state.devices.values():
        if d["device_identifier"] == ident:
            d["updated"] = iso_z(utcnow())
            return d
    now = iso_z(utcnow())
    d = {"id": str(uuid.uuid4()), "account_id": "sim-account",
         "division": {"id": "sim-division", "name": "Simulated division"},
         "device_identifier": ident, "device_profile": {"id": "sim-device-profile", "name": "Sim devices"},
         "created": now, "updated": now, "status": "ACTIVE", "fields": fields or [],
         "device_api_allow_read": True, "device_api_allow_write": False,
         "device_api_allow_renew_certificate": False}
    sim.state.devices[d["id"]] = d
    return d


# --- request / renew (§2.4, §2.6) --------------------------------------------------------
def _create(sim, req, b, profile, renew_of=None, csr_text=None):
    attrs = _attrs(sim, b, "certificate_profile_attributes")
    dattrs = _attrs(sim, b, "device_attributes")
    csr = _csr(sim, csr_text if csr_text is not None else b.get("csr"), profile)
    subject, sans = _subject(sim, csr, attrs)
    if profile.get("mode") == "reject":
        raise bad(sim, profile.get("reject_message")) if profile.get("reject_code", "invalid_input") == "invalid_input" \
            else err(sim, 400, profile["reject_code"], profile.get("reject_message"))
    if not sim.state.quota_take(API, profile):
        q = sim.cfg["digicert"]["quota_error"]
        raise err(sim, int(q.get("status", 400)), q["code"], q["message"])
    ident = next((a["value"] for a in dattrs if a["id"] == "DEVICE_IDENTIFIER" and a["value"]), None)
    dev = _device_upsert(sim, str(ident)) if ident else None
    o = orders.new_order(sim, API, uuid.uuid4(), profile, csr, subject, sans,
                         profile.get("validity_days", 365), req.auth,
                         attributes=attrs, device_attributes=dattrs,
                         request_token=_token(sim, attrs, dattrs), renewed_from=renew_of,
                         device_identifier=str(ident) if ident else None,
                         device_id=dev["id"] if dev else None, comments=None)
    if dev:
        sim.state.save()
    req.order_id = o["id"]
    return o


def _enroll_answer(sim, req, o):
    c = sim.cfg["digicert"]
    v = {"certificate_request_id": o["request_id"]}
    if o["state"] == ISSUED:
        v.update({"status": "AUTO_APPROVED" if not o.get("approved") else "APPROVED",
                  "result": "SUCCESS", "certificate_id": o["id"], "pem": _pem_chain(sim, req, o)})
    elif o["state"] == REJECTED:
        v.update({"status": "REJECTED", "result": "FAILURE", "certificate_id": o["id"]})
    else:
        if c.get("include_certificate_id_when_pending", True):
            v["certificate_id"] = o["id"]
        v.update(c["pending_response"])
    return json_response(v)


def _pem_chain(sim, req, o):
    """§3b.17: leaf, issuing CA, root — leaf first."""
    return camod.pem(sim.out_cert(o, req)) + camod.pem(sim.ca.int) + camod.pem(sim.ca.root)


def request_cert(sim, req):
    b = _body(sim, req)
    pid = b.get("enrollment_profile_id")
    if not isinstance(pid, str) or not pid:
        raise bad(sim, "enrollment_profile_id is required.")
    profile = find_profile(sim.cfg, API, pid)
    if profile is None:
        raise bad(sim, "Invalid enrollment profile id %s." % pid)
    return _enroll_answer(sim, req, _create(sim, req, b, profile))


def _order(sim, oid):
    o = sim.state.get(oid, API)
    if o is None:
        raise not_found(sim, "Certificate", oid)
    return o


def renew(sim, req, oid):
    o = _order(sim, oid)
    req.order_id = o["id"]
    b = _body(sim, req, allow_empty=True)
    profile = find_profile(sim.cfg, API, o["profile"])
    if profile is None:
        raise bad(sim, "Invalid enrollment profile id %s." % o["profile"])
    if o["state"] != ISSUED or o.get("renewed_to"):
        raise bad(sim, "Certificate with id %s is not eligible for renewal." % oid)
    win = profile.get("renewal_window_days")
    if win is not None:
        na = parse_iso(o["not_after"])
        if na and utcnow() < na - datetime.timedelta(days=int(win)):
            raise bad(sim, "Certificate with id %s is outside of the renewal window." % oid)
    if not b.get("certificate_profile_attributes"):
        b["certificate_profile_attributes"] = o.get("attributes") or []
    if not b.get("device_attributes"):
        b["device_attributes"] = o.get("device_attributes") or []
    n = _create(sim, req, b, profile, renew_of=o["id"], csr_text=b.get("csr") or o["csr_pem"])
    o["renewed_to"] = n["id"]
    sim.state.touch(o)
    return _enroll_answer(sim, req, n)


def revoke(sim, req, oid):
    o = _order(sim, oid)
    req.order_id = o["id"]
    b = _body(sim, req, allow_empty=True)
    reason = b.get("reason")
    if reason not in REASONS:
        raise bad(sim, "reason must be one of %s." % ", ".join(sorted(REASONS)))
    if b.get("revocation_date") not in (None, "") and parse_iso(str(b["revocation_date"])) is None:
        raise bad(sim, "revocation_date is not a valid date.")
    if o["state"] == REVOKED:
        raise bad(sim, "Certificate with id %s is already revoked." % oid)
    if o["state"] != ISSUED:
        raise bad(sim, "Certificate with id %s is not issued." % oid)
    orders.revoke(sim, o, REASONS[reason], b.get("comments") or reason)
    o["revocation_reason"] = reason
    sim.state.touch(o)
    return Response(204)


# --- search / get (§2.5, §3b.15) ------------------------------------------------------------
def record(sim, req, o):
    r = {"id": o["id"], "common_name": o["common_name"], "status": status_str(sim, o),
         "certificate_request_id": o["request_id"],
         "enrollment_profile": {"id": o["profile"], "name": o.get("profile_name")},
         "created_at": o["created"]}
    if o.get("device_identifier"):
        r["device_identifier"] = o["device_identifier"]
        r["device_id"] = o.get("device_id")
    if o.get("cert_pem"):
        cert = sim.out_cert(o, req)
        r.update({"serial_number": camod.serial_plain(cert.serial_number),
                  "body": camod.pem(cert),
                  "chain": [{"blob": camod.pem(sim.ca.int)}, {"blob": camod.pem(sim.ca.root)}],
                  "valid_from": iso_z(cert.not_valid_before), "valid_to": iso_z(cert.not_valid_after)})
    if o["state"] == REVOKED:
        r["revocation_reason"] = o.get("revocation_reason", "unspecified")
        r["revoked_at"] = o.get("revoked")
    return r


def search(sim, req):
    c = sim.cfg["digicert"]
    q = req.q
    try:
        off = as_int(q("offset")) or 0
        lim = as_int(q("limit"))
    except ValueError:
        raise bad(sim, "offset and limit must be integers.")
    lim = c["default_limit"] if lim is None else lim
    if off < 0 or lim < 0 or lim > c["max_limit"]:
        raise bad(sim, "offset/limit out of range.")
    res = sim.state.by_api(API)
    for o in res:          # a search is a status poll too
        orders.poll(sim, o) if o["state"] == PENDING and _match(sim, req, o) else None
    res = [o for o in res if _match(sim, req, o)]
    page = res[off:off + lim]
    return json_response({"offset": off, "limit": lim, "total": len(res),
                          "records": [record(sim, req, o) for o in page]})


def _match(sim, req, o):
    q = req.q
    if q("serial_number"):
        n = camod.parse_serial(q("serial_number"))
        if not o.get("serial") or camod.parse_serial(o["serial"]) != n:
            return False
    if q("common_name") and o["common_name"] != q("common_name"):
        return False
    if q("status") and status_str(sim, o) != q("status").upper():
        return False
    if q("enrollment_profile_id") and o["profile"] != q("enrollment_profile_id"):
        return False
    if q("device_identifier") and o.get("device_identifier") != q("device_identifier"):
        return False
    if q("certificate_request_id") and o["request_id"] != q("certificate_request_id"):
        return False
    return True


def get_cert(sim, req, oid):
    o = _order(sim, oid)
    req.order_id = o["id"]
    orders.poll(sim, o)
    return json_response(record(sim, req, o))


# --- certificate requests [I]: poll / approve / reject (§2.4 unknowns, §3.2.3) ----------------------
def _by_request(sim, rid):
    for o in sim.state.by_api(API):
        if o["request_id"] == rid:
            return o
    raise not_found(sim, "Certificate request", rid)


def get_request(sim, req, rid):
    o = _by_request(sim, rid)
    req.order_id = o["id"]
    orders.poll(sim, o)
    v = {"id": o["request_id"], "certificate_id": o["id"], "created_at": o["created"],
         "enrollment_profile": {"id": o["profile"], "name": o.get("profile_name")},
         "status": {AWAITING: "PENDING_APPROVAL", PENDING: "APPROVED", ISSUED: "APPROVED",
                    REVOKED: "APPROVED", DECLINED: "REJECTED", REJECTED: "REJECTED"}[o["state"]]}
    if o.get("reason") and o["state"] in (DECLINED, REJECTED):
        v["rejection_reason"] = o["reason"]
    return json_response(v)


def approve_request(sim, req, rid, ok):
    o = _by_request(sim, rid)
    req.order_id = o["id"]
    b = _body(sim, req, allow_empty=True)
    if o["state"] != AWAITING:
        raise bad(sim, "Certificate request %s is not pending approval." % rid)
    if ok:
        orders.approve(sim, o, find_profile(sim.cfg, API, o["profile"]), b.get("comments"))
    else:
        orders.decline(sim, o, b.get("comments") or b.get("reason") or "rejected")
    return Response(204)


# --- enrollment profiles (§2.7) -------------------------------------------------------------
def spec(sim, req, pid):
    p = find_profile(sim.cfg, API, pid)
    if p is None:
        raise bad(sim, "Invalid enrollment profile id %s." % pid)

    def f(i, name, mandatory, multiple=False, ftype="CERTIFICATE"):
        return {"id": i, "name": name, "type": ftype, "mandatory": mandatory, "editable": True,
                "update_from_csr": i.startswith("subject."),
                "value_type": {"type": "STRING", "options": [], "multiple": multiple},
                "default_value": None, "options": []}
    fields = [f("csr", "CSR", True),
              dict(f("signature_algorithm", "Signature algorithm", False),
                   options=["sha256WithRSA", "sha256WithECDSA", "match_issuer"]),
              f("subject.common_name", "Common name", True),
              f("subject.organization_name", "Organization", False),
              f("subject.organization_unit", "Organization unit", False, True),
              f("subject.country", "Country", False),
              f("subject.serial_number", "Serial number", False),
              f("san.dns_name", "DNS name", False, True),
              dict(f("DEVICE_IDENTIFIER", "Device identifier", False, ftype="DEVICE"), id="DEVICE_IDENTIFIER"),
              f("p11portal_request_token", "Request token", False, ftype="DEVICE")]
    return json_response({"fields": fields})


def list_profiles(sim, req):
    recs = [{"id": p["id"], "name": p["name"], "enrollment_method": "API", "status": "ACTIVE",
             "approval_required": p.get("mode") == "approval"} for p in profile_list(sim.cfg, API)]
    return json_response({"offset": 0, "limit": len(recs), "total": len(recs), "records": recs})


# --- devices v2 (§2.8, §3b.16, §3b.18) ----------------------------------------------------------
def device_create(sim, req):
    b = _body(sim, req)
    ident = b.get("device_identifier")
    if not isinstance(ident, str) or not ident or len(ident) > 255:
        raise bad(sim, "device_identifier is required.")
    if any(d["device_identifier"] == ident for d in sim.state.devices.values()):
        raise bad(sim, "Device with division sim-division and identifier %s already exists" % ident)
    d = _device_upsert(sim, ident, b.get("fields") if isinstance(b.get("fields"), list) else [])
    sim.state.save()
    return json_response(d, status=201)


def device_list(sim, req):
    q = req.q
    try:
        off, lim = as_int(q("offset")) or 0, as_int(q("limit"))
    except ValueError:
        raise bad(sim, "offset and limit must be integers.")
    lim = 20 if lim is None else lim
    res = [d for d in sim.state.devices.values()
           if not q("device_identifier") or d["device_identifier"] == q("device_identifier")]
    return json_response({"limit": lim, "offset": off, "total": len(res), "records": res[off:off + lim]})


def device_get(sim, req, did):
    d = sim.state.devices.get(did)
    if d is None:
        raise not_found(sim, "Device", did)
    return json_response(d)


def device_put(sim, req, did):
    d = sim.state.devices.get(did)
    if d is None:
        raise not_found(sim, "Device", did)
    b = _body(sim, req)
    if "fields" in b:
        if not isinstance(b["fields"], list):
            raise bad(sim, "fields must be an array.")
        d["fields"] = b["fields"]
    d["updated"] = iso_z(utcnow())
    sim.state.save()
    return json_response(d)


# --- routing ---------------------------------------------------------------------------------
U = r"(?P<id>[A-Za-z0-9_-]+)"
_R = [
    ("POST", r"/iot/api/v1/certificate/?", lambda s, r: request_cert(s, r), True),
    ("GET", r"/iot/api(?:-ui)?/v1/certificate/?", lambda s, r: search(s, r), False),
    ("GET", r"/iot/api/v1/certificate/%s" % U, lambda s, r, id: get_cert(s, r, id), False),
    ("PUT", r"/iot/api/v1/certificate/%s/renew" % U, lambda s, r, id: renew(s, r, id), True),
    ("PUT", r"/iot/api/v1/certificate/%s/revoke" % U, lambda s, r, id: revoke(s, r, id), False),
    ("GET", r"/iot/api/v1/certificate-request/%s" % U, lambda s, r, id: get_request(s, r, id), False),
    ("PUT", r"/iot/api/v1/certificate-request/%s/approve" % U, lambda s, r, id: approve_request(s, r, id, True), False),
    ("PUT", r"/iot/api/v1/certificate-request/%s/reject" % U, lambda s, r, id: approve_request(s, r, id, False), False),
    ("GET", r"/iot/api/v1/enrollment-profile/%s/enrollment-specification" % U, lambda s, r, id: spec(s, r, id), False),
    ("GET", r"/iot/api/v1/enrollment-profile/?", lambda s, r: list_profiles(s, r), False),
    ("POST", r"/iot/api/v2/device/?", lambda s, r: device_create(s, r), False),
    ("GET", r"/iot/api/v2/device/?", lambda s, r: device_list(s, r), False),
    ("GET", r"/iot/api/v2/device/%s" % U, lambda s, r, id: device_get(s, r, id), False),
    ("PUT", r"/iot/api/v2/device/%s" % U, lambda s, r, id: device_put(s, r, id), False),
]
_R = [(m, re.compile("^" + p + "$"), fn, pc) for m, p, fn, pc in _R]


def handle(sim, req):
    from . import batch  # batch jobs and licences (§2.9); batch imports this module
    allowed = []
    for method, rx, fn, passcode_ok in _R + batch.ROUTES:
        m = rx.match(req.path)
        if not m:
            continue
        if method != req.method:
            allowed.append(method)
            continue
        authenticate(sim, req, passcode_ok)
        with sim.state.lock:
            return fn(sim, req, **m.groupdict())
    authenticate(sim, req, False)
    if allowed:
        raise err(sim, 405, "method_not_allowed", "Method %s is not allowed here." % req.method)
    raise err(sim, 404, "not_found", "No such endpoint: %s" % req.path)


def error_body(sim, status, kind):
    if kind == "rate_limit":  # §2.12 [I]
        return err(sim, 429, "request_limit_exceeded", "Service unavailable, please limit request volume").body
    return err(sim, status, "internal_error", "The service is temporarily unavailable.").body

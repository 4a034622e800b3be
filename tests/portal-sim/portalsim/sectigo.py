"""Sectigo Certificate Manager, classic REST API (PORTALS.md Part 1, §3.1, §3b).

Served under /api/... (headers login/password/customerUri, §1.2) and
/private/api/... (client certificate + login/customerUri, no password, §1.2, §3b.14).
Families: SSL (/api/ssl/v1, §1.4) and Device (/api/device/v1, §1.7); plus
/api/organization/v1 (§1.9).
"""
import re
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from . import ca as camod
from . import orders
from .config import find_profile, profile_list
from .http import ApiError, BadJson, Response, json_response
from .ledger import AWAITING, DECLINED, ISSUED, PENDING, REJECTED, REVOKED
from .util import as_int, parse_iso, scm_date_format

SSL, DEV = "sectigo-ssl", "sectigo-device"

# Status strings (§1.5). SSL details and device details use mixed case; device
# enroll answers and device list filters use upper-snake (compare case-insensitively).
_STATUS = {PENDING: "Applied", AWAITING: "Requested", ISSUED: "Issued",
           DECLINED: "Declined", REJECTED: "Rejected", REVOKED: "Revoked"}


def err(status, code, description):
    """SCM error envelope (§1.3 "Error body")."""
    return ApiError(status, {"code": code, "description": description})


def _nf(sim, api, oid):
    st = sim.cfg["sectigo"]["not_found_status"]
    if api == SSL:
        return err(st, -124, "Wrong SSL certificate id %s." % oid)
    return err(st, -1104, "Invalid order number %s" % oid)


def status_str(o):
    s = _STATUS[o["state"]]
    if o["state"] == PENDING and o.get("approved"):
        s = "Approved" if o.get("polls", 0) == 0 else "Applied"
    if o.get("replaced_state"):
        s = "Replaced"
    return s


# --- authentication (§1.2) ----------------------------------------------------
def authenticate(sim, req, private):
    c = sim.cfg["sectigo"]
    h = req.headers
    ok = (h.get("login") == c["login"] and h.get("customerUri") == c["customerUri"])
    if private:
        ok = ok and req.peer_cert_fp is not None and req.peer_cert_fp == sim.ca.client_fp
        req.auth = "cert"
    else:
        ok = ok and h.get("password") == c["password"]
        req.auth = "password"
    if not ok:
        if c.get("empty_401"):
            raise ApiError(401, b"")
        raise err(401, -16, "Unknown user")


# --- request body helpers ------------------------------------------------------
def _body(req, allow_empty=False):
    try:
        b = req.json(allow_empty=allow_empty)
    except BadJson:
        raise err(400, -1, "Malformed JSON in request body.")
    # §3b.1: renewById bodies may be "" / null / {} — all mean "no options".
    if b is None or b == "":
        return {}
    if not isinstance(b, dict):
        raise err(400, -1, "Malformed JSON in request body: object expected.")
    return b


def _str(b, name):
    v = b.get(name)
    if v is None or v == "":  # §3b.4: null and "" mean absent
        return None
    if not isinstance(v, (str, int, float)) or isinstance(v, bool):
        raise err(400, -1601, "Field '%s' has invalid value." % name)
    return str(v)


def _int(b, name, required=False):
    try:
        v = as_int(b.get(name))
    except ValueError:
        raise err(400, -1601, "Field '%s' has invalid value." % name)
    if v is None and required:
        raise err(400, -7, "%s is required but missing." % name)
    return v


def _csr(sim, b, profile):
    """Parse and check the CSR against the profile's keyTypes (§1.4.3 errors)."""
    try:
        csr = camod.parse_csr(b.get("csr"))
    except camod.CsrError as e:
        code = {"missing": -7, "base64": -9, "decode": -10, "signature": -138}[e.kind]
        msg = {"missing": "csr is required but missing.",
               "base64": "CSR is not valid Base-64 data!",
               "decode": "Error decoding CSR.", "signature": "The CSR is not valid."}[e.kind]
        raise err(400, code, msg)
    alg, param = camod.key_type(csr.public_key())
    if alg == "RSA" and int(param) < 2048:
        raise err(400, -141, "The key size is too small.")
    kt = profile.get("keyTypes") or {}
    if kt:
        if alg not in kt:
            raise err(400, -11, "Unsupported key algorithm %s." % alg)
        if param not in [str(x) for x in kt[alg]]:
            raise err(400, -13, "Unsupported key size %s for %s." % (param, alg))
    return csr


def _custom_fields(b, defs):
    cf = b.get("customFields")
    if cf in (None, ""):
        cf = []
    if not isinstance(cf, list) or not all(isinstance(x, dict) for x in cf):
        raise err(400, -1601, "Field 'customFields' has invalid value.")
    names = {str(x.get("name")): x.get("value") for x in cf}
    for d in defs:
        if d.get("mandatory") and names.get(d["name"]) in (None, ""):
            raise err(400, -62, "Missing mandatory custom field!")
    return [{"name": str(x.get("name")), "value": x.get("value")} for x in cf]


def _token(sim, comments, cfields):
    for n in sim.cfg["sectigo"]["token_fields"]:
        for f in cfields:
            if f["name"] == n and f.get("value") not in (None, ""):
                return str(f["value"])
    return comments


def _sans(csr, extra, cn, ssl):
    out = []
    for s in (extra or []) + camod.csr_sans(csr):
        s = s.strip()
        if s and s.isascii() and s not in out:
            out.append(s)
    if ssl and not out and cn and re.fullmatch(r"[A-Za-z0-9.*-]+", cn):
        out.append(cn)
    return out


# --- types / custom fields / organisation (§1.4.1, §1.4.2, §1.7, §1.9) ----------
def _type_view(p, device):
    v = {"id": int(p["id"]), "name": p["name"], "description": p.get("description", ""),
         "terms": [int(t) for t in p["terms"]], "keyTypes": p["keyTypes"],
         "useSecondaryOrgName": bool(p.get("useSecondaryOrgName"))}
    if device:
        v["term"] = v["terms"][0]
        v["ku"] = ["digitalSignature", "keyEncipherment"]
        v["eku"] = ["clientAuth"]
    return v


def types(sim, req, api):
    return json_response([_type_view(p, api == DEV) for p in profile_list(sim.cfg, api)])


def custom_fields(sim, req, api):
    key = "custom_fields" if api == SSL else "device_custom_fields"
    return json_response([{"id": int(f["id"]), "name": f["name"], "mandatory": bool(f.get("mandatory"))}
                          for f in sim.cfg["sectigo"][key]])


def organizations(sim, req):
    c = sim.cfg["sectigo"]
    return json_response([{"id": int(c["orgId"]), "name": c["orgName"], "departments": []}])


# --- enroll (§1.4.3, §1.7) ---------------------------------------------------------
def enroll(sim, req, api, renew_of=None, body=None):
    b = _body(req) if body is None else body
    c = sim.cfg["sectigo"]
    org = _int(b, "orgId", required=True)
    if org != int(c["orgId"]):
        raise err(400, -639, "Invalid orgId %s." % org)
    ct = _int(b, "certType", required=True)
    profile = find_profile(sim.cfg, api, ct)
    if profile is None:
        if api == DEV:
            raise err(400, -5109, "Device Certificate Profile not found.")
        raise err(400, -39, "Invalid certificate type %s." % ct)
    term = _int(b, "term")
    if term is None:
        if api == SSL:
            raise err(400, -7, "term is required but missing.")
        term = int(profile["terms"][0])
    if term not in [int(t) for t in profile["terms"]]:
        raise err(400, -36, "The validity period (term) is invalid for this certificate profile.")
    comments = _str(b, "comments")
    if comments and len(comments) > 1024:
        raise err(400, -1601, "Field 'comments' has invalid value.")
    ext_req = _str(b, "externalRequester")
    if ext_req and len(ext_req) > 512:
        raise err(400, -1601, "Field 'externalRequester' has invalid value.")
    cfields = _custom_fields(b, c["custom_fields"] if api == SSL else c["device_custom_fields"])
    csr = _csr(sim, b, profile)
    subject = csr.subject
    extra_sans = []
    if api == SSL:
        s = b.get("subjAltNames")
        if isinstance(s, list):  # tolerate arrays although the API takes a comma string
            extra_sans = [str(x) for x in s]
        elif isinstance(s, str) and s.strip():
            extra_sans = [x.strip() for x in s.split(",") if x.strip()]
    else:
        of = b.get("optionalFields") or []
        if isinstance(of, list):
            for f in of:
                if isinstance(f, dict) and f.get("name") == "commonName" and f.get("value"):
                    try:
                        subject = x509.Name([a for a in subject if a.oid != x509.oid.NameOID.COMMON_NAME]
                                            + [x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, str(f["value"]))])
                    except ValueError:
                        raise err(400, -1601, "Field 'optionalFields.commonName' has invalid value.")
                if isinstance(f, dict) and f.get("name") == "dnsName" and f.get("value"):
                    extra_sans.append(str(f["value"]))
    if profile.get("mode") == "reject":
        raise err(400, int(profile.get("reject_code", -843)), profile.get("reject_description", "Rejected."))
    if not sim.state.quota_take(api, profile):
        q = c["quota_error"]
        raise err(int(q.get("status", 400)), q["code"], q["description"])
    cn = orders._cn(subject)
    oid = sim.state.new_scm_id()
    o = orders.new_order(
        sim, api, oid, profile, csr, subject, _sans(csr, extra_sans, cn, api == SSL), term,
        req.auth, org_id=org, comments=comments, custom_fields=cfields,
        external_requester=ext_req, request_token=_token(sim, comments, cfields),
        renew_id=uuid.uuid4().hex[:20], renewed_from=renew_of)
    req.order_id = oid
    return o


def enroll_ssl(sim, req):
    o = enroll(sim, req, SSL)
    return json_response({"sslId": int(o["id"]), "renewId": o["renew_id"]})


def _dev_enroll_answer(o):
    st = {AWAITING: "REQUESTED", REJECTED: "REJECTED"}.get(o["state"], "APPROVED")
    return json_response({"deviceCertId": int(o["id"]), "status": st,
                          "backendCertId": str(6000000 + int(o["id"])), "orderNumber": int(o["id"])})


def enroll_device(sim, req):
    return _dev_enroll_answer(enroll(sim, req, DEV))


# --- details (§1.4.5, §1.7) ---------------------------------------------------------
def _d(iso, fmt):
    dt = parse_iso(iso)
    return dt.strftime(fmt) if dt else None


def details_view(sim, o, req):
    fmt = scm_date_format(req.q("dateFormat"))
    profile = find_profile(sim.cfg, o["api"], o["profile"]) or {"id": o["profile"], "name": o.get("profile_name"),
                                                                "terms": [o["days"]], "keyTypes": {}}
    oid = int(o["id"])
    alg, _, param = o["key_type"].partition(" - ")
    v = {"id": oid, "commonName": o["common_name"], "orgId": o["org_id"], "status": status_str(o),
         "orderNumber": oid, "backendCertId": str(6000000 + oid),
         "certType": _type_view(profile, o["api"] == DEV), "term": o["days"],
         "requester": sim.cfg["sectigo"]["login"], "requesterId": 1,
         "comments": o.get("comments") or "", "keyType": o["key_type"],
         "keyAlgorithm": alg, "keySize": int(param) if param.isdigit() else int(re.sub(r"\D", "", param) or 0),
         "customFields": o.get("custom_fields") or [], "renewed": bool(o.get("renewed_to")),
         "requested": _d(o["created"], fmt)}
    if o["api"] == SSL:
        v.update({"sslId": oid, "vendor": "p11portal Simulator CA", "requestedVia": "Web API",
                  "validationType": "Organization Validation (OV)",
                  "subjectAlternativeNames": o.get("sans") or [],
                  "autoInstallDetails": {"state": "Not configured"},
                  "autoRenewDetails": {"state": "Not scheduled"}, "suspendNotifications": False})
        if o.get("external_requester"):
            v["externalRequester"] = o["external_requester"]
    for k, f in (("approved", "approved"), ("issued", "issued"), ("declined", "declined"),
                 ("revoked", "revoked"), ("renewedDate", "renewed_date"), ("replaced", "replaced_date")):
        if o.get(f):
            v[k] = _d(o[f], fmt)
    if o.get("approved"):
        v["owner"] = sim.cfg["sectigo"]["login"]
        v["ownerId"] = 1
    if o["state"] == REVOKED:
        v["reasonCode"] = o.get("revoke_reason_code", 0)
    if o.get("cert_pem"):
        cert = orders.cert_of(o)
        v["expires"] = cert.not_valid_after.strftime(fmt)
        v["serialNumber"] = o["serial"]
        v["signatureAlg"] = "SHA256WITHECDSA"
        v["certificateDetails"] = {
            "issuer": cert.issuer.rfc4514_string(), "subject": cert.subject.rfc4514_string(),
            "subjectAltNames": ", ".join("dNSName=%s" % s for s in o.get("sans") or []),
            "md5Hash": cert.fingerprint(hashes.MD5()).hex().upper(),
            "sha1Hash": cert.fingerprint(hashes.SHA1()).hex().upper()}
    if o.get("reason") and o["state"] in (DECLINED, REJECTED):
        v["declineReason" if o["state"] == DECLINED else "rejectReason"] = o["reason"]
    return v


def _order(sim, api, oid):
    o = sim.state.get(oid, api)
    if o is None:
        raise _nf(sim, api, oid)
    return o


def details(sim, req, api, oid):
    o = _order(sim, api, oid)
    req.order_id = o["id"]
    orders.poll(sim, o)
    return json_response(details_view(sim, o, req))


# --- update (§1.4.11) -------------------------------------------------------------------
def update(sim, req):
    """PUT /api/ssl/v1: comments, externalRequester, customFields always; profile,
    term, CN, CSR, SANs only in Requested/Declined/Rejected. Answers the details."""
    b = _body(req)
    oid = _int(b, "sslId", required=True)
    o = _order(sim, SSL, oid)
    req.order_id = o["id"]
    restricted = [k for k in ("term", "certTypeId", "commonName", "csr", "subjectAlternativeNames") if k in b]
    if restricted and o["state"] not in (AWAITING, DECLINED, REJECTED):
        raise err(400, -1601, "Field '%s' has invalid value." % restricted[0])
    if "comments" in b:
        o["comments"] = _str(b, "comments")
    if "externalRequester" in b:
        o["external_requester"] = _str(b, "externalRequester")
    if "customFields" in b:
        o["custom_fields"] = _custom_fields(b, [])
    if "term" in b:
        o["days"] = _int(b, "term")
    if isinstance(b.get("subjectAlternativeNames"), list):
        o["sans"] = [str(x) for x in b["subjectAlternativeNames"]]
    o["request_token"] = _token(sim, o.get("comments"), o.get("custom_fields") or [])
    sim.state.touch(o)
    return json_response(details_view(sim, o, req))


# --- collect (§1.4.4, §1.6, §3b.2, §3b.3) --------------------------------------------
_PKCS7 = ("base64", "bin")
_FORMATS = ("x509", "x509CO", "x509IO", "x509IOR", "x509R", "base64", "bin", "pem", "pemco", "pemia")


def collect(sim, req, api, oid, fmt=None):
    c = sim.cfg["sectigo"]
    fmt = fmt or req.q("format") or "base64"
    o = _order(sim, api, oid)
    req.order_id = o["id"]
    match = {f.lower(): f for f in _FORMATS}
    if fmt.lower() not in match:
        raise err(400, -1450, "Unsupported certificate format specified: %s" % fmt)
    fmt = match[fmt.lower()]
    if fmt in _PKCS7 and c.get("refuse_pkcs7"):
        raise err(400, -1450, "Unsupported certificate format specified: %s" % fmt)
    orders.poll(sim, o)
    if o["state"] in (PENDING, AWAITING):
        p = c["ssl_pending" if api == SSL else "device_pending"]
        raise err(400, p["code"], p["description"])
    if o["state"] == REVOKED:
        if api == SSL:
            raise err(400, -110, "Certificate has been revoked and cannot be downloaded.")
        raise err(400, -192, "The Certificate has been revoked!")
    if o["state"] != ISSUED or o.get("replaced_state"):
        raise err(400, -169, "Certificate is not available, please contact administrator.")
    leaf = sim.out_cert(o, req)
    I, R = sim.ca.int, sim.ca.root
    chain_lf = [leaf, I, R]
    x509_order = chain_lf if c.get("pem_chain_order") == "leaf_first" else chain_lf[::-1]
    certs = {"x509": x509_order, "pem": x509_order, "x509R": x509_order[::-1],
             "x509CO": [leaf], "pemco": [leaf], "x509IO": [R, I], "x509IOR": [I, R],
             "pemia": [leaf, I]}.get(fmt)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", o["common_name"] or o["id"]) or o["id"]
    if fmt == "base64":
        body, fname = sim.ca.pkcs7(chain_lf), name + ".p7b"
    elif fmt == "bin":
        body, fname = sim.ca.pkcs7(chain_lf, der=True), name + ".p7b"
    else:
        body, fname = "".join(camod.pem(x) for x in certs).encode(), name + ".crt"
    return Response(200, body, "application/octet-stream",
                    {"Content-Disposition": 'attachment; filename="%s"' % fname})


# --- list / count (§1.4.6, §1.3 pagination, §3b.7) ----------------------------------------
def _filters(sim, req, api):
    res = sim.state.by_api(api)
    q = req.q
    if q("status"):
        st = q("status").lower().replace("_", " ")
        res = [o for o in res if status_str(o).lower() == st]
    if q("commonName"):
        res = [o for o in res if (o["common_name"] or "").lower() == q("commonName").lower()]
    if q("serialNumber"):
        n = camod.parse_serial(q("serialNumber"))
        res = [o for o in res if o.get("serial") and camod.parse_serial(o["serial"]) == n]
    if q("orgId"):
        res = [o for o in res if str(o.get("org_id")) == q("orgId")]
    tkey = "sslTypeId" if api == SSL else "certTypeId"
    if q(tkey):
        res = [o for o in res if o["profile"] == q(tkey)]
    if q("externalRequester"):
        res = [o for o in res if (o.get("external_requester") or "") == q("externalRequester")]
    if q("keyAlgorithm"):
        res = [o for o in res if o["key_type"].split(" ")[0].lower() == q("keyAlgorithm").lower()]
    if q("backendCertId"):
        res = [o for o in res if str(6000000 + int(o["id"])) == q("backendCertId")]
    if q("sha256Hash"):
        h = q("sha256Hash").replace(":", "").lower()
        res = [o for o in res if o.get("cert_pem") and
               orders.cert_of(o).fingerprint(hashes.SHA256()).hex() == h]
    return res


def list_certs(sim, req, api):
    res = _filters(sim, req, api)
    hdr = {"X-Total-Count": str(len(res))}
    if req.method == "HEAD":
        return Response(200, b"", "application/json", hdr)
    try:
        size = as_int(req.q("size"))
        pos = as_int(req.q("position")) or 0
    except ValueError:
        raise err(400, -1601, "Field 'size' has invalid value.")
    if size is None:
        size = int(sim.cfg["sectigo"]["default_page_size"])
    if size < 0 or size > 200:
        raise err(400, -1601, "Field 'size' has invalid value.")
    if pos < 0:
        raise err(400, -1601, "Field 'position' has invalid value.")
    page = res[pos:pos + size]
    out = []
    for o in page:
        if api == SSL:
            it = {"sslId": int(o["id"]), "commonName": o["common_name"],
                  "subjectAlternativeNames": o.get("sans") or []}
        else:
            it = {"id": int(o["id"]), "commonName": o["common_name"],
                  "status": status_str(o).upper(), "orderNumber": int(o["id"]),
                  "backendCertId": str(6000000 + int(o["id"]))}
        if o.get("serial"):
            it["serialNumber"] = o["serial"]
        out.append(it)
    return json_response(out, headers=hdr)


# --- approve / decline (§1.4.7, §1.7) -------------------------------------------------------
def _message(req):
    b = _body(req, allow_empty=True)
    m = _str(b, "message")
    if m is None:
        raise err(400, -7, "message is required but missing.")
    if len(m) > 512:
        raise err(400, -1601, "Field 'message' has invalid value.")
    return m


def approve(sim, req, api, oid):
    o = _order(sim, api, oid)
    req.order_id = o["id"]
    m = _message(req)
    if o["state"] != AWAITING:
        raise err(400, -1112, "Certificate can't be approved cause it has state = %s" % status_str(o))
    orders.approve(sim, o, find_profile(sim.cfg, api, o["profile"]), m)
    return Response(204)


def decline(sim, req, api, oid):
    o = _order(sim, api, oid)
    req.order_id = o["id"]
    m = _message(req)
    if o["state"] != AWAITING:
        raise err(400, -1112, "Certificate can't be declined cause it has state = %s" % status_str(o))
    orders.decline(sim, o, m)
    return Response(204)


# --- revoke (§1.4.8, §1.7, §3b.9) ---------------------------------------------------------------
def _revoke_body(req, api):
    b = _body(req, allow_empty=True)
    rc = _int(b, "reasonCode")
    rc = 0 if rc is None else rc  # [U] default 0 (§1.4.8, §3b.9)
    if rc not in (0, 1, 3, 4, 5):
        raise err(400, -1601, "Field 'reasonCode' has invalid value.")
    reason = _str(b, "reason")
    if api == SSL and not reason:
        raise err(400, -7, "reason is required but missing.")
    if reason and len(reason) > 512:
        raise err(400, -1601, "Field 'reason' has invalid value.")
    return rc, reason


def _do_revoke(sim, req, api, o):
    req.order_id = o["id"]
    rc, reason = _revoke_body(req, api)
    if o["state"] == REVOKED:
        raise err(400, -159, "Your certificate already revoked")
    if o["state"] != ISSUED:
        raise err(400, -102, "Only issued certificates could be revoked.")
    orders.revoke(sim, o, rc, reason)
    return Response(204)


def revoke_id(sim, req, api, oid):
    return _do_revoke(sim, req, api, _order(sim, api, oid))


def _by_serial(sim, api, serial):
    n = camod.parse_serial(serial)
    for o in sim.state.by_api(api):
        if o.get("serial") and camod.parse_serial(o["serial"]) == n:
            return o
    raise err(sim.cfg["sectigo"]["not_found_status"], -5101, "Certificate not found.")


def revoke_serial(sim, req, api, serial):
    return _do_revoke(sim, req, api, _by_serial(sim, api, serial))


def revoke_manual(sim, req, api):
    b = _body(req)
    cid = _int(b, "certId")
    if cid is not None:
        o = _order(sim, api, cid)
    elif _str(b, "serialNumber"):
        o = _by_serial(sim, api, b["serialNumber"])
    else:
        raise err(400, -7, "certId is required but missing.")
    req.order_id = o["id"]
    if o["state"] == REVOKED:
        raise err(400, -159, "Your certificate already revoked")
    rc = _int(b, "reasonCode") or 0
    orders.revoke(sim, o, rc, "manual")
    return Response(204)


# --- renew / replace (§1.4.9, §1.4.10, §1.7, §3b.1) ------------------------------------------------
def _renew(sim, req, api, o):
    req.order_id = o["id"]
    b = _body(req, allow_empty=True)
    profile = find_profile(sim.cfg, api, o["profile"])
    if profile is None or not profile.get("renew_allowed", True):
        raise err(400, -180, "Certificate profile does not allow renew.")
    if o["state"] not in (ISSUED, REVOKED) or o.get("renewed_to"):
        raise err(400, -105, "Error was occurred while renewing cert. Status = %s" % status_str(o))
    nb = {"orgId": o["org_id"], "certType": o["profile"], "term": o["days"],
          "csr": b.get("csr") or o["csr_pem"], "comments": o.get("comments"),
          "customFields": o.get("custom_fields"), "externalRequester": o.get("external_requester"),
          "subjAltNames": ",".join(o.get("sans") or [])}
    n = enroll(sim, req, api, renew_of=o["id"], body=nb)
    o["renewed_to"] = n["id"]
    o["renewed_date"] = n["created"]
    sim.state.touch(o)
    req.order_id = n["id"]
    return n


def renew_by_id(sim, req, oid):
    n = _renew(sim, req, SSL, _order(sim, SSL, oid))
    return json_response({"sslId": int(n["id"])})


def renew_by_renew_id(sim, req, rid):
    for o in sim.state.by_api(SSL):
        if o.get("renew_id") == rid:
            _renew(sim, req, SSL, o)
            return Response(204)
    raise err(sim.cfg["sectigo"]["not_found_status"], -5101, "Certificate not found.")


def renew_device(sim, req, oid=None, serial=None):
    o = _order(sim, DEV, oid) if oid is not None else _by_serial(sim, DEV, serial)
    return _dev_enroll_answer(_renew(sim, req, DEV, o))


def replace(sim, req, api, oid):
    """Same id, new CSR; the old certificate goes to `replaced` history (§1.4.10)."""
    o = _order(sim, api, oid)
    req.order_id = o["id"]
    b = _body(req)
    reason = _str(b, "reason")
    if not reason:
        raise err(400, -7, "reason is required but missing.")
    if api == DEV and not isinstance(b.get("revoke"), bool):
        raise err(400, -7, "revoke is required but missing.")
    profile = find_profile(sim.cfg, api, o["profile"]) or {"keyTypes": {}}
    csr = _csr(sim, b, profile)
    if o["state"] not in (ISSUED,):
        raise err(400, -130, "SSL state is not 'ISSUED'.")
    if profile.get("mode") == "reject":
        raise err(400, int(profile.get("reject_code", -843)), profile.get("reject_description", "Rejected."))
    o["replaced"].append({"spki_sha256": o["spki_sha256"], "serial": o["serial"],
                          "at": orders.iso_z(orders.utcnow()),
                          "revoked": bool(b.get("revoke")) if api == DEV else False})
    o["replaced_date"] = orders.iso_z(orders.utcnow())
    o["spki_sha256"] = camod.spki_sha256(csr.public_key())
    alg, param = camod.key_type(csr.public_key())
    o["key_type"] = "%s - %s" % (alg, param)
    from cryptography.hazmat.primitives import serialization
    o["csr_pem"] = csr.public_bytes(serialization.Encoding.PEM).decode()
    sans = b.get("subjectAlternativeNames")
    if isinstance(sans, list) and sans:
        o["sans"] = [str(s) for s in sans]
    sim.state.save_pem(o["id"], o["csr_pem"])
    orders.issue(sim, o)
    return Response(204)


# --- routing ------------------------------------------------------------------------------
_R = []


def route(method, pattern):
    def deco(fn):
        _R.append((method, re.compile("^" + pattern + "$"), fn))
        return fn
    return deco


F = r"(?P<fam>ssl|device)"
ID = r"(?P<id>\d+)"

route("GET", r"/api/%s/v1/types" % F)(lambda s, r, fam: types(s, r, _api(fam)))
route("GET", r"/api/%s/v1/customFields" % F)(lambda s, r, fam: custom_fields(s, r, _api(fam)))
route("GET", r"/api/organization/v1")(lambda s, r: organizations(s, r))
route("POST", r"/api/ssl/v1/enroll")(lambda s, r: enroll_ssl(s, r))
route("PUT", r"/api/ssl/v1/?")(lambda s, r: update(s, r))
route("POST", r"/api/device/v1/enroll")(lambda s, r: enroll_device(s, r))
route("GET", r"/api/%s/v1/collect/%s" % (F, ID))(lambda s, r, fam, id: collect(s, r, _api(fam), id))
route("GET", r"/api/%s/v1/collect/%s/(?P<fmt>[A-Za-z0-9]+)" % (F, ID))(
    lambda s, r, fam, id, fmt: collect(s, r, _api(fam), id, fmt))
route("GET", r"/api/%s/v1/%s" % (F, ID))(lambda s, r, fam, id: details(s, r, _api(fam), id))
route("GET", r"/api/%s/v1/?" % F)(lambda s, r, fam: list_certs(s, r, _api(fam)))
route("HEAD", r"/api/%s/v1/?" % F)(lambda s, r, fam: list_certs(s, r, _api(fam)))
route("POST", r"/api/%s/v1/approve/%s" % (F, ID))(lambda s, r, fam, id: approve(s, r, _api(fam), id))
route("POST", r"/api/%s/v1/decline/%s" % (F, ID))(lambda s, r, fam, id: decline(s, r, _api(fam), id))
route("POST", r"/api/ssl/v1/revoke/%s" % ID)(lambda s, r, id: revoke_id(s, r, SSL, id))
route("POST", r"/api/device/v1/revoke/order/%s" % ID)(lambda s, r, id: revoke_id(s, r, DEV, id))
route("POST", r"/api/%s/v1/revoke/serial/(?P<serial>[0-9A-Fa-f:]+)" % F)(
    lambda s, r, fam, serial: revoke_serial(s, r, _api(fam), serial))
route("POST", r"/api/%s/v1/revoke/manual" % F)(lambda s, r, fam: revoke_manual(s, r, _api(fam)))
route("POST", r"/api/ssl/v1/renewById/%s" % ID)(lambda s, r, id: renew_by_id(s, r, id))
route("POST", r"/api/ssl/v1/renew/(?P<rid>[A-Za-z0-9]+)")(lambda s, r, rid: renew_by_renew_id(s, r, rid))
route("POST", r"/api/device/v1/renew/order/%s" % ID)(lambda s, r, id: renew_device(s, r, oid=id))
route("POST", r"/api/device/v1/renew/serial/(?P<serial>[0-9A-Fa-f:]+)")(
    lambda s, r, serial: renew_device(s, r, serial=serial))
route("POST", r"/api/ssl/v1/replace/%s" % ID)(lambda s, r, id: replace(s, r, SSL, id))
route("POST", r"/api/device/v1/replace/order/%s" % ID)(lambda s, r, id: replace(s, r, DEV, id))


def _api(fam):
    return SSL if fam == "ssl" else DEV


def handle(sim, req):
    """Entry point: auth gate, then the route table. Raises ApiError."""
    path = req.path
    private = path.startswith("/private/")
    if private:
        path = path[len("/private"):]
    authenticate(sim, req, private)
    allowed = []
    for method, rx, fn in _R:
        m = rx.match(path)
        if m:
            if method == req.method:
                with sim.state.lock:
                    return fn(sim, req, **m.groupdict())
            allowed.append(method)
    if allowed:
        raise err(405, -1, "Request method '%s' not supported" % req.method)
    raise err(404, -1, "No handler found for %s %s" % (req.method, path))


def error_body(status, kind):
    """Envelope for injected faults (§1.12: 429 body shape [U])."""
    if kind == "rate_limit":
        return {"code": -1, "description": "Too many requests, please retry later."}
    return {"code": -195, "description": "CA is not available now, please try again later."}

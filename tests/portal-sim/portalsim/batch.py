"""DigiCert ONE IoT batch enrollment (PORTALS.md §2.9, §3.2.8) and the licence
balance [I].

Documented: a job made of CSRs (ZIP of PEM CSRs, or CSV with a `csr` column
plus certificate field columns), statuses PENDING_APPROVAL -> APPROVED ->
IN_PROGRESS -> COMPLETE (auto-approving profiles skip approval),
`PUT /iot/api/v1/batch-enroll/{job_id}/approve|reject` -> 204, and
`GET /iot/api/v1/batch-enroll/{job_id}/download-certificates` once COMPLETE
(`certificate_format` json: application/json).

Assumed here ([I]/[U] in PORTALS.md; docs/portal-sim.md "Portal batch jobs"):
- create: `POST /iot/api/v1/batch-enroll` with a JSON body
  {"enrollment_profile_id", "name", "certificate_format",
   "include_full_chain_with_each_certificate", "requests": [{"csr",
   "certificate_profile_attributes", "device_attributes"}, ...]}
  (each request shaped like §2.4), or a text/csv body (columns `csr`,
  `subject.*`, `san.*`, `DEVICE_IDENTIFIER`...) or an application/zip of PEM
  CSRs, with enrollment_profile_id and name as query parameters. Answer 201
  with the job object.
- job object `GET /iot/api/v1/batch-enroll/{job_id}`; list
  `GET /iot/api/v1/batch-enroll?name=&status=&offset=&limit=`.
- download pages with offset/limit; each item carries its `index` in the
  submission.
- licences: `GET /iot/api/v1/license-usage?enrollment_profile_id=ID` ->
  {enrollment_profile_id, licenses_total, licenses_used, licenses_remaining}
  (null total/remaining: no limit), modelled on the profile quota.

Each CSR of a job is its own order in the ledger (`job_id`, `job_index`), so
"one order per key" holds for jobs too. A job consumes one licence per CSR
when it is created (all or none: the quota error of a plain request if not
enough are left); a rejected job gives them back.
"""
import csv
import io
import re
import uuid
import zipfile

from . import ca as camod
from . import digicert as dc
from . import orders
from .config import find_profile
from .http import Response, json_response
from .ledger import AWAITING, ISSUED, PENDING
from .util import as_int, iso_z, utcnow

API = "digicert"
PENDING_APPROVAL, APPROVED, IN_PROGRESS, COMPLETE, REJECTED = (
    "PENDING_APPROVAL", "APPROVED", "IN_PROGRESS", "COMPLETE", "REJECTED")
MAX_ITEMS = 500000


def _items_json(sim, req):
    b = dc._body(sim, req)
    reqs = b.get("requests")
    if not isinstance(reqs, list) or not reqs:
        raise dc.bad(sim, "requests must be a non-empty array of {csr, certificate_profile_attributes, device_attributes}.")
    items = []
    for i, r in enumerate(reqs):
        if not isinstance(r, dict):
            raise dc.bad(sim, "requests[%d] must be an object." % i)
        items.append((r.get("csr"), dc._attrs(sim, r, "certificate_profile_attributes"),
                      dc._attrs(sim, r, "device_attributes")))
    return b, items


def _items_csv(sim, req):
    try:
        text = req.body.decode("utf-8")
    except UnicodeDecodeError:
        raise dc.bad(sim, "The CSV file is not UTF-8.")
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or "csr" not in rows[0]:
        raise dc.bad(sim, "The CSV file needs a header line with a csr column.")
    items = []
    for r in rows:
        attrs = [{"id": k, "value": v} for k, v in r.items() if k and k != "csr" and k[:8] in ("subject.", "san.dns_") and v]
        dattrs = [{"id": k, "value": v} for k, v in r.items() if k and k != "csr" and k[:8] not in ("subject.", "san.dns_") and v]
        items.append((r.get("csr"), attrs, dattrs))
    return items


def _items_zip(sim, req):
    try:
        z = zipfile.ZipFile(io.BytesIO(req.body))
        names = sorted(n for n in z.namelist() if not n.endswith("/"))
        return [(z.read(n).decode("ascii"), [], []) for n in names]
    except (zipfile.BadZipFile, UnicodeDecodeError, KeyError):
        raise dc.bad(sim, "The ZIP file cannot be read (PEM CSRs expected).")


def _job_view(sim, j):
    v = {k: j[k] for k in ("id", "name", "status", "certificate_format", "created_at", "updated_at",
                           "include_full_chain_with_each_certificate")}
    v["enrollment_profile"] = {"id": j["profile"], "name": j.get("profile_name")}
    v["total_count"] = len(j["orders"])
    v["issued_count"] = sum(1 for oid in j["orders"] if sim.state.orders[oid]["state"] == ISSUED)
    if j.get("rejection_reason"):
        v["rejection_reason"] = j["rejection_reason"]
    return v


def _touch(sim, j):
    j["updated_at"] = iso_z(utcnow())
    sim.state.save()


def create(sim, req):
    ctype = (req.headers.get("Content-Type") or "").lower()
    if "csv" in ctype:
        b, items = {k: req.q(k) for k in ("enrollment_profile_id", "name", "certificate_format")}, _items_csv(sim, req)
    elif "zip" in ctype:
        b, items = {k: req.q(k) for k in ("enrollment_profile_id", "name", "certificate_format")}, _items_zip(sim, req)
    else:
        b, items = _items_json(sim, req)
    pid = b.get("enrollment_profile_id")
    if not isinstance(pid, str) or not pid:
        raise dc.bad(sim, "enrollment_profile_id is required.")
    profile = find_profile(sim.cfg, API, pid)
    if profile is None:
        raise dc.bad(sim, "Invalid enrollment profile id %s." % pid)
    fmt = b.get("certificate_format") or "json"
    if fmt not in ("pem", "der", "json", "smpb"):
        raise dc.bad(sim, "certificate_format must be pem, der, json or smpb.")
    if len(items) > MAX_ITEMS:
        raise dc.bad(sim, "Too many requests in one job.")
    if profile.get("mode") == "reject":
        raise dc.bad(sim, profile.get("reject_message"))
    parsed = []
    for i, (csr_text, attrs, dattrs) in enumerate(items):
        if not isinstance(csr_text, str) or not csr_text:
            raise dc.bad(sim, "requests[%d]: csr is required." % i)
        csr = dc._csr(sim, csr_text, profile)
        subject, sans = dc._subject(sim, csr, attrs)
        parsed.append((csr, subject, sans, attrs, dattrs))
    if not sim.state.quota_take(API, profile, len(parsed)):
        q = sim.cfg["digicert"]["quota_error"]
        raise dc.err(sim, int(q.get("status", 400)), q["code"], q["message"])
    now = iso_z(utcnow())
    jid = str(uuid.uuid4())
    hold = dict(profile, mode="approval")   # orders wait for the job
    new = []
    for i, (csr, subject, sans, attrs, dattrs) in enumerate(parsed):
        ident = next((a["value"] for a in dattrs if a["id"] == "DEVICE_IDENTIFIER" and a["value"]), None)
        dev = dc._device_upsert(sim, str(ident)) if ident else None
        new.append(orders.new_order(sim, API, uuid.uuid4(), hold, csr, subject, sans,
                                    profile.get("validity_days", 365), req.auth, add=False,
                                    attributes=attrs, device_attributes=dattrs,
                                    request_token=dc._token(sim, attrs, dattrs),
                                    device_identifier=str(ident) if ident else None,
                                    device_id=dev["id"] if dev else None, comments=None,
                                    job_id=jid, job_index=i))
    j = {"id": jid, "name": b.get("name") or None, "status": PENDING_APPROVAL, "profile": str(profile["id"]),
         "profile_name": profile.get("name"), "certificate_format": fmt,
         "include_full_chain_with_each_certificate": bool(b.get("include_full_chain_with_each_certificate", True)),
         "created_at": now, "updated_at": now, "orders": [o["id"] for o in new], "polls": 0,
         "auth": req.auth}
    sim.state.add_many(new)
    sim.state.jobs[jid] = j
    req.order_id = jid
    mode = profile.get("mode", "issue")
    if mode == "ca_reject":
        _reject(sim, j, profile.get("reject_message") or "rejected by the CA", give_back=False)
    elif mode != "approval":
        _approve(sim, j)   # auto-approving profile: no approval step
    else:
        _touch(sim, j)
    return json_response(_job_view(sim, j), status=201)


def _approve(sim, j):
    j["status"] = APPROVED
    j["approved_at"] = iso_z(utcnow())
    for oid in j["orders"]:
        o = sim.state.orders[oid]
        if o["state"] == AWAITING:
            o["state"] = PENDING
            o["approved"] = j["approved_at"]
    _advance(sim, j, polled=False)


def _advance(sim, j, polled):
    """APPROVED -> IN_PROGRESS -> COMPLETE: with digicert.batch_polls N, the job
    stays IN_PROGRESS for N status polls; 0 completes it at approval."""
    if j["status"] not in (APPROVED, IN_PROGRESS):
        return
    if polled:
        j["polls"] = j.get("polls", 0) + 1
    if j["polls"] < int(sim.cfg["digicert"].get("batch_polls", 0)):
        j["status"] = IN_PROGRESS
        _touch(sim, j)
        return
    for oid in j["orders"]:
        o = sim.state.orders[oid]
        if o["state"] == PENDING:
            orders.issue(sim, o, save=False)
            sim.state.save_pem(o["id"], None, o["cert_pem"])
            sim.state.dirty(o["id"])
    j["status"] = COMPLETE
    j["completed_at"] = iso_z(utcnow())
    _touch(sim, j)


def _reject(sim, j, reason, give_back=True):
    j["status"] = REJECTED
    j["rejection_reason"] = reason
    n = 0
    for oid in j["orders"]:
        o = sim.state.orders[oid]
        if o["state"] in (AWAITING, PENDING):
            o["state"] = "rejected"
            o["reason"] = reason
            o["declined"] = iso_z(utcnow())
            sim.state.dirty(o["id"])
            n += 1
    if give_back:
        sim.state.quota_give(API, j["profile"], n)
    _touch(sim, j)


def _job(sim, jid):
    j = sim.state.jobs.get(jid)
    if j is None:
        raise dc.not_found(sim, "Batch job", jid)
    return j


def approve_or_reject(sim, jid, ok, reason=None):
    """The portal call and the admin call (portal-simctl approve-job/reject-job)."""
    j = _job(sim, jid)
    if j["status"] != PENDING_APPROVAL:
        raise dc.bad(sim, "Batch job %s is %s, not pending approval." % (jid, j["status"]))
    if ok:
        _approve(sim, j)
    else:
        _reject(sim, j, reason or "rejected")
    return j


def put_action(sim, req, id, ok):
    req.order_id = id
    b = dc._body(sim, req, allow_empty=True)
    approve_or_reject(sim, id, ok, b.get("reason") or b.get("comments") or b.get("message"))
    return Response(204)


def get_job(sim, req, id):
    j = _job(sim, id)
    req.order_id = id
    _advance(sim, j, polled=True)
    return json_response(_job_view(sim, j))


def _page(sim, req):
    try:
        off, lim = as_int(req.q("offset")) or 0, as_int(req.q("limit"))
    except ValueError:
        raise dc.bad(sim, "offset and limit must be integers.")
    lim = sim.cfg["digicert"]["default_limit"] if lim is None else lim
    if off < 0 or lim < 0 or lim > sim.cfg["digicert"]["max_limit"]:
        raise dc.bad(sim, "offset/limit out of range.")
    return off, lim


def list_jobs(sim, req):
    off, lim = _page(sim, req)
    res = [j for j in sim.state.jobs.values()
           if (not req.q("name") or j.get("name") == req.q("name"))
           and (not req.q("status") or j["status"] == req.q("status").upper())]
    return json_response({"offset": off, "limit": lim, "total": len(res),
                          "records": [_job_view(sim, j) for j in res[off:off + lim]]})


def download(sim, req, id):
    j = _job(sim, id)
    req.order_id = id
    if j["status"] != COMPLETE:
        raise dc.bad(sim, "Batch job %s is %s; certificates can be downloaded when it is COMPLETE." % (id, j["status"]))
    if j["certificate_format"] != "json":
        raise dc.bad(sim, "The simulator serves certificate_format json only.")
    off, lim = _page(sim, req)
    full = j["include_full_chain_with_each_certificate"]
    out = []
    for i, oid in enumerate(j["orders"][off:off + lim], start=off):
        o = sim.state.orders[oid]
        v = {"index": i, "certificate_id": o["id"], "common_name": o["common_name"],
             "status": dc.status_str(sim, o)}
        if o.get("cert_pem") and o["state"] != "rejected":
            cert = sim.out_cert(o, req)
            v["serial_number"] = camod.serial_plain(cert.serial_number)
            v["pem"] = camod.pem(cert) + (camod.pem(sim.ca.int) + camod.pem(sim.ca.root) if full else "")
            v["chain"] = [{"blob": camod.pem(sim.ca.int)}, {"blob": camod.pem(sim.ca.root)}]
        elif o.get("reason"):
            v["rejection_reason"] = o["reason"]
        out.append(v)
    return json_response({"id": j["id"], "offset": off, "limit": lim, "total": len(j["orders"]),
                          "certificates": out})


def licences(sim, req):
    pid = req.q("enrollment_profile_id")
    profile = find_profile(sim.cfg, API, pid) if pid else None
    if profile is None:
        raise dc.bad(sim, "Invalid enrollment profile id %s." % pid)
    used = sim.state.quota_used.get("%s:%s" % (API, profile["id"]), 0)
    q = profile.get("quota")
    return json_response({"enrollment_profile_id": profile["id"], "licenses_used": used,
                          "licenses_total": None if q is None else int(q),
                          "licenses_remaining": None if q is None else max(0, int(q) - used)})


U = r"(?P<id>[A-Za-z0-9_-]+)"
ROUTES = [
    ("POST", r"/iot/api/v1/batch-enroll/?", lambda s, r: create(s, r), False),
    ("GET", r"/iot/api/v1/batch-enroll/?", lambda s, r: list_jobs(s, r), False),
    ("GET", r"/iot/api/v1/batch-enroll/%s" % U, lambda s, r, id: get_job(s, r, id), False),
    ("PUT", r"/iot/api/v1/batch-enroll/%s/approve" % U, lambda s, r, id: put_action(s, r, id, True), False),
    ("PUT", r"/iot/api/v1/batch-enroll/%s/reject" % U, lambda s, r, id: put_action(s, r, id, False), False),
    ("GET", r"/iot/api/v1/batch-enroll/%s/download-certificates" % U, lambda s, r, id: download(s, r, id), False),
    ("GET", r"/iot/api/v1/license-usage/?", lambda s, r: licences(s, r), False),
]
ROUTES = [(m, re.compile("^" + p + "$"), fn, pc) for m, p, fn, pc in ROUTES]

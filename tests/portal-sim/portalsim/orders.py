"""Order lifecycle shared by both portals (PORTALS.md §1.5, §3.1.4, §3.2.3).

Normalised states (ledger `state`): pending -> issued; awaiting_approval ->
(approve) pending/issued | (decline) declined; rejected; revoked. Each portal
module maps them to its own status strings.
"""
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from . import ca as camod
from .ledger import AWAITING, DECLINED, ISSUED, PENDING, REJECTED, REVOKED
from .util import iso_z, utcnow


def new_order(sim, api, oid, profile, csr, subject, sans, days, auth, add=True, **extra):
    pub = csr.public_key()
    alg, param = camod.key_type(pub)
    o = {
        "id": str(oid), "api": api, "profile": str(profile["id"]),
        "profile_name": profile.get("name"), "state": PENDING,
        "spki_sha256": camod.spki_sha256(pub),
        "key_type": "%s - %s" % (alg, param),
        "common_name": _cn(subject), "sans": sans, "days": int(days),
        "subject": name_to_list(subject),
        "serial": None, "not_after": None, "issued": None, "revoked": None,
        "approved": None, "declined": None, "polls": 0, "polls_needed": 0,
        "reason": None, "renewed_from": None, "renewed_to": None,
        "replaced": [], "auth": auth, "request_id": str(uuid.uuid4()),
        "csr_pem": csr.public_bytes(serialization.Encoding.PEM).decode(),
        "cert_pem": None, "created": iso_z(utcnow()),
    }
    o.update(extra)
    mode = profile.get("mode", "issue")
    if mode == "approval":
        o["state"] = AWAITING
    elif mode == "ca_reject":
        o["state"] = REJECTED
        o["reason"] = profile.get("reject_description") or profile.get("reject_message")
    elif mode == "polls" and int(profile.get("polls") or 0) > 0:
        o["state"] = PENDING
        o["polls_needed"] = int(profile["polls"])
    else:
        issue(sim, o, save=False)
    if add:
        sim.state.add(o)
    return o


def _cn(subject):
    a = subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return a[0].value if a else ""


def name_to_list(name):
    """x509.Name -> [[oid, value], ...] (JSON-friendly, kept in the ledger)."""
    return [[a.oid.dotted_string, a.value] for a in name]


def name_from_list(lst):
    return x509.Name([x509.NameAttribute(x509.ObjectIdentifier(o), v) for o, v in lst])


def issue(sim, o, save=True):
    csr = x509.load_pem_x509_csr(o["csr_pem"].encode())
    subject = name_from_list(o["subject"])
    backdate = int((sim.cfg.get("ca") or {}).get("backdate_minutes", 1))
    cert = sim.ca.issue(csr.public_key(), subject, o.get("sans") or [], o["days"],
                        eku_server=(o["api"] == "sectigo-ssl"),
                        backdate_minutes=backdate)
    o["cert_pem"] = camod.pem(cert)
    o["serial"] = camod.serial_colon(cert.serial_number)
    o["serial_int"] = str(cert.serial_number)
    o["not_after"] = iso_z(cert.not_valid_after)
    o["issued"] = iso_z(utcnow())
    o["state"] = ISSUED
    if save:
        sim.state.touch(o)


def poll(sim, o):
    """A status/collect poll: pending orders issue after `polls_needed` polls."""
    if o["state"] != PENDING:
        return
    o["polls"] = o.get("polls", 0) + 1
    if o["polls"] > o.get("polls_needed", 0):
        issue(sim, o)
    else:
        sim.state.touch(o)


def approve(sim, o, profile, message=None):
    o["approved"] = iso_z(utcnow())
    o["approve_message"] = message
    n = int((profile or {}).get("polls_after_approval") or 0)
    if n > 0:
        o["state"] = PENDING
        o["polls"] = 0
        o["polls_needed"] = n
        sim.state.touch(o)
    else:
        issue(sim, o)


def decline(sim, o, message=None):
    o["state"] = DECLINED
    o["declined"] = iso_z(utcnow())
    o["reason"] = message
    sim.state.touch(o)


def reject(sim, o, message=None):
    o["state"] = REJECTED
    o["reason"] = message
    sim.state.touch(o)


def revoke(sim, o, reason_code=0, reason=None):
    o["state"] = REVOKED
    o["revoked"] = iso_z(utcnow())
    o["revoke_reason_code"] = reason_code
    o["reason"] = reason
    sim.state.touch(o)


def cert_of(o):
    return x509.load_pem_x509_certificate(o["cert_pem"].encode()) if o.get("cert_pem") else None

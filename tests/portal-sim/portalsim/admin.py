"""Admin API under /__admin/ (not part of either portal).

Authenticated by `X-Admin-Token: <STATE/admin.token>` (or `Authorization: Bearer
<token>`), except GET /__admin/health. Answers are JSON; errors are
{"error": "..."} with 4xx. See docs/portal-sim.md for the full list.
"""
import copy
import hmac
import json
import re
import threading

from . import batch, orders
from .config import profile_list
from .faults import FaultError
from .http import ApiError, BadJson, json_response
from .ledger import AWAITING, ISSUED, PENDING

_APIS = ("sectigo-ssl", "sectigo-device", "digicert")


class AdminError(Exception):
    def __init__(self, status, msg):
        super().__init__(msg)
        self.status = status
        self.msg = msg


def _body(req, allow_empty=True):
    try:
        b = req.json(allow_empty=allow_empty)
    except BadJson as e:
        raise AdminError(400, "bad JSON: %s" % e)
    return {} if b is None else b


def _masked_cfg(cfg):
    c = copy.deepcopy(cfg)
    for sect, keys in (("sectigo", ("password",)), ("digicert", ("api_key", "passcode"))):
        for k in keys:
            if c[sect].get(k):
                c[sect][k] = "***"
    return c


def handle(sim, req):
    p = req.path[len("/__admin"):].rstrip("/") or "/"
    m = req.method
    if p == "/health" and m == "GET":
        return json_response({"ok": True, "port": sim.port, "pid": sim.pid})
    tok = req.headers.get("X-Admin-Token") or ""
    auth = req.headers.get("Authorization") or ""
    if auth.startswith("Bearer "):
        tok = tok or auth[7:]
    if not hmac.compare_digest(tok.encode(), sim.admin_token.encode()):
        raise AdminError(401, "admin token required (X-Admin-Token)")
    try:
        return _dispatch(sim, req, p, m)
    except FaultError as e:
        raise AdminError(400, str(e))


def _dispatch(sim, req, p, m):
    st = sim.state
    if p == "/ledger" and m == "GET":
        st.flush()  # ledger.json too, for readers of the file after this
        return json_response(st.public_view())
    if p == "/journal" and m == "GET":
        return json_response({"entries": sim.journal.read()})
    if p == "/journal" and m == "DELETE":
        sim.journal.reset()
        return json_response({"ok": True})
    if p == "/faults" and m == "GET":
        return json_response({"faults": sim.faults.views()})
    if p == "/faults" and m in ("POST", "PUT"):
        b = _body(req, allow_empty=False)
        if isinstance(b, dict) and "faults" in b:
            specs, replace = b["faults"], bool(b.get("replace")) or m == "PUT"
        else:
            specs, replace = (b if isinstance(b, list) else [b]), m == "PUT"
        if not isinstance(specs, list):
            raise AdminError(400, "faults must be a list")
        if replace:
            added = sim.faults.set(specs)
        else:
            for s in specs:  # validate all first, then add
                from .faults import Fault
                Fault(0, s)
            added = [sim.faults.add(s) for s in specs]
        return json_response({"faults": added})
    if p == "/faults" and m == "DELETE":
        sim.faults.clear()
        return json_response({"ok": True})
    mm = re.fullmatch(r"/faults/(\d+)", p)
    if mm and m == "DELETE":
        if not sim.faults.remove(int(mm.group(1))):
            raise AdminError(404, "no such fault")
        return json_response({"ok": True})
    if p == "/latency" and m == "POST":
        b = _body(req, allow_empty=False)
        try:
            sim.latency_ms = max(0, int(b.get("ms", 0)))
        except (TypeError, ValueError, AttributeError):
            raise AdminError(400, "ms must be an integer")
        return json_response({"latency_ms": sim.latency_ms})
    if p == "/config" and m == "GET":
        return json_response(_masked_cfg(sim.cfg))
    if p == "/config" and m == "POST":
        b = _body(req, allow_empty=False)
        if not isinstance(b, dict):
            raise AdminError(400, "config patch must be an object")
        sim.update_config(b)
        return json_response(_masked_cfg(sim.cfg))
    if p == "/profiles" and m == "GET":
        return json_response({a: profile_list(sim.cfg, a) for a in _APIS})
    if p == "/profiles" and m == "POST":
        b = _body(req, allow_empty=False)
        if not isinstance(b, dict) or b.get("api") not in _APIS or "id" not in b:
            raise AdminError(400, "need {\"api\": sectigo-ssl|sectigo-device|digicert, \"id\": ..., ...}")
        if b.get("mode", "issue") not in ("issue", "polls", "approval", "reject", "ca_reject"):
            raise AdminError(400, "mode must be issue|polls|approval|reject|ca_reject")
        sim.upsert_profile(b)
        return json_response({a: profile_list(sim.cfg, a) for a in _APIS})
    if p == "/quota" and m == "POST":
        b = _body(req, allow_empty=False)
        k = "%s:%s" % (b.get("api"), b.get("profile"))
        with st.lock:
            if b.get("used") is None:
                st.quota_used.pop(k, None)
            else:
                st.quota_used[k] = int(b["used"])
            st.save()
        return json_response({"quota_used": st.quota_used})
    if p == "/jobs" and m == "GET":
        with st.lock:
            return json_response({"jobs": [batch._job_view(sim, j) for j in st.jobs.values()]})
    mm = re.fullmatch(r"/jobs/([A-Za-z0-9_-]+)/(approve|reject)", p)
    if mm and m == "POST":
        b = _body(req)
        msg = b.get("message") if isinstance(b, dict) else None
        with st.lock:
            if mm.group(1) not in st.jobs:
                raise AdminError(404, "no such job")
            try:
                j = batch.approve_or_reject(sim, mm.group(1), mm.group(2) == "approve",
                                            msg or "rejected by admin")
            except ApiError as e:
                raise AdminError(409, json.dumps(e.body))
            return json_response(batch._job_view(sim, j))
    mm = re.fullmatch(r"/orders/([A-Za-z0-9_-]+)/(approve|decline|reject|issue|revoke)", p)
    if mm and m == "POST":
        return _order_action(sim, req, mm.group(1), mm.group(2))
    mm = re.fullmatch(r"/orders/([A-Za-z0-9_-]+)", p)
    if mm and m == "GET":
        o = st.get(mm.group(1))
        if o is None:
            raise AdminError(404, "no such order")
        return json_response(o)
    if p == "/reset" and m == "POST":
        st.reset()
        sim.journal.reset()
        sim.faults.clear()
        return json_response({"ok": True})
    if p == "/shutdown" and m == "POST":
        threading.Thread(target=sim.httpd.shutdown, daemon=True).start()
        return json_response({"ok": True})
    raise AdminError(404, "unknown admin endpoint %s %s" % (m, p))


def _order_action(sim, req, oid, action):
    """Approve/decline/reject/issue/revoke any order (DigiCert has no documented
    single-request approve call, PORTALS.md §2.4; for Sectigo the real
    /approve and /decline calls exist too)."""
    b = _body(req)
    msg = b.get("message") if isinstance(b, dict) else None
    with sim.state.lock:
        o = sim.state.get(oid)
        if o is None:
            raise AdminError(404, "no such order")
        from .config import find_profile
        prof = find_profile(sim.cfg, o["api"], o["profile"])
        if action in ("approve", "decline") and o["state"] != AWAITING:
            raise AdminError(409, "order %s is %s, not awaiting_approval" % (oid, o["state"]))
        if action == "approve":
            orders.approve(sim, o, prof, msg)
        elif action == "decline":
            orders.decline(sim, o, msg or "declined by admin")
        elif action == "reject":
            if o["state"] not in (AWAITING, PENDING):
                raise AdminError(409, "order %s is %s" % (oid, o["state"]))
            orders.reject(sim, o, msg or "rejected by the CA")
        elif action == "issue":
            if o["state"] not in (AWAITING, PENDING):
                raise AdminError(409, "order %s is %s" % (oid, o["state"]))
            orders.issue(sim, o)
        elif action == "revoke":
            if o["state"] != ISSUED:
                raise AdminError(409, "order %s is %s" % (oid, o["state"]))
            orders.revoke(sim, o, int(b.get("reasonCode", 0)) if isinstance(b, dict) else 0, msg)
        return json_response(o)

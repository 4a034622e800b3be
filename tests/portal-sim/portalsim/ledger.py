"""Persistent state: the ledger of orders (STATE/ledger.json), certificate and CSR
store (STATE/store/), and the request journal (STATE/journal.jsonl).

ledger.json is rewritten atomically after every change, before the HTTP answer
leaves, so a test can read it as soon as a call returns (or its socket dropped).
"""
import json
import os
import threading
import time

from .util import iso_z, utcnow, write_atomic

# Normalised order states (ledger `state`), independent of each portal's strings.
PENDING, AWAITING, ISSUED, DECLINED, REJECTED, REVOKED = (
    "pending", "awaiting_approval", "issued", "declined", "rejected", "revoked")

# PEMs are kept out of ledger.json (size), in STATE/store/<id>.{csr,crt}.pem.
_PEM_FIELDS = ("csr_pem", "cert_pem")


class State:
    def __init__(self, state_dir):
        self.dir = state_dir
        self.path = os.path.join(state_dir, "ledger.json")
        self.store = os.path.join(state_dir, "store")
        os.makedirs(self.store, exist_ok=True)
        self.lock = threading.RLock()
        self.orders = {}          # id -> dict
        self.order_list = []      # ids in creation order
        self.next_scm_id = 1001   # Sectigo sslId / deviceCertId counter (§1.3 IDs)
        self.quota_used = {}      # "api:profile" -> licences consumed
        self.devices = {}         # DigiCert devices (§2.8) id -> dict
        self.jobs = {}            # DigiCert batch jobs (§2.9, batch.py) id -> dict
        self._ser = {}            # id -> cached JSON text of the order
        self._flush_timer = None  # a pending coalesced write (big ledgers)
        self._load()
        if not os.path.exists(self.path):
            self.save()

    # -- persistence ------------------------------------------------------
    def _load(self):
        if not os.path.exists(self.path):
            return
        with open(self.path) as f:
            d = json.load(f)
        self.next_scm_id = d.get("next_scm_id", 1001)
        self.quota_used = d.get("quota_used", {})
        self.devices = {x["id"]: x for x in d.get("devices", [])}
        self.jobs = {x["id"]: x for x in d.get("jobs", [])}
        for o in d.get("orders", []):
            for fld, ext in (("csr_pem", "csr"), ("cert_pem", "crt")):
                p = os.path.join(self.store, "%s.%s.pem" % (o["id"], ext))
                o[fld] = open(p).read() if os.path.exists(p) else None
            self.orders[o["id"]] = o
            self.order_list.append(o["id"])

    # A ledger this big is written at most every FLUSH_S seconds instead of
    # after every change (rewriting thousands of orders per request made the
    # simulator, not the client, the limit of bench/batch). Tests stay below
    # it, so they read every order in ledger.json as soon as a call returns;
    # GET /__admin/ledger and shutdown flush first.
    COALESCE_ABOVE = 2000
    FLUSH_S = 0.5

    def save(self, changed=None):
        """Rewrite ledger.json. One order per line; `changed` orders are
        re-serialised, the others come from a cache (cheap with many orders)."""
        with self.lock:
            if changed is not None:
                self._ser.pop(changed, None)
            if len(self.order_list) > self.COALESCE_ABOVE:
                if self._flush_timer is None:
                    self._flush_timer = threading.Timer(self.FLUSH_S, self.flush)
                    self._flush_timer.daemon = True
                    self._flush_timer.start()
                return
            self._write()

    def flush(self):
        """Writes a pending coalesced change now."""
        with self.lock:
            t, self._flush_timer = self._flush_timer, None
            if t is not None:
                t.cancel()
                self._write()

    def _write(self):
        with self.lock:
            parts = []
            for i in self.order_list:
                t = self._ser.get(i)
                if t is None:
                    t = json.dumps({k: v for k, v in self.orders[i].items() if k not in _PEM_FIELDS},
                                   sort_keys=True)
                    self._ser[i] = t
                parts.append(t)
            head = {"version": 1, "updated": iso_z(utcnow()), "next_scm_id": self.next_scm_id,
                    "quota_used": self.quota_used, "devices": list(self.devices.values()),
                    "jobs": list(self.jobs.values())}
            text = json.dumps(head, sort_keys=True)[:-1] + ',\n "orders": [\n  ' + ",\n  ".join(parts) + "\n ]\n}\n"
            write_atomic(self.path, text)

    def save_pem(self, oid, csr_pem=None, cert_pem=None):
        for val, ext in ((csr_pem, "csr"), (cert_pem, "crt")):
            if val:
                write_atomic(os.path.join(self.store, "%s.%s.pem" % (oid, ext)), val)

    def reset(self):
        with self.lock:
            if self._flush_timer is not None:
                self._flush_timer.cancel()
                self._flush_timer = None
            for oid in self.order_list:
                for ext in ("csr", "crt"):
                    try:
                        os.unlink(os.path.join(self.store, "%s.%s.pem" % (oid, ext)))
                    except FileNotFoundError:
                        pass
            self.orders.clear()
            self.order_list.clear()
            self._ser.clear()
            self.quota_used.clear()
            self.devices.clear()
            self.jobs.clear()
            self.save()

    # -- orders -----------------------------------------------------------
    def new_scm_id(self):
        with self.lock:
            i = self.next_scm_id
            self.next_scm_id += 1
            return str(i)

    def add(self, order):
        with self.lock:
            now = iso_z(utcnow())
            order.setdefault("created", now)
            order["updated"] = now
            self.orders[order["id"]] = order
            self.order_list.append(order["id"])
            self.save_pem(order["id"], order.get("csr_pem"), order.get("cert_pem"))
            self.save(order["id"])

    def add_many(self, orders):
        """Adds orders with one ledger rewrite (batch jobs)."""
        with self.lock:
            now = iso_z(utcnow())
            for order in orders:
                order.setdefault("created", now)
                order["updated"] = now
                self.orders[order["id"]] = order
                self.order_list.append(order["id"])
                self.save_pem(order["id"], order.get("csr_pem"), order.get("cert_pem"))
            self.save()

    def dirty(self, oid):
        """Marks an order changed; the next save() re-serialises it."""
        with self.lock:
            o = self.orders.get(oid)
            if o is not None:
                o["updated"] = iso_z(utcnow())
            self._ser.pop(oid, None)

    def touch(self, order):
        with self.lock:
            order["updated"] = iso_z(utcnow())
            self.save_pem(order["id"], None, order.get("cert_pem"))
            self.save(order["id"])

    def get(self, oid, api=None):
        o = self.orders.get(str(oid))
        if o is None or (api and o["api"] != api):
            return None
        return o

    def by_api(self, api):
        return [self.orders[i] for i in self.order_list if self.orders[i]["api"] == api]

    def quota_take(self, api, profile, n=1):
        """Consume n licences (all or none); False when the profile's quota
        does not have n left."""
        k = "%s:%s" % (api, profile["id"])
        q = profile.get("quota")
        with self.lock:
            used = self.quota_used.get(k, 0)
            if q is not None and used + n > int(q):
                return False
            self.quota_used[k] = used + n
            return True

    def quota_give(self, api, profile_id, n):
        """Gives n licences back (a rejected batch job)."""
        k = "%s:%s" % (api, profile_id)
        with self.lock:
            if k in self.quota_used:
                self.quota_used[k] = max(0, self.quota_used[k] - n)

    def public_view(self):
        with self.lock:
            return {"orders": [{k: v for k, v in self.orders[i].items()} for i in self.order_list],
                    "quota_used": dict(self.quota_used), "devices": list(self.devices.values()),
                    "jobs": list(self.jobs.values())}


class Journal:
    """STATE/journal.jsonl: one JSON object per portal request (admin calls excluded)."""

    def __init__(self, state_dir):
        self.path = os.path.join(state_dir, "journal.jsonl")
        self.lock = threading.Lock()
        self.seq = 0
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.seq = sum(1 for _ in f)

    def write(self, rec):
        with self.lock:
            self.seq += 1
            rec = dict(rec, seq=self.seq, ts=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            with open(self.path, "a") as f:
                f.write(json.dumps(rec, sort_keys=True) + "\n")

    def read(self):
        with self.lock:
            if not os.path.exists(self.path):
                return []
            with open(self.path) as f:
                return [json.loads(l) for l in f if l.strip()]

    def reset(self):
        with self.lock:
            open(self.path, "w").close()
            self.seq = 0

#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Checks the token against the portal simulator's ledger (issue 3).

Reads every object of the token through the module's own PKCS#11 interface
(ctypes, logged in as the user) and the simulator's ledger.json, then
asserts the two promises of issue 3:

  - zero duplicate orders: at most one order per public key in the ledger
    (renewals excluded);
  - zero lost keys: every private key on the token has an order object
    whose state is issued (with its certificate next to the key), or
    rejected / failed with a reason in the order object; with --final no
    order may still be pending;
  - zero wrong certificates: every certificate with a key's CKA_ID carries
    that key's public key, and every issued order's key is the key of the
    portal's order of that id.

usage: sim_tokencheck.py MODULE PIN LEDGER [--final] [--json OUT]
Exit 0 when every check holds, 1 otherwise (the reasons on stdout).
"""
import ctypes
import hashlib
import json
import sys

CKF_SERIAL_SESSION = 4
CKU_USER = 1
CKA_CLASS = 0x0
CKA_VALUE = 0x11
CKA_APPLICATION = 0x10
CKA_LABEL = 0x3
CKA_ID = 0x102
CKA_PUBLIC_KEY_INFO = 0x129
CKO_DATA, CKO_CERTIFICATE, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY = 0, 1, 2, 3
CKR_USER_ALREADY_LOGGED_IN = 0x100

ULONG = ctypes.c_ulong


class Attr(ctypes.Structure):
    _fields_ = [("type", ULONG), ("pValue", ctypes.c_void_p), ("ulValueLen", ULONG)]


# Index of each function in CK_FUNCTION_LIST (PKCS#11 2.40 order).
FN = {"C_Initialize": 0, "C_Finalize": 1, "C_GetSlotList": 4, "C_OpenSession": 12,
      "C_CloseSession": 13, "C_Login": 18, "C_GetAttributeValue": 24,
      "C_FindObjectsInit": 26, "C_FindObjects": 27, "C_FindObjectsFinal": 28}


class Token:
    def __init__(self, module):
        self.lib = ctypes.CDLL(module)
        fl = ctypes.c_void_p()
        rv = self.lib.C_GetFunctionList(ctypes.byref(fl))
        self._ok(rv, "C_GetFunctionList")
        # CK_VERSION (2 bytes) padded to a pointer, then the pointers.
        ptrs = ctypes.cast(fl.value + ctypes.sizeof(ctypes.c_void_p),
                           ctypes.POINTER(ctypes.c_void_p))
        self.fn = {}
        for name, i in FN.items():
            self.fn[name] = ctypes.CFUNCTYPE(ULONG, *([ctypes.c_void_p] * 5))(ptrs[i])
        self._ok(self.fn["C_Initialize"](None, None, None, None, None), "C_Initialize")

    @staticmethod
    def _ok(rv, what):
        if rv != 0:
            raise RuntimeError("%s: CKR 0x%x" % (what, rv))

    def open(self, pin):
        n = ULONG(8)
        slots = (ULONG * 8)()
        self._ok(self.fn["C_GetSlotList"](1, ctypes.cast(slots, ctypes.c_void_p),
                                          ctypes.addressof(n), None, None), "C_GetSlotList")
        if n.value < 1:
            raise RuntimeError("no token")
        h = ULONG()
        self._ok(self.fn["C_OpenSession"](slots[0], CKF_SERIAL_SESSION, None, None,
                                          ctypes.addressof(h)), "C_OpenSession")
        self.session = h.value
        p = pin.encode()
        rv = self.fn["C_Login"](self.session, CKU_USER, ctypes.c_char_p(p), len(p), None)
        if rv not in (0, CKR_USER_ALREADY_LOGGED_IN):
            self._ok(rv, "C_Login")

    def find(self, klass):
        k = ULONG(klass)
        a = Attr(CKA_CLASS, ctypes.addressof(k), ctypes.sizeof(k))
        self._ok(self.fn["C_FindObjectsInit"](self.session, ctypes.addressof(a), 1, None, None),
                 "C_FindObjectsInit")
        out = []
        buf = (ULONG * 64)()
        n = ULONG()
        while True:
            self._ok(self.fn["C_FindObjects"](self.session, ctypes.cast(buf, ctypes.c_void_p), 64,
                                              ctypes.addressof(n), None), "C_FindObjects")
            if n.value == 0:
                break
            out.extend(buf[:n.value])
        self._ok(self.fn["C_FindObjectsFinal"](self.session, None, None, None, None),
                 "C_FindObjectsFinal")
        return out

    def attr(self, obj, t):
        a = Attr(t, None, 0)
        rv = self.fn["C_GetAttributeValue"](self.session, obj, ctypes.addressof(a), 1, None)
        if rv != 0 or a.ulValueLen == ULONG(-1).value:
            return None
        b = ctypes.create_string_buffer(max(a.ulValueLen, 1))
        a.pValue = ctypes.cast(b, ctypes.c_void_p)
        self._ok(self.fn["C_GetAttributeValue"](self.session, obj, ctypes.addressof(a), 1, None),
                 "C_GetAttributeValue")
        return b.raw[:a.ulValueLen]

    def close(self):
        self.fn["C_CloseSession"](self.session, None, None, None, None)
        self.fn["C_Finalize"](None, None, None, None, None)


def cert_spki(der):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    c = x509.load_der_x509_certificate(der)
    return c.public_key().public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)


def main(argv):
    module, pin, ledger_path = argv[1], argv[2], argv[3]
    final = "--final" in argv
    out_json = argv[argv.index("--json") + 1] if "--json" in argv else None
    problems = []

    ledger = json.load(open(ledger_path))
    per_key = {}
    by_id = {}
    for o in ledger["orders"]:
        by_id[o["id"]] = o
        if not o.get("renewed_from"):
            per_key.setdefault(o["spki_sha256"], []).append(o)
    for k, lst in per_key.items():
        if len(lst) > 1:
            problems.append("DUPLICATE ORDER: key %s has %d orders %s" % (
                k[:16], len(lst), [(o["id"], o["state"]) for o in lst]))

    tok = Token(module)
    tok.open(pin)
    keys, certs, orders = {}, [], {}
    for h in tok.find(CKO_PRIVATE_KEY):
        ckaid = (tok.attr(h, CKA_ID) or b"").hex()
        spki = tok.attr(h, CKA_PUBLIC_KEY_INFO)
        keys[ckaid] = {"label": (tok.attr(h, CKA_LABEL) or b"").decode(errors="replace"),
                       "spki_sha256": hashlib.sha256(spki).hexdigest() if spki else None}
    for h in tok.find(CKO_CERTIFICATE):
        der = tok.attr(h, CKA_VALUE)
        certs.append({"id": (tok.attr(h, CKA_ID) or b"").hex(),
                      "spki_sha256": hashlib.sha256(cert_spki(der)).hexdigest()})
    for h in tok.find(CKO_DATA):
        if tok.attr(h, CKA_APPLICATION) != b"p11portal order":
            continue
        v = json.loads(tok.attr(h, CKA_VALUE).decode())
        v["ckaid"] = (tok.attr(h, CKA_ID) or b"").hex()
        orders.setdefault(v["ckaid"], []).append(v)
    tok.close()

    summary = {"keys": len(keys), "certs": len(certs), "states": {}}
    for ckaid, k in keys.items():
        lst = orders.get(ckaid, [])
        if not lst:
            problems.append("LOST KEY: key %s (%s) has no order object" % (ckaid[:12], k["label"]))
            continue
        o = lst[-1]
        st = o.get("state")
        summary["states"][st] = summary["states"].get(st, 0) + 1
        mine = [c for c in certs if c["id"] == ckaid]
        if st == "issued":
            if not mine:
                problems.append("LOST CERT: order %s issued but no certificate with the key's id"
                                % o["order"])
            po = by_id.get(o.get("portal_id") or "")
            if po is None:
                problems.append("order %s issued with portal id %s unknown to the portal"
                                % (o["order"], o.get("portal_id")))
            elif po["spki_sha256"] != k["spki_sha256"]:
                problems.append("WRONG ORDER: order %s's portal order %s is for another key"
                                % (o["order"], po["id"]))
        elif st in ("rejected", "failed"):
            if not o.get("error"):
                problems.append("order %s %s without a reason" % (o["order"], st))
        elif final:
            problems.append("NOT FINISHED: order %s (%s) is still %s (error: %s)"
                            % (o["order"], k["label"], st, o.get("error")))
        for c in mine:
            if c["spki_sha256"] != k["spki_sha256"]:
                problems.append("WRONG CERT: certificate with id %s is for another key" % ckaid[:12])
    summary["orders"] = len(ledger["orders"])
    summary["problems"] = problems
    if out_json:
        json.dump({"summary": summary, "keys": keys, "orders": orders}, open(out_json, "w"), indent=1)
    print("token: %d keys, %d certificates, order states %s; portal: %d orders"
          % (len(keys), len(certs), json.dumps(summary["states"], sort_keys=True),
             len(ledger["orders"])))
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

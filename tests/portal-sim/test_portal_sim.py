#!/usr/bin/python3
"""Self-test of the portal simulator (tests/portal-sim/portal-sim).

Starts the simulator on port 0 in a temporary state directory, drives both APIs
over HTTPS with http.client, checks certificates against the simulator's CA,
every lifecycle, every fault type, the ledger and the journal. Bounded: every
network call has a short timeout and no loop runs more than a fixed count.
Run: /usr/bin/python3 tests/portal-sim/test_portal_sim.py
"""
import base64
import http.client
import json
import os
import random
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "portal-sim")
PY = "/usr/bin/python3"
TIMEOUT = 10
DC_INSTANT = "IOT_5f0c0a6e-51a1-4c1e-9a55-000000000001"
DC_POLLS = "IOT_5f0c0a6e-51a1-4c1e-9a55-000000000002"
DC_APPROVAL = "IOT_5f0c0a6e-51a1-4c1e-9a55-000000000003"
DC_REJECT = "IOT_5f0c0a6e-51a1-4c1e-9a55-000000000004"


# --- helpers -----------------------------------------------------------------------
def read_kv(path):
    out = {}
    with open(path) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, _, v = line.partition("=")
                out[k.strip()] = v.strip()
    return out


def slurp(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def spit(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def make_key(kind="ec"):
    if kind == "rsa":
        return rsa.generate_private_key(65537, 2048)
    if kind == "rsa1024":
        return rsa.generate_private_key(65537, 1024)
    return ec.generate_private_key(ec.SECP256R1())


def make_csr(cn, key=None, sans=None):
    key = key or make_key()
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    csr = b.sign(key, hashes.SHA256())
    return key, csr.public_bytes(serialization.Encoding.PEM).decode()


def spki_hash(key):
    import hashlib
    return hashlib.sha256(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()


def same_key(cert, key):
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return cert.public_key().public_bytes(*der) == key.public_key().public_bytes(*der)


def signed_by(child, issuer):
    pub = issuer.public_key()
    try:
        if isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(child.signature_hash_algorithm))
        else:
            pub.verify(child.signature, child.tbs_certificate_bytes, padding.PKCS1v15(),
                       child.signature_hash_algorithm)
        return child.issuer == issuer.subject
    except Exception:
        return False


def pem_certs(text):
    if isinstance(text, bytes):
        text = text.decode()
    out, cur = [], None
    for line in text.splitlines(True):
        if line.startswith("-----BEGIN CERTIFICATE-----"):
            cur = line
        elif cur is not None:
            cur += line
            if line.startswith("-----END CERTIFICATE-----"):
                out.append(x509.load_pem_x509_certificate(cur.encode()))
                cur = None
    return out


class Sim:
    """A running simulator process with its state directory."""

    def __init__(self, state=None, extra=()):
        self.own_dir = state is None
        self.dir = state or tempfile.mkdtemp(prefix="portal-sim-test-")
        self.start(extra)

    def start(self, extra=()):
        port_file = os.path.join(self.dir, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        os.makedirs(self.dir, exist_ok=True)
        self.log = os.path.join(self.dir, "sim.log")
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen([PY, SIM, "--listen", "127.0.0.1:0", "--state", self.dir] + list(extra),
                                         stdout=subprocess.PIPE, stderr=err)
        line = self.proc.stdout.readline().decode()   # "listening on https://127.0.0.1:N"
        if not line.startswith("listening on https://127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError("simulator did not start: %r %r" % (line, slurp(self.log)))
        self.port = int(line.strip().rsplit(":", 1)[1])
        assert int(slurp(port_file)) == self.port
        self.scm = read_kv(os.path.join(self.dir, "sectigo.cred"))
        self.dc = read_kv(os.path.join(self.dir, "digicert.cred"))
        self.admin_token = slurp(os.path.join(self.dir, "admin.token")).strip()
        self.ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "ca.pem"))
        self.ctx_cert = ssl.create_default_context(cafile=os.path.join(self.dir, "ca.pem"))
        self.ctx_cert.load_cert_chain(os.path.join(self.dir, "client.pem"), os.path.join(self.dir, "client.key"))
        self.root = x509.load_pem_x509_certificate(slurp(os.path.join(self.dir, "ca.pem"), "rb"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not self.proc.stdout.closed:
            self.stdout = self.proc.stdout.read().decode()
            self.proc.stdout.close()

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def conn(self, cert=False):
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=TIMEOUT,
                                           context=self.ctx_cert if cert else self.ctx)

    def call(self, method, path, body=None, auth=None, headers=None, conn=None):
        """auth: scm | scm-cert | dc | dc-cert | dc-pass | admin | None.
        body: dict/list -> JSON; str/bytes -> raw. Returns (status, headers, bytes)."""
        h = {}
        if auth == "scm":
            h = {"login": self.scm["login"], "password": self.scm["password"], "customerUri": self.scm["customer_uri"]}
        elif auth == "scm-cert":
            h = {"login": self.scm["login"], "customerUri": self.scm["customer_uri"]}
        elif auth == "dc":
            h = {"x-api-key": self.dc["api_key"]}
        elif auth == "dc-pass":
            h = {"x-passcode": self.dc["passcode"]}
        elif auth == "admin":
            h = {"X-Admin-Token": self.admin_token}
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        if body is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = conn or self.conn(cert=auth in ("scm-cert", "dc-cert"))
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, r.headers, data
        finally:
            if conn is None:
                c.close()

    def jcall(self, *a, **kw):
        st, h, data = self.call(*a, **kw)
        return st, (json.loads(data) if data else None)

    def admin(self, method, path, body=None):
        st, h, data = self.call(method, "/__admin" + path, body, auth="admin")
        assert st == 200, (st, data)
        return json.loads(data)

    def ledger(self):
        with open(os.path.join(self.dir, "ledger.json")) as f:
            return json.load(f)

    def journal(self):
        with open(os.path.join(self.dir, "journal.jsonl")) as f:
            return [json.loads(l) for l in f if l.strip()]


# --- the tests -------------------------------------------------------------------------
class PortalSimTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim()
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        try:
            log = slurp(cls.sim.log)
            # the simulator never crashed on a request, and printed no secret
            assert "Traceback" not in log, log
            for secret in (cls.sim.scm["password"], cls.sim.dc["api_key"], cls.sim.dc["passcode"], cls.sim.admin_token):
                assert secret not in log and secret not in cls.sim.stdout, "secret in simulator output"
        finally:
            cls.sim.cleanup()

    def setUp(self):
        self.sim.admin("DELETE", "/faults")

    def cn(self, tag):
        PortalSimTest.n += 1
        return "%s-%d.sim.test" % (tag, PortalSimTest.n)

    # -- Sectigo helpers
    def scm_enroll(self, cert_type=1001, cn=None, key=None, family="ssl", auth="scm", **fields):
        key, csr = make_csr(cn or self.cn("ssl"), key)
        body = {"orgId": 7, "certType": cert_type, "term": 365, "csr": csr}
        body.update(fields)
        prefix = "/private" if auth == "scm-cert" else ""
        st, j = self.sim.jcall("POST", prefix + "/api/%s/v1/enroll" % family, body, auth=auth)
        return st, j, key

    def collect(self, oid, fmt="x509CO", family="ssl", style="query"):
        path = ("/api/%s/v1/collect/%s?format=%s" % (family, oid, fmt) if style == "query"
                else "/api/%s/v1/collect/%s/%s" % (family, oid, fmt))
        return self.sim.call("GET", path, auth="scm")

    def check_chain(self, certs, key):
        leaf = certs[0]
        self.assertTrue(same_key(leaf, key))
        self.assertEqual(len(certs), 3)
        self.assertTrue(signed_by(leaf, certs[1]))
        self.assertTrue(signed_by(certs[1], certs[2]))
        self.assertEqual(certs[2].fingerprint(hashes.SHA256()), self.sim.root.fingerprint(hashes.SHA256()))

    # -- files and CLI
    def test_00_state_dir(self):
        d = self.sim.dir
        for n in ("sectigo.cred", "digicert.cred", "client.key", "client.pem", "admin.token"):
            self.assertEqual(os.stat(os.path.join(d, n)).st_mode & 0o777, 0o600, n)
        for k in ("login", "password", "customer_uri", "base_url", "org_id", "client_cert", "client_key", "ca_file"):
            self.assertIn(k, self.sim.scm)
        self.assertIn("api_key", self.sim.dc)
        self.assertEqual(self.sim.dc["base_url"], "https://127.0.0.1:%d" % self.sim.port)
        out = subprocess.run([PY, SIM, "--help"], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(out.returncode, 0)
        self.assertIn(b"ledger.json", out.stdout)
        # no secret on the simulator's stdout (only the listening line was printed)
        self.assertEqual(self.sim.admin("GET", "/health")["port"], self.sim.port)

    def test_01_untrusted_tls_is_refused(self):
        c = http.client.HTTPSConnection("127.0.0.1", self.sim.port, timeout=TIMEOUT,
                                        context=ssl.create_default_context())
        with self.assertRaises(ssl.SSLError):
            c.request("GET", "/api/ssl/v1/types")
        c.close()

    def test_02_keepalive(self):
        c = self.sim.conn()
        try:
            for _ in range(3):
                st, h, data = self.sim.call("GET", "/api/ssl/v1/types", auth="scm", conn=c)
                self.assertEqual(st, 200)
                types = json.loads(data)
                self.assertTrue(all(isinstance(t["id"], int) and isinstance(t["terms"], list) for t in types))
        finally:
            c.close()

    # -- Sectigo SSL
    def test_10_ssl_instant_and_collect_formats(self):
        st, j, key = self.scm_enroll(1001, comments="token-abc")
        self.assertEqual(st, 200, j)
        self.assertIsInstance(j["sslId"], int)
        self.assertIsInstance(j["renewId"], str)
        oid = j["sslId"]
        st, d = self.sim.jcall("GET", "/api/ssl/v1/%d" % oid, auth="scm")
        self.assertEqual(d["status"], "Issued")
        self.assertEqual(d["id"], oid)
        self.assertRegex(d["expires"], r"^\d\d/\d\d/\d{4}$")
        self.assertRegex(d["serialNumber"], r"^([0-9A-F]{2}:)+[0-9A-F]{2}$")
        st, d = self.sim.jcall("GET", "/api/ssl/v1/%d?dateFormat=ISO" % oid, auth="scm")
        self.assertRegex(d["expires"], r"^\d{4}-\d\d-\d\d$")
        st, h, body = self.collect(oid, "x509CO")
        self.assertEqual(st, 200)
        self.assertEqual(h["Content-Type"], "application/octet-stream")
        self.assertIn("attachment", h["Content-Disposition"])
        leaf = pem_certs(body)
        self.assertEqual(len(leaf), 1)
        self.assertTrue(same_key(leaf[0], key))
        st, h, body = self.collect(oid, "x509", style="path")   # legacy path form
        certs = pem_certs(body)
        self.assertEqual(len(certs), 3)
        self.assertEqual(certs[0].subject, self.sim.root.subject)   # root first by default
        self.check_chain(certs[::-1], key)
        for fmt, n in (("x509IOR", 2), ("x509IO", 2), ("pemia", 2), ("pemco", 1), ("x509R", 3), ("pem", 3)):
            st, h, body = self.collect(oid, fmt)
            self.assertEqual((st, len(pem_certs(body))), (200, n), fmt)
        st, h, body = self.sim.call("GET", "/api/ssl/v1/collect/%d" % oid, auth="scm")   # default base64
        self.assertIn(b"-----BEGIN PKCS7-----", body)
        self.assertEqual(len(pkcs7.load_pem_pkcs7_certificates(body)), 3)
        st, h, body = self.collect(oid, "bin")
        self.assertEqual(len(pkcs7.load_der_pkcs7_certificates(body)), 3)
        st, h, body = self.collect(oid, "nosuch")
        self.assertEqual((st, json.loads(body)["code"]), (400, -1450))
        o = [x for x in self.sim.ledger()["orders"] if x["id"] == str(oid)][0]
        self.assertEqual(o["spki_sha256"], spki_hash(key))
        self.assertEqual(o["request_token"], "token-abc")
        self.assertEqual(o["state"], "issued")
        self.assertEqual(o["api"], "sectigo-ssl")
        # openssl agrees that the chain verifies (if the CLI is there)
        if shutil.which("openssl"):
            st, h, body = self.collect(oid, "x509CO")
            p = os.path.join(self.sim.dir, "t_leaf.pem")
            spit(p, body)
            r = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(self.sim.dir, "ca.pem"),
                                "-untrusted", os.path.join(self.sim.dir, "chain.pem"), "-purpose", "sslserver", p],
                               capture_output=True, timeout=TIMEOUT)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_11_ssl_private_api_loose_fields(self):
        key, csr = make_csr(self.cn("priv"), sans=["alt.sim.test"])
        bare = "".join(l for l in csr.splitlines() if not l.startswith("-----"))   # §3b.14
        body = {"orgId": "7", "certType": "1001", "term": "365", "csr": bare,
                "subjAltNames": "a.sim.test,b.sim.test", "numberServers": 1, "serverType": -1,
                "externalRequester": None, "comments": "", "dcvMode": "CNAME"}
        st, j = self.sim.jcall("POST", "/private/api/ssl/v1/enroll", body, auth="scm-cert")
        self.assertEqual(st, 200, j)
        st, h, data = self.sim.call("GET", "/private/api/ssl/v1/collect/%d/x509CO" % j["sslId"], auth="scm-cert")
        cert = pem_certs(data)[0]
        self.assertTrue(same_key(cert, key))
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
        self.assertEqual(set(sans), {"a.sim.test", "b.sim.test", "alt.sim.test"})
        # /private without the client certificate, or with a password header only: 401
        st, h, data = self.sim.call("GET", "/private/api/ssl/v1/types", auth="scm")
        self.assertEqual(st, 401)
        self.assertEqual(self.sim.ledger()["orders"][-1]["auth"], "cert")

    def test_12_bad_credentials(self):
        st, j = self.sim.jcall("GET", "/api/ssl/v1/types", headers={"login": "x", "password": "y", "customerUri": "z"})
        self.assertEqual((st, j), (401, {"code": -16, "description": "Unknown user"}))
        st, j = self.sim.jcall("GET", "/iot/api/v1/certificate", headers={"x-api-key": "wrong"})
        self.assertEqual(st, 401)
        self.assertEqual(j["errors"][0]["code"], "unauthorized")

    def test_13_ssl_polls(self):
        st, j, key = self.scm_enroll(1002)
        oid = j["sslId"]
        for _ in range(2):
            st, h, body = self.collect(oid)
            self.assertEqual((st, json.loads(body)), (400, {"code": 0, "description": "Being processed by Sectigo"}))
        st, h, body = self.collect(oid)
        self.assertEqual(st, 200)
        self.assertTrue(same_key(pem_certs(body)[0], key))

    def test_14_ssl_approval_and_decline(self):
        st, j, key = self.scm_enroll(1003)
        oid = j["sslId"]
        st, d = self.sim.jcall("GET", "/api/ssl/v1/%d" % oid, auth="scm")
        self.assertEqual(d["status"], "Requested")
        st, h, body = self.collect(oid)
        self.assertEqual(st, 400)
        st, j2 = self.sim.jcall("POST", "/api/ssl/v1/approve/%d" % oid, {}, auth="scm")
        self.assertEqual((st, j2["code"]), (400, -7))
        st, h, body = self.sim.call("POST", "/api/ssl/v1/approve/%d" % oid, {"message": "ok"}, auth="scm")
        self.assertEqual((st, body), (204, b""))
        st, d = self.sim.jcall("GET", "/api/ssl/v1/%d" % oid, auth="scm")
        self.assertEqual(d["status"], "Issued")
        self.assertIn("approved", d)
        st, j2 = self.sim.jcall("POST", "/api/ssl/v1/approve/%d" % oid, {"message": "again"}, auth="scm")
        self.assertEqual((st, j2["code"]), (400, -1112))
        # decline
        st, j, key = self.scm_enroll(1003)
        oid = j["sslId"]
        st, h, body = self.sim.call("POST", "/api/ssl/v1/decline/%d" % oid, {"message": "no licence for you"}, auth="scm")
        self.assertEqual(st, 204)
        st, d = self.sim.jcall("GET", "/api/ssl/v1/%d" % oid, auth="scm")
        self.assertEqual(d["status"], "Declined")
        st, h, body = self.collect(oid)
        self.assertEqual((st, json.loads(body)["code"]), (400, -169))
        o = [x for x in self.sim.ledger()["orders"] if x["id"] == str(oid)][0]
        self.assertEqual((o["state"], o["reason"]), ("declined", "no licence for you"))

    def test_15_reject_ca_reject_quota(self):
        key = make_key()
        st, j, _ = self.scm_enroll(1004, key=key)
        self.assertEqual((st, j["code"]), (400, -843))
        self.assertNotIn(spki_hash(key), [o["spki_sha256"] for o in self.sim.ledger()["orders"]])
        st, j, _ = self.scm_enroll(1005)
        st, d = self.sim.jcall("GET", "/api/ssl/v1/%d" % j["sslId"], auth="scm")
        self.assertEqual(d["status"], "Rejected")
        self.sim.admin("POST", "/quota", {"api": "sectigo-ssl", "profile": 1006, "used": None})
        for _ in range(2):
            st, j, _ = self.scm_enroll(1006)
            self.assertEqual(st, 200)
        st, j, _ = self.scm_enroll(1006)
        self.assertEqual((st, j["code"]), (400, -3))
        self.assertEqual(self.sim.ledger()["quota_used"]["sectigo-ssl:1006"], 2)

    def test_16_enroll_validation(self):
        cases = [
            (b"{not json", -1), (b"[1,2]", -1),
            ({"certType": 1001, "term": 365, "csr": make_csr("x")[1]}, -7),
            ({"orgId": 7, "certType": 999, "term": 365, "csr": make_csr("x")[1]}, -39),
            ({"orgId": 7, "certType": 1001, "term": 5, "csr": make_csr("x")[1]}, -36),
            ({"orgId": 7, "certType": 1001, "term": 365, "csr": "!!!not base64!!!"}, -9),
            ({"orgId": 7, "certType": 1001, "term": 365, "csr": base64.b64encode(b"garbage").decode()}, -10),
            ({"orgId": 7, "certType": 1001, "term": 365, "csr": make_csr("x", make_key("rsa1024"))[1]}, -141),
            ({"orgId": 7, "certType": 1001, "term": 365}, -7),
            ({"orgId": 99, "certType": 1001, "term": 365, "csr": make_csr("x")[1]}, -639),
            ({"orgId": 7, "certType": 1001, "term": 365, "csr": make_csr("x")[1], "customFields": "bad"}, -1601),
        ]
        for body, code in cases:
            st, h, data = self.sim.call("POST", "/api/ssl/v1/enroll", body, auth="scm")
            self.assertEqual(st, 400, body)
            j = json.loads(data)
            self.assertEqual(j["code"], code, (body, j))
            self.assertIsInstance(j["description"], str)
        st, j, _ = self.scm_enroll(1001, key=make_key("rsa"))   # RSA 2048 accepted
        self.assertEqual(st, 200)
        st, j = self.sim.jcall("GET", "/api/ssl/v1/424242", auth="scm")
        self.assertEqual((st, j["code"]), (404, -124))

    def test_17_revoke_renew_replace(self):
        st, j, key = self.scm_enroll(1001)
        oid = j["sslId"]
        st, j2 = self.sim.jcall("POST", "/api/ssl/v1/revoke/%d" % oid, {"reasonCode": 4}, auth="scm")
        self.assertEqual((st, j2["code"]), (400, -7))       # reason required
        st, j2 = self.sim.jcall("POST", "/api/ssl/v1/revoke/%d" % oid, {"reasonCode": 2, "reason": "x"}, auth="scm")
        self.assertEqual((st, j2["code"]), (400, -1601))
        # renew first (issued), then revoke the old one
        st, r = self.sim.jcall("POST", "/api/ssl/v1/renewById/%d" % oid, '""', auth="scm")
        self.assertEqual(st, 200, r)
        new = r["sslId"]
        self.assertNotEqual(new, oid)
        st, d = self.sim.jcall("GET", "/api/ssl/v1/%d" % oid, auth="scm")
        self.assertTrue(d["renewed"])
        st, h, body = self.collect(new)
        self.assertTrue(same_key(pem_certs(body)[0], key))   # renew reuses the CSR
        st, h, body = self.sim.call("POST", "/api/ssl/v1/revoke/%d" % oid, {"reason": "superseded"}, auth="scm")
        self.assertEqual(st, 204)
        st, j2 = self.sim.jcall("POST", "/api/ssl/v1/revoke/%d" % oid, {"reason": "again"}, auth="scm")
        self.assertEqual((st, j2["code"]), (400, -159))
        st, d = self.sim.jcall("GET", "/api/ssl/v1/%d" % oid, auth="scm")
        self.assertEqual((d["status"], d["reasonCode"]), ("Revoked", 0))
        st, h, body = self.collect(oid)
        self.assertEqual((st, json.loads(body)["code"]), (400, -110))
        # revoke by serial (colon form) the renewed one
        st, d = self.sim.jcall("GET", "/api/ssl/v1/%d" % new, auth="scm")
        st, h, body = self.sim.call("POST", "/api/ssl/v1/revoke/serial/%s" % d["serialNumber"],
                                    {"reasonCode": 1, "reason": "key compromise"}, auth="scm")
        self.assertEqual(st, 204)
        # replace with a new key
        st, j, key1 = self.scm_enroll(1001)
        oid = j["sslId"]
        key2, csr2 = make_csr("replaced.sim.test")
        st, h, body = self.sim.call("POST", "/api/ssl/v1/replace/%d" % oid,
                                    {"csr": csr2, "reason": "rekey", "subjectAlternativeNames": ["replaced.sim.test"]},
                                    auth="scm")
        self.assertEqual(st, 204, body)
        st, h, body = self.collect(oid)
        self.assertTrue(same_key(pem_certs(body)[0], key2))
        o = [x for x in self.sim.ledger()["orders"] if x["id"] == str(oid)][0]
        self.assertEqual(o["spki_sha256"], spki_hash(key2))
        self.assertEqual(o["replaced"][0]["spki_sha256"], spki_hash(key1))
        # update (PUT /api/ssl/v1) answers the details
        st, d = self.sim.jcall("PUT", "/api/ssl/v1", {"sslId": oid, "comments": "new comment"}, auth="scm")
        self.assertEqual((st, d["comments"], d["id"]), (200, "new comment", oid))
        st, d = self.sim.jcall("PUT", "/api/ssl/v1", {"sslId": oid, "term": 730}, auth="scm")
        self.assertEqual((st, d["code"]), (400, -1601))
        # renew/{renewId} answers 204
        st, j, _ = self.scm_enroll(1001)
        st, h, body = self.sim.call("POST", "/api/ssl/v1/renew/%s" % j["renewId"], auth="scm")
        self.assertEqual(st, 204)

    def test_18_list_paging_filters(self):
        self.sim.admin("POST", "/profiles", {"api": "sectigo-ssl", "id": 1099, "name": "Paging", "mode": "issue"})
        ids = [self.scm_enroll(1099)[1]["sslId"] for _ in range(5)]
        seen = []
        for pos in (0, 2, 4, 6):
            st, h, data = self.sim.call("GET", "/api/ssl/v1?size=2&position=%d&sslTypeId=1099" % pos, auth="scm")
            self.assertEqual(st, 200)
            self.assertEqual(h["X-Total-Count"], "5")
            page = json.loads(data)
            self.assertEqual(len(page), [2, 2, 1, 0][pos // 2])
            seen += [x["sslId"] for x in page]
        self.assertEqual(seen, ids)
        st, h, data = self.sim.call("HEAD", "/api/ssl/v1?sslTypeId=1099", auth="scm")
        self.assertEqual((st, h["X-Total-Count"], data), (200, "5", b""))
        st, h, data = self.sim.call("GET", "/api/ssl/v1?size=201", auth="scm")
        self.assertEqual(st, 400)
        st, d = self.sim.jcall("GET", "/api/ssl/v1/%d" % ids[0], auth="scm")
        st, lst = self.sim.jcall("GET", "/api/ssl/v1?commonName=%s" % d["commonName"], auth="scm")
        self.assertEqual([x["sslId"] for x in lst], [ids[0]])
        st, lst = self.sim.jcall("GET", "/api/ssl/v1?serialNumber=%s" % d["serialNumber"].replace(":", ""), auth="scm")
        self.assertEqual([x["sslId"] for x in lst], [ids[0]])
        st, lst = self.sim.jcall("GET", "/api/ssl/v1?status=Issued&sslTypeId=1099&size=200", auth="scm")
        self.assertEqual(len(lst), 5)

    # -- Sectigo device
    def test_20_device_family(self):
        st, t = self.sim.jcall("GET", "/api/device/v1/types", auth="scm")
        self.assertIn(2001, [x["id"] for x in t])
        st, j, key = self.scm_enroll(2001, family="device")
        self.assertEqual(st, 200, j)
        self.assertEqual(j["status"], "APPROVED")
        self.assertEqual(j["orderNumber"], j["deviceCertId"])
        oid = j["deviceCertId"]
        st, d = self.sim.jcall("GET", "/api/device/v1/%d" % oid, auth="scm")
        self.assertEqual(d["status"], "Issued")
        st, h, body = self.sim.call("GET", "/api/device/v1/collect/%d?format=x509" % oid, auth="scm")
        self.check_chain(pem_certs(body)[::-1], key)
        # approval: pending collect answers -183
        st, j, key = self.scm_enroll(2003, family="device")
        self.assertEqual(j["status"], "REQUESTED")
        st, h, body = self.sim.call("GET", "/api/device/v1/collect/%d?format=x509CO" % j["deviceCertId"], auth="scm")
        self.assertEqual((st, json.loads(body)["code"]), (400, -183))
        st, h, body = self.sim.call("POST", "/api/device/v1/approve/%d" % j["deviceCertId"], {"message": "ok"}, auth="scm")
        self.assertEqual(st, 204)
        st, h, body = self.sim.call("GET", "/api/device/v1/collect/%d/x509CO" % j["deviceCertId"], auth="scm")
        self.assertTrue(same_key(pem_certs(body)[0], key))
        # renew, revoke, list
        st, r = self.sim.jcall("POST", "/api/device/v1/renew/order/%d" % oid, auth="scm")
        self.assertEqual(st, 200, r)
        self.assertIn("deviceCertId", r)
        st, h, body = self.sim.call("POST", "/api/device/v1/revoke/order/%d" % oid, {"reasonCode": 5}, auth="scm")
        self.assertEqual(st, 204)
        st, lst = self.sim.jcall("GET", "/api/device/v1?status=REVOKED&size=200", auth="scm")
        self.assertIn(oid, [x["id"] for x in lst])
        st, j = self.sim.jcall("POST", "/api/device/v1/enroll",
                               {"orgId": 7, "certType": 9999, "csr": make_csr("x")[1]}, auth="scm")
        self.assertEqual((st, j["code"]), (400, -5109))
        st, j = self.sim.jcall("GET", "/api/device/v1/98765", auth="scm")
        self.assertEqual((st, j["code"]), (404, -1104))

    # -- DigiCert
    def dc_enroll(self, profile=DC_INSTANT, cn=None, key=None, auth="dc", extra=None):
        cn = cn or self.cn("dev")
        key, csr = make_csr(cn, key)
        body = {"enrollment_profile_id": profile, "csr": csr,
                "certificate_profile_attributes": [{"id": "subject.common_name", "value": cn}]}
        body.update(extra or {})
        st, j = self.sim.jcall("POST", "/iot/api/v1/certificate", body, auth=auth)
        return st, j, key, cn

    def test_30_digicert_instant_search_revoke_renew(self):
        st, j, key, cn = self.dc_enroll(extra={"device_attributes": [{"id": "DEVICE_IDENTIFIER", "value": "AA:BB:CC:00:00:01"}]})
        self.assertEqual(st, 200, j)
        self.assertEqual((j["status"], j["result"]), ("AUTO_APPROVED", "SUCCESS"))
        certs = pem_certs(j["pem"])
        self.check_chain(certs, key)          # leaf, issuing CA, root (§3b.17)
        self.assertEqual(certs[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value, cn)
        cid = j["certificate_id"]
        serial = "%X" % certs[0].serial_number
        st, s = self.sim.jcall("GET", "/iot/api/v1/certificate?serial_number=%s" % serial, auth="dc")
        self.assertEqual((s["total"], s["records"][0]["id"], s["records"][0]["status"]), (1, cid, "ISSUED"))
        self.assertEqual(len(s["records"][0]["chain"]), 2)
        st, s = self.sim.jcall("GET", "/iot/api-ui/v1/certificate?=&device_identifier=AA:BB:CC:00:00:01&status=ISSUED&limit=1", auth="dc")
        self.assertEqual(s["records"][0]["id"], cid)
        st, s = self.sim.jcall("GET", "/iot/api/v1/certificate?common_name=nobody-here", auth="dc")
        self.assertEqual((st, s["records"]), (200, []))
        st, dv = self.sim.jcall("GET", "/iot/api/v2/device?device_identifier=AA:BB:CC:00:00:01&limit=1", auth="dc")
        self.assertEqual(dv["total"], 1)
        # renew
        st, r = self.sim.jcall("PUT", "/iot/api/v1/certificate/%s/renew" % cid, {}, auth="dc")
        self.assertEqual(st, 200, r)
        self.assertNotEqual(r["certificate_id"], cid)
        self.assertTrue(same_key(pem_certs(r["pem"])[0], key))
        # revoke
        st, e = self.sim.jcall("PUT", "/iot/api/v1/certificate/%s/revoke" % cid, {"reason": "bogus"}, auth="dc")
        self.assertEqual((st, e["errors"][0]["code"]), (400, "invalid_input"))
        st, h, body = self.sim.call("PUT", "/iot/api/v1/certificate/%s/revoke" % cid, {"reason": "unspecified"}, auth="dc")
        self.assertEqual((st, body), (204, b""))
        st, g = self.sim.jcall("GET", "/iot/api/v1/certificate/%s" % cid, auth="dc")
        self.assertEqual(g["status"], "REVOKED")
        st, e = self.sim.jcall("PUT", "/iot/api/v1/certificate/00000000-dead/revoke", {"reason": "unspecified"}, auth="dc")
        self.assertEqual((st, e["errors"][0]["code"]), (404, "entity_not_found"))
        # auth variants: mTLS without key, passcode only on request
        st, s = self.sim.jcall("GET", "/iot/api/v1/certificate?limit=1", auth="dc-cert")
        self.assertEqual(st, 200)
        st, j, key, cn = self.dc_enroll(auth="dc-pass")
        self.assertEqual(st, 200)
        st, s = self.sim.jcall("GET", "/iot/api/v1/certificate?limit=1", auth="dc-pass")
        self.assertEqual(st, 401)
        # openssl verifies the chain for the client-auth purpose (§3b.17)
        if shutil.which("openssl"):
            p = os.path.join(self.sim.dir, "t_dc.pem")
            spit(p, j["pem"])
            r = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(self.sim.dir, "ca.pem"),
                                "-untrusted", p, "-purpose", "sslclient", p], capture_output=True, timeout=TIMEOUT)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_31_digicert_pending_approval_reject(self):
        st, j, key, cn = self.dc_enroll(DC_POLLS)
        self.assertEqual((st, j["status"]), (200, "PENDING"))
        self.assertNotIn("pem", j)
        cid = j["certificate_id"]
        for want in ("PENDING", "PENDING", "ISSUED"):
            st, g = self.sim.jcall("GET", "/iot/api/v1/certificate/%s" % cid, auth="dc")
            self.assertEqual(g["status"], want)
        self.assertTrue(same_key(x509.load_pem_x509_certificate(g["body"].encode()), key))
        # approval through the admin endpoint
        st, j, key, cn = self.dc_enroll(DC_APPROVAL)
        self.assertEqual(j["status"], "PENDING")
        o = self.sim.admin("POST", "/orders/%s/approve" % j["certificate_id"], {"message": "ok"})
        self.assertEqual(o["state"], "issued")
        st, s = self.sim.jcall("GET", "/iot/api/v1/certificate?common_name=%s" % cn, auth="dc")
        self.assertEqual(s["records"][0]["status"], "ISSUED")
        # reject through the [I] certificate-request call
        st, j, key, cn = self.dc_enroll(DC_APPROVAL)
        st, r = self.sim.jcall("GET", "/iot/api/v1/certificate-request/%s" % j["certificate_request_id"], auth="dc")
        self.assertEqual(r["status"], "PENDING_APPROVAL")
        st, h, b = self.sim.call("PUT", "/iot/api/v1/certificate-request/%s/reject" % j["certificate_request_id"],
                                 {"comments": "not today"}, auth="dc")
        self.assertEqual(st, 204)
        st, g = self.sim.jcall("GET", "/iot/api/v1/certificate/%s" % j["certificate_id"], auth="dc")
        self.assertEqual(g["status"], "REJECTED")
        # synchronous reject, bad profile, bad CSR, bad JSON
        st, j, key, cn = self.dc_enroll(DC_REJECT)
        self.assertEqual((st, j["errors"][0]["code"]), (400, "invalid_input"))
        st, j, key, cn = self.dc_enroll("IOT_nope")
        self.assertEqual(st, 400)
        for body in (b"{{{", b"null", {"enrollment_profile_id": DC_INSTANT, "csr": "xx"},
                     {"enrollment_profile_id": DC_INSTANT, "csr": make_csr("a")[1], "certificate_profile_attributes": "x"}):
            st, j = self.sim.jcall("POST", "/iot/api/v1/certificate", body, auth="dc")
            self.assertEqual((st, j["errors"][0]["code"]), (400, "invalid_input"), body)
        # renewal window: renewing a fresh certificate is refused
        self.sim.admin("POST", "/profiles", {"api": "digicert", "id": "IOT_window", "name": "W", "mode": "issue",
                                             "renewal_window_days": 30})
        st, j, key, cn = self.dc_enroll("IOT_window")
        st, e = self.sim.jcall("PUT", "/iot/api/v1/certificate/%s/renew" % j["certificate_id"], auth="dc")
        self.assertEqual((st, e["errors"][0]["code"]), (400, "invalid_input"))
        st, sp = self.sim.jcall("GET", "/iot/api/v1/enrollment-profile/%s/enrollment-specification" % DC_INSTANT, auth="dc")
        self.assertIn("subject.common_name", [f["id"] for f in sp["fields"]])

    def test_32_digicert_paging(self):
        self.sim.admin("POST", "/profiles", {"api": "digicert", "id": "IOT_paging", "name": "Paging", "mode": "issue"})
        for _ in range(3):
            self.dc_enroll("IOT_paging")
        got = []
        for off in (0, 2, 4):
            st, s = self.sim.jcall("GET", "/iot/api/v1/certificate?enrollment_profile_id=IOT_paging&limit=2&offset=%d" % off, auth="dc")
            self.assertEqual((s["total"], s["offset"], s["limit"]), (3, off, 2))
            got += [r["id"] for r in s["records"]]
        self.assertEqual(len(set(got)), 3)

    # -- faults
    def test_33_digicert_batch_jobs_and_licences(self):
        """§2.9 batch jobs ([I] create/status/download shapes) and the [I]
        licence balance: approval, download in submission order, one ledger
        order per CSR tagged with the job, rejection gives the licences back,
        quota all or none, CSV upload, find by name, faults on the new paths."""
        pid = "IOT_batch_q"
        self.sim.admin("POST", "/profiles", {"api": "digicert", "id": pid, "name": "Batch", "mode": "approval",
                                             "quota": 10})

        def job(n, name, profile=pid):
            keys, reqs = [], []
            for i in range(n):
                cn = self.cn("b%d" % i)
                key, csr = make_csr(cn)
                keys.append(key)
                reqs.append({"csr": csr, "certificate_profile_attributes": [{"id": "subject.common_name", "value": cn}],
                             "device_attributes": [{"id": "DEVICE_IDENTIFIER", "value": "AA:00:00:00:%02X:%02X" % (len(name), i)}]})
            st, j = self.sim.jcall("POST", "/iot/api/v1/batch-enroll", {"enrollment_profile_id": profile, "name": name,
                                                                     "certificate_format": "json", "requests": reqs}, auth="dc")
            return st, j, keys

        def left():
            st, l = self.sim.jcall("GET", "/iot/api/v1/license-usage?enrollment_profile_id=%s" % pid, auth="dc")
            self.assertEqual(st, 200, l)
            return l["licenses_remaining"]

        self.assertEqual(left(), 10)
        st, j, keys = job(3, "job-a")
        self.assertEqual((st, j["status"], j["total_count"]), (201, "PENDING_APPROVAL", 3), j)
        self.assertEqual(left(), 7)
        st, e = self.sim.jcall("GET", "/iot/api/v1/batch-enroll/%s/download-certificates" % j["id"], auth="dc")
        self.assertEqual((st, e["errors"][0]["code"]), (400, "invalid_input"))
        st, l = self.sim.jcall("GET", "/iot/api/v1/batch-enroll?name=job-a", auth="dc")
        self.assertEqual([r["id"] for r in l["records"]], [j["id"]])
        st, h, b = self.sim.call("PUT", "/iot/api/v1/batch-enroll/%s/approve" % j["id"], auth="dc")
        self.assertEqual(st, 204)
        st, g = self.sim.jcall("GET", "/iot/api/v1/batch-enroll/%s" % j["id"], auth="dc")
        self.assertEqual((g["status"], g["issued_count"]), ("COMPLETE", 3))
        st, d = self.sim.jcall("GET", "/iot/api/v1/batch-enroll/%s/download-certificates?offset=1&limit=5" % j["id"], auth="dc")
        self.assertEqual((d["total"], [c["index"] for c in d["certificates"]]), (3, [1, 2]))
        for c in d["certificates"]:
            self.check_chain(pem_certs(c["pem"]), keys[c["index"]])
        mine = [o for o in self.sim.ledger()["orders"] if o.get("job_id") == j["id"]]
        self.assertEqual(sorted((o["job_index"], o["state"]) for o in mine), [(0, "issued"), (1, "issued"), (2, "issued")])
        # rejected through the admin API: every item rejected, licences back
        st, j2, _ = job(4, "job-b")
        self.assertEqual(left(), 3)
        st, j3, _ = job(4, "job-c")            # not enough licences: all or none
        self.assertEqual((st, j3["errors"][0]["code"]), (400, "invalid_input"))
        self.assertIn("license", j3["errors"][0]["message"])
        self.assertEqual(left(), 3)
        v = self.sim.admin("POST", "/jobs/%s/reject" % j2["id"], {"message": "no budget"})
        self.assertEqual((v["status"], v["rejection_reason"]), ("REJECTED", "no budget"))
        self.assertEqual(left(), 7)
        mine = [o for o in self.sim.ledger()["orders"] if o.get("job_id") == j2["id"]]
        self.assertEqual({(o["state"], o["reason"]) for o in mine}, {("rejected", "no budget")})
        st, h, b = self.sim.call("PUT", "/iot/api/v1/batch-enroll/%s/approve" % j2["id"], auth="dc")
        self.assertEqual(st, 400)
        # CSV upload, auto-approving profile: COMPLETE at once
        key, csr = make_csr(self.cn("csv"))
        text = 'csr,subject.common_name,DEVICE_IDENTIFIER\n"%s",csv-dev,AA:00:00:00:99:01\n' % csr
        st, h, b = self.sim.call("POST", "/iot/api/v1/batch-enroll?enrollment_profile_id=%s&name=csv" % DC_INSTANT,
                                 text, auth="dc", headers={"Content-Type": "text/csv"})
        c = json.loads(b)
        self.assertEqual((st, c["status"], c["total_count"]), (201, "COMPLETE", 1), c)
        # faults apply to the new paths too
        self.fault(type="drop_after", api="digicert", method="POST", path="/batch-enroll$")
        with self.assertRaises((http.client.HTTPException, OSError)):
            job(1, "job-d")
        st, l = self.sim.jcall("GET", "/iot/api/v1/batch-enroll?name=job-d", auth="dc")
        self.assertEqual(l["total"], 1)          # processed before the drop
        st, l = self.sim.jcall("GET", "/iot/api/v1/license-usage?enrollment_profile_id=%s" % DC_INSTANT, auth="dc")
        self.assertEqual((l["licenses_total"], l["licenses_remaining"]), (None, None))

    def fault(self, **spec):
        return self.sim.admin("POST", "/faults", spec)["faults"][0]["id"]

    def orders_for(self, key):
        return [o for o in self.sim.ledger()["orders"] if o["spki_sha256"] == spki_hash(key)]

    def test_40_drop_before_and_after(self):
        self.fault(type="drop_before", api="sectigo", method="POST", path=r"/ssl/v1/enroll$")
        key = make_key()
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError, OSError)):
            self.scm_enroll(1001, key=key)
        self.assertEqual(self.orders_for(key), [])
        self.assertEqual(self.sim.journal()[-1]["fault"], "drop_before")
        self.assertIsNone(self.sim.journal()[-1]["status"])
        self.fault(type="drop_after", api="digicert", method="POST", path=r"/certificate$")
        key = make_key()
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError, OSError)):
            self.dc_enroll(key=key)
        got = self.orders_for(key)
        self.assertEqual(len(got), 1)           # committed although the client saw nothing
        self.assertEqual(self.sim.journal()[-1]["order_id"], got[0]["id"])
        # the fault fired once: the next request goes through
        st, j, _, _ = self.dc_enroll()
        self.assertEqual(st, 200)

    def test_41_http_errors_and_rate_limit(self):
        self.fault(type="http_error", api="sectigo", path="/types", nth=2, status=502)
        codes = [self.sim.call("GET", "/api/ssl/v1/types", auth="scm")[0] for _ in range(3)]
        self.assertEqual(codes, [200, 502, 200])
        self.fault(type="rate_limit", api="digicert", retry_after=3)
        st, h, body = self.sim.call("GET", "/iot/api/v1/certificate", auth="dc")
        self.assertEqual((st, h["Retry-After"]), (429, "3"))
        self.assertEqual(json.loads(body)["errors"][0]["code"], "request_limit_exceeded")
        self.fault(type="rate_limit", api="sectigo")
        st, h, body = self.sim.call("GET", "/api/ssl/v1/types", auth="scm")
        self.assertEqual((st, h["Retry-After"]), (429, "1"))
        self.assertIn("code", json.loads(body))
        # error after commit: 503, yet the order exists
        self.fault(type="http_error", api="sectigo", path="/enroll", after=True)
        key = make_key()
        st, j, _ = self.scm_enroll(1001, key=key)
        self.assertEqual(st, 503)
        self.assertEqual(len(self.orders_for(key)), 1)

    def test_42_delay_and_latency(self):
        self.fault(type="delay", delay_ms=300, path="/types")
        t = time.monotonic()
        self.assertEqual(self.sim.call("GET", "/api/ssl/v1/types", auth="scm")[0], 200)
        self.assertGreaterEqual(time.monotonic() - t, 0.3)
        self.sim.admin("POST", "/latency", {"ms": 150})
        try:
            t = time.monotonic()
            self.sim.call("GET", "/api/ssl/v1/types", auth="scm")
            self.assertGreaterEqual(time.monotonic() - t, 0.15)
        finally:
            self.sim.admin("POST", "/latency", {"ms": 0})

    def test_43_malformed_json_truncated_pem_content_type(self):
        st, j, key = self.scm_enroll(1001)
        oid = j["sslId"]
        self.fault(type="malformed_json", method="GET", path=r"/ssl/v1/\d+$")
        st, h, body = self.sim.call("GET", "/api/ssl/v1/%d" % oid, auth="scm")
        self.assertEqual(st, 200)
        with self.assertRaises(ValueError):
            json.loads(body)
        self.fault(type="truncated_pem", path="/collect/")
        st, h, body = self.collect(oid, "x509")
        self.assertEqual(st, 200)
        self.assertEqual(pem_certs(body), [])
        self.assertNotIn(b"-----END CERTIFICATE-----", body)
        self.fault(type="truncated_pem", api="digicert", method="POST")
        st, j, key, cn = self.dc_enroll()
        self.assertEqual(st, 200)
        self.assertNotIn("-----END", j["pem"])
        self.fault(type="wrong_content_type", path="/types")
        st, h, body = self.sim.call("GET", "/api/ssl/v1/types", auth="scm")
        self.assertTrue(h["Content-Type"].startswith("text/html"))
        self.fault(type="wrong_content_type", path="/types", body="<html>proxy login</html>")
        st, h, body = self.sim.call("GET", "/iot/api/v1/enrollment-profile/%s/enrollment-specification" % DC_INSTANT, auth="dc")
        self.assertEqual(st, 200)   # path did not match: unaffected
        st, h, body = self.sim.call("GET", "/api/ssl/v1/types", auth="scm")
        self.assertEqual(body, b"<html>proxy login</html>")

    def test_44_wrong_key_and_bad_chain(self):
        st, j, key = self.scm_enroll(1001)
        oid = j["sslId"]
        self.fault(type="wrong_key", path="/collect/")
        st, h, body = self.collect(oid, "x509CO")
        self.assertFalse(same_key(pem_certs(body)[0], key))
        st, h, body = self.collect(oid, "x509CO")      # fired once only
        self.assertTrue(same_key(pem_certs(body)[0], key))
        self.fault(type="bad_chain", api="digicert", method="POST")
        st, j, key, cn = self.dc_enroll()
        certs = pem_certs(j["pem"])
        self.assertTrue(same_key(certs[0], key))
        self.assertFalse(signed_by(certs[0], certs[1]))
        st, g = self.sim.jcall("GET", "/iot/api/v1/certificate/%s" % j["certificate_id"], auth="dc")
        self.assertTrue(signed_by(x509.load_pem_x509_certificate(g["body"].encode()), certs[1]))
        o = self.orders_for(key)[0]
        self.assertEqual(o["state"], "issued")   # the stored certificate is the right one

    def test_45_probability_count_and_admin_errors(self):
        self.fault(type="http_error", path="/organization", probability=0.5, seed=7, count=0)
        rng = random.Random(7)
        want = [503 if rng.random() < 0.5 else 200 for _ in range(12)]
        got = [self.sim.call("GET", "/api/organization/v1", auth="scm")[0] for _ in range(12)]
        self.assertEqual(got, want)
        self.assertIn(503, got)
        self.assertIn(200, got)
        self.sim.admin("DELETE", "/faults")
        self.fault(type="http_error", path="/organization", count=2, status=500)
        got = [self.sim.call("GET", "/api/organization/v1", auth="scm")[0] for _ in range(3)]
        self.assertEqual(got, [500, 500, 200])
        for bad in ({"type": "nope"}, {"type": "delay", "path": "("}, {"type": "delay", "nth": "x"}):
            st, h, data = self.sim.call("POST", "/__admin/faults", bad, auth="admin")
            self.assertEqual(st, 400, bad)
        st, h, data = self.sim.call("GET", "/__admin/ledger")
        self.assertEqual(st, 401)
        faults = self.sim.admin("GET", "/faults")["faults"]
        self.assertEqual(faults[0]["fired"], 2)

    # -- ledger and journal
    def test_50_ledger_and_journal(self):
        key = make_key()
        st, j, _ = self.scm_enroll(1001, key=key, customFields=[{"name": "requestToken", "value": "rt-77"}],
                                   comments="free text")
        o = self.orders_for(key)
        self.assertEqual(len(o), 1)
        o = o[0]
        for k in ("id", "api", "profile", "state", "spki_sha256", "request_token", "comments", "created",
                  "updated", "issued", "serial"):
            self.assertIn(k, o)
        self.assertEqual(o["request_token"], "rt-77")
        led = self.sim.admin("GET", "/ledger")
        self.assertIn("cert_pem", [x for x in led["orders"] if x["id"] == o["id"]][0])
        ent = [e for e in self.sim.journal() if e["order_id"] == o["id"]][0]
        for k in ("method", "path", "status", "fault", "order_id", "api", "seq", "ts", "auth"):
            self.assertIn(k, ent)
        self.assertEqual((ent["method"], ent["status"], ent["auth"]), ("POST", 200, "password"))
        # "exactly one order per public key" holds for every key in this run except renewals/replace
        per_key = {}
        for x in self.sim.ledger()["orders"]:
            if not x.get("renewed_from"):
                per_key.setdefault(x["spki_sha256"], []).append(x["id"])
        self.assertTrue(all(len(v) == 1 for v in per_key.values()), per_key)

    def test_60_robustness(self):
        for method, path, body in (("GET", "/nothing", None), ("POST", "/api/ssl/v1/enroll", b"\xff\xfe"),
                                   ("DELETE", "/api/ssl/v1/types", None), ("PUT", "/iot/api/v1/certificate/x/revoke", b"[]"),
                                   ("GET", "/api/ssl/v1/collect/abc", None)):
            st, h, data = self.sim.call(method, path, body, auth="scm" if "/api/" in path else "dc")
            self.assertGreaterEqual(st, 400)
            self.assertLess(st, 500, (method, path, data))
        # chunked upload
        c = self.sim.conn()
        try:
            c.putrequest("POST", "/api/ssl/v1/enroll")
            for k, v in (("login", self.sim.scm["login"]), ("password", self.sim.scm["password"]),
                         ("customerUri", self.sim.scm["customer_uri"]), ("Transfer-Encoding", "chunked")):
                c.putheader(k, v)
            c.endheaders()
            data = json.dumps({"orgId": 7, "certType": 1001, "term": 365, "csr": make_csr("chunk")[1]}).encode()
            c.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
            r = c.getresponse()
            self.assertEqual(r.status, 200, r.read())
            r.read()
        finally:
            c.close()
        # a raw non-TLS client does not kill the server
        s = socket.create_connection(("127.0.0.1", self.sim.port), timeout=TIMEOUT)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        s.close()
        self.assertEqual(self.sim.call("GET", "/api/ssl/v1/types", auth="scm")[0], 200)


class RestartTest(unittest.TestCase):
    def test_state_survives_restart(self):
        sim = Sim()
        try:
            key, csr = make_csr("restart.sim.test")
            st, j = sim.jcall("POST", "/api/ssl/v1/enroll", {"orgId": 7, "certType": 1003, "term": 365, "csr": csr}, auth="scm")
            self.assertEqual(st, 200)
            sim.admin("POST", "/profiles", {"api": "sectigo-ssl", "id": 1003, "name": "Sim SSL Approval", "mode": "approval", "polls_after_approval": 1})
            pw = sim.scm["password"]
            sim.stop()
            sim.start()
            self.assertEqual(sim.scm["password"], pw)
            st, h, b = sim.call("POST", "/api/ssl/v1/approve/%d" % j["sslId"], {"message": "after restart"}, auth="scm")
            self.assertEqual(st, 204)
            st, d = sim.jcall("GET", "/api/ssl/v1/%d" % j["sslId"], auth="scm")
            self.assertEqual(d["status"], "Applied")      # polls_after_approval kept across restart
            st, d = sim.jcall("GET", "/api/ssl/v1/%d" % j["sslId"], auth="scm")
            self.assertEqual(d["status"], "Issued")
            st, j2 = sim.jcall("POST", "/api/ssl/v1/enroll", {"orgId": 7, "certType": 1001, "term": 365, "csr": make_csr("r2")[1]}, auth="scm")
            self.assertEqual(j2["sslId"], j["sslId"] + 1)
            self.assertEqual(len(sim.ledger()["orders"]), 2)
        finally:
            sim.cleanup()


class ConfigTest(unittest.TestCase):
    """--config: quirk switches for the [U] items of PORTALS.md and start-up faults; portal-simctl."""

    def test_config_file_and_simctl(self):
        d = tempfile.mkdtemp(prefix="portal-sim-cfg-")
        cfg = os.path.join(d, "cfg.json")
        spit(cfg, json.dumps({
            "sectigo": {"refuse_pkcs7": True, "empty_401": True, "pem_chain_order": "leaf_first",
                        "ssl_pending": {"code": -1400, "description": "The request is being processed by Sectigo."},
                        "ssl_types": [{"id": 1001, "name": "Only", "mode": "polls", "polls": 1}]},
            "digicert": {"error_envelope": "error"},
            "faults": [{"type": "http_error", "path": "/types$", "status": 500}]}))
        sim = Sim(state=os.path.join(d, "state"), extra=["--config", cfg])
        try:
            self.assertEqual(sim.call("GET", "/api/ssl/v1/types", auth="scm")[0], 500)
            st, t = sim.jcall("GET", "/api/ssl/v1/types", auth="scm")
            self.assertEqual([x["id"] for x in t], [1001])
            key, csr = make_csr("cfg.sim.test")
            st, j = sim.jcall("POST", "/api/ssl/v1/enroll", {"orgId": 7, "certType": 1001, "term": 365, "csr": csr}, auth="scm")
            st, h, b = sim.call("GET", "/api/ssl/v1/collect/%d?format=x509" % j["sslId"], auth="scm")
            self.assertEqual((st, json.loads(b)["code"]), (400, -1400))
            st, h, b = sim.call("GET", "/api/ssl/v1/collect/%d?format=x509" % j["sslId"], auth="scm")
            self.assertTrue(same_key(pem_certs(b)[0], key))              # leaf first
            st, h, b = sim.call("GET", "/api/ssl/v1/collect/%d" % j["sslId"], auth="scm")
            self.assertEqual((st, json.loads(b)["code"]), (400, -1450))  # PKCS#7 refused
            st, h, b = sim.call("GET", "/api/ssl/v1/types", headers={"login": "x", "password": "y", "customerUri": "z"})
            self.assertEqual((st, b), (401, b""))
            st, e = sim.jcall("POST", "/iot/api/v1/certificate", {"enrollment_profile_id": "IOT_x"}, auth="dc")
            self.assertEqual((st, e["error"]["code"]), (400, "invalid_input"))
            ctl = os.path.join(HERE, "portal-simctl")
            r = subprocess.run([PY, ctl, "--state", sim.dir, "max-orders-per-key"], capture_output=True, timeout=TIMEOUT)
            self.assertEqual(r.stdout.strip(), b"1")
            r = subprocess.run([PY, ctl, "--state", sim.dir, "fault", '{"type":"drop_before"}'], capture_output=True, timeout=TIMEOUT)
            self.assertEqual(r.returncode, 0)
            with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError, OSError)):
                sim.call("GET", "/api/ssl/v1/types", auth="scm")
            r = subprocess.run([PY, ctl, "--state", sim.dir, "shutdown"], capture_output=True, timeout=TIMEOUT)
            self.assertEqual(r.returncode, 0)
            sim.proc.wait(5)
        finally:
            sim.cleanup()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    t = time.monotonic()
    prog = unittest.main(exit=False, verbosity=2)
    sys.stderr.write("portal-sim self-test: %.1f s\n" % (time.monotonic() - t))
    sys.exit(0 if prog.result.wasSuccessful() else 1)

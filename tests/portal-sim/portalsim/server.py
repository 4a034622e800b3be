"""HTTPS server, dispatch, fault application, journal, CLI.

One ThreadingHTTPServer (HTTP/1.1 keep-alive) serves both portals and the admin
API on 127.0.0.1. TLS handshakes run in the worker thread, not in accept().
"""
import argparse
import hashlib
import json
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import admin, digicert, sectigo
from .ca import CA
from .config import DEFAULTS
from .faults import FaultSet, truncate_pem_text
from .http import ApiError, Request, Response
from .ledger import Journal, State
from .util import deep_merge, write_private, write_atomic

MAX_BODY = 1 << 20
MAX_BATCH_BODY = 256 << 20   # batch job uploads (§2.9: up to 200 MB)


def read_kv(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    k, _, v = line.partition("=")
                    out[k.strip()] = v.strip()
    except FileNotFoundError:
        pass
    return out


class Sim:
    def __init__(self, state_dir, config_file=None, latency_ms=None, verbose=False):
        self.dir = os.path.abspath(state_dir)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self.overlay_path = os.path.join(self.dir, "config.json")
        cfg = DEFAULTS
        if os.path.exists(self.overlay_path):
            with open(self.overlay_path) as f:
                cfg = deep_merge(cfg, json.load(f))
        if config_file:
            with open(config_file) as f:
                cfg = deep_merge(cfg, json.load(f))
        self.cfg = cfg
        self._credentials()
        self.ca = CA(self.dir)
        self.state = State(self.dir)
        self.journal = Journal(self.dir)
        self.faults = FaultSet()
        self.faults.set(cfg.get("faults") or [])
        self.latency_ms = int(latency_ms if latency_ms is not None else cfg.get("latency_ms") or 0)
        tok_path = os.path.join(self.dir, "admin.token")
        self.admin_token = read_kv_token(tok_path)
        if not self.admin_token:
            self.admin_token = secrets.token_hex(16)
            write_private(tok_path, self.admin_token + "\n")
        self.verbose = verbose
        self.port = None
        self.pid = os.getpid()
        self.httpd = None

    # -- credentials (0600 files) ------------------------------------------
    def _credentials(self):
        s, d = self.cfg["sectigo"], self.cfg["digicert"]
        old_s = read_kv(os.path.join(self.dir, "sectigo.cred"))
        old_d = read_kv(os.path.join(self.dir, "digicert.cred"))
        s["login"] = s.get("login") or old_s.get("login") or "p11portal-sim-admin"
        s["password"] = s.get("password") or old_s.get("password") or "scm-" + secrets.token_urlsafe(18)
        d["api_key"] = d.get("api_key") or old_d.get("api_key") or "dc1-" + secrets.token_hex(20)
        d["passcode"] = d.get("passcode") or old_d.get("passcode") or secrets.token_hex(8)

    def write_cred_files(self):
        s, d = self.cfg["sectigo"], self.cfg["digicert"]
        base = "https://127.0.0.1:%d" % self.port
        common = ("ca_file = %s\nclient_cert = %s\nclient_key = %s\n" %
                  (os.path.join(self.dir, "ca.pem"), self.ca.client_cert_path, self.ca.client_key_path))
        write_private(os.path.join(self.dir, "sectigo.cred"),
                      "# portal-sim: Sectigo SCM credentials (PORTALS.md §1.2). Mode 0600.\n"
                      "base_url = %s\nprivate_base_url = %s/private\nlogin = %s\npassword = %s\n"
                      "customer_uri = %s\norg_id = %s\n%s"
                      % (base, base, s["login"], s["password"], s["customerUri"], s["orgId"], common))
        write_private(os.path.join(self.dir, "digicert.cred"),
                      "# portal-sim: DigiCert ONE IoT credentials (PORTALS.md §2.2). Mode 0600.\n"
                      "base_url = %s\napi_key = %s\npasscode = %s\n%s" % (base, d["api_key"], d["passcode"], common))

    # -- config changes from the admin API -----------------------------------
    def _persist_cfg(self):
        c = json.loads(json.dumps(self.cfg))
        for k in ("login", "password"):
            c["sectigo"].pop(k, None)
        for k in ("api_key", "passcode"):
            c["digicert"].pop(k, None)
        c.pop("faults", None)
        write_atomic(self.overlay_path, json.dumps(c, indent=1))

    def update_config(self, patch):
        with self.state.lock:
            patch = dict(patch)
            patch.pop("faults", None)
            self.cfg = deep_merge(self.cfg, patch)
            self._persist_cfg()

    def upsert_profile(self, spec):
        api = spec["api"]
        prof = {k: v for k, v in spec.items() if k != "api"}
        with self.state.lock:
            if api == "digicert":
                lst = self.cfg["digicert"]["profiles"]
            else:
                lst = self.cfg["sectigo"]["ssl_types" if api == "sectigo-ssl" else "device_types"]
                prof["id"] = int(prof["id"])
            for p in lst:
                if str(p["id"]) == str(prof["id"]):
                    p.update(prof)
                    break
            else:
                prof.setdefault("name", "Profile %s" % prof["id"])
                lst.append(prof)
            self._persist_cfg()

    # -- certificate output with faults -----------------------------------------
    def out_cert(self, o, req):
        from . import orders
        cert = orders.cert_of(o)
        if req.cert_fault is None:
            return cert
        v = req._variants.get(o["id"])
        if v is None:
            v = (self.ca.wrong_key_variant(cert) if req.cert_fault == "wrong_key"
                 else self.ca.bad_chain_variant(cert))
            req._variants[o["id"]] = v
        return v


def read_kv_token(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


class _Drop(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "portal-sim/1.0"
    sys_version = ""

    def version_string(self):
        return self.server_version
    timeout = 60   # idle keep-alive connections are closed after this

    def log_message(self, fmt, *args):
        if self.server.sim.verbose:
            sys.stderr.write("portal-sim: %s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self._serve()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    # -- body -------------------------------------------------------------------
    def _read_body(self):
        limit = MAX_BATCH_BODY if "/batch-enroll" in self.path else MAX_BODY
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = b""
            while True:
                line = self.rfile.readline(1024)
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline(1024).strip():
                        pass
                    return out
                out += self.rfile.read(n)
                self.rfile.readline(8)
                if len(out) > limit:
                    raise ValueError("body too large")
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > limit:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else b""

    def _peer_fp(self):
        try:
            der = self.connection.getpeercert(binary_form=True)
        except (AttributeError, ValueError):
            der = None
        return hashlib.sha256(der).digest() if der else None

    # -- main -------------------------------------------------------------------
    def _serve(self):
        sim = self.server.sim
        t0 = time.monotonic()
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send(Response(413, {"error": "request body unreadable or too large"}))
            return
        req = Request(self.command, self.path, self.headers, body, self._peer_fp())
        path = req.path
        if path.startswith("/__admin"):
            try:
                resp = admin.handle(sim, req)
            except admin.AdminError as e:
                resp = Response(e.status, {"error": e.msg})
            except Exception:
                traceback.print_exc()
                resp = Response(500, {"error": "internal error"})
            self._send(resp)
            return
        if path.startswith("/api/") or path.startswith("/private/api/"):
            api, mod = "sectigo", sectigo
        elif path.startswith("/iot/"):
            api, mod = "digicert", digicert
        else:
            self._send(Response(404, {"error": "unknown path"}))
            return
        rec = {"api": api, "method": self.command, "path": self.path, "status": None,
               "fault": None, "fault_id": None, "order_id": None, "auth": None}
        if sim.latency_ms:
            time.sleep(sim.latency_ms / 1000.0)
        fault = sim.faults.pick(api, self.command, path)
        ftype = fault["type"] if fault else None
        if fault:
            rec["fault"], rec["fault_id"] = ftype, fault["id"]
        try:
            if ftype == "delay":
                time.sleep(int(fault.get("delay_ms", 1000)) / 1000.0)
            if ftype == "drop_before":
                raise _Drop()
            if ftype in ("http_error", "rate_limit") and not fault.get("after"):
                resp = self._fault_error(sim, mod, api, fault)
            else:
                if ftype in ("wrong_key", "bad_chain"):
                    req.cert_fault = ftype
                resp = self._process(sim, mod, api, req)
                if ftype == "drop_after":
                    raise _Drop()
                resp = self._post_fault(sim, mod, api, fault, resp)
        except _Drop:
            rec.update(order_id=req.order_id, auth=req.auth, ms=int((time.monotonic() - t0) * 1000))
            sim.journal.write(rec)
            self._drop()
            return
        rec.update(status=resp.status, order_id=req.order_id, auth=req.auth,
                   ms=int((time.monotonic() - t0) * 1000))
        sim.journal.write(rec)
        self._send(resp)

    def _process(self, sim, mod, api, req):
        try:
            return mod.handle(sim, req)
        except ApiError as e:
            body = e.body
            return Response(e.status, body, "application/json" if body else None, e.headers)
        except Exception:
            traceback.print_exc()
            if api == "sectigo":
                return Response(500, {"code": -1, "description": "Internal error"})
            return Response(500, {"errors": [{"code": "internal_error", "message": "Internal error"}]})

    def _fault_error(self, sim, mod, api, fault):
        kind = fault["type"]
        status = int(fault.get("status") or (429 if kind == "rate_limit" else 503))
        hdr = {}
        ra = fault.get("retry_after", 1 if kind == "rate_limit" else None)
        if ra is not None:
            hdr["Retry-After"] = str(ra)
        if fault.get("body") is not None:
            return Response(status, str(fault["body"]), fault.get("content_type", "text/plain"), hdr)
        if api == "sectigo":
            body = sectigo.error_body(status, kind)
        else:
            body = digicert.error_body(sim, status, kind)
        return Response(status, body, "application/json", hdr)

    def _post_fault(self, sim, mod, api, fault, resp):
        if not fault:
            return resp
        t = fault["type"]
        if t in ("http_error", "rate_limit"):   # with "after": true
            return self._fault_error(sim, mod, api, fault)
        if t == "malformed_json":
            b = resp.body or b'{"'
            resp.body = b[: max(1, len(b) // 2)]
            if resp.status == 204:
                resp.status = 200
            resp.content_type = resp.content_type or "application/json"
        elif t == "truncated_pem":
            resp.body = _truncate_pem_body(resp)
        elif t == "wrong_content_type":
            resp.content_type = fault.get("content_type") or "text/html; charset=iso-8859-1"
            if fault.get("body") is not None:
                resp.body = str(fault["body"]).encode()
        return resp

    # -- output -------------------------------------------------------------------
    def _send(self, resp):
        try:
            self.send_response(resp.status)
            if resp.content_type:
                self.send_header("Content-Type", resp.content_type)
            for k, v in resp.headers.items():
                self.send_header(k, v)
            if resp.status not in (204, 304):
                self.send_header("Content-Length", str(len(resp.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            # Headers and body in one write (one TLS record): no Nagle/delayed-ACK stall.
            self._headers_buffer.append(b"\r\n")
            if self.command != "HEAD" and resp.status not in (204, 304):
                self._headers_buffer.append(resp.body)
            self.flush_headers()
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _drop(self):
        """Close the socket without any reply (no TLS close_notify either)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _truncate_pem_body(resp):
    b = resp.body or b""
    if resp.content_type and "json" in resp.content_type:
        try:
            doc = json.loads(b)
        except ValueError:
            return b[: len(b) // 2]

        def walk(x):
            if isinstance(x, str):
                return truncate_pem_text(x) if "-----BEGIN" in x else x
            if isinstance(x, list):
                return [walk(i) for i in x]
            if isinstance(x, dict):
                return {k: walk(v) for k, v in x.items()}
            return x
        return json.dumps(walk(doc)).encode()
    if b"-----BEGIN" in b:
        return truncate_pem_text(b.decode("latin-1")).encode("latin-1")
    return b[: len(b) // 2]   # DER (PKCS#7 bin)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, sim, ctx):
        self.sim = sim
        self.ctx = ctx
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        """TLS handshake here, in the worker thread."""
        request.settimeout(10)
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            try:
                request.close()
            except OSError:
                pass
            return
        try:
            tls.settimeout(Handler.timeout)
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if self.sim.verbose:
            traceback.print_exc()


def make_ssl_context(sim):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sim.ca.tls_cert_path, sim.ca.tls_key_path)
    ctx.load_verify_locations(os.path.join(sim.dir, "ca.pem"))
    ctx.verify_mode = ssl.CERT_OPTIONAL   # client certs: /private/api and DigiCert mTLS
    return ctx


HELP_EPILOG = """\
State directory (created; mode 0700):
  ca.pem          trust anchor (root CA) of the TLS certificate and of issued certificates
  chain.pem       issuing CA + root
  sectigo.cred    0600, key = value: base_url, private_base_url, login, password,
                  customer_uri, org_id, ca_file, client_cert, client_key
  digicert.cred   0600, key = value: base_url, api_key, passcode, ca_file, client_cert, client_key
  client.pem/.key 0600, client certificate for /private/api and DigiCert mutual TLS
  admin.token     0600, token for the admin API (header X-Admin-Token)
  port, url, pid  the port chosen, https://127.0.0.1:PORT, the process id
  ledger.json     every order (id, api, profile, state, spki_sha256, request_token, ...)
  journal.jsonl   one line per portal request (method, path, status, fault, order_id)
  config.json     configuration changed through the admin API (kept across restarts)
  store/, ca/     CSRs and certificates of orders; CA keys

APIs:   Sectigo SCM under /api/... and /private/api/... ; DigiCert ONE IoT under /iot/...
        (batch jobs /iot/api/v1/batch-enroll, licences /iot/api/v1/license-usage)
Admin:  /__admin/health, ledger, journal, faults, latency, config, profiles, quota,
        orders/<id>/{approve,decline,reject,issue,revoke}, jobs, jobs/<id>/{approve,reject},
        reset, shutdown

Default profiles (change with --config or POST /__admin/profiles; see --print-config):
  Sectigo SSL    certType 1001 issue, 1002 polls(2), 1003 approval, 1004 reject,
                 1005 ca_reject, 1006 issue with quota 2          (orgId 7, terms 365/730)
  Sectigo device certType 2001 issue, 2002 polls(2), 2003 approval, 2004 reject,
                 2005 issue with quota 2
  DigiCert       IOT_5f0c0a6e-51a1-4c1e-9a55-00000000000N: N=1 issue, 2 polls(2),
                 3 approval, 4 reject, 5 issue with quota 2
Fault types (POST /__admin/faults or "faults" in --config): drop_before, drop_after,
  http_error, rate_limit, delay, malformed_json, truncated_pem, wrong_key, bad_chain,
  wrong_content_type; targeted by api, method, path regex, nth, count, probability+seed.
Full documentation: docs/portal-sim.md
"""


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="portal-sim", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Simulator of the Sectigo Certificate Manager REST API and the DigiCert ONE "
                    "IoT Trust Manager API v1, over HTTPS on 127.0.0.1, with a real CA, "
                    "approval flows, a ledger, a request journal and fault injection.",
        epilog=HELP_EPILOG)
    ap.add_argument("--listen", default="127.0.0.1:0", metavar="127.0.0.1:PORT",
                    help="address to listen on; PORT 0 picks a free port (default 127.0.0.1:0)")
    ap.add_argument("--state", metavar="DIR", help="state directory (required unless --print-config)")
    ap.add_argument("--config", metavar="FILE", help="JSON file deep-merged over the default configuration")
    ap.add_argument("--latency-ms", type=int, default=None, metavar="N",
                    help="add N ms to every portal request (benchmarks)")
    ap.add_argument("--reset", action="store_true", help="forget all orders, journal and quota counters at start")
    ap.add_argument("--verbose", action="store_true", help="log each request line to stderr")
    ap.add_argument("--print-config", action="store_true", help="print the default configuration and exit")
    a = ap.parse_args(argv)
    if a.print_config:
        print(json.dumps(DEFAULTS, indent=1))
        return 0
    if not a.state:
        ap.error("--state DIR is required")
    host, _, port = a.listen.rpartition(":")
    if host not in ("127.0.0.1", "localhost") or not port.isdigit():
        ap.error("--listen must be 127.0.0.1:PORT (loopback only)")
    try:
        os.unlink(os.path.join(a.state, "port"))   # never let a reader see a stale port
    except FileNotFoundError:
        pass
    try:
        sim = Sim(a.state, a.config, a.latency_ms, a.verbose)
    except (OSError, ValueError) as e:
        sys.stderr.write("portal-sim: %s\n" % e)
        return 1
    if a.reset:
        sim.state.reset()
        sim.journal.reset()
    httpd = Server(("127.0.0.1", int(port)), sim, make_ssl_context(sim))
    sim.httpd = httpd
    sim.port = httpd.server_address[1]
    sim.write_cred_files()
    url = "https://127.0.0.1:%d" % sim.port
    write_atomic(os.path.join(sim.dir, "url"), url + "\n")
    write_atomic(os.path.join(sim.dir, "pid"), "%d\n" % os.getpid())
    write_atomic(os.path.join(sim.dir, "port"), "%d\n" % sim.port)  # last: readers wait for it

    def stop(*_):
        threading.Thread(target=httpd.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("listening on %s" % url, flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        sim.state.flush()
    return 0

"""Fault injection (STYLE.md §3.14; issue 3 "Fault injection chosen per test").

A fault is a JSON object:
  type         drop_before | drop_after | http_error | rate_limit | delay |
               malformed_json | truncated_pem | wrong_key | bad_chain |
               wrong_content_type
  api          "sectigo" | "digicert" | null (any)
  method       "GET" | "POST" | ... | null (any)
  path         regular expression searched in the request path (no query
               string; the /private prefix is part of the path) | null (any)
  nth          fire from the Nth matching request on (1-based, default 1)
  count        how many times to fire (default 1; 0 = unlimited)
  probability  chance to fire on each eligible request (default 1.0)
  seed         seed of that chance (default 0), for reproducible runs
  status       http_error: HTTP status (default 503); rate_limit: 429
  retry_after  rate_limit (default 1) / http_error (default none): Retry-After seconds
  delay_ms     delay: pause before answering (default 1000)
  after        http_error / rate_limit: process (commit) the request first,
               then answer the error (default false)
  body         http_error / rate_limit / wrong_content_type: body text to send
               instead of the portal's error envelope / the real body
  content_type wrong_content_type: default "text/html; charset=iso-8859-1"

Request-level semantics:
  drop_before       socket closed without any reply; nothing processed
  drop_after        request processed and state saved, then socket closed without reply
  http_error        5xx (or given status) with the portal's error envelope
  rate_limit        429 + Retry-After with the portal's envelope
  delay             sleep delay_ms, then the normal answer
  malformed_json    normal processing, the JSON body is cut in half (status kept)
  truncated_pem     normal processing, every PEM in the answer is cut mid-base64
  wrong_key         certificates in the answer are for a different key
  bad_chain         the leaf is signed by a key that is not the intermediate's
  wrong_content_type normal processing, Content-Type replaced (and body if `body`)
"""
import random
import re
import threading

TYPES = ("drop_before", "drop_after", "http_error", "rate_limit", "delay",
         "malformed_json", "truncated_pem", "wrong_key", "bad_chain",
         "wrong_content_type")


class FaultError(ValueError):
    pass


class Fault:
    def __init__(self, fid, spec):
        if not isinstance(spec, dict):
            raise FaultError("fault must be a JSON object")
        t = spec.get("type")
        if t not in TYPES:
            raise FaultError("unknown fault type %r; one of %s" % (t, ", ".join(TYPES)))
        self.spec = dict(spec)
        self.id = fid
        self.type = t
        self.api = spec.get("api")
        if self.api not in (None, "sectigo", "digicert"):
            raise FaultError("api must be sectigo, digicert or null")
        self.method = (spec.get("method") or "").upper() or None
        try:
            self.path = re.compile(spec["path"]) if spec.get("path") else None
        except re.error as e:
            raise FaultError("bad path regex: %s" % e)
        try:
            self.nth = int(spec.get("nth", 1))
            self.count = int(spec.get("count", 1))
            self.prob = float(spec.get("probability", 1.0))
            self.rng = random.Random(int(spec.get("seed", 0)))
            int(spec.get("delay_ms", 0))
            int(spec.get("status", 0))
        except (TypeError, ValueError) as e:
            raise FaultError("bad numeric field: %s" % e)
        self.seen = 0
        self.fired = 0

    def matches(self, api, method, path):
        if self.api and self.api != api:
            return False
        if self.method and self.method != method:
            return False
        if self.path and not self.path.search(path):
            return False
        return True

    def view(self):
        return dict(self.spec, id=self.id, seen=self.seen, fired=self.fired)


class FaultSet:
    def __init__(self):
        self.lock = threading.Lock()
        self.faults = []
        self.next_id = 1

    def add(self, spec):
        with self.lock:
            f = Fault(self.next_id, spec)
            self.next_id += 1
            self.faults.append(f)
            return f.view()

    def set(self, specs):
        new = []
        with self.lock:
            for s in specs:
                new.append(Fault(self.next_id, s))
                self.next_id += 1
            self.faults = new
            return [f.view() for f in new]

    def clear(self):
        with self.lock:
            self.faults = []

    def remove(self, fid):
        with self.lock:
            n = len(self.faults)
            self.faults = [f for f in self.faults if f.id != fid]
            return len(self.faults) != n

    def views(self):
        with self.lock:
            return [f.view() for f in self.faults]

    def pick(self, api, method, path):
        """First fault that fires for this request (its spec, with id), or None.
        Every matching fault counts the request, even when an earlier one fires."""
        chosen = None
        with self.lock:
            for f in self.faults:
                if not f.matches(api, method, path):
                    continue
                f.seen += 1
                if chosen is not None:
                    continue
                if f.seen < f.nth:
                    continue
                if f.count > 0 and f.fired >= f.count:
                    continue
                if f.prob < 1.0 and f.rng.random() >= f.prob:
                    continue
                f.fired += 1
                chosen = dict(f.spec, id=f.id)
        return chosen


def truncate_pem_text(text):
    """Cut every PEM block in half of its base64 and drop the END line."""
    def cut(m):
        body = m.group(2)
        return m.group(1) + body[: max(1, len(body) // 2)]
    return re.sub(r"(-----BEGIN [A-Z0-9 ]+-----\r?\n)(.*?)-----END [A-Z0-9 ]+-----\r?\n?", cut, text, flags=re.S)

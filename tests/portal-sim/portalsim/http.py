"""Request/response objects shared by the API modules."""
import json
from urllib.parse import parse_qs

from .util import dumps


class ApiError(Exception):
    """An error answer in the portal's own envelope (built by the API module)."""

    def __init__(self, status, body, headers=None):
        super().__init__(status)
        self.status = status
        self.body = body          # dict (JSON) or bytes (raw, e.g. empty 401)
        self.headers = headers or {}


class BadJson(Exception):
    pass


class Request:
    def __init__(self, method, raw_path, headers, body, peer_cert_fp):
        self.method = method
        path, _, qs = raw_path.partition("?")
        self.raw_path = raw_path
        self.path = path
        # keep_blank_values: `?=&` and `status=` occur (§3b.15); empty values ignored later
        self.query_multi = parse_qs(qs, keep_blank_values=True)
        self.query = {k: v[0] for k, v in self.query_multi.items() if k}
        self.headers = headers
        self.body = body
        self.peer_cert_fp = peer_cert_fp
        self.order_id = None      # set by handlers: journal `order_id`
        self.cert_fault = None    # wrong_key | bad_chain, applied when rendering certs
        self.auth = None
        self._variants = {}

    def q(self, name):
        v = self.query.get(name)
        return v if v not in (None, "") else None

    def header(self, name):
        return self.headers.get(name)

    def json(self, allow_empty=False):
        """Parse the body as JSON. Empty body -> None when allow_empty."""
        raw = self.body.strip()
        if not raw:
            if allow_empty:
                return None
            raise BadJson("empty body")
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise BadJson(str(e))


class Response:
    def __init__(self, status=200, body=b"", content_type="application/json", headers=None):
        self.status = status
        if isinstance(body, (dict, list)):
            body = dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.body = body
        self.content_type = content_type if body or status not in (204,) else None
        self.headers = dict(headers or {})


def json_response(obj, status=200, headers=None):
    return Response(status, obj, "application/json", headers)

"""Small helpers shared by the simulator modules."""
import datetime
import json
import os
import tempfile


def utcnow():
    return datetime.datetime.utcnow().replace(microsecond=0)


def iso_z(dt):
    """DigiCert timestamps: ISO-8601 UTC with Z (PORTALS.md §2.3)."""
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


def parse_iso(s):
    if not s:
        return None
    s = s.rstrip("Z")
    for f in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d"):
        try:
            return datetime.datetime.strptime(s, f)
        except ValueError:
            pass
    return None


# Sectigo ?dateFormat= names (PORTALS.md §1.3 "Dates"). Default US = MM/dd/yyyy.
_SCM_NAMED = {
    "US": "%m/%d/%Y", "US_HMS": "%m/%d/%Y %H:%M:%S",
    "ISO": "%Y-%m-%d", "ISO_HMS": "%Y-%m-%dT%H:%M:%S",
    "EU": "%d.%m.%Y", "EU_HMS": "%d.%m.%Y %H:%M:%S",
    "UK": "%d/%m/%Y", "UK_HMS": "%d/%m/%Y %H:%M:%S",
    "JP": "%Y/%m/%d", "JP_HMS": "%Y/%m/%d %H:%M:%S",
}


def scm_date_format(q):
    """Map a dateFormat query value (name or Java-style pattern) to strftime."""
    if not q:
        return _SCM_NAMED["US"]
    if q.upper() in _SCM_NAMED:
        return _SCM_NAMED[q.upper()]
    f = q
    for j, p in (("yyyy", "%Y"), ("yy", "%y"), ("MM", "%m"), ("dd", "%d"),
                 ("HH", "%H"), ("mm", "%M"), ("ss", "%S"), ("'T'", "T")):
        f = f.replace(j, p)
    return f


def write_private(path, data):
    """Write bytes with mode 0600 (credential files, keys)."""
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path + ".tmp", 0o600)
    os.replace(path + ".tmp", path)


def write_atomic(path, text):
    d = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


def deep_merge(base, over):
    """Merge dict `over` into a copy of `base` (lists replaced, dicts merged)."""
    out = dict(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def as_int(v):
    """Loose numeric coercion (PORTALS.md §3b.4: numbers arrive as strings)."""
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        raise ValueError("bool")
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v.strip())
    raise ValueError(repr(v))

"""The simulator's own CA hierarchy (root + issuing intermediate), TLS server
certificate, admin client certificate, and CSR handling.

Everything lives under STATE/ca/ and is created on first start, reused after.
The root is the trust anchor for both the TLS server certificate and issued leaves
(STATE/ca.pem). A "rogue" key with the intermediate's name is kept to produce
chains that do not verify (fault `bad_chain`).
"""
import base64
import binascii
import datetime
import hashlib
import os
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, ed25519, ed448
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .util import write_private, utcnow

ROOT_NAME = "p11portal Simulator Root CA"
INT_NAME = "p11portal Simulator Issuing CA"


class CsrError(Exception):
    """A CSR could not be used. `kind` picks the portal error code:
    base64 | decode | signature | algorithm | keysize | small."""

    def __init__(self, kind, msg):
        super().__init__(msg)
        self.kind = kind


def _name(cn):
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "XX"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "p11portal test"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _save_key(path, key):
    write_private(path, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def _load_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def _load_cert(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def spki_der(pub):
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def spki_sha256(pub):
    return hashlib.sha256(spki_der(pub)).hexdigest()


def serial_colon(n):
    """Sectigo form: upper-case hex, colon-separated (PORTALS.md §1.4.5, §1.13.10)."""
    h = "%X" % n
    if len(h) % 2:
        h = "0" + h
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


def serial_plain(n):
    """DigiCert form: upper-case hex without separators (§2.5, §2.13.6)."""
    h = "%X" % n
    return ("0" + h) if len(h) % 2 else h


def parse_serial(s):
    """Accept colon-hex, plain hex, any case. Returns int or None."""
    s = (s or "").replace(":", "").replace(" ", "").strip()
    if not s or not re.fullmatch(r"[0-9A-Fa-f]+", s):
        return None
    return int(s, 16)


_PEM_RE = re.compile(r"-----BEGIN (NEW )?CERTIFICATE REQUEST-----(.*?)-----END (NEW )?CERTIFICATE REQUEST-----", re.S)


def parse_csr(text):
    """PEM (with real or JSON-escaped newlines) or bare base64 PKCS#10 (§1.4.3, §3b.14)."""
    if not isinstance(text, str) or not text.strip():
        raise CsrError("missing", "csr is required but missing.")
    t = text.replace("\\n", "\n").replace("\\r", "")
    m = _PEM_RE.search(t)
    body = m.group(2) if m else t
    if "-----" in body:
        raise CsrError("base64", "CSR is not valid Base-64 data")
    body = re.sub(r"\s+", "", body)
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise CsrError("base64", "CSR is not valid Base-64 data")
    try:
        csr = x509.load_der_x509_csr(der)
        csr.public_key()   # raises on keys cryptography cannot load
    except Exception:  # cryptography raises ValueError and friends
        raise CsrError("decode", "Error decoding CSR")
    try:
        ok = csr.is_signature_valid
    except Exception:
        ok = False
    if not ok:
        raise CsrError("signature", "The CSR is invalid (bad signature)")
    return csr


def key_type(pub):
    """('RSA', '2048') / ('EC', 'P-256') / ('EdDSA', 'Ed25519')."""
    if isinstance(pub, rsa.RSAPublicKey):
        return "RSA", str(pub.key_size)
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return "EC", {"secp256r1": "P-256", "secp384r1": "P-384",
                      "secp521r1": "P-521"}.get(pub.curve.name, pub.curve.name)
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return "EdDSA", "Ed25519"
    if isinstance(pub, ed448.Ed448PublicKey):
        return "EdDSA", "Ed448"
    return "UNKNOWN", "0"


def csr_cn(csr):
    a = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return a[0].value if a else ""


def csr_sans(csr):
    try:
        ext = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        return [str(v) for v in ext.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        return []
    except Exception:
        return []


class CA:
    def __init__(self, state_dir):
        self.dir = os.path.join(state_dir, "ca")
        os.makedirs(self.dir, exist_ok=True)
        self.state_dir = state_dir
        p = lambda n: os.path.join(self.dir, n)  # noqa: E731
        if not os.path.exists(p("int.pem")):
            self._create(p)
        self.root_key = _load_key(p("root.key"))
        self.root = _load_cert(p("root.pem"))
        self.int_key = _load_key(p("int.key"))
        self.int = _load_cert(p("int.pem"))
        self.rogue_key = _load_key(p("rogue.key"))
        self.tls_cert_path, self.tls_key_path = p("tls.pem"), p("tls.key")
        self.client_cert_path = os.path.join(state_dir, "client.pem")
        self.client_key_path = os.path.join(state_dir, "client.key")
        if not os.path.exists(self.client_cert_path):
            self._client()
        self.client_cert = _load_cert(self.client_cert_path)
        self.client_fp = self.client_cert.fingerprint(hashes.SHA256())
        with open(os.path.join(state_dir, "ca.pem"), "w") as f:
            f.write(pem(self.root))
        with open(os.path.join(state_dir, "chain.pem"), "w") as f:
            f.write(pem(self.int) + pem(self.root))

    # -- creation ---------------------------------------------------------
    def _create(self, p):
        now = utcnow() - datetime.timedelta(minutes=5)
        root_key = ec.generate_private_key(ec.SECP256R1())
        root = (x509.CertificateBuilder()
                .subject_name(_name(ROOT_NAME)).issuer_name(_name(ROOT_NAME))
                .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
                .sign(root_key, hashes.SHA256()))
        int_key = ec.generate_private_key(ec.SECP256R1())
        inter = (x509.CertificateBuilder()
                 .subject_name(_name(INT_NAME)).issuer_name(root.subject)
                 .public_key(int_key.public_key()).serial_number(x509.random_serial_number())
                 .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3000))
                 .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                 .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
                 .add_extension(x509.SubjectKeyIdentifier.from_public_key(int_key.public_key()), critical=False)
                 .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
                 .sign(root_key, hashes.SHA256()))
        tls_key = ec.generate_private_key(ec.SECP256R1())
        import ipaddress
        tls = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
               .issuer_name(root.subject).public_key(tls_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=825))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
               .add_extension(x509.SubjectAlternativeName([
                   x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                   x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
               .sign(root_key, hashes.SHA256()))
        _save_key(p("root.key"), root_key)
        _save_key(p("int.key"), int_key)
        _save_key(p("tls.key"), tls_key)
        _save_key(p("rogue.key"), ec.generate_private_key(ec.SECP256R1()))
        for n, c in (("root.pem", root), ("int.pem", inter)):
            with open(p(n), "w") as f:
                f.write(pem(c))
        with open(p("tls.pem"), "w") as f:  # server cert + root-issued: no intermediate needed
            f.write(pem(tls))

    def _client(self):
        """Admin client certificate for /private/api (Sectigo §1.2, §3b.14) and
        DigiCert mTLS (§2.2). Written mode 0600 beside the credential files."""
        now = utcnow() - datetime.timedelta(minutes=5)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "p11portal simulator admin client")]))
                .issuer_name(self.root.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=825))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(self.root_key, hashes.SHA256()))
        _save_key(self.client_key_path, key)
        write_private(self.client_cert_path, pem(cert).encode())

    # -- issuing ----------------------------------------------------------
    def issue(self, pub, subject, sans, days, eku_server=True, serial=None,
              signer=None, backdate_minutes=1):
        """Sign a leaf for `pub`. `signer` = rogue key gives a chain that does not verify.
        notBefore is backdate_minutes in the past (config ca.backdate_minutes)."""
        now = utcnow() - datetime.timedelta(minutes=backdate_minutes)
        eku = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if eku_server:
            eku.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
        is_rsa = isinstance(pub, rsa.RSAPublicKey)
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.int.subject)
             .public_key(pub).serial_number(serial or x509.random_serial_number())
             .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=int(days)))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(True, False, is_rsa, False, False, False, False, False, False), critical=True)
             .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.int_key.public_key()), critical=False))
        try:
            b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        except Exception:
            pass
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
        return b.sign(signer or self.int_key, hashes.SHA256())

    def wrong_key_variant(self, cert):
        """Same subject/serial, but for a fresh key (fault `wrong_key`)."""
        k = ec.generate_private_key(ec.SECP256R1())
        return self._resign(cert, k.public_key(), self.int_key)

    def bad_chain_variant(self, cert):
        """Same key/subject/serial, signed by a key that is not the intermediate's."""
        return self._resign(cert, cert.public_key(), self.rogue_key)

    def _resign(self, cert, pub, signer):
        b = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.issuer)
             .public_key(pub).serial_number(cert.serial_number)
             .not_valid_before(cert.not_valid_before).not_valid_after(cert.not_valid_after))
        for e in cert.extensions:
            if isinstance(e.value, x509.SubjectKeyIdentifier):
                try:
                    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
                except Exception:
                    pass
                continue
            b = b.add_extension(e.value, critical=e.critical)
        return b.sign(signer, hashes.SHA256())

    def pkcs7(self, certs, der=False):
        enc = serialization.Encoding.DER if der else serialization.Encoding.PEM
        return pkcs7.serialize_certificates(certs, enc)

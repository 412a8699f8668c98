"""A real RFC 3161 Time-Stamping Authority for tests: OpenSSL's ``openssl ts -reply`` behind a
loopback HTTP handler, with a test CA and a TSA certificate made here (decision 0104).

    with serve_tsa(tmp_path / "tsa") as tsa:   # tsa.url, tsa.ca_pem, tsa.tsa_pem, tsa.requests
        ...

The caller needs ``openssl`` on PATH (``need_command("openssl", ...)``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OPENSSL = "openssl"  # found on PATH: the tests that start a TSA require it


@dataclass
class TSA:
    url: str
    ca_pem: Path
    tsa_pem: Path
    requests: int = 0


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def write_pki(d: Path) -> tuple[Path, Path, Path]:
    """A test CA and a TSA certificate it issued (critical extendedKeyUsage timeStamping)."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("TenderHall test TSA CA"))
        .issuer_name(_name("TenderHall test TSA CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("TenderHall test TSA"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, tsa_pem, tsa_key = d / "ca.pem", d / "tsa.pem", d / "tsa.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    tsa_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tsa_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_pem, tsa_pem, tsa_key


def write_config(d: Path) -> Path:
    (d / "serial").write_text("01\n")
    conf = d / "openssl.cnf"
    conf.write_text(
        f"""
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
serial = {d / "serial"}
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""
    )
    return conf


@contextlib.contextmanager
def serve_tsa(d: Path) -> Iterator[TSA]:
    """A TSA on loopback: each POSTed query is answered by ``openssl ts -reply``."""
    d.mkdir()
    ca_pem, tsa_pem, tsa_key = write_pki(d)
    conf = write_config(d)
    lock = threading.Lock()
    state = TSA(url="", ca_pem=ca_pem, tsa_pem=tsa_pem)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                state.requests += 1
                req, resp = d / f"{uuid.uuid4().hex}.tsq", d / f"{uuid.uuid4().hex}.tsr"
                req.write_bytes(body)
                done = subprocess.run(
                    [
                        str(OPENSSL),
                        "ts",
                        "-reply",
                        "-config",
                        str(conf),
                        "-queryfile",
                        str(req),
                        "-signer",
                        str(tsa_pem),
                        "-inkey",
                        str(tsa_key),
                        # no -chain: OpenSSL writes the certificate SET unsorted, which the
                        # strict DER parser of rfc3161-client refuses (decision 0104)
                        "-out",
                        str(resp),
                    ],
                    capture_output=True,
                    check=False,
                )
            if done.returncode != 0:
                self.send_error(500, "openssl ts -reply failed")
                return
            data = resp.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/tsa"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def dead_url() -> str:
    """A loopback URL where nothing listens (a port just taken and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"

"""The platform signing key: created once (also when several processes start together), private,
and its raw and detached CMS signatures verify with openssl."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from tenderhall.settings import Settings
from tenderhall.signing import CERT_COMMON_NAME, load_or_create, platform_signer, verify_signature
from tests.conftest import need_command


def need_openssl() -> str:
    return need_command("openssl", "the CMS signature cannot be checked with it", package="openssl")


def test_key_and_certificate_are_created_once_and_reused(tmp_path: Path) -> None:
    first = load_or_create(tmp_path)
    again = load_or_create(tmp_path)
    assert first.key_id == again.key_id
    assert (tmp_path / "platform-signing.key").stat().st_mode & 0o777 == 0o600
    cert = x509.load_pem_x509_certificate((tmp_path / "platform-signing.crt").read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CERT_COMMON_NAME
    assert cert.issuer == cert.subject
    der = first.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert first.key_id == hashlib.sha256(der).hexdigest()
    assert platform_signer(Settings(key_dir=tmp_path)).key_id == first.key_id


def test_processes_starting_together_end_up_with_one_key(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from tenderhall.signing import load_or_create; "
        "print(load_or_create(Path(sys.argv[1])).key_id)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    ids = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(ids) == 1
    assert ids == {load_or_create(tmp_path).key_id}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["platform-signing.crt", "platform-signing.key"]


def test_raw_signature_verifies_only_for_the_signed_bytes(tmp_path: Path) -> None:
    signer = load_or_create(tmp_path)
    sig = signer.sign(b"receipt 1")
    assert signer.verify(b"receipt 1", sig)
    assert verify_signature(signer.public_key_pem, b"receipt 1", sig)
    assert not signer.verify(b"receipt 2", sig)
    assert not signer.verify(b"receipt 1", sig[:-2] + b"\x00\x00")
    other = load_or_create(tmp_path / "other")
    assert not other.verify(b"receipt 1", sig)


def test_openssl_accepts_the_raw_and_the_detached_cms_signature(tmp_path: Path) -> None:
    openssl = need_openssl()
    signer = load_or_create(tmp_path / "keys")
    data = "收据 receipt: bid 42 sha256 abc\n".encode() * 100
    (tmp_path / "data").write_bytes(data)
    (tmp_path / "cert.pem").write_text(signer.certificate_pem)
    (tmp_path / "key.pem").write_text(signer.public_key_pem)
    (tmp_path / "sig.der").write_bytes(signer.sign(data))
    (tmp_path / "data.p7s").write_bytes(signer.sign_detached_cms(data))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([openssl, *args], cwd=tmp_path, capture_output=True, text=True)

    dgst = run("dgst", "-sha256", "-verify", "key.pem", "-signature", "sig.der", "data")
    assert dgst.returncode == 0, dgst.stderr
    for cmd in ("cms", "smime"):
        ok = run(
            cmd,
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "data.p7s",
            "-content",
            "data",
            "-CAfile",
            "cert.pem",
            "-out",
            "/dev/null",
        )
        assert ok.returncode == 0, ok.stderr
    (tmp_path / "data").write_bytes(data + b"tampered")
    bad = run(
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        "data.p7s",
        "-content",
        "data",
        "-CAfile",
        "cert.pem",
        "-out",
        "/dev/null",
    )
    assert bad.returncode != 0

"""CMS SignedData through a signing callback: OpenSSL verifies it; any change is refused."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import serialization

from tenderhall.crypto.cms import sign_data, verify_signed_data
from tenderhall.crypto.errors import CmsError
from tenderhall.pki.devca import DevCA
from tests.conftest import need_command
from tests.crypto.conftest import FileSigner

MANIFEST = b'{"format":"tenderhall-bid-manifest","price":"never here"}'


def _openssl_verify(
    tmp_path: Path, ca: DevCA, der: bytes, content: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    need_command("openssl", "the interoperability test needs the openssl command", "openssl")
    (tmp_path / "sig.der").write_bytes(der)
    (tmp_path / "ca.pem").write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
    args = [
        "openssl",
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        str(tmp_path / "sig.der"),
        "-CAfile",
        str(tmp_path / "ca.pem"),
        "-purpose",
        "any",
        "-binary",
    ]
    if content is not None:
        (tmp_path / "content").write_bytes(content)
        args += ["-content", str(tmp_path / "content")]
    return subprocess.run(args, capture_output=True)


@pytest.mark.parametrize("which", ["signer", "ec_signer"])
def test_signed_content_verifies_and_names_its_signer(which: str, request: pytest.FixtureRequest) -> None:
    signer: FileSigner = request.getfixturevalue(which)
    when = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)
    signed = verify_signed_data(sign_data(MANIFEST, signer, signing_time=when))
    assert signed.content == MANIFEST
    assert signed.signer == signer.certificate
    assert signed.signing_time == when


def test_openssl_verifies_an_encapsulated_signature(signer: FileSigner, ca: DevCA, tmp_path: Path) -> None:
    out = _openssl_verify(tmp_path, ca, sign_data(MANIFEST, signer))
    assert out.returncode == 0, out.stderr
    assert out.stdout == MANIFEST


def test_openssl_verifies_a_detached_signature(ec_signer: FileSigner, ca: DevCA, tmp_path: Path) -> None:
    der = sign_data(MANIFEST, ec_signer, detached=True)
    assert MANIFEST not in der
    assert _openssl_verify(tmp_path, ca, der, MANIFEST).returncode == 0
    assert _openssl_verify(tmp_path, ca, der, MANIFEST + b" ").returncode != 0
    assert verify_signed_data(der, detached_content=MANIFEST).content == MANIFEST


def _resign_content(der: bytes, content: bytes) -> bytes:
    info = cms.ContentInfo.load(der)
    info["content"]["encap_content_info"]["content"] = content
    return cms.ContentInfo({"content_type": "signed_data", "content": info["content"]}).dump(force=True)


def test_altered_content_is_refused(signer: FileSigner) -> None:
    tampered = _resign_content(sign_data(MANIFEST, signer), MANIFEST.replace(b"never", b"NEVER"))
    with pytest.raises(CmsError, match="altered"):
        verify_signed_data(tampered)


def test_an_altered_signature_is_refused(signer: FileSigner) -> None:
    der = bytearray(sign_data(MANIFEST, signer))
    der[-5] ^= 0x01  # the signature is the SignerInfo's last field
    with pytest.raises(CmsError):
        verify_signed_data(bytes(der))


def test_detached_content_that_differs_is_refused(signer: FileSigner) -> None:
    der = sign_data(MANIFEST, signer, detached=True)
    with pytest.raises(CmsError):
        verify_signed_data(der, detached_content=b"other")
    with pytest.raises(CmsError, match="no content"):
        verify_signed_data(der)


def test_a_signature_claiming_another_signer_is_refused(signer: FileSigner, ec_signer: FileSigner) -> None:
    impostor = FileSigner(ec_signer.issued, [])
    der = sign_data(MANIFEST, impostor)
    info = cms.ContentInfo.load(der)
    from asn1crypto import x509 as asn1_x509

    real = asn1_x509.Certificate.load(signer.certificate.public_bytes(serialization.Encoding.DER))
    info["content"]["certificates"] = [real]
    info["content"]["signer_infos"][0]["sid"] = cms.SignerIdentifier(
        {"issuer_and_serial_number": {"issuer": real.issuer, "serial_number": real.serial_number}}
    )
    forged = cms.ContentInfo({"content_type": "signed_data", "content": info["content"]}).dump(force=True)
    with pytest.raises(CmsError, match="does not verify"):
        verify_signed_data(forged)


def test_something_else_is_not_signed_data(signer: FileSigner) -> None:
    with pytest.raises(CmsError):
        verify_signed_data(b"\x30\x03\x02\x01\x00")
    with pytest.raises(CmsError):
        verify_signed_data(b"garbage")

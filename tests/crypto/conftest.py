"""A development CA with a bidder's signing and encryption certificates for the crypto tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from tenderhall.identifiers import make_credit_code
from tenderhall.pki.devca import DevCA, Issued

CODE = make_credit_code("91420900M00050001")
OTHER_CODE = make_credit_code("91420900M00050002")


@dataclass
class FileSigner:
    """A CmsSigner over an Issued certificate's key in memory."""

    issued: Issued
    chain: list[x509.Certificate]

    @property
    def certificate(self) -> x509.Certificate:
        return self.issued.certificate

    @property
    def algorithm(self) -> str:
        return (
            "rsa-pkcs1v15-sha256" if isinstance(self.issued.key, rsa.RSAPrivateKey) else "ecdsa-p256-sha256"
        )

    def sign(self, data: bytes) -> bytes:
        key = self.issued.key
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key.sign(data, ec.ECDSA(hashes.SHA256()))


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> DevCA:
    ca = DevCA(tmp_path_factory.mktemp("crypto-ca"))
    ca.init()
    return ca


@pytest.fixture(scope="session")
def enc(ca: DevCA) -> Issued:
    return ca.issue("bidder-enc", name="潜江示例建设有限公司", credit_code=CODE)


@pytest.fixture(scope="session")
def other_enc(ca: DevCA) -> Issued:
    return ca.issue("bidder-enc", name="潜江另一建设有限公司", credit_code=OTHER_CODE)


@pytest.fixture(scope="session")
def signer(ca: DevCA) -> FileSigner:
    return FileSigner(ca.issue("bidder-sign", name="潜江示例建设有限公司", credit_code=CODE), [])


@pytest.fixture(scope="session")
def ec_signer(ca: DevCA) -> FileSigner:
    return FileSigner(
        ca.issue("bidder-sign", name="潜江椭圆建设有限公司", credit_code=OTHER_CODE, key_type="ec"), []
    )


def write_pem(folder: Path, name: str, issued: Issued) -> tuple[Path, Path]:
    cert = folder / f"{name}.pem"
    key = folder / f"{name}.key"
    cert.write_bytes(issued.certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        issued.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert, key

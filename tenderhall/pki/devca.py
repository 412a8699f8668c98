"""A development CA: a root key and certificate under a folder, certificates issued as
password-protected PKCS#12 files, revocation and signed CRLs. For demos and tests only; real
bidders use certificates from commercial CAs (CFCA, 各省 CA…) whose roots are imported.

Folder layout: ``ca.key`` (PEM, PKCS#8, mode 0600), ``ca.pem``, ``issued.json`` (serial → kind,
subject, not_after), ``revoked.json`` (serial → revocation time), ``crl_number``; with
:meth:`DevCA.issue_ocsp_responder`, ``ocsp.pem``/``ocsp.key``, and :meth:`DevCA.write_index`
writes the ``index.txt`` that ``openssl ocsp -index`` answers from. An intermediate CA is a
DevCA of its own folder made with :meth:`DevCA.init_intermediate`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from tenderhall.db import utcnow
from tenderhall.identifiers import validate_credit_code
from tenderhall.pki.devca_keys import (
    DevCAError,
    KeyType,
    PrivateKey,
    key_usage_of,
    load_p12,
    new_key,
    random_password,
    write_p12,
    write_private,
)

__all__ = [
    "KINDS",
    "DevCA",
    "DevCAError",
    "Issued",
    "KeyType",
    "Kind",
    "load_p12",
    "random_password",
    "write_p12",
]

Kind = Literal["bidder-sign", "bidder-enc", "staff", "custodian"]
KINDS: tuple[Kind, ...] = ("bidder-sign", "bidder-enc", "staff", "custodian")


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: PrivateKey
    path: Path | None

    @property
    def serial(self) -> str:
        return format(self.certificate.serial_number, "x")

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


class DevCA:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    # --- files ------------------------------------------------------------------------------
    @property
    def key_path(self) -> Path:
        return self.folder / "ca.key"

    @property
    def cert_path(self) -> Path:
        return self.folder / "ca.pem"

    def exists(self) -> bool:
        return self.key_path.exists() and self.cert_path.exists()

    def _json(self, name: str) -> dict[str, Any]:
        p = self.folder / name
        return json.loads(p.read_text()) if p.exists() else {}

    def _save_json(self, name: str, data: dict[str, Any]) -> None:
        tmp = self.folder / (name + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True))
        tmp.replace(self.folder / name)

    @property
    def certificate(self) -> x509.Certificate:
        if not self.exists():
            raise DevCAError(f"no development CA in {self.folder}: run `tenderhall pki init-ca` first")
        return x509.load_pem_x509_certificate(self.cert_path.read_bytes())

    @property
    def _key(self) -> PrivateKey:
        key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
        return key

    # --- CA ---------------------------------------------------------------------------------
    def init(
        self,
        name: str = "TenderHall Development Root CA",
        *,
        organisation: str = "TenderHall 开发测试 CA",
        years: int = 10,
        key_type: KeyType = "rsa",
        now: dt.datetime | None = None,
    ) -> x509.Certificate:
        """Create the root key and self-signed certificate; an existing CA is kept as it is."""
        if self.exists():
            return self.certificate
        now = now or utcnow()
        key = new_key(key_type)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(
                key_usage_of(key_cert_sign=True, crl_sign=True, digital_signature=True), critical=True
            )
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        write_private(
            self.key_path,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert

    def init_intermediate(
        self,
        parent: DevCA,
        name: str = "TenderHall Development Intermediate CA",
        *,
        organisation: str = "TenderHall 开发测试 CA",
        years: int = 5,
        key_type: KeyType = "rsa",
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> x509.Certificate:
        """Create an intermediate CA in this folder, issued by ``parent`` (which records its
        serial, so that ``parent.revoke`` and ``parent.crl`` cover it)."""
        if self.exists():
            return self.certificate
        now = utcnow()
        key = new_key(key_type)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        parent_key = parent._key
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(parent.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(minutes=5))
            .not_valid_after(not_after or now + dt.timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                key_usage_of(key_cert_sign=True, crl_sign=True, digital_signature=True), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(parent_key.public_key()), critical=False
            )
            .sign(parent_key, hashes.SHA256())
        )
        parent._record(cert, "sub-ca", None, None)
        self.folder.mkdir(parents=True, exist_ok=True)
        write_private(
            self.key_path,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert

    def _record(self, cert: x509.Certificate, kind: str, code: str | None, out: Path | None) -> None:
        issued = self._json("issued.json")
        issued[format(cert.serial_number, "x")] = {
            "kind": kind,
            "subject": cert.subject.rfc4514_string(),
            "credit_code": code,
            "not_after": cert.not_valid_after_utc.isoformat(),
            "file": str(out) if out else None,
        }
        self._save_json("issued.json", issued)

    # --- OCSP -------------------------------------------------------------------------------
    @property
    def ocsp_cert_path(self) -> Path:
        return self.folder / "ocsp.pem"

    @property
    def ocsp_key_path(self) -> Path:
        return self.folder / "ocsp.key"

    def issue_ocsp_responder(self, name: str = "TenderHall Development OCSP Responder") -> x509.Certificate:
        """A delegated OCSP responder certificate (id-kp-OCSPSigning, id-pkix-ocsp-nocheck)
        written to ``ocsp.pem`` and ``ocsp.key``; kept when it exists."""
        if self.ocsp_cert_path.exists() and self.ocsp_key_path.exists():
            return x509.load_pem_x509_certificate(self.ocsp_cert_path.read_bytes())
        ca_cert, ca_key = self.certificate, self._key
        key = new_key("ec")
        now = utcnow()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            # valid as long back as the CA: answers are judged at the time of validation (decision 0202)
            .not_valid_before(ca_cert.not_valid_before_utc)
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage_of(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
            .add_extension(x509.OCSPNoCheck(), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        write_private(
            self.ocsp_key_path,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        self.ocsp_cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert

    def write_index(self, path: Path | None = None) -> Path:
        """The ``openssl ca``/``openssl ocsp`` index of every certificate issued (V) or revoked
        (R); a serial missing from it is answered "unknown"."""
        path = path or self.folder / "index.txt"
        revoked = self._json("revoked.json")
        lines = []
        for s, info in sorted(self._json("issued.json").items()):
            expiry = dt.datetime.fromisoformat(info["not_after"]).strftime("%y%m%d%H%M%SZ")
            hex_serial = s.upper().rjust(len(s) + len(s) % 2, "0")
            subject = "/" + "/".join(reversed(info["subject"].split(","))) if info.get("subject") else "/CN=x"
            if s in revoked:
                at = dt.datetime.fromisoformat(revoked[s]["at"]).astimezone(dt.UTC).strftime("%y%m%d%H%M%SZ")
                lines.append(f"R\t{expiry}\t{at}\t{hex_serial}\tunknown\t{subject}")
            else:
                lines.append(f"V\t{expiry}\t\t{hex_serial}\tunknown\t{subject}")
        path.write_text("".join(line + "\n" for line in lines))
        (path.parent / (path.name + ".attr")).write_text("unique_subject = no\n")
        return path

    # --- issuing ----------------------------------------------------------------------------
    def issue(
        self,
        kind: Kind,
        *,
        name: str,
        credit_code: str | None = None,
        organisation: str | None = None,
        out: Path | None = None,
        password: str | None = None,
        key_type: KeyType = "rsa",
        days: int = 365,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        key_usage: x509.KeyUsage | None = None,
        extended_key_usage: list[x509.ObjectIdentifier] | None = None,
        ocsp_url: str | None = None,
        extra_subject: list[x509.NameAttribute] | None = None,
    ) -> Issued:
        """Issue one certificate. ``bidder-sign``/``bidder-enc`` need the company's credit code,
        written as organizationIdentifier ``NTRCN-<code>`` and serialNumber ``<code>`` (the forms
        Chinese CAs use). With ``out`` and ``password`` a PKCS#12 file (key, certificate, CA) is
        written. ``not_before``/``not_after``/``key_usage``/``extended_key_usage`` exist for tests of
        rejected certificates; ``ocsp_url`` adds an AIA extension naming that OCSP responder."""
        if kind not in KINDS:
            raise DevCAError(f"unknown certificate kind {kind!r}: one of {', '.join(KINDS)}")
        if kind.startswith("bidder") and not credit_code:
            raise DevCAError("bidder certificates need the company's credit code (--credit-code)")
        code = validate_credit_code(credit_code) if credit_code else None
        ca_cert, ca_key = self.certificate, self._key
        key = new_key(key_type)
        now = utcnow()
        attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN")]
        if kind.startswith("bidder"):
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, name))
        elif organisation:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
        if code:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{code}"))
            attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, code))
        attrs.extend(extra_subject or [])
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, name))
        if key_usage is None:
            if kind == "bidder-enc":
                key_usage = (
                    key_usage_of(key_encipherment=True, data_encipherment=True)
                    if key_type == "rsa"
                    else key_usage_of(key_agreement=True)
                )
            elif kind == "custodian":
                key_usage = key_usage_of(
                    digital_signature=True, key_encipherment=key_type == "rsa", key_agreement=key_type == "ec"
                )
            else:
                key_usage = key_usage_of(digital_signature=True, content_commitment=True)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(minutes=5))
            .not_valid_after(not_after or now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        )
        if extended_key_usage:
            builder = builder.add_extension(x509.ExtendedKeyUsage(extended_key_usage), critical=False)
        if ocsp_url:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
                        )
                    ]
                ),
                critical=False,
            )
        cert = builder.sign(ca_key, hashes.SHA256())
        self._record(cert, kind, code, out)
        if out is not None:
            if not password:
                raise DevCAError("a PKCS#12 file needs a password (--password)")
            write_p12(out, key, cert, [ca_cert], password, friendly_name=f"{kind} {name}")
        return Issued(cert, key, out)

    # --- revocation -------------------------------------------------------------------------
    def revoke(self, serial: str, *, at: dt.datetime | None = None, reason: str = "key_compromise") -> None:
        s = serial.lower().removeprefix("0x")
        if s not in self._json("issued.json"):
            raise DevCAError(f"serial {s} was not issued by the development CA in {self.folder}")
        revoked = self._json("revoked.json")
        if s not in revoked:
            revoked[s] = {"at": (at or utcnow()).isoformat(), "reason": reason}
            self._save_json("revoked.json", revoked)

    def crl(self, *, days: int = 7, now: dt.datetime | None = None) -> bytes:
        """A signed CRL (PEM) listing every revoked serial, with an increasing CRL number."""
        now = now or utcnow()
        number_file = self.folder / "crl_number"
        number = int(number_file.read_text()) + 1 if number_file.exists() else 1
        ca_key = self._key
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now)
            .next_update(now + dt.timedelta(days=days))
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        )
        for s, info in sorted(self._json("revoked.json").items()):
            reason = getattr(
                x509.ReasonFlags, info.get("reason", "unspecified"), x509.ReasonFlags.unspecified
            )
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(int(s, 16))
                .revocation_date(dt.datetime.fromisoformat(info["at"]))
                .add_extension(x509.CRLReason(reason), critical=False)
                .build()
            )
            builder = builder.add_revoked_certificate(entry)
        crl = builder.sign(ca_key, hashes.SHA256())
        number_file.write_text(str(number))
        return crl.public_bytes(serialization.Encoding.PEM)

"""The trust store: CA certificates the platform recognises (CA互认) and the CRLs imported per CA."""

from __future__ import annotations

import contextlib
import hashlib
from urllib.parse import urlsplit

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.errors import Conflict, InvalidInput, NotFound, RuleViolation
from tenderhall.pki.models import CRLImport, RevokedCertificate, TrustedCA
from tenderhall.pki.validation import fingerprint, load_certificate, serial_hex, subject_text


def import_ca(session: Session, actor: Principal, pem: bytes | str, name: str | None = None) -> TrustedCA:
    """Add a CA certificate (root or intermediate) to the trust store; importing the same
    certificate again returns the existing row (re-activating it)."""
    cert = load_certificate(pem)
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        bc = None
    if bc is None or not bc.ca:
        raise RuleViolation(
            "该证书不是 CA 证书（缺少 basicConstraints cA=TRUE），不能加入信任列表",
            "This is not a CA certificate (no basicConstraints cA=TRUE) and cannot be trusted as a CA",
        )
    fp = fingerprint(cert)
    existing = session.execute(
        sa.select(TrustedCA).where(col(TrustedCA.fingerprint) == fp)
    ).scalar_one_or_none()
    if existing is not None:
        if not existing.active:
            existing.active = True
            record(
                session, actor, "pki.ca.reactivate", "trusted_ca", existing.id, f"重新启用 CA {existing.name}"
            )
        return existing
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    row = TrustedCA(
        name=(name or (str(cns[0].value) if cns else subject_text(cert.subject)))[:200],
        subject=subject_text(cert.subject)[:500],
        fingerprint=fp,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        not_after=cert.not_valid_after_utc,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "pki.ca.import",
        "trusted_ca",
        row.id,
        f"导入信任 CA：{row.name}",
        {"fingerprint": fp, "subject": row.subject, "not_after": row.not_after.isoformat()},
    )
    return row


def set_ca_active(session: Session, actor: Principal, ca_id: int, active: bool) -> TrustedCA:
    row = session.get(TrustedCA, ca_id)
    if row is None:
        raise NotFound(f"信任列表中没有编号为 {ca_id} 的 CA", f"No trusted CA with id {ca_id}")
    if row.active != active:
        row.active = active
        record(
            session,
            actor,
            "pki.ca.activate" if active else "pki.ca.deactivate",
            "trusted_ca",
            row.id,
            f"{'启用' if active else '停用'} CA {row.name}",
        )
    return row


def set_ocsp(
    session: Session, actor: Principal, ca_id: int, url: str | None, *, use_aia: bool = False
) -> TrustedCA:
    """Configure OCSP for the certificates a trusted CA issues (decision 0202): ``url`` is the
    responder the platform asks (None: no responder of its own); ``use_aia`` lets the platform ask
    the responder a certificate names in its AIA extension when no ``url`` is set."""
    row = session.get(TrustedCA, ca_id)
    if row is None:
        raise NotFound(f"信任列表中没有编号为 {ca_id} 的 CA", f"No trusted CA with id {ca_id}")
    url = (url or "").strip() or None
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
            raise InvalidInput(
                "OCSP 服务地址须是 http:// 或 https:// 开头的完整网址（不超过 500 个字符）",
                "The OCSP responder address must be a full http:// or https:// URL (500 characters at most)",
            )
    if (row.ocsp_url, row.ocsp_use_aia) != (url, use_aia):
        before = {"ocsp_url": row.ocsp_url, "ocsp_use_aia": row.ocsp_use_aia}
        row.ocsp_url, row.ocsp_use_aia = url, use_aia
        record(
            session,
            actor,
            "pki.ca.ocsp",
            "trusted_ca",
            row.id,
            f"设置 CA {row.name} 的 OCSP：{url or '无'}{'（允许证书 AIA 地址）' if use_aia else ''}",
            {"before": before, "ocsp_url": url, "ocsp_use_aia": use_aia},
        )
    return row


def list_cas(session: Session) -> list[TrustedCA]:
    return list(session.execute(sa.select(TrustedCA).order_by(col(TrustedCA.id))).scalars())


def load_crl(data: bytes | str) -> x509.CertificateRevocationList:
    raw = data.encode() if isinstance(data, str) else data
    try:
        if b"-----BEGIN" in raw:
            return x509.load_pem_x509_crl(raw)
        return x509.load_der_x509_crl(raw)
    except ValueError:
        raise InvalidInput(
            "CRL 文件无法解析：请提供 PEM 或 DER 格式的证书吊销列表",
            "The CRL cannot be parsed: provide a certificate revocation list in PEM or DER form",
        ) from None


def import_crl(session: Session, actor: Principal, data: bytes | str) -> CRLImport:
    """Import a CRL: its signature must verify with a CA of the trust store whose subject is the
    CRL's issuer; an older CRL than the last one imported for that CA is refused. Entries are
    added to ``core_revoked_certificate`` (revocations are never undone by a later CRL)."""
    raw = data.encode() if isinstance(data, str) else data
    crl = load_crl(raw)
    issuer_ca: TrustedCA | None = None
    name_known = False
    for row in session.execute(sa.select(TrustedCA).where(col(TrustedCA.active).is_(True))).scalars():
        cert = load_certificate(row.certificate_pem)
        if cert.subject != crl.issuer:
            continue
        name_known = True
        if crl.is_signature_valid(cert.public_key()):  # type: ignore[arg-type]
            issuer_ca = row
            break
    if issuer_ca is None or issuer_ca.id is None:
        if name_known:
            raise RuleViolation(
                "CRL 的签名与其签发 CA 的公钥不符：文件可能被篡改，请从 CA 官方渠道重新下载",
                "The CRL's signature does not verify with its CA's key: the file may have been altered; "
                "download it again from the CA",
            )
        raise RuleViolation(
            f"CRL 的签发者“{subject_text(crl.issuer)}”不在信任列表中：请先导入该 CA 证书",
            f"The CRL's issuer '{subject_text(crl.issuer)}' is not in the trust store: import that CA first",
        )
    try:
        number: int | None = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = None
    last = session.execute(
        sa.select(CRLImport)
        .where(col(CRLImport.ca_id) == issuer_ca.id)
        .order_by(col(CRLImport.this_update).desc(), col(CRLImport.id).desc())
        .limit(1)
    ).scalar_one_or_none()
    if last is not None and (
        crl.last_update_utc < last.this_update
        or (number is not None and last.crl_number is not None and number < last.crl_number)
    ):
        raise Conflict(
            f"该 CRL（{crl.last_update_utc:%Y-%m-%d %H:%M} UTC）早于已导入的 CRL，未导入",
            f"This CRL ({crl.last_update_utc:%Y-%m-%d %H:%M} UTC) is older than the one already imported; "
            "nothing was changed",
        )
    existing = set(
        session.execute(
            sa.select(col(RevokedCertificate.serial)).where(col(RevokedCertificate.ca_id) == issuer_ca.id)
        ).scalars()
    )
    added = 0
    for entry in crl:
        s = serial_hex(entry.serial_number)
        if s in existing:
            continue
        reason = None
        with contextlib.suppress(x509.ExtensionNotFound):
            reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
        session.add(
            RevokedCertificate(
                ca_id=issuer_ca.id, serial=s, revoked_at=entry.revocation_date_utc, reason=reason
            )
        )
        existing.add(s)
        added += 1
    imp = CRLImport(
        ca_id=issuer_ca.id,
        crl_number=number,
        this_update=crl.last_update_utc,
        next_update=crl.next_update_utc,
        sha256=hashlib.sha256(raw).hexdigest(),
        der=crl.public_bytes(serialization.Encoding.DER),
    )
    session.add(imp)
    session.flush()
    record(
        session,
        actor,
        "pki.crl.import",
        "trusted_ca",
        issuer_ca.id,
        f"导入 {issuer_ca.name} 的 CRL：新增吊销 {added} 张",
        {"crl_number": number, "added": added, "entries": len(existing), "sha256": imp.sha256},
    )
    return imp


def overview(session: Session) -> list[tuple[TrustedCA, int, CRLImport | None]]:
    """Each trusted CA with the number of revoked serials and its latest CRL import."""
    out = []
    for ca in list_cas(session):
        revoked = session.execute(
            sa.select(sa.func.count())
            .select_from(RevokedCertificate)
            .where(col(RevokedCertificate.ca_id) == ca.id)
        ).scalar_one()
        last = session.execute(
            sa.select(CRLImport)
            .where(col(CRLImport.ca_id) == ca.id)
            .order_by(col(CRLImport.id).desc())
            .limit(1)
        ).scalar_one_or_none()
        out.append((ca, int(revoked), last))
    return out

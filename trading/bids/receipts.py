"""The receipt of a sealed bid: issued at once when a submission, replacement or withdrawal is
accepted, and checked offline by anyone holding the platform's certificate.

A receipt is three files:

- ``receipt.json``: canonical JSON of :class:`ReceiptFacts` (docs/sealed-bid-format.md, "Receipts");
- ``receipt.p7s``: a detached CMS SignedData (DER) over those bytes by the platform key
  (``openssl cms -verify -binary -inform DER -in receipt.p7s -content receipt.json
  -CAfile platform.pem -purpose any``);
- ``receipt.tsr`` (when ``TENDERHALL_TSA_URL`` is set): the RFC 3161 TimeStampToken (DER) of a TSA
  over SHA-256 of ``receipt.json``. It is detached, so it can be added after the receipt was given.

:func:`issue_receipt` makes them; :func:`verify_receipt` checks them and returns the facts, or
raises :class:`ReceiptError` naming what is wrong.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tenderhall.audit.timestamping import SHA256_OID, TimestampError, read_token, request_token
from tenderhall.crypto.errors import CryptoError
from tenderhall.pki.names import fingerprint
from tenderhall.signing import PlatformSigner
from trading.sealing.format import canonical

RECEIPT_VERSION = "TenderHall bid receipt v1"
ReceiptKind = Literal["submitted", "replaced", "withdrawn"]
KINDS: tuple[str, ...] = get_args(ReceiptKind)
#: How much earlier than the receipt time a TSA token may be (clock skew between the platform and
#: the TSA, and the TSA's accuracy); a token from before that cannot be over that receipt.
TIMESTAMP_TOLERANCE = dt.timedelta(minutes=2)

_HEX64 = re.compile(r"[0-9a-f]{64}")
_RFC3339_MICROS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
_INT_FIELDS = ("bid_id", "attempt_id", "tender_id", "lot_id", "lot_number", "sealed_size")
_STR_FIELDS = ("tender_reference", "bidder_credit_code", "bidder_name")
#: The members of a v1 receipt, exactly.
RECEIPT_KEYS = frozenset(
    {
        "version",
        "kind",
        *_INT_FIELDS,
        *_STR_FIELDS,
        "sealed_sha256",
        "received_at",
        "replaces_sha256",
        "platform_key_id",
        "platform_certificate_sha256",
    }
)


class ReceiptError(CryptoError):
    """A receipt that does not check out; ``code`` names the rule, ``zh``/``en`` say it to a person."""

    code = "receipt_error"

    def __init__(self, zh: str, en: str, *, code: str = "receipt_error") -> None:
        super().__init__(zh, en)
        self.code = code


@dataclass(frozen=True)
class ReceiptFacts:
    """What a receipt states. ``sealed_sha256`` is the hex SHA-256 of the whole sealed file (for a
    withdrawal, of the file withdrawn); ``replaces_sha256`` is the replaced file's, for a
    replacement only. ``received_at`` is the server time the last byte arrived (aware; kept in UTC
    to the microsecond)."""

    kind: ReceiptKind
    bid_id: int
    attempt_id: int
    tender_id: int
    tender_reference: str
    lot_id: int
    lot_number: int
    bidder_credit_code: str
    bidder_name: str
    sealed_sha256: str
    sealed_size: int
    received_at: dt.datetime
    replaces_sha256: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        for name in _STR_FIELDS:
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty string")
        if not isinstance(self.sealed_sha256, str) or not _HEX64.fullmatch(self.sealed_sha256):
            raise ValueError("sealed_sha256 must be 64 lower-case hex digits")
        if self.replaces_sha256 is not None and not (
            isinstance(self.replaces_sha256, str) and _HEX64.fullmatch(self.replaces_sha256)
        ):
            raise ValueError("replaces_sha256 must be 64 lower-case hex digits")
        if (self.kind == "replaced") != (self.replaces_sha256 is not None):
            raise ValueError("replaces_sha256 is given for a replacement, and only for one")
        if not isinstance(self.received_at, dt.datetime) or self.received_at.utcoffset() is None:
            raise ValueError("received_at must be an aware datetime")
        object.__setattr__(self, "received_at", self.received_at.astimezone(dt.UTC))


def rfc3339(t: dt.datetime) -> str:
    """``2026-12-03T10:00:00.000123Z``: UTC, always six digits of microseconds."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _key_id(cert: x509.Certificate) -> str:
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


def receipt_json(facts: ReceiptFacts, signer: PlatformSigner) -> bytes:
    """The receipt's signed bytes: canonical JSON (UTF-8, sorted keys, no spaces)."""
    body: dict[str, Any] = {
        f.name: getattr(facts, f.name) for f in dataclasses.fields(facts) if f.name != "received_at"
    }
    body.update(
        version=RECEIPT_VERSION,
        received_at=rfc3339(facts.received_at),
        platform_key_id=signer.key_id,
        platform_certificate_sha256=fingerprint(signer.certificate),
    )
    assert body.keys() == RECEIPT_KEYS
    return canonical(body)


@dataclass(frozen=True)
class IssuedReceipt:
    """A receipt as issued: ``json`` (the signed bytes), ``signature`` (detached CMS, DER) and,
    with a TSA, ``timestamp_token`` (RFC 3161 TimeStampToken, DER, over ``json``)."""

    facts: ReceiptFacts
    json: bytes
    signature: bytes
    timestamp_token: bytes | None = None

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of :attr:`json` (printed on the PDF)."""
        return hashlib.sha256(self.json).hexdigest()

    @property
    def timestamp_time(self) -> dt.datetime | None:
        """The TSA's time in the token (aware UTC), or None without a token."""
        return None if self.timestamp_token is None else read_token(self.timestamp_token).gen_time

    def with_timestamp(self, token: bytes) -> IssuedReceipt:
        """The same receipt with a token obtained later (:func:`timestamp_receipt`)."""
        return dataclasses.replace(self, timestamp_token=token)


def timestamp_receipt(
    receipt_json: bytes,
    tsa_url: str,
    *,
    tsa_roots: list[x509.Certificate] | None = None,
    timeout: float = 10.0,
) -> bytes:
    """The DER TimeStampToken of the TSA at ``tsa_url`` over SHA-256(``receipt_json``); the TSA's
    answer is checked (status, imprint, nonce; with ``tsa_roots`` its signature and chain).
    Raises :class:`~tenderhall.audit.timestamping.TimestampError` when the TSA fails."""
    return request_token(tsa_url, receipt_json, roots=tsa_roots, timeout=timeout).der


def issue_receipt(
    signer: PlatformSigner,
    facts: ReceiptFacts,
    *,
    tsa_url: str | None = None,
    tsa_roots: list[x509.Certificate] | None = None,
    tsa_timeout: float = 10.0,
) -> IssuedReceipt:
    """Sign the receipt of ``facts``; with ``tsa_url``, also timestamp it (then a TSA that fails
    raises TimestampError, and nothing is returned: see decision 0268 for what the caller does)."""
    data = receipt_json(facts, signer)
    issued = IssuedReceipt(facts=facts, json=data, signature=signer.sign_detached_cms(data))
    if tsa_url:
        issued = issued.with_timestamp(
            timestamp_receipt(data, tsa_url, tsa_roots=tsa_roots, timeout=tsa_timeout)
        )
    return issued


class InclusionProof(Protocol):
    """A proof that the receipt's sealed file is in the lot's deadline commitment (a Merkle root of
    the sealed files' hashes, tenderhall/audit/merkle.py). :func:`verify_receipt` asks it for a
    problem ``(zh, en)`` with these facts, None when the file is included."""

    def problem(self, facts: ReceiptFacts) -> tuple[str, str] | None: ...


# --- verification ---------------------------------------------------------------------------------


def _load_certificate(pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise ReceiptError(
            "平台证书无法读取（应为 PEM 格式的 X.509 证书）",
            "The platform certificate cannot be read (expected an X.509 certificate in PEM)",
            code="bad_certificate",
        ) from None


def _check_signature(data: bytes, signature: bytes, platform: x509.Certificate) -> None:
    from tenderhall.crypto.cms import verify_signed_data
    from tenderhall.crypto.errors import CmsError

    try:
        signed = verify_signed_data(signature, detached_content=data)
    except CmsError as exc:
        raise ReceiptError(
            f"回执签名无效：{exc.zh}（回执或签名文件已被改动，或二者不配套）",
            f"The receipt's signature does not verify: {exc.en} (the receipt or the signature was "
            "altered, or they do not belong together)",
            code="bad_signature",
        ) from None
    if signed.signer != platform:
        raise ReceiptError(
            "回执不是用所给的平台证书签名的（签名证书 SHA-256 "
            f"{fingerprint(signed.signer)}，所给证书 {fingerprint(platform)}）",
            "The receipt was signed with another certificate than the platform certificate given "
            f"(signer SHA-256 {fingerprint(signed.signer)}, given {fingerprint(platform)})",
            code="wrong_signer",
        )


def _malformed(field: str) -> ReceiptError:
    return ReceiptError(
        f"回执内容格式错误：{field}", f"The receipt is malformed: {field}", code="bad_receipt"
    )


def _parse(data: bytes) -> tuple[ReceiptFacts, dict[str, Any]]:
    """The facts of a receipt's JSON and its fields; ReceiptError when it is not a v1 receipt."""
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ReceiptError("回执不是 JSON 文件", "The receipt is not JSON", code="not_json") from None
    if not isinstance(body, dict):
        raise ReceiptError("回执不是 JSON 对象", "The receipt is not a JSON object", code="not_json")
    version = body.get("version")
    if version != RECEIPT_VERSION:
        raise ReceiptError(
            f"不是 TenderHall 投标回执，或版本不受支持（version = {version!r}）",
            f"Not a TenderHall bid receipt, or an unsupported version (version = {version!r})",
            code="bad_version",
        )
    if body.keys() != RECEIPT_KEYS:
        raise _malformed("fields " + ", ".join(sorted(body.keys() ^ RECEIPT_KEYS)))
    if canonical(body) != data:
        raise _malformed("not canonical JSON")
    received = body["received_at"]
    if not isinstance(received, str) or not _RFC3339_MICROS.fullmatch(received):
        raise _malformed("received_at")
    try:
        received_at = dt.datetime.strptime(received, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
        facts = ReceiptFacts(
            **{f.name: body[f.name] for f in dataclasses.fields(ReceiptFacts) if f.name != "received_at"},
            received_at=received_at,
        )
    except (ValueError, TypeError) as exc:
        raise _malformed(str(exc)) from None
    return facts, body


def parse_receipt(data: bytes) -> ReceiptFacts:
    """The facts a receipt's JSON states (its form checked, not its signature)."""
    return _parse(data)[0]


def _check_platform_fields(body: dict[str, Any], platform: x509.Certificate, facts: ReceiptFacts) -> None:
    if body["platform_certificate_sha256"] != fingerprint(platform) or body["platform_key_id"] != _key_id(
        platform
    ):
        raise ReceiptError(
            "回执所载的平台证书与签名证书不一致",
            "The platform certificate named in the receipt is not the one that signed it",
            code="wrong_signer",
        )
    if not platform.not_valid_before_utc <= facts.received_at <= platform.not_valid_after_utc:
        raise ReceiptError(
            f"回执时间 {rfc3339(facts.received_at)} 不在平台证书的有效期内",
            f"The receipt time {rfc3339(facts.received_at)} is outside the platform certificate's validity",
            code="certificate_not_valid",
        )


def _check_sealed_file(path: Path, facts: ReceiptFacts) -> None:
    try:
        with path.open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
            size = f.tell()
    except OSError as exc:
        raise ReceiptError(
            f"无法读取投标文件 {path}（{type(exc).__name__}）",
            f"The sealed file {path} cannot be read ({type(exc).__name__})",
            code="sealed_unreadable",
        ) from None
    if digest != facts.sealed_sha256 or size != facts.sealed_size:
        raise ReceiptError(
            f"投标文件与回执不符：其 SHA-256 为 {digest}（{size} 字节），回执所载为 "
            f"{facts.sealed_sha256}（{facts.sealed_size} 字节）",
            f"The sealed file is not the one the receipt is for: its SHA-256 is {digest} ({size} bytes), "
            f"the receipt's {facts.sealed_sha256} ({facts.sealed_size} bytes)",
            code="sealed_mismatch",
        )


def _check_timestamp(
    data: bytes, token_der: bytes, roots: list[x509.Certificate], facts: ReceiptFacts
) -> None:
    from tenderhall.audit.timestamping import signature_problem

    try:
        token = read_token(token_der)
    except ValueError:
        raise ReceiptError(
            "时间戳文件无法解析：它不是 RFC 3161 时间戳令牌",
            "The timestamp cannot be read: it is not an RFC 3161 timestamp token",
            code="bad_timestamp",
        ) from None
    if token.hash_oid != SHA256_OID or token.imprint != hashlib.sha256(data).digest():
        raise ReceiptError(
            "时间戳不是对此回执签发的（它所证明的是其他数据）",
            "The timestamp was issued over other data than this receipt",
            code="timestamp_mismatch",
        )
    if token.gen_time < facts.received_at - TIMESTAMP_TOLERANCE:
        raise ReceiptError(
            f"时间戳时间 {rfc3339(token.gen_time)} 早于回执时间 {rfc3339(facts.received_at)}：回执时间不可信",
            f"The timestamp's time {rfc3339(token.gen_time)} is before the receipt time "
            f"{rfc3339(facts.received_at)}: the receipt time cannot be trusted",
            code="timestamp_early",
        )
    if (why := signature_problem(token_der, data, roots)) is not None:
        raise ReceiptError(
            f"时间戳签名无效，或不是由所给的时间戳服务（TSA）证书签发的：{why}",
            f"The timestamp's signature does not verify with the TSA certificate given: {why}",
            code="timestamp_signature",
        )


def verify_receipt(
    receipt_json: bytes,
    signature: bytes,
    platform_certificate_pem: bytes,
    *,
    sealed_file: Path | None = None,
    timestamp_token: bytes | None = None,
    tsa_roots: list[x509.Certificate] | None = None,
    inclusion_proof: InclusionProof | None = None,
) -> ReceiptFacts:
    """Check a receipt offline and return its facts; :class:`ReceiptError` names the first problem.

    In order: the platform certificate reads; the detached CMS ``signature`` verifies over
    ``receipt_json`` and was made with that certificate; the receipt is a v1 receipt naming that
    certificate and dated within its validity; with ``sealed_file``, the file's SHA-256 and size
    are the receipt's; with ``timestamp_token`` (which needs ``tsa_roots``, the TSA's root and
    intermediates), the token is over ``receipt_json``, not older than the receipt and signed by a
    TSA certificate chaining to ``tsa_roots``; with ``inclusion_proof``, the proof holds."""
    if timestamp_token is not None and not tsa_roots:
        raise ValueError("tsa_roots are needed to check a timestamp token")
    platform = _load_certificate(platform_certificate_pem)
    _check_signature(receipt_json, signature, platform)
    facts, body = _parse(receipt_json)
    _check_platform_fields(body, platform, facts)
    if sealed_file is not None:
        _check_sealed_file(sealed_file, facts)
    if timestamp_token is not None:
        assert tsa_roots is not None
        _check_timestamp(receipt_json, timestamp_token, tsa_roots, facts)
    if inclusion_proof is not None and (problem := inclusion_proof.problem(facts)) is not None:
        raise ReceiptError(*problem, code="not_included")
    return facts


__all__ = [
    "KINDS",
    "RECEIPT_VERSION",
    "InclusionProof",
    "IssuedReceipt",
    "ReceiptError",
    "ReceiptFacts",
    "ReceiptKind",
    "TimestampError",
    "issue_receipt",
    "receipt_json",
    "rfc3339",
    "timestamp_receipt",
    "verify_receipt",
]

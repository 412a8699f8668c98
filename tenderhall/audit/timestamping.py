"""RFC 3161 timestamps of tree heads: a Time-Stamping Authority (``settings.tsa_url``) signs the
SHA-256 of a head's signed payload, so a head cannot be rewritten or re-dated later without the
token disagreeing (the TSA is a witness outside the operator's control).

The token stored and published is the DER ``TimeStampToken`` (a CMS ContentInfo) of the TSA's
response; :func:`read_token` reads it back (imprint, time) for ``audit verify``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import httpx
from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

SHA256_OID = "2.16.840.1.101.3.4.2.1"
REQUEST_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"


class TimestampError(Exception):
    """The TSA could not be reached, refused, or answered with a token that does not fit the
    request (bilingual message, no secrets)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{en} / {zh}")
        self.zh, self.en = zh, en


@dataclass(frozen=True)
class Token:
    der: bytes  # the TimeStampToken (CMS ContentInfo), DER
    hash_oid: str
    imprint: bytes
    gen_time: dt.datetime  # aware UTC
    nonce: int | None


def _der_sequence(body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return b"\x30" + length + body


_GRANTED_STATUS = b"\x30\x03\x02\x01\x00"  # PKIStatusInfo { status granted }


def read_token(der: bytes) -> Token:
    """Parse a stored TimeStampToken (raises ValueError when it is not one)."""
    try:
        resp = decode_timestamp_response(_der_sequence(_GRANTED_STATUS + der))
        info = resp.tst_info
        imprint = info.message_imprint
        return Token(
            der=der,
            hash_oid=imprint.hash_algorithm.dotted_string,
            imprint=imprint.message,
            gen_time=_aware(info.gen_time),
            nonce=info.nonce,
        )
    except Exception as exc:  # the parser raises its own types
        raise ValueError(f"not an RFC 3161 timestamp token: {type(exc).__name__}") from exc


def load_roots(pem: bytes) -> list[x509.Certificate]:
    """The certificates of a PEM file (a TSA's root and intermediates)."""
    return x509.load_pem_x509_certificates(pem)


def signature_problem(der: bytes, data: bytes, roots: list[x509.Certificate]) -> str | None:
    """Why the token ``der`` is not a TSA signature over SHA-256(``data``) chaining to ``roots``
    (the signer's certificate needs critical extendedKeyUsage timeStamping); None when it is."""
    builder = VerifierBuilder()
    for cert in roots:
        builder = builder.add_root_certificate(cert)
    try:
        resp = decode_timestamp_response(_der_sequence(_GRANTED_STATUS + der))
        builder.build().verify_message(resp, data)
    except VerificationError as exc:
        return str(exc)
    except ValueError as exc:
        return f"not an RFC 3161 timestamp token: {type(exc).__name__}"
    return None


def _aware(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def request_token(
    url: str, data: bytes, *, roots: list[x509.Certificate] | None = None, timeout: float = 10.0
) -> Token:
    """Ask the TSA at ``url`` to timestamp SHA-256(``data``), with a nonce; check the answer
    (status granted, the imprint and nonce of the request, and with ``roots`` the TSA's signature
    and certificate) and return its token."""
    request = (
        TimestampRequestBuilder().data(data).hash_algorithm(HashAlgorithm.SHA256).nonce(nonce=True).build()
    )
    try:
        r = httpx.post(
            url, content=request.as_bytes(), headers={"Content-Type": REQUEST_TYPE}, timeout=timeout
        )
        r.raise_for_status()
    except httpx.HTTPError as exc:
        raise TimestampError(
            f"时间戳服务 {url} 无法访问：{type(exc).__name__}",
            f"The timestamping authority {url} could not be reached: {type(exc).__name__}",
        ) from exc
    try:
        resp = decode_timestamp_response(r.content)
    except Exception as exc:
        raise TimestampError(
            f"时间戳服务 {url} 的应答不是 RFC 3161 应答",
            f"The timestamping authority {url} did not answer with an RFC 3161 response",
        ) from exc
    if resp.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise TimestampError(
            f"时间戳服务 {url} 拒绝签发时间戳（状态 {resp.status}）",
            f"The timestamping authority {url} refused the timestamp (status {resp.status})",
        )
    token = read_token(resp.time_stamp_token())
    if token.hash_oid != SHA256_OID or token.imprint != hashlib.sha256(data).digest():
        raise TimestampError(
            f"时间戳服务 {url} 的时间戳不是对所请求数据的摘要签发的",
            f"The timestamping authority {url} returned a token over a different digest than requested",
        )
    if token.nonce != request.nonce:
        raise TimestampError(
            f"时间戳服务 {url} 的时间戳随机数与请求不符（可能是重放的应答）",
            f"The timestamping authority {url} returned a token whose nonce differs from the request "
            "(a replayed response?)",
        )
    if roots is not None and (why := signature_problem(token.der, data, roots)) is not None:
        raise TimestampError(
            f"时间戳服务 {url} 的时间戳签名不能用所配置的 TSA 证书验证：{why}",
            f"The timestamp from {url} does not verify with the configured TSA certificate: {why}",
        )
    return token

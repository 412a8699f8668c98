"""CMS SignedData (RFC 5652) built with ``asn1crypto`` around a signing callback, so that a key in a
file and a key on a token (UKey) sign through the same code, and verified here for integrity and
signature. Certificate path validation is separate and goes through the one validation context
(:func:`tenderhall.pki.validation.validate_certificate`)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Protocol

from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tenderhall.crypto.errors import CmsError

SIGNATURE_ALGORITHMS = {"rsa-pkcs1v15-sha256": "sha256_rsa", "ecdsa-p256-sha256": "sha256_ecdsa"}


class CmsSigner(Protocol):
    """What signs: :class:`tenderhall.agent.keys.SigningKey` (file or token) fits."""

    certificate: x509.Certificate
    chain: list[x509.Certificate]

    @property
    def algorithm(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class SignedContent:
    content: bytes
    signer: x509.Certificate
    certificates: list[x509.Certificate]
    signing_time: dt.datetime | None


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _bad(zh: str, en: str) -> CmsError:
    return CmsError(zh, en)


def sign_data(
    content: bytes, signer: CmsSigner, *, detached: bool = False, signing_time: dt.datetime | None = None
) -> bytes:
    """A DER ContentInfo(SignedData) over ``content`` (encapsulated unless ``detached``), with
    signed attributes (contentType, messageDigest, signingTime) and the signer's certificates."""
    if signer.algorithm not in SIGNATURE_ALGORITHMS:
        raise _bad("不支持的签名算法", f"Unsupported signature algorithm {signer.algorithm}")
    when = (signing_time or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    signed_attrs = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}),
            cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": when})]}),
        ]
    )
    signature = signer.sign(signed_attrs.dump())
    cert = _asn1_cert(signer.certificate)
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": cert.issuer, "serial_number": cert.serial_number}
                    )
                }
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm(
                {"algorithm": SIGNATURE_ALGORITHMS[signer.algorithm]}
            ),
            "signature": signature,
        }
    )
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "data", "content": None if detached else content},
            "certificates": [cert] + [_asn1_cert(c) for c in signer.chain],
            "signer_infos": [signer_info],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()


def _attribute(attrs: cms.CMSAttributes, name: str) -> object | None:
    for attr in attrs:
        if attr["type"].native == name:
            values = attr["values"]
            if len(values) != 1:
                raise _bad("签名属性重复", f"The signed attribute {name} is repeated")
            return values[0].native
    return None


def verify_signed_data(der: bytes, *, detached_content: bytes | None = None) -> SignedContent:
    """The content and signer of a SignedData whose digest and signature verify; CmsError otherwise."""
    from tenderhall.pki.policy import verify_signature

    try:
        info = cms.ContentInfo.load(der)
        if info["content_type"].native != "signed_data":
            raise _bad("不是 CMS 签名数据", "Not a CMS SignedData")
        signed: cms.SignedData = info["content"]
        encap = signed["encap_content_info"]["content"].native
        certs = [
            x509.load_der_x509_certificate(c.chosen.dump())
            for c in (signed["certificates"] or [])
            if c.name == "certificate"
        ]
        signer_infos = list(signed["signer_infos"])
    except CmsError:
        raise
    except (ValueError, TypeError, KeyError):
        raise _bad("签名数据无法解析", "The SignedData cannot be parsed") from None
    if detached_content is not None and encap is not None and encap != detached_content:
        raise _bad("签名内容与给出的内容不一致", "The signed content differs from the content given")
    content = detached_content if detached_content is not None else encap
    if content is None:
        raise _bad("签名数据不含内容", "The SignedData carries no content")
    if len(signer_infos) != 1:
        raise _bad("签名数据应恰有一个签名者", "The SignedData must have exactly one signer")
    si = signer_infos[0]
    if si["digest_algorithm"]["algorithm"].native != "sha256":
        raise _bad("不支持的摘要算法", "Unsupported digest algorithm")
    sid = si["sid"]
    if sid.name != "issuer_and_serial_number":
        raise _bad("签名者标识不受支持", "Unsupported signer identifier")
    ias = sid.chosen
    signer = next(
        (
            c
            for c in certs
            if c.serial_number == ias["serial_number"].native
            and c.issuer.public_bytes() == ias["issuer"].dump()
        ),
        None,
    )
    if signer is None:
        raise _bad("签名数据未包含签名者证书", "The signer's certificate is not in the SignedData")
    signing_time = None
    attrs = si["signed_attrs"]
    if attrs.native is not None and len(attrs):
        if _attribute(attrs, "message_digest") != hashlib.sha256(content).digest():
            raise _bad("签名内容已被改动", "The signed content was altered")
        if _attribute(attrs, "content_type") != signed["encap_content_info"]["content_type"].native:
            raise _bad("签名属性与内容类型不符", "The signed content type does not match")
        t = _attribute(attrs, "signing_time")
        signing_time = t if isinstance(t, dt.datetime) else None
        raw = attrs.dump()
        signed_bytes = b"\x31" + raw[1:]
    else:
        signed_bytes = content
    if not verify_signature(signer, signed_bytes, si["signature"].native):
        raise _bad("签名无效", "The signature does not verify")
    return SignedContent(content=content, signer=signer, certificates=certs, signing_time=signing_time)


__all__ = ["CmsSigner", "SignedContent", "sign_data", "verify_signed_data"]

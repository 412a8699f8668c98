"""The byte layout of a sealed bid: magic, then frames ``type (1) || length (4, big-endian) ||
body``: one header (H), ciphertext chunks (C…), the final chunk (F), the signed manifest (M)."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from tenderhall.crypto.cms import SignedContent
from tenderhall.crypto.errors import CryptoError

MAGIC = b"THBID\x00\x01\n"
HEADER, CHUNK, FINAL, MANIFEST = b"H", b"C", b"F", b"M"
FRAME_HEAD = 5
MAX_META = 1 << 20  # header and manifest frames
MAX_CHUNK = 1 << 24
FORMAT = "tenderhall-sealed-bid"
MANIFEST_FORMAT = "tenderhall-bid-manifest"
VERSION = 1
#: Fields the manifest must repeat exactly as the header has them.
BOUND_FIELDS = ("profile", "algorithms", "tender", "lot", "bidder_credit_code")

MESSAGES: dict[str, tuple[str, str]] = {
    "not_sealed": (
        "这不是 TenderHall 密封投标文件（未加密的文件不予接收）",
        "This is not a TenderHall sealed bid (unencrypted files are refused)",
    ),
    "bad_version": ("不支持的密封文件版本", "Unsupported sealed-bid format version"),
    "bad_header": ("密封文件的文件头不正确", "The sealed bid's header is malformed"),
    "bad_frame": (
        "密封文件结构错误（分块顺序或长度不对）",
        "The sealed bid's structure is wrong (frame order or length)",
    ),
    "truncated": ("密封文件不完整", "The sealed bid is truncated"),
    "no_manifest": (
        "密封文件缺少签名清单（未签名的文件不予接收）",
        "The sealed bid has no signed manifest (unsigned files are refused)",
    ),
    "bad_signature": ("签名清单的签名无效", "The manifest's signature does not verify"),
    "bad_manifest": ("签名清单格式错误", "The manifest is malformed"),
    "manifest_mismatch": (
        "签名清单与文件头不一致（清单可能属于另一份投标文件）",
        "The manifest does not match the header (it may belong to another bid)",
    ),
    "signer_mismatch": (
        "签名清单的签名证书不属于投标人（信用代码不一致）",
        "The manifest was signed with a certificate of another company than the bidder",
    ),
    "ciphertext_mismatch": (
        "密文与签名清单记录的摘要不一致（文件已被改动）",
        "The ciphertext differs from the digest in the manifest (the file was altered)",
    ),
}


class SealedFormatError(CryptoError):
    """The file is not a well-formed, signed sealed bid; ``code`` names the rule."""

    def __init__(self, code: str) -> None:
        zh, en = MESSAGES[code]
        super().__init__(zh, en)
        self.code = code


def frame(kind: bytes, body: bytes) -> bytes:
    return kind + len(body).to_bytes(4, "big") + body


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: Any, size: int | None = None) -> bytes:
    try:
        raw = base64.b64decode(str(text), validate=True)
    except (ValueError, TypeError):
        raise SealedFormatError("bad_header") from None
    if size is not None and len(raw) != size:
        raise SealedFormatError("bad_header")
    return raw


def half_commitment(which: str, half: bytes) -> str:
    return hashlib.sha256(which.encode() + half).hexdigest()


def parse_json(body: bytes, code: str) -> dict[str, Any]:
    try:
        data = json.loads(body.decode())
    except (UnicodeDecodeError, ValueError):
        raise SealedFormatError(code) from None
    if not isinstance(data, dict):
        raise SealedFormatError(code)
    return data


def check_header(header: dict[str, Any]) -> None:
    from tenderhall.crypto.profiles import profile

    if header.get("format") != FORMAT:
        raise SealedFormatError("bad_header")
    if header.get("version") != VERSION:
        raise SealedFormatError("bad_version")
    profile(str(header.get("profile")))
    size = header.get("chunk_size")
    if not isinstance(size, int) or not 1024 <= size <= MAX_CHUNK:
        raise SealedFormatError("bad_header")
    unb64(header.get("nonce_prefix"), 8)
    unb64(header.get("kdf_salt"), 32)
    envelopes = header.get("envelopes")
    if not isinstance(envelopes, dict) or not envelopes.get("bidder") or not envelopes.get("opening"):
        raise SealedFormatError("bad_header")
    commitments = header.get("half_commitments")
    if not isinstance(commitments, dict) or not {"bidder", "opening"} <= commitments.keys():
        raise SealedFormatError("bad_header")
    if not isinstance(header.get("lot"), int) or not isinstance(header.get("tender"), str):
        raise SealedFormatError("bad_header")


@dataclass(frozen=True)
class SealedBidInfo:
    """What anyone can learn from a sealed bid without a key."""

    header: dict[str, Any]
    header_digest: bytes
    manifest: dict[str, Any]
    manifest_der: bytes
    signed: SignedContent
    sha256: str
    size: int

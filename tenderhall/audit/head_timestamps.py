"""Checking a tree head's RFC 3161 timestamp token against the head it claims to timestamp."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

from cryptography import x509

from tenderhall.audit.models import TreeHead
from tenderhall.audit.report import Problem
from tenderhall.audit.service import _timestamp, signed_bytes
from tenderhall.audit.timestamping import SHA256_OID, read_token, signature_problem

#: how much earlier than a head's signed_at its TSA token may be (clock skew between the platform
#: and the TSA, and the TSA's accuracy); a token from before that cannot be over that head
TIMESTAMP_TOLERANCE = dt.timedelta(minutes=2)


def timestamp_problem(head: TreeHead, tsa_roots: list[x509.Certificate] | None = None) -> Problem | None:
    """A head's RFC 3161 token must be over SHA-256 of its signed payload, and not older than the
    head (``signed_at`` − :data:`TIMESTAMP_TOLERANCE`); with ``tsa_roots``, it must also be signed
    by a TSA certificate chaining to them. None when it fits (or there is none)."""
    if head.tsa_token is None:
        return None
    where_zh = f"树头（规模 {head.tree_size}，签于 {_timestamp(head.signed_at)}）"
    where_en = f"tree head of size {head.tree_size} (signed at {_timestamp(head.signed_at)})"
    try:
        token = read_token(base64.b64decode(head.tsa_token, validate=True))
    except ValueError:
        return Problem(
            "head_timestamp",
            None,
            None,
            f"{where_zh}的时间戳令牌无法解析：它不是 RFC 3161 时间戳",
            f"The timestamp token of the {where_en} cannot be read: it is not an RFC 3161 token",
        )
    if token.hash_oid != SHA256_OID or token.imprint != hashlib.sha256(signed_bytes(head)).digest():
        return Problem(
            "head_timestamp",
            None,
            None,
            f"{where_zh}的时间戳令牌不是对该树头签名内容签发的：树头在取得时间戳后被改写",
            f"The timestamp token of the {where_en} was not issued over that head's signed payload: "
            "the head was rewritten after it was timestamped",
        )
    if token.gen_time < head.signed_at - TIMESTAMP_TOLERANCE:
        return Problem(
            "head_timestamp",
            None,
            None,
            f"{where_zh}的时间戳时间 {_timestamp(token.gen_time)} 早于树头的签发时间：树头的时间是事后改写的",
            f"The timestamp token of the {where_en} dates from {_timestamp(token.gen_time)}, before the "
            "head was signed: the head's time was rewritten",
        )
    if tsa_roots is not None and (why := signature_problem(token.der, signed_bytes(head), tsa_roots)):
        return Problem(
            "head_timestamp",
            None,
            None,
            f"{where_zh}的时间戳令牌不是由受信任的时间戳服务签发的（{why}）",
            f"The timestamp token of the {where_en} was not signed by the trusted timestamping "
            f"authority ({why})",
        )
    return None

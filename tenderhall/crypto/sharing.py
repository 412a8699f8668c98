"""k-of-n secret sharing (Shamir over GF(256), from ``pyshamir``) with a commitment per share, so
that a wrong share is named instead of silently giving a wrong secret (decision 0262).

The commitments are ``SHA-256(salt || index (1 byte) || share)`` with a random 32-byte salt: they
are stored beside the wrapped shares and reveal nothing (each share is as random as the secret)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import pyshamir

from tenderhall.crypto.errors import CryptoError, NotEnoughShares, WrongShare

MAX_SHARES = 255


@dataclass(frozen=True)
class Share:
    index: int  # 1..n
    value: bytes  # pyshamir's share (the y values, then its x coordinate)

    def encode(self) -> bytes:
        return bytes([self.index]) + self.value

    @classmethod
    def decode(cls, data: bytes) -> Share:
        if len(data) < 3 or data[0] == 0:
            raise CryptoError("密钥份额格式错误", "A key share is malformed")
        return cls(data[0], bytes(data[1:]))


@dataclass(frozen=True)
class SharingSetup:
    threshold: int
    count: int
    salt: bytes
    commitments: list[str]


def commitment(salt: bytes, share: Share) -> str:
    return hashlib.sha256(salt + bytes([share.index]) + share.value).hexdigest()


def split(secret: bytes, threshold: int, count: int) -> tuple[SharingSetup, list[Share]]:
    if not 2 <= threshold <= count <= MAX_SHARES:
        raise CryptoError(
            f"门限设置错误：需要 2 ≤ k ≤ n ≤ {MAX_SHARES}（当前 {threshold}/{count}）",
            f"Bad threshold: need 2 ≤ k ≤ n ≤ {MAX_SHARES} (got {threshold} of {count})",
        )
    parts = pyshamir.split(secret, count, threshold)
    shares = [Share(i + 1, bytes(p)) for i, p in enumerate(parts)]
    salt = secrets.token_bytes(32)
    return SharingSetup(threshold, count, salt, [commitment(salt, s) for s in shares]), shares


def check_share(setup: SharingSetup, share: Share) -> None:
    ok = 1 <= share.index <= setup.count and hmac.compare_digest(
        commitment(setup.salt, share), setup.commitments[share.index - 1]
    )
    if not ok:
        raise WrongShare(
            f"第 {share.index} 份密钥份额与登记的承诺不符",
            f"Key share {share.index} does not match its commitment",
            share.index,
        )


def combine(setup: SharingSetup, shares: Sequence[Share]) -> bytes:
    distinct = {s.index: s for s in shares}
    for s in distinct.values():
        check_share(setup, s)
    if len(distinct) < setup.threshold:
        raise NotEnoughShares(
            f"密钥份额不足：需要 {setup.threshold} 份，已有 {len(distinct)} 份",
            f"Not enough key shares: {setup.threshold} needed, {len(distinct)} given",
        )
    chosen = [bytearray(distinct[i].value) for i in sorted(distinct)[: setup.threshold]]
    return bytes(pyshamir.combine(chosen))

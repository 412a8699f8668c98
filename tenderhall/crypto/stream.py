"""STREAM-mode chunked AES-256-GCM (Hoang, Reyhanitabar, Rogaway, Vizár 2015) for files of any
size in constant memory. Chunk ``i`` is sealed with nonce ``prefix(8) || i (4 bytes, big-endian)``
and associated data ``header_digest(32) || i (8 bytes, big-endian) || final flag (1 byte)``, so a
chunk that is reordered, duplicated, dropped, flipped or taken from another file fails, and a
stream without its final chunk is detected as truncated (decision 0260)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tenderhall.crypto.errors import CryptoError, StreamError, UnknownAlgorithm
from tenderhall.crypto.profiles import DEFAULT_PROFILE, Profile

NONCE_PREFIX_SIZE = 8
TAG_SIZE = 16
KEY_SIZE = 32
DIGEST_SIZE = 32
DEFAULT_CHUNK_SIZE = 1 << 20
MAX_CHUNKS = 1 << 32
CONTENT_KEY_INFO = b"TenderHall sealed bid v1 content key"


def _check_profile(p: Profile) -> None:
    if p.content != "aes-256-gcm-stream" or p.kdf != "hkdf-sha256":
        raise UnknownAlgorithm(
            f"算法套件 {p.id} 的内容加密不受支持", f"The content cipher of profile {p.id} is not supported"
        )


def chunk_aad(header_digest: bytes, index: int, final: bool) -> bytes:
    return header_digest + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


def chunk_nonce(prefix: bytes, index: int) -> bytes:
    return prefix + index.to_bytes(4, "big")


def derive_content_key(
    bidder_half: bytes, opening_half: bytes, salt: bytes, profile: Profile = DEFAULT_PROFILE
) -> bytes:
    """HKDF-SHA256 over both halves: neither half alone says anything about the content key."""
    _check_profile(profile)
    if len(bidder_half) != KEY_SIZE or len(opening_half) != KEY_SIZE:
        raise CryptoError("密钥分量长度错误", "A key half has the wrong length")
    return HKDF(hashes.SHA256(), KEY_SIZE, salt, CONTENT_KEY_INFO).derive(bidder_half + opening_half)


class _Stream:
    def __init__(
        self, key: bytes, nonce_prefix: bytes, header_digest: bytes, profile: Profile = DEFAULT_PROFILE
    ) -> None:
        _check_profile(profile)
        if (
            len(key) != KEY_SIZE
            or len(nonce_prefix) != NONCE_PREFIX_SIZE
            or len(header_digest) != DIGEST_SIZE
        ):
            raise CryptoError("流加密参数长度错误", "A stream parameter has the wrong length")
        self._aead = AESGCM(key)
        self._prefix = nonce_prefix
        self._digest = header_digest
        self.index = 0
        self.finished = False

    def _next(self) -> tuple[bytes, int]:
        if self.finished:
            raise StreamError("最后一块之后还有数据", "Data after the final chunk", self.index)
        if self.index >= MAX_CHUNKS:
            raise StreamError("分块数超出上限", "Too many chunks", self.index)
        i = self.index
        self.index += 1
        return chunk_nonce(self._prefix, i), i


class StreamEncryptor(_Stream):
    def encrypt_chunk(self, plaintext: bytes | memoryview, *, final: bool) -> bytes:
        nonce, i = self._next()
        self.finished = final
        return self._aead.encrypt(nonce, plaintext, chunk_aad(self._digest, i, final))


class StreamDecryptor(_Stream):
    def decrypt_chunk(self, ciphertext: bytes, *, final: bool) -> bytes:
        nonce, i = self._next()
        try:
            plaintext = self._aead.decrypt(nonce, ciphertext, chunk_aad(self._digest, i, final))
        except InvalidTag:
            raise StreamError(
                f"第 {i + 1} 块密文校验失败", f"Chunk {i + 1} does not authenticate", i
            ) from None
        self.finished = final
        return plaintext

    def finish(self) -> None:
        if not self.finished:
            raise StreamError(
                "密文不完整：缺少最后一块", "The ciphertext is truncated: no final chunk", self.index
            )


def rechunk(pieces: Iterable[bytes], chunk_size: int) -> Iterator[tuple[bool, bytes]]:
    """Cut a stream of pieces of any sizes into ``chunk_size`` chunks, flagging the last one
    (possibly empty, possibly full), holding at most two chunks in memory."""
    buf = bytearray()
    pending: bytes | None = None
    for piece in pieces:
        buf += piece
        while len(buf) >= chunk_size:
            if pending is not None:
                yield False, pending
            pending = bytes(buf[:chunk_size])
            del buf[:chunk_size]
    if pending is not None:
        if buf:
            yield False, pending
        else:
            yield True, pending
            return
    yield True, bytes(buf)


def encrypt_stream(
    key: bytes,
    nonce_prefix: bytes,
    header_digest: bytes,
    plaintext: Iterable[bytes],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    profile: Profile = DEFAULT_PROFILE,
) -> Iterator[tuple[bool, bytes]]:
    """(final, ciphertext chunk) for each ``chunk_size`` piece of ``plaintext``."""
    enc = StreamEncryptor(key, nonce_prefix, header_digest, profile)
    for final, chunk in rechunk(plaintext, chunk_size):
        yield final, enc.encrypt_chunk(chunk, final=final)

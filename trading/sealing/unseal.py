"""Opening a sealed bid with both key halves: decrypted and untarred as it streams, each file
hashed, the plaintext digest compared with the signed manifest. A failure says only that the bid
cannot be opened (DOMAIN.md §4 rule 7); :func:`check_half` tells which half is wrong."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tenderhall.crypto.envelope import KeyTransportKey, unwrap
from tenderhall.crypto.errors import CryptoError
from tenderhall.crypto.profiles import profile
from tenderhall.crypto.stream import StreamDecryptor, derive_content_key
from trading.sealing.bidjson import BidFileError, check_bid, safe_relative
from trading.sealing.format import (
    CHUNK,
    FINAL,
    FRAME_HEAD,
    HEADER,
    MAGIC,
    half_commitment,
    unb64,
)
from trading.sealing.reader import READ_SIZE, SealedBidReader
from trading.sealing.seal import SALT_SIZE

Half = Literal["bidder", "opening"]


class OpenFailed(CryptoError):
    code = "open_failed"

    def __init__(self) -> None:
        super().__init__("投标文件无法解密", "The bid cannot be decrypted")


@dataclass(frozen=True)
class OpenedBid:
    bid: dict[str, Any]
    files: list[tuple[str, int, str]]  # (path, size, SHA-256 hex)
    plaintext_sha256: str


def check_half(header: dict[str, Any], which: Half, half: bytes) -> bool:
    return half_commitment(which, half) == header["half_commitments"][which]


def unwrap_half(
    header: dict[str, Any], which: Literal["bidder", "opening", "deposit"], key: KeyTransportKey
) -> bytes:
    """Unwrap a half from the header's envelopes with the recipient's key (file or token)."""
    envelope = header["envelopes"].get(which)
    if not envelope:
        raise OpenFailed()
    return unwrap(unb64(envelope), key)


class _Plaintext(io.RawIOBase):
    """The decrypted stream as a readable file (for tarfile's stream mode), hashed as it is read."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = memoryview(b"")
        self.hash = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                return 0
            self.hash.update(chunk)
            self.size += len(chunk)
            self._buf = memoryview(chunk)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]  # a view: no copy of the rest of the chunk
        return n


def _decrypted(path: Path, reader: SealedBidReader, halves: tuple[bytes, bytes]) -> Iterator[bytes]:
    """The plaintext, chunk by chunk, in one pass that also feeds the receipt checks (``reader``):
    the halves are checked against the header's commitments before any chunk is decrypted."""
    dec: StreamDecryptor | None = None
    with path.open("rb") as f:
        reader.feed(f.read(len(MAGIC)))
        while head := f.read(FRAME_HEAD):
            reader.feed(head)
            body = f.read(int.from_bytes(head[1:], "big"))
            reader.feed(body)
            kind = head[:1]
            if kind == HEADER:
                header = reader.header
                assert header is not None
                if not (check_half(header, "bidder", halves[0]) and check_half(header, "opening", halves[1])):
                    raise OpenFailed()
                p = profile(header["profile"])
                key = derive_content_key(*halves, unb64(header["kdf_salt"], 32), p)
                dec = StreamDecryptor(key, unb64(header["nonce_prefix"], 8), hashlib.sha256(body).digest(), p)
            elif kind in (CHUNK, FINAL):
                assert dec is not None
                yield dec.decrypt_chunk(body, final=kind == FINAL)
    if dec is None:
        raise OpenFailed()
    dec.finish()


def open_sealed(path: Path, bidder_half: bytes, opening_half: bytes, out_dir: Path) -> OpenedBid:
    """Decrypt ``path`` into ``out_dir`` in one streaming pass; :class:`OpenFailed` for any failure
    (the structure, signature and digests are checked as on receipt, in the same pass)."""
    reader = SealedBidReader()
    stream = _Plaintext(_decrypted(Path(path), reader, (bidder_half, opening_half)))
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[tuple[str, int, str]] = []
    try:
        if len(_read_exact(stream, SALT_SIZE)) != SALT_SIZE:
            raise OpenFailed()
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                if (
                    not member.isfile()
                    or not safe_relative(member.name)
                    or (files == [] and member.name != "bid.json")
                ):
                    raise OpenFailed()
                target = out_dir / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                h = hashlib.sha256()
                src = tar.extractfile(member)
                assert src is not None
                with target.open("xb") as f:
                    while piece := src.read(READ_SIZE):
                        h.update(piece)
                        f.write(piece)
                files.append((member.name, member.size, h.hexdigest()))
        while stream.read(READ_SIZE):
            pass  # the tar's end padding: every chunk is authenticated, to the final one
        info = reader.finish()
        header = info.header
        bid = check_bid(json.loads((out_dir / "bid.json").read_text(encoding="utf-8")), out_dir)
        if [bid["tender"], bid["lot"], bid["bidder_credit_code"]] != [
            header["tender"],
            header["lot"],
            header["bidder_credit_code"],
        ]:
            raise OpenFailed()
    except (CryptoError, tarfile.TarError, OSError, ValueError, BidFileError):
        raise OpenFailed() from None
    if (
        stream.hash.hexdigest() != info.manifest["plaintext_sha256"]
        or stream.size != info.manifest["plaintext_size"]
    ):
        raise OpenFailed()
    return OpenedBid(bid=bid, files=files, plaintext_sha256=stream.hash.hexdigest())


def _read_exact(stream: io.RawIOBase, n: int) -> bytes:
    out = b""
    while len(out) < n:
        piece = stream.read(n - len(out))
        if not piece:
            break
        out += piece
    return out

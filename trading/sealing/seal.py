"""Sealing a bid folder on the bidder's computer: bid.json and documents become one sealed file,
streamed through the encryptor in constant memory (docs/sealed-bid-format.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import platform
import secrets
import tarfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from cryptography import x509

from tenderhall.crypto.cms import CmsSigner, sign_data, verify_signed_data
from tenderhall.crypto.envelope import wrap
from tenderhall.crypto.profiles import DEFAULT_PROFILE
from tenderhall.crypto.stream import DEFAULT_CHUNK_SIZE, StreamEncryptor, derive_content_key
from tenderhall.pki.names import credit_code_of, fingerprint
from trading.sealing.bidjson import BidFileError, load_bid
from trading.sealing.format import (
    CHUNK,
    FINAL,
    FORMAT,
    HEADER,
    MAGIC,
    MANIFEST,
    MANIFEST_FORMAT,
    VERSION,
    SealedBidInfo,
    b64,
    canonical,
    frame,
    half_commitment,
)

TOOL_NAME = "tenderhall-bid"
TOOL_VERSION = "1.0"
SALT_SIZE = 32


def machine_fingerprint() -> str:
    """SHA-256 of this computer's machine id (or host name and MAC address): the same computer
    sealing several companies' bids shows up as one fingerprint (collusion indicator)."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            ident = Path(path).read_text().strip()
        except OSError:
            continue
        if ident:
            return hashlib.sha256(ident.encode()).hexdigest()
    return hashlib.sha256(f"{platform.node()}|{uuid.getnode():012x}".encode()).hexdigest()


class _EncryptingSink(io.RawIOBase):
    """A write-only file: what tarfile writes is cut into chunks, sealed and framed into ``out``."""

    def __init__(
        self, out: BinaryIO, enc: StreamEncryptor, chunk_size: int, ct_hash: Any, progress: Any
    ) -> None:
        self._out, self._enc, self._size = out, enc, chunk_size
        self._buf = bytearray()
        self.ct_hash = ct_hash
        self.plain_hash = hashlib.sha256()
        self.plain_size = 0
        self.chunks = 0
        self.written = 0
        self._progress = progress

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        self.plain_hash.update(data)
        self.plain_size += len(data)
        self._buf += data
        if len(self._buf) > self._size:
            view = memoryview(self._buf)
            start = 0
            while len(self._buf) - start > self._size:
                self._emit(view[start : start + self._size], final=False)
                start += self._size
            view.release()
            del self._buf[:start]
        return len(data)

    def _emit(self, plaintext: bytes | memoryview, *, final: bool) -> None:
        sealed = self._enc.encrypt_chunk(plaintext, final=final)
        head = (FINAL if final else CHUNK) + len(sealed).to_bytes(4, "big")
        for part in (head, sealed):
            self._out.write(part)
            self.ct_hash.update(part)
        self.written += len(head) + len(sealed)
        self.chunks += 1
        if self._progress:
            self._progress(len(plaintext))

    def close_stream(self) -> None:
        self._emit(bytes(self._buf), final=True)
        self._buf.clear()


def _members(folder: Path) -> list[tuple[str, Path]]:
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            raise BidFileError([(rel, "投标文件夹中不能有链接", "The bid folder may not contain links")])
        if path.is_file() and rel != "bid.json":
            files.append((rel, path))
    return [("bid.json", folder / "bid.json"), *files]


def _add(tar: tarfile.TarFile, name: str, path: Path) -> None:
    info = tarfile.TarInfo(name)
    info.size = path.stat().st_size
    info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = 0, 0o644, 0, 0, "", ""
    with path.open("rb") as f:
        tar.addfile(info, f)


def seal(
    folder: Path,
    out: Path,
    *,
    tender: str,
    lot: int,
    signing_key: CmsSigner,
    bidder_encryption_certificate: x509.Certificate,
    opening_certificate: x509.Certificate,
    deposit: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
) -> SealedBidInfo:
    """Seal ``folder`` into ``out`` for lot ``lot`` of tender ``tender``."""
    folder = Path(folder)
    bid = load_bid(folder)
    code = credit_code_of(signing_key.certificate)
    if bid["tender"] != tender or bid["lot"] != lot or bid["bidder_credit_code"] != code:
        raise BidFileError(
            [
                (
                    "bid.json",
                    "bid.json 的招标编号、标段或信用代码与本次投标（签名证书）不一致",
                    "bid.json's tender, lot or credit code differs from this bid and its signing certificate",
                )
            ]
        )
    profile = DEFAULT_PROFILE
    bidder_half, opening_half = secrets.token_bytes(32), secrets.token_bytes(32)
    prefix, salt = secrets.token_bytes(8), secrets.token_bytes(32)
    # the fields the manifest repeats exactly (BOUND_FIELDS), besides format and version
    bound = {"profile": profile.id, "algorithms": profile.as_json(), "tender": tender, "lot": lot}
    bound["bidder_credit_code"] = code
    header = {
        "format": FORMAT,
        "version": VERSION,
        **bound,
        "chunk_size": chunk_size,
        "nonce_prefix": b64(prefix),
        "kdf_salt": b64(salt),
        "envelopes": {
            "bidder": b64(wrap(bidder_half, bidder_encryption_certificate)),
            "opening": b64(wrap(opening_half, opening_certificate)),
            "deposit": b64(wrap(bidder_half, opening_certificate)) if deposit else None,
        },
        "half_commitments": {
            "bidder": half_commitment("bidder", bidder_half),
            "opening": half_commitment("opening", opening_half),
        },
        "opening_certificate_sha256": fingerprint(opening_certificate),
        "bidder_encryption_certificate_sha256": fingerprint(bidder_encryption_certificate),
    }
    header_body = canonical(header)
    header_digest = hashlib.sha256(header_body).digest()
    enc = StreamEncryptor(
        derive_content_key(bidder_half, opening_half, salt, profile), prefix, header_digest, profile
    )
    del bidder_half, opening_half
    tmp = out.with_name(out.name + ".part")
    try:
        with tmp.open("wb") as f:
            ct_hash = hashlib.sha256()
            start = MAGIC + frame(HEADER, header_body)
            f.write(start)
            ct_hash.update(start)
            sink = _EncryptingSink(f, enc, chunk_size, ct_hash, progress)
            sink.write(secrets.token_bytes(SALT_SIZE))
            with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                for name, path in _members(folder):
                    _add(tar, name, path)
            sink.close_stream()
            manifest = {
                "format": MANIFEST_FORMAT,
                "version": VERSION,
                **bound,
                "header_sha256": header_digest.hex(),
                "ciphertext_sha256": ct_hash.hexdigest(),
                "ciphertext_size": len(start) + sink.written,
                "plaintext_sha256": sink.plain_hash.hexdigest(),
                "plaintext_size": sink.plain_size,
                "chunk_count": sink.chunks,
                "tool": {"name": TOOL_NAME, "version": TOOL_VERSION},
                "machine": machine_fingerprint(),
                "sealed_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
            manifest_der = sign_data(canonical(manifest), signing_key)
            last = frame(MANIFEST, manifest_der)
            f.write(last)
            whole = ct_hash.copy()
            whole.update(last)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return SealedBidInfo(
        header=header,
        header_digest=header_digest,
        manifest=manifest,
        manifest_der=manifest_der,
        signed=verify_signed_data(manifest_der),
        sha256=whole.hexdigest(),
        size=out.stat().st_size,
    )

"""Reading a sealed bid as it arrives, in constant memory: the structure is checked frame by
frame, and at the end the manifest's signature and digests. Nothing here needs a key."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tenderhall.crypto.cms import verify_signed_data
from tenderhall.crypto.errors import CmsError, UnknownAlgorithm
from tenderhall.crypto.stream import TAG_SIZE
from tenderhall.pki.names import CertificateRejected, credit_code_of
from trading.sealing.format import (
    BOUND_FIELDS,
    CHUNK,
    FINAL,
    FRAME_HEAD,
    HEADER,
    MAGIC,
    MANIFEST,
    MANIFEST_FORMAT,
    MAX_META,
    VERSION,
    SealedBidInfo,
    SealedFormatError,
    check_header,
    parse_json,
)

READ_SIZE = 1 << 20


class SealedBidReader:
    """Feed the file's bytes in pieces of any size; :meth:`finish` returns what was checked."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._state = "magic"  # magic → header → chunks → done
        self._file_sha256 = ""
        self._ct_hash = hashlib.sha256()
        self._ct_size = 0
        self._size = 0
        self._chunks = 0
        self.header: dict[str, Any] | None = None
        self._header_digest = b""
        self._chunk_size = 0
        self._manifest_der: bytes | None = None

    @property
    def received(self) -> int:
        return self._size

    def feed(self, data: bytes) -> None:
        self._size += len(data)
        self._buf += data
        while self._step():
            pass

    def _take(self, n: int) -> bytes:
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def _step(self) -> bool:
        if self._state == "magic":
            if len(self._buf) < len(MAGIC):
                if not MAGIC.startswith(bytes(self._buf)):
                    raise SealedFormatError("not_sealed")
                return False
            magic = self._take(len(MAGIC))
            if magic[:6] != MAGIC[:6]:
                raise SealedFormatError("not_sealed")
            if magic != MAGIC:
                raise SealedFormatError("bad_version")
            self._ct_hash.update(magic)
            self._ct_size += len(magic)
            self._state = "header"
            return True
        if self._state == "done":
            if self._buf:
                raise SealedFormatError("bad_frame")  # bytes after the manifest
            return False
        if len(self._buf) < FRAME_HEAD:
            return False
        kind = bytes(self._buf[:1])
        length = int.from_bytes(self._buf[1:FRAME_HEAD], "big")
        self._check_frame(kind, length)
        if len(self._buf) < FRAME_HEAD + length:
            return False
        head = self._take(FRAME_HEAD)
        body = self._take(length)
        if kind == MANIFEST:
            # the whole file is everything before the manifest, then the manifest's frame
            whole = self._ct_hash.copy()
            whole.update(head)
            whole.update(body)
            self._file_sha256 = whole.hexdigest()
            self._manifest_der = body
            self._state = "done"
            return True
        self._ct_hash.update(head)
        self._ct_hash.update(body)
        self._ct_size += FRAME_HEAD + length
        if kind == HEADER:
            header = parse_json(body, "bad_header")
            try:
                check_header(header)
            except UnknownAlgorithm:
                raise SealedFormatError("bad_header") from None
            self.header = header
            self._header_digest = hashlib.sha256(body).digest()
            self._chunk_size = int(header["chunk_size"])
            self._state = "chunks"
        else:
            self._chunks += 1
            if kind == FINAL:
                self._state = "final"
        return True

    def _check_frame(self, kind: bytes, length: int) -> None:
        state = self._state
        if state == "header":
            ok = kind == HEADER and 0 < length <= MAX_META
        elif state == "chunks":
            full = self._chunk_size + TAG_SIZE
            ok = (kind == CHUNK and length == full) or (kind == FINAL and TAG_SIZE <= length <= full)
            if kind == MANIFEST:
                raise SealedFormatError("truncated")  # the final chunk is missing
        elif state == "final":
            if kind != MANIFEST:
                raise SealedFormatError("bad_frame")
            ok = 0 < length <= MAX_META
        else:
            ok = False
        if not ok:
            raise SealedFormatError("bad_frame")

    def finish(self) -> SealedBidInfo:
        if self._state in ("magic", "header") and self._size < len(MAGIC):
            raise SealedFormatError("not_sealed" if self._size == 0 else "truncated")
        if self._state == "final":
            raise SealedFormatError("no_manifest")
        if self._state != "done" or self._buf or self._manifest_der is None or self.header is None:
            raise SealedFormatError("truncated")
        try:
            signed = verify_signed_data(self._manifest_der)
        except CmsError:
            raise SealedFormatError("bad_signature") from None
        manifest = parse_json(signed.content, "bad_manifest")
        header = self.header
        try:
            signer_code = credit_code_of(signed.signer)
        except CertificateRejected:
            signer_code = None
        if signer_code != header.get("bidder_credit_code"):
            raise SealedFormatError("signer_mismatch")
        if manifest.get("format") != MANIFEST_FORMAT or manifest.get("version") != VERSION:
            raise SealedFormatError("bad_manifest")
        if any(manifest.get(f) != header.get(f) for f in BOUND_FIELDS):
            raise SealedFormatError("manifest_mismatch")
        if manifest.get("header_sha256") != self._header_digest.hex():
            raise SealedFormatError("manifest_mismatch")
        if (
            manifest.get("ciphertext_sha256") != self._ct_hash.hexdigest()
            or manifest.get("ciphertext_size") != self._ct_size
            or manifest.get("chunk_count") != self._chunks
        ):
            raise SealedFormatError("ciphertext_mismatch")
        return SealedBidInfo(
            header=header,
            header_digest=self._header_digest,
            manifest=manifest,
            manifest_der=self._manifest_der,
            signed=signed,
            sha256=self._file_sha256,
            size=self._size,
        )


def inspect_file(path: Path) -> SealedBidInfo:
    reader = SealedBidReader()
    with Path(path).open("rb") as f:
        while piece := f.read(READ_SIZE):
            reader.feed(piece)
    return reader.finish()

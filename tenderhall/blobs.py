"""Content-addressed blob store (a folder by default): documents, bids, photos, PDFs.

A blob is named by the SHA-256 of its bytes and lives at ``root/ab/cd/abcd…``. Writes stream: the
bytes go to a temp file in the store's own folder (same file system) while being hashed, are
fsynced, and the file is renamed atomically to its content address. A failing or oversized stream
leaves nothing behind. Memory use is one chunk, whatever the size of the blob.

A process killed mid-write (kill -9, power loss) leaves its temp ``.part`` file: the first
``BlobStore`` a process opens on a folder sweeps the ``.part`` files untouched for
``TEMP_MAX_AGE`` (a live upload touches its file with every chunk), and the periodic blob
collection (``tenderhall.storage``) sweeps again. Blobs that no table references are collected
there too, after a grace period.

    store = BlobStore(settings.blob_dir)
    ref = store.write_stream(upload_chunks, max_bytes=settings.trading.document_max_bytes)
    for chunk in store.read_chunks(ref.sha256):
        ...
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import tempfile
import threading
import time
from collections.abc import AsyncIterable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tenderhall.errors import AppError, InvalidInput, NotFound

CHUNK_SIZE = 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TMP_DIR = ".tmp"

#: A temp file untouched for this long belongs to a writer that died: a live upload writes (and so
#: touches) its file at least once a chunk.
TEMP_MAX_AGE = dt.timedelta(minutes=15)

_SWEPT: set[str] = set()  # blob folders this process has swept at start-up
_SWEPT_LOCK = threading.Lock()


class BlobTooLarge(AppError):
    status = 413
    code = "blob_too_large"


@dataclass(frozen=True)
class BlobRef:
    sha256: str
    size: int


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems refuse to fsync a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _too_large(max_bytes: int) -> BlobTooLarge:
    mib = max_bytes / (1024 * 1024)
    return BlobTooLarge(
        f"文件超过允许的大小上限（{mib:.1f} MiB，即 {max_bytes} 字节）",
        f"The file is larger than the allowed maximum ({mib:.1f} MiB, {max_bytes} bytes)",
        extra={"max_bytes": max_bytes},
    )


class _Writer:
    """One blob being written: temp file, running hash, size limit."""

    def __init__(self, store: BlobStore, max_bytes: int | None) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.hash = hashlib.sha256()
        self.size = 0
        tmp_dir = store.root / _TMP_DIR
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="blob-", suffix=".part")
        self.tmp = Path(name)
        self.file: BinaryIO = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise _too_large(self.max_bytes)
        self.hash.update(chunk)
        self.file.write(chunk)

    def commit(self) -> BlobRef:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        sha = self.hash.hexdigest()
        final = self.store.path(sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.tmp, final)  # atomic; an identical blob already there is simply replaced
        _fsync_dir(final.parent)
        return BlobRef(sha, self.size)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        self.tmp.unlink(missing_ok=True)


class BlobStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        key = str(self.root.absolute())
        if key not in _SWEPT:
            with _SWEPT_LOCK:
                first = key not in _SWEPT
                _SWEPT.add(key)
            if first:
                self.sweep_temporary()

    # --- housekeeping ----------------------------------------------------------------------------

    def sweep_temporary(self, older_than: dt.timedelta = TEMP_MAX_AGE, *, now: float | None = None) -> int:
        """Delete temp ``.part`` files not written to for ``older_than`` (left by a killed writer).
        Returns how many were deleted."""
        cutoff = (now if now is not None else time.time()) - older_than.total_seconds()
        deleted = 0
        for part in (self.root / _TMP_DIR).glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                if part.stat().st_mtime < cutoff:
                    part.unlink()
                    deleted += 1
        return deleted

    def iter_blobs(self) -> Iterator[tuple[str, float]]:
        """Every stored blob: ``(sha256, modification time)`` (the time it was last written)."""
        for first in sorted(self.root.glob("[0-9a-f][0-9a-f]")):
            for path in sorted(first.glob("[0-9a-f][0-9a-f]/*")):
                if _SHA256.fullmatch(path.name) and path.name[:2] == first.name:
                    with contextlib.suppress(FileNotFoundError):
                        yield path.name, path.stat().st_mtime

    # --- addressing ------------------------------------------------------------------------------

    @staticmethod
    def _check(sha256: str) -> str:
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
            raise InvalidInput(
                "文件标识应为64位小写十六进制的 SHA-256 值",
                "A blob id is a SHA-256 in 64 lowercase hexadecimal characters",
            )
        return sha256

    def path(self, sha256: str) -> Path:
        sha = self._check(sha256)
        return self.root / sha[:2] / sha[2:4] / sha

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def size(self, sha256: str) -> int:
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            raise self._missing(sha256) from None

    @staticmethod
    def _missing(sha256: str) -> NotFound:
        return NotFound(f"找不到文件 {sha256[:12]}…", f"No stored file {sha256[:12]}…")

    # --- writing ---------------------------------------------------------------------------------

    def write_stream(self, source: Iterable[bytes] | BinaryIO, *, max_bytes: int | None = None) -> BlobRef:
        """Store a stream of chunks (or a binary file object, read in 1 MiB chunks) and return its
        address and size. Raises :class:`BlobTooLarge` (413) past ``max_bytes``; any error leaves
        no partial blob."""
        writer = _Writer(self, max_bytes)
        try:
            for chunk in _chunks_of(source):
                writer.write(chunk)
            return writer.commit()
        except BaseException:
            writer.abort()
            raise

    async def write_async_stream(
        self, source: AsyncIterable[bytes], *, max_bytes: int | None = None
    ) -> BlobRef:
        """As :meth:`write_stream`, for an async source such as ``request.stream()``; file I/O runs
        in worker threads so the event loop is never blocked."""
        import anyio.to_thread

        writer = await anyio.to_thread.run_sync(_Writer, self, max_bytes)
        try:
            async for chunk in source:
                await anyio.to_thread.run_sync(writer.write, bytes(chunk))
            return await anyio.to_thread.run_sync(writer.commit)
        except BaseException:
            writer.abort()
            raise

    def adopt(self, path: Path, sha256: str) -> BlobRef:
        """Move a finished file already hashed by the caller (an upload's part file, on the same
        file system) into the store under ``sha256``; atomic, like :meth:`write_stream`'s commit."""
        final = self.path(sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        size = path.stat().st_size
        os.replace(path, final)
        _fsync_dir(final.parent)
        return BlobRef(sha256, size)

    def write_bytes(self, data: bytes) -> BlobRef:
        return self.write_stream([data])

    # --- reading ---------------------------------------------------------------------------------

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError:
            raise self._missing(sha256) from None

    def read_chunks(self, sha256: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        with self.open(sha256) as f:
            while chunk := f.read(chunk_size):
                yield chunk

    def read_bytes(self, sha256: str) -> bytes:
        """Whole blob in memory: only for small blobs (signatures, receipts)."""
        with self.open(sha256) as f:
            return f.read()

    # --- retention -------------------------------------------------------------------------------

    def delete(self, sha256: str) -> bool:
        """Remove a blob (retention). True if it existed."""
        path = self.path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True


def _chunks_of(source: Iterable[bytes] | BinaryIO) -> Iterator[bytes]:
    read = getattr(source, "read", None)
    if callable(read):
        while chunk := read(CHUNK_SIZE):
            yield chunk
        return
    for chunk in source:  # type: ignore[union-attr]
        yield bytes(chunk)

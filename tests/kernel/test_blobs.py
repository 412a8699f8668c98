"""Blob store: content addressing, atomic writes that never leave a partial blob, size limits, and
constant-memory streaming of large blobs."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenderhall.blobs import BlobStore, BlobTooLarge
from tenderhall.errors import InvalidInput, NotFound

MiB = 1024 * 1024


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_blobs_are_named_by_their_sha256(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = "招标文件 tender document".encode()
    ref = store.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    assert ref.sha256 == sha
    assert ref.size == len(data)
    assert store.path(sha) == tmp_path / sha[:2] / sha[2:4] / sha
    assert store.exists(sha)
    assert store.size(sha) == len(data)
    assert store.read_bytes(sha) == data
    with store.open(sha) as f:
        assert f.read() == data


def test_writing_the_same_content_twice_keeps_one_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    a = store.write_stream([b"abc", b"def"])
    b = store.write_stream(io.BytesIO(b"abcdef"))
    assert a == b
    assert len(_files(tmp_path)) == 1


def test_a_failing_stream_leaves_no_partial_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    def broken() -> Iterator[bytes]:
        yield b"x" * MiB
        yield b"y" * MiB
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.write_stream(broken())
    assert _files(tmp_path) == []


def test_a_stream_over_max_bytes_is_refused_with_413_and_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(BlobTooLarge) as err:
        store.write_stream((b"z" * 1000 for _ in range(10)), max_bytes=5000)
    assert err.value.status == 413
    assert "5000" in err.value.en
    assert "5000" in err.value.zh
    assert _files(tmp_path) == []
    ok = store.write_stream([b"z" * 5000], max_bytes=5000)  # exactly the limit is fine
    assert ok.size == 5000


def test_missing_blob_is_not_found_and_bad_ids_are_refused(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(NotFound):
        store.open("0" * 64)
    with pytest.raises(NotFound):
        store.size("0" * 64)
    for bad in ("../../etc/passwd", "ABC", "g" * 64, "0" * 63):
        with pytest.raises(InvalidInput):
            store.path(bad)


def test_delete_removes_a_blob_for_retention(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    ref = store.write_bytes(b"photo")
    assert store.delete(ref.sha256) is True
    assert not store.exists(ref.sha256)
    assert store.delete(ref.sha256) is False


def test_a_50_mb_stream_is_written_and_read_in_bounded_memory(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    total = 50 * MiB
    block = hashlib.sha256(b"seed").digest() * (MiB // 32)  # 1 MiB, reused: the source holds no more
    expected = hashlib.sha256()

    def source() -> Iterator[bytes]:
        for i in range(total // MiB):
            chunk = block[i:] + block[:i]  # vary the content per chunk
            expected.update(chunk)
            yield chunk

    tracemalloc.start()
    try:
        ref = store.write_stream(source())
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        got = hashlib.sha256()
        n = 0
        for chunk in store.read_chunks(ref.sha256):
            assert len(chunk) <= MiB
            got.update(chunk)
            n += len(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ref.size == total
    assert n == total
    assert ref.sha256 == expected.hexdigest() == got.hexdigest()
    assert write_peak < 8 * MiB, f"writing 50 MB peaked at {write_peak / MiB:.1f} MiB"
    assert read_peak < 8 * MiB, f"reading 50 MB peaked at {read_peak / MiB:.1f} MiB"


async def test_an_async_upload_stream_is_stored_like_a_sync_one(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    async def upload():  # type: ignore[no-untyped-def]
        for part in (b"part-1;", b"part-2;", b"part-3"):
            yield part

    ref = await store.write_async_stream(upload())
    assert ref.sha256 == hashlib.sha256(b"part-1;part-2;part-3").hexdigest()

    async def too_big():  # type: ignore[no-untyped-def]
        for _ in range(4):
            yield b"q" * 100

    with pytest.raises(BlobTooLarge):
        await store.write_async_stream(too_big(), max_bytes=250)
    assert len(_files(tmp_path)) == 1

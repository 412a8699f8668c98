"""STREAM-mode AES-256-GCM: every way of tampering with the chunks is detected."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Iterator

import pytest

from tenderhall.crypto.errors import StreamError, UnknownAlgorithm
from tenderhall.crypto.profiles import DEFAULT_PROFILE, PROFILES, profile
from tenderhall.crypto.stream import (
    StreamDecryptor,
    derive_content_key,
    encrypt_stream,
    rechunk,
)

KEY = bytes(range(32))
PREFIX = b"\x01" * 8
DIGEST = b"\x02" * 32
CHUNK = 1024


def _seal(data: bytes, chunk: int = CHUNK) -> list[tuple[bool, bytes]]:
    pieces = [data[i : i + 333] for i in range(0, len(data), 333)]
    return list(encrypt_stream(KEY, PREFIX, DIGEST, pieces, chunk))


def _open(chunks: list[tuple[bool, bytes]], digest: bytes = DIGEST) -> bytes:
    dec = StreamDecryptor(KEY, PREFIX, digest)
    out = b"".join(dec.decrypt_chunk(c, final=f) for f, c in chunks)
    dec.finish()
    return out


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK, 3 * CHUNK + 7])
def test_a_stream_of_any_size_opens_to_its_plaintext(size: int) -> None:
    data = os.urandom(size)
    chunks = _seal(data)
    assert [f for f, _ in chunks].count(True) == 1 and chunks[-1][0]
    assert _open(chunks) == data


def test_exact_multiples_end_with_a_full_final_chunk_and_nothing_after() -> None:
    chunks = list(rechunk([b"a" * 10, b"b" * 10], 10))
    assert chunks == [(False, b"a" * 10), (True, b"b" * 10)]
    assert list(rechunk([], 10)) == [(True, b"")]


def test_reordered_chunks_are_detected() -> None:
    chunks = _seal(os.urandom(3 * CHUNK + 5))
    swapped = [chunks[1], chunks[0], *chunks[2:]]
    with pytest.raises(StreamError) as e:
        _open(swapped)
    assert e.value.chunk_index == 0


def test_a_duplicated_chunk_is_detected() -> None:
    chunks = _seal(os.urandom(3 * CHUNK + 5))
    with pytest.raises(StreamError):
        _open([chunks[0], chunks[0], *chunks[1:]])


def test_a_dropped_chunk_is_detected() -> None:
    chunks = _seal(os.urandom(3 * CHUNK + 5))
    with pytest.raises(StreamError) as e:
        _open([chunks[0], *chunks[2:]])
    assert e.value.chunk_index == 1


def test_a_flipped_bit_is_detected() -> None:
    chunks = _seal(os.urandom(2 * CHUNK + 5))
    final, c = chunks[1]
    flipped = bytearray(c)
    flipped[10] ^= 0x01
    with pytest.raises(StreamError) as e:
        _open([chunks[0], (final, bytes(flipped)), chunks[2]])
    assert e.value.chunk_index == 1


def test_removing_the_final_chunk_is_detected_as_truncation() -> None:
    chunks = _seal(os.urandom(2 * CHUNK + 5))
    dec = StreamDecryptor(KEY, PREFIX, DIGEST)
    for f, c in chunks[:-1]:
        dec.decrypt_chunk(c, final=f)
    with pytest.raises(StreamError, match="truncated"):
        dec.finish()


def test_a_non_final_chunk_presented_as_final_fails() -> None:
    chunks = _seal(os.urandom(2 * CHUNK + 5))
    with pytest.raises(StreamError):
        _open([(True, chunks[0][1])])


def test_chunks_of_another_file_header_do_not_open() -> None:
    chunks = _seal(os.urandom(CHUNK))
    with pytest.raises(StreamError):
        _open(chunks, digest=b"\x03" * 32)


def test_nothing_is_accepted_after_the_final_chunk() -> None:
    chunks = _seal(b"short")
    dec = StreamDecryptor(KEY, PREFIX, DIGEST)
    dec.decrypt_chunk(chunks[0][1], final=True)
    with pytest.raises(StreamError):
        dec.decrypt_chunk(chunks[0][1], final=True)


def test_the_content_key_depends_on_both_halves_and_the_salt() -> None:
    a, b, salt = os.urandom(32), os.urandom(32), os.urandom(32)
    k = derive_content_key(a, b, salt)
    assert len(k) == 32
    assert k == derive_content_key(a, b, salt)
    assert k != derive_content_key(os.urandom(32), b, salt)
    assert k != derive_content_key(a, os.urandom(32), salt)
    assert k != derive_content_key(a, b, os.urandom(32))


def test_encryption_holds_constant_memory_for_a_large_stream() -> None:
    def source() -> Iterator[bytes]:
        block = b"\x00" * 65536
        for _ in range(64 * 16):  # 64 MiB
            yield block

    tracemalloc.start()
    total = sum(len(c) for _, c in encrypt_stream(KEY, PREFIX, DIGEST, source()))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert total == 64 * 1024 * 1024 + 64 * 16
    assert peak < 8 * 1024 * 1024


def test_an_unknown_profile_is_refused_by_name() -> None:
    with pytest.raises(UnknownAlgorithm, match="sm2-sm4gcm-sm3"):
        profile("sm2-sm4gcm-sm3")
    assert PROFILES[DEFAULT_PROFILE.id] is DEFAULT_PROFILE
    assert DEFAULT_PROFILE.as_json()["content"] == "aes-256-gcm-stream"

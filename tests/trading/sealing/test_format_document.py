"""The test vectors printed in docs/sealed-bid-format.md are what the code computes."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tenderhall.crypto.stream import StreamEncryptor, chunk_aad, derive_content_key
from trading.sealing.format import MAGIC
from trading.sealing.format import MESSAGES as MESSAGES_CODES

DOC = (Path(__file__).resolve().parents[3] / "docs" / "sealed-bid-format.md").read_text()


def _vector(label: str) -> str:
    m = re.search(rf"^\| {re.escape(label)} \| `([0-9a-f]+)` \|$", DOC, re.MULTILINE)
    assert m, label
    return m.group(1)


def test_the_documents_vectors_hold() -> None:
    bidder, opening, salt = bytes(range(32)), bytes(range(32, 64)), bytes(range(64, 96))
    prefix = bytes.fromhex(_vector("nonce_prefix"))
    digest = hashlib.sha256(b'{"format":"tenderhall-sealed-bid"}').digest()
    assert digest.hex() == _vector("header_digest")
    key = derive_content_key(bidder, opening, salt)
    assert key.hex() == _vector("content_key")
    assert chunk_aad(digest, 0, False).hex() == _vector("aad of chunk 0 (not final)")
    assert chunk_aad(digest, 1, True).hex() == _vector("aad of chunk 1 (final)")
    enc = StreamEncryptor(key, prefix, digest)
    assert enc.encrypt_chunk(b"TenderHall chunk 0", final=False).hex() == _vector(
        'chunk 0 = "TenderHall chunk 0"'
    )
    assert enc.encrypt_chunk(b"last", final=True).hex() == _vector('chunk 1 = "last", final')
    assert hashlib.sha256(b"bidder" + bidder).hexdigest() == _vector("bidder half commitment")


def test_the_document_lists_the_magic_and_every_refusal_code() -> None:
    assert " ".join(f"{b:02X}" for b in MAGIC) in DOC
    for code in MESSAGES_CODES:
        assert f"`{code}`" in DOC, code

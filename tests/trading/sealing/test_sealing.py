"""Sealed bids, version 1: sealed on the bidder's side, checked as they arrive without any key,
opened only with both halves. Every way of damaging or forging a file is refused by name."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tenderhall.crypto.cms import sign_data
from tests.trading.sealing.conftest import TENDER, Parties, bid_json, make_folder
from trading.sealing import (
    OpenFailed,
    SealedBidReader,
    SealedFormatError,
    check_half,
    inspect_file,
    open_sealed,
    seal,
    unwrap_half,
)
from trading.sealing.bidjson import BidFileError
from trading.sealing.format import CHUNK, FINAL, MAGIC, MANIFEST, canonical, frame

CHUNK_SIZE = 1024


def _seal(p: Parties, folder: Path, out: Path, **kw: object) -> Path:
    seal(
        folder,
        out,
        tender=TENDER,
        lot=1,
        signing_key=kw.pop("signing_key", p.sign),  # type: ignore[arg-type]
        bidder_encryption_certificate=p.enc.certificate,
        opening_certificate=p.opening.certificate,
        chunk_size=CHUNK_SIZE,
        **kw,  # type: ignore[arg-type]
    )
    return out


@pytest.fixture
def sealed(parties: Parties, tmp_path: Path) -> Path:
    return _seal(parties, make_folder(tmp_path / "bid", big=5000), tmp_path / "bid.thbid")


def _frames(path: Path) -> list[tuple[bytes, bytes]]:
    data = path.read_bytes()
    assert data.startswith(MAGIC)
    pos, out = len(MAGIC), []
    while pos < len(data):
        n = int.from_bytes(data[pos + 1 : pos + 5], "big")
        out.append((data[pos : pos + 1], data[pos + 5 : pos + 5 + n]))
        pos += 5 + n
    return out


def _write(path: Path, frames: list[tuple[bytes, bytes]], magic: bytes = MAGIC) -> Path:
    path.write_bytes(magic + b"".join(frame(k, b) for k, b in frames))
    return path


def _halves(p: Parties, path: Path) -> tuple[bytes, bytes]:
    header = inspect_file(path).header
    return unwrap_half(header, "bidder", p.decryptor(p.enc)), unwrap_half(
        header, "opening", p.decryptor(p.opening)
    )


def _refused(path: Path) -> str:
    with pytest.raises(SealedFormatError) as e:
        inspect_file(path)
    assert e.value.zh and e.value.en
    return e.value.code


def test_a_sealed_folder_opens_to_the_same_files(parties: Parties, sealed: Path, tmp_path: Path) -> None:
    opened = open_sealed(sealed, *_halves(parties, sealed), tmp_path / "opened")
    assert opened.bid["price_fen"] == 3_150_000_000
    names = [f[0] for f in opened.files]
    assert names[0] == "bid.json"
    assert sorted(names[1:]) == names[1:]
    for name, size, _ in opened.files:
        original = tmp_path / "bid" / name
        assert (tmp_path / "opened" / name).read_bytes() == original.read_bytes()
        assert size == original.stat().st_size


def test_nothing_of_the_bid_is_readable_in_the_sealed_file(sealed: Path) -> None:
    data = sealed.read_bytes()
    info = inspect_file(sealed)
    for secret in (b"3150000000", "张三".encode(), b"%PDF", "商务标".encode()):
        assert secret not in data
    assert "price_fen" not in json.dumps(info.manifest)


def test_the_server_learns_the_binding_without_any_key(sealed: Path) -> None:
    info = inspect_file(sealed)
    assert (info.header["tender"], info.header["lot"]) == (TENDER, 1)
    assert info.manifest["header_sha256"] == info.header_digest.hex()
    assert info.size == sealed.stat().st_size
    assert len(info.sha256) == 64


def test_feeding_any_pieces_gives_the_same_result(sealed: Path) -> None:
    data = sealed.read_bytes()
    reader = SealedBidReader()
    sizes = [1, 2, 3, 7, 4096, 13]
    pos = i = 0
    while pos < len(data):
        reader.feed(data[pos : pos + sizes[i % len(sizes)]])
        pos += sizes[i % len(sizes)]
        i += 1
    assert reader.finish() == inspect_file(sealed)


def test_an_unencrypted_upload_is_refused(tmp_path: Path) -> None:
    assert _refused(_write_raw(tmp_path / "plain.pdf", b"%PDF-1.7 a plain bid")) == "not_sealed"
    assert _refused(_write_raw(tmp_path / "empty", b"")) == "not_sealed"


def _write_raw(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_another_format_version_is_refused(sealed: Path, tmp_path: Path) -> None:
    assert _refused(_write(tmp_path / "v2", _frames(sealed), MAGIC[:6] + b"\x02\n")) == "bad_version"


def test_a_truncated_file_is_refused(sealed: Path, tmp_path: Path) -> None:
    data = sealed.read_bytes()
    assert _refused(_write_raw(tmp_path / "cut", data[: len(data) // 2])) == "truncated"


def test_reordered_duplicated_dropped_or_flipped_chunks_are_refused(sealed: Path, tmp_path: Path) -> None:
    frames = _frames(sealed)
    h, chunks, m = frames[0], frames[1:-1], frames[-1]
    assert len(chunks) >= 3
    cases = {
        "reordered": [h, chunks[1], chunks[0], *chunks[2:], m],
        "duplicated": [h, chunks[0], *chunks, m],
        "dropped": [h, *chunks[1:], m],
    }
    flipped = bytearray(chunks[1][1])
    flipped[3] ^= 1
    cases["flipped"] = [h, chunks[0], (CHUNK, bytes(flipped)), *chunks[2:], m]
    for name, case in cases.items():
        assert _refused(_write(tmp_path / name, case)) == "ciphertext_mismatch", name


def test_removing_the_final_chunk_is_refused(sealed: Path, tmp_path: Path) -> None:
    frames = _frames(sealed)
    assert frames[-2][0] == FINAL
    assert _refused(_write(tmp_path / "nofinal", [*frames[:-2], frames[-1]])) == "truncated"


def test_a_file_without_its_manifest_is_refused_as_unsigned(sealed: Path, tmp_path: Path) -> None:
    assert _refused(_write(tmp_path / "nom", _frames(sealed)[:-1])) == "no_manifest"


def test_a_manifest_that_is_not_signed_is_refused(sealed: Path, tmp_path: Path) -> None:
    frames = _frames(sealed)
    plain = canonical(inspect_file(sealed).manifest)
    assert _refused(_write(tmp_path / "unsigned", [*frames[:-1], (MANIFEST, plain)])) == "bad_signature"


def test_a_manifest_signed_by_another_company_is_refused(
    parties: Parties, sealed: Path, tmp_path: Path
) -> None:
    frames = _frames(sealed)
    forged = sign_data(canonical(inspect_file(sealed).manifest), parties.other_sign)
    assert _refused(_write(tmp_path / "other", [*frames[:-1], (MANIFEST, forged)])) == "signer_mismatch"


def test_the_manifest_of_one_bid_on_the_ciphertext_of_another_is_refused(
    parties: Parties, sealed: Path, tmp_path: Path
) -> None:
    second = _seal(parties, make_folder(tmp_path / "bid2"), tmp_path / "second.thbid")
    spliced = [*_frames(second)[:-1], _frames(sealed)[-1]]
    assert _refused(_write(tmp_path / "spliced", spliced)) == "manifest_mismatch"


def test_a_manifest_that_differs_from_its_header_is_refused(
    parties: Parties, sealed: Path, tmp_path: Path
) -> None:
    manifest = dict(inspect_file(sealed).manifest, lot=2)
    resigned = sign_data(canonical(manifest), parties.sign)
    assert (
        _refused(_write(tmp_path / "lot2", [*_frames(sealed)[:-1], (MANIFEST, resigned)]))
        == "manifest_mismatch"
    )


def test_data_after_the_manifest_is_refused(sealed: Path, tmp_path: Path) -> None:
    assert _refused(_write_raw(tmp_path / "tail", sealed.read_bytes() + b"x")) == "bad_frame"


def test_a_bad_chunk_signed_by_the_bidder_still_fails_at_opening(
    parties: Parties, sealed: Path, tmp_path: Path
) -> None:
    frames = _frames(sealed)
    h, chunks, m = frames[0], frames[1:-1], frames[-1]
    bad = _write(tmp_path / "swapped", [h, chunks[1], chunks[0], *chunks[2:], m])
    info_manifest = dict(inspect_file(sealed).manifest)
    import hashlib

    data = bad.read_bytes()
    body_end = len(data) - 5 - len(m[1])
    info_manifest["ciphertext_sha256"] = hashlib.sha256(data[:body_end]).hexdigest()
    resigned = _write(
        tmp_path / "resigned",
        [h, chunks[1], chunks[0], *chunks[2:], (MANIFEST, sign_data(canonical(info_manifest), parties.sign))],
    )
    inspect_file(resigned)  # well-formed and signed: the damage shows only at opening
    with pytest.raises(OpenFailed):
        open_sealed(resigned, *_halves(parties, sealed), tmp_path / "out")


def test_a_wrong_half_fails_without_saying_which_but_check_half_names_it(
    parties: Parties, sealed: Path, tmp_path: Path
) -> None:
    bidder, opening = _halves(parties, sealed)
    wrong = os.urandom(32)
    for halves in ((wrong, opening), (bidder, wrong)):
        with pytest.raises(OpenFailed) as e:
            open_sealed(sealed, *halves, tmp_path / "out")
        assert str(e.value) == str(OpenFailed())
    header = inspect_file(sealed).header
    assert check_half(header, "bidder", bidder) and check_half(header, "opening", opening)
    assert not check_half(header, "bidder", wrong)
    assert not check_half(header, "opening", bidder)


def test_a_deposited_half_lets_the_opening_key_open_the_bid(parties: Parties, tmp_path: Path) -> None:
    path = _seal(parties, make_folder(tmp_path / "bid"), tmp_path / "dep.thbid", deposit=True)
    header = inspect_file(path).header
    bidder = unwrap_half(header, "deposit", parties.decryptor(parties.opening))
    opening = unwrap_half(header, "opening", parties.decryptor(parties.opening))
    assert open_sealed(path, bidder, opening, tmp_path / "out").bid["duration_days"] == 365


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price_fen": None}, "price_fen"),
        ({"price_fen": -5}, "price_fen"),
        ({"duration_days": 0}, "duration_days"),
        (
            {
                "project_manager": {
                    "name": "张三",
                    "id_number": "429005198001010010",
                    "photo": "photos/pm.jpg",
                }
            },
            "project_manager.id_number",
        ),
        (
            {
                "project_manager": {
                    "name": "张三",
                    "id_number": "42900519800101001X",
                    "photo": "photos/none.jpg",
                }
            },
            "project_manager.photo",
        ),
        ({"documents": ["../etc/passwd"]}, "documents[0]"),
        ({"bidder_credit_code": "123"}, "bidder_credit_code"),
    ],
)
def test_a_bad_bid_json_is_refused_before_sealing(
    parties: Parties, tmp_path: Path, change: dict, field: str
) -> None:
    folder = make_folder(tmp_path / "bid", bid_json(**change))
    with pytest.raises(BidFileError) as e:
        _seal(parties, folder, tmp_path / "x.thbid")
    fields = [f for f, _, _ in e.value.problems]
    assert field in fields
    assert all(zh and en for _, zh, en in e.value.problems)
    assert not (tmp_path / "x.thbid").exists()


def test_a_bid_json_for_another_lot_than_the_seal_is_refused(parties: Parties, tmp_path: Path) -> None:
    with pytest.raises(BidFileError):
        _seal(parties, make_folder(tmp_path / "bid", bid_json(lot=2)), tmp_path / "x.thbid")


def test_a_tar_member_escaping_the_folder_is_refused_at_opening(
    parties: Parties, sealed: Path, tmp_path: Path
) -> None:
    import tenderhall.crypto.stream as stream_mod

    assert stream_mod  # the escape is built by sealing a folder whose tar names a parent path
    folder = make_folder(tmp_path / "evil")
    import tarfile

    original = tarfile.TarInfo.__init__

    def evil_init(self: tarfile.TarInfo, name: str = "") -> None:
        original(self, "../escape.pdf" if name == "商务标.pdf" else name)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tarfile.TarInfo, "__init__", evil_init)
        path = _seal(parties, folder, tmp_path / "evil.thbid")
    with pytest.raises(OpenFailed):
        open_sealed(path, *_halves(parties, path), tmp_path / "out" / "inner")
    assert not (tmp_path / "out" / "escape.pdf").exists()


def test_what_the_sealer_returns_is_what_the_reader_finds(parties: Parties, tmp_path: Path) -> None:
    out = tmp_path / "b.thbid"
    info = seal(
        make_folder(tmp_path / "bid"),
        out,
        tender=TENDER,
        lot=1,
        signing_key=parties.sign,
        bidder_encryption_certificate=parties.enc.certificate,
        opening_certificate=parties.opening.certificate,
        chunk_size=CHUNK_SIZE,
    )
    assert info == inspect_file(out)
    assert info.sha256 == __import__("hashlib").sha256(out.read_bytes()).hexdigest()

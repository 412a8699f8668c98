"""docs/examples/reference_sealer.py, written from docs/sealed-bid-format.md with only
`cryptography`, makes bids the platform's reader accepts and opens."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tests.trading.sealing.conftest import CODE, TENDER, Parties, make_folder
from trading.sealing import inspect_file, open_sealed, unwrap_half

SEALER = Path(__file__).resolve().parents[3] / "docs" / "examples" / "reference_sealer.py"


def test_the_reference_sealer_imports_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(SEALER.read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add((node.module or "").split(".")[0])
    assert roots - set(sys.stdlib_module_names) == {"cryptography"}
    assert len(SEALER.read_text().splitlines()) <= 180


def test_a_bid_sealed_by_the_reference_sealer_is_accepted_and_opens(parties: Parties, tmp_path: Path) -> None:
    p12 = tmp_path / "sign.p12"
    parties.ca.issue("bidder-sign", name="潜江示例建设有限公司", credit_code=CODE, out=p12, password="pw")
    enc, opening = tmp_path / "enc.pem", tmp_path / "opening.pem"
    enc.write_bytes(parties.enc.certificate.public_bytes(serialization.Encoding.PEM))
    opening.write_bytes(parties.opening.certificate.public_bytes(serialization.Encoding.PEM))
    folder = make_folder(tmp_path / "bid", big=3 * (1 << 20))
    out = tmp_path / "ref.thbid"
    subprocess.run(
        [
            sys.executable,
            "-I",
            str(SEALER),
            str(folder),
            str(out),
            "--tender",
            TENDER,
            "--lot",
            "1",
            "--sign-p12",
            str(p12),
            "--password",
            "pw",
            "--enc-cert",
            str(enc),
            "--opening-cert",
            str(opening),
        ],
        check=True,
        cwd=tmp_path,
        capture_output=True,
    )
    info = inspect_file(out)
    assert info.manifest["tool"]["name"] == "reference-sealer"
    assert info.manifest["chunk_count"] >= 4
    bidder = unwrap_half(info.header, "bidder", parties.decryptor(parties.enc))
    opening_half = unwrap_half(info.header, "opening", parties.decryptor(parties.opening))
    opened = open_sealed(out, bidder, opening_half, tmp_path / "opened")
    assert opened.bid["price_fen"] == 3_150_000_000
    assert (tmp_path / "opened" / "技术标.pdf").read_bytes() == (folder / "技术标.pdf").read_bytes()

"""`tenderhall bid seal` with the company's signing key on a UKey (SoftHSM2) or in a PKCS#12 file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tenderhall.pki.devca import Issued
from tests.agent.conftest import RSA_CODE
from tests.agent.softhsm import SoftToken
from tests.trading.sealing.conftest import bid_json, make_folder
from trading.sealing import inspect_file


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tenderhall.cli", "bid", "seal", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _common(tmp_path: Path, enc_cert: Issued) -> list[str]:
    folder = make_folder(tmp_path / "bid", bid_json(bidder_credit_code=RSA_CODE))
    pem = tmp_path / "enc.pem"
    pem.write_bytes(enc_cert.certificate.public_bytes(serialization.Encoding.PEM))
    return [
        str(folder),
        "--tender",
        "TH-2026-000777",
        "--lot",
        "1",
        "--enc-cert",
        str(pem),
        "--opening-cert",
        str(pem),
    ]


def _token_args(token: SoftToken) -> list[str]:
    return ["--pkcs11-module", token.module, "--token-label", token.label, "--key-label", token.key_label]


def test_a_bid_is_sealed_with_the_signing_key_on_the_token(
    rsa_token: SoftToken, rsa_cert: Issued, enc_cert: Issued, tmp_path: Path
) -> None:
    out = tmp_path / "bid.thbid"
    args = [*_common(tmp_path, enc_cert), "--out", str(out), *_token_args(rsa_token)]
    done = _run(args, {**rsa_token.env, "TENDERHALL_AGENT_PIN": rsa_token.pin})
    assert done.returncode == 0, done.stderr
    info = inspect_file(out)
    assert info.signed.signer == rsa_cert.certificate
    assert info.sha256 in done.stdout


def test_a_wrong_pin_seals_nothing_and_says_so(
    rsa_token: SoftToken, enc_cert: Issued, tmp_path: Path
) -> None:
    out = tmp_path / "bid.thbid"
    args = [*_common(tmp_path, enc_cert), "--out", str(out), *_token_args(rsa_token)]
    done = _run(args, {**rsa_token.env, "TENDERHALL_AGENT_PIN": "000000"})
    assert done.returncode == 2
    assert "PIN is wrong" in done.stderr and "PIN 码错误" in done.stderr
    assert "000000" not in done.stderr
    assert not out.exists()


def test_a_bad_bid_json_is_reported_field_by_field(p12_path: Path, enc_cert: Issued, tmp_path: Path) -> None:
    args = _common(tmp_path, enc_cert)
    bid = tmp_path / "bid" / "bid.json"
    bid.write_text(bid.read_text().replace("3150000000", "-1"), encoding="utf-8")
    done = _run(
        [*args, "--out", str(tmp_path / "x.thbid"), "--p12", str(p12_path)],
        {"TENDERHALL_AGENT_P12_PASSWORD": "p12-pass"},
    )
    assert done.returncode == 1
    assert "price_fen" in done.stderr and "positive" in done.stderr

"""Sealing, checking on receipt, and opening a large bid, each beside its same-run baseline.

- seal (``trading.sealing.seal``, in a child process whose peak memory growth is reported) beside
  ``openssl dgst -sha256`` of the same document (the issue: seal + submit + store >= 0.25x);
- the server's check on receipt (``SealedBidReader`` over the sealed file) beside the same baseline;
- opening (``open_sealed``: decrypt, untar, hash) beside raw AES-256-GCM decryption of the same
  bytes in 1 MiB chunks (the issue: <= 2x the time, a ratio >= 0.5).

Environment: ``TENDERHALL_BENCH_SEAL_MIB`` (default 1024), the document's size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench import Result
from bench.http_load import env_setting

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from cryptography import x509
from tenderhall.agent.keys import P12Key
from trading.sealing import seal
folder, out, p12, enc = sys.argv[1:5]
key = P12Key(Path(p12), "bench")
cert = x509.load_pem_x509_certificate(Path(enc).read_bytes())
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
seal(Path(folder), Path(out), tender="TH-2026-BENCH", lot=1, signing_key=key,
     bidder_encryption_certificate=cert, opening_certificate=cert)
elapsed = time.perf_counter() - t
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "growth_kib": after - before}))
"""


def _folder(root: Path, mib: int, code: str) -> Path:
    from tenderhall.identifiers import id_check_char

    folder = root / "bid"
    (folder / "photos").mkdir(parents=True)
    pid = "42900519800101001" + id_check_char("42900519800101001")
    bid = {
        "format": "tenderhall-bid",
        "version": 1,
        "tender": "TH-2026-BENCH",
        "lot": 1,
        "bidder_credit_code": code,
        "bidder_name": "潜江基准建设有限公司",
        "price_fen": 100,
        "duration_days": 100,
        "quality_commitment": "合格",
        "project_manager": {"name": "张三", "id_number": pid, "photo": "photos/pm.jpg"},
        "key_personnel": [],
        "documents": ["技术标.pdf"],
    }
    (folder / "bid.json").write_text(json.dumps(bid, ensure_ascii=False))
    (folder / "photos" / "pm.jpg").write_bytes(b"\xff\xd8")
    block = os.urandom(1 << 20)
    with (folder / "技术标.pdf").open("wb") as f:
        for _ in range(mib):
            f.write(block)
    return folder


def _openssl_mb_s(path: Path) -> float:
    t = time.perf_counter()
    subprocess.run(["openssl", "dgst", "-sha256", str(path)], check=True, capture_output=True)
    return path.stat().st_size / (time.perf_counter() - t) / 1e6


def _raw_decrypt_s(path: Path) -> float:
    aead, nonce = AESGCM(os.urandom(32)), os.urandom(12)
    chunk = os.urandom(1 << 20)
    sealed = aead.encrypt(nonce, chunk, b"")
    n = path.stat().st_size // (1 << 20)
    t = time.perf_counter()
    with path.open("rb") as f:
        for _ in range(n):
            f.read(1 << 20)
            aead.decrypt(nonce, sealed, b"")
    return time.perf_counter() - t


def run() -> list[Result]:
    from tenderhall.crypto.envelope import PrivateKeyDecryptor
    from tenderhall.identifiers import make_credit_code
    from tenderhall.pki.devca import DevCA
    from trading.sealing import inspect_file, open_sealed, unwrap_half

    mib = int(env_setting("TENDERHALL_BENCH_SEAL_MIB", "1024"))
    code = make_credit_code("91429005M00099001")
    with tempfile.TemporaryDirectory(prefix="bench-seal-") as tmp:
        root = Path(tmp)
        ca = DevCA(root / "ca")
        ca.init()
        ca.issue(
            "bidder-sign",
            name="潜江基准建设有限公司",
            credit_code=code,
            out=root / "sign.p12",
            password="bench",
        )
        enc = ca.issue("bidder-enc", name="潜江基准建设有限公司", credit_code=code)
        (root / "enc.pem").write_bytes(enc.certificate.public_bytes(serialization.Encoding.PEM))
        folder = _folder(root, mib, code)
        document = folder / "技术标.pdf"
        out = root / "bid.thbid"
        baseline = _openssl_mb_s(document)
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(folder),
                str(out),
                str(root / "sign.p12"),
                str(root / "enc.pem"),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        sealed = json.loads(child.stdout)
        size = document.stat().st_size
        t = time.perf_counter()
        info = inspect_file(out)
        check_s = time.perf_counter() - t
        key = PrivateKeyDecryptor(enc.key, enc.certificate)  # type: ignore[arg-type]
        halves = unwrap_half(info.header, "bidder", key), unwrap_half(info.header, "opening", key)
        t = time.perf_counter()
        open_sealed(out, *halves, root / "opened")
        open_s = time.perf_counter() - t
        raw_s = _raw_decrypt_s(document)
    mb = size / 1e6
    return [
        Result(
            f"seal {mib} MiB (tool)",
            mb / sealed["seconds"],
            "MB/s",
            "openssl dgst -sha256",
            baseline,
            target_ratio=0.25,
            note=f"peak memory growth of the sealing process: {sealed['growth_kib'] / 1024:.1f} MiB "
            "(target <= 64 MiB); submission and storage are not built yet",
        ),
        Result(
            f"check on receipt {mib} MiB (server)", mb / check_s, "MB/s", "openssl dgst -sha256", baseline
        ),
        Result(
            f"open {mib} MiB (decrypt, untar, hash)",
            open_s,
            "s",
            "raw AES-256-GCM decrypt",
            raw_s,
            higher_is_better=False,
            target_ratio=0.5,
            note="one bid in one process; the worker-process opening is not built yet",
        ),
    ]

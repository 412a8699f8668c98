"""A bidder with signing and encryption certificates, a lot's opening certificate, a bid folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tenderhall.crypto.envelope import PrivateKeyDecryptor
from tenderhall.identifiers import id_check_char, make_credit_code
from tenderhall.pki.devca import DevCA, Issued
from tests.crypto.conftest import FileSigner

CODE = make_credit_code("91429005M00060001")
OTHER = make_credit_code("91429005M00060002")
TENDER = "TH-2026-000777"


def id_number(first17: str = "42900519800101001") -> str:
    return first17 + id_check_char(first17)


def bid_json(**changes: Any) -> dict[str, Any]:
    bid = {
        "format": "tenderhall-bid",
        "version": 1,
        "tender": TENDER,
        "lot": 1,
        "bidder_credit_code": CODE,
        "bidder_name": "潜江示例建设有限公司",
        "price_fen": 3_150_000_000,
        "duration_days": 365,
        "quality_commitment": "合格",
        "project_manager": {
            "name": "张三",
            "id_number": id_number(),
            "certificate_no": "鄂142000000001",
            "photo": "photos/pm.jpg",
        },
        "key_personnel": [
            {
                "role": "技术负责人",
                "name": "李四",
                "id_number": id_number("42900519850505002"),
                "photo": "photos/tech.jpg",
            }
        ],
        "documents": ["商务标.pdf", "技术标.pdf"],
    }
    bid.update(changes)
    return bid


def make_folder(folder: Path, bid: dict[str, Any] | None = None, big: int = 0) -> Path:
    (folder / "photos").mkdir(parents=True, exist_ok=True)
    (folder / "bid.json").write_text(json.dumps(bid or bid_json(), ensure_ascii=False), encoding="utf-8")
    (folder / "photos" / "pm.jpg").write_bytes(b"\xff\xd8pm photo")
    (folder / "photos" / "tech.jpg").write_bytes(b"\xff\xd8tech photo")
    (folder / "商务标.pdf").write_bytes(b"%PDF-1.7 commercial " * 100)
    (folder / "技术标.pdf").write_bytes(b"%PDF-1.7 technical " + bytes(range(256)) * (big // 256 + 1))
    return folder


@dataclass
class Parties:
    ca: DevCA
    sign: FileSigner
    other_sign: FileSigner
    enc: Issued
    opening: Issued

    def decryptor(self, issued: Issued) -> PrivateKeyDecryptor:
        assert isinstance(issued.key, rsa.RSAPrivateKey)
        return PrivateKeyDecryptor(issued.key, issued.certificate)


@pytest.fixture(scope="session")
def parties(tmp_path_factory: pytest.TempPathFactory) -> Parties:
    ca = DevCA(tmp_path_factory.mktemp("sealing-ca"))
    ca.init()
    return Parties(
        ca=ca,
        sign=FileSigner(ca.issue("bidder-sign", name="潜江示例建设有限公司", credit_code=CODE), []),
        other_sign=FileSigner(ca.issue("bidder-sign", name="潜江另一建设有限公司", credit_code=OTHER), []),
        enc=ca.issue("bidder-enc", name="潜江示例建设有限公司", credit_code=CODE),
        opening=ca.issue("bidder-enc", name="开标证书 测试", credit_code=OTHER),
    )

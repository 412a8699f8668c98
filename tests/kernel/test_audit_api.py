"""Public audit endpoints: signing key and certificate, tree head, inclusion and consistency proofs,
and the tree-head page, all without signing in."""

from __future__ import annotations

import base64
import json

from cryptography import x509
from litestar.testing import TestClient

from tenderhall.audit import merkle
from tenderhall.audit.service import record, sign_tree_head
from tenderhall.db import Database
from tenderhall.settings import Settings
from tenderhall.signing import platform_signer, verify_signature


def _append(db: Database, n: int, start: int = 0) -> None:
    with db.unit_of_work() as s:
        for i in range(start, start + n):
            record(s, "system", "test.change", "thing", i, f"变更 {i}")


def _head(db: Database, settings: Settings) -> None:
    with db.unit_of_work() as s:
        sign_tree_head(s, platform_signer(settings))


def test_signing_key_and_certificate_are_published(client: TestClient, settings: Settings) -> None:
    signer = platform_signer(settings)
    key = client.get("/.well-known/tenderhall-signing-key.pem")
    cert = client.get("/.well-known/tenderhall-signing-cert.pem")
    assert key.status_code == 200
    assert key.text == signer.public_key_pem
    assert cert.status_code == 200
    parsed = x509.load_pem_x509_certificate(cert.content)
    assert parsed.public_key() == signer.public_key
    assert "TenderHall platform signing" in parsed.subject.rfc4514_string()


def test_tree_head_is_404_until_one_is_signed(client: TestClient) -> None:
    r = client.get("/api/audit/tree-head")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "tree head" in r.json()["detail_en"]


def test_latest_tree_head_verifies_with_the_published_key(
    client: TestClient, db: Database, settings: Settings
) -> None:
    _append(db, 3)
    _head(db, settings)
    body = client.get("/api/audit/tree-head").json()
    assert body["tree_size"] == 3
    pem = client.get("/.well-known/tenderhall-signing-key.pem").text
    payload = body["how_to_verify"]["signed_payload"].encode()
    assert verify_signature(pem, payload, base64.b64decode(body["signature"]))
    assert f'"root_hash":"{body["root_hash"]}"' in payload.decode()
    assert not verify_signature(
        pem, payload.replace(b'"tree_size":3', b'"tree_size":2'), base64.b64decode(body["signature"])
    )


def test_tree_head_carries_the_exact_signed_payload_beside_its_signature(
    client: TestClient, db: Database, settings: Settings
) -> None:
    _append(db, 4)
    _head(db, settings)
    body = client.get("/api/audit/tree-head").json()
    pem = client.get("/.well-known/tenderhall-signing-key.pem").text
    payload = body["signed_payload"]
    assert verify_signature(pem, payload.encode(), base64.b64decode(body["signature"]))
    signed = json.loads(payload)
    assert (signed["tree_size"], signed["root_hash"], signed["timestamp"], signed["key_id"]) == (
        body["tree_size"],
        body["root_hash"],
        body["timestamp"],
        body["key_id"],
    )
    assert payload == json.dumps(signed, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert "signed_payload" in body["how_to_verify"]["en"]


def test_inclusion_proof_endpoint_proves_every_event(
    client: TestClient, db: Database, settings: Settings
) -> None:
    _append(db, 7)
    _head(db, settings)
    head = client.get("/api/audit/tree-head").json()
    for seq in range(7):
        p = client.get(f"/api/audit/events/{seq}/proof").json()
        assert p["tree_size"] == 7
        assert p["tree_head"]["root_hash"] == head["root_hash"]
        assert bytes.fromhex(p["leaf_hash"]) == merkle.leaf_hash(p["event_hash"])
        assert merkle.verify_inclusion(
            bytes.fromhex(p["leaf_hash"]),
            seq,
            7,
            [bytes.fromhex(x) for x in p["audit_path"]],
            bytes.fromhex(head["root_hash"]),
        )
    older = client.get("/api/audit/events/1/proof", params={"tree_size": 4}).json()
    assert older["tree_size"] == 4
    assert older["tree_head"] is None  # no head was signed at size 4


def test_inclusion_proof_for_a_missing_event_or_size_is_404(
    client: TestClient, db: Database, settings: Settings
) -> None:
    _append(db, 2)
    _head(db, settings)
    assert client.get("/api/audit/events/5/proof").status_code == 404
    assert client.get("/api/audit/events/0/proof", params={"tree_size": 9}).status_code == 404
    assert client.get("/api/audit/events/0/proof", params={"tree_size": 0}).status_code in (400, 422)


def test_consistency_proof_endpoint_links_two_signed_heads(
    client: TestClient, db: Database, settings: Settings
) -> None:
    _append(db, 3)
    _head(db, settings)
    first = client.get("/api/audit/tree-head").json()
    _append(db, 5, start=3)
    _head(db, settings)
    second = client.get("/api/audit/tree-head").json()
    c = client.get("/api/audit/consistency", params={"first": 3, "second": 8}).json()
    assert c["first_tree_head"]["root_hash"] == first["root_hash"]
    assert c["second_tree_head"]["root_hash"] == second["root_hash"]
    assert merkle.verify_consistency(
        3,
        8,
        bytes.fromhex(first["root_hash"]),
        bytes.fromhex(second["root_hash"]),
        [bytes.fromhex(x) for x in c["consistency_path"]],
    )
    assert client.get("/api/audit/consistency", params={"first": 3, "second": 12}).status_code == 404
    assert client.get("/api/audit/consistency", params={"first": 5, "second": 3}).status_code == 422


def test_tree_head_page_shows_the_head_in_both_languages(
    client: TestClient, db: Database, settings: Settings
) -> None:
    _append(db, 2)
    _head(db, settings)
    head = client.get("/api/audit/tree-head").json()
    zh = client.get("/audit/tree-head")
    assert zh.status_code == 200
    assert "<h2>最新树头</h2>" in zh.text
    assert f'<tr><th scope="row">事件数（树的规模）</th><td>{head["tree_size"]}</td></tr>' in zh.text
    assert f'<tr><th scope="row">根哈希</th><td><code>{head["root_hash"]}</code></td></tr>' in zh.text
    assert '<a href="/.well-known/tenderhall-signing-key.pem">' in zh.text
    en = client.get("/audit/tree-head", params={"lang": "en"})
    assert "<h2>Latest tree head</h2>" in en.text
    assert f'<tr><th scope="row">Root hash</th><td><code>{head["root_hash"]}</code></td></tr>' in en.text
    assert "最新树头" not in en.text
    assert head["timestamp"] not in zh.text.split("签名内容")[0]  # the time a person reads is Beijing time

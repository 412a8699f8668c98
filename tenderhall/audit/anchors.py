"""Tree heads obtained elsewhere (an auditor's copy, the public API at another moment), read and
their signatures checked, for ``audit verify --against``."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from tenderhall.audit.service import HEAD_VERSION, LOG_ID, canonical
from tenderhall.signing import verify_signature


@dataclass(frozen=True)
class Anchor:
    """A tree head obtained elsewhere (a copy kept by an auditor, the public API of another
    moment): what its signed payload says, and whether the signature over it verified."""

    tree_size: int
    root_hash: str
    timestamp: str
    source: str
    signature_ok: bool


class AnchorError(Exception):
    """A head obtained elsewhere that cannot be read as one (bilingual message)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{en} / {zh}")
        self.zh, self.en = zh, en


def anchor_from_json(text: str, public_key_pem: str, source: str) -> Anchor:
    """Read a public tree-head JSON (as ``GET /api/audit/tree-head`` gives it, or just its signed
    payload with the signature) and check its signature with ``public_key_pem``. The values used
    are those of the signed payload; fields beside it that contradict it make the signature fail."""
    not_a_head = AnchorError(
        f"{source} 不是 TenderHall 树头（需要树头 JSON：signed_payload 与 signature）",
        f"{source} is not a TenderHall tree head (expected the tree-head JSON: signed_payload and signature)",
    )
    try:
        body = json.loads(text)
        if not isinstance(body, dict):
            raise not_a_head
        payload_text = body.get("signed_payload") or (body.get("how_to_verify") or {}).get("signed_payload")
        if payload_text is None:  # rebuild it from the fields, as the signer made it
            payload_text = canonical(
                {
                    "log": LOG_ID,
                    "v": HEAD_VERSION,
                    "tree_size": body["tree_size"],
                    "root_hash": body["root_hash"],
                    "timestamp": body["timestamp"],
                    "key_id": body["key_id"],
                }
            ).decode()
        payload = json.loads(payload_text)
        signature = base64.b64decode(body["signature"], validate=True)
        tree_size, root_hash = int(payload["tree_size"]), str(payload["root_hash"])
        timestamp = str(payload["timestamp"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise not_a_head from exc
    if payload.get("log") != LOG_ID or payload.get("v") != HEAD_VERSION:
        raise not_a_head
    ok = verify_signature(public_key_pem, str(payload_text).encode(), signature)
    fields = {k: body[k] for k in ("tree_size", "root_hash", "timestamp", "key_id") if k in body}
    if any(payload.get(k) != v for k, v in fields.items()):
        ok = False
    return Anchor(tree_size, root_hash, timestamp, source, ok)

"""API types of the public audit endpoints (never table models)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HowToVerify:
    zh: str
    en: str
    signed_payload: str  # the exact bytes (UTF-8) the signature covers
    public_key_url: str
    certificate_url: str
    leaf_hash: str = "SHA-256(0x00 || bytes.fromhex(event_hash))"
    node_hash: str = "SHA-256(0x01 || left || right)"
    signature_algorithm: str = "ECDSA P-256 with SHA-256, DER, base64"


@dataclass
class TreeHeadOut:
    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    signature: str
    signed_payload: str  # the exact canonical JSON (UTF-8) the signature covers
    how_to_verify: HowToVerify
    # RFC 3161 TimeStampToken (DER, base64) over SHA-256(signed_payload), when a TSA timestamped it
    tsa_token: str | None = None
    tsa_time: str | None = None  # the token's genTime (ISO 8601, UTC)


@dataclass
class InclusionProofOut:
    seq: int
    tree_size: int
    event_hash: str
    leaf_hash: str
    root_hash: str
    audit_path: list[str]
    tree_head: TreeHeadOut | None = None
    verify_zh: str = ""
    verify_en: str = ""


@dataclass
class ConsistencyProofOut:
    first: int
    second: int
    first_root: str
    second_root: str
    consistency_path: list[str] = field(default_factory=list)
    first_tree_head: TreeHeadOut | None = None
    second_tree_head: TreeHeadOut | None = None
    verify_zh: str = ""
    verify_en: str = ""

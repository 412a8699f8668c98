"""Public audit endpoints (no sign-in): the platform signing key, signed tree heads, inclusion and
consistency proofs, and the tree-head page."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.params import Parameter
from litestar.response import Template
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.audit import service
from tenderhall.audit.models import TreeHead
from tenderhall.audit.schemas import ConsistencyProofOut, HowToVerify, InclusionProofOut, TreeHeadOut
from tenderhall.db import RequestSession, run
from tenderhall.errors import NotFound
from tenderhall.settings import Settings
from tenderhall.signing import platform_signer
from tenderhall.web.render import render

KEY_PATH = "/.well-known/tenderhall-signing-key.pem"
CERT_PATH = "/.well-known/tenderhall-signing-cert.pem"

VERIFY_HEAD_ZH = (
    "树头签名覆盖 signed_payload（规范 JSON 字符串的 UTF-8 字节，其中的 tree_size、root_hash、"
    "timestamp、key_id 与本树头相同）。用平台公钥验证："
    "base64 解码 signature 得到 DER 格式 ECDSA-SHA256 签名，"
    "例如 openssl dgst -sha256 -verify tenderhall-signing-key.pem -signature sig.der payload.json。"
    "root_hash 是前 tree_size 条审计事件的 RFC 6962 Merkle 根。"
    "若有 tsa_token，它是 RFC 3161 时间戳令牌（DER，base64），覆盖 SHA-256(signed_payload)，"
    "例如 openssl ts -verify -data payload.json -in token.der -token_in -CAfile tsa-ca.pem。"
)
VERIFY_HEAD_EN = (
    "The signature covers signed_payload (the UTF-8 bytes of that canonical JSON string, which "
    "repeats this head's tree_size, root_hash, timestamp and key_id). Verify it with the platform "
    "public key: "
    "base64-decode signature to a DER ECDSA-SHA256 signature, e.g. openssl dgst -sha256 -verify "
    "tenderhall-signing-key.pem -signature sig.der payload.json. root_hash is the RFC 6962 Merkle root "
    "of the first tree_size audit events. When present, tsa_token is an RFC 3161 timestamp token "
    "(DER, base64) over SHA-256(signed_payload), e.g. openssl ts -verify -data payload.json -in "
    "token.der -token_in -CAfile tsa-ca.pem."
)
VERIFY_INCLUSION_ZH = (
    "按 RFC 9162 第 2.1.3.2 节，用 leaf_hash、seq（叶子序号）、tree_size 和 audit_path 重算根，"
    "应等于 root_hash，且 root_hash 应等于已签名树头的根。"
)
VERIFY_INCLUSION_EN = (
    "Recompute the root from leaf_hash, seq (the leaf index), tree_size and audit_path as in RFC 9162 "
    "section 2.1.3.2; it must equal root_hash, which must equal the signed tree head's root."
)
VERIFY_CONSISTENCY_ZH = (
    "按 RFC 9162 第 2.1.4.2 节，用 consistency_path 同时重算 first_root 与 second_root："
    "两者都相符即证明较早的树是较晚的树的前缀（历史未被改写）。"
)
VERIFY_CONSISTENCY_EN = (
    "Recompute both first_root and second_root from consistency_path as in RFC 9162 section 2.1.4.2; "
    "when both match, the earlier tree is a prefix of the later one (history was not rewritten)."
)


def head_out(head: TreeHead, settings: Settings) -> TreeHeadOut:
    base = settings.base_url.rstrip("/")
    payload = service.signed_bytes(head).decode()
    return TreeHeadOut(
        tree_size=head.tree_size,
        root_hash=head.root_hash,
        timestamp=service.tree_head_payload(head.tree_size, head.root_hash, head.signed_at, head.key_id)[
            "timestamp"
        ],
        key_id=head.key_id,
        signature=head.signature,
        signed_payload=payload,
        how_to_verify=HowToVerify(
            zh=VERIFY_HEAD_ZH,
            en=VERIFY_HEAD_EN,
            signed_payload=payload,
            public_key_url=base + KEY_PATH,
            certificate_url=base + CERT_PATH,
        ),
        tsa_token=head.tsa_token,
        tsa_time=service._timestamp(head.tsa_time) if head.tsa_time else None,
    )


@get(
    KEY_PATH,
    media_type="application/x-pem-file",
    tags=["audit"],
    summary="Platform signing public key",
    sync_to_thread=False,
)
def signing_key(settings: Settings) -> str:
    return platform_signer(settings).public_key_pem


@get(
    CERT_PATH,
    media_type="application/x-pem-file",
    tags=["audit"],
    summary="Platform signing certificate",
    sync_to_thread=False,
)
def signing_certificate(settings: Settings) -> str:
    return platform_signer(settings).certificate_pem


def _latest(session: Session) -> TreeHead:
    head = service.latest_tree_head(session)
    if head is None:
        raise NotFound(
            "审计日志尚无已签名的树头，请稍后再试",
            "The audit log has no signed tree head yet; try again later",
        )
    return head


@get("/api/audit/tree-head", tags=["audit"], summary="Latest signed tree head of the audit log")
async def api_tree_head(session: RequestSession, settings: Settings) -> TreeHeadOut:
    head = await run(session, _latest)
    return head_out(head, settings)


@get(
    "/api/audit/events/{seq:int}/proof", tags=["audit"], summary="RFC 6962 inclusion proof of an audit event"
)
async def api_inclusion_proof(
    session: RequestSession,
    settings: Settings,
    seq: int,
    tree_size: int | None = Parameter(default=None, ge=1, description="tree size (default: latest head)"),
) -> InclusionProofOut:
    proof = await run(session, service.inclusion_proof, seq, tree_size)
    return InclusionProofOut(
        seq=proof.seq,
        tree_size=proof.tree_size,
        event_hash=proof.event_hash,
        leaf_hash=proof.leaf_hash,
        root_hash=proof.root_hash,
        audit_path=proof.path,
        tree_head=head_out(proof.head, settings) if proof.head else None,
        verify_zh=VERIFY_INCLUSION_ZH,
        verify_en=VERIFY_INCLUSION_EN,
    )


@get("/api/audit/consistency", tags=["audit"], summary="RFC 6962 consistency proof between two tree sizes")
async def api_consistency(
    session: RequestSession,
    settings: Settings,
    first: int = Parameter(ge=1, description="the earlier tree size"),
    second: int | None = Parameter(
        default=None, ge=1, description="the later tree size (default: latest head)"
    ),
) -> ConsistencyProofOut:
    proof = await run(session, service.consistency_proof, first, second)
    return ConsistencyProofOut(
        first=proof.first,
        second=proof.second,
        first_root=proof.first_root,
        second_root=proof.second_root,
        consistency_path=proof.path,
        first_tree_head=head_out(proof.first_head, settings) if proof.first_head else None,
        second_tree_head=head_out(proof.second_head, settings) if proof.second_head else None,
        verify_zh=VERIFY_CONSISTENCY_ZH,
        verify_en=VERIFY_CONSISTENCY_EN,
    )


def _page_data(session: Session) -> dict[str, Any]:
    import sqlalchemy as sa

    recent = list(
        session.execute(sa.select(TreeHead).order_by(col(TreeHead.tree_size).desc()).limit(20)).scalars()
    )
    return {"recent": recent, "log_size": service.log_size(session)}


@get("/audit/tree-head", tags=["audit"], summary="Audit log tree head (page)", include_in_schema=False)
async def tree_head_page(
    request: Request[Any, Any, Any], session: RequestSession, settings: Settings
) -> Template:
    data = await run(session, _page_data)
    recent: list[TreeHead] = data["recent"]
    return render(
        request,
        "audit/tree_head.html",
        head=head_out(recent[0], settings) if recent else None,
        recent=recent,
        log_size=data["log_size"],
        key_path=KEY_PATH,
        cert_path=CERT_PATH,
        key_id=platform_signer(settings).key_id,
    )


ROUTES = [
    signing_key,
    signing_certificate,
    api_tree_head,
    api_inclusion_proof,
    api_consistency,
    tree_head_page,
]

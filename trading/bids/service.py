"""Submitting, replacing and withdrawing sealed bids (decision 0277).

An upload is opened with every check that needs no bytes; its bytes are appended to a part file
(its size is the offset, so a dropped connection resumes where the bytes stopped); when the last
byte arrives the handler notes the time, reads the whole file once through the sealed-bid reader
with no transaction open, and :func:`accept` re-checks everything and records the bid, its receipt
and the attempt in one transaction. A refused attempt is recorded in a transaction of its own."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.service.standing import may_bid
from tenderhall.audit.service import record
from tenderhall.audit.timestamping import TimestampError
from tenderhall.auth.models import Organisation, Role
from tenderhall.auth.principal import Principal
from tenderhall.blobs import BlobStore
from tenderhall.db import utcnow
from tenderhall.errors import AppError, Forbidden, InvalidInput, NotFound, RuleViolation
from tenderhall.pki.names import CertificateRejected, fingerprint
from tenderhall.pki.validation import validate_certificate
from tenderhall.settings import Settings
from tenderhall.signing import platform_signer
from trading.bids.models import Bid, BidAttempt, BidReceipt, BidState, Upload
from trading.bids.receipts import IssuedReceipt, ReceiptFacts, issue_receipt, timestamp_receipt
from trading.models import Lot, LotState, Tender, TenderState
from trading.opening.models import OpeningKey
from trading.sealing.format import SealedBidInfo, SealedFormatError

OPEN_STATES = (TenderState.published, TenderState.amended)
UPLOADS_DIR = ".uploads"
TSA_TIMEOUT = 3.0


def part_path(settings: Settings, upload_id: int) -> Path:
    return Path(settings.blob_dir) / UPLOADS_DIR / f"{upload_id}.part"


def _bidder(actor: Principal) -> int:
    if actor.role != Role.bidder or actor.organisation_id is None:
        raise Forbidden("只有投标人可以递交投标文件", "Only bidders may submit bids")
    return actor.organisation_id


def _open_lot(session: Session, lot_id: int, at: dt.datetime) -> tuple[Lot, Tender]:
    """The lot and its tender, if bids may arrive at ``at``; else the rule that refuses."""
    lot = session.get(Lot, lot_id)
    tender = session.get(Tender, lot.tender_id) if lot else None
    if lot is None or tender is None or tender.state == TenderState.draft:
        raise NotFound("未找到该标段", "No such lot")
    if at > tender.bid_deadline_at:
        raise RuleViolation(
            f"规则：投标截止时间（{tender.bid_deadline_at.isoformat()}）已过，投标文件未被接收",
            f"Rule: the bid deadline ({tender.bid_deadline_at.isoformat()}) has passed; "
            "the bid was not accepted",
            code="deadline_passed",
        )
    if tender.state not in OPEN_STATES or lot.state != LotState.active:
        raise RuleViolation(
            "规则：该标段当前不接受投标", "Rule: this lot is not open for bids", code="lot_not_open"
        )
    return lot, tender


def _may_bid(session: Session, settings: Settings, code: str, at: dt.datetime) -> None:
    verdict = may_bid(session, code, at, settings=settings)
    if not verdict.allowed:
        raise Forbidden(verdict.reason_zh, verdict.reason_en, code="blacklisted")


def start_upload(session: Session, actor: Principal, settings: Settings, lot_id: int, size: int) -> Upload:
    """Open an upload of ``size`` bytes: every check that needs no bytes runs first."""
    org_id = _bidder(actor)
    now = utcnow()
    _open_lot(session, lot_id, now)
    if not 0 < size <= settings.trading.bid_max_bytes:
        raise InvalidInput(
            f"投标文件大小应在 1 字节到 {settings.trading.bid_max_bytes} 字节之间",
            f"A sealed bid must be between 1 and {settings.trading.bid_max_bytes} bytes",
            extra={"field": "size"},
            status=413 if size > 0 else 422,
        )
    org = session.get(Organisation, org_id)
    assert org is not None
    _may_bid(session, settings, org.credit_code, now)
    up = Upload(lot_id=lot_id, organisation_id=org_id, user_id=actor.user_id or 0, size=size)
    session.add(up)
    session.flush()
    return up


def own_upload(session: Session, actor: Principal, upload_id: int) -> Upload:
    up = session.get(Upload, upload_id)
    if up is None or up.organisation_id != actor.organisation_id or up.finished_at is not None:
        raise NotFound("未找到该上传", "No such upload in progress")
    return up


def sealed_refusal(err: SealedFormatError) -> InvalidInput:
    """A file that is not a well-formed signed sealed bid: 422 naming the rule."""
    return InvalidInput(err.zh, err.en, code=f"sealed_{err.code}")


def lot_of_bid(session: Session, bid_id: int) -> int | None:
    bid = session.get(Bid, bid_id)
    return bid.lot_id if bid else None


def accept(
    session: Session,
    actor: Principal,
    settings: Settings,
    upload_id: int,
    info: SealedBidInfo,
    received_at: dt.datetime,
) -> tuple[Bid, BidReceipt, bool]:
    """Record the completed upload as the bidder's current bid for the lot. Returns the bid, its
    receipt and whether it was a repeat of the current bid (the same file twice is one bid)."""
    up = own_upload(session, actor, upload_id)
    lot, tender = _open_lot(session, up.lot_id, received_at)
    org = session.get(Organisation, up.organisation_id)
    assert org is not None
    header = info.header
    if header.get("tender") != tender.reference or header.get("lot") != lot.number:
        raise RuleViolation(
            "投标文件是为其他招标项目或标段密封的",
            "The sealed bid was sealed for another tender or lot",
            code="sealed_wrong_lot",
        )
    key = session.scalars(sa.select(OpeningKey).where(col(OpeningKey.lot_id) == lot.id)).first()
    if key is None or header.get("opening_certificate_sha256") != key.certificate_sha256:
        raise RuleViolation(
            "投标文件未使用本标段的开标证书加密",
            "The sealed bid is not encrypted to this lot's opening certificate",
            code="sealed_wrong_opening_certificate",
        )
    try:
        validated = validate_certificate(session, info.signed.signer, "signing", at=received_at)
    except CertificateRejected as exc:
        exc.code = f"certificate_{exc.reason_code}"
        raise
    if validated.credit_code != org.credit_code or header.get("bidder_credit_code") != org.credit_code:
        raise Forbidden(
            "签名证书不属于您的单位：证书中的统一社会信用代码与投标单位不符",
            "The signing certificate is not your company's: its credit code differs from the bidder's",
            code="certificate_other_company",
        )
    _may_bid(session, settings, org.credit_code, received_at)
    current = session.scalars(
        sa.select(Bid).where(
            col(Bid.lot_id) == lot.id,
            col(Bid.organisation_id) == org.id,
            col(Bid.state) == BidState.current,
        )
    ).first()
    part = part_path(settings, upload_id)
    up.finished_at = received_at
    if current is not None and current.sealed_sha256 == info.sha256:
        up.bid_id = current.id
        part.unlink(missing_ok=True)
        receipt = _latest_receipt(session, current.id or 0)
        _attempt(session, actor, lot.id or 0, "submit", "duplicate", None, None, info.sha256, current.id)
        return current, receipt, True
    BlobStore(settings.blob_dir).adopt(part, info.sha256)
    if current is not None:
        current.state = BidState.replaced
        current.ended_at = received_at
        session.flush()
    bid = Bid(
        lot_id=lot.id or 0,
        organisation_id=org.id or 0,
        submitted_by=actor.user_id or 0,
        sealed_sha256=info.sha256,
        sealed_size=info.size,
        received_at=received_at,
        header_sha256=info.header_digest.hex(),
        profile=str(header.get("profile", "")),
        signer_certificate_sha256=fingerprint(info.signed.signer),
        replaces_bid_id=current.id if current else None,
    )
    session.add(bid)
    session.flush()
    up.bid_id = bid.id
    attempt = _attempt(session, actor, lot.id or 0, "submit", "accepted", None, None, info.sha256, bid.id)
    kind = "replaced" if current is not None else "submitted"
    facts = _facts(kind, bid, attempt, tender, lot, org, current.sealed_sha256 if current else None)
    receipt = _store_receipt(session, settings, bid, facts)
    record(
        session,
        actor,
        "trading.bid.submit",
        "bid",
        bid.id,
        f"递交投标文件：{tender.reference} 标段{lot.number}（{'替换' if current else '首次递交'}）",
        {
            "lot_id": lot.id,
            "sealed_sha256": info.sha256,
            "size": info.size,
            "received_at": received_at.isoformat(),
            "replaces_bid_id": bid.replaces_bid_id,
            "attempt_id": attempt.id,
        },
    )
    return bid, receipt, False


def withdraw(session: Session, actor: Principal, settings: Settings, bid_id: int) -> tuple[Bid, BidReceipt]:
    org_id = _bidder(actor)
    bid = session.get(Bid, bid_id)
    if bid is None or bid.organisation_id != org_id:
        raise NotFound("未找到该投标", "No such bid")
    now = utcnow()
    lot, tender = _open_lot(session, bid.lot_id, now)
    if bid.state != BidState.current:
        raise RuleViolation("规则：该投标已被替换或撤回", "Rule: this bid was already replaced or withdrawn")
    org = session.get(Organisation, org_id)
    assert org is not None
    bid.state = BidState.withdrawn
    bid.ended_at = now
    session.flush()
    attempt = _attempt(
        session, actor, lot.id or 0, "withdraw", "accepted", None, None, bid.sealed_sha256, bid.id
    )
    facts = _facts("withdrawn", bid, attempt, tender, lot, org, None, received_at=now)
    receipt = _store_receipt(session, settings, bid, facts)
    record(
        session,
        actor,
        "trading.bid.withdraw",
        "bid",
        bid.id,
        f"撤回投标文件：{tender.reference} 标段{lot.number}",
        {"lot_id": lot.id, "sealed_sha256": bid.sealed_sha256, "attempt_id": attempt.id},
    )
    return bid, receipt


def record_refusal(
    session: Session,
    actor: Principal,
    lot_id: int,
    action: str,
    error: AppError,
    sealed_sha256: str | None = None,
) -> BidAttempt | None:
    """A refused attempt, in a transaction of its own (the refused one rolled back). An attempt on
    a lot that does not exist is an audit event only."""
    code = getattr(error, "code", None) or type(error).__name__
    attempt = None
    if session.get(Lot, lot_id) is not None:
        attempt = _attempt(
            session, actor, lot_id, action, "refused", code, error.en[:1000], sealed_sha256, None
        )
    record(
        session,
        actor,
        f"trading.bid.{action}_refused",
        "lot",
        lot_id,
        f"投标{'递交' if action == 'submit' else '撤回'}被拒绝：{error.zh[:200]}",
        {"code": code, "attempt_id": attempt.id if attempt else None, "sealed_sha256": sealed_sha256},
    )
    return attempt


def my_bids(session: Session, actor: Principal) -> list[Bid]:
    org_id = _bidder(actor)
    stmt = sa.select(Bid).where(col(Bid.organisation_id) == org_id).order_by(col(Bid.id).desc())
    return list(session.scalars(stmt))


def own_bid(session: Session, actor: Principal, bid_id: int) -> tuple[Bid, list[BidReceipt]]:
    bid = session.get(Bid, bid_id)
    if bid is None or bid.organisation_id != _bidder(actor):
        raise NotFound("未找到该投标", "No such bid")
    stmt = sa.select(BidReceipt).where(col(BidReceipt.bid_id) == bid_id).order_by(col(BidReceipt.id))
    return bid, list(session.scalars(stmt))


# --- helpers -------------------------------------------------------------------------------------


def _attempt(
    session: Session,
    actor: Principal,
    lot_id: int,
    action: str,
    outcome: str,
    code: str | None,
    reason: str | None,
    sealed_sha256: str | None,
    bid_id: int | None,
) -> BidAttempt:
    a = BidAttempt(
        lot_id=lot_id,
        organisation_id=actor.organisation_id,
        user_id=actor.user_id,
        action=action,
        outcome=outcome,
        code=code,
        reason=reason,
        sealed_sha256=sealed_sha256,
        bid_id=bid_id,
    )
    session.add(a)
    session.flush()
    return a


def _facts(
    kind: str,
    bid: Bid,
    attempt: BidAttempt,
    tender: Tender,
    lot: Lot,
    org: Organisation,
    replaces: str | None,
    *,
    received_at: dt.datetime | None = None,
) -> ReceiptFacts:
    return ReceiptFacts(
        kind=kind,  # type: ignore[arg-type]
        bid_id=bid.id or 0,
        attempt_id=attempt.id or 0,
        tender_id=tender.id or 0,
        tender_reference=tender.reference,
        lot_id=lot.id or 0,
        lot_number=lot.number,
        bidder_credit_code=org.credit_code,
        bidder_name=org.name,
        sealed_sha256=bid.sealed_sha256,
        sealed_size=bid.sealed_size,
        received_at=received_at or bid.received_at,
        replaces_sha256=replaces,
    )


def _store_receipt(session: Session, settings: Settings, bid: Bid, facts: ReceiptFacts) -> BidReceipt:
    """Sign the receipt; with ``TSA_URL`` ask once for a timestamp (a TSA that fails leaves the
    receipt without one and the failure on the record: the bid counts by its receipt time)."""
    issued: IssuedReceipt = issue_receipt(platform_signer(settings), facts)
    if settings.tsa_url:
        try:
            issued = issued.with_timestamp(
                timestamp_receipt(issued.json, settings.tsa_url, timeout=TSA_TIMEOUT)
            )
        except TimestampError as exc:
            record(
                session,
                "system",
                "trading.bid.timestamp_failed",
                "bid",
                bid.id,
                f"回执时间戳失败：{exc.zh}",
                {"error": exc.en},
            )
    row = BidReceipt(
        bid_id=bid.id or 0,
        kind=facts.kind,
        receipt_json=issued.json,
        signature=issued.signature,
        timestamp_token=issued.timestamp_token,
    )
    session.add(row)
    session.flush()
    return row


def _latest_receipt(session: Session, bid_id: int) -> BidReceipt:
    stmt = sa.select(BidReceipt).where(col(BidReceipt.bid_id) == bid_id).order_by(col(BidReceipt.id).desc())
    found = session.scalars(stmt).first()
    assert found is not None
    return found


def discard_part(settings: Settings, upload_id: int) -> None:
    """A refused completed upload keeps nothing: its part file goes."""
    part_path(settings, upload_id).unlink(missing_ok=True)

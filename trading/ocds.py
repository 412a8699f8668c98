"""Open Contracting Data Standard 1.1: releases, records, packages.

Every public change stores one release (a full snapshot of the tender as the public sees it) in
``trading_ocds_release``; records are compiled from them. Codes come from the OCDS codelists:
releaseTag, tenderStatus, method, procurementCategory, partyRole, documentType, awardCriteria,
submissionMethod, currency (CNY). Amounts are yuan (from fen); dates ISO 8601 in UTC (``Z``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from tenderhall.auth.models import Organisation
from tenderhall.settings import Settings
from trading.models import (
    EVALUATION_LABELS,
    METHOD_LABELS,
    Amendment,
    Clarification,
    Document,
    EvaluationMethod,
    Lot,
    LotState,
    Method,
    OcdsRelease,
    Tender,
    TenderState,
)

OCDS_VERSION = "1.1"
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
#: tender.lots and document.relatedLots come from the lots extension
EXTENSIONS = [
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_lots_extension/v1.1.5/extension.json"
]

#: tender.procurementMethod (closed codelist ``method``); the Chinese name goes in the details.
METHOD_CODES = {
    Method.open: "open",
    Method.invited: "selective",
    Method.competitive_negotiation: "limited",
    Method.competitive_consultation: "limited",
    Method.inquiry: "limited",
    Method.single_source: "direct",
}

#: tender.status (closed codelist ``tenderStatus``)
STATUS_CODES = {
    TenderState.draft: "planning",
    TenderState.published: "active",
    TenderState.amended: "active",
    TenderState.closed: "active",
    TenderState.opening: "active",
    TenderState.evaluating: "active",
    TenderState.publicised: "active",
    TenderState.awarded: "complete",
    TenderState.contracted: "complete",
    TenderState.in_performance: "complete",
    TenderState.completed: "complete",
    TenderState.cancelled: "cancelled",
    TenderState.failed: "unsuccessful",
}

LOT_STATUS = {
    LotState.active: "active",
    LotState.failed: "unsuccessful",
    LotState.cancelled: "cancelled",
    LotState.complete: "complete",
}

AWARD_CRITERIA = {EvaluationMethod.comprehensive: "ratedCriteria", EvaluationMethod.lowest_price: "priceOnly"}


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def money(fen: int) -> dict[str, Any]:
    return {"amount": fen / 100 if fen % 100 else fen // 100, "currency": "CNY"}


def party_id(org: Organisation) -> str:
    return f"CN-SAMR-{org.credit_code}"


def _party(org: Organisation, roles: list[str]) -> dict[str, Any]:
    p: dict[str, Any] = {
        "id": party_id(org),
        "name": org.name,
        "identifier": {"scheme": "CN-SAMR", "id": org.credit_code, "legalName": org.name},
        "roles": roles,
    }
    if org.address or org.region:
        p["address"] = {
            k: v
            for k, v in {"streetAddress": org.address, "region": org.region, "countryName": "中国"}.items()
            if v
        }
    if org.contact_phone:
        p["contactPoint"] = {"telephone": org.contact_phone}
    return p


def build_release(
    session: Session, settings: Settings, tender: Tender, tags: list[str], release_id: str, date: dt.datetime
) -> dict[str, Any]:
    base = settings.base_url.rstrip("/")
    tenderee = session.get(Organisation, tender.tenderee_org_id)
    agency = session.get(Organisation, tender.agency_org_id) if tender.agency_org_id else None
    assert tenderee is not None
    parties = [_party(tenderee, ["buyer"] if agency else ["buyer", "procuringEntity"])]
    if agency is not None:
        parties.append(_party(agency, ["procuringEntity"]))
    procuring = agency or tenderee
    lots = list(
        session.execute(
            sa.select(Lot).where(col(Lot.tender_id) == tender.id).order_by(col(Lot.number))
        ).scalars()
    )
    docs = list(
        session.execute(
            sa.select(Document)
            .where(col(Document.tender_id) == tender.id)
            .order_by(col(Document.name), col(Document.version))
        ).scalars()
    )
    amendments = list(
        session.execute(
            sa.select(Amendment).where(col(Amendment.tender_id) == tender.id).order_by(col(Amendment.number))
        ).scalars()
    )
    clarifications = list(
        session.execute(
            sa.select(Clarification)
            .where(col(Clarification.tender_id) == tender.id, col(Clarification.answered_at).is_not(None))  # type: ignore[union-attr]
            .order_by(col(Clarification.answered_at))
        ).scalars()
    )
    method = Method(tender.method)
    evaluation = EvaluationMethod(tender.evaluation_method)
    tender_block: dict[str, Any] = {
        "id": tender.reference,
        "title": tender.title,
        "status": STATUS_CODES[TenderState(tender.state)],
        "procuringEntity": {"id": party_id(procuring), "name": procuring.name},
        "value": money(tender.budget_fen),
        "procurementMethod": METHOD_CODES[method],
        "procurementMethodDetails": METHOD_LABELS[method][0],
        "mainProcurementCategory": tender.category,
        "awardCriteria": AWARD_CRITERIA[evaluation],
        "awardCriteriaDetails": EVALUATION_LABELS[evaluation][0],
        "submissionMethod": ["electronicSubmission"],
        "submissionMethodDetails": "电子投标（加密投标文件，不见面开标）",
        "hasEnquiries": bool(clarifications),
    }
    if tender.description:
        tender_block["description"] = tender.description
    if tender.published_at is not None:
        tender_block["tenderPeriod"] = {
            "startDate": iso(tender.published_at),
            "endDate": iso(tender.bid_deadline_at),
        }
        tender_block["enquiryPeriod"] = {
            "startDate": iso(tender.published_at),
            "endDate": iso(tender.bid_deadline_at),
        }
        tender_block["awardPeriod"] = {"startDate": iso(tender.bid_deadline_at)}
    tender_block["contractPeriod"] = {"durationInDays": tender.duration_days}
    if tender.state == TenderState.cancelled and tender.cancel_reason:
        tender_block["statusDetails"] = f"终止：{tender.cancel_reason}"
    elif tender.state == TenderState.failed and tender.failed_reason:
        tender_block["statusDetails"] = f"流标：{tender.failed_reason}"
    tender_block["lots"] = [
        {
            "id": str(lot.number),
            "title": lot.title,
            **({"description": lot.description} if lot.description else {}),
            "value": money(lot.budget_fen),
            "status": LOT_STATUS[LotState(lot.state)],
        }
        for lot in lots
    ]
    lot_number = {lot.id: str(lot.number) for lot in lots}
    documents = [
        {
            "id": f"doc-{d.id}",
            "documentType": d.document_type,
            "title": f"{d.name}（第{d.version}版）",
            "description": f"SHA-256 {d.sha256}",
            "url": f"{base}/documents/{d.id}",
            "datePublished": iso(max(d.uploaded_at, tender.published_at or d.uploaded_at)),
            "format": d.content_type,
            "language": "zh",
            **({"relatedLots": [lot_number[d.lot_id]]} if d.lot_id in lot_number else {}),
        }
        for d in docs
    ]
    documents.insert(
        0,
        {
            "id": "announcement",
            "documentType": "tenderNotice",
            "title": "招标公告",
            "url": f"{base}/tenders/{tender.id}/announcement.pdf",
            "format": "application/pdf",
            "language": "zh",
            **({"datePublished": iso(tender.published_at)} if tender.published_at else {}),
        },
    )
    for c in clarifications:
        documents.append(
            {
                "id": f"clarification-{c.id}",
                "documentType": "clarifications",
                "title": "澄清与答疑",
                "description": (f"问：{c.question}\n答：{c.answer}" if c.question else (c.answer or ""))[
                    :4000
                ],
                "url": f"{base}/tenders/{tender.id}#clarification-{c.id}",
                "datePublished": iso(c.answered_at),  # type: ignore[arg-type]
                "language": "zh",
            }
        )
    if tender.state == TenderState.cancelled:
        documents.append(
            {
                "id": "cancellation",
                "documentType": "cancellationDetails",
                "title": "终止公告",
                "description": tender.cancel_reason or "",
                "url": f"{base}/tenders/{tender.id}#timeline",
                "language": "zh",
            }
        )
    tender_block["documents"] = documents
    if amendments:
        tender_block["amendments"] = [
            {
                "id": str(a.number),
                "date": iso(a.created_at),
                "rationale": a.reason,
                "description": "；".join(f"{k}: {v}" for k, v in a.changes.items())[:4000],
            }
            for a in amendments
        ]
    return {
        "ocid": tender.ocid,
        "id": release_id,
        "date": iso(date),
        "tag": tags,
        "initiationType": "tender",
        "language": "zh",
        "parties": parties,
        "buyer": {"id": party_id(tenderee), "name": tenderee.name},
        "tender": tender_block,
    }


def emit_release(
    session: Session,
    settings: Settings,
    tender: Tender,
    tags: list[str],
    summary_zh: str,
    summary_en: str,
    now: dt.datetime,
) -> OcdsRelease:
    """Store a release for a public change, in the caller's transaction."""
    n = session.execute(
        sa.select(sa.func.count()).where(col(OcdsRelease.tender_id) == tender.id)
    ).scalar_one()
    release_id = f"{tender.ocid}-{n + 1:04d}"
    data = build_release(session, settings, tender, tags, release_id, now)
    row = OcdsRelease(
        ocid=tender.ocid,
        release_id=release_id,
        tender_id=tender.id,  # type: ignore[arg-type]
        tags=tags,
        summary_zh=summary_zh[:400],
        summary_en=summary_en[:400],
        date=now,
        data=data,
    )
    session.add(row)
    session.flush()
    return row


# --- packages --------------------------------------------------------------------------------


def _publisher(settings: Settings) -> dict[str, Any]:
    return {"name": settings.trading.ocds_publisher, "uri": settings.base_url}


def release_package(
    settings: Settings,
    releases: list[OcdsRelease],
    uri: str,
    *,
    next_url: str | None = None,
    prev_url: str | None = None,
    published: dt.datetime | None = None,
) -> dict[str, Any]:
    pkg: dict[str, Any] = {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": iso(
            published or (max((r.date for r in releases), default=None) or dt.datetime.now(dt.UTC))
        ),
        "publisher": _publisher(settings),
        "license": LICENSE,
        "extensions": EXTENSIONS,
        "publicationPolicy": f"{settings.base_url.rstrip('/')}/tenders",
        "releases": [r.data for r in releases],
    }
    links = {k: v for k, v in {"next": next_url, "prev": prev_url}.items() if v}
    if links:
        pkg["links"] = links
    return pkg


def record_package(settings: Settings, ocid: str, releases: list[OcdsRelease], uri: str) -> dict[str, Any]:
    base = settings.base_url.rstrip("/")
    latest = releases[-1].data
    compiled = {**latest, "id": f"{ocid}-compiled", "tag": ["compiled"]}
    return {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": iso(releases[-1].date),
        "publisher": _publisher(settings),
        "license": LICENSE,
        "extensions": EXTENSIONS,
        "packages": [f"{base}/api/ocds/releases?ocid={ocid}"],
        "records": [
            {
                "ocid": ocid,
                "releases": [
                    {
                        "url": f"{base}/api/ocds/releases?ocid={ocid}#{r.release_id}",
                        "date": iso(r.date),
                        "tag": r.tags,
                    }
                    for r in releases
                ],
                "compiledRelease": compiled,
            }
        ],
    }


def list_releases(
    session: Session,
    *,
    after_id: int = 0,
    limit: int = 100,
    ocid: str | None = None,
    descending: bool = False,
    offset: int = 0,
) -> list[OcdsRelease]:
    stmt = sa.select(OcdsRelease)
    if ocid is not None:
        stmt = stmt.where(col(OcdsRelease.ocid) == ocid)
    if after_id:
        stmt = stmt.where(col(OcdsRelease.id) > after_id)  # type: ignore[operator]
    order = col(OcdsRelease.id).desc() if descending else col(OcdsRelease.id).asc()  # type: ignore[union-attr]
    return list(session.execute(stmt.order_by(order).offset(offset).limit(limit)).scalars())

"""Credit errors: each an AppError with a Chinese and an English message and an HTTP status."""

from __future__ import annotations

from tenderhall.errors import AppError, Conflict, Forbidden, InvalidInput, NotFound, RuleViolation


class UnknownSubject(NotFound):
    code = "credit_unknown_subject"


class UnknownViolationType(NotFound):
    code = "credit_unknown_type"


class EvidenceNotFound(NotFound):
    code = "credit_evidence_not_found"


class BadEvidence(InvalidInput):
    code = "credit_bad_evidence"


class RecordNotFound(NotFound):
    code = "credit_record_not_found"


class WrongState(Conflict):
    code = "credit_wrong_state"


class DefencePeriodOpen(RuleViolation):
    code = "credit_defence_period_open"


class DefencePeriodOver(RuleViolation):
    code = "credit_defence_period_over"


class NotPublishable(RuleViolation):
    code = "credit_not_publishable"


class RepairTooEarly(RuleViolation):
    code = "credit_repair_too_early"


class NotYourRecord(Forbidden):
    code = "credit_not_your_record"


class Blacklisted(Forbidden):
    """Raised by ``may_bid(...).raise_if_refused()`` / ``may_be_drawn(...)``: 一处受罚，处处受限."""

    code = "credit_blacklisted"


__all__ = [
    "AppError",
    "BadEvidence",
    "Blacklisted",
    "DefencePeriodOpen",
    "DefencePeriodOver",
    "EvidenceNotFound",
    "NotPublishable",
    "NotYourRecord",
    "RecordNotFound",
    "RepairTooEarly",
    "UnknownSubject",
    "UnknownViolationType",
    "WrongState",
]

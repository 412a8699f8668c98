"""Trading errors: each names the rule that refused the action, in Chinese and English."""

from __future__ import annotations

from tenderhall.errors import AppError, Conflict, Forbidden, InvalidInput, NotFound, RuleViolation


class TenderNotFound(NotFound):
    code = "tender_not_found"


class WrongState(RuleViolation):
    code = "wrong_state"


class DeadlineTooSoon(RuleViolation):
    code = "deadline_too_soon"


class ClarificationCutoff(RuleViolation):
    code = "clarification_cutoff"


class PublishedTenderLocked(RuleViolation):
    code = "published_tender_locked"


class UnknownProcedure(InvalidInput):
    code = "unknown_procedure"


class StaleVersion(Conflict):
    code = "stale_version"


class NotYourTender(Forbidden):
    code = "not_your_tender"


class DocumentTypeRefused(AppError):
    status = 415
    code = "document_type_refused"


class DocumentTooLarge(AppError):
    status = 413
    code = "document_too_large"


class DuplicateOrganisation(Conflict):
    code = "duplicate_organisation"


class DownloadsHidden(Forbidden):
    code = "downloads_hidden"


class NoMandate(Forbidden):
    code = "no_mandate"


class MandateNotFound(NotFound):
    code = "mandate_not_found"


class MandateExists(Conflict):
    code = "mandate_exists"


class TendereeFixed(RuleViolation):
    code = "tenderee_fixed"

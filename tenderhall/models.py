"""Every kernel table, imported in one place (Alembic's env and the app import this)."""

from tenderhall.audit.models import AuditEvent, AuditNode, TreeHead
from tenderhall.auth.models import LoginAttempt, LoginNonce, Organisation, User, UserSession
from tenderhall.events.models import LiveEvent
from tenderhall.jobs.models import OutboxJob, SchedulerLease
from tenderhall.pki.models import CRLImport, RevokedCertificate, TrustedCA

__all__ = [
    "AuditEvent",
    "AuditNode",
    "CRLImport",
    "LiveEvent",
    "LoginAttempt",
    "LoginNonce",
    "Organisation",
    "OutboxJob",
    "RevokedCertificate",
    "SchedulerLease",
    "TreeHead",
    "TrustedCA",
    "User",
    "UserSession",
]

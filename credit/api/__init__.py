"""The credit JSON API under ``/api/credit`` (Bearer tokens; the public parts need none), one
module per resource."""

from __future__ import annotations

from credit.api.admin import AdminCreditAPI
from credit.api.public import PublicCreditAPI
from credit.api.submissions import RepairDecisionAPI, SubmissionsAPI, upload_evidence
from credit.api.violations import SubjectCreditAPI, SupervisorCreditAPI

API_ROUTES = [
    PublicCreditAPI,
    SupervisorCreditAPI,
    SubmissionsAPI,
    RepairDecisionAPI,
    SubjectCreditAPI,
    AdminCreditAPI,
    upload_evidence,
]

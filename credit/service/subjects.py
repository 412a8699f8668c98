"""Subjects of credit records: companies and agencies (credit code), experts (a core_user of role
expert, or a person by name + ID number) and persons (name + ID number).

Every subject has a stable ``key`` that records, standing and push ordering use:
``code:<credit code>``, ``user:<id>``, ``id:<keyed hash of the ID number>`` (the ID number itself
is stored only encrypted, and shown masked except to its owner and supervisors).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from credit.exceptions import UnknownSubject
from credit.models import SubjectKind
from credit.service.checks import Checks, field_error
from tenderhall.auth.models import Organisation, OrgKind, Role, User
from tenderhall.auth.principal import Principal
from tenderhall.errors import AppError, InvalidInput
from tenderhall.identifiers import mask_id_number, validate_credit_code, validate_id_number
from tenderhall.keys import data_key, secret_box
from tenderhall.settings import Settings

ID_PURPOSE = "credit.subject.id_number"


@dataclass(frozen=True)
class Subject:
    """Who a record or a standing query is about. Build with the class methods."""

    kind: SubjectKind
    key: str
    name: str = ""
    credit_code: str | None = None
    user_id: int | None = None

    @classmethod
    def company(cls, credit_code: str, name: str = "") -> Subject:
        code = validate_credit_code(credit_code)
        return cls(SubjectKind.company, f"code:{code}", name, credit_code=code)

    @classmethod
    def agency(cls, credit_code: str, name: str = "") -> Subject:
        code = validate_credit_code(credit_code)
        return cls(SubjectKind.agency, f"code:{code}", name, credit_code=code)

    @classmethod
    def expert(cls, user_id: int, name: str = "") -> Subject:
        return cls(SubjectKind.expert, f"user:{int(user_id)}", name, user_id=int(user_id))

    @classmethod
    def person(
        cls, id_number: str, settings: Settings, name: str = "", kind: SubjectKind = SubjectKind.person
    ) -> Subject:
        n = validate_id_number(id_number)
        return cls(kind, person_key(n, settings), name)


def person_key(id_number: str, settings: Settings) -> str:
    digest = hmac.new(data_key(settings), b"credit-subject|" + id_number.encode(), hashlib.sha256).hexdigest()
    return f"id:{digest[:48]}"


@dataclass
class ResolvedSubject:
    subject: Subject
    organisation_id: int | None = None
    id_enc: str | None = None
    id_masked: str | None = None


def resolve_subject(
    session: Session,
    settings: Settings,
    kind: str,
    *,
    credit_code: str | None = None,
    name: str | None = None,
    user_id: int | None = None,
    id_number: str | None = None,
) -> ResolvedSubject:
    """Validate a subject named in a new record. Raises InvalidCreditCode / InvalidIdNumber (422)
    for malformed identifiers and UnknownSubject (404) for a subject that does not exist; every
    problem names its form field (``subject_kind``, ``credit_code``, ``subject_name``,
    ``user_id``, ``id_number``), several at once as ``FieldErrors``."""
    check = Checks()
    try:
        k = SubjectKind(kind)
    except ValueError:
        raise field_error(
            InvalidInput(
                "请选择主体类型（企业、招标代理、评标专家或个人）",
                "Choose the kind of subject (company, agency, expert or person)",
            ),
            "subject_kind",
        ) from None
    name = (name or "").strip()
    if k in (SubjectKind.company, SubjectKind.agency):
        if not credit_code:
            raise field_error(
                InvalidInput("请填写统一社会信用代码", "A unified social credit code is required"),
                "credit_code",
            )
        try:
            code = validate_credit_code(credit_code)
        except AppError as exc:
            raise field_error(exc, "credit_code") from None
        org = session.execute(
            sa.select(Organisation).where(col(Organisation.credit_code) == code)
        ).scalar_one_or_none()
        if k == SubjectKind.agency and (org is None or org.kind != OrgKind.agency):
            check.error(
                "credit_code",
                UnknownSubject(
                    f"信用代码为 {code} 的招标代理机构未在平台登记",
                    f"No agency with credit code {code} is registered on the platform",
                ),
            )
        elif org is None and not name:
            check.error(
                "subject_name",
                UnknownSubject(
                    f"信用代码为 {code} 的企业未在平台登记：请同时填写企业名称",
                    f"No company with credit code {code} is registered: give the company's name as well",
                ),
            )
        check.done()
        subj = Subject(k, f"code:{code}", name or (org.name if org else ""), credit_code=code)
        return ResolvedSubject(subj, organisation_id=org.id if org else None)
    if k == SubjectKind.expert and user_id is not None:
        user = session.get(User, int(user_id))
        if user is None or user.role != Role.expert:
            check.error(
                "user_id",
                UnknownSubject(
                    f"编号为 {user_id} 的评标专家不存在",
                    f"There is no evaluation expert with user id {user_id}",
                ),
            )
            check.done()
        assert user is not None
        return ResolvedSubject(Subject.expert(int(user_id), user.display_name))
    # a person (or an expert outside the platform) by name + ID number
    if not name:
        check.add(
            "subject_name",
            "个人主体须填写姓名" if k == SubjectKind.person else "请填写专家姓名（或填写专家的平台用户编号）",
            "A person needs a name"
            if k == SubjectKind.person
            else "Give the expert's name (or the expert's platform user number)",
        )
    number = None
    if not id_number:
        check.add("id_number", "请填写身份证号码", "An ID number is required")
    else:
        number = check.attempt("id_number", lambda: validate_id_number(id_number))
    check.done()
    assert number is not None
    subj = Subject(k, person_key(number, settings), name)
    return ResolvedSubject(
        subj,
        id_enc=secret_box(settings).seal(number, ID_PURPOSE),
        id_masked=mask_id_number(number),
    )


def owns(principal: Principal, subject_key: str) -> bool:
    """Is ``principal`` the subject (a company/agency user by its credit code, an expert by id)?"""
    if principal.user_id is None:
        return False
    if principal.credit_code and subject_key == f"code:{principal.credit_code}":
        return True
    return subject_key == f"user:{principal.user_id}"


def subject_keys_of(principal: Principal) -> list[str]:
    keys = []
    if principal.credit_code:
        keys.append(f"code:{principal.credit_code}")
    if principal.user_id is not None:
        keys.append(f"user:{principal.user_id}")
    return keys

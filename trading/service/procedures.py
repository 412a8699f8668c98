"""The per-procedure settings table: seeded from ``settings.trading``, editable by admins."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tenderhall.audit.service import record
from tenderhall.auth.principal import Principal
from tenderhall.db import utcnow
from tenderhall.settings import Settings
from trading.exceptions import UnknownProcedure
from trading.models import METHOD_LABELS, Method, ProcedureSettings
from trading.schemas import ProcedureSettingsIn


def parse_method(value: str) -> Method:
    try:
        return Method(value)
    except ValueError:
        names_zh = "、".join(METHOD_LABELS[m][0] for m in Method)
        names_en = ", ".join(METHOD_LABELS[m][1] for m in Method)
        raise UnknownProcedure(
            f"招标方式无效，请从列表中选择（{names_zh}）",
            f"Unknown procurement method: choose one from the list ({names_en})",
        ) from None


def defaults(settings: Settings, method: Method) -> ProcedureSettings:
    t = settings.trading
    days = t.open_tender_min_days if method == Method.open else t.procedure_min_days.get(method.value)
    if days is None:
        days = t.open_tender_min_days
    return ProcedureSettings(
        method=method.value,
        min_tender_days=days,
        min_valid_bids=t.min_valid_bids,
        clarification_cutoff_days=t.clarification_cutoff_days,
        publicity_days=t.publicity_days,
        decryption_window_minutes=t.decryption_window_minutes,
        objection_window_minutes=t.objection_window_minutes,
    )


def procedure_settings(session: Session, settings: Settings, method: Method | str) -> ProcedureSettings:
    """The rules for ``method``: the table row, or the defaults from the settings while no one has
    changed them (reading them writes nothing: a read-only request may ask)."""
    m = parse_method(method) if isinstance(method, str) else method
    return session.get(ProcedureSettings, m.value) or defaults(settings, m)


def all_procedure_settings(session: Session, settings: Settings) -> list[ProcedureSettings]:
    return [procedure_settings(session, settings, m) for m in Method]


def update_procedure_settings(
    session: Session, actor: Principal, settings: Settings, method: str, values: ProcedureSettingsIn
) -> ProcedureSettings:
    row = procedure_settings(session, settings, method)
    session.add(row)  # the defaults become the table row at their first change
    before = {k: getattr(row, k) for k in vars(values)}
    for k, v in vars(values).items():
        if not isinstance(v, int) or v < 0 or (k == "min_valid_bids" and v < 1):
            from tenderhall.errors import InvalidInput

            raise InvalidInput(f"{k} 必须为非负整数", f"{k} must be a non-negative integer")
        setattr(row, k, v)
    row.updated_at = utcnow()
    row.updated_by = actor.audit_name
    session.flush()
    record(
        session,
        actor,
        "trading.procedure_settings.update",
        "procedure_settings",
        row.method,
        f"修改{METHOD_LABELS[Method(row.method)][0]}的程序设置",
        {"before": before, "after": {k: getattr(row, k) for k in vars(values)}},
    )
    return row

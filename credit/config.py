"""Credit settings, read from ``settings.credit`` (tenderhall.settings.CreditSettings) with the
defaults of DOMAIN.md section 8 for any field the kernel class does not (yet) define."""

from __future__ import annotations

from dataclasses import dataclass

from tenderhall.settings import Settings, get_settings


@dataclass(frozen=True)
class CreditConfig:
    defence_days: int = 3
    score_window_days: int = 365
    tier_b_min: int = 1
    tier_c_min: int = 6
    tier_d_min: int = 12
    push_timeout_seconds: float = 10.0
    push_base_backoff_seconds: float = 30.0
    push_max_backoff_seconds: float = 6 * 3600.0
    push_give_up_days: int = 14
    push_lease_seconds: int = 120
    push_batch: int = 50
    push_interval_seconds: int = 30
    expire_interval_seconds: int = 300
    page_size: int = 20
    evidence_max_bytes: int = 50 * 1024 * 1024


def credit_config(settings: Settings | None = None) -> CreditConfig:
    s = (settings or get_settings()).credit
    defaults = CreditConfig()
    values = {name: getattr(s, name, getattr(defaults, name)) for name in CreditConfig.__dataclass_fields__}
    return CreditConfig(**values)

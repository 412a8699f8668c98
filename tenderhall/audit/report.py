"""What ``audit verify`` found: each problem (in both languages) and the counts it checked."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    kind: str  # altered | removed | inserted | head_mismatch | head_signature | head_missing | backdated
    # | anchor_signature | anchor_mismatch | anchor_beyond_log | anchor_unchecked | head_timestamp
    seq: int | None
    event_id: int | None
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.en} / {self.zh}"


@dataclass
class VerifyReport:
    events: int = 0
    heads: int = 0
    heads_checked: int = 0
    heads_timestamped: int = 0  # heads whose RFC 3161 token fits them
    anchors: int = 0
    anchors_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

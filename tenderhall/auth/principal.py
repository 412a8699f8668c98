"""Who is acting: carried from the request (or job) into every service call and audit event."""

from __future__ import annotations

from dataclasses import dataclass, field

from tenderhall.auth.models import Role


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    username: str
    role: Role | None
    display_name: str = ""
    organisation_id: int | None = None
    credit_code: str | None = None
    certificate_fingerprint: str | None = None
    roles: frozenset[Role] = field(default_factory=frozenset)

    @property
    def audit_name(self) -> str:
        if self.user_id is None:
            return self.username
        who = f"user:{self.user_id} {self.username}"
        if self.role:
            who += f" ({self.role.value})"
        return who

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles

    @classmethod
    def system(cls, what: str = "system") -> Principal:
        return cls(user_id=None, username=what, role=None, display_name=what)

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(user_id=None, username="anonymous", role=None, display_name="public")


SYSTEM = Principal.system()

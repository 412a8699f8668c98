"""Authorisation in one place: route guards by role, and the principal dependency.

Use on handlers or controllers: ``guards=[requires(Role.supervisor)]``. An anonymous caller gets
401 (pages redirect to the login page); a signed-in caller without the role gets 403.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from tenderhall.auth.models import Role
from tenderhall.auth.principal import Principal
from tenderhall.errors import Forbidden, Unauthorized


def principal_from(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    return connection.scope.get("principal") or Principal.anonymous()  # type: ignore[return-value]


def requires(*roles: Role) -> Any:
    """A guard admitting signed-in users having one of ``roles`` (any signed-in user if none)."""
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        p = principal_from(connection)
        if p.user_id is None:
            raise Unauthorized("请先登录", "Please sign in first")
        if allowed and p.role not in allowed:
            names = "、".join(r.value for r in sorted(allowed))
            raise Forbidden(
                f"此操作仅限以下角色：{names}",
                f"This action is for these roles only: {', '.join(r.value for r in sorted(allowed))}",
            )

    guard.__name__ = f"requires_{'_'.join(r.value for r in roles) or 'login'}"
    return guard

"""Authorisation in one place: for every role, a route guarded for that role admits it and refuses
every other role (403); anonymous callers get 401 on the API and the login page on pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.testing import TestClient

from tenderhall.app import app_error_handler
from tenderhall.auth.guards import requires
from tenderhall.auth.middleware import auth_middleware_factory
from tenderhall.auth.models import Role
from tenderhall.db import Database
from tenderhall.errors import AppError
from tests.factories import signed_in

ROLES = list(Role)


def _route(role: Role) -> Any:
    @get(f"/api/only/{role.value}", guards=[requires(role)], name=f"only_{role.value}")
    async def handler() -> dict[str, str]:
        return {"role": role.value}

    return handler


@pytest.fixture
def guarded(db: Database) -> Iterator[TestClient]:  # type: ignore[type-arg]
    app = Litestar(
        route_handlers=[_route(r) for r in ROLES],
        middleware=[DefineMiddleware(auth_middleware_factory)],
        exception_handlers={AppError: app_error_handler},
        state=State({"db": db}),
    )
    with TestClient(app) as c:
        yield c


@pytest.fixture
def headers(db: Database) -> dict[Role, dict[str, str]]:
    return {role: signed_in(db, role)[1] for role in ROLES}


def test_each_role_is_admitted_only_where_its_guard_allows(
    guarded: TestClient,
    headers: dict[Role, dict[str, str]],  # type: ignore[type-arg]
) -> None:
    for route_role in ROLES:
        for caller in ROLES:
            r = guarded.get(f"/api/only/{route_role.value}", headers=headers[caller])
            expected = 200 if caller == route_role else 403
            assert r.status_code == expected, (route_role, caller, r.text)
            if expected == 403:
                assert route_role.value in r.json()["detail_en"]
        anon = guarded.get(f"/api/only/{route_role.value}")
        assert anon.status_code == 401


def test_admin_pages_and_api_admit_only_admins(client: TestClient, db: Database) -> None:  # type: ignore[type-arg]
    for role in ROLES:
        _, api, cookies = signed_in(db, role)
        client.cookies.clear()
        client.cookies.update(cookies)
        page = client.get("/admin/trust-store", follow_redirects=False)
        users = client.get("/api/auth/users", headers=api)
        client.cookies.clear()
        if role == Role.admin:
            assert page.status_code == 200
            assert users.status_code == 200
        else:
            assert page.status_code == 403
            assert users.status_code == 403
    assert client.get("/api/auth/users").status_code == 401
    anon_page = client.get("/admin/users", follow_redirects=False)
    assert anon_page.status_code == 303
    assert anon_page.headers["location"].startswith("/login")


def test_bearer_token_does_not_open_pages_and_cookie_does_not_open_the_api(
    client: TestClient,
    db: Database,  # type: ignore[type-arg]
) -> None:
    _, api, cookies = signed_in(db, Role.admin)
    assert client.get("/admin/users", headers=api, follow_redirects=False).status_code == 303
    client.cookies.update(cookies)
    assert client.get("/api/auth/me").status_code == 401

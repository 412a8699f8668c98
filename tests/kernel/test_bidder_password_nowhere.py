"""No path anywhere signs a bidder in with a password (decision 0160): not any route of the app
(JSON or form), not any command; a bidder's session comes only from its certificate."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click
import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from tenderhall.auth.models import OrgKind, Role, UserSession
from tenderhall.auth.principal import SYSTEM
from tenderhall.auth.service import users as user_service
from tenderhall.db import Database
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Bidder-Has-A-Password-1"
CREDENTIALS = {"username": "li.bidder", "password": PASSWORD, "totp": "", "next": "/"}
PASSWORD_CHECKS = {"check_password", "finish_password_login", "login_with_password", "verify_password"}


@pytest.fixture
def bidder_with_password(db: Database) -> int:
    """A bidder that (wrongly, e.g. set by an administrator) has a password."""
    with db.unit_of_work() as s:
        org = factories.organisation(s, kind=OrgKind.bidder)
        user = user_service.create_user(
            s, SYSTEM, "li.bidder", "李投标", Role.bidder, password=PASSWORD, organisation_id=org.id
        )
        return int(user.id)  # type: ignore[arg-type]


def _post_routes(app) -> list[str]:  # type: ignore[no-untyped-def]
    paths = []
    for route in app.routes:
        if "{" in route.path:
            continue  # sign-in routes take no path parameters
        methods = getattr(route, "methods", set())
        if "POST" in methods:
            paths.append(route.path)
    return sorted(set(paths))


def test_no_route_gives_a_bidder_a_session_for_its_password(
    app,
    client: TestClient,
    db: Database,
    bidder_with_password: int,  # type: ignore[no-untyped-def,type-arg]
) -> None:
    paths = _post_routes(app)
    assert {"/api/auth/token", "/login", "/login/certificate", "/login/certificate/agent"} <= set(paths)
    page = client.get("/login")
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert csrf
    for path in paths:
        headers = {} if path.startswith("/api/") else {"X-CSRFToken": csrf.group(1)}
        for kw in ({"json": CREDENTIALS}, {"data": CREDENTIALS}):
            r = client.post(path, headers=headers, follow_redirects=False, **kw)  # type: ignore[arg-type]
            assert "th_session" not in r.cookies, f"POST {path} set a session cookie for a bidder's password"
            if path == "/api/auth/token" and "json" in kw:  # the password was checked, then refused
                assert (r.status_code, r.json()["code"]) == (403, "certificate_required")
            if r.headers.get("content-type", "").startswith("application/json") and r.status_code < 300:
                body = r.json()
                assert not (isinstance(body, dict) and "token" in body), f"POST {path} gave a bidder a token"
    with db.unit_of_work() as s:
        sessions = s.execute(
            sa.select(sa.func.count())
            .select_from(UserSession)
            .where(UserSession.user_id == bidder_with_password)
        ).scalar_one()
    assert sessions == 0


def _calls(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PASSWORD_CHECKS:
            names.add(node.attr)
        elif isinstance(node, ast.Name) and node.id in PASSWORD_CHECKS:
            names.add(node.id)
    return names


def test_passwords_are_checked_only_by_the_two_password_sign_in_routes() -> None:
    """The password sign-in (which refuses bidders after the password check) is reached only from
    ``POST /api/auth/token`` and ``POST /login``; nothing else checks a password."""
    users: dict[str, set[str]] = {}
    for pkg in ("tenderhall", "credit", "trading", "evaluation", "supervision"):
        for path in (ROOT / pkg).rglob("*.py"):
            found = _calls(ast.parse(path.read_text(encoding="utf-8")))
            if found:
                users[str(path.relative_to(ROOT))] = found
    users.pop("tenderhall/auth/service/password_login.py", None)  # where they are defined
    assert users == {"tenderhall/auth/routes.py": {"check_password", "finish_password_login"}}


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            out.update(_commands(cmd, full + " "))
        else:
            out[full] = cmd
    return out


def test_no_command_signs_in_with_a_users_password() -> None:
    """Commands that take a password: setting one (staff), or the PKCS#12 file's; none turns a
    user's password into a session (a new one must be reviewed and added here)."""
    from tenderhall.cli import main

    taking = {
        name
        for name, cmd in _commands(main).items()
        if any(isinstance(p, click.Option) and "password" in p.name.lower() for p in cmd.params if p.name)
    }
    assert taking == {
        "user create",
        "user set-password",
        "user cert-login",
        "user cert-register",
        "pki issue",
    }
    for name in ("user cert-login", "user cert-register"):
        (option,) = [p for p in _commands(main)[name].params if p.name == "password"]
        assert "PKCS#12" in (getattr(option, "help", "") or "")

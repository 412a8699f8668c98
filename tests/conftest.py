"""Test fixtures: real databases with migrations applied; every DB test runs on SQLite and, when
``TENDERHALL_TEST_DATABASE_URL`` is set, on PostgreSQL. ``TENDERHALL_REQUIRE_SERVICES=1`` turns
every skip for a missing service, command or file into a failure (CI).

Each test gets a fresh database cloned from one migrated template (a file copy on SQLite,
``CREATE DATABASE … TEMPLATE`` on PostgreSQL), so tests that go through the HTTP app (which
commits at the edge) are isolated exactly like service tests.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tenderhall.db import Database
from tenderhall.settings import Settings

REQUIRE = os.environ.get("TENDERHALL_REQUIRE_SERVICES") == "1"
PG_URL = os.environ.get("TENDERHALL_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("TENDERHALL_TEST_REDIS_URL")
AMQP_URL = os.environ.get("TENDERHALL_TEST_AMQP_URL")
SHARED = Path(__file__).resolve().parents[2] / "shared"

pytest_plugins = ["tests.logscan"]


def missing(msg: str) -> NoReturn:
    """Skip because something the test needs is missing here, or, with
    TENDERHALL_REQUIRE_SERVICES=1 (CI), fail: CI never passes by skipping what it must run."""
    if REQUIRE:
        pytest.fail(msg + " and TENDERHALL_REQUIRE_SERVICES=1 requires it")
    pytest.skip(msg)


def need_service(name: str, value: str | None) -> str:
    """A service URL; skip (CI: fail) when it is not configured."""
    if value:
        return value
    missing(f"{name} is not configured for tests (set TENDERHALL_TEST_{name.upper()}_URL)")


def need_command(name: str, why: str, package: str | None = None) -> str:
    """The path of a command on PATH; skip (CI: fail) when it is not installed."""
    path = shutil.which(name)
    if path:
        return path
    missing(f"{name} is not installed{f' (apt package {package})' if package else ''}, so {why}")


def need_path(path: Path, what: str) -> Path:
    """A file or folder the tests read; skip (CI: fail) when it is not there."""
    if path.exists():
        return path
    missing(f"{what} not found at {path}")


def migrate(url: str) -> None:
    from alembic.config import Config

    from alembic import command

    cfg = Config(toml_file=str(Path(__file__).resolve().parents[1] / "pyproject.toml"))
    cfg.attributes["database_url"] = url
    command.upgrade(cfg, "heads")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "gw")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    migrate(f"sqlite:///{path}")
    # fold the WAL into the main file so that a plain copy is complete
    eng = sa.create_engine(f"sqlite:///{path}")
    with eng.connect() as c:
        c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        c.exec_driver_sql("PRAGMA journal_mode=DELETE")
    eng.dispose()
    return path


def _pg_admin_url(url: str) -> sa.URL:
    return make_url(url).set(drivername="postgresql+psycopg")


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    url = need_service("database", PG_URL)
    base = _pg_admin_url(url)
    name = f"th_tpl_{_worker()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    tpl_url = base.set(database=name).render_as_string(hide_password=False)
    migrate(tpl_url)
    yield name
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


_counter = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for this test."""
    if request.param == "sqlite":
        tpl: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copyfile(tpl, path)
        yield f"sqlite:///{path}"
        return
    tpl_name: str = request.getfixturevalue("pg_template")
    base = _pg_admin_url(PG_URL or "")
    name = f"th_{_worker()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{tpl_name}"')
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        broker_url="memory://",
        blob_dir=tmp_path / "blobs",
        key_dir=tmp_path / "keys",
        secret_key="test-secret-key-0123456789abcdef",  # registered by tests/logscan.py  # type: ignore[arg-type]
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    from tenderhall.app import create_app

    return create_app(settings, db=db, run_jobs_inprocess=False)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from litestar.testing import TestClient

    with TestClient(app, base_url="http://testserver.local") as c:
        yield c


@pytest.fixture
def shared_dir() -> Path:
    """The project's shared folder (OCDS schemas and codelists)."""
    need_path(SHARED / "ocds" / "release-package-schema.json", "the OCDS schemas of the shared folder")
    return SHARED

"""A pytest plugin: every log line of the test run goes to a file per process (xdist worker), every
secret the tests create is registered, and the run fails when any registered secret appears in a
log line, naming the kind of secret and the line numbers, never the secret.

Registered secrets: tokens (``factories.token_for`` and every
``auth.service.sessions.issue_session``, so tokens from sign-ins through the app count too),
passwords (every ``auth.service.passwords.hash_password``),
everything sealed at rest (``keys.SecretBox.seal``: TOTP secrets, ID numbers, key shares…), and
private keys' PEM (``pki.devca`` and the platform signer). The spies call the original and only
remember the value; they change nothing the code under test sees.

Records reach the file through a handler on the standard ``logging`` root (re-attached around
each test phase, since each app's Litestar logging config replaces the root's handlers), where
``configure_logging`` sends structlog's lines too; the record factory it installs has already
redacted each record, exactly as any production handler would receive it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_SECRETS: dict[str, str] = {}  # value -> kind
_WORD = re.compile(r"[A-Za-z0-9_\-]+")
_MIN_LENGTH = 8  # shorter values (a "1234" PIN) would match innocent text
_state: dict[str, Any] = {}
TEST_SECRET_KEY = "test-secret-key-0123456789abcdef"


def remember(kind: str, value: str | bytes | None) -> None:
    """Register a secret the tests created; the run fails if it appears in any log line."""
    if value is None:
        return
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            value = value.hex()
    if kind == "private key (PEM)":
        for line in value.splitlines():
            if len(line) >= 40 and not line.startswith("-----"):
                _SECRETS.setdefault(line, kind)
        return
    if len(value) >= _MIN_LENGTH:
        _SECRETS.setdefault(value, kind)


def log_path() -> Path:
    """This process's log file for the run."""
    return Path(_state["path"])


def log_text() -> str:
    """This process's log so far (attaching the handler again if an app's set-up removed it)."""
    _attach()
    _state["handler"].flush()
    return log_path().read_text(encoding="utf-8", errors="replace")


# --- spies ------------------------------------------------------------------------------------------


def _replace_everywhere(original: Callable[..., Any], wrapper: Callable[..., Any]) -> None:
    """Put ``wrapper`` wherever a loaded module holds ``original`` (``from x import f`` included)."""
    name = original.__name__
    for mod in list(sys.modules.values()):
        if getattr(mod, name, None) is original:
            setattr(mod, name, wrapper)


def _sealed_kind(purpose: str) -> str:
    if purpose.startswith("totp"):
        return "TOTP secret"
    if "id" in purpose.lower():
        return "ID number"
    if "share" in purpose.lower():
        return "key share"
    return f"sealed value ({purpose.split(':')[0]})"


def _install_spies() -> None:
    import tenderhall.auth.certlogin  # noqa: F401 - holds issue_session by name
    from tenderhall import keys, signing
    from tenderhall.auth.service import passwords, sessions
    from tenderhall.pki import devca

    issue = sessions.issue_session

    @functools.wraps(issue)
    def issue_session(*args: Any, **kwargs: Any) -> Any:
        tok = issue(*args, **kwargs)
        remember("session cookie" if tok.kind == "cookie" else "API token", tok.token)
        return tok

    _replace_everywhere(issue, issue_session)

    hash_password = passwords.hash_password

    @functools.wraps(hash_password)
    def hashed(password: str) -> str:
        remember("password", password)
        return hash_password(password)

    _replace_everywhere(hash_password, hashed)

    seal = keys.SecretBox.seal

    @functools.wraps(seal)
    def sealed(self: Any, plaintext: bytes | str, purpose: str) -> str:
        remember(_sealed_kind(purpose), plaintext)
        return seal(self, plaintext, purpose)

    keys.SecretBox.seal = sealed  # type: ignore[method-assign]

    for mod, name in ((devca, "_write_private"), (signing, "_write_once")):
        original = getattr(mod, name, None)
        if original is None:
            continue

        def writer(*args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            data = args[1] if len(args) > 1 else kwargs.get("data")
            if isinstance(data, bytes) and b"PRIVATE KEY" in data:
                remember("private key (PEM)", data)
            return _original(*args, **kwargs)

        _replace_everywhere(original, writer)


# --- hooks ------------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    workerinput = getattr(config, "workerinput", None)
    folder = workerinput["logscan_dir"] if workerinput else tempfile.mkdtemp(prefix="th-logscan-")
    _state.update(folder=folder, path=str(Path(folder) / f"{worker}.log"), worker=worker)
    handler = logging.FileHandler(_state["path"], encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    _state["handler"] = handler
    logging.getLogger().addHandler(handler)
    _install_spies()
    remember("secret key", TEST_SECRET_KEY)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:  # xdist: the controller tells each worker where to write
    node.workerinput["logscan_dir"] = _state["folder"]


def _attach() -> None:
    """(Re)attach the file handler: every ``create_app`` lets Litestar's logging config replace the
    root logger's handlers."""
    root = logging.getLogger()
    if _state["handler"] not in root.handlers:
        root.addHandler(_state["handler"])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    _attach()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    _attach()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Any:
    _attach()
    return (yield)


def _scan() -> tuple[dict[str, list[int]], int]:
    words: dict[str, list[int]] = {}
    text = log_text()
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        for w in _WORD.findall(line):
            if w in _SECRETS:
                words.setdefault(w, []).append(n)
    found: dict[str, list[int]] = {}
    for value, kind in _SECRETS.items():
        hits = (
            words.get(value)
            if _WORD.fullmatch(value)
            else [n for n, ln in enumerate(lines, 1) if value in ln]
            if value in text
            else None
        )
        if hits:
            found.setdefault(kind, []).extend(hits)
    return found, len(lines)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    found, lines_scanned = _scan()
    registered: dict[str, int] = {}
    for kind in _SECRETS.values():
        registered[kind] = registered.get(kind, 0) + 1
    folder = Path(_state["folder"])
    result = {"found": found, "registered": registered, "lines": lines_scanned}
    (folder / f"{_state['worker']}.found.json").write_text(json.dumps(result))
    if getattr(session.config, "workerinput", None) is not None:
        return  # the controller reports for all workers
    report: dict[str, list[str]] = {}
    totals: dict[str, int] = {}
    scanned = 0
    for f in sorted(folder.glob("*.found.json")):
        result = json.loads(f.read_text())
        scanned += result["lines"]
        for kind, n in result["registered"].items():
            totals[kind] = totals.get(kind, 0) + n
        for kind, lines in result["found"].items():
            report.setdefault(kind, []).append(f"{f.name.split('.')[0]}.log lines {sorted(set(lines))[:10]}")
    _state["report"] = report
    _state["summary"] = (
        f"log scan: {scanned} log lines checked for {sum(totals.values())} secrets the tests created ("
        + ", ".join(f"{n} {k}" for k, n in sorted(totals.items()))
        + ")"
    )
    if report:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    report = _state.get("report")
    if "summary" in _state:
        terminalreporter.write_line(_state["summary"])
    if not report:
        return
    terminalreporter.section("secrets in the logs", red=True)
    for kind, where in sorted(report.items()):
        terminalreporter.write_line(f"secret found in the logs, kind: {kind}; where: {'; '.join(where)}")
    terminalreporter.write_line(f"logs kept in {_state['folder']}")

"""OCSP against a real responder: ``openssl ocsp`` answering from the development CA's index on a
free loopback port, started and stopped by the tests. The platform asks the responder configured
for the issuing CA (or the certificate's AIA one, when the CA allows it)."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tenderhall.auth.principal import SYSTEM
from tenderhall.db import Database, utcnow
from tenderhall.identifiers import make_credit_code
from tenderhall.pki import truststore
from tenderhall.pki.devca import DevCA
from tenderhall.pki.validation import CertificateRejected, validate_certificate
from tenderhall.settings import Settings
from tests.conftest import need_command

CODE = make_credit_code("91350100M00050001")


@pytest.fixture(autouse=True)
def _openssl() -> None:
    need_command("openssl", "the OCSP responder cannot run", "openssl")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_listening(log: Path, proc: subprocess.Popen[bytes], deadline_s: float = 15.0) -> None:
    """Poll (with a deadline) for the line ``openssl ocsp`` writes once its socket listens; a probe
    connection would not do: the responder serves one connection at a time and waits on it."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if "waiting for OCSP client connections" in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"openssl ocsp exited early: {log.read_text(errors='replace')}")
        time.sleep(0.02)
    raise TimeoutError(f"openssl ocsp was not listening within {deadline_s}s")


@pytest.fixture
def ca(tmp_path: Path) -> DevCA:
    c = DevCA(tmp_path / "ocsp-ca")
    c.init("OCSP Test Root CA", now=utcnow() - dt.timedelta(days=2))
    c.issue_ocsp_responder()
    return c


@pytest.fixture
def ca_id(db: Database, ca: DevCA) -> int:
    with db.unit_of_work() as s:
        row_id = truststore.import_ca(s, SYSTEM, ca.cert_path.read_bytes()).id
    assert row_id is not None
    return row_id


@pytest.fixture
def responder(ca: DevCA) -> Iterator[Callable[..., str]]:
    """``start(port=None)`` writes the CA's index as it is now and starts a responder; returns its URL."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(port: int | None = None) -> str:
        index = ca.write_index()
        port = port or free_port()
        log = ca.folder / f"ocsp-{port}.log"
        argv = ["openssl", "ocsp", "-index", str(index), "-port", str(port), "-nrequest", "50"]
        argv += ["-rsigner", str(ca.ocsp_cert_path), "-rkey", str(ca.ocsp_key_path), "-CA", str(ca.cert_path)]
        with log.open("wb") as err:
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        procs.append(proc)
        wait_until_listening(log, proc)
        return f"http://127.0.0.1:{port}/"

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)


def _set_ocsp(db: Database, ca_id: int, url: str | None, *, use_aia: bool = False) -> None:
    with db.unit_of_work() as s:
        truststore.set_ocsp(s, SYSTEM, ca_id, url, use_aia=use_aia)


def refused(db: Database, cert: object, **kw: object) -> CertificateRejected:
    with db.unit_of_work() as s, pytest.raises(CertificateRejected) as ei:
        validate_certificate(s, cert, **kw)  # type: ignore[arg-type]
    assert ei.value.zh and ei.value.en
    return ei.value


def test_a_good_answer_from_the_cas_responder_validates(
    db: Database, ca: DevCA, ca_id: int, responder: Callable[..., str]
) -> None:
    leaf = ca.issue("bidder-sign", name="示例公司", credit_code=CODE)
    _set_ocsp(db, ca_id, responder())
    with db.unit_of_work() as s:
        v = validate_certificate(s, leaf.certificate)
    assert v.ca_id == ca_id


def test_a_revoked_answer_refuses_naming_the_responder_and_the_time(
    db: Database, ca: DevCA, ca_id: int, responder: Callable[..., str]
) -> None:
    now = utcnow()
    leaf = ca.issue("bidder-sign", name="示例公司", credit_code=CODE, not_before=now - dt.timedelta(days=1))
    revoked_at = (now - dt.timedelta(hours=2)).replace(microsecond=0)
    ca.revoke(leaf.serial, at=revoked_at)
    url = responder()
    _set_ocsp(db, ca_id, url)
    err = refused(db, leaf.certificate)
    assert err.reason_code == "revoked"
    assert f"the OCSP responder {url}" in err.en
    assert f"{revoked_at:%Y-%m-%d %H:%M} UTC" in err.en
    assert url in err.zh
    # a signature made before the revocation was made by a valid certificate
    with db.unit_of_work() as s:
        validate_certificate(s, leaf.certificate, at=revoked_at - dt.timedelta(minutes=5))


def test_an_unknown_answer_refuses(
    db: Database, ca: DevCA, ca_id: int, responder: Callable[..., str]
) -> None:
    url = responder()  # the index is written before the certificate exists
    leaf = ca.issue("bidder-sign", name="示例公司", credit_code=CODE)
    _set_ocsp(db, ca_id, url)
    err = refused(db, leaf.certificate)
    assert err.reason_code == "ocsp_unknown"
    assert url in err.en and leaf.serial in err.en


def test_a_responder_that_is_down_refuses_naming_its_url(db: Database, ca: DevCA, ca_id: int) -> None:
    leaf = ca.issue("bidder-sign", name="示例公司", credit_code=CODE)
    url = f"http://127.0.0.1:{free_port()}/ocsp"  # nothing listens there
    _set_ocsp(db, ca_id, url)
    err = refused(db, leaf.certificate)
    assert err.reason_code == "ocsp_unreachable"
    assert url in err.en and url in err.zh
    assert "OCSP Test Root CA" in err.en


def test_the_certificates_aia_responder_is_asked_only_when_the_ca_allows_it(
    db: Database, ca: DevCA, ca_id: int, responder: Callable[..., str]
) -> None:
    down = f"http://127.0.0.1:{free_port()}/"
    leaf = ca.issue("bidder-sign", name="示例公司", credit_code=CODE, ocsp_url=down)
    with db.unit_of_work() as s:  # a URL a certificate names is not fetched unless the CA allows it
        validate_certificate(s, leaf.certificate)
    _set_ocsp(db, ca_id, None, use_aia=True)
    err = refused(db, leaf.certificate)
    assert err.reason_code == "ocsp_unreachable"
    assert down in err.en
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    revoked = ca.issue("bidder-sign", name="示例公司", credit_code=CODE, ocsp_url=url)
    ca.revoke(revoked.serial)
    assert responder(port) == url
    err = refused(db, revoked.certificate)
    assert err.reason_code == "revoked"
    assert f"the OCSP responder {url}" in err.en
    # a responder configured for the CA wins over the one the certificate names
    _set_ocsp(db, ca_id, down, use_aia=True)
    err = refused(db, revoked.certificate)
    assert err.reason_code == "ocsp_unreachable"
    assert down in err.en


def test_the_responder_setting_refuses_what_is_not_an_http_url(db: Database, ca_id: int) -> None:
    from tenderhall.errors import InvalidInput

    for bad in ("ldap://ca.example/ocsp", "http://", "ocsp.example.cn"):
        with db.unit_of_work() as s, pytest.raises(InvalidInput):
            truststore.set_ocsp(s, SYSTEM, ca_id, bad)


def test_the_cli_sets_and_shows_a_cas_responder(settings: Settings, db: Database, ca_id: int) -> None:
    from click.testing import CliRunner

    from tenderhall.pki.cli import group as pki_cli

    env = {"TENDERHALL_DATABASE_URL": settings.database_url, "TENDERHALL_KEY_DIR": str(settings.key_dir)}
    url = "http://ocsp.example.cn/responder"
    result = CliRunner().invoke(pki_cli, ["set-ocsp", str(ca_id), "--url", url], env=env)
    assert result.exit_code == 0, result.output
    assert f"OCSP {url}" in result.output
    listing = CliRunner().invoke(pki_cli, ["list"], env=env)
    assert f"OCSP {url}" in listing.output
    refused_cli = CliRunner().invoke(pki_cli, ["set-ocsp", str(ca_id), "--url", "ldap://x"], env=env)
    assert refused_cli.exit_code == 1
    assert "http:// or https://" in refused_cli.output
    with db.unit_of_work() as s:
        from tenderhall.pki.models import TrustedCA

        row = s.get(TrustedCA, ca_id)
        assert row is not None and row.ocsp_url == url


def test_an_intermediate_revoked_at_the_roots_responder_is_refused(
    db: Database, ca: DevCA, ca_id: int, responder: Callable[..., str], tmp_path: Path
) -> None:
    sub = DevCA(tmp_path / "sub")
    sub.init_intermediate(ca, "OCSP Test Issuing CA", not_before=utcnow() - dt.timedelta(days=1))
    leaf = sub.issue("bidder-sign", name="示例公司", credit_code=CODE)
    url = responder()
    _set_ocsp(db, ca_id, url)
    with db.unit_of_work() as s:  # the responder vouches for the intermediate; the leaf's CA has none
        validate_certificate(s, leaf.certificate, intermediates=[sub.certificate])
    ca.revoke(format(sub.certificate.serial_number, "x"))
    url = responder()
    _set_ocsp(db, ca_id, url)
    err = refused(db, leaf.certificate, intermediates=[sub.certificate])
    assert err.reason_code == "revoked"
    assert "intermediate CA certificate 'OCSP Test Issuing CA'" in err.en
    assert f"the OCSP responder {url}" in err.en

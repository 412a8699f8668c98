"""A small real receiver for pushed credit events (``tenderhall credit receiver``), for tests and
the demo: what a province's credit platform would run.

- ``POST /events``: verifies the platform's signature over the exact body (public key from a PEM
  file, or fetched from the platform's ``/.well-known/tenderhall-signing-key.pem``), checks that the
  ``Idempotency-Key`` header matches the body, stores the event in SQLite once per idempotency key
  (a repeat is counted and acknowledged as "duplicate"), and answers
  ``{"status": "ok"|"duplicate", "idempotency_key": …}``.
- ``GET /events``: what arrived, in arrival order (first arrival of each key).
- ``POST /_control`` ``{"mode": "ok"|"down"|"500"|"timeout"|"garbage", "delay_seconds": 2}``: make
  it fail on purpose (loopback callers only). ``down`` drops connections without answering;
  ``timeout`` stores the event and then answers too late (the sender sees a timeout: the ack is
  lost); ``garbage`` answers 200 with a body that is not an acknowledgement.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tenderhall.signing import verify_signature

MODES = ("ok", "down", "500", "timeout", "garbage")
SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    event_id INTEGER,
    event_type TEXT,
    subject_key TEXT,
    key_id TEXT,
    body TEXT NOT NULL,
    first_received_at REAL NOT NULL,
    times_received INTEGER NOT NULL DEFAULT 1
);
"""


class ReceiverStore:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)

    def store(self, key: str, event: dict[str, Any], body: bytes, key_id: str) -> bool:
        """True when new; False for a repeat (counted)."""
        with self._lock:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO received (idempotency_key, event_id, event_type, subject_key, key_id, "
                "body, first_received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    event.get("event_id"),
                    event.get("type"),
                    event.get("subject_key"),
                    key_id,
                    body.decode(),
                    time.time(),
                ),
            )
            if cur.rowcount == 1:
                return True
            self._conn.execute(
                "UPDATE received SET times_received = times_received + 1 WHERE idempotency_key = ?", (key,)
            )
            return False

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, idempotency_key, event_id, event_type, subject_key, times_received, body "
                "FROM received ORDER BY seq"
            ).fetchall()
        return [
            {
                "seq": r[0],
                "idempotency_key": r[1],
                "event_id": r[2],
                "type": r[3],
                "subject_key": r[4],
                "times_received": r[5],
                "event": json.loads(r[6]),
            }
            for r in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.owner.verbose:
            super().log_message(format, *args)

    def _json(self, status: int, data: Any) -> None:
        raw = json.dumps(data, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self) -> None:
        owner = self.server.owner
        if self.path.startswith("/events"):
            self._json(200, owner.store.all())
        elif self.path == "/health":
            self._json(200, {"status": "ok", "mode": owner.mode})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        owner = self.server.owner
        body = self._body()
        if self.path == "/_control":
            if self.client_address[0] not in ("127.0.0.1", "::1"):
                self._json(403, {"error": "control is for loopback callers only"})
                return
            try:
                data = json.loads(body or b"{}")
                owner.set_mode(
                    str(data.get("mode", "ok")), float(data.get("delay_seconds", owner.delay_seconds))
                )
            except (ValueError, TypeError) as exc:
                self._json(400, {"error": str(exc)})
                return
            self._json(200, {"mode": owner.mode})
            return
        if self.path != "/events":
            self._json(404, {"error": "not found"})
            return
        mode = owner.mode
        if mode == "down":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if mode == "500":
            self._json(500, {"error": "simulated failure"})
            return
        if mode == "garbage":
            raw = b"<html>\x00\xffnot an acknowledgement"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            return
        status, answer = owner.accept(body, dict(self.headers.items()))
        if mode == "timeout":
            time.sleep(owner.delay_seconds)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._json(status, answer)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: ReceiverServer


class ReceiverServer:
    """Run with :meth:`start` (a background thread) or :meth:`serve_forever`."""

    def __init__(
        self,
        db_path: Path | str,
        *,
        public_key_pem: str | None = None,
        platform_url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        mode: str = "ok",
        delay_seconds: float = 2.0,
        verbose: bool = False,
    ) -> None:
        if public_key_pem is None and platform_url is None:
            raise ValueError("give the platform's public key (PEM) or the platform URL to fetch it from")
        self.store = ReceiverStore(db_path)
        self.public_key_pem = public_key_pem
        self.platform_url = platform_url
        self.host = host
        self.port = port
        self.verbose = verbose
        self.mode = "ok"
        self.delay_seconds = delay_seconds
        self.set_mode(mode, delay_seconds)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- behaviour -------------------------------------------------------------------------------

    def set_mode(self, mode: str, delay_seconds: float | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.mode = mode
        if delay_seconds is not None:
            self.delay_seconds = delay_seconds

    def _public_key(self) -> str:
        if self.public_key_pem is None:
            assert self.platform_url is not None
            resp = httpx.get(
                self.platform_url.rstrip("/") + "/.well-known/tenderhall-signing-key.pem", timeout=10
            )
            resp.raise_for_status()
            self.public_key_pem = resp.text
        return self.public_key_pem

    def accept(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        h = {k.lower(): v for k, v in headers.items()}
        key = h.get("idempotency-key", "")
        try:
            signature = base64.b64decode(h.get("x-tenderhall-signature", ""), validate=True)
        except ValueError:
            return 400, {"error": "malformed signature header"}
        if not key or not signature:
            return 400, {"error": "Idempotency-Key and X-TenderHall-Signature are required"}
        if not verify_signature(self._public_key(), body, signature):
            return 403, {"error": "signature does not verify with the platform key"}
        try:
            event = json.loads(body)
        except ValueError:
            return 400, {"error": "body is not JSON"}
        if not isinstance(event, dict) or event.get("idempotency_key") != key:
            return 400, {"error": "Idempotency-Key does not match the event"}
        new = self.store.store(key, event, body, h.get("x-tenderhall-key-id", ""))
        return 200, {"status": "ok" if new else "duplicate", "idempotency_key": key}

    # -- serving ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _bind(self) -> _Server:
        httpd = _Server((self.host, self.port), _Handler)
        httpd.owner = self
        self.port = httpd.server_address[1]
        return httpd

    def start(self) -> ReceiverServer:
        self._httpd = self._bind()
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="credit-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (the port then refuses connections: 'down for a long time')."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def listen(self) -> ReceiverServer:
        """Bind the port now (``port=0`` picks a free one); :meth:`serve_forever` then serves it."""
        if self._httpd is None:
            self._httpd = self._bind()
        return self

    def serve_forever(self) -> None:
        self.listen()
        assert self._httpd is not None
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()

"""The agent's HTTP server (protocol version 1, docs/signing-agent.md): ``GET /v1/status`` and
``POST /v1/sign`` on 127.0.0.1 only, for allow-listed Origins only, each signature confirmed at
the terminal. The standard library's threading server is enough: one person, a few requests."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tenderhall.agent.confirm import Confirmer, SignRequest
from tenderhall.agent.keys import AgentKeyError, SigningKey

PROTOCOL = 1
AGENT_NAME = "tenderhall-signing-agent"
LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 17820
MAX_BODY = 16 * 1024
NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class AgentConfigError(Exception):
    """The agent cannot start as asked (bind address, origins); the message names the option."""


def normalise_origin(value: str) -> str:
    """``scheme://host[:port]`` in the form browsers send in ``Origin`` (lower case, no default
    port, no path); :class:`AgentConfigError` for anything else (``*``, ``null``, a path…)."""
    v = value.strip()
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise AgentConfigError(
            f"--allow-origin {value!r}: give an origin such as https://ggzy.example.gov.cn"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise AgentConfigError(f"--allow-origin {value!r}: an origin has no path, query or fragment")
    try:
        port = parts.port
    except ValueError:
        raise AgentConfigError(f"--allow-origin {value!r}: the port is not a number") from None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def check_bind_host(host: str) -> str:
    if host != LOOPBACK:
        raise AgentConfigError(
            f"--host {host}: the signing agent listens on {LOOPBACK} only, so that no other computer "
            f"can ask it to sign (签名助手只在 {LOOPBACK} 上监听，其他计算机无法请求签名)"
        )
    return host


@dataclass(frozen=True)
class Purpose:
    zh: str
    en: str
    message: Callable[[str], bytes]


def _purposes() -> dict[str, Purpose]:
    from tenderhall.auth.certlogin import login_message, registration_message

    return {
        "login": Purpose(
            "登录平台（投标人证书登录）", "sign in to the platform as the bidder", login_message
        ),
        "registration": Purpose("注册为投标人", "register the company as a bidder", registration_message),
    }


class AgentError(Exception):
    def __init__(self, status: int, code: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.status, self.code, self.zh, self.en = status, code, zh, en

    def body(self) -> dict[str, str]:
        return {"error": self.code, "zh": self.zh, "en": self.en}


class Agent:
    """What the HTTP handler serves: the key, the allowed origins, the confirmer."""

    def __init__(
        self,
        key: SigningKey,
        origins: list[str],
        confirmer: Confirmer,
        *,
        log: Callable[[str], None] = lambda _line: None,
    ) -> None:
        if not origins:
            raise AgentConfigError(
                "--allow-origin: name at least one platform origin the agent may sign for "
                "(至少指定一个允许的平台来源)"
            )
        self.key = key
        self.origins = frozenset(normalise_origin(o) for o in origins)
        self.confirmer = confirmer
        self.log = log
        self.purposes = _purposes()
        self._confirming = threading.Lock()

    def allowed(self, origin: str | None) -> bool:
        if not origin:
            return False
        try:
            return normalise_origin(origin) in self.origins
        except AgentConfigError:
            return False

    def status(self) -> dict[str, Any]:
        info = self.key.info
        return {
            "agent": AGENT_NAME,
            "protocol": PROTOCOL,
            "purposes": sorted(self.purposes),
            "algorithm": self.key.algorithm,
            "certificate": {
                "company": info.company,
                "credit_code": info.credit_code,
                "subject": info.subject,
                "fingerprint": info.fingerprint,
                "not_after": info.not_after,
                "pem": self.key.certificate_pem(),
            },
        }

    def sign(self, origin: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _bad("the body is a JSON object", "请求体应为 JSON 对象")
        purpose_name, nonce, platform = body.get("purpose"), body.get("nonce"), body.get("platform", "")
        purpose = self.purposes.get(purpose_name) if isinstance(purpose_name, str) else None
        if purpose is None:
            raise _bad(
                f"purpose is one of {', '.join(sorted(self.purposes))}",
                f"purpose 应为 {'、'.join(sorted(self.purposes))} 之一",
            )
        if not isinstance(nonce, str) or not NONCE_RE.match(nonce):
            raise _bad(
                "nonce is 16-64 characters of A-Z a-z 0-9 _ -", "nonce 应为 16-64 个字母、数字、_ 或 -"
            )
        if not isinstance(platform, str) or len(platform) > 100 or not platform.isprintable():
            raise _bad(
                "platform is printable text of at most 100 characters", "platform 应为不超过 100 字的文字"
            )
        message = purpose.message(nonce)
        request = SignRequest(
            origin=normalise_origin(origin),
            platform=platform,
            purpose=str(purpose_name),
            purpose_zh=purpose.zh,
            purpose_en=purpose.en,
            nonce=nonce,
            text=message.decode("ascii"),
            certificate=self.key.info,
        )
        if not self._confirming.acquire(blocking=False):
            raise AgentError(
                409,
                "busy",
                "签名助手正在等待对上一个签名请求的确认：请先在签名助手窗口中回答",
                "The agent is waiting for an answer to another signature request: answer it in the "
                "agent's window first",
            )
        try:
            decision = self.confirmer(request)
        finally:
            self._confirming.release()
        self.log(f"sign {purpose_name} for {request.origin}: {decision}")
        if decision == "timeout":
            raise AgentError(
                408,
                "confirmation_timeout",
                "签名助手窗口中无人确认，签名请求已超时：请在签名助手窗口中输入 y 确认后重试",
                "Nobody confirmed in the agent's window in time: try again and type y in the agent's window",
            )
        if decision != "yes":
            raise AgentError(
                403,
                "refused_at_terminal",
                "签名在签名助手窗口中被拒绝：如需登录，请重试并在签名助手窗口中输入 y 确认",
                "The signature was refused in the agent's window: to sign in, try again and type y there",
            )
        try:
            signature = self.key.sign(message)
        except AgentKeyError as exc:
            raise AgentError(503, "key_error", exc.zh, exc.en) from None
        return {
            "purpose": purpose_name,
            "nonce": nonce,
            "message_b64": base64.b64encode(message).decode(),
            "signature": base64.b64encode(signature).decode(),
            "algorithm": self.key.algorithm,
            "certificate_pem": self.key.certificate_pem(),
            "intermediates": self.key.chain_pem(),
        }


def _bad(en: str, zh: str) -> AgentError:
    return AgentError(400, "bad_request", f"签名请求格式错误：{zh}", f"Malformed signature request: {en}")


ORIGIN_REFUSED = AgentError(
    403,
    "origin_refused",
    "此网页不在签名助手允许的平台列表中（--allow-origin），签名助手不为它签名",
    "This page's origin is not on the agent's list of allowed platforms (--allow-origin); the agent "
    "does not sign for it",
)


class _Handler(BaseHTTPRequestHandler):
    server: AgentHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "TenderHallAgent/1"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the agent reports each signature itself."""

    def _origin(self) -> str | None:
        return self.headers.get("Origin")

    def _host_ok(self) -> bool:
        """DNS rebinding: a page on an attacker's name resolving to 127.0.0.1 sends its own Host."""
        port = self.server.server_address[1]
        return self.headers.get("Host", "") in (f"{LOOPBACK}:{port}", f"localhost:{port}")

    def _send(self, status: int, body: dict[str, Any] | None, *, cors: bool) -> None:
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Vary", "Origin")
        if cors:
            self.send_header("Access-Control-Allow-Origin", str(self._origin()))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _refuse_unless_allowed(self) -> bool:
        refused = not self._host_ok() or not self.server.agent.allowed(self._origin())
        if refused:
            self.close_connection = True  # its body, if any, is never read
        if not self._host_ok():
            self._send(
                403,
                AgentError(
                    403,
                    "host_refused",
                    "请用 http://127.0.0.1 访问签名助手",
                    "Reach the agent as http://127.0.0.1",
                ).body(),
                cors=False,
            )
            return True
        if not self.server.agent.allowed(self._origin()):
            self.server.agent.log(f"refused origin {self._origin()!r} for {self.command} {self.path}")
            self._send(403, ORIGIN_REFUSED.body(), cors=False)
            return True
        return False

    def do_OPTIONS(self) -> None:
        if self._refuse_unless_allowed():
            return
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", str(self._origin()))
        self.send_header("Access-Control-Allow-Methods", "GET, POST")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.send_header("Access-Control-Max-Age", "600")
        if self.headers.get("Access-Control-Request-Private-Network") == "true":
            self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Vary", "Origin")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if self._refuse_unless_allowed():
            return
        if self.path != "/v1/status":
            self._send(404, _not_found().body(), cors=True)
            return
        self._send(200, self.server.agent.status(), cors=True)

    def do_POST(self) -> None:
        if self._refuse_unless_allowed():
            return
        if self.path != "/v1/sign":
            self._send(404, _not_found().body(), cors=True)
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._send(413, _bad("the body is at most 16 KiB", "请求体不能超过 16 KiB").body(), cors=True)
            return
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except (ValueError, UnicodeDecodeError):
            self._send(400, _bad("the body is JSON", "请求体应为 JSON").body(), cors=True)
            return
        try:
            result = self.server.agent.sign(str(self._origin()), body)
        except AgentError as exc:
            self._send(exc.status, exc.body(), cors=True)
            return
        self._send(200, result, cors=True)


def _not_found() -> AgentError:
    return AgentError(
        404,
        "not_found",
        "没有这个接口：见 /v1/status 与 /v1/sign",
        "No such endpoint: see /v1/status and /v1/sign",
    )


class AgentHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, agent: Agent, host: str, port: int) -> None:
        self.agent = agent
        super().__init__((check_bind_host(host), port), _Handler)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"

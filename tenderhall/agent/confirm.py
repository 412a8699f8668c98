"""The person at the agent's terminal confirms each signature (y/N), seeing what is signed."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Literal, Protocol, TextIO

from tenderhall.agent.keys import CertificateInfo

Decision = Literal["yes", "no", "timeout"]


@dataclass(frozen=True)
class SignRequest:
    """One request to sign, as shown at the terminal."""

    origin: str
    """The page's Origin as the browser sent it (a page cannot forge it)."""
    platform: str
    """The name the page gives for itself (unverified; shown beside the Origin)."""
    purpose: str
    purpose_zh: str
    purpose_en: str
    nonce: str
    text: str
    """The exact text signed (printable form)."""
    certificate: CertificateInfo


class Confirmer(Protocol):
    def __call__(self, request: SignRequest) -> Decision: ...


def describe_request(req: SignRequest) -> str:
    code = f"（{req.certificate.credit_code}）" if req.certificate.credit_code else ""
    lines = [
        "",
        "=" * 64,
        "签名请求 / Signature request",
        f"  来源网页 Origin:        {req.origin}",
        f"  平台 Platform:          {req.platform or '-'}",
        f"  用途 Purpose:           {req.purpose_zh} / {req.purpose_en}",
        f"  随机数 Nonce:           {req.nonce}",
        "  签名内容 Text signed:",
        *(f"    | {line}" for line in req.text.split("\n")),
        f"  证书单位 Company:       {req.certificate.company}{code}",
        f"  证书指纹 Fingerprint:   {req.certificate.fingerprint[:32]}…",
        "=" * 64,
    ]
    return "\n".join(lines)


PROMPT = "是否签名？Sign this? [y/N]: "


class TerminalConfirmer:
    """Asks at the terminal. A reader thread owns ``stdin``; answers typed before a question are
    dropped (a stray "y" never approves a later request); only ``y``/``yes``/``是`` approve; no answer
    within ``timeout`` seconds, or the end of input, refuses."""

    def __init__(self, stdin: TextIO, stdout: TextIO, *, timeout: float) -> None:
        self._out = stdout
        self._timeout = timeout
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()
        threading.Thread(target=self._read, args=(stdin,), name="agent-stdin", daemon=True).start()

    def _read(self, stdin: TextIO) -> None:
        for line in stdin:
            self._answers.put(line)
        self._answers.put(None)

    def __call__(self, request: SignRequest) -> Decision:
        with self._lock:
            if self._closed:
                self._say("终端已没有输入，拒绝签名 / The terminal has no input: refused")
                return "no"
            while True:
                try:
                    stale = self._answers.get_nowait()
                except queue.Empty:
                    break
                if stale is None:
                    self._closed = True
                    return "no"
            self._out.write(describe_request(request) + "\n" + PROMPT)
            self._out.flush()
            try:
                answer = self._answers.get(timeout=self._timeout)
            except queue.Empty:
                self._say("\n超时未确认，已拒绝 / No answer in time: refused")
                return "timeout"
            if answer is None:
                self._closed = True
                self._say("\n终端输入已结束，已拒绝 / End of input: refused")
                return "no"
            if answer.strip().lower() in ("y", "yes", "是"):
                self._say("已签名 / Signed")
                return "yes"
            self._say("已拒绝 / Refused")
            return "no"

    def _say(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

"""The real ``tenderhall bid agent`` process for tests: started with a key, its terminal driven
through stdin, its output read line by line (waits poll the output with a deadline)."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.agent.softhsm import SoftToken

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AgentProcess:
    def __init__(self, args: list[str], env: dict[str, str], *, port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tenderhall.cli", "bid", "agent", "--port", str(self.port), *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        buf = ""
        while True:
            ch = self.proc.stdout.read(1)
            if not ch:
                break
            buf += ch
            # the prompt ends without a newline: hand it over as soon as it is complete
            if ch == "\n" or buf.endswith("[y/N]: "):
                self.output.append(buf)
                self._lines.put(buf)
                buf = ""
        if buf:
            self.output.append(buf)
            self._lines.put(buf)
        self._lines.put(None)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        """The first line (from now on) that contains ``text``; fails with the output so far."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"agent never printed {text!r}; output:\n{''.join(self.output)}{self.stderr()}"
                )
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(
                    f"agent exited ({self.proc.wait()}) before printing {text!r}:\n"
                    f"{''.join(self.output)}{self.stderr()}"
                )
            if text in line:
                return line

    def answer(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def token_args(t: SoftToken, origin: str) -> tuple[list[str], dict[str, str]]:
    """Options and environment for an agent on token ``t`` (the PIN in the environment)."""
    return (
        [
            "--pkcs11-module",
            t.module,
            "--token-label",
            t.label,
            "--key-label",
            t.key_label,
            "--allow-origin",
            origin,
        ],
        {**t.env, "TENDERHALL_AGENT_PIN": t.pin},
    )

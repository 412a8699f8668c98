"""The terminal's y/N: only an answer to the question on screen approves."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator

import pytest

from tenderhall.agent.confirm import PROMPT, SignRequest, TerminalConfirmer
from tenderhall.agent.keys import CertificateInfo

REQUEST = SignRequest(
    origin="https://ggzy.example.gov.cn",
    platform="平台",
    purpose="login",
    purpose_zh="登录平台",
    purpose_en="sign in",
    nonce="n" * 20,
    text="TenderHall certificate login v1\n" + "n" * 20,
    certificate=CertificateInfo("某公司", "91350100M000100Y43", "CN=某公司", "ab" * 32, "2030-01-01"),
)


class Terminal:
    """A pipe as the agent's stdin and a buffer as its stdout."""

    def __init__(self) -> None:
        r, w = os.pipe()
        self.stdin = os.fdopen(r, "r", encoding="utf-8")
        self._w = os.fdopen(w, "w", encoding="utf-8")
        self.stdout = io.StringIO()

    def type(self, text: str) -> None:
        self._w.write(text)
        self._w.flush()

    def close(self) -> None:
        self._w.close()

    def wait_for_prompt(self, count: int = 1, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.stdout.getvalue().count(PROMPT) < count:
            assert time.monotonic() < deadline, self.stdout.getvalue()
            time.sleep(0.01)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    t = Terminal()
    yield t
    t.close()


def ask(confirmer: TerminalConfirmer) -> tuple[threading.Thread, list[str]]:
    out: list[str] = []
    t = threading.Thread(target=lambda: out.append(confirmer(REQUEST)))
    t.start()
    return t, out


@pytest.mark.parametrize(
    ("typed", "decision"),
    [("y", "yes"), ("YES", "yes"), ("是", "yes"), ("", "no"), ("n", "no"), ("yy", "no")],
)
def test_only_yes_approves(terminal: Terminal, typed: str, decision: str) -> None:
    confirmer = TerminalConfirmer(terminal.stdin, terminal.stdout, timeout=10)
    t, out = ask(confirmer)
    terminal.wait_for_prompt()
    terminal.type(typed + "\n")
    t.join(10)
    assert out == [decision]


def test_a_y_typed_before_the_question_does_not_approve_it(terminal: Terminal) -> None:
    confirmer = TerminalConfirmer(terminal.stdin, terminal.stdout, timeout=0.5)
    terminal.type("y\n")
    deadline = time.monotonic() + 10
    while confirmer._answers.empty():  # the reader thread has taken the stray line
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert confirmer(REQUEST) == "timeout"


def test_the_end_of_input_refuses_this_and_every_later_request(terminal: Terminal) -> None:
    confirmer = TerminalConfirmer(terminal.stdin, terminal.stdout, timeout=10)
    t, out = ask(confirmer)
    terminal.wait_for_prompt()
    terminal.close()
    t.join(10)
    assert out == ["no"]
    assert confirmer(REQUEST) == "no"

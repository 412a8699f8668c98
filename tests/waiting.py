"""Waiting for something to happen in a test: poll a condition against a deadline, never sleep a
fixed time and hope. A condition that never comes true fails the test with a message that says
what did not happen (and, when the message is a function, what was seen instead)."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["wait_until"]


def wait_until(
    predicate: Callable[[], object],
    timeout: float = 15.0,
    message: str | Callable[[], str] = "the condition never came true",
    interval: float = 0.02,
) -> bool:
    """Return True as soon as ``predicate()`` is truthy; raise AssertionError after ``timeout``
    seconds (the condition is checked once more at the deadline). ``interval`` is the pause
    between checks, not a wait for the thing itself."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"{text} (waited {timeout:g} s)")
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))

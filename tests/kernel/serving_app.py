"""A minimal app for the serving tests: it answers with the id of the process that served it."""

from __future__ import annotations

import os
import time

from litestar import Litestar, get


@get("/pid", sync_to_thread=False)
def pid() -> dict[str, int]:
    return {"pid": os.getpid()}


@get("/stuck", sync_to_thread=True)
def stuck() -> dict[str, str]:
    marker = os.environ.get("TENDERHALL_TEST_STUCK_MARKER")
    if marker:
        open(marker, "w").close()
    time.sleep(600)  # a request that never finishes in time (a hung database call, say)
    return {}


def create() -> Litestar:
    return Litestar([pid, stuck])

"""A minimal app for the serving tests: it answers with the id of the process that served it."""

from __future__ import annotations

import os

from litestar import Litestar, get


@get("/pid", sync_to_thread=False)
def pid() -> dict[str, int]:
    return {"pid": os.getpid()}


def create() -> Litestar:
    return Litestar([pid])

"""The application for the two-process live-events tests, built from the environment of its
process (``TENDERHALL_*``) when uvicorn calls :func:`create`."""

from __future__ import annotations

from litestar import Litestar

from tenderhall.app import create_app
from tenderhall.settings import Settings


def create() -> Litestar:
    return create_app(Settings())

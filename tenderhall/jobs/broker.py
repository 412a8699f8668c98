"""Broker set-up: ``memory://`` (in-process), ``redis://…`` or ``amqp://…`` (publisher confirms).

:func:`make_broker` builds a dramatiq broker from a URL; :func:`declare_actors` creates one dramatiq
actor per declared job (``REGISTRY``) on that broker, named like the job, on the job's queue. Every
actor receives one argument, the outbox id, and runs :func:`tenderhall.jobs.execution.execute`.
Retries are not the broker's business (``max_retries=0``): the outbox row is the source of truth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

from tenderhall.jobs.outbox import REGISTRY

#: A job may run for up to a day: the outbox lease, not dramatiq's time limit, governs re-sending.
TIME_LIMIT_MS = 24 * 3600 * 1000


def _middleware() -> list[Any]:
    return [
        AgeLimit(),
        TimeLimit(time_limit=TIME_LIMIT_MS),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=0),
    ]


def make_broker(url: str) -> dramatiq.Broker:
    """A dramatiq broker for ``url``. Nothing is connected yet (connections are lazy)."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return StubBroker(middleware=_middleware())
    if scheme in ("redis", "rediss"):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url, middleware=_middleware())
    if scheme in ("amqp", "amqps"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url, confirm_delivery=True, middleware=_middleware())
    raise ValueError(f"unsupported broker scheme {scheme!r}")


def declare_actors(
    broker: dramatiq.Broker, handler: Callable[[str, int], Any]
) -> dict[str, dramatiq.Actor[Any, Any]]:
    """One actor per declared job on ``broker``; the actor calls ``handler(job_name, outbox_id)``."""
    actors: dict[str, dramatiq.Actor[Any, Any]] = {}
    for name, spec in sorted(REGISTRY.items()):
        if name in broker.actors:
            continue

        def run(outbox_id: int, _name: str = name) -> None:
            handler(_name, outbox_id)  # the outcome is on the outbox row, not a dramatiq result

        run.__name__ = name.replace(".", "_")
        run.__module__ = spec.fn.__module__
        actors[name] = dramatiq.Actor(
            run,
            broker=broker,
            actor_name=name,
            queue_name=spec.queue,
            priority=0,
            options={"max_retries": 0},
        )
    return actors


def check_broker(url: str, timeout: float = 3.0) -> None:
    """Raise if the broker cannot be reached (the in-process broker always can)."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return
    if scheme in ("redis", "rediss"):
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
        return
    if scheme in ("amqp", "amqps"):
        import pika

        params = pika.URLParameters(url)
        params.socket_timeout = timeout
        params.blocked_connection_timeout = timeout
        params.connection_attempts = 1
        conn = pika.BlockingConnection(params)
        conn.close()
        return
    raise ValueError(f"unsupported broker scheme {scheme!r}")

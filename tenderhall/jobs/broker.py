"""Broker set-up: ``memory://`` (in-process), ``redis://…`` or ``amqp://…`` (publisher confirms)."""

from __future__ import annotations

from urllib.parse import urlsplit


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

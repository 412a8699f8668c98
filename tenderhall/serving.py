"""Serving the web application in one or several processes.

Several web processes each bind their own listening socket to the same address with
``SO_REUSEPORT``, so that the kernel spreads new connections evenly across them. (With one shared
listening socket, as uvicorn's own ``--workers`` has it, whichever process wakes first accepts
every waiting connection: under keep-alive a handful of busy connections can all land on one
process while the others idle.) A supervisor starts the processes, restarts one that dies, and
stops them all on SIGINT or SIGTERM.

``python -m tenderhall.serving APP --port P --processes N`` serves any ASGI app factory this way;
``tenderhall serve`` uses it for the platform, and the benchmarks for the platform and its baseline.
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any

GRACEFUL_SHUTDOWN_S = 10
"""How long a stopping web process waits for the requests in flight before it exits anyway."""
RESTART_PAUSE_S = 1.0
"""Pause before a dead web process is replaced (a process dying at start-up does not spin)."""


@dataclass(frozen=True)
class ServeOptions:
    app: str
    """``"module:attribute"``: an ASGI app, or with ``factory`` a function returning one."""
    host: str = "127.0.0.1"
    port: int = 8000
    processes: int = 1
    factory: bool = True
    app_args: tuple[Any, ...] = ()
    """Arguments for the factory, built once by the caller and handed to every web process (the
    platform passes its ``Settings``): a process does not build its own from the environment."""
    log_level: str = "info"
    access_log: bool = True
    proxy_headers: bool = True
    uvicorn: dict[str, Any] = field(default_factory=dict)


def _config(opts: ServeOptions) -> Any:
    import uvicorn

    app: Any = opts.app
    factory = opts.factory
    if opts.app_args:
        from uvicorn.importer import import_from_string

        app, factory = import_from_string(opts.app)(*opts.app_args), False
    return uvicorn.Config(
        app,
        factory=factory,
        host=opts.host,
        port=opts.port,
        log_level=opts.log_level.lower(),
        access_log=opts.access_log,
        proxy_headers=opts.proxy_headers,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        **opts.uvicorn,
    )


def _run_then_exit(server: Any, **kw: Any) -> None:
    """Run ``server`` until it stops, then end the process at once: a request thread still stuck
    in a call (a hung database, say) must not keep a stopping process alive, as the interpreter's
    exit would, joining every worker thread."""
    import logging
    import os
    import traceback

    code = 1
    try:
        server.run(**kw)
        code = 0 if server.started else 3  # uvicorn's own code for a failed start-up
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: BLE001 - reported here, since os._exit skips the usual report
        traceback.print_exc()
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` that other processes may bind too (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _web_process(opts: ServeOptions) -> None:
    import uvicorn

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor stops us with SIGTERM
    sock = reuseport_socket(opts.host, opts.port)
    _run_then_exit(uvicorn.Server(_config(opts)), sockets=[sock])


def serve(opts: ServeOptions) -> None:
    """Serve ``opts.app`` in ``opts.processes`` processes until SIGINT or SIGTERM."""
    if opts.processes <= 1:
        import uvicorn

        _run_then_exit(uvicorn.Server(_config(opts)))
    # Bind once here first, so that an address in use is reported once, before any process starts.
    reuseport_socket(opts.host, opts.port).close()
    ctx = multiprocessing.get_context("spawn")
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    def start() -> Any:
        p = ctx.Process(target=_web_process, args=(opts,), name="tenderhall-web", daemon=False)
        p.start()
        return p

    procs: list[Any] = [start() for _ in range(opts.processes)]
    try:
        while not stopping:
            time.sleep(0.2)
            for i, p in enumerate(procs):
                if not p.is_alive() and not stopping:
                    print(
                        f"web process {p.pid} exited with {p.exitcode}; starting another",
                        file=sys.stderr,
                        flush=True,
                    )
                    time.sleep(RESTART_PAUSE_S)
                    procs[i] = start()
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        deadline = time.monotonic() + 15
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tenderhall.serving", description=__doc__.splitlines()[0])
    parser.add_argument("app", help='"module:function" returning an ASGI app (or an app, with --no-factory)')
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--no-factory", dest="factory", action="store_false")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-access-log", dest="access_log", action="store_false")
    a = parser.parse_args(argv)
    serve(
        ServeOptions(
            app=a.app,
            host=a.host,
            port=a.port,
            processes=a.processes,
            factory=a.factory,
            log_level=a.log_level,
            access_log=a.access_log,
        )
    )


if __name__ == "__main__":
    main()

"""``tenderhall bid``: the bidder's tools on its own computer. ``bid agent`` runs the signing agent."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tenderhall.agent.server import DEFAULT_PORT, LOOPBACK

if TYPE_CHECKING:
    from cryptography import x509

PIN_ENV = "TENDERHALL_AGENT_PIN"
P12_PASSWORD_ENV = "TENDERHALL_AGENT_P12_PASSWORD"  # noqa: S105 - the variable's name, not a secret


@click.group(name="bid")
def group() -> None:
    """The bidder's tools (run on the bidder's own computer)."""


def _load_pem_certificates(path: Path) -> list[x509.Certificate]:
    from cryptography import x509

    return list(x509.load_pem_x509_certificates(Path(path).read_bytes()))


def read_secret(env: str, prompt: str) -> str:
    """From the environment variable, else asked without echo; never an option (``ps`` shows those)."""
    value = os.environ.get(env)
    if value is not None:
        return value
    return str(click.prompt(prompt, hide_input=True))


@group.command("agent")
@click.option("--p12", "p12", type=click.Path(path_type=Path), help="PKCS#12 file with key and certificate")
@click.option(
    "--pkcs11-module",
    envvar="TENDERHALL_AGENT_PKCS11_MODULE",
    help="the UKey's PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so)",
)
@click.option("--token-label", help="label of the token (UKey) holding the key")
@click.option("--key-label", help="label of the private key on the token")
@click.option("--key-id", help="id of the private key on the token (hex)")
@click.option(
    "--cert",
    "cert_file",
    type=click.Path(exists=True, path_type=Path),
    help="certificate (PEM) when the token has none",
)
@click.option(
    "--chain",
    "chain_file",
    type=click.Path(exists=True, path_type=Path),
    help="intermediate CA certificates (PEM)",
)
@click.option(
    "--allow-origin",
    "origins",
    multiple=True,
    envvar="TENDERHALL_AGENT_ALLOW_ORIGINS",
    help="a platform origin the agent signs for, e.g. https://ggzy.example.gov.cn (repeatable; "
    "TENDERHALL_AGENT_ALLOW_ORIGINS, space-separated)",
)
@click.option("--host", default=LOOPBACK, show_default=True, help=f"bind address ({LOOPBACK} only)")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option("--confirm-timeout", default=120.0, show_default=True, help="seconds to wait for y/N")
def agent(
    p12: Path | None,
    pkcs11_module: str | None,
    token_label: str | None,
    key_label: str | None,
    key_id: str | None,
    cert_file: Path | None,
    chain_file: Path | None,
    origins: tuple[str, ...],
    host: str,
    port: int,
    confirm_timeout: float,
) -> None:
    """Sign for the platform's pages with the company's key, after a y/N at this terminal.

    The key comes from a PKCS#12 file (--p12; password from TENDERHALL_AGENT_P12_PASSWORD or a
    prompt) or a PKCS#11 token (--pkcs11-module, --token-label, --key-label/--key-id; PIN from
    TENDERHALL_AGENT_PIN or a prompt)."""
    from tenderhall.agent.confirm import TerminalConfirmer
    from tenderhall.agent.keys import AgentKeyError, P12Key, Pkcs11Key, SigningKey
    from tenderhall.agent.server import Agent, AgentConfigError, AgentHTTPServer, check_bind_host

    def fail(text: str) -> None:
        click.echo(text, err=True)
        sys.exit(2)

    try:
        check_bind_host(host)
        if not origins:
            raise AgentConfigError(
                "--allow-origin: name the platform's origin, e.g. --allow-origin https://ggzy.example.gov.cn "
                "(请用 --allow-origin 指定允许的平台来源)"
            )
        if bool(p12) == bool(pkcs11_module):
            raise AgentConfigError(
                "give either --p12 FILE or --pkcs11-module LIB --token-label LABEL "
                "(请指定 PKCS#12 证书文件或 UKey 的 PKCS#11 模块，二选一)"
            )
        if pkcs11_module and not token_label:
            raise AgentConfigError("--token-label: name the token (UKey) holding the key (请指定 UKey 标签)")
        key: SigningKey
        if p12:
            key = P12Key(p12, read_secret(P12_PASSWORD_ENV, "PKCS#12 password / 证书密码"))
        else:
            assert pkcs11_module is not None
            assert token_label is not None
            try:
                kid = bytes.fromhex(key_id) if key_id else None
            except ValueError:
                raise AgentConfigError(f"--key-id {key_id!r}: give the id in hexadecimal") from None
            certs = _load_pem_certificates(cert_file) if cert_file else []
            key = Pkcs11Key(
                pkcs11_module,
                token_label,
                read_secret(PIN_ENV, "UKey PIN"),
                key_label=key_label,
                key_id=kid,
                certificate=certs[0] if certs else None,
                chain=_load_pem_certificates(chain_file) if chain_file else None,
            )
        try:
            key.self_test()

            def log(line: str) -> None:
                click.echo(f"[agent] {line}")

            the_agent = Agent(
                key, list(origins), TerminalConfirmer(sys.stdin, sys.stdout, timeout=confirm_timeout), log=log
            )
            try:
                server = AgentHTTPServer(the_agent, host, port)
            except OSError as exc:
                raise AgentConfigError(
                    f"--port {port}: cannot listen on {host}:{port} ({exc.strerror}); is another agent "
                    "running? (端口被占用，是否已有签名助手在运行？)"
                ) from None
            info = key.info
            click.echo(f"签名证书 Certificate: {info.company} {info.credit_code} ({key.algorithm})")
            click.echo(f"允许的平台 Allowed origins: {' '.join(sorted(the_agent.origins))}")
            click.echo(f"签名助手已启动 Signing agent listening on {server.url}", color=False)
            sys.stdout.flush()
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass
            finally:
                server.server_close()
        finally:
            key.close()
    except AgentKeyError as exc:
        fail(f"{exc.zh}\n{exc.en}")
    except AgentConfigError as exc:
        fail(str(exc))

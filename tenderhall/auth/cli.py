"""``tenderhall user``: organisations, users, TOTP, API tokens and certificate sign-in."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlmodel import col

from tenderhall.auth.models import OrgKind, Role
from tenderhall.pki.cli import _settings, cli_actor, unit_of_work


@click.group(name="user")
def group() -> None:
    """Users, organisations, TOTP, API tokens, certificate sign-in."""


@group.command("org")
@click.argument("credit_code")
@click.argument("name")
@click.option("--kind", type=click.Choice([k.value for k in OrgKind]), required=True)
@click.option("--region", default=None)
def create_org(credit_code: str, name: str, kind: str, region: str | None) -> None:
    """Register an organisation under its unified social credit code."""
    from tenderhall.auth.service.users import create_organisation

    with unit_of_work() as s:
        org = create_organisation(s, cli_actor(), credit_code, name, kind, region=region)
        click.echo(f"organisation #{org.id}: {org.name} ({org.credit_code}, {org.kind})")


@group.command("create")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="display name")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--org", "org_code", default=None, help="credit code of the user's organisation")
@click.option("--password", default=None, help="password (prompted when omitted; bidders may have none)")
@click.option("--no-password", is_flag=True, help="no password (bidders signing in with a certificate)")
@click.option("--totp/--no-totp", default=None, help="enrol TOTP now (default: for roles that need it)")
def create(
    username: str,
    display_name: str,
    role: str,
    org_code: str | None,
    password: str | None,
    no_password: bool,
    totp: bool | None,
) -> None:
    """Create a user; prints the TOTP enrolment URI when TOTP is enrolled."""
    import sqlalchemy as sa

    from tenderhall.auth.models import Organisation
    from tenderhall.auth.service.totp import enable_totp
    from tenderhall.auth.service.users import create_user

    settings = _settings()
    if password is None and not no_password:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    with unit_of_work() as s:
        org_id = None
        if org_code:
            org = s.execute(
                sa.select(Organisation).where(col(Organisation.credit_code) == org_code.strip().upper())
            ).scalar_one_or_none()
            if org is None:
                click.echo(
                    f"refused: no organisation with credit code {org_code} "
                    "(create it with `tenderhall user org`)",
                    err=True,
                )
                sys.exit(1)
            org_id = org.id
        user = create_user(
            s, cli_actor(), username, display_name, role, password=password, organisation_id=org_id
        )
        click.echo(f"user #{user.id}: {user.username} ({user.role})")
        if totp if totp is not None else role in settings.auth.totp_roles:
            en = enable_totp(s, cli_actor(), settings, user.id)  # type: ignore[arg-type]
            click.echo(f"TOTP enrolled; add to an authenticator app: {en.uri}")


@group.command("set-password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def set_password_cmd(username: str, password: str) -> None:
    """Set a user's password."""
    from tenderhall.auth.service.users import get_user, set_password

    with unit_of_work() as s:
        u = get_user(s, username)
        set_password(s, cli_actor(), u.id, password)  # type: ignore[arg-type]
        click.echo(f"password set for {u.username}")


@group.command("totp")
@click.argument("username")
def totp(username: str) -> None:
    """Enrol (or replace) the user's TOTP second factor and print the otpauth URI."""
    from tenderhall.auth.service.totp import enable_totp
    from tenderhall.auth.service.users import get_user

    settings = _settings()
    with unit_of_work() as s:
        u = get_user(s, username)
        en = enable_totp(s, cli_actor(), settings, u.id)  # type: ignore[arg-type]
    click.echo(en.uri)


@group.command("totp-code")
@click.argument("username")
def totp_code(username: str) -> None:
    """Print the user's current TOTP code (demo and operator use; needs the data key)."""
    import pyotp

    from tenderhall.auth.service.totp import totp_secret
    from tenderhall.auth.service.users import get_user

    settings = _settings()
    with unit_of_work() as s:
        secret = totp_secret(settings, get_user(s, username))
    if secret is None:
        click.echo(f"{username} has no TOTP enrolled", err=True)
        sys.exit(1)
    click.echo(pyotp.TOTP(secret).now())


@group.command("token")
@click.argument("username")
@click.option("--hours", default=None, type=int, help="lifetime (default TENDERHALL_AUTH__API_TOKEN_HOURS)")
def token(username: str, hours: int | None) -> None:
    """Issue an API bearer token for a user (printed once; only its hash is stored)."""
    from tenderhall.auth.service.users import issue_api_token

    settings = _settings()
    with unit_of_work() as s:
        tok = issue_api_token(s, cli_actor(), settings, username, hours=hours)
    click.echo(tok.token)
    click.echo(f"expires {tok.expires_at:%Y-%m-%d %H:%M} UTC", err=True)


@group.command("cert-login")
@click.option(
    "--p12",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="the company's signing certificate (PKCS#12)",
)
@click.option("--password", prompt=True, hide_input=True, help="PKCS#12 password")
@click.option("--url", default=None, help="platform address (default TENDERHALL_BASE_URL)")
def cert_login(p12: Path, password: str, url: str | None) -> None:
    """Sign in with a CA certificate: nonce, signature, token. Prints the bearer token."""
    from tenderhall.auth.certclient import CertLoginFailed, certificate_login
    from tenderhall.pki.devca import DevCAError

    base = url or _settings().base_url
    try:
        result = certificate_login(p12, password, base)
    except CertLoginFailed as exc:
        click.echo(f"refused ({exc.status}, {exc.reason}): {exc}", err=True)
        sys.exit(1)
    except DevCAError as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    click.echo(result.token)
    click.echo(
        f"signed in as {result.username} ({result.credit_code}); expires {result.expires_at}", err=True
    )


@group.command("cert-register")
@click.option(
    "--p12",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="the company's signing certificate (PKCS#12); the credit code is read from it",
)
@click.option("--password", prompt=True, hide_input=True, help="PKCS#12 password")
@click.option("--name", required=True, help="the company's registered name")
@click.option("--username", required=True, help="the first bidder user's username")
@click.option("--display-name", required=True, help="the contact person's name")
@click.option("--region", default="")
@click.option("--address", default="")
@click.option("--phone", "contact_phone", default="")
@click.option("--url", default=None, help="platform address (default TENDERHALL_BASE_URL)")
def cert_register(
    p12: Path,
    password: str,
    name: str,
    username: str,
    display_name: str,
    region: str,
    address: str,
    contact_phone: str,
    url: str | None,
) -> None:
    """Register your company as a bidder, proving with its signing certificate that the credit
    code is yours (a signed nonce, as for sign-in)."""
    from tenderhall.auth.certclient import CertLoginFailed, register_with_certificate
    from tenderhall.pki.devca import DevCAError

    base = url or _settings().base_url
    try:
        result = register_with_certificate(
            p12,
            password,
            base,
            name=name,
            username=username,
            display_name=display_name,
            region=region,
            address=address,
            contact_phone=contact_phone,
        )
    except CertLoginFailed as exc:
        click.echo(f"refused ({exc.status}, {exc.reason}): {exc}", err=True)
        sys.exit(1)
    except DevCAError as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"registered {result.credit_code} as organisation {result.organisation_id}; user {result.username}"
    )

"""Settings: one pydantic-settings class, prefix ``TENDERHALL_``, nested sections per domain.

Built once (``Settings()``) and passed into ``create_app(settings)``. Every number that DOMAIN.md
gives is a setting with that default, never a literal in code.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


class SettingError(Exception):
    """A setting is malformed or names something unreachable; the message names the setting."""


def networks(items: list[str], setting: str, what_zh: str) -> list[str]:
    """Addresses or networks (``10.0.0.0/8``), stripped; the error names the setting."""
    for item in items:
        try:
            ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            raise ValueError(
                f"{setting}: {item!r} is not an address or network "
                f"({what_zh}，应为 IP 地址或网段，如 10.0.0.0/8)"
            ) from None
    return [item.strip() for item in items]


class AuthSettings(BaseModel):
    session_hours: int = 12
    api_token_hours: int = 24
    login_max_failures: int = 5
    login_window_seconds: int = 900
    nonce_seconds: int = 300
    cookie_secure: bool = False
    totp_roles: list[str] = ["tenderee", "agency", "expert", "supervisor", "admin"]
    purge_interval_seconds: int = Field(default=3600, ge=1)
    """How often expired sessions, tokens and nonces are purged (the job ``auth.purge_expired``)."""
    agent_url: str = "http://127.0.0.1:17820"
    """Where the sign-in page finds the bidder's signing agent (``tenderhall bid agent``, on the
    bidder's own computer): an origin, added to the pages' ``connect-src``."""
    trusted_proxies: list[str] = []
    """Addresses or networks (``10.0.0.0/8``) of reverse proxies whose ``X-Forwarded-For`` is
    believed (``TENDERHALL_AUTH__TRUSTED_PROXIES='["10.0.0.1"]'``). Default none: the address of
    the connection's peer is the client's, whatever headers it sends."""

    @field_validator("agent_url")
    @classmethod
    def _agent_origin(cls, v: str) -> str:
        parts = urlsplit(v.strip())
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ValueError(
                f"TENDERHALL_AUTH__AGENT_URL: {v!r} is not an origin such as http://127.0.0.1:17820 "
                "(签名助手地址应为 http://127.0.0.1:端口 形式)"
            )
        return f"{parts.scheme}://{parts.netloc}"

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        return networks(v, "TENDERHALL_AUTH__TRUSTED_PROXIES", "代理地址无效")


class JobSettings(BaseModel):
    lease_seconds: int = 300
    relay_interval_seconds: float = 0.5
    relay_batch: int = 200
    max_attempts: int = 8
    backoff_base_seconds: float = 5.0
    backoff_max_seconds: float = 3600.0
    worker_threads: int = 4
    cpu_queues: list[str] = ["cpu"]
    """Queues whose jobs (PDFs; face matching, bid decryption) run in worker processes of their
    own, never in the threads of a web or worker process (``tenderhall.jobs.processes``)."""
    cpu_processes: int = Field(default=1, ge=1, le=64)
    """Worker processes per runtime for the ``cpu_queues`` (the embedded default: one)."""
    scheduler_interval_seconds: float = 5.0
    tree_head_interval_seconds: int = Field(default=600, ge=1)
    blob_collect_interval_seconds: int = Field(default=6 * 3600, ge=1)
    """How often unreferenced blobs past their grace period are deleted (``storage.collect_blobs``)."""
    # `audit verify`: an event with no tree head signed within this many intervals of it means
    # heads are missing (deleted, or the signing job is not running)
    tree_head_grace_intervals: float = Field(default=3.0, ge=1.0)


class MetricsSettings(BaseModel):
    token: SecretStr | None = None
    """A scraper that sends ``Authorization: Bearer <token>`` may read ``/metrics`` from anywhere."""
    allow: list[str] = ["127.0.0.1/32", "::1/128"]
    """Addresses or networks that may read ``/metrics`` without the token (default: this host)."""
    dir: Path = VAR_DIR / "metrics"
    """Where ``tenderhall serve``, ``worker`` and ``demo`` processes keep their metric files, so that
    ``/metrics`` in any web process reports every process of the host (prometheus_client's
    multiprocess mode)."""

    @field_validator("allow")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        return networks(v, "TENDERHALL_METRICS__ALLOW", "监控地址白名单无效")


class EventSettings(BaseModel):
    """Live events (``tenderhall.events``): server-sent events fed by Litestar channels."""

    backend: Literal["auto", "memory", "redis", "postgres"] = "auto"
    """``auto``: memory on ``memory://`` (the embedded default), Redis when the broker is Redis,
    PostgreSQL LISTEN/NOTIFY otherwise (memory again on SQLite, which has no NOTIFY)."""
    redis_url: str | None = None
    """Redis for the ``redis`` backend; default: the broker's URL."""
    channel_prefix: str = Field(default="th", pattern=r"^[a-z][a-z0-9_]{0,15}$")
    """Prefix of every channel name (Redis pub/sub channels are shared by every database number)."""
    heartbeat_seconds: float = Field(default=15.0, gt=0)
    """An SSE comment is sent after this long without an event, so a dead connection is noticed."""
    subscriber_backlog: int = Field(default=200, ge=1)
    """Events held for one slow subscriber; beyond it the subscriber is told to reload."""
    replay_limit: int = Field(default=500, ge=1)
    """Most events replayed to a reconnecting client; a longer gap tells it to reload."""
    poll_seconds: float = Field(default=0.25, gt=0)
    """Memory backend: how often a web process looks for events committed by other processes (its
    own commits wake it at once); one indexed query each time."""
    retention_hours: int = Field(default=24, ge=1)
    prune_interval_seconds: int = Field(default=3600, ge=1)
    """How often events older than ``retention_hours`` are deleted (``events.prune``)."""
    retry_ms: int = Field(default=2000, ge=100)
    """The reconnection delay the SSE stream asks browsers for."""


class CreditSettings(BaseModel):
    """Credit (DOMAIN.md section 8): read as ``settings.credit.<name>``."""

    defence_days: int = 3  # from notification until a decision is possible
    score_window_days: int = 365  # an upheld record's points count this long after its decision
    tier_b_min: int = 1  # points from which a subject is tier B, C, D (D: blacklisted)
    tier_c_min: int = 6
    tier_d_min: int = 12
    push_timeout_seconds: float = 10.0  # one HTTP attempt to a receiving platform
    push_base_backoff_seconds: float = 30.0  # after the n-th failed attempt: base × 2^(n−1) ...
    push_max_backoff_seconds: float = 6 * 3600.0  # ... capped here
    push_give_up_days: int = 14  # after the first attempt: a dead letter
    push_lease_seconds: int = 120  # a claimed delivery is sent again if not settled by then
    push_batch: int = 50  # deliveries claimed per round
    push_interval_seconds: int = 30  # period of the credit.push job
    expire_interval_seconds: int = 300  # period of the credit.expire job
    page_size: int = 20  # records per page of the public search page
    evidence_max_bytes: int = 50 * 1024 * 1024  # one uploaded evidence file


class TradingSettings(BaseModel):
    open_tender_min_days: int = 20
    min_valid_bids: int = 3
    clarification_cutoff_days: int = 15
    publicity_days: int = 3
    decryption_window_minutes: int = 30
    objection_window_minutes: int = 5
    document_max_bytes: int = 200 * 1024 * 1024
    bid_max_bytes: int = 1024 * 1024 * 1024  # a sealed bid file (decision 0277)
    document_types: list[str] = [".pdf", ".zip", ".doc", ".docx", ".xls", ".xlsx", ".dwg", ".txt"]
    # minimum calendar days from publication to the bid deadline, per procurement method (the
    # per-procedure settings table is seeded from these; open tenders use open_tender_min_days)
    procedure_min_days: dict[str, int] = {
        "invited": 20,
        "competitive_negotiation": 3,
        "competitive_consultation": 10,
        "inquiry": 3,
        "single_source": 5,
    }
    ocid_prefix: str = "ocds-th0001-"
    ocds_publisher: str = "TenderHall 公共资源交易平台"
    search_page_size: int = 20
    search_count_cap: int = 200  # result counts above this show as "200+" (bounded cost per search)
    close_interval_seconds: int = Field(default=60, ge=1)
    """How often tenders past their bid deadline are closed (``trading.close_due``); each tender's
    own timed job closes it at its deadline, this pass catches any that job missed."""


class PortalSettings(BaseModel):
    """Who runs this platform: the name, emblem and contact lines every page's header and footer
    show (the trading centre's own; the defaults are the demo's: the seed's city, 潜江市, with
    placeholder contact lines)."""

    centre_name_zh: str = "潜江市公共资源交易中心"
    centre_name_en: str = "Qianjiang Public Resource Trading Centre"
    emblem: str = "/static/emblem.svg"
    """Path or URL of the emblem image in the header (a file under the static folder by default)."""
    address_zh: str = "潜江市政务服务中心 3 楼（演示地址）"
    address_en: str = "3rd floor, Qianjiang Government Service Centre (demo address)"
    hotline: str = "0728-0000000"
    service_hours_zh: str = "工作日 9:00–12:00，13:30–17:30"
    service_hours_en: str = "Working days 9:00–12:00 and 13:30–17:30"
    filing_number: str = "鄂ICP备00000000号（演示）"
    """The site's ICP filing number (备案号) shown in the footer."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TENDERHALL_", env_nested_delimiter="__", extra="ignore")

    database_url: str = Field(default=f"sqlite:///{VAR_DIR}/tenderhall.db")
    request_threads: int = Field(default=4, ge=1, le=200)
    """Threads per web process for requests' database work, each with its own connection (a web
    process holds at most ``request_threads`` + 2). For more throughput run more web processes,
    not more threads (decision 0004)."""
    broker_url: str = "memory://"
    blob_dir: Path = VAR_DIR / "blobs"
    key_dir: Path = VAR_DIR / "keys"
    tsa_url: str | None = None
    """RFC 3161 Time-Stamping Authority that timestamps every tree head (decision 0104)."""
    tsa_ca_file: Path | None = None
    """PEM certificate(s) the TSA's tokens must chain to (its root, and intermediates); when set,
    the tree-head job refuses tokens that do not, and ``audit verify`` checks every token."""
    secret_key: SecretStr | None = None
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = False
    default_language: str = "zh"
    pdf_font: Path | None = None
    debug: bool = False

    auth: AuthSettings = AuthSettings()
    jobs: JobSettings = JobSettings()
    metrics: MetricsSettings = MetricsSettings()
    events: EventSettings = EventSettings()
    credit: CreditSettings = CreditSettings()
    trading: TradingSettings = TradingSettings()
    portal: PortalSettings = PortalSettings()

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, v: str) -> str:
        scheme = urlsplit(v).scheme.split("+")[0]
        if scheme not in {"sqlite", "postgresql", "postgres"}:
            raise ValueError(
                "TENDERHALL_DATABASE_URL must start with sqlite:/// or postgresql:// "
                f"(数据库地址只支持 SQLite 或 PostgreSQL), got {v!r}"
            )
        return v

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, v: str) -> str:
        scheme = urlsplit(v).scheme
        if scheme not in {"memory", "redis", "rediss", "amqp", "amqps"}:
            raise ValueError(
                "TENDERHALL_BROKER_URL must be memory://, redis://… or amqp://… "
                f"(消息队列地址无效), got {v!r}"
            )
        return v

    @property
    def is_https(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry ``Secure`` when the site is served over https (``BASE_URL``), or when
        ``AUTH__COOKIE_SECURE`` says so (an http base URL behind a TLS-terminating proxy)."""
        return self.auth.cookie_secure or self.is_https

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_memory_broker(self) -> bool:
        return self.broker_url.startswith("memory")

    @property
    def events_backend(self) -> str:
        """The live-events backend in use: ``memory``, ``redis`` or ``postgres``."""
        chosen = self.events.backend
        if chosen == "auto":
            if self.is_memory_broker:
                return "memory"
            if urlsplit(self.broker_url).scheme in {"redis", "rediss"}:
                return "redis"
            return "memory" if self.is_sqlite else "postgres"
        if chosen == "postgres" and self.is_sqlite:
            raise SettingError("TENDERHALL_EVENTS__BACKEND=postgres needs a PostgreSQL database")
        return chosen

    @property
    def events_redis_url(self) -> str:
        url = self.events.redis_url or self.broker_url
        if urlsplit(url).scheme not in {"redis", "rediss"}:
            raise SettingError("TENDERHALL_EVENTS__REDIS_URL: the redis backend needs a redis:// URL")
        return url

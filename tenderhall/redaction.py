"""Secrets never reach a log line: redaction of known-sensitive keys and of secret-shaped text.

Two layers, both installed by ``tenderhall.app.configure_logging``:

* a structlog processor, :func:`redact_event`, which replaces the value of every key that names a
  secret (``authorization``, ``cookie``, ``password``, ``token``, ``secret``, ``totp``, ``key``,
  ``share``, ``plaintext``, ``id_number``…) and runs :func:`redact_text` over every other string,
  including the formatted traceback (tracebacks are rendered plain: never with local variables);
* a log-record factory, :func:`install_record_factory`, which does the same to every standard
  ``logging`` record (uvicorn, Litestar, dramatiq, SQLAlchemy, …) when it is created, so no
  handler or formatter can print the unredacted text: the message, its arguments, and the
  traceback text (pre-formatted, so formatters reuse the redacted ``exc_text``).

:func:`redact_text` replaces, whatever the surrounding key: ``Bearer``/``Basic`` credentials,
``name=value`` / ``"name": "value"`` pairs whose name holds a sensitive word, PEM private keys,
18-character resident ID numbers, and long opaque strings (32+ characters, capitals mixed with
small letters or digits: session tokens, TOTP secrets, base64 keys; pure hexadecimal such as
SHA-256 digests is kept, since blob and chain hashes are what logs need).
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable, Mapping
from typing import Any

REDACTED = "[redacted]"

#: Words that mark a key (a log field, a header, a form or JSON field) as holding a secret.
SENSITIVE_WORDS = (
    r"authori[sz]ation|cookie|passw(?:or)?d|passphrase|pwd|token|secret|totp|otp|api[_-]?key|"
    r"private[_-]?key|signing[_-]?key|data[_-]?key|share|plaintext|id[_-]?number|id[_-]?card|"
    r"th_session|csrf|credential"
)
_SENSITIVE_KEY = re.compile(rf"(?i)(?:{SENSITIVE_WORDS})|(?:^|_)key$")

_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----(?:[\s\S]*?-----END \1-----|[A-Za-z0-9+/=\s\\n]*)")
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic|digest)(\s+|%20|\+)[A-Za-z0-9._~+/=%-]{6,}")
_QUOTED = r"b?\"(?:[^\"\\]|\\.)*\"|b?'(?:[^'\\]|\\.)*'"
_PAIR = re.compile(
    rf"(?i)([\"']?[\w.-]*(?:{SENSITIVE_WORDS})[\w.-]*[\"']?\s*(?:=|:|%3D)\s*)({_QUOTED}|[^\s&,;)\]}}\"']+)"
)
_ID_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    r"(?![0-9A-Za-z])"
)
_OPAQUE = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])")
_HEX = re.compile(r"[0-9a-fA-F]+")


def is_sensitive_key(key: str) -> bool:
    return bool(_SENSITIVE_KEY.search(key))


def _opaque(m: re.Match[str]) -> str:
    s = m.group(0)
    if _HEX.fullmatch(s):
        return s  # digests (SHA-256 of blobs, audit chain) are not secrets
    # tokens (URL-safe base64), TOTP secrets (base32) and keys (base64) mix capitals with small
    # letters or digits; identifiers and migration names (lower case and digits) do not
    upper = any(c.isupper() for c in s)
    return REDACTED if upper and any(c.islower() or c.isdigit() for c in s) else s


def _pair(m: re.Match[str]) -> str:
    value = m.group(2)
    if value.startswith(("'", '"', "b'", 'b"')):
        q = value[-1]
        return f"{m.group(1)}{q}{REDACTED}{q}"
    return m.group(1) + REDACTED


def redact_text(text: str) -> str:
    """``text`` with every secret-shaped part replaced by ``[redacted]``."""
    if not text:
        return text
    text = _PEM.sub(lambda m: f"[redacted {m.group(1).lower()}]", text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _PAIR.sub(_pair, text)
    text = _ID_NUMBER.sub("[redacted id number]", text)
    return _OPAQUE.sub(_opaque, text)


def redact_value(value: Any, key: str | None = None) -> Any:
    """A log field's value with secrets removed: the whole value under a sensitive key, else
    strings redacted and mappings and sequences walked."""
    if key is not None and is_sensitive_key(key) and value is not None and not isinstance(value, bool):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact_value(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    cleaned = redact_text(text)
    return value if cleaned == text else cleaned


def redact_event(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: run after ``format_exc_info`` (tracebacks are text by then)."""
    return {k: (v if k in ("timestamp", "level") else redact_value(v, k)) for k, v in event_dict.items()}


# --- standard logging -----------------------------------------------------------------------------


def redact_record(record: logging.LogRecord) -> None:
    """Redact a record in place: message, arguments, traceback and stack text."""
    if isinstance(record.msg, str):
        record.msg = redact_text(record.msg)
    elif record.msg is not None and not isinstance(record.msg, (dict, int, float)):
        record.msg = redact_text(str(record.msg))
    args = record.args
    if isinstance(args, Mapping):
        record.args = {k: redact_value(v, str(k)) for k, v in args.items()}
    elif isinstance(args, tuple):
        record.args = tuple(redact_value(a) for a in args)
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact_text("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    elif record.exc_text:
        record.exc_text = redact_text(record.exc_text)
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)


class _RedactingFactory:
    """Wraps the record factory in place when installed; installing twice wraps once."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        try:
            redact_record(record)
        except Exception:  # noqa: BLE001 - a log line must never raise; drop its text instead
            record.msg, record.args, record.exc_text = "[log record dropped: redaction failed]", None, None
            record.exc_info = None
        return record


def install_record_factory() -> None:
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(current))

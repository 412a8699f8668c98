"""Platform key material under ``settings.key_dir``: created on first use, never logged.

- ``data.key``: 32 random bytes, the AES-256-GCM key for personal data and secrets at rest
  (TOTP secrets, ID numbers, face templates).
- ``csrf.key`` / ``session.key``: secrets for CSRF tokens.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tenderhall.settings import Settings


def _secret_file(path: Path, size: int = 32) -> bytes:
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = secrets.token_bytes(size)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        os.link(tmp, path)  # first writer wins when several processes start together
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def data_key(settings: Settings) -> bytes:
    return _secret_file(settings.key_dir / "data.key")


def csrf_secret(settings: Settings) -> str:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    return base64.urlsafe_b64encode(_secret_file(settings.key_dir / "csrf.key")).decode()


class SecretBox:
    """AES-256-GCM for small values at rest. Output: base64(nonce ‖ ciphertext ‖ tag)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes | str, purpose: str) -> str:
        if isinstance(plaintext, str):
            plaintext = plaintext.encode()
        nonce = secrets.token_bytes(12)
        ct = self._aead.encrypt(nonce, plaintext, purpose.encode())
        return base64.b64encode(nonce + ct).decode()

    def open(self, token: str, purpose: str) -> bytes:
        raw = base64.b64decode(token)
        return self._aead.decrypt(raw[:12], raw[12:], purpose.encode())


def secret_box(settings: Settings) -> SecretBox:
    return SecretBox(data_key(settings))

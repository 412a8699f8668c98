"""Algorithm profiles: every sealed structure names its profile and algorithms, so that the 国密
profile (SM2/SM3/SM4) is one more entry of :data:`PROFILES`, not a second code path."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from tenderhall.crypto.errors import UnknownAlgorithm


@dataclass(frozen=True)
class Profile:
    id: str
    content: str
    kdf: str
    hash: str
    key_transport: str
    signature: str

    def as_json(self) -> dict[str, str]:
        """The ``algorithms`` object written into headers and manifests."""
        data = asdict(self)
        data.pop("id")
        return data


RSA_AES256GCM_SHA256 = Profile(
    id="rsa-aes256gcm-sha256",
    content="aes-256-gcm-stream",
    kdf="hkdf-sha256",
    hash="sha-256",
    key_transport="cms-enveloped-rsa-pkcs1v15-aes256cbc",
    signature="cms-signed-data",
)

PROFILES: dict[str, Profile] = {RSA_AES256GCM_SHA256.id: RSA_AES256GCM_SHA256}
DEFAULT_PROFILE = RSA_AES256GCM_SHA256

_HASHES = {"sha-256": hashlib.sha256}


def profile(profile_id: str) -> Profile:
    try:
        return PROFILES[profile_id]
    except (KeyError, TypeError):
        raise UnknownAlgorithm(
            f"不支持的算法套件“{profile_id}”：可用 {', '.join(PROFILES)}",
            f"Unknown algorithm profile '{profile_id}': known are {', '.join(PROFILES)}",
        ) from None


def hasher(p: Profile) -> Any:
    """A new hash object of the profile's hash."""
    return _HASHES[p.hash]()

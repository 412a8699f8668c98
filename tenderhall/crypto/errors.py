"""Errors of :mod:`tenderhall.crypto`. Their texts never contain key material, shares or plaintext."""

from __future__ import annotations


class CryptoError(Exception):
    """Base class; ``zh`` and ``en`` say what went wrong for a person."""

    code = "crypto_error"

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


class UnknownAlgorithm(CryptoError):
    code = "unknown_algorithm"


class StreamError(CryptoError):
    """A chunk did not authenticate, or the stream ended without its final chunk."""

    code = "stream_error"

    def __init__(self, zh: str, en: str, chunk_index: int) -> None:
        super().__init__(zh, en)
        self.chunk_index = chunk_index


class EnvelopeError(CryptoError):
    """A CMS envelope could not be opened. One message for every cause (no decryption oracle)."""

    code = "envelope_error"


class WrongShare(CryptoError):
    """A secret share does not match its commitment; ``index`` names it (1-based)."""

    code = "wrong_share"

    def __init__(self, zh: str, en: str, index: int) -> None:
        super().__init__(zh, en)
        self.index = index


class NotEnoughShares(CryptoError):
    code = "not_enough_shares"


class CmsError(CryptoError):
    code = "cms_error"

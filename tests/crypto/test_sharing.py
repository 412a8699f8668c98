"""k-of-n sharing: any k shares give the secret, fewer give nothing, a wrong share is named."""

from __future__ import annotations

import itertools
import os
from dataclasses import replace

import pytest

from tenderhall.crypto.errors import CryptoError, NotEnoughShares, WrongShare
from tenderhall.crypto.sharing import Share, check_share, combine, split


def test_any_k_of_n_shares_recombine_the_secret() -> None:
    secret = os.urandom(32)
    setup, shares = split(secret, 2, 3)
    assert [s.index for s in shares] == [1, 2, 3]
    for pair in itertools.combinations(shares, 2):
        assert combine(setup, pair) == secret
    setup5, shares5 = split(secret, 3, 5)
    for triple in itertools.combinations(shares5, 3):
        assert combine(setup5, triple) == secret


def test_fewer_than_k_shares_are_refused() -> None:
    setup, shares = split(os.urandom(32), 2, 3)
    with pytest.raises(NotEnoughShares):
        combine(setup, shares[:1])
    with pytest.raises(NotEnoughShares):
        combine(setup, [shares[0], shares[0]])


def test_an_altered_share_is_named_by_its_index() -> None:
    setup, shares = split(os.urandom(32), 2, 3)
    value = bytearray(shares[1].value)
    value[0] ^= 1
    bad = replace(shares[1], value=bytes(value))
    with pytest.raises(WrongShare) as e:
        combine(setup, [shares[0], bad])
    assert e.value.index == 2
    with pytest.raises(WrongShare):
        check_share(setup, replace(shares[0], index=3))


def test_a_share_survives_encoding() -> None:
    setup, shares = split(os.urandom(32), 2, 3)
    decoded = [Share.decode(s.encode()) for s in shares]
    assert decoded == shares
    for s in decoded:
        check_share(setup, s)
    with pytest.raises(CryptoError):
        Share.decode(b"\x00")


def test_commitments_do_not_contain_the_shares() -> None:
    setup, shares = split(os.urandom(32), 2, 3)
    for s, c in zip(shares, setup.commitments, strict=True):
        assert s.value.hex() not in c


@pytest.mark.parametrize(("k", "n"), [(1, 3), (4, 3), (2, 256)])
def test_impossible_thresholds_are_refused(k: int, n: int) -> None:
    with pytest.raises(CryptoError):
        split(os.urandom(32), k, n)

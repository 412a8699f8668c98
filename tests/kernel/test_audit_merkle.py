"""RFC 6962 Merkle trees: roots, inclusion and consistency proofs, and their pure verifiers."""

from __future__ import annotations

import hashlib

import pytest

from tenderhall.audit import merkle


def _reference_root(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 6962 section 2.1 (recursive split at the largest power of two < n)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _reference_root(leaves[:k]) + _reference_root(leaves[k:])).digest()


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(str(i).encode()).hexdigest()) for i in range(n)]


def test_leaf_and_node_hashes_follow_rfc6962_prefixes() -> None:
    h = "ab" * 32
    assert merkle.leaf_hash(h) == hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest()
    assert merkle.node_hash(b"L", b"R") == hashlib.sha256(b"\x01LR").digest()
    assert merkle.root([]) == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 100])
def test_root_and_accumulator_match_the_recursive_definition(n: int) -> None:
    leaves = _leaves(n)
    acc = merkle.RootAccumulator()
    for i, leaf in enumerate(leaves, start=1):
        acc.add(leaf)
        assert acc.root() == _reference_root(leaves[:i])
    assert merkle.root(leaves) == _reference_root(leaves)


def test_every_inclusion_proof_verifies_and_a_wrong_one_does_not() -> None:
    for n in range(1, 34):
        leaves = _leaves(n)
        root = merkle.root(leaves)
        for m in range(n):
            proof = merkle.inclusion_proof(leaves, m)
            assert merkle.verify_inclusion(leaves[m], m, n, proof, root), (m, n)
            assert not merkle.verify_inclusion(leaves[m], m, n, proof, hashlib.sha256(b"x").digest())
            if n > 1:
                other = (m + 1) % n
                assert not merkle.verify_inclusion(leaves[other], m, n, proof, root)
                bad = [bytes(32), *proof[1:]] if proof else [bytes(32)]
                assert not merkle.verify_inclusion(leaves[m], m, n, bad, root)
        assert not merkle.verify_inclusion(leaves[0], n, n, [], root)


def test_every_consistency_proof_verifies_and_a_rewritten_history_does_not() -> None:
    for n in range(1, 30):
        leaves = _leaves(n)
        second_root = merkle.root(leaves)
        for m in range(1, n + 1):
            first_root = merkle.root(leaves[:m])
            proof = merkle.consistency_proof(leaves, m)
            assert merkle.verify_consistency(m, n, first_root, second_root, proof), (m, n)
            if m < n:
                forged_first = merkle.root([bytes(32), *leaves[1:m]])
                assert not merkle.verify_consistency(m, n, forged_first, second_root, proof)
                rewritten = merkle.root([*leaves[: m - 1], bytes(32), *leaves[m:]])
                assert not merkle.verify_consistency(m, n, first_root, rewritten, proof)
    assert not merkle.verify_consistency(3, 2, bytes(32), bytes(32), [])


def _subtree(leaves: list[bytes], level: int, index: int) -> bytes:
    return merkle.root(leaves[index << level : (index + 1) << level])


def test_every_proof_range_is_the_fold_of_complete_subtrees() -> None:
    """Proof elements can be built from stored complete subtrees (level, index) alone."""
    for n in range(1, 41):
        leaves = _leaves(n)
        ranges = {(0, n)}
        for m in range(n):
            ranges.update(merkle.inclusion_ranges(m, n))
        for m in range(1, n + 1):
            ranges.update(merkle.consistency_ranges(m, n))
        for lo, hi in ranges:
            parts = merkle.perfect_subtrees(lo, hi)
            assert sum(1 << level for level, _ in parts) == hi - lo
            assert merkle.fold([_subtree(leaves, lv, i) for lv, i in parts]) == _reference_root(leaves[lo:hi])


def test_a_range_that_is_no_subtree_of_the_tree_is_refused() -> None:
    with pytest.raises(ValueError, match="not a subtree range"):
        merkle.perfect_subtrees(2, 6)


def test_the_accumulator_reports_each_complete_subtree_when_its_last_leaf_arrives() -> None:
    leaves = _leaves(37)
    acc = merkle.RootAccumulator()
    seen = {}
    for leaf in leaves:
        for level, h in acc.add(leaf):
            seen[(level, (acc.size >> level) - 1)] = h
    expected = {(lv, i): _subtree(leaves, lv, i) for lv in range(1, 6) for i in range(37 >> lv)}
    assert seen == expected

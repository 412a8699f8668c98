"""Merkle trees with RFC 6962 / RFC 9162 hashing, and the pure functions that verify proofs.

- leaf hash ``SHA-256(0x00 || event hash bytes)``, node hash ``SHA-256(0x01 || left || right)``;
- the tree of ``n`` leaves splits at the largest power of two smaller than ``n``;
- the empty tree's root is ``SHA-256("")``.

The verification functions (:func:`verify_inclusion`, :func:`verify_consistency`) follow RFC 9162
sections 2.1.3.2 and 2.1.4.2 and need nothing but ``hashlib``: anyone can copy them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(event_hash: bytes | str) -> bytes:
    """The leaf for an audit event: ``SHA-256(0x00 || event hash bytes)`` (hex accepted)."""
    raw = bytes.fromhex(event_hash) if isinstance(event_hash, str) else event_hash
    return hashlib.sha256(b"\x00" + raw).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n ≥ 2)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes (already leaf-hashed)."""
    if not leaves:
        return EMPTY_ROOT
    # iterative, bottom-up: combining adjacent pairs level by level and carrying an odd last node
    # up unchanged yields exactly RFC 6962's left-balanced tree.
    level = list(leaves)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]): the audit path for leaf ``index`` in the tree of ``leaves``."""
    return [root(leaves[lo:hi]) for lo, hi in inclusion_ranges(index, len(leaves))]


def consistency_proof(leaves: Sequence[bytes], first: int) -> list[bytes]:
    """PROOF(m, D[n]): proves the tree of the first ``first`` leaves is a prefix of ``leaves``."""
    return [root(leaves[lo:hi]) for lo, hi in consistency_ranges(first, len(leaves))]


# --- proofs as leaf ranges: each proof element is MTH(D[lo:hi]) of one range --------------------


def inclusion_ranges(index: int, tree_size: int) -> list[tuple[int, int]]:
    """The leaf ranges ``[lo, hi)`` whose roots form PATH(index, D[tree_size]), in proof order."""
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is outside a tree of size {tree_size}")
    out: list[tuple[int, int]] = []
    lo, hi = 0, tree_size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
    out.reverse()
    return out


def consistency_ranges(first: int, tree_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose roots form PROOF(first, D[tree_size]) (RFC 6962 2.1.2), in order."""
    if not 0 < first <= tree_size:
        raise ValueError(f"first size {first} must be between 1 and {tree_size}")
    out: list[tuple[int, int]] = []
    m, lo, hi, whole = first, 0, tree_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            m, lo, whole = m - k, lo + k, False
    if not whole:
        out.append((lo, hi))
    out.reverse()
    return out


def perfect_subtrees(lo: int, hi: int) -> list[tuple[int, int]]:
    """The complete subtrees ``(level, index)`` (leaves ``[index·2^level, (index+1)·2^level)``)
    whose right fold is MTH(D[lo:hi]), left to right. ``lo`` must be a multiple of the smallest
    power of two ≥ ``hi - lo``, as it is for every range of a proof (and for ``lo = 0``)."""
    n = hi - lo
    if n <= 0:
        raise ValueError(f"empty leaf range [{lo}, {hi})")
    if lo % (1 << (n - 1).bit_length()):
        raise ValueError(f"leaf range [{lo}, {hi}) is not a subtree range of an RFC 6962 tree")
    out = []
    for level in range(n.bit_length() - 1, -1, -1):
        if n >> level & 1:
            out.append((level, lo >> level))
            lo += 1 << level
    return out


def fold(subtrees: Sequence[bytes]) -> bytes:
    """MTH from the hashes of :func:`perfect_subtrees`: ``H(s0, H(s1, … H(sk-1, sk)))``."""
    h = subtrees[-1]
    for left in reversed(subtrees[:-1]):
        h = node_hash(left, h)
    return h


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does ``proof`` show leaf hash ``leaf`` at ``index`` in the tree
    ``(tree_size, root_hash)``?"""
    if not 0 <= index < tree_size:
        return False
    fn, sn = index, tree_size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: does ``proof`` show the tree ``(first, first_root)`` is a prefix of the
    tree ``(second, second_root)``?"""
    if first < 1 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first root is itself a node of the proof
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


class RootAccumulator:
    """Roots of every prefix of a stream of leaves in O(log n) memory: feed leaves in order and
    ask :meth:`root` at any size (used by ``audit verify`` to check every stored head in one pass)."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (subtree size, hash), sizes strictly decreasing
        self.size = 0

    def add(self, leaf: bytes) -> list[tuple[int, bytes]]:
        """Add the next leaf; returns the complete subtrees it completed, as ``(level, hash)``
        (the subtree of level ``L`` ends at this leaf: its index is ``(size >> L) - 1``)."""
        size, h, level = 1, leaf, 0
        completed = []
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            h = node_hash(left, h)
            size += left_size
            level += 1
            completed.append((level, h))
        self._stack.append((size, h))
        self.size += 1
        return completed

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h

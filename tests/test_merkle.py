"""Merkle trees (formats/packet-v1.md section 6): the level-by-level root and the
fast paths agree with a plain recursive RFC 6962 tree, and proofs round-trip."""

from __future__ import annotations

import hashlib
import random

import pytest

from sneakersync.errors import AuthError
from sneakersync.wire import merkle


def _reference(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle Tree Hash over leaf hashes, written straight from the spec text."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _reference(leaves[:k]) + _reference(leaves[k:])).digest()


def _leaves(n: int, seed: int = 0) -> list[bytes]:
    return [merkle.leaf_hash(f"change {seed} {i}".encode()) for i in range(n)]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1000, 1025])
def test_root_matches_the_recursive_definition(n: int) -> None:
    leaves = _leaves(n)
    assert merkle.root(leaves) == _reference(leaves)


def test_root_of_nothing_is_refused() -> None:
    with pytest.raises(AuthError):
        merkle.root([])


def test_verify_all_leaves_without_proof_takes_the_fast_path_to_the_same_root() -> None:
    leaves = _leaves(77)
    got, known = merkle.verify_root(10, 86, dict(zip(range(10, 87), leaves)), [])
    assert got == _reference(leaves) and known == {}


def test_verify_all_leaves_with_a_proof_is_too_long() -> None:
    leaves = _leaves(8)
    with pytest.raises(AuthError, match="too long"):
        merkle.verify_root(1, 8, dict(zip(range(1, 9), leaves)), [leaves[0]])


def test_verify_refuses_leaves_outside_the_range() -> None:
    with pytest.raises(AuthError, match="outside"):
        merkle.verify_root(1, 4, {5: _leaves(1)[0]}, [])


@pytest.mark.parametrize("seed", range(40))
def test_proofs_round_trip_for_any_subset(seed: int) -> None:
    rnd = random.Random(seed)
    n = rnd.randint(1, 300)
    first = rnd.randint(1, 1000)
    leaves = _leaves(n, seed)
    counters = list(range(first, first + n))
    included = sorted(rnd.sample(counters, rnd.randint(1, n)))
    if seed % 5 == 0:
        included = counters  # every leaf: no proof at all
    proof = merkle.prove(lambda lo, hi: _reference(leaves[lo - first:hi - first]),
                         first, first + n - 1, included)
    assert (proof == []) == (len(included) == n)
    got, known = merkle.verify_root(first, first + n - 1,
                                    {c: leaves[c - first] for c in included}, proof)
    assert got == _reference(leaves)
    # a relay that kept only the proof hashes proves a smaller subset again
    sub = merkle.subtree_from({c: leaves[c - first] for c in included}, known)
    fewer = included[:max(1, len(included) // 2)]
    again = merkle.prove(sub, first, first + n - 1, fewer)
    assert merkle.verify_root(first, first + n - 1, {c: leaves[c - first] for c in fewer},
                              again)[0] == got
    if proof:  # a proof missing its last hash is too short
        with pytest.raises(AuthError, match="too short"):
            merkle.verify_root(first, first + n - 1,
                               {c: leaves[c - first] for c in included}, proof[:-1])


def test_accumulator_matches_the_tree_and_extends_from_block_hashes() -> None:
    import hashlib

    from sneakersync.errors import AuthError

    for n in [*range(1, 40), 255, 256, 257, 1000]:
        leaves = [hashlib.sha256(b"%d" % i).digest() for i in range(n)]
        acc = merkle.Accumulator()
        for leaf in leaves:
            acc.add(leaf)
        assert acc.n == n and acc.root() == merkle.root(leaves)
        assert acc.blocks() == merkle.peaks(0, leaves)
        for k in {0, 1, n // 3, n - 1, n}:
            more = merkle.Accumulator(merkle.peaks(0, leaves[:k]), k)
            for leaf in leaves[k:]:
                more.add(leaf)
            assert more.root() == merkle.root(leaves), (n, k)
    with pytest.raises(AuthError):
        merkle.Accumulator().root()
    with pytest.raises(AuthError):  # a block hash missing: no guessing
        merkle.Accumulator({(0, 4): b"x" * 32}, 6)


class _Leaves(dict):  # type: ignore[type-arg]
    """A leaf map that can be watched with a weak reference."""


def test_checking_and_relaying_leave_no_reference_cycle() -> None:
    """A packet's leaf map is freed as soon as the check is done, not at the collector's
    next full pass many packets later (a closure calling itself is such a cycle: the
    server's memory grew 1.6 MB a packet with it)."""
    import gc
    import weakref

    n, first = 200, 1
    leaves = _leaves(n)
    included = list(range(first, first + n, 3))
    proof = merkle.prove(lambda lo, hi: _reference(leaves[lo - first:hi - first]),
                         first, first + n - 1, included)
    gc.collect()
    gc.disable()
    try:
        held = _Leaves({c: leaves[c - first] for c in included})
        ref = weakref.ref(held)
        root, known = merkle.verify_root(first, first + n - 1, held, proof)
        sub = merkle.subtree_from(held, known)
        merkle.prove(sub, first, first + n - 1, included[:5])
        merkle.fold(first, first + n - 1, included[:5], sub)
        assert root == _reference(leaves)
        del held, sub
        assert ref() is None, "the leaf map is kept alive by a reference cycle"
    finally:
        gc.enable()

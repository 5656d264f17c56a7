"""Conflict detection and deterministic resolution (sans-I/O).

The truth about a record is its *frontier*: the set of versions that no other
known version descends from (by version vector).  The frontier depends only on
the set of changes a device holds, never on the order they arrived, so every
device holding the same changes has the same frontier.  What a user sees is a
pure function of (policy, frontier), hence identical everywhere.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Sequence

from . import vclock
from .errors import UsageError

POLICIES = ("lww", "merge", "fork", "manual")
DEFAULT_POLICY = "manual"


@dataclass(frozen=True)
class Version:
    origin: str
    counter: int
    op: str  # "put" or "del"
    data: dict[str, Any] | None
    vv: dict[str, int]
    ts: int  # milliseconds, a hint used only for tie-breaks and display
    collection: str = ""
    rid: str = ""
    # canonical JSON of data, when the parser already produced it (not part of identity)
    data_json: str | None = field(default=None, compare=False, repr=False)
    vv_json: str | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, int]:
        return (self.origin, self.counter)

    @property
    def deleted(self) -> bool:
        return self.op == "del"


@dataclass(frozen=True)
class Visible:
    """One row a user sees after resolution."""

    rid: str
    data: dict[str, Any] | None  # None: deleted
    winner: Version
    fork_of: str | None = None


@dataclass
class Resolution:
    rows: list[Visible]
    conflict: bool  # more than one version in the frontier
    open: bool  # needs a person (manual policy)
    conflict_id: str | None = None
    fields: list[str] = field(default_factory=list)


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise UsageError(f"unknown conflict policy {policy!r} (choose from {', '.join(POLICIES)})")
    return policy


def add_version(frontier: Sequence[Version], new: Version) -> tuple[list[Version], bool]:
    """Insert ``new`` into a frontier. Returns (frontier, changed)."""
    for v in frontier:
        if vclock.dominates(v.vv, new.vv):
            return list(frontier), False
    kept = [v for v in frontier if not vclock.dominates(new.vv, v.vv)]
    kept.append(new)
    kept.sort(key=lambda v: v.key)
    return kept, True


def lww_order(v: Version) -> tuple[int, int, str, int]:
    """Total order for last-writer-wins: live beats deleted, then time hint, origin, counter."""
    return (0 if v.deleted else 1, v.ts, v.origin, v.counter)


def conflict_id(collection: str, rid: str, frontier: Sequence[Version]) -> str:
    h = hashlib.sha256(f"{collection}\x00{rid}".encode())
    for v in sorted(frontier, key=lambda v: v.key):
        h.update(f"\x00{v.origin}:{v.counter}".encode())
    return h.hexdigest()[:16]


def fork_id(rid: str, loser: Version) -> str:
    """Deterministic id for a forked loser: same on every device."""
    tag = hashlib.sha256(f"{rid}\x00{loser.origin}:{loser.counter}".encode()).hexdigest()[:10]
    return f"{rid}~{tag}"


def resolve(policy: str, collection: str, rid: str, frontier: Sequence[Version]) -> Resolution:
    if not frontier:
        raise UsageError("cannot resolve an empty frontier")
    ordered = sorted(frontier, key=lww_order)
    winner = ordered[-1]
    if len(frontier) == 1:
        return Resolution(rows=[Visible(rid, winner.data, winner)], conflict=False, open=False)
    cid = conflict_id(collection, rid, frontier)
    if policy == "lww":
        return Resolution([Visible(rid, winner.data, winner)], True, False, cid)
    if policy == "merge":
        merged, fields = _merge(ordered)
        return Resolution([Visible(rid, merged, winner)], True, False, cid, fields)
    if policy == "fork":
        rows = [Visible(rid, winner.data, winner)]
        for loser in ordered[:-1]:
            if not loser.deleted:
                rows.append(Visible(fork_id(rid, loser), loser.data, loser, fork_of=rid))
        return Resolution(rows, True, False, cid)
    # manual: show the deterministic winner, keep the conflict open for a person
    _, fields = _merge(ordered)
    return Resolution([Visible(rid, winner.data, winner)], True, True, cid, fields)


def _merge(ordered: Sequence[Version]) -> tuple[dict[str, Any] | None, list[str]]:
    """Field-level merge: union of fields; a field that differs takes the LWW winner's value."""
    live = [v for v in ordered if not v.deleted and v.data is not None]
    if not live:
        return None, []
    merged: dict[str, Any] = {}
    differing: set[str] = set()
    for v in live:  # ascending LWW order: later versions overwrite
        assert v.data is not None
        for k, val in v.data.items():
            if k in merged and merged[k] != val:
                differing.add(k)
            merged[k] = val
    # a field missing in some version but present in another is not a conflict: union keeps it
    return dict(sorted(merged.items())), sorted(differing)

"""Conflict detection and deterministic resolution (sans-I/O).

The truth about a record is its *frontier*: the set of versions that no other
known version descends from (by version vector).  The frontier depends only on
the set of changes a device holds, never on the order they arrived, so every
device holding the same changes has the same frontier.  What a user sees is a
pure function of (policy, frontier), hence identical everywhere.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from sneakersync.wire import vclock
from sneakersync.errors import UsageError
from sneakersync.wire.change import Version

POLICIES = ("lww", "merge", "fork", "manual")


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


def effective(history: Sequence[Version], pruned: Sequence[tuple[str, int]] = ()
              ) -> list[Version]:
    """Each version of one record with its *effective* vector (packet-v1 section 10.2).

    A change's vector names, for every other device ``x``, the change ``(x, v[x])`` it
    descends from.  That claim counts only once this device holds that change and it
    is a change to the same record (a *parent*); the effective vector is the change's
    own entry merged with its parents' effective vectors.  So a change cannot claim
    knowledge it cannot show (``{victim: 2^53-1}`` dominates nothing), it starts to
    count the moment the named change is held, and the result is a pure function of the
    set of changes held.  ``pruned``: changes whose bytes were erased (own entry only).
    Honest vectors are unchanged once their history is held.
    """
    nodes: dict[tuple[str, int], Version] = {v.key: v for v in history}
    held = set(nodes) | set(pruned)
    eff: dict[tuple[str, int], dict[str, int]] = {k: {k[0]: k[1]} for k in held}
    parents = {k: [(x, n) for x, n in v.vv.items() if x != v.origin and (x, n) in held]
               for k, v in nodes.items()}
    # honest parents have smaller vectors: one pass in this order is exact unless a
    # parent comes later (a cycle or a lie), then repeat until nothing changes
    order = sorted(nodes, key=lambda k: (sum(nodes[k].vv.values()), k))
    for _ in range(len(order) + 1):
        changed = False
        for k in order:
            cur = eff[k]
            for pk in parents[k]:
                for x, n in eff[pk].items():
                    if cur.get(x, 0) < n:
                        cur[x] = n
                        changed = True
        if not changed:
            break
    out = []
    for k, v in nodes.items():
        e = dict(sorted(eff[k].items()))
        out.append(v if e == v.vv else replace(v, vv=e, vv_json=None))
    return out


def frontier_of(versions: Sequence[Version]) -> list[Version]:
    """The versions no other strictly dominates (equal vectors are kept side by side),
    sorted by (origin, counter): a pure function of the set of versions."""
    ranked = sorted(versions, key=lambda v: (-sum(v.vv.values()), v.key))
    top: list[Version] = []
    for v in ranked:
        if not any(m.vv != v.vv and vclock.dominates(m.vv, v.vv) for m in top):
            top.append(v)
    return sorted(top, key=lambda v: v.key)


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


def common_ancestor(history: Sequence[Version], frontier: Sequence[Version]) -> Version | None:
    """The newest version every frontier version descends from (None if none is known).

    When several common ancestors are concurrent with each other, the one the
    LWW order ranks highest is taken, so the choice never depends on the order
    in which the history is listed.
    """
    keys = {f.key for f in frontier}
    common = [h for h in history if h.key not in keys
              and all(vclock.dominates(f.vv, h.vv) for f in frontier)]
    newest = [h for h in common
              if not any(o.key != h.key and vclock.dominates(o.vv, h.vv) for o in common)]
    return max(newest, key=lww_order) if newest else None


def resolve(policy: str, collection: str, rid: str, frontier: Sequence[Version],
            base: Version | None = None) -> Resolution:
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
        merged, fields = _merge(ordered, base)
        return Resolution([Visible(rid, merged, winner)], True, False, cid, fields)
    if policy == "fork":
        rows = [Visible(rid, winner.data, winner)]
        for loser in ordered[:-1]:
            if not loser.deleted:
                rows.append(Visible(fork_id(rid, loser), loser.data, loser, fork_of=rid))
        return Resolution(rows, True, False, cid)
    # manual: show the deterministic winner, keep the conflict open for a person
    _, fields = _merge(ordered, base)
    return Resolution([Visible(rid, winner.data, winner)], True, True, cid, fields)


_MISSING = object()


def _merge(ordered: Sequence[Version], base: Version | None = None
           ) -> tuple[dict[str, Any] | None, list[str]]:
    """Field-level three-way merge against the common ancestor ``base``.

    A field changed on one side only takes that side's value (also a removal);
    a field changed differently on several sides takes the value of the LWW
    winner among those that changed it, and is reported.  Without a known
    ancestor, every field present anywhere is kept and differing values go to
    the LWW winner.
    """
    live = [v for v in ordered if not v.deleted and v.data is not None]
    if not live:
        return None, []
    anc: dict[str, Any] = dict(base.data or {}) if base is not None and not base.deleted else {}
    keys = sorted({k for v in live for k in (v.data or {})} | set(anc))
    merged: dict[str, Any] = {}
    differing: list[str] = []
    for k in keys:
        old = anc.get(k, _MISSING) if base is not None else _MISSING
        changed = [v for v in live if (v.data or {}).get(k, _MISSING) != old] \
            if base is not None else [v for v in live if k in (v.data or {})]
        if not changed:
            value = old
        else:
            values = []
            for v in changed:  # ascending LWW order: the last is the winner
                val = (v.data or {}).get(k, _MISSING)
                if val not in values:
                    values.append(val)
            if len(values) > 1:
                differing.append(k)
            value = (changed[-1].data or {}).get(k, _MISSING)
        if value is not _MISSING:
            merged[k] = value
    return merged, differing

from __future__ import annotations

from sneakersync.wire.change import Version
from sneakersync.store.resolve import add_version, common_ancestor, fork_id, resolve


def V(o: str, c: int, data, vv, ts=0, op="put") -> Version:
    return Version(o, c, op, data, vv, ts)


BASE = V("a", 1, {"name": "School", "status": "open", "cap": 100}, {"a": 1}, ts=1)
A2 = V("a", 2, {"name": "School", "status": "full", "cap": 100}, {"a": 2}, ts=5)
B1 = V("b", 1, {"name": "School", "status": "open", "cap": 100, "pop": 512}, {"a": 1, "b": 1}, ts=9)


def test_frontier_is_order_independent() -> None:
    f1, _ = add_version([], BASE)
    f1, _ = add_version(f1, A2)
    f1, _ = add_version(f1, B1)
    f2, _ = add_version([], B1)
    f2, _ = add_version(f2, A2)
    f2, changed = add_version(f2, BASE)
    assert not changed and f1 == f2 and {v.key for v in f1} == {("a", 2), ("b", 1)}


def test_three_way_merge_keeps_both_sides_changes() -> None:
    base = common_ancestor([BASE, A2, B1], [A2, B1])
    assert base == BASE
    res = resolve("merge", "s", "r", [A2, B1], base)
    assert res.rows[0].data == {"name": "School", "status": "full", "cap": 100, "pop": 512}
    assert res.fields == [] and not res.open


def test_merge_same_field_goes_to_lww_winner_and_is_reported() -> None:
    a = V("a", 2, {"cap": 120}, {"a": 2}, ts=5)
    b = V("b", 1, {"cap": 90}, {"a": 1, "b": 1}, ts=9)
    base = V("a", 1, {"cap": 100}, {"a": 1})
    res = resolve("merge", "s", "r", [a, b], base)
    assert res.rows[0].data == {"cap": 90} and res.fields == ["cap"]


def test_lww_and_delete_vs_edit_keeps_the_edit() -> None:
    d = V("a", 2, None, {"a": 2}, ts=99, op="del")
    res = resolve("lww", "s", "r", [d, B1])
    assert res.rows[0].data == B1.data  # an edit is never lost to a concurrent delete


def test_fork_is_deterministic_and_keeps_loser() -> None:
    r1 = resolve("fork", "s", "r", [A2, B1])
    r2 = resolve("fork", "s", "r", [B1, A2])
    assert [(x.rid, x.data) for x in r1.rows] == [(x.rid, x.data) for x in r2.rows]
    assert r1.rows[1].rid == fork_id("r", A2) and r1.rows[1].fork_of == "r"
    assert r1.conflict_id == r2.conflict_id


def test_manual_is_open() -> None:
    res = resolve("manual", "s", "r", [A2, B1])
    assert res.open and res.conflict_id and res.rows[0].winner == B1

"""Split exports: a large export becomes several complete packets of bounded size,
each importable alone and in any order (formats/packet-v1.md, "Split exports")."""

from __future__ import annotations

from typing import Any

from sneakersync.store import peers
from sneakersync.sync.engine import build_exports, split_ranges

from conftest import befriend, recv


def test_split_ranges_bounds_every_part() -> None:
    wanted = {"b": [[1, 5], [9, 9]], "a": [[3, 250]]}
    parts = split_ranges(wanted, 100)
    sizes = [sum(hi - lo + 1 for rs in p.values() for lo, hi in rs) for p in parts]
    assert sizes == [100, 100, 54]
    assert parts[0] == {"a": [[3, 102]]} and parts[-1] == {"a": [[203, 250]], "b": [[1, 5], [9, 9]]}


def test_large_export_is_split_and_each_part_stands_alone(make_device: Any) -> None:
    a, b = make_device("a"), make_device("b")
    befriend(a, b)
    a.store.write_many("hh", [(f"r{i}", {"i": i}) for i in range(350)])
    a.store.put("hh", {"i": -1}, "r7")
    p = peers.by_id(a.store, b.id)
    outs = build_exports(a.home, a.store, [p], max_changes=100)
    assert [o.changes for o in outs] == [100, 100, 100, 51]
    for o in outs:
        o.commit(a.store)
    assert build_exports(a.home, a.store, [p], max_changes=100) == []  # b has it all now
    for o in reversed(outs):  # any order, each on its own
        rep = recv(b, o.data)
        assert rep.imported == 1 and not rep.rejected
    assert b.store.snapshot() == a.store.snapshot()

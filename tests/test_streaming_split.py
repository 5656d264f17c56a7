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


def test_split_export_is_each_part_built_alone_in_order(make_device: Any) -> None:
    """The parts of a split export (and the order in which they draw randomness) are
    exactly what building each part alone, one after the other, gives; each records
    as sent just its own counters."""
    from conftest import det_rng
    from sneakersync.sync.engine import build_export

    a, b = make_device("a"), make_device("b")
    befriend(a, b)
    a.store.write_many("hh", [(f"r{i}", {"i": i}) for i in range(250)])
    p = peers.by_id(a.store, b.id)
    assert p is not None
    piped = build_exports(a.home, a.store, [p], max_changes=60, rng=det_rng(7), now=1)
    rng = det_rng(7)
    one_by_one = [build_export(a.home, a.store, [p], rng=rng, now=1, only={a.id: [[lo, hi]]})
                  for lo, hi in ((1, 60), (61, 120), (121, 180), (181, 240), (241, 250))]
    assert [o.data for o in piped] == [o.data for o in one_by_one if o is not None]
    assert [o.sent for o in piped] == [{b.id: {a.id: [[lo, hi]]}} for lo, hi in
                                       ((1, 60), (61, 120), (121, 180), (181, 240), (241, 250))]


def test_a_failing_part_fails_the_export(make_device: Any) -> None:
    """An error while sealing a part reaches the caller (nothing is returned)."""
    import pytest

    from sneakersync.errors import UsageError

    a, b = make_device("a"), make_device("b")
    befriend(a, b)
    a.store.write_many("hh", [(f"r{i}", {"i": i}) for i in range(30)])
    p = peers.by_id(a.store, b.id)
    assert p is not None
    with pytest.raises(UsageError, match="padding bucket"):
        build_exports(a.home, a.store, [p], max_changes=10, pad_to=(1 << 20) + 1)


def test_the_two_column_read_gives_the_same_packets_as_the_general_one(
        make_device: Any, monkeypatch: Any) -> None:
    """Own changes held whole are read as (raw, hash) only; where some are pruned
    (bytes gone, hash kept) or the peer already knows a stretch, the general read
    runs. Both give byte-identical packets, which import."""
    from conftest import det_rng
    from sneakersync.sync import engine

    a, b = make_device("a"), make_device("b")
    befriend(a, b)
    a.store.write_many("hh", [(f"r{i}", {"i": i}) for i in range(40)])
    p = peers.by_id(a.store, b.id)
    assert p is not None

    real = engine._fetch_whole

    def both(**kw: Any) -> tuple[list[bytes], list[bytes], int]:
        calls = []

        def spy(*args: Any) -> Any:
            got = real(*args)
            calls.append(got is not None)
            return got
        monkeypatch.setattr(engine, "_fetch_whole", spy)
        fast = [o.data for o in build_exports(a.home, a.store, [p], rng=det_rng(3), now=1, **kw)]
        monkeypatch.setattr(engine, "_fetch_whole", lambda *args: None)
        general = [o.data for o in build_exports(a.home, a.store, [p], rng=det_rng(3), now=1,
                                                 **kw)]
        return fast, general, sum(calls)

    fast, general, used = both(max_changes=15)  # three parts, each whole
    assert fast == general and used == 3
    # b already holds 11..20 (its acknowledgement), so a's segment over 1..40 needs a proof
    engine.record_knowledge(a.store, b.id, "acked", {a.id: [[11, 20]]})
    fast, general, used = both()
    assert fast == general and used == 1
    a.store.conn.execute("UPDATE changes SET raw=x'' WHERE origin=? AND counter BETWEEN 5 AND 7",
                         (a.id,))  # pruned: hash kept, bytes gone
    fast, general, used = both(full=True)
    assert fast == general and used == 0
    rep = recv(b, fast[0])
    assert rep.imported == 1 and not rep.rejected and rep.changes_applied == 40 - 3

"""The ``held`` table: the manifest kept incrementally, never by scanning the change log."""

from __future__ import annotations

from typing import Any

from sneakersync.store.records import Store
from sneakersync.sync.engine import held_ranges

from conftest import befriend, recv, send


def _scan(store: Store) -> dict[str, list[list[int]]]:
    out: dict[str, list[list[int]]] = {}
    for origin, lo, hi in store.conn.execute(
            "SELECT origin, MIN(counter), MAX(counter) FROM (SELECT origin, counter, "
            "counter - ROW_NUMBER() OVER (PARTITION BY origin ORDER BY counter) AS grp "
            "FROM changes) GROUP BY origin, grp ORDER BY origin, 2"):
        out.setdefault(origin, []).append([lo, hi])
    return out


def test_held_follows_local_and_remote_writes(make_device: Any) -> None:
    a, b, c = make_device("a"), make_device("b"), make_device("c")
    befriend(a, b)
    befriend(b, c)
    a.store.write_many("h", [(f"r{i}", {"i": i}) for i in range(40)])
    a.store.put("h", {"i": -1}, "r3")
    a.store.delete("h", "r4")
    first = send(a, [b])
    a.store.write_many("h", [(f"s{i}", {"i": i}) for i in range(5)])
    second = send(a, [b])
    recv(b, second.data)  # out of order: b holds a gap first
    assert held_ranges(b.store)[a.store.device_id] == [[43, 47]]
    assert held_ranges(b.store) == _scan(b.store)
    recv(b, first.data)
    assert held_ranges(b.store)[a.store.device_id] == [[1, 47]]
    b.store.put("h", {"from": "b"}, "rb")
    recv(c, send(b, [c]).data)
    for d in (a, b, c):
        assert held_ranges(d.store) == _scan(d.store)


def test_export_reads_no_full_change_log(make_device: Any) -> None:
    a, b = make_device("a"), make_device("b")
    befriend(a, b)
    a.store.write_many("h", [(f"r{i}", {"i": i}) for i in range(100)])
    recv(b, send(a, [b]).data)
    a.store.put("h", {"i": -1}, "r1")
    statements: list[str] = []
    a.store.conn.set_trace_callback(statements.append)
    try:
        out = send(a, [b])
    finally:
        a.store.conn.set_trace_callback(None)
    assert out.changes == 1
    plans = [s for s in statements if "changes" in s and "ROW_NUMBER" in s]
    assert not plans, plans


def test_old_store_gets_held_built_once(make_device: Any) -> None:
    a = make_device("a")
    a.store.write_many("h", [(f"r{i}", {"i": i}) for i in range(10)])
    a.store.conn.execute("DROP TABLE held")
    a.store.conn.execute("DELETE FROM meta WHERE key='held'")
    reopened = Store(a.store.path, a.store.device_id)
    try:
        assert held_ranges(reopened) == {a.store.device_id: [[1, 10]]}
    finally:
        reopened.close()

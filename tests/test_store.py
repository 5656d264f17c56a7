from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sneakersync.store import home as home_mod
from sneakersync.errors import InputError, NotFoundError, StoreError, UsageError
from sneakersync.store.load import read_records

from conftest import REPO


def test_put_get_update_vv_advances(make_device) -> None:
    d = make_device("a")
    rid = d.store.put("shelters", {"name": "School"})
    r1 = d.store.get("shelters", rid)
    assert r1.data == {"name": "School"} and r1.vv == {d.id: 1}
    d.store.put("shelters", {"name": "School", "cap": 3}, rid)
    r2 = d.store.get("shelters", rid)
    assert r2.vv == {d.id: 2} and r2.data["cap"] == 3
    assert d.store.counter == 2


def test_delete_is_a_tombstone(make_device) -> None:
    d = make_device("a")
    rid = d.store.put("c", {"x": 1}, "r1")
    d.store.delete("c", rid)
    with pytest.raises(NotFoundError):
        d.store.get("c", rid)
    tomb = d.store.get("c", rid, include_deleted=True)
    assert tomb.deleted and tomb.vv == {d.id: 2}
    assert [r for r in d.store.rows("c")] == []
    ops = [r[0] for r in d.store.conn.execute("SELECT op FROM changes ORDER BY counter")]
    assert ops == ["put", "del"]
    with pytest.raises(NotFoundError):
        d.store.delete("c", rid)


def test_collections_and_validation(make_device) -> None:
    d = make_device("a")
    d.store.write_many("a", [(None, {"i": i}) for i in range(5)])
    d.store.put("b", {"x": 1})
    cols = {c["name"]: c["records"] for c in d.store.collections()}
    assert cols == {"a": 5, "b": 1}
    for bad in ["", "_sys", "a b", "x" * 65]:
        with pytest.raises(UsageError):
            d.store.put(bad, {})
    with pytest.raises(UsageError):
        d.store.put("a", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        d.store.put("a", {"x": float("nan")})


def test_bad_load_file_writes_nothing(make_device, tmp_path: Path) -> None:
    d = make_device("a")
    f = tmp_path / "x.jsonl"
    f.write_text('{"id": "1", "a": 1}\n{"id": "2", "a": 2}\n{"id": "3", "a": \n')
    with pytest.raises(InputError, match="line 3"):
        d.store.write_many("c", read_records(f))
    assert list(d.store.rows("c")) == [] and d.store.counter == 0


def test_csv_load_ids_and_json_cells(make_device, tmp_path: Path) -> None:
    d = make_device("a")
    f = tmp_path / "x.csv"
    f.write_text('id,name,needs\nh1,Amina,"[""water"", ""food""]"\nh2,Juma,\n', encoding="utf-8")
    ids = d.store.write_many("h", read_records(f))
    assert ids == ["h1", "h2"]
    assert d.store.get("h", "h1").data == {"name": "Amina", "needs": ["water", "food"]}
    assert d.store.get("h", "h2").data == {"name": "Juma"}
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\nx,1,2\n")
    with pytest.raises(InputError, match="expected 2 cells"):
        d.store.write_many("h", read_records(bad))


def test_load_updates_existing_and_duplicates_in_file(make_device) -> None:
    d = make_device("a")
    d.store.put("h", {"v": 0}, "x")
    d.store.write_many("h", [("x", {"v": 1}), ("y", {"v": 1}), ("y", {"v": 2})])
    assert d.store.get("h", "x").data == {"v": 1} and d.store.get("h", "x").vv == {d.id: 2}
    assert d.store.get("h", "y").data == {"v": 2}
    assert d.store.counter == 4


def test_schema_newer_than_code_is_refused(make_device) -> None:
    d = make_device("a")
    with d.store.transaction():
        d.store.conn.execute("UPDATE meta SET value='99' WHERE key='schema'")
    d.store.close()
    with pytest.raises(StoreError, match="newer"):
        d.home.open_store()


CHILD = """
import sys
from sneakersync.store import home
h = home.load(sys.argv[1])
s = h.open_store()
print("ready", flush=True)
i = 0
while True:
    s.write_many("c", [(None, {"i": i, "pad": "x" * 200}) for _ in range(200)])
    i += 1
"""


@pytest.mark.parametrize("delay", [0.15, 0.3, 0.6])
def test_counters_never_reused_after_kill(tmp_path: Path, delay: float) -> None:
    h = home_mod.create(tmp_path / "dev", "killme")
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(h.path)], stdout=subprocess.PIPE,
                         cwd=REPO)
    assert p.stdout is not None
    p.stdout.readline()
    time.sleep(delay)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    s = h.open_store()
    try:
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        maxc = s.conn.execute("SELECT COALESCE(MAX(counter), 0) FROM changes").fetchone()[0]
        n = s.conn.execute("SELECT COUNT(*) FROM changes").fetchone()[0]
        assert s.counter == maxc == n  # contiguous, no gap, nothing half-written
        assert n % 200 == 0  # whole transactions only
        s.put("c", {"after": True})
        assert s.counter == maxc + 1
    finally:
        s.close()


def test_init_refuses_overwrite_and_private_key_modes(tmp_path: Path) -> None:
    h = home_mod.create(tmp_path / "d", "x")
    from sneakersync.errors import AlreadyExistsError
    with pytest.raises(AlreadyExistsError):
        home_mod.create(tmp_path / "d", "y")
    assert (h.path / "keys" / "sign.key").stat().st_mode & 0o777 == 0o600
    assert (h.path / "keys").stat().st_mode & 0o777 == 0o700
    info = json.loads((h.path / "device.json").read_text())
    secrets = [(h.path / "keys" / f).read_bytes().hex() for f in ("sign.key", "enc.key")]
    assert not any(s in json.dumps(info) for s in secrets)
    assert home_mod.load(h.path).device_id == h.device_id


def test_load_with_a_repeated_id_in_a_later_batch(make_device) -> None:
    d = make_device("a")
    items = [(f"r{i}", {"i": i}) for i in range(5003)] + [("r1", {"i": "again"})]
    d.store.write_many("c", items)  # batches of 5,000: the repeat lands in the second one
    assert d.store.get("c", "r1").data == {"i": "again"}
    assert d.store.get("c", "r1").vv == {d.id: 5004} and d.store.counter == 5004

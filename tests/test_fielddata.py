"""The seeded field-data generator and the committed samples/ it produced."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REPO
from sneakersync.demo import fielddata as fd
from sneakersync.errors import InputError
from sneakersync.store.load import read_records

SAMPLES = REPO / "samples"

SCRIPTS = {  # name -> (first, last) code point
    "latin-extended": (0x00C0, 0x024F),
    "arabic": (0x0600, 0x06FF),
    "devanagari": (0x0900, 0x097F),
    "bengali": (0x0980, 0x09FF),
}


def _take(collection: str, n: int, seed: int = 0, **kw: Any) -> list[dict[str, Any]]:
    return list(fd.generate(collection, n, seed=seed, **kw))


def _scripts(text: str) -> set[str]:
    found = set()
    for ch in text:
        cp = ord(ch)
        for name, (lo, hi) in SCRIPTS.items():
            if lo <= cp <= hi:
                found.add(name)
    return found


def _check_type(tag: str, value: Any) -> bool:
    if tag.endswith("?") and value is None:
        return True
    base = tag.rstrip("?")
    if base == "int":
        return type(value) is int
    if base == "float":
        return type(value) is float
    if base == "date":
        return isinstance(value, str) and dt.date.fromisoformat(value).isoformat() == value
    if base == "list[str]":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if base == "dict[str,bool]":
        return isinstance(value, dict) and all(type(v) is bool for v in value.values())
    return isinstance(value, str)


# ---------------------------------------------------------------- determinism

@pytest.mark.parametrize("collection", fd.COLLECTIONS)
def test_same_seed_same_records(collection: str) -> None:
    assert _take(collection, 200, seed=5) == _take(collection, 200, seed=5)


@pytest.mark.parametrize("collection", fd.COLLECTIONS)
def test_different_seed_different_records(collection: str) -> None:
    a, b = _take(collection, 50, seed=1), _take(collection, 50, seed=2)
    assert a != b
    assert sum(x == y for x, y in zip(a, b)) < 5


@pytest.mark.parametrize("collection", fd.COLLECTIONS)
def test_prefix_does_not_depend_on_count(collection: str) -> None:
    assert _take(collection, 300, seed=9)[:40] == _take(collection, 40, seed=9)


def test_collections_use_separate_streams() -> None:
    names = [r["name"] for r in _take("shelters", 20)]
    assert names != [r["name"] for r in _take("missing_persons", 20)]


# ---------------------------------------------------------------- ids

@pytest.mark.parametrize("collection", fd.COLLECTIONS)
def test_ids_are_stable_unique_uuids(collection: str) -> None:
    plain = _take(collection, 100, seed=3)
    with_ids = _take(collection, 100, seed=3, with_ids=True)
    assert all("id" not in r for r in plain)
    assert [next(iter(r)) for r in with_ids] == ["id"] * 100
    ids = [r.pop("id") for r in with_ids]
    assert with_ids == plain                       # ids do not disturb the data
    assert len(set(ids)) == 100
    assert all(uuid.UUID(i).version == 5 for i in ids)
    assert ids[7] == fd.record_id(collection, 3, 7)
    assert ids == [r["id"] for r in _take(collection, 100, seed=3, with_ids=True)]
    assert ids[0] != fd.record_id(collection, 4, 0)


# ---------------------------------------------------------------- shape

@pytest.mark.parametrize("collection", fd.COLLECTIONS)
def test_fields_present_and_typed(collection: str) -> None:
    fields = fd.FIELDS[collection]
    for rec in _take(collection, 500, seed=11):
        assert list(rec) == list(fields)
        for name, tag in fields.items():
            assert _check_type(tag, rec[name]), (collection, name, rec[name])
        assert -90 <= rec["lat"] <= 90 and -180 <= rec["lon"] <= 180
        assert rec["language"] and rec["country"].isupper() and len(rec["country"]) == 2
        assert json.loads(json.dumps(rec, ensure_ascii=False)) == rec


def test_shelter_values_are_consistent() -> None:
    for r in _take("shelters", 500):
        assert r["status"] in fd.SHELTER_STATUS
        assert set(r["facilities"]) <= set(fd.FACILITIES)
        assert r["capacity"] > 0 and r["population"] >= 0
        if r["status"] in ("closed", "planned"):
            assert r["population"] == 0
        if r["status"] == "full":
            assert r["population"] >= r["capacity"]


def test_household_values_are_consistent() -> None:
    for r in _take("households", 500):
        assert list(r["needs"]) == list(fd.NEEDS)
        assert set(r["vulnerabilities"]) <= set(fd.VULNERABILITIES)
        assert r["priority"] in fd.PRIORITIES
        assert 1 <= r["household_size"] <= 15
        assert ("female_headed" in r["vulnerabilities"]) == (r["head_sex"] == "female")


def test_missing_person_values_are_consistent() -> None:
    recs = _take("missing_persons", 500)
    for r in recs:
        assert r["sex"] in fd.SEXES and r["status"] in fd.MISSING_STATUS
        assert r["reporter_relation"] in fd.RELATIONS
        assert r["age"] is None or 0 <= r["age"] <= 95
        assert r["reported_date"] >= r["last_seen_date"]
        assert r["description"]
    assert any(r["age"] is None for r in recs) and any(r["reporter_phone"] is None for r in recs)


@pytest.mark.parametrize("collection", fd.COLLECTIONS)
def test_several_scripts_and_varied_lengths(collection: str) -> None:
    recs = _take(collection, 400, seed=2)
    text = " ".join(json.dumps(r, ensure_ascii=False) for r in recs)
    assert _scripts(text) == set(SCRIPTS)
    assert len({r["language"] for r in recs}) >= 8
    lengths = [len(r["notes"]) for r in recs]
    assert min(lengths) == 0 and max(lengths) > 200
    assert any("\n" in r["notes"] for r in recs)          # multi-line free text occurs


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=-(2 ** 63), max_value=2 ** 63),
       collection=st.sampled_from(fd.COLLECTIONS))
def test_any_seed_gives_well_typed_records(seed: int, collection: str) -> None:
    for rec in fd.generate(collection, 10, seed=seed, with_ids=True):
        assert _check_type("str", rec.pop("id"))
        assert all(_check_type(t, rec[n]) for n, t in fd.FIELDS[collection].items())


def test_generate_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        fd.generate("tents", 3)
    with pytest.raises(ValueError):
        fd.generate("shelters", -1)
    assert _take("shelters", 0) == []


# ---------------------------------------------------------------- files

@pytest.mark.parametrize("collection", fd.COLLECTIONS)
def test_csv_round_trips_through_dictreader(collection: str, tmp_path: Path) -> None:
    path = tmp_path / f"{collection}.csv"
    assert fd.write_csv(path, collection, 300, seed=4) == 300
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["id", *fd.FIELDS[collection]]
        back = [fd.decode_csv_row(collection, row) for row in reader]
    assert back == _take(collection, 300, seed=4, with_ids=True)


def test_jsonl_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    assert fd.write_jsonl(path, "households", 100, seed=4, with_ids=False) == 100
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == _take("households", 100, seed=4)


def test_committed_samples_equal_a_fresh_regeneration(tmp_path: Path) -> None:
    written = fd.write_samples(tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == {
        "shelters.jsonl", "households.csv", "missing_persons.jsonl",
        "bad/households_bad.csv", "bad/broken.jsonl"}
    for path in written:
        rel = path.relative_to(tmp_path)
        assert (SAMPLES / rel).read_bytes() == path.read_bytes(), (
            f"samples/{rel} drifted: run python -m sneakersync.demo.fielddata --samples samples")


def test_samples_are_small_documented_and_load() -> None:
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total < 2 * 1024 * 1024
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for name, collection, count, seed in fd.SAMPLES:
        assert name in readme and f"{collection} {count} --seed {seed}" in readme
        records = list(read_records(SAMPLES / name))          # the kit's own loader
        assert len(records) == count
        assert all(rid for rid, _ in records)


def test_bad_samples_fail_where_documented() -> None:
    with pytest.raises(InputError, match="line 5: expected 16 cells, found 15"):
        list(read_records(SAMPLES / "bad" / "households_bad.csv"))
    with pytest.raises(InputError, match="line 4: not valid JSON"):
        list(read_records(SAMPLES / "bad" / "broken.jsonl"))
    raw = (SAMPLES / "bad" / "broken.jsonl").read_bytes()
    lines = raw.split(b"\n")
    assert len(lines) == 9 and not raw.endswith(b"\n")
    with pytest.raises(UnicodeDecodeError):
        lines[3].decode("utf-8")
    with pytest.raises(ValueError):
        json.loads(lines[8])
    assert json.loads(lines[5]) == ["not", "an", "object"] and lines[6] == b""
    rows = list(csv.reader(io.StringIO((SAMPLES / "bad" / "households_bad.csv")
                                       .read_text(encoding="utf-8"))))
    assert [len(r) for r in rows] == [16, 16, 16, 16, 15, 16, 17, 1]


# ---------------------------------------------------------------- command line

def test_cli_writes_csv_and_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "m.csv"
    assert fd.main(["missing_persons", "25", "--seed", "3", "--out", str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 25
    assert fd.main(["shelters", "4", "--seed", "3", "--no-ids"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(x) for x in lines] == _take("shelters", 4, seed=3)


@pytest.mark.parametrize("argv", [["shelters", "3", "--out", "x.txt"], ["tents", "3"],
                                  ["shelters"], ["shelters", "-2"]])
def test_cli_rejects_bad_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        fd.main(argv)
    assert exc.value.code == 2

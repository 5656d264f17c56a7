"""CLI behaviour through a real process: outputs, --json, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, cli


run = cli


@pytest.fixture
def dev(tmp_path: Path) -> Path:
    home = tmp_path / "dev"
    run(home, "init", "--name", "Amina laptop")
    return home


def test_init_whoami(tmp_path: Path, dev: Path) -> None:
    info = json.loads(run(dev, "whoami", "--json").stdout)
    assert info["name"] == "Amina laptop" and info["card"].startswith("SNK1:")
    p = run(dev, "init", "--name", "again", ok=False)
    assert p.returncode == 2 and p.stderr.startswith("sneakersync: error: a device already exists")
    assert "hint:" in p.stderr


def test_missing_device_is_a_clean_error(tmp_path: Path) -> None:
    p = run(tmp_path / "nothing", "rows", "x", ok=False)
    assert p.returncode == 3
    assert p.stderr.splitlines()[0] == f"sneakersync: error: no device in {tmp_path / 'nothing'}"
    assert "Traceback" not in p.stderr


def test_put_get_rm_rows_collections(dev: Path) -> None:
    rid = run(dev, "put", "shelters", '{"name": "École Kibera", "cap": 120}').stdout.strip()
    assert len(rid) == 36
    assert json.loads(run(dev, "put", "shelters", '{"name": "B"}', "--id", "b1", "--json")
                      .stdout) == {"id": "b1", "changed": True}
    got = json.loads(run(dev, "get", "shelters", rid, "--json").stdout)
    assert got["data"] == {"name": "École Kibera", "cap": 120} and got["id"] == rid
    lines = [json.loads(x) for x in run(dev, "rows", "shelters").stdout.splitlines()]
    assert {x["id"] for x in lines} == {rid, "b1"}
    cols = json.loads(run(dev, "collections", "--json").stdout)
    assert cols[0]["name"] == "shelters" and cols[0]["records"] == 2
    assert json.loads(run(dev, "rm", "shelters", "b1", "--json").stdout)["deleted"] is True
    assert len(run(dev, "rows", "shelters").stdout.splitlines()) == 1


@pytest.mark.parametrize("args,code,msg", [
    (["put", "c", "{bad"], 2, "record is not valid JSON"),
    (["put", "c", "[1]"], 2, "record must be a JSON object"),
    (["get", "c", "nope"], 3, "no record 'nope'"),
    (["rm", "c", "nope"], 3, "no record 'nope'"),
    (["put", "_c", "{}"], 2, "collection name"),
    (["load", "c", "/nonexistent.jsonl"], 3, "does not exist"),
])
def test_errors_are_one_line(dev: Path, args: list[str], code: int, msg: str) -> None:
    p = run(dev, *args, ok=False)
    assert p.returncode == code, p.stderr
    first = p.stderr.splitlines()[0]
    assert first.startswith("sneakersync: error: ") and msg in first
    assert all(line.startswith(("sneakersync: error:", "hint:")) for line in p.stderr.splitlines())


def test_load_jsonl_csv_and_bad_file(dev: Path, tmp_path: Path) -> None:
    f = tmp_path / "h.jsonl"
    f.write_text("\n".join(json.dumps({"id": f"h{i}", "size": i}) for i in range(100)) + "\n")
    assert json.loads(run(dev, "load", "households", str(f), "--json").stdout)["loaded"] == 100
    c = tmp_path / "p.csv"
    c.write_text("name,age\nAmina,34\nJuma,41\n", encoding="utf-8")
    assert "loaded 2 records" in run(dev, "load", "people", str(c)).stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "z1"}\n{"id": "z2"\n')
    p = run(dev, "load", "zz", str(bad), ok=False)
    assert p.returncode == 5 and "bad.jsonl line 2" in p.stderr
    assert run(dev, "rows", "zz").stdout == ""


def test_python_m_and_help(dev: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "sneakersync", "--help"], capture_output=True,
                       text=True, cwd=REPO)
    assert p.returncode == 0 and "Example:" in p.stdout
    for cmd in ("init", "put", "load", "export", "import", "conflicts"):
        h = subprocess.run([sys.executable, "-m", "sneakersync", cmd, "--help"],
                           capture_output=True, text=True, cwd=REPO)
        assert h.returncode == 0 and "Example:" in h.stdout, cmd

"""The command line as a coordinator uses it (issue 14): each test repeats what a user did.

Runs the real entry point in-process (``cli_runner.invoke``): outputs, exit codes and
the one-line errors are exactly what a shell sees.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cli_runner import card, edit_apart, invoke, ok


@pytest.fixture
def amina(tmp_path: Path) -> Path:
    home = tmp_path / "amina"
    ok(home, "init", "--name", "Amina clinic laptop")
    return home


def _pair(tmp_path: Path, amina: Path) -> Path:
    juma = tmp_path / "juma"
    ok(juma, "init", "--name", "Juma tablet")
    ok(amina, "peer", "add", card(juma))
    ok(juma, "peer", "add", card(amina))
    return juma


def one_error_line(r: object, code: int) -> str:
    assert r.code == code, (r.code, r.err)  # type: ignore[attr-defined]
    lines = r.err.splitlines()  # type: ignore[attr-defined]
    assert lines and lines[0].startswith("sneakersync: error: ")
    assert all(x.startswith(("hint: ", "warning: ")) for x in lines[1:]), lines
    assert "Traceback" not in r.err  # type: ignore[attr-defined]
    return lines[0]


# --- put: field edits are patches ---------------------------------------------------

def test_put_updates_one_field_and_keeps_the_rest(amina: Path) -> None:
    ok(amina, "put", "households", json.dumps(
        {"head": "Zainab", "household_size": 6, "needs": ["water"], "notes": "roof leaks"}),
        "--id", "hh-17")
    ok(amina, "put", "households", '{"priority": "high"}', "--id", "hh-17")
    got = ok(amina, "get", "households", "hh-17", "--json").json()["data"]
    assert got == {"head": "Zainab", "household_size": 6, "needs": ["water"],
                   "notes": "roof leaks", "priority": "high"}
    ok(amina, "put", "households", "--id", "hh-17", "--unset", "notes")
    assert "notes" not in ok(amina, "get", "households", "hh-17", "--json").json()["data"]
    ok(amina, "put", "households", '{"head": "Zainab"}', "--id", "hh-17", "--replace")
    assert ok(amina, "get", "households", "hh-17", "--json").json()["data"] == {"head": "Zainab"}
    # the same value again is no new change
    assert ok(amina, "put", "households", '{"head": "Zainab"}', "--id", "hh-17",
              "--json").json() == {"id": "hh-17", "changed": False}
    helptext = ok(None, "put", "--help").out
    assert "--replace" in helptext and "--unset" in helptext and "kept" in helptext


def test_put_reads_large_records_from_stdin_and_files(amina: Path, tmp_path: Path) -> None:
    big = {"notes": "x" * 200_000, "n": 1}  # over the shell's 128 KiB argument limit
    ok(amina, "put", "c", "-", "--id", "big", input=json.dumps(big))
    assert ok(amina, "get", "c", "big", "--json").json()["data"] == big
    f = tmp_path / "rec.json"
    f.write_text(json.dumps({"n": 2}), encoding="utf-8")
    ok(amina, "put", "c", "--file", str(f), "--id", "big")
    assert ok(amina, "get", "c", "big", "--json").json()["data"]["n"] == 2
    one_error_line(invoke(amina, "put", "c", "--file", str(tmp_path / "nope.json")), 3)
    one_error_line(invoke(amina, "put", "c", "--id", "nope", "--unset", "x"), 3)


@pytest.mark.parametrize("text,msg", [
    ('{"a": "\\ud800"}', "lone surrogate"),
    ('{"a":' + "[" * 3000 + "]" * 3000 + "}", "nested deeper"),
])
def test_put_refuses_what_cannot_be_stored_in_one_line(amina: Path, text: str, msg: str) -> None:
    assert msg in one_error_line(invoke(amina, "put", "c", text), 2)
    assert ok(amina, "collections", "--json").json() == []


# --- rows and load ------------------------------------------------------------------

def test_rows_then_load_round_trips_unchanged(amina: Path, tmp_path: Path) -> None:
    ok(amina, "put", "shelters", '{"name": "Kibera school", "data": {"x": 1}}', "--id", "s1")
    ok(amina, "put", "shelters", '{"name": "Mathare hall", "capacity": 80}', "--id", "s2")
    before = ok(amina, "rows", "shelters").out
    f = tmp_path / "shelters.jsonl"
    f.write_text(before, encoding="utf-8")
    r = ok(amina, "load", "shelters", str(f), "--json").json()
    assert r["loaded"] == 0 and r["unchanged"] == 2
    assert ok(amina, "rows", "shelters").out == before
    other = tmp_path / "other"
    ok(other, "init", "--name", "Other")
    ok(other, "load", "shelters", str(f))
    assert ok(other, "rows", "shelters").out == before


def test_csv_without_id_warns_and_key_makes_it_idempotent(amina: Path, tmp_path: Path) -> None:
    f = tmp_path / "people.csv"
    f.write_text("national_id,name\n111,Asha\n222,Baraka\n", encoding="utf-8")
    r = ok(amina, "load", "people", str(f))
    assert "warning:" in r.err and "--key" in r.err
    for _ in range(2):
        ok(amina, "load", "people2", str(f), "--key", "national_id")
        ok(amina, "load", "people3", str(f), "--content-key")
    assert len(ok(amina, "rows", "people2").out.splitlines()) == 2
    assert len(ok(amina, "rows", "people3").out.splitlines()) == 2
    assert ok(amina, "get", "people2", "111", "--json").json()["data"]["name"] == "Asha"
    one_error_line(invoke(amina, "load", "p", str(f), "--key", "nope"), 2)


def test_semicolon_csv_is_sniffed(amina: Path, tmp_path: Path) -> None:
    f = tmp_path / "semi.csv"
    f.write_text("id;name;town\n1;Asha;Kibera\n2;Baraka;Mathare\n", encoding="utf-8")
    ok(amina, "load", "people", str(f))
    assert ok(amina, "get", "people", "1", "--json").json()["data"] == {
        "name": "Asha", "town": "Kibera"}
    g = tmp_path / "odd.csv"
    g.write_text("id;name,town\n", encoding="utf-8")
    assert "delimiter" in invoke(amina, "load", "x", str(g)).err


def test_latin1_csv_names_the_line_and_loads_with_encoding(amina: Path, tmp_path: Path) -> None:
    f = tmp_path / "lat.csv"
    f.write_bytes("id,name\n1,Asha\n2,Jos\u00e9\n".encode("latin-1"))
    line = one_error_line(invoke(amina, "load", "p", str(f)), 5)
    assert "line 3" in line and "UTF-8" in line
    assert "--encoding" in invoke(amina, "load", "p", str(f)).err
    ok(amina, "load", "p", str(f), "--encoding", "latin-1")
    assert ok(amina, "get", "p", "2", "--json").json()["data"]["name"] == "Jos\u00e9"


def test_load_progress_counts_towards_the_real_total(amina: Path, tmp_path: Path) -> None:
    f = tmp_path / "many.jsonl"
    f.write_text("".join(json.dumps({"id": f"r{i}", "n": i}) + "\n" for i in range(12000)),
                 encoding="utf-8")
    r = ok(amina, "load", "c", str(f), env={"SNEAKERSYNC_PROGRESS": "1"})
    shown = re.findall(r"([\d,]+)/([\d,]+) records", r.err)
    assert shown and all(int(t.replace(",", "")) == 12000 for _, t in shown)
    assert shown[-1][0] == "12,000"
    assert "0/0" not in r.err
    assert "records" not in ok(amina, "load", "c", str(f), "--json",
                               env={"SNEAKERSYNC_PROGRESS": "1"}).err
    assert ok(amina, "-q", "load", "c", str(f), env={"SNEAKERSYNC_PROGRESS": "1"}).err == ""


# --- peers: names, confirmation ------------------------------------------------------

def test_peer_names_case_insensitive_with_a_suggestion(tmp_path: Path, amina: Path) -> None:
    _pair(tmp_path, amina)
    assert ok(amina, "peer", "verify", "juma TABLET", "--json").json()["name"] == "Juma tablet"
    r = invoke(amina, "peer", "verify", "Juma tablte")
    one_error_line(r, 3)
    assert "did you mean 'Juma tablet'?" in r.err


def test_rm_revoke_prune_ask_first(tmp_path: Path, amina: Path) -> None:
    _pair(tmp_path, amina)
    r = invoke(amina, "peer", "rm", "Juma tablet", input="n\n")
    assert r.code == 2 and "not confirmed" in r.err
    r = invoke(amina, "peer", "revoke", "Juma tablet")  # no answer (a script): refuse
    assert r.code == 2 and "--yes" in r.err
    assert not ok(amina, "peer", "list", "--json").json()[0]["revoked"]
    ok(amina, "peer", "revoke", "Juma tablet", input="y\n")
    assert ok(amina, "peer", "list", "--json").json()[0]["revoked"]
    ok(amina, "peer", "rm", "Juma tablet", "--yes")
    assert ok(amina, "peer", "list", "--json").json() == []
    assert "--yes" in ok(None, "prune", "--help").out


def test_peer_list_shows_last_seen_readably(tmp_path: Path, amina: Path) -> None:
    juma = _pair(tmp_path, amina)
    assert "last seen never" in ok(amina, "peer", "list").out
    stick = tmp_path / "usb"
    stick.mkdir()
    ok(juma, "put", "c", '{"a": 1}')
    ok(juma, "export", str(stick))
    ok(amina, "import", str(stick))
    assert "last seen just now" in ok(amina, "peer", "list").out
    item = ok(amina, "peer", "list", "--json").json()[0]
    assert item["last_seen_iso"].endswith("Z")


# --- import, export, conflicts, status ----------------------------------------------

def _one_packet_from_juma(tmp_path: Path, amina: Path) -> tuple[Path, Path]:
    """A paired tablet exports one record for amina: the stick and its one packet."""
    juma = _pair(tmp_path, amina)
    stick = tmp_path / "usb"
    stick.mkdir()
    ok(juma, "put", "c", '{"a": 1}')
    ok(juma, "export", str(stick))
    return stick, next((stick / "sneakersync" / "v1" / "packets").iterdir())


def test_import_of_a_file_or_an_empty_folder_explains(tmp_path: Path, amina: Path) -> None:
    stick, pkt = _one_packet_from_juma(tmp_path, amina)
    r = invoke(amina, "import", str(pkt))
    assert "is a file, not a drive folder" in one_error_line(r, 2) and "inspect" in r.err
    r = invoke(amina, "import", str(stick / "sneakersync"))
    assert "inside the sneakersync folder" in one_error_line(r, 2) and str(stick) in r.err
    empty = tmp_path / "empty"
    empty.mkdir()
    r = invoke(amina, "import", str(empty))
    assert "no sneakersync data" in one_error_line(r, 3) and "hint:" in r.err


def test_rejected_packet_is_reported_once_with_its_name_once(tmp_path: Path,
                                                              amina: Path) -> None:
    stick, pkt = _one_packet_from_juma(tmp_path, amina)
    data = bytearray(pkt.read_bytes())
    data[-5] ^= 1  # tampered, and renamed to its new hash so the drive layer accepts it
    import hashlib

    pkt.unlink()
    bad = pkt.parent / (hashlib.sha256(data).hexdigest() + ".pkt")
    bad.write_bytes(bytes(data))
    r = invoke(amina, "import", str(stick))
    assert r.code == 1
    rejected = [x for x in r.err.splitlines() if x.startswith("rejected:")]
    assert len(rejected) == 1 and rejected[0].count(bad.stem[:4]) == 1
    r2 = invoke(amina, "import", str(stick))
    assert r2.code == 0 and "rejected:" not in r2.err
    assert "rejected by an earlier import" in r2.out


def test_conflicts_show_names_and_status_json(tmp_path: Path, amina: Path) -> None:
    juma = _pair(tmp_path, amina)
    edit_apart(amina, juma, tmp_path)
    text = ok(amina, "conflicts").out
    assert "Juma tablet" in text and "Amina clinic laptop (this device)" in text
    juma_id = ok(juma, "whoami", "--json").json()["device_id"]
    assert juma_id not in text.split("conflict ")[0]
    st = ok(amina, "status", "--json").json()
    peer = st["peers"][0]
    assert peer["name"] == "Juma tablet" and peer["open_conflicts"] == 1
    assert peer["last_seen_ago"] == "just now"
    assert peer["lacks"] == 1  # the edit to 6 was never sent to Juma
    assert st["open_conflicts"] == 1 and st["last_import"]["report"]["imported"] == 1
    assert (amina / "last-import.json").exists()
    human = ok(amina, "status").out
    assert "Juma tablet [unverified]: last seen just now" in human and "lacks 1 change" in human


def test_export_says_who_no_longer_gets_a_collection(tmp_path: Path, amina: Path) -> None:
    juma = _pair(tmp_path, amina)
    baraka = tmp_path / "baraka"
    ok(baraka, "init", "--name", "Baraka phone")
    ok(amina, "peer", "add", card(baraka))
    ok(amina, "put", "households", '{"a": 1}')
    r = ok(amina, "share", "households", "--with", "Juma tablet")
    assert "no longer shared with: Baraka phone" in r.out
    stick = tmp_path / "usb"
    stick.mkdir()
    out = ok(amina, "export", str(stick)).out
    assert "Baraka phone gets not households" in out
    assert juma.exists()


def test_one_fingerprint_format_everywhere(tmp_path: Path, amina: Path) -> None:
    juma = _pair(tmp_path, amina)
    stick = tmp_path / "usb"
    stick.mkdir()
    ok(juma, "put", "c", '{"a": 1}')
    res = ok(juma, "export", str(stick), "--json").json()
    fp = res["fingerprint"]
    assert re.fullmatch(r"[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}", fp)
    assert fp.replace("-", "") == res["packet_id"][:12]
    assert ok(amina, "inspect", res["files"][0], "--json").json()["fingerprint"] == fp
    from sneakersync.wire.qr_frame import fingerprint

    assert fingerprint(Path(res["files"][0]).read_bytes()) == fp


def test_verify_stick_packet_and_store(tmp_path: Path, amina: Path) -> None:
    juma = _pair(tmp_path, amina)
    stick = tmp_path / "usb"
    stick.mkdir()
    ok(juma, "put", "c", '{"a": 1}')
    res = ok(juma, "export", str(stick), "--json").json()
    assert ok(amina, "verify", str(stick), "--json").json()["ok"] is True
    assert "signed by Juma tablet" in ok(amina, "verify", res["files"][0]).out
    assert ok(amina, "verify", "--json").json()["ok"] is True
    junk = tmp_path / "junk.pkt"
    junk.write_bytes(b"not a packet")
    one_error_line(invoke(amina, "verify", str(junk)), 5)


def test_key_export_json_and_refuses_to_overwrite(tmp_path: Path, amina: Path) -> None:
    out = tmp_path / "me.agekey"
    assert ok(amina, "key", "export", "--age", "--out", str(out), "--json").json()["out"] \
        == str(out)
    before = out.read_bytes()
    r = invoke(amina, "key", "export", "--age", "--out", str(out))
    assert "already exists" in one_error_line(r, 2)
    assert out.read_bytes() == before
    j = ok(amina, "key", "export", "--age", "--json").json()
    assert j["identity"].startswith("AGE-SECRET-KEY-1") and j["recipient"].startswith("age1")
    one_error_line(invoke(amina, "key", "export", "--age", "--out",
                          str(tmp_path / "missing" / "k")), 3)


def test_group_commands_have_examples() -> None:
    import click

    from sneakersync.cli.commands import cli

    def walk(cmd: click.Command, path: str) -> None:
        if isinstance(cmd, click.Group):
            assert "Example" in (cmd.help or ""), path
            for name, sub in cmd.commands.items():
                walk(sub, f"{path} {name}")
    walk(cli, "sneakersync")

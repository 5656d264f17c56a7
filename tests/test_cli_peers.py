"""peer verify/trust/revoke/rm/rename, settings, share and whoami --qr, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sneakersync.cli.commands import cli
from sneakersync.errors import CardError, UsageError


def run(home: Path, *args: str, ok: bool = True):
    r = CliRunner().invoke(cli, ["--home", str(home), *args])
    if ok:
        assert r.exit_code == 0, (r.output, r.exception)
    return r


def js(home: Path, *args: str):
    return json.loads(run(home, *args, "--json").output)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    run(a, "init", "--name", "Amina")
    run(b, "init", "--name", "Juma")
    run(a, "peer", "add", js(b, "whoami")["card"])
    run(b, "peer", "add", js(a, "whoami")["card"])
    usb = tmp_path / "usb"
    usb.mkdir()
    return a, b, usb


def test_verify_shows_the_same_number_on_both_sides(pair) -> None:
    a, b, _ = pair
    na, nb = js(a, "peer", "verify", "Juma"), js(b, "peer", "verify", "Amina")
    assert na["safety_number"] == nb["safety_number"] and len(na["groups"]) == 12
    assert not na["verified"]
    assert "UNVERIFIED" in run(a, "peer", "list").output
    human = run(a, "peer", "verify", "Juma").output
    assert " ".join(na["groups"][:4]) in human and "--confirm" in human
    r = run(a, "peer", "verify", "Juma", "--number", "1" * 60, ok=False)
    assert isinstance(r.exception, UsageError)
    assert not js(a, "peer", "list")[0]["verified"]
    run(a, "peer", "verify", "Juma", "--confirm")
    assert js(a, "peer", "list")[0]["verified"]
    run(b, "peer", "verify", "Amina", "--number", " ".join(nb["groups"]))
    assert js(b, "peer", "list")[0]["verified"]
    assert "UNVERIFIED" not in run(a, "peer", "list").output


def test_default_trust_quarantine_then_trust_applies_held(tmp_path: Path, pair) -> None:
    a, b, usb = pair
    c = tmp_path / "c"
    run(c, "init", "--name", "Office")
    assert js(c, "settings", "default-trust", "quarantine") == {"default_trust": "quarantine"}
    assert js(c, "peer", "add", js(a, "whoami")["card"])["trust"] == "quarantine"
    assert js(c, "peer", "add", js(b, "whoami")["card"], "--trust", "trusted")["trust"] == "trusted"
    run(a, "peer", "add", js(c, "whoami")["card"])
    run(a, "put", "visits", '{"n": 1}', "--id", "v1")
    run(a, "export", str(usb), "--to", "Office")
    rep = js(c, "import", str(usb))
    assert rep["quarantined"] == 1 and rep["changes_applied"] == 0
    out = js(c, "peer", "trust", "Amina")
    assert out["held_applied"] == 1 and out["changes"] == 1
    assert "v1" in run(c, "rows", "visits").output
    assert js(c, "peer", "trust", "Amina", "--quarantine")["trust"] == "quarantine"


def test_rename_revoke_rm(pair) -> None:
    a, b, usb = pair
    run(b, "put", "visits", '{"n": 1}', "--id", "v1")
    run(b, "export", str(usb))
    run(a, "import", str(usb))
    assert js(a, "peer", "rename", "Juma", "Juma tablet")["name"] == "Juma tablet"
    out = js(a, "peer", "revoke", "Juma tablet", "--yes")
    assert out["revoked"] and out["last_counter"] == 1
    assert out["statement"]["type"] == "sneakersync/revocation"
    assert "revoked" in run(a, "peer", "list").output
    revs = js(a, "peer", "revocations")
    assert revs[0]["revoked_name"] == "Juma tablet" and revs[0]["last_counter"] == 1
    r = run(a, "export", str(usb), "--to", "Juma tablet", ok=False)
    assert isinstance(r.exception, UsageError)
    r = run(a, "peer", "trust", "Juma tablet", ok=False)
    assert isinstance(r.exception, UsageError)
    run(b, "put", "visits", '{"n": 2}', "--id", "v2")
    run(b, "export", str(usb))
    rep = json.loads(run(a, "import", str(usb), "--json", ok=False).output)
    assert rep["rejected"] and "revoked" in rep["rejected"][0]["error"]
    run(a, "peer", "rm", "Juma tablet", "--yes")
    assert js(a, "peer", "list") == []
    assert "v1" in run(a, "rows", "visits").output  # its data stays
    # the revocation outlives the peer row: re-adding the card gives a revoked peer
    r = run(a, "peer", "add", js(b, "whoami")["card"])
    assert js(a, "peer", "list")[0]["revoked"]


def test_share_rules_cli(tmp_path: Path, pair) -> None:
    a, b, usb = pair
    c = tmp_path / "c"
    run(c, "init", "--name", "Office")
    run(a, "peer", "add", js(c, "whoami")["card"])
    assert "no share rules" in run(a, "share", "--list").output
    run(a, "put", "patients", '{"n": 1}', "--id", "p1")
    run(a, "put", "visits", '{"n": 1}', "--id", "v1")
    assert "Office only" in run(a, "share", "patients", "--with", "Office").output
    run(a, "share", "visits", "--all", "--where", "n=1")
    rules = js(a, "share", "--list")
    assert {(r["collection"], r["peer"], r["share"], r["where"]) for r in rules} == {
        ("patients", "Office", True, None), ("visits", "*", True, "n=1")}
    r = run(a, "share", "visits", "--except", "Office", "--where", "n=1", ok=False)
    assert isinstance(r.exception, UsageError)
    out = js(a, "export", str(usb))
    assert out["packets"] == 2 and out["changes"] == 3 and len(out["files"]) == 2
    run(b, "import", str(usb))
    assert "p1" not in run(b, "rows", "patients").output
    assert "v1" in run(b, "rows", "visits").output


def test_whoami_qr_and_peer_add_scan_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("segno")
    pytest.importorskip("zxingcpp")
    a, b = tmp_path / "a", tmp_path / "b"
    run(a, "init", "--name", "Amina laptop")
    run(b, "init", "--name", "Juma")
    png = tmp_path / "card.png"
    assert js(a, "whoami", "--qr", str(png))["qr"] == str(png)
    term = run(a, "whoami", "--qr", "-").output
    assert "\u2588" in term and "SNK1:" in term
    added = js(b, "peer", "add", "--scan", str(png))
    assert added["name"] == "Amina laptop" and added["card"] == js(a, "whoami")["card"]
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("L", (64, 64), 255).save(blank)
    r = run(b, "peer", "add", "--scan", str(blank), ok=False)
    assert isinstance(r.exception, CardError)
    r = run(b, "peer", "add", ok=False)
    assert isinstance(r.exception, UsageError)

"""server init|use|enroll|held|devices|verify|ingest|export|status, receipts, prune, collection retention via the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


from sneakersync.cli.main import main

from conftest import REPO


def run(capsys, home: Path, *args: str, code: int = 0) -> str:
    capsys.readouterr()
    try:
        main(["--home", str(home), *args])
        got = 0
    except SystemExit as exc:
        got = int(exc.code or 0)
    out = capsys.readouterr()
    assert got == code, out.err
    return out.out if code == 0 else out.err


def test_server_flow_through_cli(tmp_path: Path, capsys, server_backend: str) -> None:
    srv, dev = tmp_path / "srv", tmp_path / "dev"
    stick = tmp_path / "usb"
    stick.mkdir()
    db = [] if server_backend == "sqlite" else ["--db", server_backend]
    info = json.loads(run(capsys, srv, "server", "init", "--name", "Office", *db, "--json"))
    assert info["kind"] == "server"
    assert info["store"]["backend"] == ("sqlite" if not db else "postgresql")
    who = json.loads(run(capsys, srv, "whoami", "--json"))
    assert who["kind"] == "server" and who["card"] == info["card"]
    run(capsys, dev, "init", "--name", "Amina")
    # a device card is refused as a server
    dcard = json.loads(run(capsys, dev, "whoami", "--json"))["card"]
    assert "not a server" in run(capsys, dev, "server", "use", dcard, code=2)
    used = json.loads(run(capsys, dev, "server", "use", info["card"], "--json"))
    assert used["kind"] == "server" and used["destination"]
    run(capsys, dev, "put", "households", '{"name": "A"}', "--id", "h1")
    run(capsys, dev, "put", "households", '{"name": "B"}', "--id", "h2")
    exp = json.loads(run(capsys, dev, "export", str(stick), "--json"))
    assert exp["recipients"] == ["Office"]
    exp2 = json.loads(run(capsys, dev, "export", str(stick), "--to", "Office", "--full",
                          "--json"))
    assert exp2["packets"] == 1
    # server commands refuse a device home
    assert "not a server" in run(capsys, dev, "server", "ingest", str(stick), code=2)
    # the device is not enrolled yet: its packets are held, not stored
    rep = json.loads(run(capsys, srv, "server", "ingest", str(stick), "--json"))
    assert rep["stored"] == 0 and rep["held"] == 2 and rep["receipts_written"] == 0
    held = json.loads(run(capsys, srv, "server", "held", "--json"))
    assert len(held) == 1 and held[0]["packets"] == 2 and held[0]["device"] is None
    # the coordinator enrolls the device's card: what was held is stored
    enrolled = json.loads(run(capsys, srv, "server", "enroll", dcard, "--name", "Amina",
                              "--json"))
    assert enrolled["held_stored"] == 2 and enrolled["changes_stored"] == 2
    assert "nothing held" in run(capsys, srv, "server", "held")
    devices = json.loads(run(capsys, srv, "server", "devices", "--json"))
    assert [(d["name"], d["trust"], d["verified"]) for d in devices] == [
        ("Amina", "trusted", False)]
    srv_number = json.loads(run(capsys, srv, "server", "verify", "Amina", "--json"))
    dev_number = json.loads(run(capsys, dev, "peer", "verify", "Office", "--json"))
    assert srv_number["safety_number"] == dev_number["safety_number"]
    run(capsys, srv, "server", "verify", "Amina", "--confirm")
    rep = json.loads(run(capsys, srv, "server", "ingest", str(stick), "--json"))
    assert rep["duplicates"] == 2 and rep["receipts_written"] == 1
    imp = json.loads(run(capsys, dev, "import", str(stick), "--json"))
    assert imp["receipts"] == 1
    assert "Office: receipt #2" in run(capsys, dev, "receipts")
    assert "would delete 0" in run(capsys, dev, "prune", "--dry-run")
    run(capsys, dev, "collection", "retention", "households", "after-receipt")
    run(capsys, dev, "put", "households", '{"name": "B2"}', "--id", "h2")  # edited since
    res = json.loads(run(capsys, dev, "prune", "--json", "--yes"))
    assert res["records"] == 1 and res["edited_since"] == 1
    rows = run(capsys, dev, "rows", "households")
    assert '"h2"' in rows and '"h1"' not in rows
    xml = run(capsys, srv, "server", "export", "--format", "s3xml", "--resource",
              "households=pr_household")
    assert 'name="pr_household"' in xml and 'uuid="urn:uuid:' in xml
    status = json.loads(run(capsys, srv, "server", "status", "--json"))
    assert status["totals"]["devices"] == 1 and status["devices"][0]["name"] == "Amina"
    assert status["store"]["backend"] == info["store"]["backend"]
    assert status["rate"]["packets_last_minute"] == 2
    text = run(capsys, srv, "server", "status")
    assert f"store: {info['store']['backend']}" in text and "packets/s" in text
    assert "days:N" in run(capsys, dev, "collection", "retention", "households", "soon",
                           code=2)


def test_help_does_not_import_server_extras() -> None:
    code = ("import sys\nfrom sneakersync.cli.main import main\n"
            "for argv in (['--help'], ['server', '--help'], ['push', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print('HEAVY', [m for m in ('starlette', 'uvicorn', 'httpx') if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True).stdout
    assert "HEAVY []" in out and "ingest" in out and "Upload" in out

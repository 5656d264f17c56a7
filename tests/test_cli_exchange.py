"""export / import / inspect / key export / conflicts through the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, cli


run = cli


def card(home: Path) -> str:
    return json.loads(run(home, "whoami", "--json").stdout)["card"]


@pytest.fixture
def trio(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    homes = [tmp_path / n for n in ("a", "b", "c")]
    for h, n in zip(homes, ("Amina", "Juma", "Office")):
        run(h, "init", "--name", n)
    for h in homes:
        for o in homes:
            if o != h:
                run(h, "peer", "add", card(o))
    usb = tmp_path / "usb"
    usb.mkdir()
    return (*homes, usb)  # type: ignore[return-value]


def test_exchange_conflict_and_reimport(trio) -> None:
    a, b, c, usb = trio
    run(a, "put", "hh", '{"size": 4}', "--id", "h1")
    out = json.loads(run(a, "export", str(usb), "--json").stdout)
    assert out["packets"] == 1 and out["recipients"] == ["Juma", "Office"]
    for h in (b, c):
        rep = json.loads(run(h, "import", str(usb), "--json").stdout)
        assert rep["imported"] == 1 and rep["changes_applied"] == 1
    run(a, "put", "hh", '{"size": 5}', "--id", "h1")
    run(b, "put", "hh", '{"size": 6}', "--id", "h1")
    run(a, "export", str(usb))
    run(b, "export", str(usb))
    rep = json.loads(run(c, "import", str(usb), "--json").stdout)
    assert rep["conflicts"] >= 1 and rep["open_conflicts"] >= 1
    assert rep["duplicates"] == 1
    again = json.loads(run(c, "import", str(usb), "--json").stdout)
    assert again["changes_applied"] == 0 and again["imported"] == 0
    conf = json.loads(run(c, "conflicts", "--json").stdout)
    assert len(conf) == 1 and len(conf[0]["versions"]) == 2
    res = json.loads(run(c, "conflicts", "resolve", conf[0]["conflict"], "--data",
                         '{"size": 7}', "--json").stdout)
    assert res["data"] == {"size": 7}
    assert json.loads(run(c, "conflicts", "--json").stdout) == []
    run(c, "export", str(usb))
    run(a, "import", str(usb))
    assert json.loads(run(a, "get", "hh", "h1", "--json").stdout)["data"] == {"size": 7}


def test_rejected_packet_reported_and_others_applied(trio) -> None:
    a, b, c, usb = trio
    run(a, "put", "hh", '{"size": 4}')
    run(a, "export", str(usb), "--to", "Juma")
    junk = b"age-encryption.org/v1\n-> X25519 garbage\n" + b"x" * 300  # not too small to read
    pdir = usb / "sneakersync/v1/packets"
    (pdir / (hashlib.sha256(junk).hexdigest() + ".pkt")).write_bytes(junk)
    (pdir / ("0" * 64 + ".pkt")).write_bytes(b"not matching its name")
    p = run(b, "import", str(usb), "--json", ok=False)
    assert p.returncode == 1
    rep = json.loads(p.stdout)
    assert rep["imported"] == 1 and len(rep["rejected"]) == 2
    assert {r["error"].split(":")[0] for r in rep["rejected"]} == {"header", "payload"}


def test_inspect_and_key_export(trio, tmp_path: Path) -> None:
    a, b, c, usb = trio
    run(a, "put", "hh", '{"size": 4}')
    out = json.loads(run(a, "export", str(usb), "--to", "Juma", "--json").stdout)
    pkt = out["files"][0]
    mine = json.loads(run(b, "inspect", pkt, "--json").stdout)
    assert mine["for_this_device"] == "yes" and mine["sender"]["peer"] == "Amina"
    assert mine["changes"] == 1 and mine["recipients"] == 1
    other = json.loads(run(c, "inspect", pkt, "--json").stdout)
    assert other["for_this_device"] == "no" and "sender" not in other
    key = run(b, "key", "export", "--age").stdout
    assert "AGE-SECRET-KEY-1" in key
    from sneakersync.wire import age
    secret = age.decode_identity([l for l in key.splitlines() if l.startswith("AGE-")][0])
    header, plain = age.decrypt(Path(pkt).read_bytes(), secret)
    assert plain.startswith(b"SNKENV1\n")
    kf = tmp_path / "k.txt"
    run(b, "key", "export", "--age", "--out", str(kf))
    assert kf.stat().st_mode & 0o777 == 0o600


def test_unknown_sender_quarantined_via_cli(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    run(a, "init", "--name", "Stranger")
    run(b, "init", "--name", "Me")
    run(a, "peer", "add", card(b))
    run(a, "put", "hh", '{"x": 1}', "--id", "q1")
    usb = tmp_path / "usb"
    usb.mkdir()
    run(a, "export", str(usb))
    rep = json.loads(run(b, "import", str(usb), "--json").stdout)
    assert rep["quarantined"] == 1 and rep["changes_applied"] == 0
    held = json.loads(run(b, "quarantine", "--json").stdout)
    sender = held[0]["sender"]
    run(b, "quarantine", "accept", sender, "--add-peer")
    assert json.loads(run(b, "get", "hh", "q1", "--json").stdout)["data"] == {"x": 1}


KILL_CHILD = """
import sys
from sneakersync.cli.main import main
main(['--home', sys.argv[1], 'import', sys.argv[2]])
"""


def test_kill_9_during_import_then_rerun_gives_clean_result(tmp_path: Path) -> None:
    from sneakersync.store import home as home_mod
    from sneakersync.store import peers
    from sneakersync.media.drive import export_to_drive
    a = home_mod.create(tmp_path / "a", "A")
    homes = [home_mod.create(tmp_path / f"b{i}", f"B{i}") for i in range(2)]
    sa = a.open_store()
    usb = tmp_path / "usb"
    usb.mkdir()
    for h in homes:
        s = h.open_store()
        peers.add(s, a.card.encode())
        s.close()
        peers.add(sa, h.card.encode())
    for batch in range(4):
        sa.write_many("c", [(f"r{batch}-{i}", {"i": i, "t": "x" * 100}) for i in range(2000)])
        export_to_drive(a, sa, usb, [homes[0].name])
    sa.close()
    import shutil
    master = tmp_path / "usb-master"  # import cleans what every recipient holds: each run
    shutil.copytree(usb, master)      # starts from the same stick
    # reference: a clean import into B1 (same packets: export also lists B1? no: build for B1)
    t0 = time.perf_counter()
    clean = subprocess.run([sys.executable, "-c", KILL_CHILD, str(homes[0].path), str(usb)],
                           cwd=REPO, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    clean_s = time.perf_counter() - t0
    ref = homes[0].open_store().snapshot()
    import random
    rnd = random.Random(7)
    victim = tmp_path / "victim"
    for trial in range(3):
        import shutil
        shutil.rmtree(victim, ignore_errors=True)
        shutil.copytree(homes[0].path, victim)
        # reset the victim's store to empty by re-creating it with the same keys
        (victim / "store.db").unlink()
        for extra in ("store.db-wal", "store.db-shm"):
            (victim / extra).unlink(missing_ok=True)
        vs = home_mod.load(victim).open_store()
        peers.add(vs, a.card.encode())
        vs.close()
        shutil.rmtree(usb)
        shutil.copytree(master, usb)
        p = subprocess.Popen([sys.executable, "-c", KILL_CHILD, str(victim), str(usb)], cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rnd.random() * clean_s)  # anywhere within a clean run
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        s = home_mod.load(victim).open_store()
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        s.close()
        rerun = subprocess.run([sys.executable, "-c", KILL_CHILD, str(victim), str(usb)],
                               cwd=REPO, capture_output=True, text=True)
        assert rerun.returncode == 0, rerun.stderr
        s = home_mod.load(victim).open_store()
        assert s.snapshot() == ref
        s.close()


def test_inspect_of_a_non_packet_is_an_error(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("shopping list\n")
    p = run(tmp_path / "nobody", "inspect", str(junk), ok=False)
    assert p.returncode == 5 and "is not a sneakersync packet" in p.stderr.splitlines()[0]

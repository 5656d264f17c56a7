"""`sneakersync beacon advertise|scan` across processes on bumble's virtual controllers,
and the demo hook on the in-process virtual link."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sneakersync.store import home as home_mod
from sneakersync.store import peers

from conftest import REPO

pytest.importorskip("bumble")
from test_beacon_crossproc import _kill, _spawn, controllers  # noqa: E402,F401

PY = sys.executable
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "sneakersync", "--home", str(home), *args],
                          capture_output=True, text=True, env=ENV, timeout=60, cwd=REPO)


@pytest.fixture
def homes(tmp_path: Path) -> dict[str, Path]:
    made = {}
    for label, name in (("a", "Amina"), ("b", "Juma"), ("s", "Stranger")):
        made[label] = home_mod.create(tmp_path / label, name).path
    ha, hb = home_mod.load(made["a"]), home_mod.load(made["b"])
    for me, other in ((ha, hb), (hb, ha)):
        st = me.open_store()
        peers.add(st, other.card.encode())
        st.close()
    for h, rid in ((ha, "from-amina"), (hb, "from-juma")):
        st = h.open_store()
        st.put("visits", {"by": h.name}, rid)
        st.close()
    return made


def test_scan_names_a_peer_and_not_a_stranger(controllers, homes, tmp_path) -> None:  # noqa: F811
    p1, p2 = controllers
    adv = _spawn("-m", "sneakersync", "--home", str(homes["a"]), "beacon", "advertise",
                 "--transport", f"tcp-client:127.0.0.1:{p1}", "--duration", "30")
    try:
        assert adv.stderr is not None
        line = adv.stderr.readline()
        assert "advertising 'Amina'" in line and "Juma" in line, line
        scan = cli(homes["b"], "beacon", "scan", "--transport", f"tcp-client:127.0.0.1:{p2}",
                   "--timeout", "1.5", "--json")
        assert scan.returncode == 0, scan.stderr
        found = json.loads(scan.stdout)
        assert len(found) == 1, found
        assert found[0]["name"] == "Amina" and found[0]["known"] and not found[0]["verified"]
        assert found[0]["hints"] == ["holds data for you"] and found[0]["index"] == 1
        assert found[0]["device_id"] == home_mod.load(homes["a"]).device_id
        other = cli(homes["s"], "beacon", "scan", "--transport", f"tcp-client:127.0.0.1:{p2}",
                    "--timeout", "0.8")
        assert other.returncode == 0, other.stderr
        assert "unknown device" in other.stdout and "Amina" not in other.stdout
        # pick it and go straight to an exchange: a packet for Amina on a drive
        usb = tmp_path / "usb"
        usb.mkdir()
        picked = cli(homes["b"], "beacon", "scan", "--transport", f"tcp-client:127.0.0.1:{p2}",
                     "--timeout", "0.8", "--pick", "1", "--export", str(usb))
        assert picked.returncode == 0, picked.stderr
        assert " 1. Amina (UNVERIFIED)" in picked.stdout
        assert "wrote 1 packet (" in picked.stdout and "for Amina" in picked.stdout
        assert list(usb.glob("**/*.pkt"))
    finally:
        _kill(adv)


def test_demo_hook(homes, tmp_path) -> None:
    from sneakersync.demo.beacon import run_beacon_demo

    lines: list[str] = []
    run_beacon_demo(tmp_path, {"Amina": homes["a"], "Juma": homes["b"], "Office": homes["s"]},
                    lines.append)
    text = "\n".join(lines)
    assert "1. Amina (UNVERIFIED)" in text and "holds data for you" in text
    assert "unknown device" in text and "numbers are equal" in text
    hb = home_mod.load(homes["b"])
    st = hb.open_store()
    try:
        assert peers.get(st, "Amina").verified
    finally:
        st.close()

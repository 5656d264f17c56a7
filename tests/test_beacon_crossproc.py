"""Beacon across processes: two virtual controllers served over TCP on 127.0.0.1
by ``python -m bumble.apps.controllers``, an advertiser process on one, a scanner
process on the other (the recipe of docs/ble-virtual.md)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Iterator

import pytest

from sneakersync.media.beacon.virtual import free_local_port

pytest.importorskip("bumble")
PY = sys.executable
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([PY, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV, start_new_session=True)


def _kill(proc: subprocess.Popen[str]) -> None:
    """Terminate one process we started (by its pid), escalating to SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


def _wait_listening(port: int, proc: subprocess.Popen[str], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"controllers exited: {proc.stderr.read() if proc.stderr else ''}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture()
def controllers() -> Iterator[tuple[int, int]]:
    p1, p2 = free_local_port(), free_local_port()
    while p2 == p1:
        p2 = free_local_port()
    proc = _spawn("-m", "bumble.apps.controllers", f"tcp-server:127.0.0.1:{p1}",
                  f"tcp-server:127.0.0.1:{p2}")
    try:
        _wait_listening(p1, proc)
        _wait_listening(p2, proc)
        time.sleep(0.1)  # let the probe connections' close be seen first
        yield p1, p2
    finally:
        _kill(proc)


def _scan(port: int, *args: str) -> list[dict]:
    out = subprocess.run([PY, "-m", "sneakersync.media.beacon", "scan", "--transport",
                          f"tcp-client:127.0.0.1:{port}", "--json", *args],
                         capture_output=True, text=True, env=ENV, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_two_processes(controllers: tuple[int, int]) -> None:
    p1, p2 = controllers
    adv = _spawn("-m", "sneakersync.media.beacon", "advertise", "--transport",
                 f"tcp-client:127.0.0.1:{p1}", "--as", "alice", "--data-for", "bob",
                 "--server-data")
    try:
        assert adv.stderr is not None
        assert "advertising" in adv.stderr.readline()
        found = _scan(p2, "--as", "bob", "--peer", "alice", "--timeout", "1.5")
        assert len(found) == 1, found
        assert found[0]["name"] == "alice" and found[0]["known"]
        assert found[0]["hints"] == ["holds data for you", "has data for the server"]
        assert found[0]["rssi"] is not None
        # a scanner that does not know alice sees an unknown device, no hints
        stranger = _scan(p2, "--as", "eve", "--timeout", "0.5")
        assert [(n["name"], n["hints"]) for n in stranger] == [("unknown device", [])]
        # SIGTERM stops the advertiser cleanly, and it takes its advertisement off the air
        adv.send_signal(signal.SIGTERM)
        assert adv.wait(timeout=10) == 0
        assert _scan(p2, "--as", "bob", "--peer", "alice", "--timeout", "0.5") == []
    finally:
        _kill(adv)


def test_refused_transport_exit_code() -> None:
    out = subprocess.run([PY, "-m", "sneakersync.media.beacon", "scan", "--transport",
                          f"tcp-client:127.0.0.1:{free_local_port()}", "--timeout", "0.2"],
                         capture_output=True, text=True, env=ENV, timeout=60)
    assert out.returncode == 6
    assert out.stderr.startswith("sneakersync: error: cannot open Bluetooth transport")
    assert "hint: " in out.stderr

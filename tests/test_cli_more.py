"""More of issue 14 as the user met it: the demo's words, shell completion, whoami --card."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cli_runner import card, ok
from conftest import REPO


def test_demo_speaks_a_coordinators_language(tmp_path: Path) -> None:
    out = ok(None, "demo", "--fast", "--dir", str(tmp_path / "demo")).out
    assert "packet(s)" not in out and "1 new packets" not in out and " 1 changes" not in out
    assert "for others" not in out and "duplicates from relays" not in out
    # conflicts name devices, never their ids
    assert "Juma field tablet says priority" in out
    ids = {line.split()[-1] for line in out.splitlines() if line.strip().startswith("id ")}
    assert not ids
    import re

    assert not re.search(r"\b[a-z2-7]{16}\b(?!\.)", out.split("== 10.")[0].replace(
        "SNK1:", "")), "a device id in the narration"
    # the server is created before its first command is shown
    assert out.index("server init") < out.index("server ingest")


def test_shell_completion_is_documented_and_works() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "_SNEAKERSYNC_COMPLETE=bash_source sneakersync" in readme
    env = dict(os.environ, COMP_WORDS="sneakersync pe", COMP_CWORD="1",
               _SNEAKERSYNC_COMPLETE="bash_complete")
    p = subprocess.run([sys.executable, "-m", "sneakersync"], env=env, capture_output=True,
                       text=True, cwd=REPO)
    assert "peer" in p.stdout.split()[-1] or "plain,peer" in p.stdout


def test_whoami_card_is_what_peer_add_takes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    ok(a, "init", "--name", "Amina")
    ok(b, "init", "--name", "Juma")
    text = ok(a, "whoami", "--card").out.strip()
    assert text == card(a) and text.startswith("SNK1:")
    assert ok(b, "peer", "add", text, "--json").json()["name"] == "Amina"


def test_long_exchanges_show_progress_on_stderr_unless_quiet_or_json(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    ok(a, "init", "--name", "Amina")
    ok(b, "init", "--name", "Juma")
    ok(a, "peer", "add", card(b))
    ok(b, "peer", "add", card(a))
    ok(a, "put", "c", '{"x": 1}')
    stick = tmp_path / "usb"
    stick.mkdir()
    env = {"SNEAKERSYNC_PROGRESS": "1"}
    r = ok(a, "export", str(stick), env=env)
    assert "exporting for Juma ..." in r.err and "wrote a packet" in r.out
    r = ok(b, "import", str(stick), env=env)
    assert "importing 1 packet (" in r.err and " MB) ... " in r.err
    assert "importing" not in ok(b, "import", str(stick), "--json", env=env).err
    assert "importing" not in ok(b, "-q", "import", str(stick), env=env).err


def test_quarantine_names_the_sender_and_accepts_its_name(tmp_path: Path) -> None:
    a, s = tmp_path / "a", tmp_path / "stranger"
    ok(a, "init", "--name", "Amina")
    ok(s, "init", "--name", "Baraka phone")
    ok(s, "peer", "add", card(a))  # it knows us; we never added it
    ok(s, "put", "c", '{"x": 1}')
    stick = tmp_path / "usb"
    stick.mkdir()
    ok(s, "export", str(stick))
    r = ok(a, "import", str(stick))
    assert "held: packet" in r.err
    listed = ok(a, "quarantine").out
    import re

    sender = re.search(r"from .*? \((\S+)\): ", listed)
    assert sender and "quarantine accept SENDER" in listed
    ok(a, "quarantine", "accept", sender.group(1))
    assert ok(a, "rows", "c").out.count('"x": 1') == 1

"""qr send / qr receive through the CLI: a packet through a video file, and an ack back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("raptorq")
pytest.importorskip("zxingcpp")

from conftest import cli  # noqa: E402


run = cli


def test_qr_handover_through_video_with_ack(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    run(a, "init", "--name", "Amina")
    run(b, "init", "--name", "Juma")
    for x, y in ((a, b), (b, a)):
        run(x, "peer", "add", json.loads(run(y, "whoami", "--json").stdout)["card"])
    recs = tmp_path / "r.jsonl"
    recs.write_text("".join(json.dumps({"id": f"mp{i}", "name": f"Person {i}",
                                        "notes": "vu pour la dernière fois près du marché " * 3})
                            + "\n" for i in range(120)), encoding="utf-8")
    run(a, "load", "missing_persons", str(recs))
    video = tmp_path / "handover.mp4"
    sent = json.loads(run(a, "qr", "send", "--out", str(video), "--json").stdout)
    assert sent["frames"] >= 1 and sent["changes"] == 120 and video.exists()
    ack = tmp_path / "ack.png"
    got = json.loads(run(b, "qr", "receive", "--video", str(video), "--ack-out", str(ack),
                         "--json").stdout)
    assert got["imported"] == 1 and got["changes_applied"] == 120
    assert got["fingerprints"][0] == sent["packet_fingerprints"][0][:len(got["fingerprints"][0])]
    assert json.loads(run(b, "get", "missing_persons", "mp7", "--json").stdout)["data"]["name"] \
        == "Person 7"
    # the same video again changes nothing
    again = json.loads(run(b, "qr", "receive", "--video", str(video), "--json").stdout)
    assert again["changes_applied"] == 0
    # before the ack, a's next stream would send everything again; after it, nothing
    assert json.loads(run(a, "qr", "send", "--out", str(tmp_path / "x.gif"), "--json",
                          "--ack-image", str(ack)).stdout)["ack"]["taken"] is True
    assert json.loads(run(a, "qr", "send", "--out", str(tmp_path / "y.gif"), "--json")
                      .stdout)["packets"] == 0


def test_qr_receive_needs_one_source(tmp_path: Path) -> None:
    a = tmp_path / "a"
    run(a, "init", "--name", "Amina")
    p = run(a, "qr", "receive", ok=False)
    assert p.returncode == 2 and "exactly one of" in p.stderr

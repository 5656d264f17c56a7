"""Lost-stick audit: a finder learns nothing but that packets exist, and their sizes.

Runs the demo scenario and scans every name, content and file time on the stick
for field values, record ids, collection and device names, device ids, public
keys (raw/hex/base64/base32) and dates.  ``benchmarks/lost_stick_audit.py`` is the
same audit as a script (results/lost_stick.json).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import lost_stick_audit as A  # noqa: E402


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("audit")
    out = A.audit(work)
    out["work"] = work
    return out


def test_stick_reveals_no_plaintext(result: dict) -> None:
    assert result["files_scanned"] >= 3 and result["needles_total"] > 1000
    assert result["needles"]["field value"] > 100 and result["needles"]["public key"] > 0
    assert result["hits"] == 0, result["hit_list"]


def test_file_times_are_fixed(result: dict) -> None:
    assert result["file_mtimes_fixed"]


def test_packet_sizes_fall_in_padding_buckets(result: dict) -> None:
    sizes = result["sizes"]
    assert sizes["packets"] >= 2
    # envelopes are padded to 4 KiB: sizes differ only by the outer header (recipient count)
    assert sizes["distinct_sizes"] <= sizes["packets"]
    assert len(sizes["size_mod_4096"]) <= 4


def test_scanner_finds_planted_plaintext(result: dict, tmp_path: Path) -> None:
    """Positive control: the same scan flags a leak when there is one."""
    work = result["work"]
    secrets = A.collect_secrets(work, time.time())
    values = sorted(v for v in secrets["field value"] if b"\x00" not in v)
    value = values[len(values) // 2]
    name = next(n for n in sorted(secrets["device name"]) if n.isascii() and b"\x00" not in n)
    stick = tmp_path / "stick"
    (stick / "x").mkdir(parents=True)
    (stick / "x" / "leak.bin").write_bytes(b"\x00junk" + value + b"junk")
    (stick / "x" / name.decode()).write_bytes(b"")
    os.utime(stick / "x" / "leak.bin", (A.FIXED_MTIME, A.FIXED_MTIME))
    hits = A.scan(stick, secrets, time.time())["hits"]
    kinds = {(h["where"], h["category"]) for h in hits}
    assert ("content", "field value") in kinds and ("name", "device name") in kinds


def test_folder_times_reveal_nothing(result: dict) -> None:
    """The layout's folders carry the fixed time too (the stick's own root is the user's)."""
    inner = [p for p in result["directory_mtimes_reveal_write_time"] if p.startswith("sneakersync")]
    assert not inner

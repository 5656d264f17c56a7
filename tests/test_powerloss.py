"""Power loss and media faults on the stick.

* Power loss (tests/crash/crashfs.py, after SQLite's crash VFS): writes are held
  until fsync; at the k-th sync the power fails and each pending write is kept,
  dropped or replaced with garbage, each pending directory entry kept or dropped.
  k advances until the exports complete.  A later import accepts only whole,
  valid packets, all of them byte-identical to what a clean export wrote; an
  export that recorded its knowledge as sent has its packet durably on the stick;
  a retry reaches the clean result.
* Errors: a full stick (ENOSPC), a write-protected card (EROFS), I/O errors and a
  stick pulled mid-write give a typed MediaError, leave the store unchanged
  (nothing recorded as sent) and no partial packet; a retry succeeds.
* The same for real on a tiny tmpfs (needs root and mount; skipped otherwise).
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "crash"))

import scenario as S  # noqa: E402
from crashfs import CrashFs, FaultFs, PowerLoss  # noqa: E402

from sneakersync.media import drive as drive_mod  # noqa: E402
from sneakersync.store import home as home_mod  # noqa: E402
from sneakersync.media.drive import Drive  # noqa: E402
from sneakersync.errors import MediaError  # noqa: E402

NOW = 1_760_000_000_000
EXPORTERS = ("alice", "carol")
DAMAGES_PER_K = 6


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("powerloss")
    return S.make_template(root / "template", records=200, packets=2)


def _export_all(work: Path, fs: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each exporter writes one packet for all its peers; returns who completed."""
    monkeypatch.setattr(drive_mod, "Drive", functools.partial(Drive, fs=fs) if fs else Drive)
    done = []
    try:
        for i, name in enumerate(EXPORTERS):
            h = home_mod.load(work / name)
            st = h.open_store()
            try:
                drive_mod.export_to_drive(h, st, work / "stick", [], rng=S._rng(100 + i), now=NOW)
            finally:
                st.close()
            done.append(name)
    finally:
        monkeypatch.setattr(drive_mod, "Drive", Drive)
    return done


def _packets(stick: Path) -> dict[str, bytes]:
    d = stick / "sneakersync" / "v1" / "packets"
    return {p.name: p.read_bytes() for p in d.iterdir()} if d.is_dir() else {}


@pytest.fixture(scope="module")
def clean(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = S.clone(template, tmp_path_factory.mktemp("clean") / "w")
    mp = pytest.MonkeyPatch()
    fs = CrashFs(work / "stick")
    try:
        _export_all(work, fs, mp)
    finally:
        mp.undo()
    S.rerun("import", work)
    return {"packets": _packets(work / "stick"), "syncs": fs.syncs,
            "bob": S.state(work / "bob", packets=False),
            "sent": {n: S.sent_knowledge(work / n) for n in EXPORTERS}}


def test_power_loss_at_every_sync(template: Path, clean: dict[str, Any], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    before = _packets(template / "stick")
    before_sent = {n: S.sent_knowledge(template / n) for n in EXPORTERS}
    allowed = {**before, **clean["packets"]}
    assert clean["syncs"] >= 2 * len(EXPORTERS)
    k, trials = 1, 0
    while True:
        completed_all = False
        for seed in range(DAMAGES_PER_K):
            work = S.clone(template, tmp_path / "w")
            fs = CrashFs(work / "stick", crash_at=k)
            try:
                done = _export_all(work, fs, monkeypatch)
                completed_all = True
            except PowerLoss:
                done = None
            trials += 1
            if completed_all:
                break
            fates = fs.materialize(tmp_path / "after", random.Random(k * 1000 + seed))
            shutil.rmtree(work / "stick")
            shutil.move(str(tmp_path / "after"), str(work / "stick"))
            on_stick = _packets(work / "stick")
            ctx = f"k={k} seed={seed} fates={fates}"
            # only whole packets with verifying names; each one a clean export's bytes
            for name, data in on_stick.items():
                assert hashlib.sha256(data).hexdigest() + ".pkt" == name, ctx
                assert allowed.get(name) == data, ctx
            # an exporter that recorded 'sent' has its packet durably on the stick
            for n in EXPORTERS:
                sent = S.sent_knowledge(work / n)
                if sent != before_sent[n]:
                    assert sent == clean["sent"][n], ctx
                    assert len(set(on_stick) - set(before)) >= 1, ctx
                assert S.integrity(work / n / "store.db") == "ok"
            # import takes exactly the whole packets, then a retry reaches the clean state
            S.rerun("import", work)
            _export_all(work, None, monkeypatch)
            S.rerun("import", work)
            assert S.state(work / "bob", packets=False) == clean["bob"], ctx
        if completed_all:
            break
        k += 1
    assert k == clean["syncs"] + 1  # every sync point was a crash point once
    assert trials >= clean["syncs"] * DAMAGES_PER_K


FAULTS = [
    ("open", 1, errno.ENOSPC, False), ("open", 1, errno.EROFS, False),
    ("write", 1, errno.ENOSPC, False), ("write", 1, errno.EIO, False),
    ("fsync", 1, errno.EIO, False), ("utime", 1, errno.EROFS, False),
    ("replace", 1, errno.ENOSPC, False), ("replace", 1, errno.EIO, False),
    ("write", 1, errno.EIO, True), ("replace", 1, errno.ENOENT, True),
]


@pytest.mark.parametrize("op,nth,err,pull", FAULTS,
                         ids=[f"{o}-{errno.errorcode[e]}{'-pulled' if p else ''}"
                              for o, _, e, p in FAULTS])
def test_export_media_error_is_typed_and_leaves_no_trace(
        template: Path, clean: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        op: str, nth: int, err: int, pull: bool) -> None:
    work = S.clone(template, tmp_path / "w")
    before_sent = S.sent_knowledge(work / "alice")
    before_alice = S.state(work / "alice")
    fs = FaultFs(op, nth, err, pull=(work / "stick") if pull else None)
    with pytest.raises(MediaError) as info:
        _export_all(work, fs, monkeypatch)
    assert info.value.exit_code == 6 and info.value.layer == "media"
    assert S.sent_knowledge(work / "alice") == before_sent  # nothing recorded as sent
    assert S.state(work / "alice") == before_alice
    if pull:
        S.clone(template / "stick", work / "stick")  # the stick is plugged back in
    else:
        assert _packets(work / "stick") == _packets(template / "stick")  # no partial packet
        assert not os.listdir(work / "stick" / "sneakersync" / "v1" / "tmp")
    _export_all(work, None, monkeypatch)  # the retry succeeds
    S.rerun("import", work)
    assert S.state(work / "bob", packets=False) == clean["bob"]


@pytest.mark.parametrize("op,err", [("listdir", errno.EIO), ("read", errno.EIO)])
def test_import_media_error_changes_nothing(template: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, op: str,
                                            err: int) -> None:
    work = S.clone(template, tmp_path / "w")
    before = S.state(work / "bob")
    monkeypatch.setattr(drive_mod, "Drive", functools.partial(Drive, fs=FaultFs(op, 1, err)))
    h = home_mod.load(work / "bob")
    st = h.open_store()
    try:
        try:
            rep = drive_mod.import_from_drive(h, st, work / "stick")
        except MediaError:
            rep = None
    finally:
        st.close()
    monkeypatch.setattr(drive_mod, "Drive", Drive)
    if op == "read":  # one unreadable packet is reported; the others still import
        assert rep is not None and len(rep.rejected) == 1 and "media" in rep.rejected[0]["error"]
    else:
        assert rep is None and S.state(work / "bob") == before
    S.rerun("import", work)
    clean_work = S.clone(template, tmp_path / "c")
    S.rerun("import", clean_work)
    assert S.state(work / "bob", packets=False) == S.state(clean_work / "bob", packets=False)


# --- for real, on a tiny tmpfs ---------------------------------------------------------


def _mount(path: Path, opts: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
                       capture_output=True)
    return r.returncode == 0


def _remount(path: Path, opts: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{opts}", str(path)], check=True,
                   capture_output=True)


@pytest.fixture
def tiny_stick(tmp_path: Path) -> Any:
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    if not _mount(mnt, "size=64k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_real_full_and_read_only_stick(template: Path, tmp_path: Path, tiny_stick: Path) -> None:
    work = S.clone(template, tmp_path / "w")
    h = home_mod.load(work / "alice")
    st = h.open_store()
    rnd = random.Random(5)
    st.write_many("photos", [(f"p{i}", {"b64": rnd.randbytes(120).hex()}) for i in range(700)])
    shutil.copytree(work / "stick", tiny_stick, dirs_exist_ok=True)
    before = S.sent_knowledge(work / "alice")
    try:
        with pytest.raises(MediaError) as info:  # the packet is larger than the stick
            drive_mod.export_to_drive(h, st, tiny_stick, [])
        assert "full" in str(info.value)
        assert S.sent_knowledge(work / "alice") == before
        assert _packets(tiny_stick) == _packets(template / "stick")
        assert not os.listdir(tiny_stick / "sneakersync" / "v1" / "tmp")
        _remount(tiny_stick, "ro")
        with pytest.raises(MediaError) as info:
            drive_mod.export_to_drive(h, st, tiny_stick, [])
        assert "write-protected" in str(info.value)
        assert S.sent_knowledge(work / "alice") == before
        _remount(tiny_stick, "rw,size=4m")
        res = drive_mod.export_to_drive(h, st, tiny_stick, [])  # retry on a bigger stick
        assert res["packets"] == 1
    finally:
        st.close()
    hb = home_mod.load(work / "bob")
    sb = hb.open_store()
    try:
        rep = drive_mod.import_from_drive(hb, sb, tiny_stick)
        assert not rep.rejected and sum(1 for _ in sb.rows("photos")) == 700
    finally:
        sb.close()


def test_export_clears_partial_writes_left_long_ago(make_device, tmp_path, monkeypatch) -> None:
    import time
    from conftest import befriend
    from sneakersync.media.drive import export_to_drive
    a, b = make_device("pa"), make_device("pb")
    befriend(a, b)
    usb = tmp_path / "usb"
    usb.mkdir()
    a.store.put("c", {"x": 1}, "r1")
    export_to_drive(a.home, a.store, usb, [])
    part = usb / "sneakersync" / "v1" / "tmp" / ("a" * 32 + ".part")
    part.write_bytes(b"half a packet")
    a.store.put("c", {"x": 2}, "r2")
    export_to_drive(a.home, a.store, usb, [])
    assert part.exists()  # recent: it may be another device's write in progress
    later = time.time() + 7200
    monkeypatch.setattr(time, "time", lambda: later)
    a.store.put("c", {"x": 3}, "r3")
    export_to_drive(a.home, a.store, usb, [])
    assert not part.exists()  # two hours old: abandoned

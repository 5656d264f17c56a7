"""Crash-safe persistence of received symbols, so a partial stream resumes.

Layout under the caller's state folder::

    <packet_id hex>-<total_len>-<symbol_size>/seg-<n>.frames

Each segment is immutable: the raw frames (fixed size, each with its own
CRC) appended since the previous checkpoint, written temp + fsync + rename.
On load every frame is re-validated, so a torn or tampered file costs only
the frames that fail.  Frames reveal nothing beyond what the screen showed.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from sneakersync.errors import FrameError
from sneakersync.wire.qr_frame import Frame, decode_frame, frame_size
from sneakersync.store.durable import atomic_write

MAX_SEGMENTS = 64
MAX_STREAM_DIRS = 32


def stream_dirname(key: tuple[bytes, int, int]) -> str:
    pid, total, t = key
    return f"{pid.hex()}-{total}-{t}"


class SymbolStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        for tmp in self.root.glob("*/.tmp-*"):  # leftovers of a crash mid-write
            tmp.unlink(missing_ok=True)

    def _dir(self, key: tuple[bytes, int, int]) -> Path:
        return self.root / stream_dirname(key)

    def load(self, key: tuple[bytes, int, int]) -> list[Frame]:
        d = self._dir(key)
        if not d.is_dir():
            return []
        size = frame_size(key[2])
        frames: list[Frame] = []
        for seg in sorted(d.glob("seg-*.frames")):
            blob = seg.read_bytes()
            for off in range(0, len(blob) - size + 1, size):
                try:
                    f = decode_frame(blob[off:off + size])
                except FrameError:
                    continue
                if f.stream_key == key:
                    frames.append(f)
        return frames

    def append(self, key: tuple[bytes, int, int], raw_frames: list[bytes]) -> None:
        if not raw_frames:
            return
        d = self._dir(key)
        new_dir = not d.exists()
        d.mkdir(exist_ok=True)
        segs = sorted(d.glob("seg-*.frames"))
        nxt = int(segs[-1].name[4:-7]) + 1 if segs else 0
        atomic_write(d / f"seg-{nxt:08d}.frames", b"".join(raw_frames))
        if len(segs) + 1 > MAX_SEGMENTS:
            self._compact(d)
        if new_dir:
            self.prune()

    def _compact(self, d: Path) -> None:
        segs = sorted(d.glob("seg-*.frames"))
        last = int(segs[-1].name[4:-7])
        merged = b"".join(s.read_bytes() for s in segs)
        atomic_write(d / f"seg-{last + 1:08d}.frames", merged)  # written before deleting
        for s in segs:
            s.unlink()

    def discard(self, key: tuple[bytes, int, int]) -> None:
        shutil.rmtree(self._dir(key), ignore_errors=True)

    def streams(self) -> list[Path]:
        return [p for p in self.root.iterdir() if p.is_dir()]

    def prune(self, keep: int = MAX_STREAM_DIRS, max_age_s: float = 30 * 86400) -> None:
        """Bound the folder: drop stale partial streams (oldest first)."""
        dirs = sorted(self.streams(), key=lambda p: p.stat().st_mtime, reverse=True)
        now = time.time()
        for i, p in enumerate(dirs):
            if i >= keep or now - p.stat().st_mtime > max_age_s:
                shutil.rmtree(p, ignore_errors=True)

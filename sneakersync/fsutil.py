"""Durable whole-file writes for the device's own folders (I/O edge)."""

from __future__ import annotations

import os
from pathlib import Path


def write_durably(path: Path, data: bytes, *, mtime: float | None = None,
                  tmp_name: str | None = None) -> None:
    """Temp file, fsync, (fixed time), rename, fsync the folder: after a power cut the
    file is either absent or whole."""
    path = Path(path)
    tmp = path.with_name(tmp_name or (path.name + ".tmp"))
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    if mtime is not None:
        os.utime(tmp, (mtime, mtime))
    os.replace(tmp, path)
    fd = os.open(str(path.parent), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""Where a USB stick or SD card is likely mounted, to offer as a choice.

Looks only at the usual places (``/media/USER/*``, ``/run/media/USER/*``, ``/mnt/*``,
``/Volumes/*``, drive letters on Windows); at most ``MAX_FOLDERS`` are returned.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

MAX_FOLDERS = 20


def removable_folders() -> list[Path]:
    found: list[Path] = []

    def add(p: Path) -> None:
        try:
            if p.is_dir() and os.access(p, os.R_OK) and p not in found:
                found.append(p)
        except OSError:
            pass

    if os.name == "nt":  # pragma: no cover - not on the build machines
        for letter in string.ascii_uppercase[3:]:
            add(Path(f"{letter}:\\"))
        return found[:MAX_FOLDERS]
    for base in (Path("/media"), Path("/run/media")):
        for user in _children(base):
            for mount in _children(user):
                add(mount)
    for base in (Path("/mnt"), Path("/Volumes")):
        for mount in _children(base):
            if mount.name != "Macintosh HD":
                add(mount)
    return found[:MAX_FOLDERS]


def _children(p: Path) -> list[Path]:
    try:
        return sorted(c for c in p.iterdir() if c.is_dir())[:MAX_FOLDERS]
    except OSError:
        return []

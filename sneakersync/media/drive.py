"""Drive transport: a folder on a USB stick or SD card shared by many devices.

Layout (``formats/drive-layout-v1.md``)::

    DRIVE/sneakersync/v1/packets/<sha256 hex>.pkt    one packet, named by its hash
    DRIVE/sneakersync/v1/receipts/<sha256 hex>.rcpt  delivery receipts from a server
    DRIVE/sneakersync/v1/tmp/<random hex>.part       writes in progress (never read)

Names carry no device names, record content or dates; file times are set to a
fixed instant so they do not tell when a device wrote.  Writes go to ``tmp/``,
are fsynced, renamed into place, then read back and checked against the name.
Readers take only files whose content hashes to their name.  Export and import end
by cleaning the stick (:func:`sneakersync.sync.compact.clean_stick` through
:meth:`Drive.remove`): a packet every recipient confirmed holding is removed by the
next device that knows it (spec section 4).

Every file operation goes through a small :class:`OsFiles` object (``Drive(path,
fs=...)``) so tests can put a fault-injecting or power-loss shim underneath; the
default calls the operating system directly.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
from pathlib import Path
from typing import Any, Iterator

from sneakersync.errors import MediaError, NotFoundError
from sneakersync.store.home import Home
from sneakersync.store.records import Store
from sneakersync.sync import exchange
from sneakersync.sync.engine import ImportReport

ROOT = Path("sneakersync") / "v1"
FIXED_MTIME = 946684800  # 2000-01-01T00:00:00Z: hides when a packet was written
MAX_FILE = 1 << 31
_HEX = set("0123456789abcdef")


class OsFiles:
    """The file operations a :class:`Drive` uses, as plain ``os`` calls."""

    def isdir(self, path: Path) -> bool:
        return path.is_dir()

    def makedirs(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)

    def exists(self, path: Path) -> bool:
        return path.exists()

    def open(self, path: Path, flags: int, mode: int = 0o777) -> int:
        return os.open(str(path), flags, mode)

    def write(self, fd: int, data: memoryview) -> int:
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def close(self, fd: int) -> None:
        os.close(fd)

    def utime(self, path: Path, times: tuple[int, int]) -> None:
        os.utime(path, times)

    def replace(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)

    def listdir(self, path: Path) -> list[str]:
        return os.listdir(path)

    def size(self, path: Path) -> int:
        return path.stat().st_size

    def ctime(self, path: Path) -> float:
        return path.stat().st_ctime

    def read(self, path: Path, limit: int = -1) -> bytes:
        with open(path, "rb") as fh:
            return fh.read(limit)

    def unlink(self, path: Path) -> None:
        path.unlink()


OS_FILES = OsFiles()


def _media_error(exc: OSError, what: str) -> MediaError:
    reason = {errno.ENOSPC: "the drive is full", errno.EROFS: "the drive is write-protected",
              errno.ENOENT: "the drive went away", errno.EACCES: "permission denied",
              errno.EIO: "input/output error (damaged or pulled out?)"}.get(
        exc.errno or 0, exc.strerror or str(exc))
    return MediaError(f"{what}: {reason}", hints=("check the drive and try again; "
                                                  "nothing was half-written",))


class Drive:
    def __init__(self, path: Path | str, *, create: bool = False,
                 fs: OsFiles | None = None) -> None:
        self.fs = fs or OS_FILES
        self.mount = Path(path)
        if not self.fs.isdir(self.mount):
            raise NotFoundError(f"drive folder {self.mount} does not exist",
                                hints=("is the stick mounted? give the folder it is mounted on",))
        self.root = self.mount / ROOT
        if create:
            try:
                for sub in ("packets", "receipts", "tmp"):
                    self.fs.makedirs(self.root / sub)
            except OSError as exc:
                raise _media_error(exc, f"cannot prepare {self.root}") from exc

    def _dir(self, kind: str) -> Path:
        return self.root / kind

    # --- writing ---------------------------------------------------------------------

    def write(self, kind: str, data: bytes, suffix: str) -> Path:
        """Crash-safe write of ``data`` named by its SHA-256; returns the final path."""
        name = hashlib.sha256(data).hexdigest() + suffix
        final = self._dir(kind) / name
        fs = self.fs
        if fs.exists(final) and self._verify(final, name, len(data)):
            return final
        tmp = self._dir("tmp") / (secrets.token_hex(16) + ".part")
        try:
            fd = fs.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # packets never widen
            try:
                view = memoryview(data)
                while view:
                    n = fs.write(fd, view[:1 << 20])
                    view = view[n:]
                fs.fsync(fd)
            finally:
                fs.close(fd)
            fs.utime(tmp, (FIXED_MTIME, FIXED_MTIME))
            fs.replace(tmp, final)
            _fsync_dir(fs, final.parent)
        except OSError as exc:
            _silent_unlink(fs, tmp)
            raise _media_error(exc, f"cannot write to {self.mount}") from exc
        self._hide_times(final.parent)
        if not self._verify(final, name, len(data)):
            _silent_unlink(fs, final)
            raise MediaError(f"read-back check failed for {final.name} on {self.mount}",
                             hints=("the drive may be failing; try another",))
        return final

    def _hide_times(self, *dirs: Path) -> None:
        """Folder times would tell when a device last wrote: set them to the fixed instant."""
        for d in (*dirs, self._dir("tmp"), self.root, self.root.parent):
            try:
                self.fs.utime(d, (FIXED_MTIME, FIXED_MTIME))
            except OSError:
                pass  # best effort: a folder time is not worth failing a verified write
        for d in dirs:
            try:
                _fsync_dir(self.fs, d)
            except OSError:
                pass

    def _verify(self, path: Path, name: str, size: int) -> bool:
        try:
            data = self.fs.read(path, MAX_FILE + 1)
        except OSError:
            return False
        return len(data) == size and hashlib.sha256(data).hexdigest() + path.suffix == name

    def write_packet(self, data: bytes) -> Path:
        return self.write("packets", data, ".pkt")

    def write_receipt(self, data: bytes) -> Path:
        return self.write("receipts", data, ".rcpt")

    # --- reading ---------------------------------------------------------------------

    def entries(self, kind: str, suffix: str) -> list[Path]:
        d = self._dir(kind)
        try:
            names = sorted(self.fs.listdir(d))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise _media_error(exc, f"cannot list {d}") from exc
        return [d / n for n in names if _valid_name(n, suffix)]

    def read(self, path: Path) -> bytes:
        """Read a file and check it hashes to its name (a partial file never does)."""
        try:
            size = self.fs.size(path)
            if size > MAX_FILE:
                raise MediaError(f"{path.name} is too large to be a packet")
            data = self.fs.read(path)
        except OSError as exc:
            raise _media_error(exc, f"cannot read {path.name}") from exc
        if hashlib.sha256(data).hexdigest() != path.name.split(".")[0]:
            from sneakersync.errors import PayloadError

            raise PayloadError(f"{path.name} is damaged or incomplete (content does not match "
                               "its name)")
        return data

    def packets(self) -> Iterator[Path]:
        return iter(self.entries("packets", ".pkt"))

    def receipts(self) -> Iterator[Path]:
        return iter(self.entries("receipts", ".rcpt"))

    def remove(self, path: Path) -> None:
        try:
            self.fs.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _media_error(exc, f"cannot remove {path.name}") from exc
        self._hide_times(path.parent)

    def clean_tmp(self, older_than_s: float = 3600.0) -> int:
        """Remove abandoned partial writes (from a pulled stick or a crash)."""
        import time

        n = 0
        for p in self.entries("tmp", ".part"):
            try:
                if time.time() - self.fs.ctime(p) > older_than_s:
                    self.fs.unlink(p)
                    n += 1
            except OSError:
                pass
        return n


def _valid_name(name: str, suffix: str) -> bool:
    stem = name[: -len(suffix)] if name.endswith(suffix) else ""
    if suffix == ".part":
        return len(stem) == 32 and set(stem) <= _HEX
    return len(stem) == 64 and set(stem) <= _HEX


_FSYNC_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EISDIR, errno.EACCES}


def _fsync_dir(fs: OsFiles, path: Path) -> None:
    """Make a rename durable. File systems that cannot sync a folder are tolerated;
    a real failure (EIO, a vanished stick) raises, so nothing is recorded as sent."""
    try:
        fd = fs.open(path, os.O_RDONLY)
    except OSError as exc:
        if exc.errno in _FSYNC_UNSUPPORTED:
            return
        raise
    try:
        fs.fsync(fd)
    except OSError as exc:
        if exc.errno not in _FSYNC_UNSUPPORTED:
            raise
    finally:
        fs.close(fd)


def _silent_unlink(fs: OsFiles, path: Path) -> None:
    try:
        fs.unlink(path)
    except OSError:
        pass


def export_to_drive(home: Home, store: Store, drive_path: Path, names: list[str],
                    **kw: Any) -> dict[str, Any]:
    """Export for the named peers (all when none) to the drive at ``drive_path``."""
    recipients = exchange.pick_recipients(store, names)  # no peers: refuse before creating folders
    return exchange.export_to(home, store, Drive(drive_path, create=True), recipients, **kw)


def import_from_drive(home: Home, store: Store, drive_path: Path, **kw: Any) -> ImportReport:
    """Import everything on the drive at ``drive_path`` that is for this device."""
    return exchange.import_from(home, store, Drive(drive_path), **kw)

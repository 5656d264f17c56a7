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
import stat
from pathlib import Path
from typing import Any, Iterator

from sneakersync.errors import DriveError, MediaError, NotFoundError, PayloadError
from sneakersync.store.home import Home
from sneakersync.store.records import Store
from sneakersync.sync import exchange
from sneakersync.sync.engine import ImportReport

ROOT = Path("sneakersync") / "v1"
FIXED_MTIME = 946684800  # 2000-01-01T00:00:00Z: hides when a packet was written
MAX_FILE = 1 << 31
CHUNK = 1 << 20
ONE_PASS = 64 << 20  # larger files are hashed in a first pass that keeps nothing
_HEX = set("0123456789abcdef")
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) \
    | getattr(os, "O_CLOEXEC", 0)


def _open_regular(path: Path) -> tuple[int, int]:
    """Open ``path`` without following a link and without blocking on a FIFO; refuse
    anything but a regular file. Returns (fd, size)."""
    try:
        fd = os.open(str(path), _READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DriveError(f"{path.name} is a symbolic link; refused") from exc
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DriveError(f"{path.name} is not a regular file (a device, FIFO or folder); "
                             "refused")
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


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

    def lstat(self, path: Path) -> os.stat_result:
        return os.lstat(path)

    def read(self, path: Path, limit: int = -1) -> bytes:
        """A regular file's bytes (at most ``limit``), never through a link, never
        blocking on a FIFO (DriveError for anything but a regular file)."""
        fd, size = _open_regular(path)
        try:
            want = size + 1 if limit < 0 else min(limit, size + 1)
            parts = []
            while want > 0:
                got = os.read(fd, min(want, CHUNK))
                if not got:
                    break
                parts.append(got)
                want -= len(got)
            return b"".join(parts)
        finally:
            os.close(fd)

    def sha256(self, path: Path, limit: int) -> tuple[str, int]:
        """Hash a regular file while streaming it (keeps nothing); (hex, bytes read)."""
        fd, _ = _open_regular(path)
        h, n = hashlib.sha256(), 0
        try:
            while n <= limit:
                got = os.read(fd, CHUNK)
                if not got:
                    break
                h.update(got)
                n += len(got)
        finally:
            os.close(fd)
        return h.hexdigest(), n

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
        self._check_folders()
        if create:
            try:
                for sub in ("packets", "receipts", "tmp"):
                    self.fs.makedirs(self.root / sub)
            except OSError as exc:
                raise _media_error(exc, f"cannot prepare {self.root}") from exc
            self._check_folders()  # made by us, or raced in: check again

    def _dir(self, kind: str) -> Path:
        return self.root / kind

    def _check_folders(self) -> None:
        """Refuse a layout whose folders are links (or not folders): a planted link to
        someone's home would make export write there and reset its times."""
        for d in (self.root.parent, self.root, *(self.root / k for k in
                                                 ("packets", "receipts", "tmp"))):
            try:
                st = self.fs.lstat(d)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise _media_error(exc, f"cannot examine {d}") from exc
            if stat.S_ISLNK(st.st_mode):
                raise DriveError(f"{d.relative_to(self.mount)} on the drive is a symbolic link; "
                                 "refused", hints=("a stick is never written through links: "
                                                   "remove the link",))
            if not stat.S_ISDIR(st.st_mode):
                raise DriveError(f"{d.relative_to(self.mount)} on the drive is not a folder; "
                                 "refused")

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
            self._hide_times(final.parent, sync=False)
            _fsync_dir(fs, final.parent)  # the rename and the folder's time, in one sync
        except OSError as exc:
            _silent_unlink(fs, tmp)
            raise _media_error(exc, f"cannot write to {self.mount}") from exc
        if not self._verify(final, name, len(data)):
            _silent_unlink(fs, final)
            raise MediaError(f"read-back check failed for {final.name} on {self.mount}",
                             hints=("the drive may be failing; try another",))
        return final

    def _hide_times(self, *dirs: Path, sync: bool = True) -> None:
        """Folder times would tell when a device last wrote: set them to the fixed instant
        (``sync``: and sync ``dirs``; a caller that syncs them itself passes False)."""
        for d in (*dirs, self._dir("tmp"), self.root, self.root.parent):
            try:
                self.fs.utime(d, (FIXED_MTIME, FIXED_MTIME))
            except OSError:
                pass  # best effort: a folder time is not worth failing a verified write
        for d in dirs if sync else ():
            try:
                _fsync_dir(self.fs, d)
            except OSError:
                pass

    def _verify(self, path: Path, name: str, size: int) -> bool:
        try:
            data = self.fs.read(path, MAX_FILE + 1)
        except (OSError, DriveError):
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
        """Read a regular file and check it hashes to its name (a partial file never does).

        Links, device nodes and FIFOs are refused without being followed or read; the
        size is bounded before reading; a file above ONE_PASS bytes is hashed while
        streaming and kept only if the hash matches."""
        try:
            st = self.fs.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                raise DriveError(f"{path.name} is a symbolic link; refused")
            if not stat.S_ISREG(st.st_mode):
                raise DriveError(f"{path.name} is not a regular file; refused")
            if st.st_size > MAX_FILE:
                raise DriveError(f"{path.name} is too large to be a packet "
                                 f"({st.st_size} bytes, at most {MAX_FILE})")
            if st.st_size > ONE_PASS:
                digest, n = self.fs.sha256(path, MAX_FILE)
                if digest != path.name.split(".")[0] or n > MAX_FILE:
                    raise PayloadError(f"{path.name} is damaged or incomplete (content does "
                                       "not match its name)")
            data = self.fs.read(path, MAX_FILE + 1)
        except OSError as exc:
            raise _media_error(exc, f"cannot read {path.name}") from exc
        if len(data) > MAX_FILE:
            raise DriveError(f"{path.name} grew beyond {MAX_FILE} bytes while read; refused")
        if hashlib.sha256(data).hexdigest() != path.name.split(".")[0]:
            raise PayloadError(f"{path.name} is damaged or incomplete (content does not match "
                               "its name)")
        return data

    def stamp(self, path: Path) -> str | None:
        """What identifies this very file cheaply (size, time, inode), to remember a
        refusal without reading the file again; None if it cannot be examined."""
        try:
            st = self.fs.lstat(path)
        except OSError:
            return None
        return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{st.st_mode}"

    def packets(self) -> Iterator[Path]:
        """Packet files in name order, made into paths one at a time (a stick flooded with
        a million names costs their strings, not a million path objects)."""
        d = self._dir("packets")
        try:
            names = sorted(n for n in self.fs.listdir(d) if _valid_name(n, ".pkt"))
        except FileNotFoundError:
            return iter(())
        except OSError as exc:
            raise _media_error(exc, f"cannot list {d}") from exc
        return (d / n for n in names)

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

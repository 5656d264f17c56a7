"""File-system shims for the drive, in the style of SQLite's crash VFS (src/test6.c).

:class:`CrashFs` performs every operation on real files (so reads see what a page
cache would show) and keeps a model of what is *durable*: file contents become
durable at ``fsync(file)``, directory entries (create, rename, unlink) at
``fsync(directory)``.  At the k-th sync the power fails: :class:`PowerLoss` is
raised (a BaseException, so no ``except OSError``/``Exception`` swallows it) and
:meth:`CrashFs.materialize` writes the post-crash medium to a new folder, where
each pending write is kept, dropped or replaced with garbage and each pending
directory operation is kept or dropped.

:class:`FaultFs` raises a chosen errno at the n-th call of one operation
(ENOSPC, EROFS, EIO, ENOENT), or pulls the stick (deletes the folder) first.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import stat
from pathlib import Path
from typing import Any

from sneakersync.media.drive import OsFiles


class PowerLoss(BaseException):
    """The power failed at a sync point."""


class CrashFs(OsFiles):
    def __init__(self, root: Path, crash_at: int | None = None) -> None:
        self.root = Path(root)
        self.crash_at = crash_at
        self.syncs = 0
        self._ino = 0
        self.cur: dict[str, int] = {}       # relpath -> inode (what the OS shows)
        self.data: dict[int, bytearray] = {}  # inode -> current content
        self.durable: dict[str, int] = {}   # relpath -> inode (what survives)
        self.ddata: dict[int, bytes] = {}   # inode -> durable content
        self.pwrites: dict[int, list[tuple[int, bytes]]] = {}  # unsynced writes
        self.pns: list[tuple[str, str, Any, int]] = []  # (dir, op, arg, inode), unsynced
        self.fds: dict[int, tuple[str, Any]] = {}
        self.dirs: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel_dir = os.path.relpath(dirpath, self.root)
            self.dirs.add(rel_dir)
            for f in filenames:
                rel = os.path.normpath(os.path.join(rel_dir, f))
                ino = self._new(Path(dirpath, f).read_bytes())
                self.cur[rel] = self.durable[rel] = ino
                self.ddata[ino] = bytes(self.data[ino])

    def _new(self, content: bytes = b"") -> int:
        self._ino += 1
        self.data[self._ino] = bytearray(content)
        return self._ino

    def _rel(self, path: Path | str) -> str:
        return os.path.relpath(os.fspath(path), self.root)

    # --- operations -----------------------------------------------------------------

    def makedirs(self, path: Path) -> None:
        super().makedirs(path)
        rel = self._rel(path)
        while rel not in ("", "."):
            self.dirs.add(rel)  # directories are treated as durable (made before the test)
            rel = os.path.dirname(rel)

    def open(self, path: Path, flags: int, mode: int = 0o777) -> int:
        fd = os.open(str(path), flags, mode)
        rel = self._rel(path)
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            self.fds[fd] = ("dir", rel)
            return fd
        if rel not in self.cur:
            ino = self._new()
            self.cur[rel] = ino
            self.pns.append((os.path.dirname(rel), "create", rel, ino))
        self.fds[fd] = ("file", [self.cur[rel], 0])
        return fd

    def write(self, fd: int, data: memoryview) -> int:
        n = os.write(fd, data)
        kind, st = self.fds[fd]
        ino, pos = st
        chunk = bytes(data[:n])
        buf = self.data[ino]
        buf[pos:pos + n] = chunk
        self.pwrites.setdefault(ino, []).append((pos, chunk))
        st[1] = pos + n
        return n

    def fsync(self, fd: int) -> None:
        self.syncs += 1
        if self.crash_at is not None and self.syncs >= self.crash_at:
            raise PowerLoss(f"power lost at sync {self.syncs}")
        os.fsync(fd)
        kind, st = self.fds[fd]
        if kind == "file":
            ino = st[0]
            self.ddata[ino] = bytes(self.data[ino])
            self.pwrites.pop(ino, None)
        else:
            keep = []
            for d, op, arg, ino in self.pns:
                if d == st:
                    _apply_ns(self.durable, op, arg, ino)
                else:
                    keep.append((d, op, arg, ino))
            self.pns = keep

    def close(self, fd: int) -> None:
        self.fds.pop(fd, None)
        os.close(fd)

    def replace(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)
        s, d = self._rel(src), self._rel(dst)
        ino = self.cur.pop(s)
        self.cur[d] = ino
        self.pns.append((os.path.dirname(d), "rename", (s, d), ino))
        if os.path.dirname(s) != os.path.dirname(d):
            self.pns.append((os.path.dirname(s), "unlink", s, ino))

    def unlink(self, path: Path) -> None:
        os.unlink(path)
        rel = self._rel(path)
        ino = self.cur.pop(rel, 0)
        self.pns.append((os.path.dirname(rel), "unlink", rel, ino))

    # --- after the crash -------------------------------------------------------------

    def materialize(self, out: Path, rng: random.Random) -> dict[str, str]:
        """Write the medium as it is after the power loss; returns each pending op's fate."""
        names = dict(self.durable)
        fates: dict[str, str] = {}
        for i, (d, op, arg, ino) in enumerate(self.pns):
            keep = rng.random() < 0.5
            fates[f"ns{i}:{op}"] = "kept" if keep else "dropped"
            if keep:
                _apply_ns(names, op, arg, ino)
        contents: dict[int, bytes] = {}
        for ino in set(names.values()):
            buf = bytearray(self.ddata.get(ino, b""))
            for j, (pos, chunk) in enumerate(self.pwrites.get(ino, [])):
                fate = rng.choice(("kept", "dropped", "garbage"))
                fates[f"w{ino}.{j}"] = fate
                if fate == "kept":
                    buf[pos:pos + len(chunk)] = chunk
                elif fate == "garbage":
                    buf[pos:pos + len(chunk)] = rng.randbytes(len(chunk))
            contents[ino] = bytes(buf)
        if out.exists():
            shutil.rmtree(out)
        for d in sorted(self.dirs):
            (out / d).mkdir(parents=True, exist_ok=True)
        for rel, ino in names.items():
            p = out / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(contents[ino])
        return fates


def _apply_ns(names: dict[str, int], op: str, arg: Any, ino: int) -> None:
    if op == "create":
        names.setdefault(arg, ino)
    elif op == "rename":
        src, dst = arg
        if names.get(src) == ino:
            del names[src]
        names[dst] = ino
    elif op == "unlink":
        if names.get(arg) == ino:
            del names[arg]


class FaultFs(OsFiles):
    """Fail the ``nth`` call of ``op`` with ``err`` (optionally pulling the stick first)."""

    def __init__(self, op: str, nth: int = 1, err: int = errno.ENOSPC,
                 pull: Path | None = None) -> None:
        self.op, self.nth, self.err, self.pull = op, nth, err, pull
        self.calls: dict[str, int] = {}
        self.fired = False

    def _maybe(self, op: str) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1
        if op == self.op and self.calls[op] == self.nth and not self.fired:
            self.fired = True
            if self.pull is not None:
                shutil.rmtree(self.pull, ignore_errors=True)  # the stick is gone
            raise OSError(self.err, os.strerror(self.err))

    def open(self, path: Path, flags: int, mode: int = 0o777) -> int:
        self._maybe("open")
        return super().open(path, flags, mode)

    def write(self, fd: int, data: memoryview) -> int:
        self._maybe("write")
        return super().write(fd, data)

    def fsync(self, fd: int) -> None:
        self._maybe("fsync")
        super().fsync(fd)

    def utime(self, path: Path, times: tuple[int, int]) -> None:
        self._maybe("utime")
        super().utime(path, times)

    def replace(self, src: Path, dst: Path) -> None:
        self._maybe("replace")
        super().replace(src, dst)

    def read(self, path: Path, limit: int = -1) -> bytes:
        self._maybe("read")
        return super().read(path, limit)

    def listdir(self, path: Path) -> list[str]:
        self._maybe("listdir")
        return super().listdir(path)

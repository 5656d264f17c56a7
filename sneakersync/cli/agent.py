"""The unlock agent: a home's opened secrets kept by a small background process.

``sneakersync unlock`` checks the passphrase, then leaves a process that hands
the opened key file to later commands on the same home through a Unix socket,
until ``sneakersync lock`` or until its time is up (8 hours by default), so
they neither ask nor run the key derivation again (Argon2id: half a second and
256 MiB per command otherwise).  It hands the plaintext only to a command that
shows the SHA-256 of the sealed file it holds: after a passphrase change the old
plaintext is no longer given.  It also keeps the passphrase, for the browser UI
and for the commands that re-seal.  Like
ssh-agent, anything running as the same user can ask it: the socket is in a
0700 folder of the user's runtime directory, and on Linux the asking process's
user id is checked too (``SO_PEERCRED``).  Nothing is written to disk.  POSIX
only; elsewhere ``--passphrase-fd`` / ``--passphrase-file`` do the same job.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import struct
import tempfile
import time
from pathlib import Path

from sneakersync.errors import UsageError

MAX_SECONDS = 7 * 24 * 3600
_DURATION = re.compile(r"(\d{1,6})([smhd]?)")


def supported() -> bool:
    return os.name == "posix" and hasattr(socket, "AF_UNIX")


def parse_duration(text: str) -> int:
    m = _DURATION.fullmatch(text.strip())
    if not m:
        raise UsageError(f"duration {text!r} is not like 30m, 8h or 2d")
    secs = int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if not 1 <= secs <= MAX_SECONDS:
        raise UsageError("an unlock lasts between 1 second and 7 days")
    return secs


def _dir(create: bool) -> Path | None:
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    d = Path(base) / f"sneakersync-{os.getuid()}"
    if create:
        d.mkdir(mode=0o700, exist_ok=True)
    try:
        st = d.lstat()
    except OSError:
        return None
    if st.st_uid != os.getuid() or st.st_mode & 0o077 or not d.is_dir() or d.is_symlink():
        if create:
            raise UsageError(f"{d} is not a private folder of yours; not unlocking")
        return None
    return d


def socket_path(home: Path, *, create: bool = False) -> Path | None:
    d = _dir(create)
    if d is None:
        return None
    tag = hashlib.sha256(str(Path(home).resolve()).encode()).hexdigest()[:24]
    return d / f"{tag}.sock"


def _talk(home: Path, request: bytes) -> bytes | None:
    if not supported():
        return None
    path = socket_path(home)
    if path is None or not path.exists():
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(3)
            s.connect(str(path))
            s.sendall(request)
            data = b""
            while not data.endswith(b"\n") and len(data) < 4096:
                got = s.recv(4096)
                if not got:
                    break
                data += got
            return data
    except OSError:
        return None


def keys(home: Path, sealed: bytes) -> bytes | None:
    """The opened key file ``sealed`` from a running agent for ``home``, or None."""
    tag = hashlib.sha256(sealed).hexdigest().encode()
    got = _talk(home, b"KEYS " + tag + b"\n")
    if got and got.startswith(b"OK ") and got.endswith(b"\n"):
        try:
            return bytes.fromhex(got[3:-1].decode("ascii"))
        except ValueError:
            return None
    return None


def ask(home: Path) -> str | None:
    """The passphrase from a running agent for ``home``, or None."""
    got = _talk(home, b"GET\n")
    if got and got.startswith(b"OK ") and got.endswith(b"\n"):
        try:
            return bytes.fromhex(got[3:-1].decode("ascii")).decode("utf-8")
        except ValueError:
            return None
    return None


def stop(home: Path) -> bool:
    """Ask the agent for ``home`` to forget the passphrase and exit; True if one did."""
    return _talk(home, b"STOP\n") == b"BYE\n"


def start(home: Path, passphrase: str, seconds: int, *, sealed: bytes, opened: bytes) -> None:
    """Leave an agent for ``home`` running for ``seconds`` (replacing any earlier one),
    holding the passphrase and ``opened``, the plaintext of the key file ``sealed``."""
    if not supported():
        raise UsageError("unlock needs a POSIX system here",
                         hints=("use --passphrase-fd N or --passphrase-file PATH",))
    stop(home)
    path = socket_path(home, create=True)
    assert path is not None
    path.unlink(missing_ok=True)
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        lsock.bind(str(path))
    finally:
        os.umask(old)
    lsock.listen(8)
    pid = os.fork()
    if pid:
        lsock.close()
        os.waitpid(pid, 0)
        return
    # first child: new session, then a grandchild that outlives the command
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        keep = lsock.fileno()  # nothing else inherited stays open (pipes, descriptors)
        os.closerange(3, keep)
        os.closerange(keep + 1, 1 << 16)
        os.chdir("/")
        _serve(lsock, path, {b"GET\n": passphrase.encode("utf-8").hex().encode(),
                             b"KEYS " + hashlib.sha256(sealed).hexdigest().encode() + b"\n":
                             opened.hex().encode()}, time.monotonic() + seconds)
    finally:
        os._exit(0)


def _peer_uid_ok(conn: socket.socket) -> bool:
    opt = getattr(socket, "SO_PEERCRED", None)
    if opt is None:  # not Linux: the 0700 folder is the guard
        return True
    creds = conn.getsockopt(socket.SOL_SOCKET, opt, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


def _serve(lsock: socket.socket, path: Path, answers: dict[bytes, bytes],
           deadline: float) -> None:
    ino = path.stat().st_ino
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            lsock.settimeout(min(left, 60.0))
            try:
                conn, _ = lsock.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    if not _peer_uid_ok(conn):
                        continue
                    req = b""
                    while not req.endswith(b"\n") and len(req) < 80:
                        got = conn.recv(80 - len(req))
                        if not got:
                            break
                        req += got
                    if req in answers:
                        conn.sendall(b"OK " + answers[req] + b"\n")
                    elif req == b"STOP\n":
                        conn.sendall(b"BYE\n")
                        return
                    else:
                        conn.sendall(b"NO\n")
                except OSError:
                    continue
    finally:
        try:
            if path.stat().st_ino == ino:
                path.unlink()
        except OSError:
            pass
        lsock.close()

"""Data at rest: sealed keys, encrypted store, permissions, passphrase sources, unlock.

The thief's view is ``test_at_rest_thief.py``; kill -9 during migration and
passphrase change is ``test_at_rest_crash.py``.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import REPO
from sneakersync.errors import LockedError, StoreError, UsageError
from sneakersync.store import home as home_mod
from sneakersync.store import keystore
from sneakersync.store.protect import change_passphrase, protect

PW = "correct horse battery staple"  # conftest's SNEAKERSYNC_PASSPHRASE


def run(home: Path, *args: str, env: dict[str, str] | None = None, input: str | None = None,
        pass_fds: tuple[int, ...] = ()) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ)
    e.update(env or {})
    for k, v in list(e.items()):
        if v == "":
            del e[k]
    return subprocess.run([sys.executable, "-m", "sneakersync", "--home", str(home), *args],
                          capture_output=True, text=True, cwd=REPO, env=e, input=input,
                          pass_fds=pass_fds)


NOENV = {"SNEAKERSYNC_PASSPHRASE": "", "SNEAKERSYNC_PASSPHRASE_FILE": ""}


def snapshot(path: Path) -> dict[str, tuple[bytes, int]]:
    return {str(f.relative_to(path)): (f.read_bytes(), f.stat().st_mtime_ns)
            for f in sorted(path.rglob("*")) if f.is_file()}


# --- the sealed key file -------------------------------------------------------------


def _secrets() -> keystore.Secrets:
    return keystore.Secrets("Amina", "device", b"\x01" * 32, b"\x02" * 32, b"\x03" * 32)


def test_seal_round_trip_and_wrong_passphrase() -> None:
    data = keystore.seal(_secrets(), "pässphrase")
    assert keystore.unseal(data, "pässphrase") == _secrets()
    # NFC and NFD spellings of the same passphrase open it
    assert keystore.unseal(data, "pa\u0308ssphrase") == _secrets()
    with pytest.raises(LockedError, match="wrong passphrase"):
        keystore.unseal(data, "passphrase")
    assert b"Amina" not in data and (b"\x01" * 8) not in data


def test_real_homes_get_moderate_and_tests_only_the_minimum(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(keystore.ENV_TEST_KDF)
    assert keystore.creation_params() == keystore.REAL
    assert (keystore.REAL.ops, keystore.REAL.mem) == (3, 256 * 2**20)
    monkeypatch.setenv(keystore.ENV_TEST_KDF, "yes")  # only exactly "1" counts
    assert keystore.creation_params() == keystore.REAL
    monkeypatch.setenv(keystore.ENV_TEST_KDF, "1")
    assert keystore.creation_params() == keystore.TEST and keystore.TEST.weak


def test_tampered_sealed_files_are_refused() -> None:
    data = keystore.seal(_secrets(), "pw")
    doc = json.loads(data)
    ct = bytearray(__import__("base64").b64decode(doc["sealed"]))
    ct[5] ^= 1
    doc2 = dict(doc, sealed=__import__("base64").b64encode(bytes(ct)).decode())
    with pytest.raises(LockedError):
        keystore.unseal(json.dumps(doc2).encode(), "pw")
    # a header field is authenticated: another salt (or limit) does not open it
    doc3 = dict(doc, kdf=dict(doc["kdf"], ops=doc["kdf"]["ops"] + 1))
    with pytest.raises(LockedError):
        keystore.unseal(json.dumps(doc3).encode(), "pw")
    # limits that would cost minutes or GiBs are refused before any KDF runs
    for bad in (dict(doc["kdf"], mem=2**40), dict(doc["kdf"], ops=10**6),
                dict(doc["kdf"], ops=True), dict(doc["kdf"], alg="scrypt")):
        with pytest.raises(StoreError):
            keystore.unseal(json.dumps(dict(doc, kdf=bad)).encode(), "pw")
    for junk in (b"", b"{}", b"x" * 5000, json.dumps(dict(doc, nonce="AAAA")).encode()):
        with pytest.raises(StoreError):
            keystore.unseal(junk, "pw")
    with pytest.raises(UsageError):
        keystore.seal(_secrets(), "")


# --- permissions ---------------------------------------------------------------------


@pytest.mark.parametrize("sealed", [True, False])
@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_home_is_private_whatever_the_umask(tmp_path: Path, sealed: bool, umask: int) -> None:
    old = os.umask(umask)
    try:
        h = home_mod.create(tmp_path / "h", "Perm test", passphrase=PW if sealed else None)
        s = h.open_store()
        s.put("c", {"v": 1})
        wal = h.path / "store.db-wal"
        assert wal.exists()
        modes = {str(f.relative_to(h.path)): stat.S_IMODE(f.stat().st_mode)
                 for f in [h.path, *h.path.rglob("*")]}
        s.close()
        quarantine = stat.S_IMODE(h.quarantine_dir.stat().st_mode)
    finally:
        os.umask(old)
    dirs = {k: m for k, m in modes.items() if k in (".", "keys")}
    files = {k: m for k, m in modes.items() if k not in dirs}
    assert set(dirs.values()) == {0o700} and quarantine == 0o700
    assert set(files.values()) == {0o600}, files
    assert ("keys/identity.sealed" in files) == sealed
    assert ("keys/sign.key" in files) == (not sealed)


def test_sealed_store_is_not_plain_sqlite(tmp_path: Path) -> None:
    h = home_mod.create(tmp_path / "h", "Enc", passphrase=PW)
    s = h.open_store()
    s.put("c", {"secret": "Kawangware clinic"}, "r1")
    s.close()
    raw = (h.path / "store.db").read_bytes()
    assert not raw.startswith(b"SQLite format 3") and b"Kawangware" not in raw
    import sqlite3

    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(str(h.path / "store.db")).execute("SELECT * FROM records").fetchall()
    # a store from another home does not open with this home's key
    other = home_mod.create(tmp_path / "o", "Other", passphrase=PW)
    (other.path / "store.db").write_bytes(raw)
    with pytest.raises(StoreError, match="does not open with this home's key"):
        other.open_store()


# --- library: migration and passphrase change ---------------------------------------


def _fill(h: home_mod.Home) -> dict:
    s = h.open_store()
    for i in range(50):
        s.put("households", {"head": f"Head {i}", "members": i}, f"hh-{i}")
    s.delete("households", "hh-7")
    s.close()
    return _contents(h)


def _contents(h: home_mod.Home) -> dict:
    s = h.open_store()
    try:
        return {"rows": list(s.rows("households")), "counter": s.counter,
                "changes": s.conn.execute("SELECT count(*) FROM changes").fetchone()[0]}
    finally:
        s.close()


def test_protect_seals_a_plain_home_in_place(tmp_path: Path) -> None:
    plain = home_mod.create(tmp_path / "h", "Old laptop")
    before = _fill(plain)
    sealed = protect(plain.path, "new pass")
    assert sorted(os.listdir(plain.path)) == ["device.json", "keys", "store.db"]
    assert os.listdir(plain.path / "keys") == ["identity.sealed"]
    assert b"Old laptop" not in (plain.path / "device.json").read_bytes()
    assert sealed.device_id == plain.device_id and sealed.sealed
    with pytest.raises(LockedError):
        home_mod.load(plain.path, lambda: None)
    again = home_mod.load(plain.path, "new pass")
    assert (again.name, again.device_id) == ("Old laptop", plain.device_id)
    assert _contents(again) == before
    s = again.open_store()
    assert s.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # still incremental
    s.close()
    with pytest.raises(UsageError, match="already has a passphrase"):
        protect(plain.path, "other")


def test_protect_refuses_while_the_store_is_in_use(tmp_path: Path) -> None:
    plain = home_mod.create(tmp_path / "h", "Busy")
    _fill(plain)
    # another process (locks are per process) holds the store open in a transaction
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys\n"
         f"c = sqlite3.connect({str(plain.store_path)!r}, isolation_level=None)\n"
         "c.execute('BEGIN IMMEDIATE'); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(StoreError, match="in use"):
            protect(plain.path, "pw")
    finally:
        holder.communicate("")
    assert not (plain.path / "keys" / "identity.sealed").exists()
    assert home_mod.load(plain.path).keys.sign_seed == plain.keys.sign_seed


def test_change_passphrase(tmp_path: Path) -> None:
    h = home_mod.create(tmp_path / "h", "Changer", passphrase="one")
    before = _fill(h)
    with pytest.raises(LockedError):
        change_passphrase(h.path, "not it", "two")
    change_passphrase(h.path, "one", "two")
    with pytest.raises(LockedError):
        home_mod.load(h.path, "one")
    assert _contents(home_mod.load(h.path, "two")) == before


# --- CLI -----------------------------------------------------------------------------


def test_init_needs_a_passphrase_or_says_no(tmp_path: Path) -> None:
    p = run(tmp_path / "a", "init", "--name", "A", env=NOENV)
    assert p.returncode == 2 and p.stderr.startswith("sneakersync: error: a new device needs")
    assert "--no-passphrase" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "a" / "device.json").exists()
    assert run(tmp_path / "a", "init", "--name", "A", "--no-passphrase",
               env=NOENV).returncode == 0
    who = run(tmp_path / "a", "whoami", env=NOENV)
    assert "at rest:   none: --no-passphrase, keys and store are NOT protected" in who.stdout
    j = json.loads(run(tmp_path / "a", "whoami", "--json", env=NOENV).stdout)
    assert j["passphrase"] is False


def test_wrong_passphrase_is_one_error_and_touches_nothing(tmp_path: Path) -> None:
    home = tmp_path / "a"
    assert run(home, "init", "--name", "Amina").returncode == 0
    assert run(home, "put", "c", '{"v": 1}', "--id", "r1").returncode == 0
    before = snapshot(home)
    for args in (("get", "c", "r1"), ("put", "c", '{"v": 2}'), ("passphrase", "change"),
                 ("export", str(tmp_path / "stick"))):
        p = run(home, *args, env={"SNEAKERSYNC_PASSPHRASE": "wrong",
                                  "SNEAKERSYNC_NEW_PASSPHRASE": "x"})
        assert p.returncode == 9, (args, p.stderr)
        lines = p.stderr.splitlines()
        assert lines[0] == "sneakersync: error: wrong passphrase (or the sealed key file " \
                           "was altered)"
        assert all(ln.startswith("hint: ") for ln in lines[1:])
    p = run(home, "get", "c", "r1", env=NOENV, input="")
    assert p.returncode == 9 and "is locked" in p.stderr
    assert snapshot(home) == before
    assert json.loads(run(home, "get", "c", "r1").stdout) == {"v": 1}


def test_passphrase_fd_file_and_change_by_cli(tmp_path: Path) -> None:
    home = tmp_path / "a"
    r, w = os.pipe()
    os.write(w, b"from a pipe\n")
    os.close(w)
    p = run(home, "--passphrase-fd", str(r), "init", "--name", "Piped", env=NOENV,
            pass_fds=(r,))
    os.close(r)
    assert p.returncode == 0, p.stderr
    keyfile = tmp_path / "media" / "server.pass"
    keyfile.parent.mkdir()
    (keyfile).write_text("from a pipe\n")
    assert run(home, "--passphrase-file", str(keyfile), "put", "c", '{"v": 1}', "--id", "r",
               env=NOENV).returncode == 0
    p = run(home, "passphrase", "change", env={"SNEAKERSYNC_PASSPHRASE": "from a pipe",
                                               "SNEAKERSYNC_NEW_PASSPHRASE": "second one"})
    assert p.returncode == 0, p.stderr
    assert run(home, "get", "c", "r", env={"SNEAKERSYNC_PASSPHRASE": "from a pipe"}
               ).returncode == 9
    assert run(home, "get", "c", "r", env={"SNEAKERSYNC_PASSPHRASE": "second one"}
               ).returncode == 0


def test_keyfile_for_an_unattended_server(tmp_path: Path) -> None:
    key = tmp_path / "usbkey" / "server.pass"
    key.parent.mkdir()
    old = os.umask(0)
    try:
        assert run(tmp_path / "x", "passphrase", "keyfile", str(key)).returncode == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_text().strip()) >= 43
    assert run(tmp_path / "x", "passphrase", "keyfile", str(key)).returncode == 2
    srv = tmp_path / "srv"
    env = dict(NOENV, SNEAKERSYNC_PASSPHRASE_FILE=str(key))
    assert run(srv, "server", "init", "--name", "Office", env=env).returncode == 0
    assert "passphrase" in run(srv, "whoami", env=env).stdout
    # without the key medium the server's home stays shut
    gone = dict(NOENV, SNEAKERSYNC_PASSPHRASE_FILE=str(tmp_path / "unplugged" / "server.pass"))
    p = run(srv, "server", "status", env=gone)
    assert p.returncode == 9 and "is the key medium mounted" in p.stderr


def test_passphrase_set_migrates_by_cli(tmp_path: Path) -> None:
    home = tmp_path / "a"
    assert run(home, "init", "--name", "Kiosk", "--no-passphrase", env=NOENV).returncode == 0
    assert run(home, "put", "c", '{"v": "Kibera"}', "--id", "r", env=NOENV).returncode == 0
    p = run(home, "passphrase", "set", env={"SNEAKERSYNC_PASSPHRASE": "now sealed"})
    assert p.returncode == 0, p.stderr
    assert b"Kibera" not in (home / "store.db").read_bytes()
    assert run(home, "get", "c", "r", env=NOENV, input="").returncode == 9
    got = run(home, "get", "c", "r", env={"SNEAKERSYNC_PASSPHRASE": "now sealed"})
    assert json.loads(got.stdout) == {"v": "Kibera"}


@pytest.mark.skipif(os.name != "posix", reason="the unlock agent uses a Unix socket")
def test_unlock_once_then_lock(tmp_path: Path) -> None:
    runtime = tempfile.mkdtemp(prefix="snk-", dir="/tmp")  # short: Unix socket paths are short
    env = {"XDG_RUNTIME_DIR": runtime}
    home = tmp_path / "a"
    assert run(home, "init", "--name", "Day", env=env).returncode == 0
    bare = dict(NOENV, **env)
    try:
        p = run(home, "unlock", "--for", "10m", env=env)
        assert p.returncode == 0, p.stderr
        for i in range(3):  # a day of work: no passphrase anywhere, nobody asked
            p = run(home, "put", "c", json.dumps({"i": i}), env=bare, input="")
            assert p.returncode == 0, p.stderr
        assert run(home, "rows", "c", env=bare).stdout.count("\n") == 3
        sock = next(Path(runtime).rglob("*.sock"))
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    finally:
        p = run(home, "lock", env=bare)
    assert p.returncode == 0 and "locked" in p.stdout
    p = run(home, "rows", "c", env=bare, input="")
    assert p.returncode == 9
    assert run(home, "lock", env=bare).stdout.strip() == "was not unlocked"


NO_KDF = ("import sys, nacl.pwhash.argon2id as a\n"
          "def boom(*args, **kw):\n    raise SystemExit('the key derivation ran')\n"
          "a.kdf = boom\n"
          "from sneakersync.cli.main import main\nmain(sys.argv[1:])\n")


@pytest.mark.skipif(os.name != "posix", reason="the unlock agent uses a Unix socket")
def test_an_unlocked_home_opens_without_the_key_derivation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After `unlock`, commands get the opened keys: no Argon2id per command.  A changed
    passphrase (a new sealed file) is not answered from the old unlock."""
    runtime = tempfile.mkdtemp(prefix="snk-", dir="/tmp")
    env = {"XDG_RUNTIME_DIR": runtime}
    home = tmp_path / "a"
    assert run(home, "init", "--name", "Day", env=env).returncode == 0
    bare = dict(NOENV, **env)

    def no_kdf(*args: str, passphrase: str = "") -> subprocess.CompletedProcess[str]:
        e = dict(os.environ, **bare)
        e["SNEAKERSYNC_PASSPHRASE"] = passphrase
        e = {k: v for k, v in e.items() if v != ""}
        return subprocess.run([sys.executable, "-c", NO_KDF, "--home", str(home), *args],
                              capture_output=True, text=True, cwd=REPO, env=e, input="")

    old = os.environ["SNEAKERSYNC_PASSPHRASE"]
    p = no_kdf("put", "c", '{"v": 1}', "--id", "r", passphrase=old)  # locked: it derives
    assert p.returncode != 0 and "the key derivation ran" in p.stderr
    try:
        assert run(home, "unlock", "--for", "10m", env=env).returncode == 0
        p = no_kdf("put", "c", '{"v": 1}', "--id", "r")
        assert p.returncode == 0, p.stderr
        p = no_kdf("get", "c", "r")
        assert p.returncode == 0 and json.loads(p.stdout) == {"v": 1}, p.stderr
        # the agent answers only for the sealed file it opened
        from sneakersync.cli import agent

        monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
        sealed = (home / "keys" / home_mod.SEALED).read_bytes()
        assert agent.keys(home, sealed) is not None
        assert agent.keys(home, sealed + b" ") is None
        p = run(home, "passphrase", "change", env=dict(env, SNEAKERSYNC_NEW_PASSPHRASE="new one"))
        assert p.returncode == 0, p.stderr
        p = no_kdf("get", "c", "r", passphrase="new one")  # the change ended the unlock
        assert p.returncode != 0 and "the key derivation ran" in p.stderr
        assert run(home, "unlock", env=dict(env, SNEAKERSYNC_PASSPHRASE="new one")).returncode == 0
        p = no_kdf("get", "c", "r")
        assert p.returncode == 0 and json.loads(p.stdout) == {"v": 1}, p.stderr
    finally:
        run(home, "lock", env=bare)


@pytest.mark.parametrize("vector", sorted((REPO / "formats" / "vectors" / "keys").glob("*.json")),
                         ids=lambda p: p.stem)
def test_key_file_vectors(vector: Path) -> None:
    v = json.loads(vector.read_text())
    data = v["file"].encode()
    if v["expect"] == "ok":
        got = keystore.unseal(data, v["passphrase"])
        assert (got.name, got.kind, got.sign_seed.hex(), got.enc_secret.hex(),
                got.store_key.hex()) == tuple(v["secrets"][k] for k in
                                              ("name", "kind", "sign", "enc", "store"))
    else:
        err = {"locked": LockedError, "store": StoreError}[v["expect"]]
        with pytest.raises(err) as caught:
            keystore.unseal(data, v["passphrase"])
        assert caught.type is err


def test_packets_on_a_drive_never_widen(tmp_path: Path) -> None:
    from sneakersync.media.drive import Drive

    old = os.umask(0)
    try:
        (tmp_path / "stick").mkdir()
        path = Drive(tmp_path / "stick", create=True).write_packet(b"\x00" * 64)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _on_a_terminal(home: Path, args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run the CLI on a real pseudo-terminal, answering each prompt in turn."""
    import pty
    import select

    env = {k: v for k, v in os.environ.items() if not k.startswith("SNEAKERSYNC_PASSPHRASE")}
    env["PYTHONPATH"] = str(REPO)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal
        os.execve(sys.executable, [sys.executable, "-m", "sneakersync", "--home", str(home),
                                   *args], env)
    out = b""
    pending = list(answers)
    while True:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
        if pending and out.endswith(b": "):  # a prompt waits (click ends each with ": ")
            os.write(fd, pending.pop(0).encode() + b"\n")
            out += b"\n"
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


@pytest.mark.skipif(os.name != "posix", reason="needs a pseudo-terminal")
@pytest.mark.timeout(120)
def test_init_and_use_ask_on_a_terminal(tmp_path: Path) -> None:
    home = tmp_path / "t"
    code, out = _on_a_terminal(home, ["init", "--name", "Typed"], ["typed pass", "typo pass"])
    assert code == 2 and "the two passphrases differ" in out
    assert not (home / "device.json").exists()
    code, out = _on_a_terminal(home, ["init", "--name", "Typed"], ["typed pass", "typed pass"])
    assert code == 0 and "a forgotten passphrase cannot be recovered" in out
    assert "typed pass" not in out  # hidden input: never echoed
    code, out = _on_a_terminal(home, ["whoami"], ["typed pass"])
    assert code == 0 and "at rest:   passphrase" in out
    code, out = _on_a_terminal(home, ["whoami"], ["wrong pass"])
    assert code == 9 and "wrong passphrase" in out


def test_a_sealed_servers_backup_stays_sealed(tmp_path: Path) -> None:
    from sneakersync.server.backends import backup
    from sneakersync.store.records import Store
    from sneakersync.wire.identity import KIND_SERVER

    h = home_mod.create(tmp_path / "srv", "Office", kind=KIND_SERVER, passphrase=PW)
    s = h.open_store()
    s.put("patients", {"full_name": "Wanjiru Ochieng"}, "pt-1")
    s.close()
    old = os.umask(0)
    try:
        backup(h, tmp_path / "backup.db")
    finally:
        os.umask(old)
    raw = (tmp_path / "backup.db").read_bytes()
    assert b"Wanjiru" not in raw and not raw.startswith(b"SQLite format 3")
    assert stat.S_IMODE((tmp_path / "backup.db").stat().st_mode) == 0o600
    copy = Store(tmp_path / "backup.db", h.device_id, key=h.store_key)
    assert copy.get("patients", "pt-1").data == {"full_name": "Wanjiru Ochieng"}
    copy.close()

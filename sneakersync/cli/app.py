"""The root command group and the helpers every command module shares.

Command modules import from here; nothing here imports them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import click

from sneakersync.errors import UsageError

from sneakersync.cli import PROG  # noqa: F401  (command modules take it from here)
from sneakersync.cli.readonly import json_line


class Ctx:
    def __init__(self, home: Path | None, quiet: bool, passphrase_fd: int | None = None,
                 passphrase_file: Path | None = None) -> None:
        from sneakersync.cli.askpass import Askpass

        self._home_path = home
        self.quiet = quiet
        self.askpass = Askpass(passphrase_fd, passphrase_file)
        self._home: Any = None
        self._store: Any = None

    @property
    def home_path(self) -> Path:
        if self._home_path is None:
            from sneakersync.store.home import default_home

            self._home_path = default_home()
        return self._home_path

    @property
    def home(self) -> Any:
        if self._home is None:
            from sneakersync.store import home as home_mod

            from sneakersync.cli import agent

            self._home = home_mod.load(self.home_path,
                                       lambda: self.askpass.for_home(self.home_path),
                                       unlocked=lambda sealed: agent.keys(self.home_path, sealed))
        return self._home

    @property
    def store(self) -> Any:
        if self._store is None:
            self._store = self.home.open_store()
        return self._store

    def say(self, text: str) -> None:
        if not self.quiet:
            click.echo(text)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


pass_ctx = click.make_pass_decorator(Ctx)


def emit_json(obj: Any) -> None:
    click.echo(json_line(obj), nl=False)


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(f)


def parse_json_arg(text: str, what: str = "JSON") -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what} is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise UsageError(f"{what} is nested too deeply") from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(path_type=Path), envvar="SNEAKERSYNC_HOME",
              help="Device home folder (default: $SNEAKERSYNC_HOME, else the user data dir).")
@click.option("-q", "--quiet", is_flag=True, help="Print only results and errors.")
@click.option("--passphrase-fd", type=int, metavar="N",
              help="Read the home's passphrase from file descriptor N (one line).")
@click.option("--passphrase-file", type=click.Path(path_type=Path), metavar="PATH",
              help="Read it from the first line of PATH, e.g. a key file on separate media "
                   "(also $SNEAKERSYNC_PASSPHRASE_FILE).")
@click.version_option(package_name="sneakersync", prog_name=PROG)
@click.pass_context
def cli(ctx: click.Context, home: Path | None, quiet: bool, passphrase_fd: int | None,
        passphrase_file: Path | None) -> None:
    """Keep field records in sync between devices that never see a network.

    Records travel as signed, encrypted packets on USB sticks or SD cards, as
    animated QR codes, and end at a destination server.

    Example: sneakersync init --name "Amina laptop"
    """
    ctx.obj = Ctx(home, quiet, passphrase_fd, passphrase_file)
    ctx.call_on_close(ctx.obj.close)


def read_card_arg(card: str) -> str:
    p = Path(card)
    if not card.upper().startswith("SNK1:") and p.exists():
        return p.read_text(encoding="utf-8").strip()
    return card


def quote(name: str) -> str:
    import shlex

    return shlex.quote(name)



class Progress:
    """A one-line progress counter on stderr: ``label done/total (pct%)``.

    Shown only where a person watches: stderr is a terminal (or SNEAKERSYNC_PROGRESS=1),
    and neither --quiet nor --json was given.  ``total`` 0 means unknown (no percentage).
    """

    def __init__(self, c: "Ctx", label: str, total: int = 0, *, as_json: bool = False,
                 unit: str = "", tick: bool = False) -> None:
        import os
        import sys

        self.label, self.total, self.done, self.unit = label, max(int(total), 0), 0, unit
        self._stream = sys.stderr
        forced = os.environ.get("SNEAKERSYNC_PROGRESS") == "1"
        self.enabled = not c.quiet and not as_json and (forced or self._stream.isatty())
        self._shown = False
        self._tick = tick  # no count to show: redraw the elapsed time while the work runs
        self._started = 0.0
        self._stop: Any = None
        self._thread: Any = None

    def __enter__(self) -> "Progress":
        import threading
        import time

        self._started = time.monotonic()
        if self.enabled and self._tick:
            self._stop = threading.Event()

            def run() -> None:
                while not self._stop.wait(0.25):
                    self._draw()
            self._thread = threading.Thread(target=run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._draw()
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()

    def set_total(self, total: int) -> None:
        self.total = max(int(total), 0)
        self._draw()

    def update(self, n: int) -> None:
        self.done += int(n)
        self._draw()

    def to(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = max(int(total), 0)
        self.done = int(done)
        self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        unit = f" {self.unit}" if self.unit else ""
        if self.total:
            shown = min(self.done, self.total)
            pct = 100 * shown // self.total
            width = 24
            full = width * shown // self.total
            bar = "#" * full + "-" * (width - full)
            text = f"{self.label} [{bar}] {shown:,}/{self.total:,}{unit} ({pct}%)"
        elif self._tick:
            import time

            text = f"{self.label} ... {time.monotonic() - self._started:.0f} s"
        else:
            text = f"{self.label} {self.done:,}{unit}"
        self._stream.write("\r" + text)
        self._stream.flush()
        self._shown = True


def confirm(c: "Ctx", question: str, yes: bool) -> None:
    """Ask before an action that cannot be undone; --yes answers for scripts.

    With no answer to read (a script, stdin closed), refuse rather than act silently.
    """
    if yes:
        return
    try:
        ok = click.confirm(question, default=False, err=True)
    except click.exceptions.Abort:
        click.echo("", err=True)  # end the question's line: the error stands on its own
        raise UsageError("not confirmed (no answer); nothing was changed",
                         hints=("add --yes to confirm without being asked",)) from None
    if not ok:
        raise UsageError("not confirmed; nothing was changed")


def yes_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-y", "--yes", is_flag=True,
                        help="Do not ask for confirmation (for scripts).")(f)


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 packet', '2 packets', '1,234 changes'."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def check_drive(path: Path, *, writing: bool = False) -> None:
    """A drive argument must be the folder a stick is mounted on: say so clearly if not."""
    from sneakersync.errors import NotFoundError

    if path.is_file():
        hints = ["give the folder the stick is mounted on, e.g. /media/usb"]
        if path.suffix == ".pkt":
            hints.append(f"to look inside one packet: {PROG} inspect {quote(str(path))}")
        raise UsageError(f"{path} is a file, not a drive folder", hints=hints)
    if not path.exists():
        raise NotFoundError(f"drive folder {path} does not exist",
                            hints=("is the stick mounted? give the folder it is mounted on",))
    if not path.is_dir():
        raise UsageError(f"{path} is not a folder")
    if writing:
        return
    if not (path / "sneakersync").is_dir():
        for up in [path.resolve(), *path.resolve().parents]:
            if up.name == "sneakersync" and (up / "v1").is_dir():
                raise UsageError(f"{path} is inside the sneakersync folder of a drive",
                                 hints=(f"give the drive itself: {quote(str(up.parent))}",))
    if not (path / "sneakersync").is_dir():
        raise NotFoundError(f"no sneakersync data on {path}",
                            hints=("is this the right stick or folder? `export` writes into "
                                   "DRIVE/sneakersync/",
                                   f"nothing has been exported here yet: {PROG} export "
                                   f"{quote(str(path))} writes packets for peers"))

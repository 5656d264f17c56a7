"""The root command group and the helpers every command module shares.

Command modules import from here; nothing here imports them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import click

from sneakersync.errors import UsageError


PROG = "sneakersync"


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

            self._home = home_mod.load(self.home_path,
                                       lambda: self.askpass.for_home(self.home_path))
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
    click.echo(json.dumps(obj, ensure_ascii=False, indent=None, sort_keys=False))


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


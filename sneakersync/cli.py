"""Command line: thin shells over library calls.

Errors are mapped to exit codes in exactly one place, :func:`main`.  Heavy
optional modules (OpenCV, bumble, the server) are imported inside the commands
that need them, so ``sneakersync --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn

import click

from .errors import SneakersyncError, UsageError

PROG = "sneakersync"


class Ctx:
    def __init__(self, home: Path | None, quiet: bool) -> None:
        self._home_path = home
        self.quiet = quiet
        self._home: Any = None
        self._store: Any = None

    @property
    def home_path(self) -> Path:
        if self._home_path is None:
            from .home import default_home

            self._home_path = default_home()
        return self._home_path

    @property
    def home(self) -> Any:
        if self._home is None:
            from . import home as home_mod

            self._home = home_mod.load(self.home_path)
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(path_type=Path), envvar="SNEAKERSYNC_HOME",
              help="Device home folder (default: $SNEAKERSYNC_HOME, else the user data dir).")
@click.option("-q", "--quiet", is_flag=True, help="Print only results and errors.")
@click.version_option(package_name="sneakersync", prog_name=PROG)
@click.pass_context
def cli(ctx: click.Context, home: Path | None, quiet: bool) -> None:
    """Keep field records in sync between devices that never see a network.

    Records travel as signed, encrypted packets on USB sticks or SD cards, as
    animated QR codes, and end at a destination server.

    Example: sneakersync init --name "Amina laptop"
    """
    ctx.obj = Ctx(home, quiet)
    ctx.call_on_close(ctx.obj.close)


# --- device -------------------------------------------------------------------------

@cli.command()
@click.option("--name", required=True, help="A name people will recognise, e.g. 'Clinic tablet 2'.")
@json_option
@pass_ctx
def init(c: Ctx, name: str, as_json: bool) -> None:
    """Create this device: keys, id and an empty store.

    Refuses to overwrite an existing device.

    Example: sneakersync init --name "Amina laptop"
    """
    from . import home as home_mod

    h = home_mod.create(c.home_path, name)
    if as_json:
        emit_json(h.describe())
    else:
        c.say(f"created device {h.name!r} ({h.device_id}) in {h.path}")
        c.say(f"identity card: {h.card.encode()}")


@cli.command()
@click.option("--qr", "qr_out", metavar="FILE.png|-",
              help="Also write the card as a QR code image (- : draw it in the terminal).")
@click.option("--qr-terminal", is_flag=True, help="Draw the card's QR code in the terminal.")
@json_option
@pass_ctx
def whoami(c: Ctx, qr_out: str | None, qr_terminal: bool, as_json: bool) -> None:
    """Show this device's id, name and identity card.

    Give the card to a colleague; their `peer add CARD` (or `peer add --scan
    PHOTO` of the QR code) adds this device.

    Example: sneakersync whoami --json

    Example: sneakersync whoami --qr card.png
    """
    d = c.home.describe()
    if qr_out == "-":
        qr_terminal, qr_out = True, None
    if qr_out is not None:
        from .card_qr import write_png

        write_png(d["card"], Path(qr_out))
    if as_json:
        emit_json(dict(d, qr=qr_out) if qr_out else d)
        return
    if qr_terminal:
        from .card_qr import terminal_text

        click.echo(terminal_text(d["card"]))
    click.echo(f"name:      {d['name']}")
    click.echo(f"device id: {d['device_id']}")
    click.echo(f"kind:      {d['kind']}")
    click.echo(f"card:      {d['card']}")
    if qr_out:
        c.say(f"QR code written to {qr_out}")


# --- records ------------------------------------------------------------------------

@cli.command()
@click.argument("collection")
@click.argument("data")
@click.option("--id", "rid", help="Record id (default: a new UUID).")
@json_option
@pass_ctx
def put(c: Ctx, collection: str, data: str, rid: str | None, as_json: bool) -> None:
    """Create or update one record; prints its id.

    Example: sneakersync put shelters '{"name": "Kibera school", "capacity": 120}'
    """
    obj = parse_json_arg(data, "record")
    if not isinstance(obj, dict):
        raise UsageError("record must be a JSON object")
    new_id = c.store.put(collection, obj, rid)
    emit_json({"id": new_id}) if as_json else click.echo(new_id)


@cli.command()
@click.argument("collection")
@click.argument("rid", metavar="ID")
@json_option
@pass_ctx
def get(c: Ctx, collection: str, rid: str, as_json: bool) -> None:
    """Print one record.

    Example: sneakersync get shelters 3f2c...
    """
    rec = c.store.get(collection, rid)
    if as_json:
        out = rec.as_json()
        out["version"] = rec.vv
        emit_json(out)
    else:
        click.echo(json.dumps(rec.data, ensure_ascii=False, indent=2))
        if rec.conflict:
            click.echo(f"(conflict {rec.conflict}: see `{PROG} conflicts`)", err=True)


@cli.command()
@click.argument("collection")
@click.argument("rid", metavar="ID")
@json_option
@pass_ctx
def rm(c: Ctx, collection: str, rid: str, as_json: bool) -> None:
    """Delete one record (a tombstone that syncs like any edit).

    Example: sneakersync rm shelters 3f2c...
    """
    c.store.delete(collection, rid)
    emit_json({"id": rid, "deleted": True}) if as_json else c.say(f"deleted {rid}")


@cli.command()
@click.argument("collection")
@click.option("--json", "as_json", is_flag=True, help="Same output (rows are always JSON lines).")
@pass_ctx
def rows(c: Ctx, collection: str, as_json: bool) -> None:
    """Print every live record as JSON lines: {"id": ..., "data": {...}}.

    Example: sneakersync rows shelters > shelters.jsonl
    """
    out = sys.stdout
    for rid, data in c.store.rows(collection):
        out.write(json.dumps({"id": rid, "data": data}, ensure_ascii=False) + "\n")


@cli.command()
@json_option
@pass_ctx
def collections(c: Ctx, as_json: bool) -> None:
    """List collections with record counts and conflict policy.

    Example: sneakersync collections --json
    """
    cols = c.store.collections()
    if as_json:
        emit_json(cols)
    elif not cols:
        c.say("no records yet")
    else:
        for col in cols:
            click.echo(f"{col['name']:<24} {col['records']:>8} records  policy={col['policy']}")


@cli.command()
@click.argument("collection")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
@pass_ctx
def load(c: Ctx, collection: str, file: Path, as_json: bool) -> None:
    """Create or update many records from a .jsonl or .csv file, in one transaction.

    An `id` key or column, when present, is the record id. If any line is bad,
    nothing is written.

    Example: sneakersync load households samples/households.csv
    """
    from .loadfile import read_records

    size = file.stat().st_size if file.exists() else 0
    show = not c.quiet and not as_json and size > 2_000_000 and sys.stderr.isatty()
    if show:
        with click.progressbar(length=0, label="loading", file=sys.stderr,
                               show_pos=True) as bar:
            ids = c.store.write_many(collection, read_records(file), progress=bar.update)
    else:
        ids = c.store.write_many(collection, read_records(file))
    if as_json:
        emit_json({"collection": collection, "loaded": len(ids)})
    else:
        c.say(f"loaded {len(ids)} records into {collection}")


@cli.command()
@click.option("--dir", "workdir", type=click.Path(path_type=Path),
              help="Keep the demo's devices and drive in this folder (default: a temp folder).")
@click.option("--fast", is_flag=True, help="Smaller data set.")
@pass_ctx
def demo(c: Ctx, workdir: Path | None, fast: bool) -> None:
    """Run a narrated, self-contained scenario in a temp folder.

    Example: sneakersync demo
    """
    from .demo import run_demo

    run_demo(workdir, fast=fast, echo=click.echo)


def fail(err: SneakersyncError) -> NoReturn:
    click.echo(f"{PROG}: error: {err}", err=True)
    for hint in err.hints:
        click.echo(f"hint: {hint}", err=True)
    sys.exit(err.exit_code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: the one place where errors become exit codes."""
    args = list(sys.argv[1:] if argv is None else argv)
    # --quiet is global, but people type it after the command too: accept both
    for flag in ("-q", "--quiet"):
        if flag in args[1:]:
            args.remove(flag)
            args.insert(0, flag)
    try:
        cli.main(args=args, prog_name=PROG, standalone_mode=False)
    except SneakersyncError as err:
        fail(err)
    except click.exceptions.Abort:
        click.echo(f"{PROG}: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"{PROG}: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code if exc.exit_code else 2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo(f"{PROG}: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)


from . import cli_sync  # noqa: E402,F401  (registers the sync commands on the group)
from . import cli_qr  # noqa: E402,F401
from . import cli_peers  # noqa: E402,F401
from . import cli_server  # noqa: E402,F401  (server, push, prune, receipts, retention)

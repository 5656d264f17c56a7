"""Entry point: registers every command module on the root group and maps errors to exit codes.

Errors become exit codes in exactly one place, :func:`main`.  Heavy optional modules
(OpenCV, bumble, the server) are imported inside the commands that need them, so
``sneakersync --help`` stays fast.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from sneakersync.cli.app import PROG, cli
from sneakersync.errors import SneakersyncError
from sneakersync.cli import beacon, demo, eden, passphrase, peers, qr, records, server, sync  # noqa: F401  (each registers its commands)
from sneakersync.cli import ui  # noqa: F401,E402  (the browser UI command)


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


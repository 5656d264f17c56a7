"""The whole command tree: registers every command module on the root group and maps
errors to exit codes.

Errors become exit codes in exactly one place, :func:`run` (which the entry point,
:func:`sneakersync.cli.main.main`, calls for every command it does not answer
itself).  Heavy optional modules
(OpenCV, bumble, the server) are imported inside the commands that need them, so
``sneakersync --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from sneakersync.cli.app import PROG, cli
from sneakersync.errors import (AlreadyExistsError, FormatError, MediaError, NotFoundError,
                                SneakersyncError, UsageError)
from sneakersync.cli import (beacon, demo, eden, passphrase, peers, qr, records,  # noqa: F401
                             server, status, sync)  # each registers its commands
from sneakersync.cli import ui  # noqa: F401,E402  (the browser UI command)


def one_line(text: str) -> str:
    """Errors are one line: control characters (from names, paths, input) are shown escaped."""
    out = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text))
    return out.encode("utf-8", "backslashreplace").decode("utf-8")


def fail(err: SneakersyncError) -> NoReturn:
    click.echo(f"{PROG}: error: {one_line(str(err))}", err=True)
    for hint in err.hints:
        click.echo(f"hint: {one_line(hint)}", err=True)
    sys.exit(err.exit_code)


def run(args: list[str]) -> None:
    """Run one command line through click: the one place where errors become exit codes."""
    try:
        cli.main(args=args, prog_name=PROG, standalone_mode=False)
    except SneakersyncError as err:
        fail(err)
    except click.exceptions.Abort:
        click.echo(f"{PROG}: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"{PROG}: error: {one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code if exc.exit_code else 2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo(f"{PROG}: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # the last line of defence: one line, a documented code
        if os.environ.get("SNEAKERSYNC_DEBUG") == "1":
            raise
        fail(translate(exc))


def translate(exc: BaseException) -> SneakersyncError:
    """An error that is not ours yet (from the OS, the JSON parser, ...) as one of ours."""
    if isinstance(exc, RecursionError):
        return FormatError("input nested too deeply to read",
                           hints=("records may nest objects and arrays 64 levels deep",))
    if isinstance(exc, UnicodeError):
        return UsageError(f"text is not valid Unicode ({exc.__class__.__name__}: "
                          f"{getattr(exc, 'reason', exc)})")
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else ""
        what = f"{where}: " if where else ""
        reason = exc.strerror or str(exc)
        if isinstance(exc, FileExistsError):
            return AlreadyExistsError(f"{what}already exists; nothing was overwritten",
                                      hints=("choose another name, or remove it first",))
        if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
            return NotFoundError(f"{what}{reason}",
                                 hints=("check the path; folders are not created for you",))
        if isinstance(exc, (PermissionError, IsADirectoryError)):
            return MediaError(f"{what}{reason}")
        return MediaError(f"{what}{reason}")
    if isinstance(exc, MemoryError):
        return SneakersyncError("out of memory")
    name = exc.__class__.__name__
    return SneakersyncError(f"internal error ({name}: {exc})"[:300],
                            hints=("this is a bug: please report it with the command you ran; "
                                   "SNEAKERSYNC_DEBUG=1 shows the traceback",))


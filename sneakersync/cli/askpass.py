"""Where the CLI finds a home's passphrase (no commands here).

In order: ``--passphrase-fd N``, ``--passphrase-file PATH`` (or
``SNEAKERSYNC_PASSPHRASE_FILE``), ``SNEAKERSYNC_PASSPHRASE``, a running
``sneakersync unlock`` agent for this home, the OS keyring (when the optional
``keyring`` package and a real backend are there and ``passphrase remember``
put it in), and last a prompt when standard input is a terminal.  A value read
from a descriptor is read once and kept for the rest of the command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sneakersync.errors import UsageError

KEYRING_SERVICE = "sneakersync"


class Askpass:
    def __init__(self, fd: int | None, file: Path | None) -> None:
        self.fd = fd
        self.file = file
        self._given: str | None = None
        self._read = False

    def given(self) -> str | None:
        """A passphrase handed over without a prompt (descriptor, file, environment)."""
        if not self._read:
            from sneakersync.store import keystore

            self._read = True
            if self.fd is not None:
                self._given = keystore.read_passphrase_fd(self.fd)
            elif self.file is not None:
                self._given = keystore.read_passphrase_file(str(self.file))
            else:
                self._given = keystore.passphrase_from_env()
        return self._given

    def for_home(self, home: Path) -> str | None:
        """The passphrase of an existing home, or None when there is no way to get it."""
        got = self.given()
        if got is not None:
            return got
        from sneakersync.cli import agent

        got = agent.ask(home)
        if got is None:
            got = keyring_get(home)
        if got is None and sys.stdin.isatty():
            got = click.prompt(f"passphrase for {home}", hide_input=True, err=True)
        if got is not None:
            self._given = got
        return got

    def new(self, what: str = "new passphrase", *, use_given: bool = True) -> str | None:
        """A passphrase to seal with: given, or typed twice at a terminal."""
        if use_given:
            got = self.given()
            if got is not None:
                return got
        if not sys.stdin.isatty():
            return None
        first = click.prompt(what, hide_input=True, err=True)
        again = click.prompt(f"{what} (again)", hide_input=True, err=True)
        if first != again:
            raise UsageError("the two passphrases differ; nothing was changed")
        return str(first)


    def for_init(self, no_passphrase: bool) -> str | None:
        """The passphrase a new home is sealed with; None only with --no-passphrase."""
        if no_passphrase:
            return None
        got = self.new("passphrase for this device")
        if got is None:
            raise UsageError("a new device needs a passphrase to seal its keys and store",
                             hints=("type one at a terminal, or give --passphrase-fd N, "
                                    "--passphrase-file PATH or SNEAKERSYNC_PASSPHRASE",
                                    "or --no-passphrase for a kiosk or a test "
                                    "(then nothing is protected at rest)"))
        return got


def _keyring() -> Any:
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        kr = keyring.get_keyring()
    except Exception:  # noqa: BLE001 - a broken backend is no keyring
        return None
    return None if isinstance(kr, fail.Keyring) else kr


def _account(home: Path) -> str:
    return str(Path(home).resolve())


def keyring_get(home: Path) -> str | None:
    kr = _keyring()
    if kr is None:
        return None
    try:
        got = kr.get_password(KEYRING_SERVICE, _account(home))
    except Exception:  # noqa: BLE001 - a locked or broken keyring: ask instead
        return None
    return str(got) if got else None


def keyring_set(home: Path, passphrase: str | None) -> bool:
    """Store (or with None, delete) the passphrase in the OS keyring; False if there is none."""
    kr = _keyring()
    if kr is None:
        return False
    try:
        if passphrase is None:
            try:
                kr.delete_password(KEYRING_SERVICE, _account(home))
            except Exception:  # noqa: BLE001 - nothing stored
                pass
        else:
            kr.set_password(KEYRING_SERVICE, _account(home), passphrase)
    except Exception as exc:  # noqa: BLE001
        raise UsageError(f"the OS keyring refused: {exc}") from exc
    return True

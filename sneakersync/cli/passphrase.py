"""Passphrase commands: passphrase set|change|keyfile|remember|forget, unlock, lock.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import click

from sneakersync.cli.app import Ctx, cli, emit_json, json_option, pass_ctx
from sneakersync.errors import AlreadyExistsError, UsageError

ENV_NEW = "SNEAKERSYNC_NEW_PASSPHRASE"


@cli.group()
def passphrase() -> None:
    """Seal this device under a passphrase, or change it.

    A forgotten passphrase cannot be recovered: the device must be set up again
    (`init` in a new home) and re-added by its peers.

    Example: sneakersync passphrase change
    """


@passphrase.command("set")
@json_option
@pass_ctx
def passphrase_set(c: Ctx, as_json: bool) -> None:
    """Seal a home made with --no-passphrase (or by an older version), in place.

    Encrypts the store and seals the keys in one crash-safe step: if it is
    interrupted, the home is either still plain or fully sealed. Close other
    commands and servers on this home first.

    Example: sneakersync passphrase set
    """
    from sneakersync.store.protect import protect

    new = c.askpass.new("new passphrase")
    if new is None:
        raise UsageError("no passphrase given",
                         hints=("type one at a terminal, or give --passphrase-fd N, "
                                "--passphrase-file PATH or SNEAKERSYNC_PASSPHRASE",))
    h = protect(c.home_path, new)
    emit_json({"home": str(h.path), "sealed": True}) if as_json else \
        c.say(f"{h.path}: keys sealed and store encrypted; the passphrase is now needed")


@passphrase.command("change")
@click.option("--new-passphrase-fd", type=int, metavar="N",
              help="Read the new passphrase from file descriptor N.")
@click.option("--new-passphrase-file", type=click.Path(path_type=Path), metavar="PATH",
              help="Read the new passphrase from the first line of PATH.")
@json_option
@pass_ctx
def passphrase_change(c: Ctx, new_passphrase_fd: int | None, new_passphrase_file: Path | None,
                      as_json: bool) -> None:
    """Change the passphrase (the old one is asked first; a wrong one changes nothing).

    The new one comes from --new-passphrase-fd, --new-passphrase-file,
    SNEAKERSYNC_NEW_PASSPHRASE, or is typed twice.

    Example: sneakersync passphrase change
    """
    from sneakersync.store import keystore
    from sneakersync.store.protect import change_passphrase

    old = c.askpass.for_home(c.home_path)
    if old is None:
        raise UsageError("the current passphrase is needed", hints=(
            "type it at a terminal, or give --passphrase-fd N / SNEAKERSYNC_PASSPHRASE",))
    if new_passphrase_fd is not None:
        new: str | None = keystore.read_passphrase_fd(new_passphrase_fd)
    elif new_passphrase_file is not None:
        new = keystore.read_passphrase_file(str(new_passphrase_file))
    else:
        new = os.environ.get(ENV_NEW) or c.askpass.new("new passphrase", use_given=False)
    if new is None:
        raise UsageError("no new passphrase given", hints=(
            "type it at a terminal, or give --new-passphrase-fd N or SNEAKERSYNC_NEW_PASSPHRASE",))
    h = change_passphrase(c.home_path, old, new)
    from sneakersync.cli import agent

    agent.stop(h.path)  # an unlock holds the old one
    emit_json({"home": str(h.path), "changed": True}) if as_json else \
        c.say("passphrase changed")


@passphrase.command("keyfile")
@click.argument("path", type=click.Path(path_type=Path))
@json_option
@pass_ctx
def passphrase_keyfile(c: Ctx, path: Path, as_json: bool) -> None:
    """Write a new random passphrase to PATH (0600), for a server that starts unattended.

    Keep PATH on separate media (a USB key kept apart from the server's disk):
    the disk alone then reveals nothing. Use it with --passphrase-file PATH or
    SNEAKERSYNC_PASSPHRASE_FILE=PATH for `server init`, `server serve` and the rest.

    Example: sneakersync passphrase keyfile /media/serverkey/sneakersync.pass
    """
    text = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    try:
        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise AlreadyExistsError(f"{path} exists; not overwriting a key file") from exc
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    emit_json({"keyfile": str(path)}) if as_json else \
        c.say(f"wrote a random passphrase to {path}; keep it apart from the home")


@passphrase.command("remember")
@pass_ctx
def passphrase_remember(c: Ctx) -> None:
    """Keep the passphrase in the OS keyring (needs the `keyring` package and a keyring).

    Example: sneakersync passphrase remember
    """
    from sneakersync.cli.askpass import keyring_set

    pw = c.askpass.for_home(c.home_path)
    c.home  # noqa: B018 - checks the passphrase before it is stored
    if not keyring_set(c.home_path, pw):
        raise UsageError("no OS keyring is available here",
                         hints=("pip install keyring (and run a desktop keyring), or use "
                                "`sneakersync unlock`",))
    c.say("passphrase kept in the OS keyring")


@passphrase.command("forget")
@pass_ctx
def passphrase_forget(c: Ctx) -> None:
    """Remove the passphrase from the OS keyring and stop any unlock agent."""
    from sneakersync.cli import agent
    from sneakersync.cli.askpass import keyring_set

    keyring_set(c.home_path, None)
    agent.stop(c.home_path)
    c.say("passphrase forgotten here")


@cli.command()
@click.option("--for", "duration", default="8h", show_default=True, metavar="30m|8h|2d",
              help="How long the unlock lasts.")
@json_option
@pass_ctx
def unlock(c: Ctx, duration: str, as_json: bool) -> None:
    """Ask the passphrase once; later commands on this home do not ask until `lock`.

    A small background process keeps the opened keys (in memory only) and hands
    them to your own commands on this home, which then start without the slow
    passphrase check. POSIX only.

    Example: sneakersync unlock --for 8h
    """
    from sneakersync.cli import agent

    secs = agent.parse_duration(duration)
    h = c.home  # asks and checks the passphrase
    if not h.sealed:
        raise UsageError("this home has no passphrase: there is nothing to unlock",
                         hints=("seal it with: sneakersync passphrase set",))
    from sneakersync.store import home as home_mod, keystore

    pw = c.askpass.for_home(c.home_path)
    assert pw is not None
    sealed = (h.path / "keys" / home_mod.SEALED).read_bytes()
    agent.start(h.path, pw, secs, sealed=sealed, opened=keystore.encode_secrets(h.secrets()))
    emit_json({"home": str(h.path), "seconds": secs}) if as_json else \
        c.say(f"unlocked {h.path} for {duration}; `sneakersync lock` ends it")


@cli.command()
@json_option
@pass_ctx
def lock(c: Ctx, as_json: bool) -> None:
    """End an `unlock`: commands on this home ask for the passphrase again.

    Example: sneakersync lock
    """
    from sneakersync.cli import agent

    was = agent.stop(c.home_path)
    emit_json({"home": str(c.home_path), "was_unlocked": was}) if as_json else \
        c.say("locked" if was else "was not unlocked")

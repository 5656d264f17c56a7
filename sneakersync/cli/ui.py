"""``sneakersync ui``: the day's work in the browser (the [ui] extra)."""

from __future__ import annotations

from typing import Callable

import click

from sneakersync.cli.app import Ctx, cli, pass_ctx


def _passphrase_without_prompt(c: Ctx) -> Callable[[], str | None]:
    """Given (fd, file, environment), held by `sneakersync unlock`, or in the keyring;
    otherwise the page asks for it."""
    def ask() -> str | None:
        from sneakersync.cli import agent
        from sneakersync.cli.askpass import keyring_get

        return c.askpass.given() or agent.ask(c.home_path) or keyring_get(c.home_path)
    return ask


@cli.command()
@click.option("--listen", default="127.0.0.1", show_default=True, metavar="ADDRESS",
              help="Address to listen on. This machine's network address (e.g. "
                   "192.168.1.20) lets other machines reach the page; they still need the "
                   "link, and browsers allow the camera only on 127.0.0.1.")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port (default: a free one).")
@click.option("--no-browser", is_flag=True, help="Print the link; do not open a browser.")
@pass_ctx
def ui(c: Ctx, listen: str, port: int, no_browser: bool) -> None:
    """Open this device in the browser: records, people, sync, QR, conflicts, status.

    Serves a local page on 127.0.0.1 and opens it with a one-time link; the
    link stops working when this command stops (Ctrl-C). With no device yet,
    the page offers to create one.

    Example: sneakersync ui
    """
    from sneakersync.ui.run import LOOPBACK, open_browser, serve_until_interrupted, start
    from sneakersync.ui.session import Session

    running = start(Session(c.home_path, ask=_passphrase_without_prompt(c)), host=listen,
                    port=port)
    if listen not in LOOPBACK:
        click.echo(f"warning: listening on {listen}: other machines on the network can reach "
                   "this page; anyone holding the link can act as this device", err=True)
    click.echo(f"sneakersync ui for {c.home_path}")
    click.echo(f"open: {running.url}")
    if not no_browser:
        open_browser(running.url, c.say)
    serve_until_interrupted([running], c.say)

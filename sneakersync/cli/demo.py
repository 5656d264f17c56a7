"""``sneakersync demo``: the narrated scenario (the scenario itself lives in ``sneakersync.demo``).
"""

from __future__ import annotations

from pathlib import Path

import click

from sneakersync.cli.app import Ctx, cli, pass_ctx


@cli.command()
@click.option("--dir", "workdir", type=click.Path(path_type=Path),
              help="Keep the demo's devices and drive in this folder (default: a temp folder).")
@click.option("--fast", is_flag=True, help="Smaller data set.")
@click.option("--ui", "with_ui", is_flag=True,
              help="Afterwards, open each of the demo's devices in the browser (Ctrl-C ends).")
@click.option("--no-browser", is_flag=True, help="With --ui: print the links only.")
@click.option("--eden", metavar="URL", help="End by pushing the records into this Sahana Eden "
              "(http://USER:PW@host:port/eden); without it, the Eden files are written.")
@pass_ctx
def demo(c: Ctx, workdir: Path | None, fast: bool, with_ui: bool, no_browser: bool,
         eden: str | None) -> None:
    """Run a narrated, self-contained scenario in a temp folder.

    Example: sneakersync demo

    Example: sneakersync demo --ui

    Example: sneakersync demo --eden http://admin%40example.org:PW@127.0.0.1:8000/eden
    """
    from sneakersync.demo.scenario import run_demo

    if not with_ui:
        run_demo(workdir, fast=fast, echo=click.echo, eden=eden)
        return
    import shutil
    import tempfile

    from sneakersync.ui.run import (check_extras, device_homes, open_browser,
                                    serve_until_interrupted, start)
    from sneakersync.ui.session import Session

    check_extras()
    root = workdir or Path(tempfile.mkdtemp(prefix="sneakersync-demo-"))
    try:
        run_demo(root, fast=fast, echo=click.echo, eden=eden)
        running = []
        click.echo("\nthe demo's devices in the browser (each link works once):")
        for home in device_homes(root):
            r = start(Session(home, label=home.name))
            running.append(r)
            click.echo(f"   {home.name:<8} {r.url}")
            if not no_browser:
                open_browser(r.url, c.say)
        click.echo("Ctrl-C stops them")
        serve_until_interrupted(running, c.say)
    finally:
        if workdir is None:
            shutil.rmtree(root, ignore_errors=True)


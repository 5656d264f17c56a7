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
@pass_ctx
def demo(c: Ctx, workdir: Path | None, fast: bool) -> None:
    """Run a narrated, self-contained scenario in a temp folder.

    Example: sneakersync demo
    """
    from sneakersync.demo.scenario import run_demo

    run_demo(workdir, fast=fast, echo=click.echo)


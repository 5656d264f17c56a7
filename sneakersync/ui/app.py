"""The app: every page module's routes, the static files, the guard around them all."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sneakersync.ui.security import Guard
from sneakersync.ui.session import Session
from sneakersync.ui.web import Renderer, page


def build_app(session: Session) -> Starlette:
    """The UI for one device home; wrap nothing around it: the guard is already inside."""
    from importlib import resources

    from sneakersync.ui import (pages_conflicts, pages_people, pages_qr, pages_records,
                                pages_status, pages_sync)

    routes: list[Any] = [
        Route("/", page(lambda s, r: RedirectResponse("/records", status_code=303))),
        Mount("/static", app=StaticFiles(directory=str(resources.files("sneakersync.ui") / "static")),
              name="static"),
    ]
    for mod in (pages_records, pages_people, pages_sync, pages_qr, pages_conflicts,
                pages_status):
        routes += mod.routes()
    app = Starlette(routes=routes)
    app.state.session = session
    app.state.render = Renderer()
    app.state.sections = {r.path.split("/")[1] for r in routes if isinstance(r, Route)}
    app.add_middleware(Guard, session=session)
    return app

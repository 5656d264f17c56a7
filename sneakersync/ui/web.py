"""Rendering and the two request shapes every page uses.

``page``: a GET that renders a template from what a library call returned.
``action``: a POST that calls the library and redirects (303) back with a message;
a :class:`SneakersyncError` becomes that message with its hints, never a traceback.
"""

from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from sneakersync.errors import SneakersyncError
from sneakersync.ui.security import parse_form
from sneakersync.ui.session import Session

NAV = [("records", "Records"), ("people", "People"), ("sync", "Sync"), ("qr", "QR"),
       ("conflicts", "Conflicts"), ("status", "Status")]

PageFn = Callable[[Session, Request], Any]
ActionFn = Callable[[Session, dict[str, str], Request], str]


def _env() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("sneakersync.ui", "templates"),
                             autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["show"] = show
    env.filters["q"] = lambda v: quote(str(v), safe="")
    env.filters["when"] = when
    return env


def show(value: Any) -> str:
    """A field value as text for a page (escaped later by the template)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def when(ms: int | None) -> str:
    if not ms:
        return "never"
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000))


def safe_back(target: str | None, default: str) -> str:
    """Only paths on this site (``/x``, never ``//host`` or a scheme)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


class Renderer:
    def __init__(self) -> None:
        self.env = _env()

    def __call__(self, s: Session, request: Request, name: str, ctx: dict[str, Any],
                 status: int = 200) -> HTMLResponse:
        section = request.url.path.strip("/").split("/")[0] or "records"
        have = request.app.state.sections
        base = {"csrf": s.csrf, "nav": [(k, n) for k, n in NAV if k in have], "section": section, "flashes": s.take_flashes(),
                "device": s.home.name if s.has_device() and not s.locked() else None,
                "label": s.label,
                "path": request.url.path}
        html = self.env.get_template(name).render(**base, **ctx)
        return HTMLResponse(html, status_code=status)


def page(fn: PageFn, *, needs_device: bool = True) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        s: Session = request.app.state.session
        render: Renderer = request.app.state.render
        if needs_device and not s.has_device():
            return RedirectResponse("/setup", status_code=303)
        if needs_device and await run_in_threadpool(s.locked):
            return RedirectResponse("/unlock", status_code=303)
        try:
            out = await run_in_threadpool(fn, s, request)
        except SneakersyncError as err:
            return render(s, request, "error.html", {"title": "Error", "error": err},
                          status=404 if err.exit_code == 3 else 400)
        if isinstance(out, Response):
            return out
        name, ctx = out
        return render(s, request, name, ctx)
    return endpoint


def _came_from(request: Request) -> str:
    """The page the form was on (same-origin Referer), else the form's own address."""
    from urllib.parse import urlsplit

    ref = urlsplit(request.headers.get("referer", ""))
    if ref.netloc and ref.netloc == request.headers.get("host") and ref.path:
        return ref.path + (f"?{ref.query}" if ref.query else "")
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def action(fn: ActionFn, *, needs_device: bool = True) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        s: Session = request.app.state.session
        form = parse_form(await request.body())
        back = safe_back(form.get("back"), _came_from(request))
        if needs_device and not s.has_device():
            return RedirectResponse("/setup", status_code=303)
        if needs_device and await run_in_threadpool(s.locked):
            return RedirectResponse("/unlock", status_code=303)
        try:
            target = await run_in_threadpool(fn, s, form, request)
        except SneakersyncError as err:
            s.flash("error", str(err), tuple(err.hints))
            target = back
        return RedirectResponse(safe_back(target, "/"), status_code=303)
    return endpoint

"""Every request's checks, in one place, before any page code runs.

1. ``Host`` must be the address the UI listens on (a page on another site that
   rebinds its DNS name to 127.0.0.1 is refused).
2. ``/open?token=T`` exchanges the one-time token printed and opened by
   ``sneakersync ui`` for a session cookie (HttpOnly, SameSite=Strict, named for this
   process, since a browser shares 127.0.0.1's cookies between ports); the token works
   once.  Every other path needs that cookie.
3. Anything but GET/HEAD must come from our own origin (``Origin`` header) and carry
   the CSRF token (form field ``csrf`` or header ``X-CSRF-Token``), with a body of at
   most ``MAX_BODY`` bytes, read before any page code sees it.
4. Every response carries a content security policy without inline script or style,
   and is neither cached nor framed.
"""

from __future__ import annotations

import hmac
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

MAX_BODY = 8 * 1024 * 1024  # a camera frame as JPEG is well below
MAX_FORM_FIELDS = 2000

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob: mediastream:; connect-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would make Chromium send "Origin: null"
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(self), microphone=(), geolocation=()"),
]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


def parse_form(body: bytes) -> dict[str, str]:
    """An urlencoded form body as one value per field (the last one given)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    try:
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        return {}
    return {k: v[-1] for k, v in parsed.items()}


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _cookie(header: str, wanted: str) -> str | None:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == wanted:
            return value
    return None


class Guard:
    """ASGI middleware applying the checks above to ``session`` (a :class:`Session`)."""

    def __init__(self, app: Any, session: Any) -> None:
        self.app = app
        self.session = session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + HEADERS
            await send(message)

        h = _headers(scope)
        host = h.get("host", "")
        s = self.session
        if host not in s.hosts:
            await _plain(send_with_headers, 421, "This page is served for 127.0.0.1 only.")
            return
        path, method = scope["path"], scope["method"]
        if path == "/open":
            await self._open(scope, send_with_headers)
            return
        got = _cookie(h.get("cookie", ""), s.cookie_name)
        if got is None or not same(got, s.cookie):
            await _plain(send_with_headers, 403,
                         "Not signed in. Open the link that `sneakersync ui` printed "
                         "(it works once; start `sneakersync ui` again for a new one).")
            return
        if method in ("GET", "HEAD"):
            await self.app(scope, receive, send_with_headers)
            return
        if h.get("origin") != f"http://{host}":
            await _plain(send_with_headers, 403, "Refused: the request did not come from this page.")
            return
        body = await _read_body(receive, h)
        if body is None:
            await _plain(send_with_headers, 413, "Refused: the request is too large.")
            return
        token = h.get("x-csrf-token")
        if token is None and h.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"):
            token = parse_form(body).get("csrf")
        if token is None or not same(token, s.csrf):
            await _plain(send_with_headers, 403,
                         "Refused: the form is stale or forged (reload the page and try again).")
            return
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_headers)

    async def _open(self, scope: Scope, send: Send) -> None:
        s = self.session
        token = parse_form(scope.get("query_string", b"")).get("token", "")
        if s.token_used or not same(token, s.token):
            await _plain(send, 403, "This link was already used or is not valid. "
                                    "Start `sneakersync ui` again for a new one.")
            return
        s.token_used = True
        cookie = f"{s.cookie_name}={s.cookie}; Path=/; HttpOnly; SameSite=Strict"
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", b"/"), (b"set-cookie", cookie.encode()),
                                (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


async def _read_body(receive: Receive, h: dict[str, str]) -> bytes | None:
    try:
        declared = int(h.get("content-length", "0") or 0)
    except ValueError:
        return None
    if declared > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

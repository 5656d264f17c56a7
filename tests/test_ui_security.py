"""Attacks on the browser UI's request checks (real HTTP app, no browser needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("jinja2")

from starlette.testclient import TestClient  # noqa: E402

from sneakersync.store import home as home_mod  # noqa: E402
from sneakersync.ui.app import build_app  # noqa: E402
from sneakersync.ui.security import CSP, MAX_BODY  # noqa: E402
from sneakersync.ui.session import Session  # noqa: E402

ORIGIN = {"origin": "http://testserver"}


def _session(tmp_path: Path, create: bool = True) -> Session:
    if create:
        home_mod.create(tmp_path / "dev", "Amina")
    s = Session(tmp_path / "dev")
    s.hosts.add("testserver")
    return s


def _client(s: Session, signed_in: bool = True) -> TestClient:
    c = TestClient(build_app(s), follow_redirects=False)
    if signed_in:
        assert c.get(f"/open?token={s.token}").status_code == 303
    return c


def _records(s: Session) -> list[str]:
    with s.store() as st:
        return [rid for rid, _ in st.rows("c")]


def test_no_cookie_no_page(tmp_path: Path) -> None:
    s = _session(tmp_path)
    c = _client(s, signed_in=False)
    for path in ("/records", "/people", "/people/card.svg", "/static/ui.js", "/"):
        r = c.get(path)
        assert r.status_code == 403 and "Not signed in" in r.text
    c.cookies.set(s.cookie_name, "guess")
    assert c.get("/records").status_code == 403


def test_the_link_works_once_and_only_with_the_right_token(tmp_path: Path) -> None:
    s = _session(tmp_path)
    c = TestClient(build_app(s), follow_redirects=False)
    assert c.get("/open?token=wrong").status_code == 403
    assert c.get("/open").status_code == 403
    r = c.get(f"/open?token={s.token}")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    other = TestClient(build_app(s), follow_redirects=False)
    assert other.get(f"/open?token={s.token}").status_code == 403  # used up
    assert other.get("/records").status_code == 403
    assert c.get("/records").status_code == 200


def test_the_token_and_cookie_expire_with_the_process(tmp_path: Path) -> None:
    old = _session(tmp_path)
    c = _client(old)
    assert c.get("/records").status_code == 200
    new = Session(old.home_path)  # a new `sneakersync ui` process on the same device
    new.hosts.add("testserver")
    c2 = TestClient(build_app(new), follow_redirects=False)
    c2.cookies.set(new.cookie_name, c.cookies[old.cookie_name])
    c2.cookies.set(old.cookie_name, c.cookies[old.cookie_name])
    assert c2.get("/records").status_code == 403
    assert c2.get(f"/open?token={old.token}").status_code == 403
    assert new.token != old.token and new.cookie != old.cookie and new.csrf != old.csrf


def test_foreign_host_header_is_refused(tmp_path: Path) -> None:
    # DNS rebinding: evil.example resolves to 127.0.0.1, the browser sends its own Host
    s = _session(tmp_path)
    c = _client(s)
    r = c.get("/records", headers={"host": "evil.example"})
    assert r.status_code == 421
    r = c.get(f"/open?token={s.token}", headers={"host": "evil.example"})
    assert r.status_code == 421


def test_post_without_csrf_token_changes_nothing(tmp_path: Path) -> None:
    s = _session(tmp_path)
    c = _client(s)
    form = {"new_name": "a", "new_value": "1", "id": "x"}
    r = c.post("/records/c/new", data=form, headers=ORIGIN)
    assert r.status_code == 403 and "stale or forged" in r.text
    r = c.post("/records/c/new", data=dict(form, csrf="forged"), headers=ORIGIN)
    assert r.status_code == 403
    r = c.post("/records/c/new", data=dict(form, csrf=s.csrf[:-1]), headers=ORIGIN)
    assert r.status_code == 403
    with s.store() as st:
        assert st.collections() == []
    r = c.post("/records/c/new", data=dict(form, csrf=s.csrf), headers=ORIGIN)
    assert r.status_code == 303 and _records(s) == ["x"]


def test_every_post_route_needs_the_csrf_token(tmp_path: Path) -> None:
    s = _session(tmp_path)
    c = _client(s)
    app = build_app(s)
    posts = {r.path for r in app.routes if "POST" in (getattr(r, "methods", None) or ())}
    assert len(posts) >= 8
    for path in sorted(posts):
        url = path.replace("{coll}", "c")
        r = c.post(url, data={"id": "x"}, headers=ORIGIN)
        assert r.status_code == 403, path
        r = c.post(url, content=b"\xff\xd8\xff", headers=dict(ORIGIN, **{
            "content-type": "image/jpeg"}))
        assert r.status_code == 403, path


def test_cross_origin_posts_are_refused(tmp_path: Path) -> None:
    s = _session(tmp_path)
    c = _client(s)
    form = {"csrf": s.csrf, "new_name": "a", "new_value": "1", "id": "x"}
    for headers in ({}, {"origin": "http://evil.example"}, {"origin": "null"},
                    {"origin": "http://testserver.evil.example"}):
        r = c.post("/records/c/new", data=form, headers=headers)
        assert r.status_code == 403 and "did not come from this page" in r.text, headers
    with s.store() as st:
        assert st.collections() == []


def test_oversized_body_is_refused_before_it_is_read(tmp_path: Path) -> None:
    s = _session(tmp_path)
    c = _client(s)
    r = c.post("/people/scan/frame", content=b"\0" * (MAX_BODY + 1),
               headers=dict(ORIGIN, **{"x-csrf-token": s.csrf}))
    assert r.status_code == 413


def test_redirect_after_a_form_stays_on_this_site(tmp_path: Path) -> None:
    s = _session(tmp_path)
    c = _client(s)
    for back in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        r = c.post("/records/new", data={"csrf": s.csrf, "collection": "_bad", "back": back},
                   headers=ORIGIN)
        assert r.status_code == 303 and r.headers["location"].startswith("/records"), back
    r = c.post("/records/new", data={"csrf": s.csrf, "collection": "_bad"},
               headers=dict(ORIGIN, referer="http://evil.example/x"))
    assert r.headers["location"] == "/records/new"


def test_csp_and_headers_on_every_response_and_no_inline_script(tmp_path: Path) -> None:
    s = _session(tmp_path)
    c = _client(s)
    with s.store() as st:
        st.put("c", {"a": 1}, "r1")
    pages = ["/records", "/records/c", "/records/c/new", "/records/c/record?id=r1",
             "/records/c/delete?id=r1", "/people", "/people/scan", "/conflicts", "/sync",
             "/qr", "/qr/receive", "/status"]
    other = home_mod.create(tmp_path / "other", "Juma")
    with s.store() as st:
        from sneakersync.store import peers

        peers.add(st, other.card.encode())
    r = c.post("/qr/send", data={"csrf": s.csrf, f"to.{other.device_id}": "yes"}, headers=ORIGIN)
    assert r.headers["location"].startswith("/qr/show?id=")
    pages.append(r.headers["location"])
    for path in pages + ["/nowhere"]:
        r = c.get(path)
        assert r.headers["content-security-policy"] == CSP
        assert "unsafe-inline" not in CSP and "script-src 'self'" in CSP
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"
        if path in pages:
            assert r.status_code == 200, path
            for tag in re.findall(r"<script\b[^>]*>", r.text):
                assert 'src="/' in tag or 'type="application/json"' in tag, (path, tag)
            for block in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>',
                                    r.text, re.S):
                assert "<" not in block  # a data block cannot close itself early
            assert not re.search(r"\son[a-z]+\s*=", r.text), path  # no inline handlers
            assert "style=" not in r.text, path
    assert c.get("/open?token=x").headers["content-security-policy"] == CSP


def test_every_value_is_escaped(tmp_path: Path) -> None:
    s = _session(tmp_path)
    c = _client(s)
    evil = '<script>alert(1)</script>"\'&'
    with s.store() as st:
        st.put("c", {evil: evil}, evil)
        from sneakersync.store import peers

        other = home_mod.create(tmp_path / "other", "Juma")
        peers.add(st, other.card.encode(), name="<b>Juma</b>")
    from urllib.parse import quote

    for path in ("/records/c", f"/records/c/record?id={quote(evil)}", "/people"):
        r = c.get(path)
        assert r.status_code == 200
        assert "<script>alert" not in r.text and "<b>Juma" not in r.text
    r = c.get(f"/records/c/record?id={quote(evil)}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;" in r.text


def test_errors_are_one_message_not_a_traceback(tmp_path: Path) -> None:
    s = _session(tmp_path)
    c = _client(s)
    r = c.get("/records/c/record?id=missing")
    assert r.status_code == 404 and "no record" in r.text and "Traceback" not in r.text
    r = c.get("/records/_bad")
    assert r.status_code == 400 and "collection name" in r.text


def test_without_a_device_every_page_leads_to_setup(tmp_path: Path) -> None:
    s = _session(tmp_path, create=False)
    c = _client(s)
    assert c.get("/records").headers["location"] == "/setup"
    assert c.get("/setup").status_code == 200
    r = c.post("/setup", data={"csrf": s.csrf, "name": ""}, headers=ORIGIN)
    assert r.status_code == 303 and not s.has_device()
    r = c.post("/setup", data={"csrf": s.csrf, "name": "Amina"}, headers=ORIGIN)
    assert not s.has_device()  # no passphrase chosen
    r = c.post("/setup", data={"csrf": s.csrf, "name": "Amina", "passphrase": "a b c d",
                               "again": "a b c e"}, headers=ORIGIN)
    assert not s.has_device()
    r = c.post("/setup", data={"csrf": s.csrf, "name": "Amina", "no_passphrase": "yes"},
               headers=ORIGIN)
    assert r.headers["location"] == "/records" and s.home.name == "Amina"
    assert not s.home.sealed
    r = c.post("/setup", data={"csrf": s.csrf, "name": "Again", "no_passphrase": "yes"},
               headers=ORIGIN)
    assert s.home.name == "Amina"


def test_a_sealed_device_is_unlocked_once_with_its_passphrase(tmp_path: Path) -> None:
    home_mod.create(tmp_path / "dev", "Amina", passphrase="right one")
    s = Session(tmp_path / "dev", ask=lambda: None)  # nothing given, no agent
    s.hosts.add("testserver")
    c = _client(s)
    assert c.get("/records").headers["location"] == "/unlock"
    assert c.get("/people").headers["location"] == "/unlock"
    r = c.post("/records/new", data={"csrf": s.csrf, "collection": "c"}, headers=ORIGIN)
    assert r.headers["location"] == "/unlock"
    r = c.post("/unlock", data={"csrf": s.csrf, "passphrase": "wrong one"}, headers=ORIGIN)
    assert r.headers["location"] == "/unlock" and s.locked()
    assert "passphrase" in c.get("/unlock").text.lower()
    r = c.post("/unlock", data={"csrf": s.csrf, "passphrase": "right one"}, headers=ORIGIN)
    assert r.headers["location"] == "/records" and not s.locked()
    assert c.get("/records").status_code == 200


def test_nothing_is_loaded_from_the_network() -> None:
    """Works offline: no page, style or script refers to another site."""
    from importlib import resources

    root = resources.files("sneakersync.ui")
    files = [f for d in ("templates", "static") for f in (root / d).iterdir()]
    assert len(files) > 10
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text), f.name
        if f.name.endswith(".css"):
            assert "@import" not in text and "url(" not in text, f.name


def test_camera_frames_are_bounded_before_they_are_decoded(tmp_path: Path) -> None:
    import io

    from PIL import Image

    s = _session(tmp_path)
    c = _client(s)
    h = dict(ORIGIN, **{"x-csrf-token": s.csrf, "content-type": "image/jpeg"})
    assert c.get("/qr/receive").status_code == 200
    huge = io.BytesIO()
    Image.new("1", (6000, 6000)).save(huge, format="PNG")  # tiny file, 36 Mpixel image
    for body, why in ((b"not an image", "not a JPEG or PNG"),
                      (b"\xff\xd8\xff" + b"\0" * 100, "cannot be read"),
                      (huge.getvalue(), "out of bounds")):
        for url in ("/people/scan/frame", "/qr/receive/frame"):
            r = c.post(url, content=body, headers=h)
            assert r.status_code == 200 and why in r.json()["error"], (url, r.text)

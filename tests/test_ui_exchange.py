"""The browser UI end to end in headless Chromium: conflicts, sync through a stick, status.

One browser for the module; the device the UI shows (Amina) exchanges packets with
Juma's device, made through the library.  Screenshots go to the pytest tmp folder
(and to $SNEAKERSYNC_UI_SHOTS when set).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from conftest import Device, befriend, recv, send
from sneakersync.store import home as home_mod
from ui_browser import Browser, need_chromium

pytest.importorskip("jinja2")


class UI:
    def __init__(self, browser: Browser, running, amina: Device, juma: Device,  # type: ignore[no-untyped-def]
                 shots: Path, work: Path) -> None:
        self.b = browser
        self.running = running
        self.base = running.base
        self.amina = amina
        self.juma = juma
        self.shots = shots
        self.work = work

    def go(self, path: str) -> None:
        self.b.goto(self.base + path)

    def shot(self, name: str) -> Path:
        p = self.b.screenshot(self.shots / f"{name}.png")
        extra = os.environ.get("SNEAKERSYNC_UI_SHOTS")
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copy(p, Path(extra) / p.name)
        return p


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UI]:
    need_chromium()
    from sneakersync.ui.run import start
    from sneakersync.ui.session import Session

    work = tmp_path_factory.mktemp("uix")
    amina = Device(home_mod.create(work / "amina", "Amina clinic laptop"))
    juma = Device(home_mod.create(work / "juma", "Juma tablet"))
    befriend(amina, juma)
    running = start(Session(work / "amina"))
    browser = Browser(work)
    try:
        browser.goto(running.url)
        yield UI(browser, running, amina, juma, work / "screenshots", work)
    finally:
        browser.close()
        running.stop()
        amina.close()
        juma.close()


def test_resolve_a_conflict_field_by_field(ui: UI) -> None:
    a, j = ui.amina, ui.juma
    a.store.set_policy("shelters", "manual")
    a.store.put("shelters", {"name": "Kibera school", "capacity": 120, "open": True}, "s1")
    recv(j, send(a, [j]).data)
    a.store.put("shelters", {"name": "Kibera school", "capacity": 150, "open": True}, "s1")
    j.store.put("shelters", {"name": "Kibera Primary", "capacity": 120, "open": False}, "s1")
    rep = recv(a, send(j, [a]).data)
    assert rep.open_conflicts == 1
    ui.go("/conflicts")
    assert ui.b.eval("document.querySelectorAll('section.conflict').length") == 1
    heads = ui.b.text("table.versions thead")
    assert "Juma tablet" in heads and "Amina clinic laptop" in heads
    # the fields that differ are marked
    assert ui.b.eval("document.querySelectorAll('td.diff').length") >= 4
    ui.shot("conflicts")
    # take the name from one version, capacity from the other, and type 'open'
    versions = a.store.conflicts()[0]["versions"]
    by_name = {v["data"]["name"]: i + 1 for i, v in enumerate(versions)}
    by_cap = {v["data"]["capacity"]: i + 1 for i, v in enumerate(versions)}
    ui.b.eval(f"document.querySelector('input[name=\"c.name\"][value=\"{by_name['Kibera Primary']}\"]').click()")
    ui.b.eval(f"document.querySelector('input[name=\"c.capacity\"][value=\"{by_cap[150]}\"]').click()")
    ui.b.eval("document.querySelector('input[name=\"c.open\"][value=edit]').click()")
    ui.b.fill("input[name='e.open']", "true")
    ui.b.click("button.merge")
    assert "saved the merged record" in ui.b.text(".flash")
    assert a.store.get("shelters", "s1").data == {"name": "Kibera Primary", "capacity": 150,
                                                  "open": True}
    assert a.store.conflicts() == []
    # the decision syncs like an edit: Juma's device reads the same afterwards
    recv(j, send(a, [j]).data)
    assert j.store.get("shelters", "s1").data == a.store.get("shelters", "s1").data
    assert j.store.conflicts() == []
    ui.go("/conflicts")
    assert ui.b.eval("!!document.querySelector('#none')")


def test_keep_one_version_whole(ui: UI) -> None:
    a, j = ui.amina, ui.juma
    a.store.set_policy("notes", "manual")
    a.store.put("notes", {"text": "first"}, "n1")
    recv(j, send(a, [j]).data)
    a.store.put("notes", {"text": "amina's"}, "n1")
    j.store.delete("notes", "n1")
    recv(a, send(j, [a]).data)
    versions = a.store.conflicts()[0]["versions"]
    deleted = next(i + 1 for i, v in enumerate(versions) if v["op"] == "del")
    ui.go("/conflicts")
    assert "deleted it" in ui.b.text("main")
    ui.b.click(f"button.pick[value='{deleted}']")
    assert "kept version" in ui.b.text(".flash")
    assert [r for r, _ in a.store.rows("notes")] == []
    assert a.store.conflicts() == []

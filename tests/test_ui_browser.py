"""The browser UI end to end in headless Chromium: create the device, records, people.

One browser for the module.  Screenshots of each page go to the pytest tmp folder
(and to $SNEAKERSYNC_UI_SHOTS when set, which is how docs/ui/ is refreshed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from conftest import Device
from sneakersync.store import home as home_mod
from sneakersync.store import peers
from ui_browser import Browser, need_chromium

pytest.importorskip("jinja2")


class UI:
    def __init__(self, browser: Browser, running, shots: Path) -> None:  # type: ignore[no-untyped-def]
        self.b = browser
        self.running = running
        self.base = running.base
        self.shots = shots

    def go(self, path: str) -> None:
        self.b.goto(self.base + path)

    def shot(self, name: str) -> Path:
        return self.b.artifact(self.shots, name)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UI]:
    need_chromium()
    from sneakersync.ui.run import start
    from sneakersync.ui.session import Session

    work = tmp_path_factory.mktemp("ui")
    running = start(Session(work / "amina"))
    browser = Browser(work)
    try:
        browser.goto(running.url)  # the one-time link: sets the session cookie
        ui = UI(browser, running, work / "screenshots")
        # the device is created from the browser (tests may run in any order, on any worker)
        assert browser.url().endswith("/setup")
        ui.shot("setup")
        browser.fill("#name", "Amina clinic laptop")
        browser.fill("#passphrase", "correct horse battery staple")
        browser.fill("#again", "correct horse battery staple")
        browser.click("#create")
        yield ui
    finally:
        browser.close()
        running.stop()


@pytest.fixture(scope="module")
def juma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Device]:
    d = Device(home_mod.create(tmp_path_factory.mktemp("juma") / "juma", "Juma tablet"))
    yield d
    d.close()


def test_create_the_device_from_the_browser(ui: UI) -> None:
    # the fixture filled in the setup page; here: what it made
    assert ui.running.session.home.name == "Amina clinic laptop"
    assert ui.running.session.home.sealed  # keys and store under the passphrase
    assert (ui.running.session.home_path / "device.json").exists()
    ui.go("/setup")
    assert "This device is set up as Amina clinic laptop" in ui.b.text("main")


def test_enter_search_edit_and_delete_records(ui: UI) -> None:
    ui.go("/records")
    ui.b.fill("#collection", "households")
    ui.b.click("#start")
    assert ui.b.url().endswith("/records/households/new")
    ui.b.fill("input[name=id]", "hh-1")
    ui.b.fill("input[name=new_name]", "head")
    ui.b.fill("input[name=new_value]", "Zainab")
    ui.b.click("#save")
    assert "Saved a new record" in ui.b.text(".flash")
    # the next record's form has the collection's field already
    ui.go("/records/households/new")
    assert ui.b.eval("!!document.querySelector('input[name=\"f.head\"]')")
    ui.b.fill("input[name=id]", "hh-2")
    ui.b.fill("input[name='f.head']", "Baraka")
    ui.b.fill("input[name=new_name]", "size")
    ui.b.eval("document.querySelector('select[name=new_type]').value = 'integer'")
    ui.b.fill("input[name=new_value]", "6")
    ui.b.click("#save")
    with ui.running.session.store() as st:
        assert st.get("households", "hh-2").data == {"head": "Baraka", "size": 6}
    # search
    ui.go("/records/households")
    assert "2 records" in ui.b.text("main")
    ui.b.fill("#q", "zain")
    ui.b.click("#search")
    assert "1 record matching" in ui.b.text("main") and "hh-1" in ui.b.text("#rows")
    assert "hh-2" not in ui.b.text("#rows")
    ui.shot("records")
    # edit: the typed field stays a number
    ui.go("/records/households/record?id=hh-2")
    ui.b.fill("input[name='f.size']", "7")
    ui.b.click("#save")
    with ui.running.session.store() as st:
        assert st.get("households", "hh-2").data == {"head": "Baraka", "size": 7}
    assert ui.b.eval("document.querySelectorAll('#history tbody tr').length") == 2
    ui.shot("record")
    # a bad number is refused with a message, nothing written
    ui.b.fill("input[name=new_name]", "age")
    ui.b.eval("document.querySelector('select[name=new_type]').value = 'integer'")
    ui.b.fill("input[name=new_value]", "seven")
    ui.b.click("#save")
    assert "not a valid integer" in ui.b.text(".flash.error")
    with ui.running.session.store() as st:
        assert st.get("households", "hh-2").data == {"head": "Baraka", "size": 7}
    # delete, after a confirmation that says what it means
    ui.b.click("#delete")
    assert "every device" in ui.b.text("main")
    ui.b.click("#confirm")
    with ui.running.session.store() as st:
        assert [r for r, _ in st.rows("households")] == ["hh-1"]


def test_people_add_verify_trust_and_revoke(ui: UI, juma: Device) -> None:
    ui.go("/people")
    card = ui.b.text("#cardtext").strip()
    assert card == ui.running.session.home.card.encode()
    assert ui.b.eval("document.querySelector('#mycard').naturalWidth > 100")
    ui.shot("people")
    ui.b.eval("document.querySelector('details').open = true")
    ui.b.fill("#card", juma.home.card.encode())
    ui.b.click("#add")
    assert "/people/peer?id=" in ui.b.url()
    # the safety number shown is the one Juma's device computes for Amina
    from sneakersync.wire import safety

    expected = safety.groups(safety.safety_number(juma.home.card, ui.running.session.home.card))
    shown = ui.b.eval("[...document.querySelectorAll('#safety span')].map(e => e.textContent)")
    assert shown == expected
    ui.shot("peer")
    ui.b.click("#match")
    assert "verified" in ui.b.text(".flash")
    with ui.running.session.store() as st:
        assert peers.by_id(st, juma.id).verified
    ui.b.eval("document.querySelector('input[value=quarantine]').checked = true")
    ui.b.click("#set-trust")
    with ui.running.session.store() as st:
        assert peers.by_id(st, juma.id).trust == "quarantine"
    ui.b.click("#revoke")
    assert "cannot be undone" in ui.b.text("main")
    ui.shot("revoke-confirm")
    ui.b.click("#confirm")
    with ui.running.session.store() as st:
        assert peers.by_id(st, juma.id).revoked


def test_values_are_escaped_and_no_injected_script_runs(ui: UI) -> None:
    evil = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    with ui.running.session.store() as st:
        st.put("notes", {evil: evil, "n": "</textarea><b>x</b>"}, '"><svg onload=window.pwned=3>')
    for path in ("/records/notes", "/records/notes/record?id=%22%3E%3Csvg%20onload%3Dwindow"
                 ".pwned%3D3%3E"):
        ui.go(path)
        assert ui.b.eval("window.pwned === undefined")
        assert ui.b.eval("document.querySelectorAll('main img, main script, main svg').length") == 0
    assert evil in ui.b.text("main")


def test_phone_sized_screen(ui: UI) -> None:
    with ui.running.session.store() as st:
        st.write_many("shelters", [(f"s{i}", {"name": f"School {i}", "capacity": 100 + i,
                                              "district": "Kibera", "open": True})
                                   for i in range(12)])
    ui.b.viewport(390, 844, mobile=True)
    try:
        ui.go("/records/shelters")
        # nothing overflows sideways but the (scrollable) table box
        assert ui.b.eval("document.documentElement.scrollWidth <= 390")
        ui.shot("phone-records")
    finally:
        ui.b.viewport(1280, 900)


def test_a_form_from_the_collections_eden_binding(ui: UI) -> None:
    from sneakersync.store import binding
    from sneakersync.wire.eden import VERSION

    with ui.running.session.store() as st:
        binding.set_binding(st, {
            "v": VERSION, "collection": "persons", "resource": "pr_person",
            "schema": {"pr_person": {"first_name": {"type": "string", "required": True},
                                     "gender": {"type": "integer", "options": [1, 2, 3]},
                                     "age": {"type": "integer"}}},
            "fields": {"first_name": "first_name", "years": "age",
                       "sex": {"to": "gender", "values": {"female": 2, "male": 3}}},
            "keep": ["note"]})
    ui.go("/records/persons/new")
    # the binding's fields, types, required flag and options make the form
    assert ui.b.eval("document.querySelector('input[name=\"f.first_name\"]').required")
    assert ui.b.eval("document.querySelector('input[name=\"f.years\"]').type") == "number"
    assert ui.b.eval("[...document.querySelectorAll('select[name=\"f.sex\"] option')]"
                     ".map(o => o.value)") == ["", "female", "male"]
    assert "Eden pr_person.gender" in ui.b.text("main")
    assert ui.b.eval("!!document.querySelector('input[name=\"f.note\"]')")
    ui.shot("record-form-eden")
    ui.b.fill("input[name=id]", "p1")
    ui.b.fill("input[name='f.first_name']", "Amina")
    ui.b.fill("input[name='f.years']", "34")
    ui.b.eval("document.querySelector('select[name=\"f.sex\"]').value = 'female'")
    ui.b.click("#save")
    with ui.running.session.store() as st:
        assert st.get("persons", "p1").data == {"first_name": "Amina", "years": 34,
                                                "sex": "female"}
    # a field Eden would not take is refused by the binding, nothing written
    ui.go("/records/persons/new")
    ui.b.fill("input[name=id]", "p2")
    ui.b.fill("input[name='f.first_name']", "Jean")
    ui.b.fill("input[name=new_name]", "shoe_size")
    ui.b.fill("input[name=new_value]", "44")
    ui.b.click("#save")
    assert "not bound to pr_person" in ui.b.text(".flash.error")
    with ui.running.session.store() as st:
        assert [r for r, _ in st.rows("persons")] == ["p1"]

"""The built site in a real browser (Debian's chromium via playwright): pages render
without errors, status is recomputed at view time, filters work, axe-core finds no
serious accessibility problem, and hostile record values stay text."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from alureg.check import check
from alureg.publish import build
from alureg.sitemodel import SiteModel
from alureg.status import certificate_status, claim_status, member_status

from .browser import PageProblems, serve
from .conftest import AT, REPO, Scratch

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"

PAGES = ["", "members/", "members/MEM-0001/", "members/MEM-0106/", "certificates/", "certificates/CRT-000106/",
         "certificates/CRT-000104/", "c/CLM-10001/", "c/CLM-10004/", "auditors/", "standards/", "verification/",
         "data-dictionary/", "api/", "verify/", "search/", "changes/", "watch/", "secretariat/review/"]


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser-site") / "public"
    build(REPO, out, AT, now=dt.datetime.fromisoformat(f"{AT}T06:00:00+00:00"))
    return out


@pytest.fixture(scope="session")
def base_url(site: Path) -> Iterator[str]:
    with serve(site) as url:
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    pg = context.new_page()
    yield pg
    context.close()


def _at(page: Page, day: str) -> None:
    page.clock.set_fixed_time(dt.datetime.fromisoformat(f"{day}T12:00:00+00:00"))


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_without_errors(page: Page, base_url: str, path: str) -> None:
    problems = PageProblems(page)
    _at(page, AT)
    page.goto(base_url + path)
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").first.is_visible()
    assert problems.items == []
    if page.locator("#registry-status").count():
        assert page.evaluate("document.documentElement.getAttribute('data-status-at')") == AT


@pytest.mark.parametrize("path", PAGES)
def test_accessibility_axe(page: Page, base_url: str, path: str) -> None:
    page.goto(base_url + path)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})")
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
           if v["impact"] in ("serious", "critical")]
    assert bad == []


def test_certificate_expiring_after_build_shows_expired(page: Page, base_url: str) -> None:
    """CRT-000111 is valid until 2026-11-30; the site was built on 2026-11-21."""
    _at(page, "2026-12-02")
    page.goto(base_url + "certificates/CRT-000111/")
    badge = page.locator("[data-status-id='CRT-000111']").first
    assert badge.inner_text() == "Expired"
    assert "badge--expired" in (badge.get_attribute("class") or "")
    assert "validity ended on 2026-11-30" in page.locator("[data-reason-of='certificate:CRT-000111']").inner_text()
    assert "today, 2026-12-02" in page.locator("[data-asof]").inner_text()
    _at(page, "2026-11-25")
    page.goto(base_url + "certificates/CRT-000111/")
    assert page.locator("[data-status-id='CRT-000111']").first.inner_text() == "Active"


def test_watch_list_highlights_a_status_change_since_the_last_visit(page: Page, base_url: str) -> None:
    """A buyer watches MEM-0002 on 2026-09-01; CRT-000106 was suspended on 2026-09-10."""
    problems = PageProblems(page)
    _at(page, "2026-09-01")
    page.goto(base_url + "members/MEM-0002/")
    button = page.locator("button[data-watch='MEM-0002']")
    assert button.inner_text() == "Watch this supplier"
    button.click()
    assert button.get_attribute("aria-pressed") == "true" and button.inner_text() == "Stop watching this supplier"
    page.wait_for_function("() => (JSON.parse(localStorage.getItem('alureg-watch-v1'))['MEM-0002'] || {}).seen")
    seen = page.evaluate("() => JSON.parse(localStorage.getItem('alureg-watch-v1'))['MEM-0002'].seen")
    assert seen["MEM-0002"] == "active" and seen["CRT-000106"] == "active"

    _at(page, AT)
    page.goto(base_url + "watch/")
    page.wait_for_selector("#watched-suppliers[data-ready]")
    item = page.locator("[data-watch-item='MEM-0002']")
    assert item.get_attribute("data-changed") == "true", item.inner_text()
    assert "CRT-000106: Active → Suspended" in item.inner_text()
    assert "Changed since your last visit (2026-09-01)" in item.inner_text()
    count = page.locator("#watched-suppliers .count").inner_text()
    assert "1 supplier watched; 1 changed since your last visit" in count

    page.reload()  # what was seen is now the baseline: nothing to highlight
    page.wait_for_selector("#watched-suppliers[data-ready]")
    assert page.locator("[data-watch-item='MEM-0002']").get_attribute("data-changed") is None
    assert "Suspended" in page.locator("[data-watch-item='MEM-0002'] .watch-states").inner_text()

    page.get_by_role("button", name=re.compile("^Remove ")).click()
    assert page.locator("[data-watch-item]").count() == 0
    assert page.evaluate("() => localStorage.getItem('alureg-watch-v1')") == "{}"
    page.goto(base_url + "watch/")
    assert "Your watch list is empty" in page.locator("#watched-suppliers").inner_text()
    assert problems.items == []


def test_watch_list_ignores_tampered_storage(page: Page, base_url: str) -> None:
    """Whatever is in localStorage is shown as text and never builds a URL off the site."""
    page.goto(base_url + "watch/")
    page.evaluate("""() => localStorage.setItem('alureg-watch-v1', JSON.stringify({
        'MEM-0003': {name: '<img src=x onerror="window.pwned=1">', seen: null},
        '../../evil': {name: 'x', seen: null}}))""")
    page.reload()
    page.wait_for_selector("#watched-suppliers[data-ready]")
    assert page.locator("#watched-suppliers img").count() == 0
    assert page.evaluate("() => window.pwned") is None
    assert page.locator("[data-watch-item]").count() == 1
    assert '<img src=x onerror="window.pwned=1">' in page.locator("[data-watch-item='MEM-0003']").inner_text()


def test_javascript_status_agrees_with_python(page: Page, base_url: str) -> None:
    """status.js mirrors alureg/status.py: compare them on every sample record at many dates."""
    result = check(REPO, AT)
    model = SiteModel.build(result, AT)
    data = model.status_data(model.members, model.certificates, model.claims)
    days = sorted({d for c in model.certificates.values() for d in (c["valid_from"], c["valid_until"])}
                  | {e["date"] for c in model.certificates.values() for e in c["status_history"]}
                  | {"2019-01-01", "2023-06-01", AT, "2030-01-01"})
    days = sorted({d for day in days for d in (day, (dt.date.fromisoformat(day) + dt.timedelta(1)).isoformat())})
    page.goto(base_url + "c/CLM-10001/")
    js: dict[str, Any] = page.evaluate(
        """([data, days]) => {
            const out = {};
            for (const day of days) for (const kind of ["member", "certificate", "claim"]) {
              const ids = Object.keys(data[kind === "member" ? "members" : kind + "s"]);
              for (const id of ids) {
                const s = window.AluregStatus.statusOf(kind, id, day, data);
                out[kind + " " + id + " " + day] = [s.state, s.since, s.reason, s.reasons];
              }
            }
            return out;
        }""", [data, days])
    compared = 0
    for day in days:
        for mid, m in model.members.items():
            s = member_status(m, day)
            assert js[f"member {mid} {day}"] == [s.state, s.since, s.reason, []], (mid, day)
            compared += 1
        for cid, c in model.certificates.items():
            s = certificate_status(c, day, model.index.successors.get(cid, ()))
            assert js[f"certificate {cid} {day}"] == [s.state, s.since, s.reason, []], (cid, day)
            compared += 1
        for cid, c in model.claims.items():
            s = claim_status(c, day, model.index)
            assert js[f"claim {cid} {day}"] == [s.state, s.since, s.reason, list(s.reasons)], (cid, day)
            compared += 1
    assert compared > 5000


def test_certificate_filters(page: Page, base_url: str) -> None:
    _at(page, AT)
    page.goto(base_url + "certificates/")
    rows = page.locator("#certificates-table tbody tr:not([hidden])")
    assert rows.count() == 31
    page.select_option("select[data-filter='state']", "suspended")
    assert sorted(rows.locator("td:first-child").all_inner_texts()) == ["CRT-000106", "CRT-000116"]
    page.select_option("select[data-filter='state']", "")
    page.select_option("select[data-filter='standard']", "chain-of-custody")
    page.select_option("select[data-filter='country']", "NO")
    assert sorted(rows.locator("td:first-child").all_inner_texts()) == ["CRT-000104", "CRT-000120", "CRT-000121"]
    page.select_option("select[data-filter='type']", "provisional")
    assert rows.locator("td:first-child").all_inner_texts() == ["CRT-000120"]
    assert page.locator("#certificates-count").inner_text() == "1 of 31 shown"


def test_member_country_filter(page: Page, base_url: str) -> None:
    page.goto(base_url + "members/")
    page.select_option("select[data-filter='country']", "NO")
    visible = page.locator("#members-table tr[data-row]:not([hidden]) td:first-child")
    assert sorted(visible.all_inner_texts()) == ["Fjordvik Aluminium AS", "Nordlys Foil Converters AS"]
    assert page.locator("#members-table section:not([hidden]) h2").all_inner_texts() == [
        "Production and Transformation (certification required)"]


PAYLOAD = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'


def _hostile(scratch: Scratch) -> None:
    def named(field: str) -> Any:
        return lambda d: d.update({field: d[field] + " " + PAYLOAD})

    scratch.change("registry/members/MEM-0001.yaml", named("name"))
    scratch.change("registry/auditors/AUD-001.yaml", named("name"))
    scratch.change("registry/claims/CLM-10001.yaml", lambda d: (named("text")(d), named("name")(d["product"])))

    def cert(d: dict[str, Any]) -> None:
        d["scope"]["description"] += " " + PAYLOAD
        d["scope"]["facilities"][0]["name"] += " " + PAYLOAD
        d["audit"]["lead_auditor"] += " " + PAYLOAD
        d["status_history"][0]["reason"] += " " + PAYLOAD
    scratch.change("certificates/CRT-000103.yaml", cert)


def test_hostile_values_render_as_text_and_run_no_script(scratch: Scratch, tmp_path: Path, browser: Browser) -> None:
    _hostile(scratch)
    out = tmp_path / "public"
    build(scratch.root, out, AT)
    with serve(out) as url:
        context = browser.new_context()
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for path in ["", "members/", "members/MEM-0001/", "certificates/", "certificates/CRT-000103/",
                     "c/CLM-10001/", "c/CLM-10002/", "auditors/", "certificates/CRT-000104/"]:
            page.goto(url + path)
            page.wait_for_load_state("networkidle")
            assert page.evaluate("typeof window.__xss") == "undefined", path
            if path not in ("", "certificates/CRT-000104/"):
                assert page.get_by_text(PAYLOAD, exact=False).count() >= 1, path
            assert page.locator("img[src='x']").count() == 0, path
        context.close()
    assert dialogs == []


def test_a_paged_directory_in_the_browser(page: Page, paged_site: Path) -> None:
    """Pages of 4 rows (tests/test_directory_pages.py): the pager leads on, the page is
    styled, its status is recomputed, its filters narrow its own rows, and axe finds no
    serious problem."""
    problems = PageProblems(page)
    _at(page, AT)
    with serve(paged_site) as url:
        page.goto(url + "certificates-2/")
        page.wait_for_load_state("networkidle")
        assert page.locator(".pager ul").evaluate("e => getComputedStyle(e).display") == "flex"
        assert page.evaluate("document.documentElement.getAttribute('data-status-at')") == AT
        assert page.locator("#certificates-count").inner_text() == "4 of 4 shown"
        page.fill("input[data-filter='text']", "CRT-000105")
        assert page.locator("#certificates-table tbody tr:not([hidden]) td:first-child").all_inner_texts() == [
            "CRT-000105"]
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})")
        assert [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")] == []
        page.locator(".pager a[rel='next']").click()
        page.wait_for_url(url + "certificates-3/")
        assert page.locator(".pager a[aria-current='page']").inner_text() == "3"
        page.locator("#certificates-table tbody a").first.click()
        page.wait_for_url(re.compile(r"/certificates/CRT-\d+/$"))
        assert page.locator("h1").first.is_visible()
    assert problems.items == []

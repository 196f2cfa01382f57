"""Injection sweep (issue 8): every free-text field of every record kind (found from
the schemas, tests/textfields.py) is set to script and markup payloads, in turn, the
records are signed again with the DEMO keys, the whole site is built, and Chromium
visits every page type, the search results, the watch list and the claim page: no
payload runs and no element of a payload appears; each payload shows as text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from alureg.publish import build
from alureg.records import Kind, record_files

from .browser import serve
from .conftest import AT, Scratch
from .textfields import put, text_paths

# Each payload reports itself through window.__pwn if it runs; {tag} says which field.
PAYLOADS = [
    '<script>__pwn("{tag}")</script>',
    '"><img src=x data-pwned onerror=__pwn("{tag}")>',
    "'><svg data-pwned onload=__pwn('{tag}')><x-pwned></x-pwned>",
    '</script><script>__pwn("{tag}")</script><!--',
    "{{{{7*7}}}}${{__pwn('{tag}')}}[m](javascript:__pwn('{tag}'))<a data-pwned href=javascript:__pwn('{tag}')>a</a>",
    "\u2028<iframe data-pwned srcdoc=\"<script>parent.__pwn('{tag}')</script>\"></iframe>",
]
ROUNDS = 3  # each round gives each field two payloads; after three every field has had all six
FOREIGN = "[data-pwned], x-pwned, iframe[srcdoc], img[src='x'], svg[onload], a[href^='javascript:']"
RECORD_PAGES = {Kind.MEMBER: "members/{id}/", Kind.CERTIFICATE: "certificates/{id}/", Kind.CLAIM: "c/{id}/"}
PAGES = ["", "members/", "certificates/", "auditors/", "standards/", "verification/", "data-dictionary/", "api/",
         "changes/", "verify/", "search/?q=pwn", "secretariat/review/"]
TRAP = """
window.__pwned = [];
window.__pwn = (tag) => window.__pwned.push(String(tag));
"""


def _payload(round_: int, i: int, tag: str) -> str:
    first, second = (PAYLOADS[(i + 2 * round_ + k) % len(PAYLOADS)] for k in (0, 1))
    return (first + " " + second).format(tag=tag)


def _poison(scratch: Scratch, round_: int) -> dict[Kind, list[str]]:
    """Every text field of every record gets payloads; the ids of each kind's records."""
    ids: dict[Kind, list[str]] = {}
    for kind, path in sorted(record_files(scratch.root), key=lambda kp: str(kp[1])):
        rel = str(path.relative_to(scratch.root))
        data = scratch.read(rel)
        ids.setdefault(kind, []).append(str(data["id"]))
        paths = list(dict.fromkeys(text_paths(kind, data)))

        def edit(d: dict[str, Any], paths: list[Any] = paths, stem: str = path.stem) -> None:
            for i, where in enumerate(paths):
                limit = 200 if where[-1] in ("name", "holder", "lead_auditor", "trading_name") else 1000
                put(d, where, _payload(round_, i, f"{stem}/{'/'.join(map(str, where))}")[:limit])
        scratch.change(rel, edit, kind=kind)
    return ids


def _visit(page: Page, url: str, *, idle: bool = False) -> None:
    """Open a page and wait for what writes into it after loading: the claim verdict,
    the search results, or (``idle``) every request, as the watch list needs."""
    page.goto(url)
    page.wait_for_load_state("networkidle" if idle else "load")
    if "/c/" in url:
        page.wait_for_selector("#verdict[data-verdict]")
    if "/search/" in url:
        page.wait_for_selector("#supplier-search[data-ready]")
    assert page.evaluate("window.__pwned") == [], url
    assert page.locator(FOREIGN).count() == 0, url
    assert page.evaluate("""() => [...document.querySelectorAll('*')].flatMap(
        e => [...e.attributes].filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name))""") == [], url


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_no_payload_runs_anywhere(round_: int, scratch: Scratch, tmp_path: Path, browser: Browser) -> None:
    ids = _poison(scratch, round_)
    out = tmp_path / "public"
    build(scratch.root, out, AT, now=dt.datetime.fromisoformat(f"{AT}T06:00:00+00:00"))
    context = browser.new_context()
    context.add_init_script(TRAP)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    with serve(out) as url:
        # The trap works: the payloads, put into a page as HTML, are caught.
        page.goto(url + "api/")
        page.evaluate("html => { document.body.innerHTML = html; }", " ".join(PAYLOADS).format(tag="self-test"))
        page.wait_for_function("window.__pwned.length > 0")
        assert page.locator(FOREIGN).count() > 0
        for path in PAGES:
            _visit(page, url + path)
        for kind, pattern in RECORD_PAGES.items():
            for record_id in ids[kind][:4]:
                _visit(page, url + pattern.format(id=record_id))
        page.goto(url + f"members/{ids[Kind.MEMBER][0]}/")
        page.click("button.watch-button")
        _visit(page, url + "watch/", idle=True)
        _visit(page, url + "search/?q=pwn", idle=True)
        assert page.locator("#search-results tbody tr").count() > 0  # the payloads were indexed, as text
        page.goto(url + f"members/{ids[Kind.MEMBER][0]}/")
        assert page.get_by_text('<script>__pwn("', exact=False).count() + \
            page.get_by_text("<img src=x data-pwned", exact=False).count() > 0  # shown as text
        # The claim page's QR section, opened as the holder does.
        page.goto(url + f"c/{ids[Kind.CLAIM][0]}/")
        page.click("#qr summary")
        page.wait_for_selector("#qr[data-qr-state=drawn]")
        assert page.evaluate("window.__pwned") == [] and page.locator(FOREIGN).count() == 0
    context.close()
    assert dialogs == []

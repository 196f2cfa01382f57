"""The claim page in Chromium: the shared table of cases, changed bytes, the decoded
QR code of every sample claim, page weight, the WebCrypto fallback, and the
verify-a-label page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page

from alureg.config import load_config
from alureg.verify import verify_site

from .browser import PageProblems, serve
from .claim_cases import CASES, DAY, NOW, SITE_URL, Case, moment, prepare
from .conftest import REPO

BUDGET = 50 * 1024


def page_verdict(browser: Browser, url: str, day: str, *, seen: int | None = None,
                 init: str | None = None) -> tuple[str, list[str], str, list[str]]:
    """Open a claim page at 12:00 UTC of ``day``; its verdict, reasons, title and problems."""
    context = browser.new_context()
    page = context.new_page()
    problems = PageProblems(page)
    page.clock.set_fixed_time(moment(day))
    if seen is not None:
        page.add_init_script(f"localStorage.setItem('alureg-seen-sequence:{SITE_URL}', '{seen}')")
    if init:
        page.add_init_script(init)
    page.goto(url)
    page.wait_for_selector("#verdict[data-verdict]", timeout=10_000)
    word = page.get_attribute("#verdict", "data-verdict") or ""
    reasons = page.locator("#verdict-reasons li").all_inner_texts()
    title = page.inner_text("#verdict-title")
    context.close()
    return word, reasons, title, problems.items


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_claim_page_agrees_with_python(case: Case, claim_site: Path, other_site: Path, tmp_path: Path,
                                       browser: Browser) -> None:
    site = prepare(case, claim_site, other_site, tmp_path / "site")
    seen = int(NOW.timestamp()) + 1 if case.lower_sequence else None
    python = verify_site(site, case.claim, load_config(REPO), moment(case.day), min_sequence=seen or 0)
    with serve(site) as url:
        word, reasons, title, _ = page_verdict(browser, f"{url}c/{case.claim}/", case.day, seen=seen)
    assert (word, reasons) == (python.word, python.reasons) == (case.word, case.reasons)
    assert title == {"VALID": "Valid", "NOT-VALID": "Not valid", "CANNOT-VERIFY": "Cannot be verified"}[word]


@pytest.mark.parametrize("name", ["api/v1/trust.json", "api/v1/snapshot.json", "c/CLM-10001/claim.json"])
def test_changing_one_byte_on_a_running_server_flips_to_cannot_verify(name: str, claim_site: Path, tmp_path: Path,
                                                                      browser: Browser) -> None:
    site = prepare(CASES[0], claim_site, claim_site, tmp_path / "site")
    path = site / name
    original = path.read_bytes()
    with serve(site) as url:
        assert page_verdict(browser, f"{url}c/CLM-10001/", DAY)[0] == "VALID"
        for i in range(0, len(original), max(1, len(original) // 6)):
            path.write_bytes(original[:i] + bytes([original[i] ^ 0x01]) + original[i + 1:])
            word, _, title, _ = page_verdict(browser, f"{url}c/CLM-10001/", DAY)
            assert (word, title) == ("CANNOT-VERIFY", "Cannot be verified"), (name, i)
        path.write_bytes(original)
        assert page_verdict(browser, f"{url}c/CLM-10001/", DAY)[0] == "VALID"


def test_scanned_qr_code_of_every_sample_claim_opens_the_right_verdict(claim_site: Path, browser: Browser) -> None:
    config = load_config(REPO)
    with serve(claim_site) as url:
        for png in sorted((claim_site / "c").glob("*/qr.png")):
            with Image.open(png) as image:
                scanned = zxingcpp.read_barcodes(image.convert("L"))[0].text
            assert scanned.startswith(SITE_URL + "/c/")
            local = url + scanned[len(SITE_URL) + 1:]  # the production URL, served from this machine
            word, reasons, _, problems = page_verdict(browser, local, DAY)
            python = verify_site(claim_site, png.parent.name, config, moment(DAY))
            assert (word, reasons) == (python.word, python.reasons), png.parent.name
            assert problems == []


def test_page_weight_and_no_other_host(claim_site: Path, browser: Browser) -> None:
    with serve(claim_site, compress=True) as url:
        context = browser.new_context()
        page = context.new_page()
        page.clock.set_fixed_time(moment(DAY))
        responses: list[Any] = []
        page.on("response", lambda r: responses.append(r))
        page.goto(f"{url}c/CLM-10001/")
        page.wait_for_selector("#verdict[data-verdict='VALID']")
        page.wait_for_load_state("networkidle")
        hosts = {r.url.split("/")[2] for r in responses}
        sizes = [r.request.sizes() for r in responses]
        transferred = sum(s["responseBodySize"] + s["responseHeadersSize"] for s in sizes)
        gzipped = [r.url for r in responses if r.headers.get("content-encoding") == "gzip"]
        context.close()
    assert hosts == {url.split("/")[2]}
    assert len(gzipped) >= 5  # html, two scripts, three json files (all but favicon-free)
    assert transferred <= BUDGET, transferred


NO_ED25519 = """
const original = crypto.subtle.importKey.bind(crypto.subtle);
crypto.subtle.importKey = function (format, key, algorithm, ...rest) {
  if ((algorithm && (algorithm.name || algorithm)) === "Ed25519") {
    return Promise.reject(new DOMException("Unrecognized name.", "NotSupportedError"));
  }
  return original(format, key, algorithm, ...rest);
};
"""


def test_vendored_library_verifies_where_webcrypto_lacks_ed25519(claim_site: Path, tmp_path: Path,
                                                                  browser: Browser) -> None:
    with serve(claim_site) as url:
        assert page_verdict(browser, f"{url}c/CLM-10001/", DAY, init=NO_ED25519)[:2] == ("VALID", [])
        assert page_verdict(browser, f"{url}c/CLM-10004/", DAY, init=NO_ED25519)[0] == "NOT-VALID"
    case = next(c for c in CASES if c.id == "claim-file-tampered")
    site = prepare(case, claim_site, claim_site, tmp_path / "tampered")
    with serve(site) as url:
        assert page_verdict(browser, f"{url}c/CLM-10001/", DAY, init=NO_ED25519)[0] == "CANNOT-VERIFY"


def test_vendored_library_is_the_published_package() -> None:
    vendored = REPO / "site/assets/vendor/noble-ed25519.js"
    package = REPO / "node_modules/@noble/ed25519"
    assert vendored.read_bytes() == (package / "index.js").read_bytes()
    assert json.loads((package / "package.json").read_text())["version"] == "3.2.0"
    assert "3.2.0" in (REPO / "site/assets/vendor/README.md").read_text()


def test_verify_a_label_page(claim_site: Path, browser: Browser) -> None:
    with serve(claim_site) as url:
        context = browser.new_context()
        page: Page = context.new_page()
        page.clock.set_fixed_time(moment(DAY))
        page.goto(f"{url}verify/")
        page.fill("#claim-code", "not a code")
        page.click("button[type=submit]")
        assert "not a claim code" in page.inner_text("#verify-message")
        page.fill("#claim-code", "clm-10001")
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}c/CLM-10001/")
        page.wait_for_selector("#verdict[data-verdict='VALID']")
        context.close()


def test_png_is_print_ready(claim_site: Path) -> None:
    with Image.open(claim_site / "c/CLM-10001/qr.png") as image:
        assert image.width == image.height == 41 * 10  # version 4: 33 modules + 2 × 4 quiet zone, 10 px each
    page = (claim_site / "c/CLM-10001/index.html").read_text()
    assert "version 4: 33 × 33 modules" in page and "at least 16.4 mm" in page

"""The claim page in Chromium: the shared table of cases, changed bytes, the decoded
QR code of every sample claim, page weight, the WebCrypto fallback, and the
verify-a-label page."""

from __future__ import annotations

import base64
import io
import json
import re
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


def test_sharded_snapshot_in_the_browser(sharded_site: Path, tmp_path: Path, browser: Browser) -> None:
    """Every sample claim, its snapshot in 32 shards: the page finds the claim's shard
    root as Python does; a re-signed snapshot with a shard count that is not a power
    of two is refused by both."""
    from alureg.demo import demo_publisher
    from alureg.signing import canonical, sign_record

    config = load_config(REPO)
    claims = sorted(p.name for p in (sharded_site / "c").iterdir())
    with serve(sharded_site) as url:
        for claim in claims:
            python = verify_site(sharded_site, claim, config, moment(DAY))
            word, reasons, _, problems = page_verdict(browser, f"{url}c/{claim}/", DAY)
            assert (word, reasons) == (python.word, python.reasons), claim
            assert problems == []
    assert {verify_site(sharded_site, c, config, moment(DAY)).word for c in claims} == {"VALID", "NOT-VALID"}

    site = prepare(CASES[0], sharded_site, sharded_site, tmp_path / "site")
    path = site / "api/v1/snapshot.json"
    snapshot = json.loads(path.read_bytes())
    body = {k: v for k, v in snapshot.items() if k != "proof"}
    body["shards"] = body["shards"][:3]
    path.write_bytes(canonical(sign_record(body, demo_publisher(), snapshot["created"])))
    python = verify_site(site, "CLM-10001", config, moment(DAY))
    assert (python.word, python.reasons) == ("CANNOT-VERIFY", ["the published files are malformed"])
    with serve(site) as url:
        assert page_verdict(browser, f"{url}c/CLM-10001/", DAY)[:2] == (python.word, python.reasons)


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


DRAWN = """async () => {
  const section = document.getElementById("qr");
  const bytes = async (sel) => new Uint8Array(await (await fetch(section.querySelector(sel).href)).arrayBuffer());
  const png = await bytes("[data-qr=png]");
  const svgText = new TextDecoder().decode(await bytes("[data-qr=svg]"));
  // The SVG as a printer would render it: rasterised at 10 px per module.
  const image = new Image();
  image.src = "data:image/svg+xml;base64," + btoa(svgText);
  await image.decode();
  const side = Number(svgText.match(/viewBox="0 0 (\\d+)/)[1]);
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = side * 10;
  canvas.getContext("2d").drawImage(image, 0, 0, side * 10, side * 10);
  return {png: Array.from(png), svg: svgText, svgPng: canvas.toDataURL("image/png"),
          text: section.innerText, download: section.querySelector("[data-qr=png]").getAttribute("download")};
}"""


def _draw_in_browser(browser: Browser, url: str) -> dict[str, Any]:
    """Open a claim page's QR section as the holder does; the files it offers."""
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url)
    page.wait_for_selector("#verdict[data-verdict]")
    assert not [r for r in requests if "uqr" in r]  # the encoder is not loaded for consumers
    page.click("#qr summary")
    page.wait_for_selector("#qr[data-qr-state=drawn]", timeout=10_000)
    drawn: dict[str, Any] = page.evaluate(DRAWN)
    context.close()
    return drawn


def _scan(png: bytes) -> str:
    with Image.open(io.BytesIO(png)) as image:
        found = zxingcpp.read_barcodes(image.convert("L"))
    assert len(found) == 1
    return found[0].text


def test_code_drawn_by_every_sample_claim_page_scans_to_the_right_verdict(claim_site: Path, browser: Browser) -> None:
    """The holder's code, as drawn in the browser (PNG and SVG), decoded by zxing-cpp,
    also at 2 px per module; the decoded URL opens the claim's own verdict."""
    config = load_config(REPO)
    claims = sorted(p.parent.name for p in (claim_site / "c").glob("*/claim.json"))
    assert len(claims) == 20
    with serve(claim_site) as url:
        for claim_id in claims:
            drawn = _draw_in_browser(browser, f"{url}c/{claim_id}/")
            png = bytes(drawn["png"])
            scanned = _scan(png)
            assert scanned == f"{SITE_URL}/c/{claim_id}/"  # the registry's URL, not the server it came from
            assert _scan(base64.b64decode(drawn["svgPng"].split(",", 1)[1])) == scanned
            assert f"<title>{scanned}</title>" in drawn["svg"]
            version = int(re.findall(r"version (\d+): ", drawn["text"])[0])
            modules = 17 + 4 * version
            side = modules + 2 * 4  # the quiet zone: 4 modules on each side
            assert f"version {version}: {modules} × {modules} modules" in drawn["text"]
            assert f"({side} modules). Print at least {side * 0.4:.1f} mm wide" in drawn["text"]
            with Image.open(io.BytesIO(png)) as image:
                assert image.width == image.height == side * 10
                small = io.BytesIO()
                image.resize((side * 2, side * 2), Image.Resampling.NEAREST).save(small, format="PNG")
            assert _scan(small.getvalue()) == scanned
            assert drawn["download"] == f"{claim_id}-qr.png"
            local = url + scanned[len(SITE_URL) + 1:]  # the production URL, served from this machine
            word, reasons, _, problems = page_verdict(browser, local, DAY)
            python = verify_site(claim_site, claim_id, config, moment(DAY))
            assert (word, reasons) == (python.word, python.reasons), claim_id
            assert problems == []


def test_browser_and_qr_command_draw_the_same_url_at_the_same_level(claim_site: Path, browser: Browser,
                                                                     tmp_path: Path) -> None:
    """Same text, error correction level Q and quiet zone from both encoders. The
    version may differ by one: libzint mixes encoding modes within the URL, uqr does
    not (version 4 against 5 for the sample's URLs)."""
    from alureg.cli import main

    assert main(["qr", "CLM-10001", "--root", str(REPO), "--out", str(tmp_path)]) == 0
    with serve(claim_site) as url:
        drawn = _draw_in_browser(browser, f"{url}c/CLM-10001/")
    found = {}
    for name, png in (("browser", bytes(drawn["png"])), ("command", (tmp_path / "CLM-10001-qr.png").read_bytes())):
        with Image.open(io.BytesIO(png)) as image:
            code = zxingcpp.read_barcodes(image.convert("L"))[0]
            modules = image.width // 10 - 8
            found[name] = (code.text, code.ec_level, (modules - 17) // 4)
    assert found["browser"][:2] == found["command"][:2] == (f"{SITE_URL}/c/CLM-10001/", "Q")
    assert found["command"][2] <= found["browser"][2] <= found["command"][2] + 1


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
    uqr = REPO / "node_modules/uqr"
    assert (REPO / "site/assets/vendor/uqr.js").read_bytes() == (uqr / "dist/index.mjs").read_bytes()
    assert json.loads((uqr / "package.json").read_text())["version"] == "0.1.3"
    assert "| 0.1.3 |" in (REPO / "site/assets/vendor/README.md").read_text()


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



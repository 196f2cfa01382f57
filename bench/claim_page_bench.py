#!/usr/bin/env python3
"""Claim page budget: bytes transferred on a first visit, and Lighthouse (mobile).

Builds the sample registry, serves it on 127.0.0.1 with gzip as static hosts do,
measures in Debian's chromium what a first visit with an empty cache transfers for
each sample claim page, and runs Lighthouse (npm `lighthouse`, CHROME_PATH=/usr/bin/chromium,
default mobile settings) on one valid and one not-valid claim. Writes the "claim page"
section of bench/RESULTS.md. Run: `.venv/bin/python bench/claim_page_bench.py`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright
from results import write_section

from alureg.publish import build
from tests.browser import CHROMIUM, CHROMIUM_ARGS, serve

BUDGET = 50 * 1024


def first_visit(browser: object, url: str) -> tuple[int, int, set[str]]:
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    responses: list = []
    page.on("response", lambda r: responses.append(r))
    page.goto(url)
    page.wait_for_selector("#verdict[data-verdict]")
    page.wait_for_load_state("networkidle")
    sizes = [r.request.sizes() for r in responses]
    transferred = sum(s["responseBodySize"] + s["responseHeadersSize"] for s in sizes)
    hosts = {r.url.split("/")[2] for r in responses}
    context.close()
    return transferred, len(responses), hosts


def lighthouse(url: str, out: Path) -> dict[str, float]:
    env = dict(os.environ, CHROME_PATH=CHROMIUM)
    flags = " ".join(["--headless=new", *CHROMIUM_ARGS])
    subprocess.run(
        ["npx", "--no-install", "lighthouse", url, "--quiet", "--output=json", f"--output-path={out}",
         "--only-categories=performance,accessibility", f"--chrome-flags={flags}"],
        cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report = json.loads(out.read_text())
    scores = {k: round(v["score"] * 100) for k, v in report["categories"].items()}
    audits = report["audits"]
    return {**scores, "lcp_ms": audits["largest-contentful-paint"]["numericValue"],
            "tbt_ms": audits["total-blocking-time"]["numericValue"],
            "cls": audits["cumulative-layout-shift"]["numericValue"],
            "weight": audits["total-byte-weight"]["numericValue"]}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="alureg-claims-") as tmp:
        site = Path(tmp) / "public"
        build(REPO, site, publisher=None, now=dt.datetime.now(dt.UTC))
        claims = sorted(p.name for p in (site / "c").iterdir())
        with serve(site, compress=True) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            weights = {}
            for cid in claims:
                transferred, requests, hosts = first_visit(browser, f"{url}c/{cid}/")
                assert hosts == {url.split("/")[2]}, hosts
                weights[cid] = (transferred, requests)
            browser.close()
            scores = {cid: lighthouse(f"{url}c/{cid}/", Path(tmp) / f"{cid}.json")
                      for cid in ("CLM-10001", "CLM-10004")}
    biggest = max(weights.items(), key=lambda kv: kv[1][0])
    smallest = min(weights.items(), key=lambda kv: kv[1][0])
    lines = [
        "## Claim page",
        "",
        "`bench/claim_page_bench.py`: the sample site served on 127.0.0.1 with gzip (as static hosts do); first",
        "visit with an empty cache in Debian's chromium; Lighthouse 13.5.0 with its default mobile settings",
        "(simulated slow 4G, mid-range phone).",
        "",
        f"Bytes transferred (HTML, inline CSS, scripts, trust list, snapshot, claim bundle; headers included),"
        f" all {len(weights)} sample claims: {smallest[1][0]:,} B ({smallest[0]}) to"
        f" {biggest[1][0]:,} B ({biggest[0]}),"
        f" {biggest[1][1]} requests, all to 127.0.0.1. Budget {BUDGET:,} B.",
        "",
        "| claim | performance | accessibility | LCP (ms) | TBT (ms) | CLS | Lighthouse total byte weight |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for cid, s in scores.items():
        lines.append(f"| {cid} | {s['performance']} | {s['accessibility']} | {s['lcp_ms']:.0f} | {s['tbt_ms']:.0f} | "
                     f"{s['cls']:.3f} | {s['weight']:,.0f} B |")
    lines += ["", "For comparison (shared/measurements.md): a default Material for MkDocs page scored 75 and 93",
              "and loaded 949 KB uncompressed, with a request for web fonts from another host."]
    write_section("claim-page", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()

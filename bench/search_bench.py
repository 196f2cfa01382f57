#!/usr/bin/env python3
"""Supplier search at scale: the site's own index (alureg/searchindex.py, chosen)
against Pagefind and MiniSearch.

On a synthetic registry of 100,000 certificates, 100,000 claims and 20,000 members
(`build.py synth`, or an existing one given as the first argument) it builds the three
indexes from the same supplier documents (alureg/search.py), serves them with gzip on
127.0.0.1, and measures in Debian's chromium: bytes transferred until the first query
answers (search code and page included), and the time from each further keystroke to
results on screen. Writes the "search" section of bench/RESULTS.md.
Run: `.venv/bin/python bench/search_bench.py [REGISTRY]`.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from playwright.sync_api import Page, sync_playwright
from results import write_section

from alureg.check import check
from alureg.pages import Fragments
from alureg.search import documents, write_pagefind, write_search_index
from alureg.shell import build_shell
from alureg.sitemodel import SiteModel
from tests.browser import CHROMIUM, CHROMIUM_ARGS, serve

AT = "2026-11-21"
WORDS = ["alder", "torvik", "plant 4711", "crt-00054321", "clm-00012345", "norway"]

HARNESS = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>MiniSearch harness</title></head>
<body><form id="supplier-search"><input id="q" aria-label="search"></form><p id="search-count"></p>
<table id="search-results"><tbody></tbody></table>
<script src="minisearch.js"></script>
<script>
(async function () {
  const text = await (await fetch("index.json")).text();
  const fold = (t) => t.normalize("NFKD").replace(/[\\u0300-\\u036f]/g, "").toLowerCase();
  const index = MiniSearch.loadJSON(text, {fields: ["content"], idField: "url",
    storeFields: ["title", "id", "country", "standards", "status", "valid_until", "filters"], processTerm: fold});
  const form = document.getElementById("supplier-search"), q = document.getElementById("q");
  const tbody = document.querySelector("tbody");
  let generation = 0;
  function run() {
    const mine = ++generation, started = performance.now();
    const hits = q.value.trim() ? index.search(q.value, {prefix: true, combineWith: "AND"}) : [];
    tbody.textContent = "";
    for (const hit of hits.slice(0, 20)) {
      const tr = document.createElement("tr");
      tr.textContent = hit.title + " " + hit.country + " " + hit.standards + " " + hit.status;
      tbody.appendChild(tr);
    }
    document.getElementById("search-count").textContent = hits.length + " suppliers";
    document.documentElement.setAttribute("data-answer-ms", String(Math.round(performance.now() - started)));
    form.setAttribute("data-ready", String(mine));
  }
  q.addEventListener("input", run);
  const first = new URLSearchParams(location.search).get("q");
  if (first) q.value = first;
  run();
})();
</script></body></html>
"""


def _gz_size(folder: Path) -> tuple[int, int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    raw = sum(p.stat().st_size for p in files)
    packed = sum(len(gzip.compress(p.read_bytes(), 6)) for p in files)
    return len(files), raw, packed


def _ready(page: Page) -> str:
    return page.get_attribute("#supplier-search", "data-ready") or ""


def measure(base_url: str, path: str, browser: object) -> dict[str, float]:
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    responses: list = []
    page.on("response", lambda r: responses.append(r))
    started = time.perf_counter()
    page.goto(f"{base_url}{path}?q={WORDS[0][:3]}")
    page.wait_for_selector("#supplier-search[data-ready]", timeout=120_000)
    first_s = time.perf_counter() - started
    transferred = sum(r.request.sizes()["responseBodySize"] + r.request.sizes()["responseHeadersSize"]
                      for r in responses)
    requests = len(responses)
    latencies: list[int] = []
    for word in WORDS:
        for i in range(1, len(word) + 1):
            before = _ready(page)
            page.fill("#q", word[:i])
            page.wait_for_function(
                f"document.getElementById('supplier-search').getAttribute('data-ready') !== '{before}'",
                timeout=60_000)
            latencies.append(int(page.get_attribute("html", "data-answer-ms") or "0"))
            if latencies[-1] > 50:
                print(f"  slow keystroke: {path} {word[:i]!r} {latencies[-1]} ms", file=sys.stderr)
    context.close()
    return {"transfer": transferred, "requests": requests, "first_s": first_s,
            "median_ms": statistics.median(latencies), "p95_ms": sorted(latencies)[int(len(latencies) * 0.95)],
            "max_ms": max(latencies), "keystrokes": len(latencies)}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="alureg-search-") as tmp_name:
        tmp = Path(tmp_name)
        root = Path(sys.argv[1]) if len(sys.argv) > 1 else tmp / "reg"
        if len(sys.argv) == 1:
            subprocess.run([sys.executable, "build.py", "synth", "--members", "20000", "--certificates", "100000",
                            "--claims", "100000", "--out", str(root)], cwd=REPO, check=True)
        t = time.perf_counter()
        result = check(root, AT)
        model = SiteModel.build(result, AT)
        check_s = time.perf_counter() - t
        site = tmp / "site"
        site.mkdir()
        names = ["home", "changes", "members", "certificates", "auditors", "standards", "datadict"]
        build_shell(site, tmp / "work", Fragments({}, dict.fromkeys(names, str)), "Bench registry")  # empty

        t = time.perf_counter()
        suppliers = write_search_index(model, site)
        own_s = time.perf_counter() - t
        own_files, own_raw, own_gz = _gz_size(site / "search" / "index")

        # Pagefind, behind the same page: the search page with the Pagefind version of its script.
        t = time.perf_counter()
        write_pagefind(list(documents(model)), site / "pagefind")
        pagefind_s = time.perf_counter() - t
        pf_files, pf_raw, pf_gz = _gz_size(site / "pagefind")
        (site / "pfsearch").mkdir()
        page = (site / "search" / "index.html").read_text()
        (site / "pfsearch" / "index.html").write_text(page.replace("../assets/supplier-search.js", "harness.js"))
        shutil.copy(REPO / "bench/pagefind_harness.js", site / "pfsearch" / "harness.js")

        docs = tmp / "docs.jsonl"
        with docs.open("w") as f:
            for d in documents(model):
                f.write(json.dumps({"url": d.url, "content": d.content, **d.meta, "filters": d.filters}) + "\n")
        harness = site / "minisearch"
        harness.mkdir()
        t = time.perf_counter()
        subprocess.run(["node", str(REPO / "bench/minisearch_index.mjs"), str(docs), str(harness / "index.json")],
                       cwd=REPO, check=True)
        mini_s = time.perf_counter() - t
        shutil.copy(REPO / "node_modules/minisearch/dist/umd/index.js", harness / "minisearch.js")
        (harness / "index.html").write_text(HARNESS)
        mini_raw = (harness / "index.json").stat().st_size
        mini_gz = len(gzip.compress((harness / "index.json").read_bytes(), 6))

        if os.environ.get("ALUREG_BENCH_KEEP"):  # keep the site to study it after the run
            shutil.copytree(site, os.environ["ALUREG_BENCH_KEEP"], dirs_exist_ok=True)
        with serve(site, compress=True) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            own = measure(url, "search/", browser)
            pagefind = measure(url, "pfsearch/", browser)
            minisearch = measure(url, "minisearch/", browser)
            browser.close()

    lines = [
        "## Search",
        "",
        "`bench/search_bench.py`: synthetic registry of 20,000 members, 100,000 certificates and 100,000 claims;",
        f"{suppliers:,} supplier documents (suspended members are not listed). Served with gzip on 127.0.0.1;",
        "headless Debian chromium. First query: a fresh visit to the search page with `?q=ald`, until results",
        "are on screen (page, CSS, scripts, index chunks, result fragments). Keystrokes: "
        f"{pagefind['keystrokes']} successive prefixes of {', '.join(WORDS)}, from the input event to results",
        f"on screen. `check` + model of this registry (not part of the index): {check_s:.0f} s.",
        "Pagefind runs behind the same page (the Pagefind version of its script, bench/pagefind_harness.js).",
        "",
        "| engine | index build (s) | index files | index size | index gzip | first query transfer | requests |"
        " keystroke median / p95 / max (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| own index (chosen) | {own_s:.1f} | {own_files:,} | {own_raw / 2**20:.1f} MiB | "
        f"{own_gz / 2**20:.1f} MiB | {own['transfer'] / 1024:,.0f} KB | {own['requests']} | "
        f"{own['median_ms']:.0f} / {own['p95_ms']} / {own['max_ms']} |",
        f"| Pagefind 1.5.2 | {pagefind_s:.1f} | {pf_files:,} | {pf_raw / 2**20:.1f} MiB | "
        f"{pf_gz / 2**20:.1f} MiB | {pagefind['transfer'] / 1024:,.0f} KB | {pagefind['requests']} | "
        f"{pagefind['median_ms']:.0f} / {pagefind['p95_ms']} / {pagefind['max_ms']} |",
        f"| MiniSearch 7.2.0 | {mini_s:.1f} | 1 | {mini_raw / 2**20:.1f} MiB | {mini_gz / 2**20:.1f} MiB | "
        f"{minisearch['transfer'] / 1024:,.0f} KB | {minisearch['requests']} | "
        f"{minisearch['median_ms']:.0f} / {minisearch['p95_ms']} / {minisearch['max_ms']} |",
        "",
        "Budgets: first query at most 300 KB compressed, search code included; each keystroke within 50 ms;",
        "index build at most 30 s. The MiniSearch harness is a bare page (no theme, no filters): its figures",
        "are a lower bound for that engine. Index build of the own index includes making the documents.",
    ]
    write_section("search", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()

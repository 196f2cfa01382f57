#!/usr/bin/env python3
"""Build benchmark: synthetic registries of 1,000 and 10,000 certificates.

For each size: generate the registry (`build.py synth`, DEMO keys), then time
`build.py build` in a fresh process and read its peak memory from the kernel's
rusage. Writes bench/RESULTS.md. Run: `.venv/bin/python bench/build_bench.py`
(sizes can be given: `bench/build_bench.py 1000 10000`).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import write_section

REPO = Path(__file__).resolve().parent.parent
AT = "2026-11-21"


def _run(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"failed: {' '.join(argv)}")
    return elapsed, usage.ru_maxrss


def _size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def measure(certificates: int, work: Path) -> dict[str, float]:
    root, out = work / f"reg-{certificates}", work / f"public-{certificates}"
    members, claims = certificates // 2 + certificates // 10, certificates // 2
    py = sys.executable
    synth_s, _ = _run([py, "build.py", "synth", "--members", str(members), "--certificates", str(certificates),
                       "--claims", str(claims), "--out", str(root)])
    build = [py, "build.py", "build", "--root", str(root), "--out", str(out), "--at", AT]
    build_s, peak_kib = _run(build)
    rebuild_s, _ = _run(build)  # the same records again: QR codes come from the cache
    files, total = _size(out)
    pages = list((out / "certificates").glob("*/index.html"))
    per_page = sum(p.stat().st_size for p in pages) / len(pages)
    records = members + certificates + claims
    return {"certificates": certificates, "records": records, "synth_s": synth_s, "build_s": build_s,
            "rebuild_s": rebuild_s,
            "peak_mib": peak_kib / 1024, "files": files, "output_mib": total / 2**20,
            "page_bytes": per_page, "records_per_s": records / build_s}


def main(sizes: list[int]) -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="alureg-bench-") as tmp:
        for n in sizes:
            row = measure(n, Path(tmp))
            rows.append(row)
            print(f"{n} certificates: build {row['build_s']:.1f} s, peak {row['peak_mib']:.0f} MiB, "
                  f"output {row['output_mib']:.1f} MiB, {row['page_bytes']:.0f} B per certificate page")
    lines = [
        "## Build",
        "",
        "`bench/build_bench.py`: synthetic registries (`build.py synth`, members = 0.6 × certificates, claims =",
        "0.5 × certificates), then `build.py build` (check, MkDocs shell, record pages, API, status snapshot and",
        "claim bundles, QR codes, search index) in a fresh process; then the same build again, when every QR",
        "code comes from the cache.",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
        "| certificates | records | generate (s) | build (s) | rebuild (s) | records/s | peak memory (MiB) |"
        " output files | output (MiB) | bytes per certificate page |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['certificates']:,} | {r['records']:,} | {r['synth_s']:.1f} | {r['build_s']:.1f} | "
                     f"{r['rebuild_s']:.1f} | "
                     f"{r['records_per_s']:,.0f} | {r['peak_mib']:.0f} | {r['files']:,} | {r['output_mib']:.1f} | "
                     f"{r['page_bytes']:,.0f} |")
    if len(rows) >= 2:
        ratio = rows[-1]["build_s"] / rows[0]["build_s"]
        scale = rows[-1]["certificates"] / rows[0]["certificates"]
        lines += ["", f"Build time ratio {rows[-1]['certificates']:,} / {rows[0]['certificates']:,}: "
                      f"{ratio:.1f}× for {scale:.0f}× the certificates (budget: at most 12×)."]
    write_section("build", lines)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10000])

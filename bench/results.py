"""Each benchmark owns one section of bench/RESULTS.md, between markers, and rewrites
only that section, so the benchmarks can be run separately."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(name: str, lines: list[str]) -> None:
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    body = "\n".join([start, *lines, end])
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: body, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    RESULTS.write_text(text)

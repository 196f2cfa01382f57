"""MkDocs hook: put the HTML fragments rendered by alureg/pages.py into the pages.

A page holds a placeholder line ``<!-- registry:NAME -->``; the fragment's HTML is
put in its place after Markdown has run, so record values never pass through
Markdown (where link syntax could smuggle in a javascript: URL) and large tables cost
no Markdown parsing. The folder of fragments is given in ``extra.registry_fragments``.

Fragments named in ``extra.registry_late`` (the directories that grow with the
registry) are not put in here: the placeholder becomes ``LATE_MARK`` and
alureg/shell.py puts them into the written HTML after MkDocs has finished. Material
for MkDocs then never holds a 60 MB page (it added 0.5 GB and 15 s to a build of
100,000 certificates; docs/adr/0012-scale.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_PLACEHOLDER = re.compile(r"(?:<p>)?<!-- registry:([a-z][a-z0-9-]*) -->(?:</p>)?")
LATE_MARK = "<!-- registry-late:{} -->"
LATE_MARKS = re.compile(r"<!-- registry-late:([a-z][a-z0-9-]*) -->")  # LATE_MARK, any name


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    folder = config["extra"].get("registry_fragments")
    if not folder:
        return html
    late = config["extra"].get("registry_late") or ()

    def fragment(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in late:
            return LATE_MARK.format(name)
        path = Path(folder) / f"{name}.html"
        if not path.is_file():
            raise FileNotFoundError(f"{page.file.src_path}: no fragment {name!r}")
        return path.read_text(encoding="utf-8")

    return _PLACEHOLDER.sub(fragment, html)

"""MkDocs hook: put the HTML fragments rendered by alureg/pages.py into the pages.

A page holds a placeholder line ``<!-- registry:NAME -->``; the fragment's HTML is
put in its place after Markdown has run, so record values never pass through
Markdown (where link syntax could smuggle in a javascript: URL) and large tables cost
no Markdown parsing. The folder of fragments is given in ``extra.registry_fragments``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_PLACEHOLDER = re.compile(r"(?:<p>)?<!-- registry:([a-z]+) -->(?:</p>)?")


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    folder = config["extra"].get("registry_fragments")
    if not folder:
        return html

    def fragment(match: re.Match[str]) -> str:
        path = Path(folder) / f"{match.group(1)}.html"
        if not path.is_file():
            raise FileNotFoundError(f"{page.file.src_path}: no fragment {match.group(1)!r}")
        return path.read_text(encoding="utf-8")

    return _PLACEHOLDER.sub(fragment, html)

"""The site's shell: Material for MkDocs renders site/docs/ with the directory
fragments injected (alureg/mkdocs_hooks.py). Only a handful of pages go through
MkDocs, whatever the size of the registry.

The directories that grow with the registry (members, certificates) are put into the
written pages after MkDocs has run, one page of rows at a time (alureg/pages.py,
``Fragments``): MkDocs only ever handles small pages, and those directories stay out
of Material's search index (their pages exclude themselves from it anyway)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config

from .errors import AluregError
from .mkdocs_hooks import LATE_MARK
from .pages import SITE_DIR, Fragments

REPO = SITE_DIR.parent


def build_shell(out: Path, work: Path, fragments: Fragments, site_name: str) -> None:
    """Build the MkDocs pages into ``out`` (an empty folder), using ``work`` as scratch."""
    docs, frag_dir = work / "docs", work / "fragments"
    shutil.copytree(SITE_DIR / "docs", docs)
    shutil.copytree(SITE_DIR / "assets", docs / "assets", ignore=shutil.ignore_patterns("*.md"))
    for name, text in fragments.extra.items():  # the directories' further pages
        if (docs / name).exists():
            raise AluregError(f"site/docs/{name} would be overwritten by a directory page")
        (docs / name).write_text(text, encoding="utf-8")
    frag_dir.mkdir()
    late = fragments.late
    for name, html in fragments.small.items():
        (frag_dir / f"{name}.html").write_text(html, encoding="utf-8")
    logging.getLogger("mkdocs").setLevel(logging.WARNING)
    config = load_config(
        config_file=str(REPO / "mkdocs.yml"),
        docs_dir=str(docs),
        site_dir=str(out),
        site_name=site_name,
        extra={"registry_fragments": str(frag_dir), "registry_late": sorted(late)},
    )
    mkdocs_build(config)
    _put_late(out, late)


def _put_late(out: Path, late: dict[str, Callable[[], str]]) -> None:
    """Replace each late mark in the written pages by its fragment (each used once),
    made when it is put in."""
    marks = {LATE_MARK.format(name): name for name in late}
    placed: set[str] = set()
    for page in sorted(out.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        found = [mark for mark in marks if mark in text]
        for mark in found:
            if text.count(mark) != 1 or marks[mark] in placed:
                raise AluregError(f"{page}: fragment {marks[mark]!r} placed more than once")
            before, after = text.split(mark)
            text = before + late[marks[mark]]() + after  # not str.replace: no pattern in the fragment
            placed.add(marks[mark])
        if found:
            page.write_text(text, encoding="utf-8")
    if missing := sorted(set(late) - placed):
        raise AluregError(f"no page holds the fragment(s) {', '.join(missing)}")

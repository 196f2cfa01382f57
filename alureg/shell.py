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
from .mkdocs_hooks import LATE_MARKS
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
    made when it is put in. Each page is searched once for any mark (not once for
    each of the 120 names of a large registry's directory pages)."""
    placed: set[str] = set()
    for page in sorted(out.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        found = [m for m in LATE_MARKS.finditer(text) if m.group(1) in late]
        if not found:
            continue
        parts, at = [], 0
        for mark in found:
            name = mark.group(1)
            if name in placed:
                raise AluregError(f"{page}: fragment {name!r} placed more than once")
            parts += [text[at:mark.start()], late[name]()]  # not re.sub: no pattern in the fragment
            at = mark.end()
            placed.add(name)
        page.write_text("".join([*parts, text[at:]]), encoding="utf-8")
    if missing := sorted(set(late) - placed):
        raise AluregError(f"no page holds the fragment(s) {', '.join(missing)}")

"""The site's shell: Material for MkDocs renders site/docs/ with the directory
fragments injected (alureg/mkdocs_hooks.py). Only a handful of pages go through
MkDocs, whatever the size of the registry."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config

from .pages import SITE_DIR

REPO = SITE_DIR.parent


def build_shell(out: Path, work: Path, fragments: dict[str, str], site_name: str) -> None:
    """Build the MkDocs pages into ``out`` (an empty folder), using ``work`` as scratch."""
    docs, frag_dir = work / "docs", work / "fragments"
    shutil.copytree(SITE_DIR / "docs", docs)
    shutil.copytree(SITE_DIR / "assets", docs / "assets", ignore=shutil.ignore_patterns("*.md"))
    frag_dir.mkdir()
    for name, html in fragments.items():
        (frag_dir / f"{name}.html").write_text(html, encoding="utf-8")
    logging.getLogger("mkdocs").setLevel(logging.WARNING)
    config = load_config(
        config_file=str(REPO / "mkdocs.yml"),
        docs_dir=str(docs),
        site_dir=str(out),
        site_name=site_name,
        extra={"registry_fragments": str(frag_dir)},
    )
    mkdocs_build(config)

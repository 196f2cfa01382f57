"""The site's shell: Material for MkDocs renders site/docs/ with the directory
fragments injected (alureg/mkdocs_hooks.py). Only a handful of pages go through
MkDocs, whatever the size of the registry.

The directories that grow with the registry (members, certificates) are put into the
written pages after MkDocs has run, one page of rows at a time (alureg/pages.py,
``Fragments``): MkDocs only ever handles small pages, and those directories stay out
of Material's search index (their pages exclude themselves from it anyway). So are the
home page's counts and the newest changes, which move with the records.

What MkDocs wrote is kept with the caches (``memo``), by the digest of everything it
is made from: the code, site sources and installed packages (buildmemo.sources_digest),
the fragments it handles, the late ones' names, the site's name and MkDocs's build
date (in sitemap.xml.gz; tests/test_shell_memo.py checks that the time of day is in
no page). A build whose shell did not change puts the kept pages in place instead of
running MkDocs again: the shell stage of a one-change rebuild at 100,000 certificates
took 1.2 s against 1.8 s (docs/adr/0012-scale.md, twenty-eighth session). The late
fragments are put in afterwards either way."""

from __future__ import annotations

import hashlib
import logging
import marshal
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .buildmemo import sources_digest
from .caches import write_file
from .errors import AluregError
from .mkdocs_hooks import LATE_MARKS
from .pages import SITE_DIR, Fragments

REPO = SITE_DIR.parent
MEMO_FORMAT = 1
MEMO_FILE = "shell.marshal"


def build_shell(out: Path, work: Path, fragments: Fragments, site_name: str, memo: Path | None = None) -> None:
    """Build the MkDocs pages into ``out`` (an empty folder), using ``work`` as scratch;
    ``memo``: the folder where what MkDocs wrote is kept between builds (see above)."""
    key = memo_key(fragments, site_name) if memo is not None else ""
    if memo is None or not _restore(memo / MEMO_FILE, key, out):
        _render(out, work, fragments, site_name)
        if memo is not None:
            _keep(memo / MEMO_FILE, key, out)
    _put_late(out, fragments.late)


def memo_key(fragments: Fragments, site_name: str) -> str:
    """Of everything MkDocs's pages are made from (see above)."""
    from mkdocs.utils import get_build_date  # as MkDocs itself, imported when needed (``mkdocs_build``)

    h = hashlib.sha256(f"shell {MEMO_FORMAT}\n{sources_digest()}\n{get_build_date()}\n{site_name}\n".encode())
    for part in (fragments.small, fragments.extra, dict.fromkeys(fragments.late, "")):
        h.update(marshal.dumps(sorted(part.items())))
    return h.hexdigest()


def _restore(path: Path, key: str, out: Path) -> bool:
    """Write the pages kept under ``key`` into ``out``; False if none are."""
    try:
        kept_key, files = marshal.loads(path.read_bytes())  # noqa: S302 (a cache of ours, trusted as the others)
    except (OSError, EOFError, ValueError, TypeError):
        return False
    if kept_key != key:
        return False
    for rel, data in files:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return True


def _keep(path: Path, key: str, out: Path) -> None:
    files = sorted((p.relative_to(out).as_posix(), p.read_bytes()) for p in out.rglob("*") if p.is_file())
    write_file(path, marshal.dumps((key, files)))


def mkdocs_build(config: Any) -> None:
    """MkDocs's build, imported when first needed: a build whose shell is kept never
    needs it (its import took 36 ms of every command's start)."""
    from mkdocs.commands.build import build

    build(config)


def _render(out: Path, work: Path, fragments: Fragments, site_name: str) -> None:
    from mkdocs.config import load_config

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

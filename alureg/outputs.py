"""Writing the site's files: a file whose bytes did not change since the live output
is hard-linked from it instead of written again.

A large registry's output is 580,000 files and 2.4 GB (100,000 certificates); on a
virtual disk, writing them costs more than rendering them, and a merged pull request
changes a few of them. A manifest kept with the caches (outside the registry and the
output) lists, for each file of the live output, its size, modification time, inode
and SHA-256. A build still renders every file into its new folder (the swap stays
atomic, alureg/swap.py); when the bytes hash to the digest of the live file at the
same path, and that file's size, time and inode still match the manifest (nobody
changed it since; an editor's save is a new inode), the new folder gets a hard link
to it. Same bytes either way: tests compare a build that links with a cold one (and
with a page replaced by one of the same size and time, tests/test_buildmemo.py).

Writers call ``emit``; ``begin`` and ``finish`` (alureg/publish.py) set up and save
the manifest. Forked page workers return the entries they made (``take_entries``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson

Entry = list[int | str]  # [size, mtime_ns, inode, sha256 hex]


@dataclass
class _Run:
    new: Path
    live: Path | None
    manifest: dict[str, Entry]
    entries: dict[str, Entry] = field(default_factory=dict)
    linked: int = 0
    written: int = 0
    pid: int = field(default_factory=os.getpid)


_run: _Run | None = None


def emit(path: Path, data: bytes) -> int:
    """Write ``data`` to ``path`` (or link the live output's identical file); its size."""
    run = _run
    if run is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return len(data)
    rel = str(path.relative_to(run.new))
    digest = hashlib.sha256(data).hexdigest()
    before = run.manifest.get(rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    if run.live is not None and before is not None and len(before) == 4 and before[3] == digest:
        try:
            source = run.live / rel
            st = os.stat(source)
            if [st.st_size, st.st_mtime_ns, st.st_ino] == before[:3]:
                os.link(source, path)
                run.entries[rel] = before
                run.linked += 1
                return len(data)
        except OSError:
            pass  # gone, or another file system: write it
    path.write_bytes(data)
    st = os.stat(path)
    run.entries[rel] = [st.st_size, st.st_mtime_ns, st.st_ino, digest]
    run.written += 1
    return len(data)


def _manifest_file(cache: Path) -> Path:
    return cache / "manifest.json"


def begin(new: Path, live: Path, cache: Path) -> None:
    """Start writing into ``new``, reusing ``live``'s unchanged files."""
    global _run
    manifest: dict[str, Entry] = {}
    if live.is_dir():
        try:
            loaded = orjson.loads(_manifest_file(cache).read_bytes())
            if isinstance(loaded, dict) and loaded.get("output") == str(live.resolve()):
                manifest = loaded["files"]
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
            manifest = {}  # no usable manifest: every file is written
    _run = _Run(new, live if live.is_dir() else None, manifest)


def worker_started() -> None:
    """In a forked worker: forget the entries inherited from the parent (it has them)."""
    if _run is not None and os.getpid() != _run.pid:
        _run.pid = os.getpid()
        take_entries()


def take_entries() -> tuple[dict[str, Entry], int, int]:
    """This process's new entries and counts since the last call (forked workers)."""
    run = _run
    if run is None:
        return {}, 0, 0
    out = (run.entries, run.linked, run.written)
    run.entries, run.linked, run.written = {}, 0, 0
    return out


def add_entries(entries: dict[str, Entry], linked: int, written: int) -> None:
    if _run is not None:
        _run.entries.update(entries)
        _run.linked += linked
        _run.written += written


def finish(live: Path, cache: Path) -> tuple[int, int]:
    """Save the manifest of the new live output (after the swap); linked and written counts."""
    global _run
    run, _run = _run, None
    if run is None:
        return 0, 0
    cache.mkdir(parents=True, exist_ok=True)
    tmp = _manifest_file(cache).with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps({"output": str(live.resolve()), "files": run.entries}))
    tmp.replace(_manifest_file(cache))
    return run.linked, run.written


def abandon() -> None:
    global _run
    _run = None

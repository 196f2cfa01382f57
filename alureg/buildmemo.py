"""The build memo: a build whose inputs are all as they were at the last successful
build into the same output, and whose output nobody has touched since, is not done
again (nothing would change; ADR 0012).

The inputs, each compared exactly:
- every record file, by size, modification time and inode as the check read it, or
  else by its bytes (SHA-256). As in git and the check cache, a file modified within
  two seconds before that build began is always hashed: its time stamp cannot tell a
  later edit apart. A file added or removed is a change;
- the configuration file, the date of the statuses, the publisher key, the repository
  URL, the strictness;
- the code, schemas and site sources (templates, Markdown, scripts, mkdocs.yml) and
  the version of every installed Python package;
- the change history: the newest commit on the branch's first-parent line that
  touched a record file (what `alureg/history.py` reads ends there).
The output: every file of the live output (anything but a folder), by size,
modification time and inode, and no file more or less: one digest of the sorted
listing, which the build that made the output works out from its manifest. A file
edited, added or removed there by anyone else is a change, and the whole build runs
(and puts it right).

On a match the published output stays as it is, snapshot included: a snapshot signed
earlier the same day for the same records is still current (it expires days later).
The memo lives with the caches, outside the registry and the output (alureg/caches.py).
"""

from __future__ import annotations

import hashlib
import itertools
import marshal
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from . import outputs
from .caches import write_file
from .checkcache import RACY_NS, Identity, Listing, code_digest, unchanged
from .config import CONFIG_FILE
from .forked import Forked, can_fork
from .gitrev import RECORD_TOPS, GitError, git, is_repository
from .pages import SITE_DIR
from .records import Kind, record_names

FORMAT = 1
USE_FIND = True  # GNU find lists the output; False: the walk in Python (tests compare both)


@cache
def sources_digest() -> str:
    """Code, schemas, site sources and every installed package's version."""
    h = hashlib.sha256(code_digest().encode())
    repo = SITE_DIR.parent
    for path in sorted([*SITE_DIR.rglob("*"), repo / "mkdocs.yml", repo / "package-lock.json"]):
        if path.is_file():
            h.update(path.relative_to(repo).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    versions = sorted({f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()})
    h.update("\n".join(versions).encode())
    return h.hexdigest()


def _history_head(root: Path) -> str:
    """The newest first-parent commit that touched a record file ("" without git)."""
    if not is_repository(root):
        return ""
    try:
        return git(root, "log", "--first-parent", "-m", "-1", "--format=%H", "--relative", "HEAD", "--",
                   *RECORD_TOPS).decode().strip()
    except GitError:
        return "no commits"


def key(root: Path, at: str, publisher_id: str, repository_url: str | None, strict: bool) -> str:
    """Every input of a build but its record files and its output."""
    h = hashlib.sha256(f"format {FORMAT}\n{sources_digest()}\n{at}\n{publisher_id}\n{repository_url}\n"
                       f"{strict}\n{_history_head(root)}\n".encode())
    try:
        h.update((root / CONFIG_FILE).read_bytes())
    except OSError:
        h.update(b"no configuration file")
    return h.hexdigest()


def _line(name: str, size: int, mtime_ns: int, inode: int) -> bytes:
    return f"{name}\0{size} {mtime_ns} {inode}\0".encode("utf-8", "surrogateescape")


def output_line(rel: str, size: int, mtime_ns: int, inode: int) -> bytes:
    """One file of the output as GNU find prints it with ``%P\\t%s %T@ %i`` (``%T@``:
    seconds, nine digits of nanoseconds and a tenth digit, always 0)."""
    seconds, nanoseconds = divmod(mtime_ns, 1_000_000_000)
    return f"{rel}\t{size} {seconds}.{nanoseconds:09d}0 {inode}".encode("utf-8", "surrogateescape")


def listing_digest(lines: list[bytes]) -> str:
    """The digest of an output's listing: its files' lines, sorted (the order in which
    they were listed or written does not matter)."""
    lines.sort()
    h = hashlib.sha256(b"output listing 2\n")
    for start in range(0, len(lines), 50_000):  # one join of 580,000 lines held ~40 MB more
        h.update(b"\0".join(lines[start:start + 50_000]) + b"\0")
    return h.hexdigest()


def output_digest(files: outputs.Manifest) -> str:
    """The listing digest of an output, from the manifest of the files written, kept
    or linked into it (alureg/outputs.py): every file of the site goes through it."""
    return listing_digest([output_line(rel, *outputs.file_stat(entry)) for rel, entry in files.items()])


def _walk_lines(folder: str, prefix: str) -> list[bytes]:
    """A folder's listing without GNU find: a walk in Python."""
    lines: list[bytes] = []
    todo = [(folder, prefix)]
    while todo:
        path, at = todo.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    todo.append((entry.path, f"{at}{entry.name}/"))
                else:
                    st = entry.stat(follow_symlinks=False)
                    lines.append(output_line(at + entry.name, st.st_size, st.st_mtime_ns, st.st_ino))
    return lines


UNIT_ENTRIES = 256  # a folder with this many entries is listed whole, by one process
UNIT_DEPTH = 3  # and any folder this deep


class OutputListing:
    """Every file under the output (anything but a folder: a symbolic link too) by
    name, size, modification time and inode, as one digest (``listing_digest``). Not
    the change time: deleting the previous output (in the background) changes that of
    every file linked from it. So, as with make or rsync, an edit in place that puts
    back the size and the time stamp is not seen. Folders are not listed: one holds
    nothing served unless a file is in it, and that file is listed.

    The few small folders near the top are listed here; each large one (c/, members/,
    api/v1/certificates/, ...) by its own GNU find, all at once, so both cores list
    (580,000 files: 3.0 s in all this way; one find took 2.8-4.2 s, a walk in Python
    3.4-3.8 s); without GNU find, a walk in Python. The lines are sorted before they
    are hashed (0.2 s for 580,000), so that the build can work the same digest out
    from its manifest instead of listing the output it has just written (``save``;
    that listing took 10-17 s of a rebuild after one change)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.find = shutil.which("find") if USE_FIND and sys.platform.startswith("linux") else None
        self.lines: list[bytes] = []
        units: list[str] = []
        todo = [("", str(folder), 0)]
        while todo:
            prefix, path, depth = todo.pop(0)
            if prefix and depth >= UNIT_DEPTH:
                units.append(prefix)
                continue
            with os.scandir(path) as it:
                # Only as far as tells a large folder: reading all of c/'s 100,000
                # entries here to count them took 2.9 s before its find began.
                entries = list(itertools.islice(it, UNIT_ENTRIES) if prefix else it)
            if prefix and len(entries) >= UNIT_ENTRIES:
                units.append(prefix)
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    todo.append((f"{prefix}{entry.name}/", entry.path, depth + 1))
                else:
                    st = entry.stat(follow_symlinks=False)
                    self.lines.append(output_line(prefix + entry.name, st.st_size, st.st_mtime_ns, st.st_ino))
        self.units = sorted(units)
        self.pool = ThreadPoolExecutor(max(1, len(self.units)))
        self.parts = [self.pool.submit(self._unit, unit) for unit in self.units]

    def _unit(self, unit: str) -> list[bytes]:
        path = str(self.folder / unit)
        if self.find:
            named = unit.replace("\\", "\\\\").replace("%", "%%")  # literal text in find's format
            proc = subprocess.Popen([self.find, path, "-mindepth", "1", "!", "-type", "d",  # noqa: S603
                                     "-printf", f"{named}%P\\t%s %T@ %i\\0"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            listing, _ = proc.communicate()
            if proc.returncode == 0:
                lines = listing.split(b"\0")
                lines.pop()  # after the last \0
                return lines
        return _walk_lines(path, unit)

    @property
    def uses_find(self) -> bool:
        return self.find is not None

    def digest(self) -> str:
        lines = list(self.lines)
        for part in self.parts:
            lines += part.result()
        self.pool.shutdown()
        return listing_digest(lines)


def _memo_file(cache_folder: Path) -> Path:
    return cache_folder / "build-memo.json"


def _records_file(cache_folder: Path) -> Path:
    return cache_folder / "build-memo-records.json"


RecordIdentity = tuple[int, int, int, str]  # size, mtime_ns, inode, SHA-256 as the check read the file


def _listing(names: list[str], stats: list[Identity]) -> str:
    h = hashlib.sha256()
    for name, stat in zip(names, stats, strict=True):
        h.update(_line(name, *stat))
    return h.hexdigest()


def _list_records(root: Path, found: Listing) -> None:
    """The record files (records.record_names) and their status, into ``found``."""
    found.files = list(record_names(root))
    base, stats = str(root), found.stats
    for _, name in found.files:
        try:
            st = os.lstat(f"{base}/{name}")
            stats[name] = (st.st_size, st.st_mtime_ns, st.st_ino)
        except OSError:
            stats[name] = (-1, -1, -1)


@dataclass
class Memo:
    """What the last successful build into an output used, made and reported."""

    key: str
    root: str
    started_ns: int  # when that build began (files modified later than 2 s before are hashed)
    records: dict[str, RecordIdentity]
    report: dict[str, Any]  # what the build printed (alureg/publish.py)


def save(cache_folder: Path, memo: Memo, output: str) -> None:
    """Keep ``memo`` for the next build into the output whose listing digest is
    ``output`` (after the swap: the live output's, from its manifest)."""
    names = sorted(memo.records)
    stats: list[Identity] = [memo.records[n][:3] for n in names]
    clean = all(mtime_ns < memo.started_ns - RACY_NS for _, mtime_ns, _ in stats)
    head = {"format": FORMAT, "key": memo.key, "root": memo.root, "started_ns": memo.started_ns,
            "records": _listing(names, stats), "clean": clean, "output": output,
            "report": memo.report}
    for path, data in ((_records_file(cache_folder), memo.records), (_memo_file(cache_folder), head)):
        write_file(path, orjson.dumps(data))


def forget(cache_folder: Path) -> None:
    """Drop the memo (before a build changes the output it describes)."""
    _memo_file(cache_folder).unlink(missing_ok=True)


def _same_records(cache_folder: Path, root: Path, head: dict[str, Any], found: Listing) -> bool:
    """Every record file as the check of the last build read it, and no other;
    ``found`` is given the record files as this build found them."""
    _list_records(root, found)
    pairs = sorted(found.stats.items())
    if head["clean"] and _listing([n for n, _ in pairs], [s for _, s in pairs]) == head["records"]:
        return True  # the common case: one digest, no file read
    try:
        records: dict[str, list[Any]] = orjson.loads(_records_file(cache_folder).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return False
    if len(found.stats) != len(records) or any(n not in records for n in found.stats):
        return False  # a record file was added or removed
    started_ns, base = int(head["started_ns"]), str(root)
    return all(unchanged(f"{base}/{name}", now, records[name], started_ns) for name, now in found.stats.items())


def lookup(cache_folder: Path, build_key: str, root: Path, out: Path,
           found: Listing | None = None, ahead: RecordsAhead | None = None) -> dict[str, Any] | None:
    """The report of the last build if nothing it used or made has changed since.
    ``found``, if given, gets the record files and their status as found here (the
    check that follows a miss need not list them or take their status again).
    ``ahead``: the record files compared in a forked process, started earlier; it
    leaves ``found`` empty when they are the same (the output is then listed, and
    only an output changed by someone else makes a build, whose check lists them)."""
    found = Listing() if found is None else found
    try:
        head = ahead.result(found) if ahead is not None else _same_head(cache_folder, build_key, root, found)
        if head is None:
            return None
        report: dict[str, Any] = head["report"]
        return report if OutputListing(out.resolve()).digest() == head["output"] else None
    except _UNREADABLE:
        return None  # missing, damaged or foreign: build


_UNREADABLE = (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError)


def _same_head(cache_folder: Path, build_key: str, root: Path, found: Listing) -> dict[str, Any] | None:
    """The memo's head if it is of this build's inputs and every record file is as its
    build read it (``_same_records``, which fills ``found``); else None."""
    head: dict[str, Any] = orjson.loads(_memo_file(cache_folder).read_bytes())
    if head.get("format") != FORMAT or head.get("key") != build_key or head.get("root") != str(root.resolve()):
        return None
    # The output is listed only once the record files are found as they were: a
    # listing begun beside their comparison and stopped when one differed cost a
    # rebuild after one change at 100,000 certificates about 0.8 s (its finds
    # took the cores from the comparison; three alternating pairs 19.19, 18.82
    # and 18.67 s against 20.28, 19.54 and 19.51), and gained a build with nothing changed nothing
    # (3.02 and 3.01 s against 3.12 and 2.78; docs/adr/0012-scale.md).
    return head if _same_records(cache_folder, root, head, found) else None


AHEAD_FROM = 400_000  # bytes of the last build's record list (about 3,000 records); below this, no fork


class RecordsAhead:
    """``lookup``'s comparison of the record files (listing 220,000 of them, taking
    their status and comparing: about 1 s at 100,000 certificates) in a forked
    process, while this one reads the check cache (alureg/check.py ``open_cache``,
    about 1.4 s), which a rebuild needs and a build with nothing changed stops reading
    once ``same`` says so (docs/adr/0012-scale.md, twentieth session). The child lists
    the record files even when the memo is of other inputs: the check takes them."""

    def __init__(self, cache_folder: Path, build_key: str, root: Path) -> None:
        self.args = cache_folder, build_key, root
        self.forked: Forked[tuple[bool, bytes]] | None = Forked(lambda: _compare(*self.args), "record files") \
            if can_fork() else None
        self.found_same = False
        self.blob: bytes | None = None  # the child's answer, once taken

    @staticmethod
    def pays(cache_folder: Path) -> bool:
        """Whether the last build's registry was large enough for the fork to pay."""
        try:
            return _records_file(cache_folder).stat().st_size >= AHEAD_FROM
        except OSError:
            return False

    def same(self) -> bool:
        """Whether the child has answered, and found every record file as the memo's
        build read it (never waits)."""
        if self.blob is None and self.forked is not None and self.forked.ready():
            self._take()
        return self.found_same

    def _take(self) -> None:
        assert self.forked is not None
        try:
            self.found_same, self.blob = self.forked.result()
        except Exception:  # the child failed: ``result`` compares here, as without it
            self.forked = None

    def result(self, found: Listing) -> dict[str, Any] | None:
        """``_same_head``'s answer, ``found`` filled as it fills it."""
        if self.blob is None and self.forked is not None:
            self._take()
        if self.blob is None:
            return _same_head(*self.args, found)
        head: dict[str, Any] | None
        head, files, found.stats = marshal.loads(self.blob)  # noqa: S302 (made by our own child, above)
        kinds = {kind.value: kind for kind in Kind}
        found.files = [(kinds[kind], rel) for kind, rel in files]
        return head

    def stop(self) -> None:
        if self.forked is not None and self.blob is None:
            self.forked.stop()


def _compare(cache_folder: Path, build_key: str, root: Path) -> tuple[bool, bytes]:
    """``RecordsAhead``'s job: whether the records are the same, and marshalled, the
    memo's head if they are; else no head, and the record files and their status for
    the check (220,000 of each: 16 MB, unmarshalled in 0.17 s)."""
    found = Listing()
    try:
        head = _same_head(cache_folder, build_key, root, found)
    except _UNREADABLE:
        head = None
    if head is not None:  # the output is listed next, and if it is as built, nothing is built
        return True, marshal.dumps((head, [], {}), 4)
    if not found.files:
        _list_records(root, found)
    return False, marshal.dumps((head, [(kind.value, rel) for kind, rel in found.files], found.stats), 4)

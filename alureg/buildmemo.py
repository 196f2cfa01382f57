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
The output: every file of the live output, by size, modification time and inode,
and no file more or less. A file edited, added or removed there by anyone else is a
change, and the whole build runs (and puts it right).

On a match the published output stays as it is, snapshot included: a snapshot signed
earlier the same day for the same records is still current (it expires days later).
The memo lives with the caches, outside the registry and the output (alureg/caches.py).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from .checkcache import RACY_NS, code_digest
from .config import CONFIG_FILE
from .gitrev import RECORD_TOPS, GitError, git, is_repository
from .pages import SITE_DIR
from .records import record_files, relative

FORMAT = 1
Identity = tuple[int, int, int]  # size, mtime_ns, inode


@cache
def _sources_digest() -> str:
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
    h = hashlib.sha256(f"format {FORMAT}\n{_sources_digest()}\n{at}\n{publisher_id}\n{repository_url}\n"
                       f"{strict}\n{_history_head(root)}\n".encode())
    try:
        h.update((root / CONFIG_FILE).read_bytes())
    except OSError:
        h.update(b"no configuration file")
    return h.hexdigest()


def _walk(folder: Path) -> Iterator[os.DirEntry[str]]:
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(Path(entry.path))
            else:
                yield entry


def _identities(top: Path, folder: Path) -> dict[str, Identity]:
    out: dict[str, Identity] = {}
    for entry in _walk(folder):
        st = entry.stat(follow_symlinks=False)
        out[os.path.relpath(entry.path, top)] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


def output_files(out: Path) -> dict[str, Identity]:
    """Every file under ``out``: relative path -> (size, mtime_ns, inode). Sub-folders
    are walked by threads: on a virtual disk most of the time is waiting for it."""
    out = out.resolve()
    tops = sorted(os.scandir(out), key=lambda e: e.name)
    files: dict[str, Identity] = {}
    folders = [Path(e.path) for e in tops if e.is_dir(follow_symlinks=False)]
    for e in tops:
        if not e.is_dir(follow_symlinks=False):
            st = e.stat(follow_symlinks=False)
            files[e.name] = (st.st_size, st.st_mtime_ns, st.st_ino)
    with ThreadPoolExecutor(8) as pool:
        for part in pool.map(lambda f: _identities(out, f), folders):
            files.update(part)
    return files


def _memo_file(cache_folder: Path) -> Path:
    return cache_folder / "build-memo.json"


@dataclass
class Memo:
    """What the last successful build into an output used, made and reported."""

    key: str
    root: str
    started_ns: int  # when that build began (files modified later than 2 s before are hashed)
    records: dict[str, tuple[int, int, int, str]]  # record file -> size, mtime_ns, inode, SHA-256
    output: dict[str, Identity]
    report: dict[str, Any]  # what the build printed (alureg/publish.py)


def save(cache_folder: Path, memo: Memo, out: Path) -> None:
    memo.output = output_files(out)
    cache_folder.mkdir(parents=True, exist_ok=True)
    path = _memo_file(cache_folder)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(orjson.dumps({"format": FORMAT, **memo.__dict__}))
    tmp.replace(path)


def forget(cache_folder: Path) -> None:
    """Drop the memo (before a build changes the output it describes)."""
    _memo_file(cache_folder).unlink(missing_ok=True)


def _same_record(root: Path, rel: str, seen: list[Any], started_ns: int) -> bool:
    size, mtime_ns, inode, sha = seen
    path = root / rel
    try:
        st = path.lstat()
        if (st.st_size, st.st_mtime_ns, st.st_ino) == (size, mtime_ns, inode) and mtime_ns < started_ns - RACY_NS:
            return True
        return bool(st.st_size == size and hashlib.sha256(path.read_bytes()).hexdigest() == sha)
    except OSError:
        return False


def lookup(cache_folder: Path, build_key: str, root: Path, out: Path) -> dict[str, Any] | None:
    """The report of the last build if nothing it used or made has changed since."""
    try:
        raw = orjson.loads(_memo_file(cache_folder).read_bytes())
        if raw.get("format") != FORMAT or raw.get("key") != build_key or raw.get("root") != str(root.resolve()):
            return None
        records: dict[str, list[Any]] = raw["records"]
        started_ns = int(raw["started_ns"])
        report: dict[str, Any] = raw["report"]
        output: dict[str, list[int]] = raw["output"]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None  # missing, damaged or foreign: build
    names = [relative(root, path) for _, path in record_files(root)]
    if len(names) != len(records) or any(n not in records for n in names):
        return None  # a record file was added or removed
    chunks = [names[i:i + 5000] for i in range(0, len(names), 5000)]
    with ThreadPoolExecutor(8) as pool:
        same = pool.map(lambda part: all(_same_record(root, n, records[n], started_ns) for n in part), chunks)
        if not all(same):
            return None
    try:
        now = output_files(out)
    except OSError:
        return None
    if now.keys() != output.keys() or any(list(now[n]) != output[n] for n in now):
        return None
    return report


def started() -> int:
    return time.time_ns()

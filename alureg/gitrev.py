"""The registry's record files as git holds them: at a revision, in the working tree,
and the commits that touched them.

Everything goes through a handful of ``git`` calls (``ls-tree``, ``cat-file --batch``,
``log --raw``) rather than one call per file, so a registry of 200,000 files costs a
few calls. Versions are compared by blob id (SHA-1 of the bytes, as git computes it),
so unchanged files are never read or parsed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import AluregError
from .records import KIND_DIRS, KIND_FILES, Kind

RECORD_TOPS = sorted({p.split("/")[0] for p in [*KIND_DIRS.values(), *KIND_FILES.values()]})


class GitError(AluregError):
    pass


def git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    exe = shutil.which("git")
    if exe is None:
        raise GitError("git is not installed; history, diff and --against need it")
    proc = subprocess.run(  # noqa: S603 (fixed executable, arguments are ours)
        [exe, "-C", str(root), "-c", "core.quotepath=off", *args],
        input=stdin, capture_output=True, check=False,
    )
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]}: {message[-1] if message else 'failed'}")
    return proc.stdout


def is_repository(root: Path) -> bool:
    try:
        return git(root, "rev-parse", "--is-inside-work-tree").strip() == b"true"
    except GitError:
        return False


def record_kind(rel: str) -> Kind | None:
    """The kind of record a path (relative to the root) holds, if it is a record file."""
    for kind, file in KIND_FILES.items():
        if rel == file:
            return kind
    folder, _, name = rel.rpartition("/")
    for kind, kind_dir in KIND_DIRS.items():
        if folder == kind_dir and name.endswith(".yaml") and not name.startswith("."):
            return kind
    return None


def blob_id(data: bytes) -> str:
    """The id git gives a file with these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def resolve(root: Path, rev: str) -> str:
    """The full commit id of ``rev``; a clear error when it names no commit."""
    if rev.startswith("-"):
        raise GitError(f"{rev!r} is not a revision")
    try:
        return git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()
    except GitError as e:
        raise GitError(f"{rev!r} is not a commit in {root}") from e


def tree_at(root: Path, rev: str) -> dict[str, str]:
    """Record files at a revision: path relative to the registry root -> blob id.

    ``root`` may be a folder inside the repository; paths stay relative to it."""
    commit = resolve(root, rev)
    out = git(root, "ls-tree", "-r", "-z", commit, "--", *RECORD_TOPS)
    files: dict[str, str] = {}
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        _mode, kind, sha = meta.decode().split(" ")
        rel = path.decode("utf-8", "surrogateescape")
        if kind == "blob" and record_kind(rel) is not None:
            files[rel] = sha
    return files


def _hash_files(root: Path, rels: Iterable[str]) -> dict[str, str]:
    files: dict[str, str] = {}
    for rel in rels:
        path = root / rel
        if record_kind(rel) is not None and path.is_file() and not path.is_symlink():
            files[rel] = blob_id(path.read_bytes())
    return files


def tree_on_disk(root: Path) -> dict[str, str]:
    """Record files in the working folder, with the blob id git would give them.

    Files git reports unchanged since HEAD are not read: their id is HEAD's. Only
    changed, staged, untracked (ignored too) and deleted files are looked at."""
    try:
        files = tree_at(root, "HEAD")
    except GitError:  # no commit yet: hash everything
        return _hash_files(root, (p.relative_to(root).as_posix() for top in RECORD_TOPS
                                  if (root / top).is_dir() for p in (root / top).rglob("*.yaml")))
    changed = git(root, "diff", "--name-only", "--no-renames", "-z", "--relative", "HEAD", "--", *RECORD_TOPS)
    untracked = git(root, "ls-files", "-z", "--others", "--", *RECORD_TOPS)
    rels = {p.decode("utf-8", "surrogateescape") for p in (changed + b"\0" + untracked).split(b"\0") if p}
    for rel in rels:
        files.pop(rel, None)
    files.update(_hash_files(root, rels))
    return files


def read_blobs(root: Path, ids: Iterable[str]) -> dict[str, bytes]:
    """The bytes of many blobs in one ``git cat-file --batch`` call."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    out = git(root, "cat-file", "--batch", stdin=("\n".join(wanted) + "\n").encode())
    blobs: dict[str, bytes] = {}
    pos = 0
    for sha in wanted:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode().split(" ")
        if len(header) != 3:
            raise GitError(f"blob {sha} is missing from the repository")
        size = int(header[2])
        blobs[sha] = out[end + 1:end + 1 + size]
        pos = end + 1 + size + 1  # the content is followed by a newline
    return blobs


@dataclass(frozen=True)
class FileChange:
    """One record file changed by one commit. ``old``/``new`` are blob ids or None."""

    rel: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class Commit:
    sha: str
    time: str  # committer time, UTC, YYYY-MM-DDThh:mm:ssZ
    subject: str
    files: tuple[FileChange, ...]


_NULL = "0" * 40


def commits(root: Path, rev: str = "HEAD") -> Iterator[Commit]:
    """Every commit reachable from ``rev`` that touched a record file, oldest first,
    with the record files it changed (merges are read against their first parent)."""
    out = git(root, "log", "--reverse", "--first-parent", "-m", "--raw", "-z", "--no-renames",
              "--no-abbrev", "--date=unix", "--format=%x01%x02%x03%H %ct %s", "--relative", rev, "--",
              *RECORD_TOPS)
    for chunk in out.split(b"\x01\x02\x03")[1:]:
        parts = chunk.split(b"\0")
        header, _, first = parts[0].partition(b"\n")
        sha, time, subject = ([*header.decode("utf-8", "replace").split(" ", 2), ""])[:3]
        fields = ([first] if first else []) + parts[1:]
        files: list[FileChange] = []
        i = 0
        while i + 1 < len(fields):
            meta = fields[i].decode().strip()
            if not meta.startswith(":"):
                i += 1
                continue
            _, _, old, new, _status = meta[1:].split(" ")
            rel = fields[i + 1].decode("utf-8", "surrogateescape")
            if record_kind(rel) is not None:
                files.append(FileChange(rel, None if old == _NULL else old, None if new == _NULL else new))
            i += 2
        stamp = _utc(int(time))
        yield Commit(sha, stamp, subject.strip(), tuple(files))


def _utc(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

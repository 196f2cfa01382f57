"""The registry on disk: record kinds, where their files live, and loading them all."""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .findings import Finding
from .loading import MAX_FILE_BYTES, Loaded, Path_, Problem, load_bytes, load_file, node_start


class Kind(enum.StrEnum):
    MEMBER = "member"
    AUDIT_FIRM = "audit-firm"
    CERTIFICATE = "certificate"
    CLAIM = "claim"
    STANDARDS = "standards"
    TRUST_LIST = "trust-list"


# Folders holding one record per file, named <id>.yaml (docs/adr/0001-layout.md).
KIND_DIRS: dict[Kind, str] = {
    Kind.MEMBER: "registry/members",
    Kind.AUDIT_FIRM: "registry/auditors",
    Kind.CERTIFICATE: "certificates",
    Kind.CLAIM: "registry/claims",
}
# Single-record files.
KIND_FILES: dict[Kind, str] = {
    Kind.STANDARDS: "registry/standards.yaml",
    Kind.TRUST_LIST: "registry/trust.yaml",
}


@dataclass(slots=True)
class Record:
    """One loaded record. ``data`` is the parsed JSON data, proofs included. With
    slots: 220,000 records took 18.5 MiB against 25.2 (tracemalloc, their list
    included), held to the end of a build, and a record that has findings no longer
    gets a ``__dict__`` of its own (docs/adr/0012-scale.md, twenty-second session)."""

    kind: Kind
    # The registry's root folder, one object for every record: a Path per record was
    # about 360 bytes, 75 MB of a 220,000-record build's peak (tracemalloc).
    root: Path
    rel: str  # path relative to the registry root, with forward slashes
    data: dict[str, Any]
    # Positions already found (``locate``) by ``where``, kept by the check cache: the
    # same warnings recur at every build, and finding a position parses the file again
    # (3.7 s of a rebuild for the synthetic registry's RUL012 warnings).
    located: dict[str, list[int]] | None = field(default=None, compare=False, repr=False)
    # Every node's place, once ``_positions`` has found them (a field: a slotted class
    # has no room for a cached_property).
    places: dict[Path_, tuple[int, int]] | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def path(self) -> Path:
        return self.root / self.rel

    @property
    def id(self) -> str:
        value = self.data.get("id")
        return value if isinstance(value, str) else ""

    @property
    def _positions(self) -> dict[Path_, tuple[int, int]]:
        # Positions are found again only for records with findings, which keeps the
        # loading of a large, valid registry lean.
        if self.places is None:
            self.places = load_file(self.path, track_positions=True).positions
        return self.places

    def locate(self, *where: str | int) -> tuple[int, int]:
        """Line and column of the deepest existing node along ``where``."""
        key = repr(where)
        if self.located is not None and key in self.located:
            line, col = self.located[key]
            return line, col
        path: Path_ = tuple(where)
        # The first place asked of a record is found along its path; any further one
        # from every node's place, found once: a record with thousands of findings
        # (a schema error each) would otherwise be parsed again for each.
        found = self._walk(path) if not self.located and self.places is None else None
        if found is None:
            while path and path not in self._positions:
                path = path[:-1]
            found = self._positions.get(path, (1, 1))
        line, col = found
        if self.located is None:
            self.located = {}
        self.located[key] = [line, col]
        return line, col

    def _walk(self, path: Path_) -> tuple[int, int] | None:
        """``locate`` by libyaml's node tree along ``path`` alone (loading.node_start);
        None: find every position the way the loader does."""
        try:
            if os.lstat(self.path).st_size > MAX_FILE_BYTES:
                return None
            text = _read(self.path).decode("utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return None
        return node_start(text, path)

    def finding(self, code: str, message: str, *where: str | int) -> Finding:
        line, col = self.locate(*where)
        return Finding(self.rel, line, col, code, message)


@dataclass
class Registry:
    root: Path
    records: list[Record] = field(default_factory=list)

def record_names(root: Path) -> Iterator[tuple[Kind, str]]:
    """Every file that should hold a record, relative to ``root`` with forward
    slashes, in a stable order (by name)."""
    for kind, rel in KIND_FILES.items():
        yield kind, rel
    for kind, rel in KIND_DIRS.items():
        folder = root / rel
        if folder.is_dir():
            for name in sorted(os.listdir(folder)):  # names, not Paths: 23× cheaper to sort (0.02 s for 100,000)
                if not name.startswith("."):
                    yield kind, f"{rel}/{name}"


def record_files(root: Path) -> Iterator[tuple[Kind, Path]]:
    """Every file that should hold a record, in a stable order (by name)."""
    for kind, rel in record_names(root):
        yield kind, root / rel


@dataclass
class RecordFile:
    """One record file as read: the record (None when unusable), its loading
    findings, and the bytes and file status it was read from (for the check cache)."""

    record: Record | None
    findings: list[Finding]
    raw: bytes | None = None
    stat: os.stat_result | None = None
    jcs: bool = False  # loading.Loaded.jcs


def _read(path: Path | str) -> bytes:
    """The file's bytes; O_NOFOLLOW: a file swapped for a link after the lstat is refused."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        parts = []
        while chunk := os.read(fd, 1 << 20):
            parts.append(chunk)
        return b"".join(parts)
    finally:
        os.close(fd)


def read_record(root: Path, kind: Kind, rel: str) -> RecordFile:
    """The record file named ``rel`` under ``root`` (as ``record_names`` gives it). By
    name, not by Path: a Path made for each of a check's 220,000 files, and its name
    worked out again from it, cost its workers 4-25 µs a record (process time of a
    scratch run over 30,000 records, four pairs: 195-213 µs a record against 217-232)."""
    path = f"{root}/{rel}"
    # One lstat and one open per file (not pathlib's four stats): 220,000 files a check.
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    if st is None or (stat.S_ISLNK(st.st_mode) and not os.path.exists(path)):
        return RecordFile(None, [Finding(rel, 1, 1, "REF003", "file is missing; every registry has one")])
    if not stat.S_ISREG(st.st_mode) or not rel.endswith(".yaml"):
        return RecordFile(None, [Finding(rel, 1, 1, "REF002",
                                         "only <id>.yaml record files belong here; rename or remove it")])
    if st.st_size > MAX_FILE_BYTES:  # not even read
        loaded = Loaded(None, [Problem("YML006", 1, 1, f"file is {st.st_size} bytes; the limit is {MAX_FILE_BYTES}")])
        raw = b""
    else:
        raw = _read(path)
        loaded = load_bytes(raw)
    findings = [Finding(rel, p.line, p.col, p.code, p.message) for p in loaded.problems]
    record = Record(kind, root, rel, loaded.data) if loaded.data is not None else None
    return RecordFile(record, findings, raw, st, loaded.jcs)


def load_registry(root: Path) -> tuple[Registry, list[Finding]]:
    """Load every record file; return the usable records and the loading findings."""
    registry = Registry(root)
    findings: list[Finding] = []
    for kind, rel in record_names(root):
        done = read_record(root, kind, rel)
        findings += done.findings
        if done.record is not None:
            registry.records.append(done.record)
    return registry, findings

"""The check cache: each record file's own results (loaded data, schema and proof
findings), kept between runs so that an unchanged record is not read, parsed or
verified again.

A result is reused only when all of these are the same as when it was stored:
- the file: its size, modification time and inode, or else its bytes (SHA-256; a file
  touched without a change is read and hashed, not parsed again). As in git, a file
  modified within two seconds before the check that stored it began is always
  hashed, since its time stamp cannot tell a later edit apart;
- the code and schemas that produced it (a digest of alureg/*.py, schemas/*.json and
  the versions of the libraries that parse, validate and verify);
- the trust list and the pinned root keys (every proof is judged against them).
Cross-record rules are not cached: they run on every check, for its date.

The cache lives outside the registry (alureg/caches.py) and is written atomically; an
unreadable or foreign cache is ignored, never trusted in part. It is trusted as the
other caches are: its entries' data is published without the record's proofs being
checked again, so only the build may write it.

Format: a JSON head line, then the entries in chunks of ``CHUNK``, each a ``marshal``
blob of row tuples after its length (8 bytes), and a chunk of length 0 to end. marshal
keeps the interned short strings shared (a record's ids, keys and codes; see
alureg/loading.py) and read 220,000 entries in 1.6 s where JSON lines and sharing
their strings again took 3.1 s, the larger part of a one-change rebuild's check at
100,000 certificates (docs/adr/0012-scale.md). Unlike pickle it runs no code; its
format is the Python version's, which is part of the context.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import struct
import sys
import time
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from . import schema
from .findings import Finding

FORMAT = 5  # 3: positions located; 4: digests; 5: marshal chunks after a JSON head
CHUNK = 10_000  # entries per marshal blob: a blob and its rows are held at once, not the file
_LENGTH = struct.Struct("<Q")
RACY_NS = 2_000_000_000
_LIBRARIES = ("PyYAML", "yaml-rs", "jsonschema", "jsonschema-rs", "orjson", "rfc8785", "based58", "cryptography",
              "PyNaCl")


@cache
def code_digest() -> str:
    """What the per-record results depend on besides the record and the trust list."""
    package = Path(__file__).resolve().parent
    h = hashlib.sha256(f"format {FORMAT}\n{sys.version}\nmarshal {marshal.version}\n".encode())
    for path in sorted(package.glob("*.py")) + sorted(schema.SCHEMA_DIR.glob("*.json")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for name in _LIBRARIES:
        try:
            h.update(f"{name}=={metadata.version(name)}\n".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{name} missing\n".encode())
    return h.hexdigest()


@dataclass
class Entry:
    size: int
    mtime_ns: int
    inode: int
    sha256: str
    data: dict[str, Any] | None
    valid: bool
    findings: list[Finding]
    located: dict[str, list[int]] | None = None  # positions the rules asked for (records.Record.locate)
    # A valid record's digest, SHA-256 of its RFC 8785 form (alureg/snapshot.py): the
    # snapshot's leaves; worked out once per file, not at every build (2.3 s).
    digest: bytes | None = None

    def identity(self) -> tuple[int, int, int, str]:
        """The file as it was read: size, modification time, inode, SHA-256."""
        return self.size, self.mtime_ns, self.inode, self.sha256

    def row(self, rel: str) -> tuple[Any, ...]:
        return (rel, self.size, self.mtime_ns, self.inode, self.sha256, self.data, self.valid,
                [f.row() for f in self.findings], self.located, self.digest)

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> tuple[str, Entry]:
        """A row as ``row`` made it; TypeError or ValueError for anything else."""
        rel, size, mtime_ns, inode, sha, data, valid, found, located, digest = row
        if not (rel.__class__ is str and sha.__class__ is str and valid.__class__ is bool
                and data.__class__ in _DATA and located.__class__ in _LOCATED and digest.__class__ in _DIGEST
                and size.__class__ is mtime_ns.__class__ is inode.__class__ is int):
            raise TypeError("not a check cache entry")
        return rel, cls(size, mtime_ns, inode, sha, data, valid, [Finding(*f) for f in found], located, digest)


_DATA, _LOCATED, _DIGEST = (dict, type(None)), (dict, type(None)), (bytes, type(None))


@dataclass
class CheckCache:
    path: Path
    context: str  # code digest and trust digest: entries are valid only in it
    written_ns: int = 0  # when the check that wrote the cache began
    started_ns: int = field(default_factory=time.time_ns)  # when this check began (opened the cache)
    entries: dict[str, Entry] = field(default_factory=dict)
    hits: int = 0
    dirty: bool = False  # something to write back

    @classmethod
    def open(cls, path: Path, context: str) -> CheckCache:
        """Read the cache a chunk at a time: the whole file (180 MB at 220,000 entries)
        and its rows are never held at once."""
        cache = cls(path, context)
        try:
            with path.open("rb") as f:
                first = f.readline(4096)  # the head is short; an older format is one long line
                if not first.endswith(b"\n"):
                    return cache
                head = orjson.loads(first)
                if head.get("format") != FORMAT or head.get("context") != context:
                    return cache
                written_ns = int(head["written_ns"])
                entries: dict[str, Entry] = {}
                size = os.fstat(f.fileno()).st_size
                while length := _LENGTH.unpack(f.read(_LENGTH.size))[0]:
                    if length > size - f.tell():  # a damaged length is not allocated
                        raise ValueError("cut short")
                    blob = f.read(length)
                    rows = marshal.loads(blob)  # noqa: S302 (a cache of ours, trusted as the others: see above)
                    if rows.__class__ is not list:
                        raise TypeError("not a chunk of entries")
                    entries.update(map(Entry.from_row, rows))
                if f.read(1):
                    raise ValueError("more than the entries")
                cache.written_ns, cache.entries = written_ns, entries
        except (OSError, EOFError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError,
                struct.error):
            cache.entries = {}  # missing, damaged, cut short or foreign: start afresh
        return cache

    def lookup(self, rel: str, path: Path | str, now: Identity | None = None) -> Entry | None:
        """The stored result if it still holds for the file at ``path``; ``now``: its
        status if the caller has just taken it (the build memo has), else it is taken."""
        entry = self.entries.get(rel)
        if entry is None:
            return None
        if now is None:
            try:
                st = os.lstat(path)
            except OSError:
                return None
            now = st.st_size, st.st_mtime_ns, st.st_ino
        if not unchanged(path, now, entry.identity(), self.written_ns):
            return None
        if now != (entry.size, entry.mtime_ns, entry.inode):
            entry.size, entry.mtime_ns, entry.inode = now
            self.dirty = True
        self.hits += 1
        return entry

    def store(self, rel: str, entry: Entry) -> None:
        self.entries[rel] = entry
        self.dirty = True

    def save(self, keep: set[str]) -> None:
        """Write the entries of the files that still exist (``keep``), atomically, unless
        nothing changed."""
        if not self.dirty and keep == self.entries.keys():
            return
        head = orjson.dumps({"format": FORMAT, "context": self.context, "written_ns": self.started_ns})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        rels = [rel for rel in self.entries if rel in keep]
        with tmp.open("wb", buffering=1 << 20) as f:
            f.write(head + b"\n")
            for start in range(0, len(rels), CHUNK):
                blob = marshal.dumps([self.entries[rel].row(rel) for rel in rels[start:start + CHUNK]], 4)
                f.write(_LENGTH.pack(len(blob)) + blob)
            f.write(_LENGTH.pack(0))
        tmp.replace(self.path)


Identity = tuple[int, int, int]  # a file's size, mtime_ns and inode


def unchanged(path: Path | str, now: Identity, seen: tuple[int, int, int, str] | list[Any],
              started_ns: int) -> bool:
    """Whether the file at ``path`` (now of status ``now``: size, mtime_ns, inode) still
    holds the bytes it held when it was read as ``seen`` (size, mtime_ns, inode, SHA-256)
    by a run that began at ``started_ns``: the same status, or else the same bytes. As
    in git, a file modified within RACY_NS before that run began is always hashed (the
    check cache, the build memo)."""
    size, mtime_ns, inode, sha = seen
    if now == (size, mtime_ns, inode) and mtime_ns < started_ns - RACY_NS:
        return True
    if now[0] != size:
        return False
    try:
        with open(path, "rb") as f:
            return bool(hashlib.sha256(f.read()).hexdigest() == sha)
    except OSError:
        return False


def file_entry(raw: bytes, st: os.stat_result, data: dict[str, Any] | None, valid: bool,
               findings: list[Finding], digest: bytes | None = None) -> Entry:
    return Entry(st.st_size, st.st_mtime_ns, st.st_ino, hashlib.sha256(raw).hexdigest(), data, valid, findings,
                 None, digest)

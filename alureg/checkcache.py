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
The cross-record rules' findings have a cache of their own, which also keys on the
day of the check (alureg/rulecache.py).

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
format is the Python version's, which is part of the context. The check's workers
send their results as such chunks, and a whole file written after them takes each
chunk as it came while its entries are unchanged (``adopt``) instead of encoding
220,000 entries again (3.4 s of a cold check).

A check that changed few entries (one record edited: one entry) writes them, and the
names of the entries it dropped, to a delta file beside the whole one (same format,
its head naming the whole file's random id), instead of writing 180 MB again: 1.6 s
of CPU in the rules' process of every one-change rebuild. The next check reads both;
a delta of another whole file, or a damaged one, is ignored (the whole file's entries
still hold or not, file by file, as above). Past ``DELTA_MAX`` entries the whole file
is written again and the delta deleted.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import struct
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from . import native, schema
from .findings import Finding
from .records import Kind

FORMAT = 5  # 3: positions located; 4: digests; 5: marshal chunks after a JSON head
CHUNK = 10_000  # entries per marshal blob: a blob and its rows are held at once, not the file
DELTA_MAX = 10_000  # entries changed or dropped since the whole file was written, at most, in a delta
_LENGTH = struct.Struct("<Q")
RACY_NS = 2_000_000_000
_LIBRARIES = ("PyYAML", "yaml-rs", "jsonschema", "jsonschema-rs", "orjson", "rfc8785", "based58", "cryptography",
              "PyNaCl")


@cache
def code_digest() -> str:
    """What the per-record results depend on besides the record and the trust list."""
    h = hashlib.sha256(f"format {FORMAT}\n{sys.version}\nmarshal {marshal.version}\n".encode())
    h.update(f"modules {native.package_digest()}\n".encode())  # every module, read once at the package's import
    for path in sorted(schema.SCHEMA_DIR.glob("*.json")):
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
    whole: str = ""  # the random id of the whole file read ("": none was)
    changed: set[str] = field(default_factory=set)  # entries stored or updated since it was written
    dropped: set[str] = field(default_factory=set)  # and entries dropped since
    # Chunks of rows as the check's workers encoded them (``adopt``), written as they
    # are while each of their entries is still the one adopted, unchanged since.
    blobs: list[tuple[bytes, list[tuple[str, Entry]]]] = field(default_factory=list)
    adopted: dict[str, Entry] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path, context: str) -> CheckCache:
        """Read the cache a chunk at a time: the whole file (180 MB at 220,000 entries)
        and its rows are never held at once; then its delta, if it has one."""
        cache = cls.open_unless(path, context, None)
        assert cache is not None  # nothing to stop it
        return cache

    @classmethod
    def open_unless(cls, path: Path, context: str, stop: Callable[[], bool] | None) -> CheckCache | None:
        """``open``, or None as soon as ``stop()`` is true between two chunks (a build
        reads the cache while a forked process compares the record files, and needs
        none of it when they are as its last build read them: alureg/buildmemo.py)."""
        cache = cls(path, context)
        try:
            head, entries = _read(path, context, stop)
            if head is None:
                return cache
            cache.written_ns, cache.entries, cache.whole = int(head["written_ns"]), entries, str(head["id"])
        except _Stopped:
            return None
        except _DAMAGED:
            cache.entries = {}  # missing, damaged, cut short or foreign: start afresh
            return cache
        try:
            head, rows = _read(_delta(path), context)
            if head is None or head.get("whole") != cache.whole:
                return cache
            dropped = set(head["dropped"])
            if any(rel.__class__ is not str for rel in dropped):
                raise TypeError("not names of entries")
        except _DAMAGED:
            return cache  # the whole file's entries alone: each still holds or not (see above)
        for rel in dropped:
            cache.entries.pop(rel, None)
        cache.entries.update(rows)
        cache.written_ns, cache.changed, cache.dropped = int(head["written_ns"]), set(rows), dropped
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
            self.mark(rel)
        self.hits += 1
        return entry

    def store(self, rel: str, entry: Entry) -> None:
        self.entries[rel] = entry
        self.mark(rel)

    def adopt(self, blob: bytes, entries: list[tuple[str, Entry]]) -> None:
        """``store`` each entry, which ``blob`` holds as its rows (``Entry.row`` of each
        by its name, in this order, marshalled as ``_write`` does): a whole file
        written soon after takes the blob instead of encoding them again."""
        for rel, entry in entries:
            self.store(rel, entry)
            self.adopted[rel] = entry
        self.blobs.append((blob, entries))

    def mark(self, rel: str) -> None:
        """The entry of ``rel`` was changed in place: write it back."""
        self.changed.add(rel)
        self.dropped.discard(rel)
        self.dirty = True
        self.adopted.pop(rel, None)  # its blob no longer says what it holds

    def _usable_blobs(self) -> list[tuple[bytes, list[str]]]:
        """The adopted blobs whose every entry is still the one adopted: not stored
        again, marked or dropped since (each of these forgets it)."""
        return [(blob, [rel for rel, _ in entries]) for blob, entries in self.blobs
                if all(self.adopted.get(rel) is entry for rel, entry in entries)]

    def save(self, keep: set[str]) -> None:
        """Write the entries of the files that still exist (``keep``), atomically, unless
        nothing changed: as a delta if the whole file read had few changes."""
        gone = self.entries.keys() - keep
        if not self.dirty and not gone:
            return
        for rel in gone:
            del self.entries[rel]
            self.adopted.pop(rel, None)
        self.changed &= self.entries.keys()  # not the trust list's, which is read every time
        self.dropped |= gone
        self.path.parent.mkdir(parents=True, exist_ok=True)
        head: dict[str, Any] = {"format": FORMAT, "context": self.context, "written_ns": self.started_ns}
        if self.whole and len(self.changed) + len(self.dropped) <= DELTA_MAX:
            _write(_delta(self.path), head | {"whole": self.whole, "dropped": sorted(self.dropped)},
                   self.entries, sorted(self.changed))
        else:
            whole = os.urandom(16).hex()
            blobs = self._usable_blobs()
            done = {rel for _, rels in blobs for rel in rels}
            _write(self.path, head | {"id": whole}, self.entries, [rel for rel in self.entries if rel not in done],
                   [blob for blob, _ in blobs])
            _delta(self.path).unlink(missing_ok=True)  # of the whole file before; its id says so anyway
            self.whole, self.changed, self.dropped = whole, set(), set()
        # Saved: a second save (``check`` saves while the rules run and after them)
        # writes only if something changed since, as a delta of this whole file.
        self.dirty = False
        self.blobs, self.adopted = [], {}


_DAMAGED = (OSError, EOFError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, struct.error)


def _delta(path: Path) -> Path:
    return path.with_name(path.name + ".delta")


class _Stopped(Exception):
    """``_read`` was asked to stop."""


def _read(path: Path, context: str, stop: Callable[[], bool] | None = None,
          ) -> tuple[dict[str, Any] | None, dict[str, Entry]]:
    """A cache file's head and entries; no head if it is of another format or context.
    One of ``_DAMAGED`` if it is damaged or cut short; ``_Stopped`` if ``stop()`` was
    true after a chunk."""
    with path.open("rb") as f:
        first = f.readline(1 << 20)  # the head is short (a delta's names the entries it dropped)
        if not first.endswith(b"\n"):  # an older format is one long line
            return None, {}
        head = orjson.loads(first)
        if head.get("format") != FORMAT or head.get("context") != context:
            return None, {}
        entries: dict[str, Entry] = {}
        size = os.fstat(f.fileno()).st_size
        while length := _LENGTH.unpack(f.read(_LENGTH.size))[0]:
            if length > size - f.tell():  # a damaged length is not allocated
                raise ValueError("cut short")
            rows = marshal.loads(f.read(length))  # noqa: S302 (a cache of ours, trusted as the others: see above)
            if rows.__class__ is not list:
                raise TypeError("not a chunk of entries")
            entries.update(map(Entry.from_row, rows))
            if stop is not None and stop():
                raise _Stopped
        if f.read(1):
            raise ValueError("more than the entries")
        return head, entries


def _write(path: Path, head: dict[str, Any], entries: dict[str, Entry], rels: list[str],
           blobs: Sequence[bytes] = ()) -> None:
    """``head``, the ``blobs`` (chunks of rows already encoded) and the entries of
    ``rels``, atomically."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb", buffering=1 << 20) as f:
        f.write(orjson.dumps(head) + b"\n")
        for blob in blobs:
            f.write(_LENGTH.pack(len(blob)))
            f.write(blob)
        for start in range(0, len(rels), CHUNK):
            blob = marshal.dumps([entries[rel].row(rel) for rel in rels[start:start + CHUNK]], 4)
            f.write(_LENGTH.pack(len(blob)) + blob)
        f.write(_LENGTH.pack(0))
    tmp.replace(path)


Identity = tuple[int, int, int]  # a file's size, mtime_ns and inode


@dataclass
class Listing:
    """The record files as one look found them: each one's kind and name
    (records.record_names), in that order, and its status (-1s where it could not be
    taken). The build memo takes them; the check that follows a miss uses them instead
    of listing 220,000 files and looking at each again."""

    files: list[tuple[Kind, str]] = field(default_factory=list)
    stats: dict[str, Identity] = field(default_factory=dict)


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

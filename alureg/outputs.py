"""Writing the site's files so that a build costs what changed, not what exists.

A large registry's output is 580,000 files and 2.4 GB (100,000 certificates); on a
virtual disk, writing them costs more than rendering them, and a merged pull request
changes a few of them. A manifest kept with the caches (outside the registry and the
output) lists, for each file of the live output, its size, modification time, inode
and SHA-256, and the digest of the inputs it was made from where a writer gave one
(alureg/pagememo.py).

The new site is written into a folder beside the live one and swapped in at the end
(alureg/swap.py: readers see the old site or the new one, never a mix). That folder
is, when there is one, the *spare*: the output before the live one, kept by the
previous build with its manifest. A file whose bytes (or inputs) are those the spare
already holds at that path is left alone; else one the live output holds is
hard-linked from it; else it is written. Only the files that changed in the last two
builds are touched. Each file is checked against its manifest entry (size, time,
inode) before it is kept or linked: one edited since (a deploy step, a person; an
editor's save is a new inode) is written again. Files of the spare that the new site
does not have are deleted. A file is never written in place: the spare and the live
output share the inodes of the files that did not change. A file of the spare that is
replaced is moved to a trash folder beside the new one, deleted by a detached process
after the build (``_clear``).

The spare lives with the caches (alureg/caches.py), outside the registry and the
output, and is trusted as they are: its manifest says what it holds (listing 580,000
files to find one put there by hand took 12 s of a 80 s build). That manifest holds
only what the spare differs by from the live output's, and names the live manifest
file it is based on by its SHA-256 (``SpareManifest``): with any other live manifest
the spare is not used.

Writers call ``emit`` (or ``reuse`` first, with the digest of their inputs);
``begin``, ``complete`` and ``finish`` (alureg/publish.py) set up, tidy the spare and
save the manifests; ``abandon`` forgets the run after a failure. Each process
writes its files itself (``emit``: no writing threads). Forked page workers return the
entries they made (``take_entries``). Tests compare builds that keep, link and write with cold builds,
byte for byte (tests/test_scale.py, tests/test_buildmemo.py, tests/test_outputs.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import marshal
import os
import shutil
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

# A file as written: size, mtime_ns, inode and SHA-256, then the SHA-256 of the inputs
# it was made from where the writer gave one, packed in one bytes object (56 or 88
# bytes: a list of four Python objects took about 300, a second dict for the input
# digests about 100 more, and a build holds three manifests of 580,000 files).
Entry = bytes
_STAT = struct.Struct("<QqQ")
_DIGEST = 32
_PLAIN, _WITH_INPUTS = _STAT.size + _DIGEST, _STAT.size + 2 * _DIGEST
Manifest = dict[str, Entry]  # by path relative to the output folder
Columns = tuple[list[str], list[Entry]]  # a manifest as its paths and their entries
SPARE_SUFFIX = "spare"
# Of the manifest files: 3 is binary, 4 holds the input digests in the entries, 5 is in
# columns, 6 keeps the spare's as its differences from the live one's.
FORMAT = 6


class SpareManifest:
    """The spare's manifest as its differences from the live output's (``base``): most
    files of the spare are the live output's (hard links, equal entries), and loading
    both manifests whole raised a one-change rebuild's peak by about 260 MiB (VmHWM
    around the load, 580,000 files). ``diff``: the spare's entries that differ, and an
    entry of no bytes for each path of the live output the spare does not have."""

    def __init__(self, base: Manifest, diff: Manifest) -> None:
        self.base, self.diff = base, diff

    def get(self, rel: str) -> Entry | None:
        entry = self.diff.get(rel)
        if entry is None:
            return self.base.get(rel)
        return entry or None

    def __contains__(self, rel: str) -> bool:
        return self.get(rel) is not None

    def dropped_by(self, kept: Manifest) -> list[str]:
        """The paths the spare holds and ``kept`` does not, sorted (``kept`` empty:
        every path the spare holds). Comprehensions over the paths, not sets of them:
        a set difference of the 580,735 paths made a set of them all (32 MiB), and
        ``outputs.complete`` took 0.075 s this way against 0.18 s for a generator over
        every path the spare holds (docs/adr/0012-scale.md, twenty-second session)."""
        diff = self.diff
        held = [rel for rel in self.base if rel not in kept and rel not in diff]
        held += [rel for rel, entry in diff.items() if entry and rel not in kept]
        held.sort()
        return held

    @staticmethod
    def between(spare: Manifest, live: Manifest) -> Columns:
        """The ``diff`` of ``spare`` (a whole manifest) from ``live``, as its paths and
        entries (``_save`` takes them so, without copying them into lists again). After
        a build from other code every entry differs: as a dict, and with a set of every
        path for the live output's own, working out and saving the 580,735 differences
        peaked at 46.7 MiB; so, at 18.7 (tracemalloc; docs/adr/0012-scale.md,
        twenty-second session)."""
        paths: list[str] = []
        entries: list[Entry] = []
        put_path, put_entry, now = paths.append, entries.append, live.get
        for rel, entry in spare.items():  # each entry looked up once
            if now(rel) != entry:
                put_path(rel)
                put_entry(entry)
        gone = [rel for rel in live if rel not in spare]  # not a set of all 580,735 paths
        paths += gone
        entries += [b""] * len(gone)  # an entry of no bytes: the spare has no such file
        return paths, entries


@dataclass
class Claimed:
    """The live output's manifest, read once for the build, and the spare's based on
    it (None: the spare is not used)."""

    live: Manifest
    spare: SpareManifest | None
    digest: str  # the SHA-256 of the live manifest's file (alureg/pagereach.py keeps it)


@dataclass
class _Run:
    new: Path
    live: Path | None
    manifest: Manifest  # the live output's
    spare: SpareManifest = field(default_factory=lambda: SpareManifest({}, {}))  # what ``new`` holds already
    entries: Manifest = field(default_factory=dict)
    linked: int = 0  # kept in the spare or linked from the live output
    written: int = 0
    pid: int = field(default_factory=os.getpid)
    prefilled: bool = False  # ``new`` is the claimed spare, not an empty folder
    folders: set[str] = field(default_factory=set)  # made or seen in ``new`` (one mkdir each)
    trash: str = ""  # where files in the way are moved (``_clear``), beside ``new``
    trash_made: int = 0  # the process that made ``trash`` last (forked workers make it too)
    moved: Iterator[int] = field(default_factory=itertools.count)  # names in the trash
    fd: int = -1  # ``folder``: a descriptor of ``new``, opened by the process ``fd_pid``
    fd_pid: int = 0

    def folder(self) -> int:
        """A descriptor of ``new`` in this process, for lookups relative to it."""
        if self.fd_pid != os.getpid():
            self.fd, self.fd_pid = os.open(self.new, os.O_RDONLY | os.O_DIRECTORY), os.getpid()
        return self.fd

    def close(self) -> None:
        if self.fd_pid == os.getpid():
            os.close(self.fd)
            self.fd_pid = 0

    def rel(self, path: Path | str) -> str:
        """``path`` relative to ``new`` (pathlib's relative_to cost 7 µs a file; writers
        of many files give strings: two joins of Paths and str() cost 5 µs)."""
        text, prefix = path if isinstance(path, str) else str(path), str(self.new) + os.sep
        if not text.startswith(prefix):
            raise ValueError(f"{path} is not in {self.new}")
        return sys.intern(text[len(prefix):])  # one object for the path in all three manifests


_run: _Run | None = None
_STAT_AT = os.stat in os.supports_dir_fd  # POSIX; not Windows


def spare_folder(out: Path, cache: Path) -> Path | None:
    """Where the output before the live one is kept: with the caches (outside the
    registry, where a pull request could put files), if they are on the output's file
    system (it is moved into place by a rename); else None, and there is no spare."""
    out = out.resolve()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        if os.stat(cache).st_dev != os.stat(out.parent if not out.exists() else out).st_dev:
            return None
    except OSError:
        return None
    return cache / SPARE_SUFFIX


def _entry(st: os.stat_result, digest: bytes, inputs: bytes | None) -> Entry:
    return _STAT.pack(st.st_size, st.st_mtime_ns, st.st_ino) + digest + (inputs or b"")


def _inputs(entry: Entry) -> bytes | None:
    return entry[_PLAIN:] or None


def _with(entry: Entry, inputs: bytes | None) -> Entry:
    """``entry`` with ``inputs`` as its input digest."""
    return entry if _inputs(entry) == inputs else entry[:_PLAIN] + (inputs or b"")


def _same(path: Path | str, entry: Entry, folder: int | None = None) -> bool:
    """The file at ``path`` is as ``entry`` says (size, time, inode); ``folder``: a
    descriptor ``path`` is relative to."""
    try:
        st = os.stat(path, dir_fd=folder)
    except OSError:
        return False
    return _STAT.pack(st.st_size, st.st_mtime_ns, st.st_ino) == entry[:_STAT.size]


def _size(entry: Entry) -> int:
    return int(_STAT.unpack_from(entry)[0])


def _trash(run: _Run) -> str:
    """This process's folder for files moved out of the way (see ``_clear``)."""
    if run.trash_made != os.getpid():
        os.makedirs(run.trash, exist_ok=True)
        run.trash_made = os.getpid()
    return f"{run.trash}{os.sep}{os.getpid()}-{next(run.moved)}"


def _clear(path: Path | str) -> None:
    """Make room for a new file at ``path``: never write into a file in place (its inode
    may be the live output's), and let a folder or file in the way go.

    What is there is moved into the build's trash folder beside the new one, which a
    detached process deletes after the build (alureg/publish.py): an unlink that frees a
    file's blocks cost about 2 ms on the build machine's disk (ext4 with discard), 4 s
    of the 2,311 files a one-change rebuild replaces; a rename costs microseconds."""
    run = _run
    if run is not None:
        try:
            os.rename(path, _trash(run))
            return
        except FileNotFoundError:
            return
        except NotADirectoryError:
            return  # a parent is a file: _parent() deals with it
        except OSError:
            pass  # say, another file system: deleted here
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        shutil.rmtree(path)
    except NotADirectoryError:
        pass  # a parent is a file: _parent() deals with it
    except PermissionError:  # Linux says EISDIR, others EPERM for a folder
        if Path(path).is_dir() and not Path(path).is_symlink():
            shutil.rmtree(path)
        else:
            raise


def _parent(path: Path | str) -> None:
    run = _run
    folder = os.path.dirname(path)
    if run is not None and folder in run.folders:
        return
    # One mkdir for the common case, a page's own new folder under a made one
    # (os.makedirs looks up the parent first: py-spy put 20 s of a cold build's samples
    # in makedirs and its exists).
    try:
        try:
            os.mkdir(folder)
        except FileNotFoundError:  # its parent is new too
            os.makedirs(folder, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        if not os.path.isdir(folder):  # a file or a link in the way (as os.makedirs(exist_ok) judges)
            _make_room(Path(folder))
    if run is not None:
        run.folders.add(folder)


def _make_room(parent: Path) -> None:
    """Make the folder ``parent`` where a file (or a link) is in its way."""
    for up in reversed(parent.parents):
        if up.is_file() or up.is_symlink():
            up.unlink()
    if parent.is_file() or parent.is_symlink():
        parent.unlink()
    parent.mkdir(parents=True, exist_ok=True)


def reuse(path: Path | str, inputs: bytes) -> int | None:
    """Keep or link ``path`` without making its bytes, if the spare or the live file
    there was made from the same inputs (``inputs``: their digest, alureg/pagememo.py)
    and nobody changed it since: its size; None: make it and ``emit`` it."""
    run = _run
    return _reuse(run, run.rel(path), path, inputs) if run is not None else None


def carry_all(rels: list[str]) -> list[int | None]:
    """``reuse`` for many files, each with the input digest the live output's manifest
    holds for it (or none, ``keeps_nothing``), by path relative to the new output: for
    files whose inputs the caller knows did not change since the live output was built
    (alureg/pagereach.py). Their sizes; None: the caller makes the file.

    What ``_reuse`` does, in one loop for the common case of a one-change rebuild:
    the spare's entry is the live one's (the file is a link to the live file), and
    the file is as that entry says, looked up from the new output's folder (an open
    descriptor) rather than from the root of the file system. 3.5 µs a file against
    5.0 one at a time (100,000 claim pages); a one-change rebuild carried 557,670
    at 100,000 certificates (docs/adr/0012-scale.md, eighteenth session). Any
    other case goes through ``_reuse``."""
    run = _run
    if run is None:
        return [None] * len(rels)
    live, entries, intern = run.manifest, run.entries, sys.intern
    diff = run.spare.diff if run.spare.base is live else None  # None: the spare is not based on ``live``
    folder, prefix = (run.folder(), "") if _STAT_AT else (None, f"{run.new}{os.sep}")
    sizes: list[int | None] = []
    for rel in rels:
        before = live.get(rel)
        if before is None:
            sizes.append(None)
        elif diff is not None and rel not in diff and _same(prefix + rel, before, folder):
            entries[intern(rel)] = before
            run.linked += 1
            sizes.append(_size(before))
        else:
            sizes.append(_reuse(run, intern(rel), f"{run.new}{os.sep}{rel}", before[_PLAIN:] or None))
    return sizes


def keeps_nothing() -> bool:
    """No earlier output to keep or link files from (a first build, or one with the
    cache off): ``reuse`` would return None for every file, so writers need not work
    out the digests of their files' inputs. Their files' entries then hold none;
    ``carry_all`` still carries them over when their inputs did not change. At 100,000
    certificates, working out those digests of the 460,000 record pages, status and
    record documents, and looking each up, took 3.9 s of CPU (a scratch harness on the
    scale registry's model; docs/adr/0012-scale.md, twenty-fourth session)."""
    run = _run
    return run is None or not (run.manifest or run.spare.base or run.spare.diff)


def carry_same(rels: list[str], inputs: list[bytes]) -> list[int | None]:
    """``reuse`` for many files by path relative to the new output, each with the
    digest of its inputs: ``carry_all`` for those the live manifest holds that digest
    for; None for the others (the caller makes them). 20,000 feeds one ``reuse`` at a
    time took 0.34 s of a one-change rebuild at 100,000 certificates."""
    sizes: list[int | None] = [None] * len(rels)
    run = _run
    if run is None:
        return sizes
    live = run.manifest
    same = [k for k, (rel, digest) in enumerate(zip(rels, inputs, strict=True))
            if (entry := live.get(rel)) is not None and entry[_PLAIN:] == digest]
    for k, size in zip(same, carry_all([rels[k] for k in same]), strict=True):
        sizes[k] = size
    return sizes


def _reuse(run: _Run, rel: str, path: Path | str, inputs: bytes | None) -> int | None:
    """``reuse``; ``inputs`` None: the live file was made with no input digest
    (``keeps_nothing``) and ``carry_all``'s caller knows it is right. A spare's file
    with no digest cannot tell what it was made from: only the live one is taken."""
    had = run.spare.get(rel)
    if inputs is not None and had is not None and _inputs(had) == inputs and _same(path, had):
        run.entries[rel] = had
        run.linked += 1
        return _size(had)
    before = run.manifest.get(rel)
    if run.live is None or before is None or _inputs(before) != inputs:
        return None
    if not _link(run, rel, path, had, before, before):
        return None
    return _size(before)


def live_bytes(path: Path | str) -> bytes | None:
    """What the live output holds at ``path``'s place (``path``: in the new output),
    if the file is as the live manifest says (size, time, inode and SHA-256): for a
    writer that reads what the last build made (alureg/bundles.py). None: it is not."""
    found = _live(path)
    if found is None:
        return None
    try:
        with open(found[0], "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data if hashlib.sha256(data).digest() == found[1][_STAT.size:_PLAIN] else None


@contextlib.contextmanager
def live_file(path: Path | str) -> Iterator[BinaryIO | None]:
    """The live output's file at ``path``'s place, open, if it is as the live manifest
    says (as ``live_bytes``), hashed a block at a time and not held: for a writer that
    reads parts of a large file (alureg/listchunks.py). None: it is not."""
    found = _live(path)
    try:
        f = open(found[0], "rb") if found is not None else None  # noqa: SIM115 (closed below, after the reads)
    except OSError:
        f = None
    if f is None or found is None:
        yield None
        return
    with f:
        try:
            same = hashlib.file_digest(f, "sha256").digest() == found[1][_STAT.size:_PLAIN]
        except OSError:
            same = False
        yield f if same else None


def _live(path: Path | str) -> tuple[str, Entry] | None:
    """The live output's file at ``path``'s place and its manifest entry, if its status
    is the entry's."""
    run = _run
    if run is None or run.live is None:
        return None
    rel = run.rel(path)
    before = run.manifest.get(rel)
    source = f"{run.live}{os.sep}{rel}"
    return (source, before) if before is not None and _same(source, before) else None


def _link(run: _Run, rel: str, path: Path | str, had: Entry | None, before: Entry, entry: Entry) -> bool:
    """Link the live output's file at ``rel`` (``before``: its manifest entry) into
    ``path``, where the spare holds ``had``; ``entry``: the new manifest's entry for it."""
    assert run.live is not None
    if had is not None and had[:_STAT.size] == before[:_STAT.size] and _same(path, had):
        # The spare's file is the live one already (a link an earlier build made): a
        # build after one that remade every file's inputs (another day, other code)
        # would otherwise move 578,000 files to the trash and link them back (55 s
        # instead of 27 at 100,000 certificates, docs/adr/0012-scale.md).
        run.entries[rel] = entry
        run.linked += 1
        return True
    source = f"{run.live}{os.sep}{rel}"
    if not _same(source, before):
        return False
    try:
        if had is not None:
            _clear(path)
        _parent(path)
        os.link(source, path)
    except FileExistsError:  # the spare had a file there its manifest did not know
        _clear(path)
        os.link(source, path)
    except OSError:
        return False
    run.entries[rel] = entry
    run.linked += 1
    return True


def emit(path: Path | str, data: bytes | bytearray, inputs: bytes | None = None) -> int:
    """Write ``data`` to ``path`` (or keep the spare's or link the live output's
    identical file); its size. ``inputs``: the digest of what the bytes were made
    from, for ``reuse`` next time."""
    run = _run
    if run is None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
        return len(data)
    rel = run.rel(path)
    digest = hashlib.sha256(data).digest()
    had = run.spare.get(rel)
    if had is not None and had[_STAT.size:_PLAIN] == digest and _same(path, had):
        run.entries[rel] = _with(had, inputs)
        run.linked += 1
        return len(data)
    before = run.manifest.get(rel)
    if run.live is not None and before is not None and before[_STAT.size:_PLAIN] == digest \
            and _link(run, rel, path, had, before, _with(before, inputs)):
        return len(data)
    if run.prefilled:
        _clear(path)
    run.written += 1
    # Written here, not by threads: four writing threads a process made a cold build of
    # 100,000 certificates take 87–98 s (132–136 s of user CPU) against 81 s (122 s)
    # without (three pairs, docs/adr/0012-scale.md). Creating a folder and a file costs
    # about 30 µs of system time on this disk; threads creating files in one folder
    # wait for its lock and for the GIL, and three processes share the two cores already.
    _write_file(run, rel, path, data, digest, inputs)
    return len(data)


def _write_file(run: _Run, rel: str, path: Path | str, data: bytes | bytearray, digest: bytes,
                inputs: bytes | None) -> None:
    _parent(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:  # the spare had a file there its manifest did not know
        _clear(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:  # os.write and fstat, not a file object (py-spy: 12 s of a cold build's samples in fdopen)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        st = os.fstat(fd)
    finally:
        os.close(fd)
    run.entries[rel] = _entry(st, digest, inputs)


def emit_tree(folder: Path, into: Path) -> None:
    """Emit every file under ``folder`` (a tool's output, e.g. MkDocs') at the same
    place under ``into``."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            emit(into / path.relative_to(folder), path.read_bytes())


def _manifest_file(cache: Path, name: str = "manifest") -> Path:
    return cache / f"{name}.bin"


# A manifest file: a head line (magic, format, output folder), the count, then the
# files' paths (UTF-8, each ended by NUL, which no path holds), each entry's length (a
# byte: 56 or 88) and the entries, one after the other. Binary (as JSON, the hex
# strings of 580,000 entries added about 190 MB to a build's peak memory) and in
# columns, so that loading is a few calls in C rather than a loop in Python per file
# (1.5 s a manifest at 580,000 files, and a rebuild loads two).
_MAGIC = b"alureg-manifest"
_COUNT = struct.Struct("<QQ")  # files, bytes of paths


def _encode(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def _load(cache: Path, name: str, folder: Path) -> Manifest | None:
    """The manifest ``name`` if it describes ``folder`` (anything else: None). Paths
    are interned: the live and spare manifests and the new one share them."""
    found = _read(cache, name, folder)
    return found[0] if found is not None else None


def _read(cache: Path, name: str, folder: Path, tag: bytes = b"",
          absent_ok: bool = False) -> tuple[Manifest, str] | None:
    """``_load``, and the SHA-256 of the file (what a spare's differences are based
    on). ``tag``: what the head line holds after the folder; ``absent_ok``: entries of
    no bytes allowed (paths the spare does not have)."""
    h = hashlib.sha256()
    try:
        with _manifest_file(cache, name).open("rb") as f:
            # Read a part at a time, the entries a few megabytes at a time: the whole
            # 70 MB file held while its 580,000 paths and entries were made raised
            # the load's peak by about 240 MiB (VmHWM), for 150 MiB of manifest.
            def part(size: int) -> bytes:
                data = f.read(size)
                if len(data) != size:
                    raise ValueError("cut short")
                h.update(data)
                return data
            head = f.readline(1 << 16)
            h.update(head)
            if head != _head(folder, tag) + b"\n":
                return None
            count, length = _COUNT.unpack(part(_COUNT.size))
            names = part(length)
            if count and names[-1:] != b"\0":
                return None
            paths = str(names[:-1], "utf-8", "surrogateescape").split("\0") if count else []
            del names
            widths = part(count)
            if len(paths) != count:
                return None
            if _known(widths, absent_ok) != count:
                return None
            files: Manifest = {}
            step = 65_536  # entries read at once
            for start in range(0, count, step):
                chunk = widths[start:start + step]
                data = part(sum(chunk))
                ends = itertools.pairwise(itertools.accumulate(chunk, initial=0))
                files.update(zip(map(sys.intern, paths[start:start + step]),
                                 map(data.__getitem__, itertools.starmap(slice, ends)), strict=True))
            if f.read(1):
                return None  # more than the entries
        if len(files) != count:
            return None
        return files, h.hexdigest()
    except (OSError, struct.error, ValueError):
        return None


def _known(widths: bytes, absent_ok: bool) -> int:
    """How many entries have a width a manifest may hold."""
    return widths.count(_PLAIN) + widths.count(_WITH_INPUTS) + (widths.count(0) if absent_ok else 0)


def _head(folder: Path, tag: bytes = b"") -> bytes:
    return b"%s %d %s" % (_MAGIC, FORMAT, _encode(str(folder))) + (b" " + tag if tag else b"")


def claim_spare(spare: Path, cache: Path, live: Path) -> Claimed | None:
    """The live output's manifest (``live``; None: there is none) and the spare's,
    taken (deleted from the cache: the spare is about to change); the spare's is None
    when there is no spare, or no manifest of it based on the live output's as it is
    (then the spare is not used)."""
    base = _read(cache, "manifest", live.resolve()) if live.is_dir() else None
    found = None
    if base is not None and spare.is_dir():
        found = _read(cache, SPARE_SUFFIX, spare, base[1].encode(), absent_ok=True)
    _manifest_file(cache, SPARE_SUFFIX).unlink(missing_ok=True)
    if base is None:
        return None
    return Claimed(base[0], SpareManifest(base[0], found[0]) if found is not None else None, base[1])


def trash_folder(new: Path) -> Path:
    """Where a build writing into ``new`` moves the files in its way (``_clear``); the
    caller deletes it after the build (alureg/publish.py). Beside ``new``, with its
    name: a killed build's is removed with its folder (alureg/swap.py)."""
    return new.with_name(f"{new.name}-trash")


def begin(new: Path, live: Path, cache: Path, spare: SpareManifest | None = None,
          live_files: Manifest | None = None) -> None:
    """Start writing into ``new``, reusing ``live``'s unchanged files; ``spare``: the
    manifest of what ``new`` holds already (the claimed spare), else ``new`` is empty;
    ``live_files``: the live output's manifest if the caller has it (``Claimed``)."""
    global _run
    if live_files is None:
        live_files = _load(cache, "manifest", live.resolve()) if live.is_dir() else None
    run = _Run(new, live if live.is_dir() else None, live_files or {}, trash=str(trash_folder(new)))
    if spare is not None:
        run.spare = spare
    run.prefilled = spare is not None or any(new.iterdir())
    _run = run


def complete() -> None:
    """Before the swap: delete what the spare held that the new site does not have,
    and folders left empty."""
    run = _run
    if run is None or not run.prefilled:
        return
    gone = run.spare.dropped_by(run.entries)
    folders: set[Path] = set()
    for rel in gone:
        path = run.new / rel
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            pass  # gone already, with the folder that held it
        except OSError:
            if not path.is_dir():  # a folder now: the new site's files are in it
                raise
        folders.update(p for p in path.parents if p != run.new and run.new in p.parents)
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # not empty: it holds files of the new site
            folder.rmdir()


def worker_started() -> None:
    """In a forked worker: forget the entries inherited from the parent (it has them)."""
    if _run is not None and os.getpid() != _run.pid:
        _run.pid = os.getpid()
        take_entries()


Taken = tuple[Manifest, int, int]


def entries() -> Manifest:
    """The files of the output being made, as they are now (after ``complete``: all)."""
    return _run.entries if _run is not None else {}


def take_entries() -> Taken:
    """This process's new entries and counts since the last call
    (forked workers)."""
    run = _run
    if run is None:
        return {}, 0, 0
    out = (run.entries, run.linked, run.written)
    run.entries, run.linked, run.written = {}, 0, 0
    return out


def add_entries(entries: Manifest, linked: int, written: int) -> None:
    if _run is not None:
        _run.entries.update((sys.intern(k), v) for k, v in entries.items())  # keys unpickled: new objects
        _run.linked += linked
        _run.written += written


SPOOL_CHUNK = 20_000  # entries a chunk of the spool


def spool_entries(spool: BinaryIO) -> tuple[int, int]:
    """``take_entries`` for a forked process whose parent created ``spool`` (an open
    file both share): the entries are written into it a chunk at a time, marshalled,
    and the counts returned. Sent through a pipe, the entries of the second build
    process of a 100,000-certificate build (every output file but the record pages,
    360,000-odd) were received as one message and then unpickled: the parent's peak
    rose by 140-150 MiB while it took them (docs/adr/0012-scale.md, twentieth session)."""
    files, linked, written = take_entries()
    items = list(files.items())
    for start in range(0, len(items), SPOOL_CHUNK):
        blob = marshal.dumps(dict(items[start:start + SPOOL_CHUNK]), 4)
        spool.write(_SPOOLED.pack(len(blob)) + blob)
    spool.flush()
    return linked, written


def add_spooled(spool: BinaryIO, linked: int, written: int) -> None:
    """``add_entries`` of what ``spool_entries`` wrote into ``spool`` (one chunk held at
    a time)."""
    spool.seek(0)
    while head := spool.read(_SPOOLED.size):
        files = marshal.loads(spool.read(_SPOOLED.unpack(head)[0]))  # noqa: S302 (our own child wrote it)
        add_entries(files, 0, 0)
    add_entries({}, linked, written)


_SPOOLED = struct.Struct("<Q")


SAVE_CHUNK = 50_000  # paths and entries of a manifest joined at once as it is saved


def _save(cache: Path, name: str, folder: Path, files: Manifest | Columns, tag: bytes = b"",
          absent_ok: bool = False) -> str:
    """Write a manifest (``files``: by path, or as its paths and entries); returns the
    SHA-256 of the file. ``tag`` and ``absent_ok``: as for ``_read``."""
    tmp = _manifest_file(cache, name).with_suffix(".tmp")
    paths, values = (list(files), list(files.values())) if isinstance(files, dict) else files
    widths = bytes(map(len, values)) if all(len(v) < 256 for v in values) else b""
    if _known(widths, absent_ok) != len(values):
        wrong, entry = next((k, v) for k, v in zip(paths, values, strict=True)
                            if len(v) not in (_PLAIN, _WITH_INPUTS))
        raise ValueError(f"manifest entry of {wrong!r}: {len(entry)} bytes")
    # The paths, each ended by NUL, encoded 50,000 at a time, twice (their length goes
    # first): joined at once, the 580,000 paths as one str and as its bytes, the stage
    # that saves the manifests rose by 55-60 MiB, against 34-38 since, at the peak of a
    # rebuild after a code change (docs/adr/0012-scale.md, twenty-first session).

    def names() -> Iterator[bytes]:
        for start in range(0, len(paths), SAVE_CHUNK):
            yield _encode("\0".join(paths[start:start + SAVE_CHUNK]) + "\0")
    h = hashlib.sha256()
    with tmp.open("wb") as f:
        def put(data: bytes) -> None:
            h.update(data)
            f.write(data)
        put(_head(folder, tag) + b"\n")
        put(_COUNT.pack(len(paths), sum(map(len, names()))))
        for chunk in names():
            put(chunk)
        put(widths)
        for start in range(0, len(values), SAVE_CHUNK):  # not all 580,000 entries joined at once
            put(b"".join(values[start:start + SAVE_CHUNK]))
    tmp.replace(_manifest_file(cache, name))
    return h.hexdigest()


def finish(live: Path, cache: Path, spare: Path | None = None) -> tuple[int, int, Manifest, str]:
    """After the swap: save the manifest of the new live output and, when the
    previous one was kept as the spare at ``spare``, its manifest as the spare's.
    Returns the counts, unchanged (kept or linked) and written, the manifest and the
    SHA-256 of its file ("": none was saved)."""
    global _run
    run, _run = _run, None
    if run is None:
        return 0, 0, {}, ""
    run.close()
    cache.mkdir(parents=True, exist_ok=True)
    _manifest_file(cache, SPARE_SUFFIX).unlink(missing_ok=True)  # it would be based on the old live manifest
    digest = _save(cache, "manifest", live.resolve(), run.entries)
    if spare is not None and run.live is not None and run.manifest:
        # The output before this one, kept as the spare: its manifest as what it
        # differs by from the new live output's, and based on that file.
        _save(cache, SPARE_SUFFIX, spare.resolve(), SpareManifest.between(run.manifest, run.entries),
              digest.encode(), absent_ok=True)
    return run.linked, run.written, run.entries, digest


def file_stat(entry: Entry) -> tuple[int, int, int]:
    """The size, modification time (ns) and inode of the file that ``entry`` describes."""
    size, mtime_ns, inode = _STAT.unpack_from(entry)
    return size, mtime_ns, inode


def abandon() -> None:
    """After a failed build: forget the run."""
    global _run
    if _run is not None:
        _run.close()
    _run = None

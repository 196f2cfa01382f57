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
output share the inodes of the files that did not change.

The spare lives with the caches (alureg/caches.py), outside the registry and the
output, and is trusted as they are: its manifest says what it holds (listing 580,000
files to find one put there by hand took 12 s of a 80 s build).

Writers call ``emit`` (or ``reuse`` first, with the digest of their inputs);
``begin``, ``complete`` and ``finish`` (alureg/publish.py) set up, tidy the spare and
save the manifests. Forked page workers return the entries they made
(``take_entries``). Tests compare builds that keep, link and write with cold builds,
byte for byte (tests/test_scale.py, tests/test_buildmemo.py, tests/test_outputs.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import orjson

# A file as written: size, mtime_ns, inode and SHA-256, packed (56 bytes: a list of
# four Python objects took about 300, and a build holds three manifests of 580,000).
Entry = bytes
_STAT = struct.Struct("<QqQ")
Manifest = tuple[dict[str, Entry], dict[str, bytes]]  # files, input digests (SHA-256) by path
SPARE_SUFFIX = "spare"
FORMAT = 2  # of the manifest files: 2 packs each entry


@dataclass
class _Run:
    new: Path
    live: Path | None
    manifest: dict[str, Entry]  # the live output's
    inputs_before: dict[str, bytes] = field(default_factory=dict)  # the live files' input digests
    spare: dict[str, Entry] = field(default_factory=dict)  # what ``new`` holds already (the spare's)
    spare_inputs: dict[str, bytes] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)
    inputs: dict[str, bytes] = field(default_factory=dict)
    linked: int = 0  # kept in the spare or linked from the live output
    written: int = 0
    pid: int = field(default_factory=os.getpid)
    prefilled: bool = False  # ``new`` is the claimed spare, not an empty folder
    folders: set[str] = field(default_factory=set)  # made or seen in ``new`` (one mkdir each)

    def rel(self, path: Path) -> str:
        """``path`` relative to ``new`` (pathlib's relative_to cost 7 µs a file)."""
        text, prefix = str(path), str(self.new) + os.sep
        if not text.startswith(prefix):
            raise ValueError(f"{path} is not in {self.new}")
        return text[len(prefix):]


_run: _Run | None = None


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


def _entry(st: os.stat_result, digest: bytes) -> Entry:
    return _STAT.pack(st.st_size, st.st_mtime_ns, st.st_ino) + digest


def _same(path: Path | str, entry: Entry) -> bool:
    """The file at ``path`` is as ``entry`` says (size, time, inode)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return _STAT.pack(st.st_size, st.st_mtime_ns, st.st_ino) == entry[:_STAT.size]


def _size(entry: Entry) -> int:
    return int(_STAT.unpack_from(entry)[0])


def _clear(path: Path) -> None:
    """Make room for a new file at ``path``: never write into a file in place (its inode
    may be the live output's), and let a folder or file in the way go."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        shutil.rmtree(path)
    except NotADirectoryError:
        pass  # a parent is a file: _parent() deals with it
    except PermissionError:  # Linux says EISDIR, others EPERM for a folder
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            raise


def _parent(path: Path) -> None:
    run = _run
    folder = os.path.dirname(path)
    if run is not None and folder in run.folders:
        return
    try:
        os.makedirs(folder, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        for up in reversed(path.parent.parents):  # a file where a folder must be
            if up.is_file() or up.is_symlink():
                up.unlink()
        if path.parent.is_file() or path.parent.is_symlink():
            path.parent.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
    if run is not None:
        run.folders.add(folder)


def reuse(path: Path, inputs: bytes) -> int | None:
    """Keep or link ``path`` without making its bytes, if the spare or the live file
    there was made from the same inputs (``inputs``: their digest, alureg/pagememo.py)
    and nobody changed it since: its size; None: make it and ``emit`` it."""
    run = _run
    if run is None:
        return None
    rel = run.rel(path)
    had = run.spare.get(rel)
    if had is not None and run.spare_inputs.get(rel) == inputs and _same(path, had):
        run.entries[rel], run.inputs[rel] = had, inputs
        run.linked += 1
        return _size(had)
    before = run.manifest.get(rel)
    if run.live is None or before is None or run.inputs_before.get(rel) != inputs:
        return None
    if not _link(run, rel, path, before):
        return None
    run.inputs[rel] = inputs
    return _size(before)


def _link(run: _Run, rel: str, path: Path, before: Entry) -> bool:
    assert run.live is not None
    source = f"{run.live}{os.sep}{rel}"
    if not _same(source, before):
        return False
    try:
        if rel in run.spare:
            _clear(path)
        _parent(path)
        os.link(source, path)
    except FileExistsError:  # the spare had a file there its manifest did not know
        _clear(path)
        os.link(source, path)
    except OSError:
        return False
    run.entries[rel] = before
    run.linked += 1
    return True


def emit(path: Path, data: bytes, inputs: bytes | None = None) -> int:
    """Write ``data`` to ``path`` (or keep the spare's or link the live output's
    identical file); its size. ``inputs``: the digest of what the bytes were made
    from, for ``reuse`` next time."""
    run = _run
    if run is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return len(data)
    rel = run.rel(path)
    if inputs is not None:
        run.inputs[rel] = inputs
    digest = hashlib.sha256(data).digest()
    had = run.spare.get(rel)
    if had is not None and had[_STAT.size:] == digest and _same(path, had):
        run.entries[rel] = had
        run.linked += 1
        return len(data)
    before = run.manifest.get(rel)
    if run.live is not None and before is not None and before[_STAT.size:] == digest \
            and _link(run, rel, path, before):
        return len(data)
    if run.prefilled:
        _clear(path)
    _parent(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:  # the spare had a file there its manifest did not know
        _clear(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    run.entries[rel] = _entry(os.stat(path), digest)
    run.written += 1
    return len(data)


def emit_tree(folder: Path, into: Path) -> None:
    """Emit every file under ``folder`` (a tool's output, e.g. MkDocs') at the same
    place under ``into``."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            emit(into / path.relative_to(folder), path.read_bytes())


def _manifest_file(cache: Path, name: str = "manifest") -> Path:
    return cache / f"{name}.json"


def _load(cache: Path, name: str, folder: Path) -> Manifest | None:
    """The manifest ``name`` if it describes ``folder``."""
    try:
        loaded = orjson.loads(_manifest_file(cache, name).read_bytes())
        if isinstance(loaded, dict) and loaded.get("output") == str(folder) and loaded.get("format") == FORMAT:
            files = {name: bytes.fromhex(entry) for name, entry in loaded["files"].items()}
            inputs = {name: bytes.fromhex(digest) for name, digest in loaded["inputs"].items()}
            if all(len(e) == _STAT.size + 32 for e in files.values()):
                return files, inputs
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        pass
    return None


def claim_spare(spare: Path, cache: Path) -> Manifest | None:
    """The spare's manifest, taken (deleted from the cache: the spare is about to
    change), or None when there is no spare or it has none (then it is not used)."""
    if not spare.is_dir():
        return None
    found = _load(cache, SPARE_SUFFIX, spare)
    _manifest_file(cache, SPARE_SUFFIX).unlink(missing_ok=True)
    return found


def begin(new: Path, live: Path, cache: Path, spare: Manifest | None = None) -> None:
    """Start writing into ``new``, reusing ``live``'s unchanged files; ``spare``: the
    manifest of what ``new`` holds already (the claimed spare), else ``new`` is empty."""
    global _run
    found = _load(cache, "manifest", live.resolve()) if live.is_dir() else None
    manifest, inputs = found or ({}, {})
    run = _Run(new, live if live.is_dir() else None, manifest, inputs)
    if spare is not None:
        run.spare, run.spare_inputs = spare
    run.prefilled = spare is not None or any(new.iterdir())
    _run = run


def complete() -> None:
    """Before the swap: delete what the spare held that the new site does not have,
    and folders left empty."""
    run = _run
    if run is None or not run.prefilled:
        return
    gone = sorted(run.spare.keys() - run.entries.keys())
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


Taken = tuple[dict[str, Entry], dict[str, bytes], int, int]


def take_entries() -> Taken:
    """This process's new entries, input digests and counts since the last call
    (forked workers)."""
    run = _run
    if run is None:
        return {}, {}, 0, 0
    out = (run.entries, run.inputs, run.linked, run.written)
    run.entries, run.inputs, run.linked, run.written = {}, {}, 0, 0
    return out


def add_entries(entries: dict[str, Entry], inputs: dict[str, bytes], linked: int, written: int) -> None:
    if _run is not None:
        _run.entries.update(entries)
        _run.inputs.update(inputs)
        _run.linked += linked
        _run.written += written


def _save(cache: Path, name: str, folder: Path, files: dict[str, Entry], inputs: dict[str, bytes]) -> None:
    tmp = _manifest_file(cache, name).with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps({"format": FORMAT, "output": str(folder),
                                  "files": {k: v.hex() for k, v in files.items()},
                                  "inputs": {k: v.hex() for k, v in inputs.items()}}))
    tmp.replace(_manifest_file(cache, name))


def finish(live: Path, cache: Path, spare: Path | None = None) -> tuple[int, int]:
    """After the swap: save the manifest of the new live output and, when the
    previous one was kept as the spare at ``spare``, its manifest as the spare's.
    Returns the counts: unchanged (kept or linked) and written."""
    global _run
    run, _run = _run, None
    if run is None:
        return 0, 0
    cache.mkdir(parents=True, exist_ok=True)
    if spare is not None and run.live is not None and run.manifest:
        _save(cache, SPARE_SUFFIX, spare.resolve(), run.manifest, run.inputs_before)
    _save(cache, "manifest", live.resolve(), run.entries, run.inputs)
    return run.linked, run.written


def abandon() -> None:
    global _run
    _run = None

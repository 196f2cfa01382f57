"""Publish a folder so that readers see the old one or the new one, never a mix or
nothing, even if the process is killed at any moment (docs/adr/0013-hostile-input.md).

The new site is written into a folder beside the output (a fresh one, or the spare:
the output before the live one, kept for this; alureg/outputs.py), then the two are
swapped in one system call (Linux renameat2 with RENAME_EXCHANGE), and the old one is
deleted. Where that call is missing, two renames are used and a later build puts back
an output that a kill between them left aside. Folders left by killed builds are
removed by the next build, once their process is gone.

Deleting the previous output of a large registry takes minutes (580,000 files for
100,000 certificates: about 110 s here, more than rendering them). With
``background=True`` (the `build` command) the old folder is renamed and deleted by a
detached process, so the build ends as soon as the new site is in place.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically; False where the system cannot."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (its folders are in use: swap's, native's scratch)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_up(out: Path, background: bool) -> None:
    """Put back an output left aside by a killed fallback swap; remove folders of
    builds that were killed (their process no longer runs), by a detached process if
    ``background``: a killed build's folder can be a whole output (580,000 files took
    six minutes to delete in the foreground)."""
    old = out.with_name(f".{out.name}.old")
    if not out.exists() and old.exists():
        old.rename(out)
    ours = re.compile(rf"\.{re.escape(out.name)}\.(?:new|old)-(\d+)-")
    for leftover in out.parent.glob(f".{out.name}.*-*"):
        found = ours.match(leftover.name)
        if found and not alive(int(found.group(1))):
            _delete(leftover, out, background)
    if old.exists():
        _delete(old, out, background)


def _delete(folder: Path, out: Path, background: bool) -> None:
    if not background:
        shutil.rmtree(folder, ignore_errors=True)
        return
    # The folder is renamed after the deleting process, which is told the new name only
    # then: a later build leaves it alone while that process runs, and removes what it
    # left if it was killed.
    deleter = subprocess.Popen(
        [sys.executable, "-c", "import shutil, sys\npath = sys.stdin.readline().strip()\n"
                               "if path:\n    shutil.rmtree(path, True)"],
        start_new_session=True, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-{deleter.pid}-", dir=out.parent))
    folder.rename(target / "site")
    assert deleter.stdin is not None
    deleter.stdin.write(f"{target}\n".encode())
    deleter.stdin.close()


def discard(folder: Path, out: Path, background: bool) -> None:
    """Delete a folder beside ``out`` (a spare that cannot be used)."""
    if folder.exists():
        _delete(folder, out, background)


def write_atomically(out: Path, write: Callable[[Path, bool], None], *, background: bool = False,
                     reuse: Path | None = None, keep_previous: Path | None = None) -> None:
    """Run ``write`` into a folder beside ``out``, then swap it in. The folder is
    fresh, or ``reuse`` (a spare output, taken away from its place first); ``write``
    is told which (``True``: it holds the spare's files). The previous output is kept
    at ``keep_previous`` (as the next spare), else deleted, by a detached process if
    ``background``."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    _clean_up(out, background)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-{os.getpid()}-", dir=out.parent))
    claimed = reuse is not None and reuse.is_dir()
    if claimed:
        assert reuse is not None
        os.rename(reuse, tmp)  # onto the empty folder: a killed build's leftovers are cleaned up as any
    try:
        write(tmp, claimed)
    except BaseException:
        if claimed:
            _delete(tmp, out, background)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not out.exists():
        tmp.rename(out)
        return
    if exchange(tmp, out):
        previous = tmp
    else:
        previous = out.with_name(f".{out.name}.old")
        out.rename(previous)
        tmp.rename(out)
    if keep_previous is not None:
        discard(keep_previous, out, background)
        previous.rename(keep_previous)
    else:
        _delete(previous, out, background)

"""Publish a folder so that readers see the old one or the new one, never a mix or
nothing, even if the process is killed at any moment (docs/adr/0013-hostile-input.md).

The new site is written into a fresh folder beside the output, then the two are
swapped in one system call (Linux renameat2 with RENAME_EXCHANGE), and the old one is
deleted. Where that call is missing, two renames are used and a later build puts back
an output that a kill between them left aside. Folders left by killed builds are
removed by the next build, once their process is gone.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_up(out: Path) -> None:
    """Put back an output left aside by a killed fallback swap; remove folders of
    builds that were killed (their process no longer runs)."""
    old = out.with_name(f".{out.name}.old")
    if not out.exists() and old.exists():
        old.rename(out)
    for leftover in out.parent.glob(f".{out.name}.new-*"):
        pid = leftover.name.split("-")[1] if leftover.name.count("-") >= 2 else ""
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)


def write_atomically(out: Path, write: Callable[[Path], None]) -> None:
    """Run ``write`` into a fresh folder beside ``out``, then swap it in."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    _clean_up(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-{os.getpid()}-", dir=out.parent))
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not out.exists():
        tmp.rename(out)
    elif exchange(tmp, out):
        shutil.rmtree(tmp, ignore_errors=True)  # now the previous output
    else:
        old = out.with_name(f".{out.name}.old")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)

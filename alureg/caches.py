"""Where build caches live: outside the registry, never inside it.

A cache inside the repository could be committed by a pull request (`git add -f`
ignores .gitignore), and a build would then take a poisoned QR code or a forged
"already checked" result from it. So caches live in the user's cache folder, one
folder per registry: $ALUREG_CACHE_DIR, else $XDG_CACHE_HOME/alureg, else
~/.cache/alureg.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_home() -> Path:
    explicit = os.environ.get("ALUREG_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "alureg"


def cache_dir(root: Path, name: str) -> Path:
    """The ``name`` cache of the registry at ``root``."""
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return cache_home() / key / name


def write_file(path: Path, data: bytes) -> None:
    """Write a cache file whole or not at all: a reader (another build, or this one
    killed halfway) finds the old file or the new one, never a part. The temporary
    file is this process's, so two processes writing the same file do not mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)

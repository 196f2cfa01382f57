"""Spies on the calls the package makes to the standard library, for tests that count
what the check reads, lists or encodes.

Why here and not on the package's own functions: the modules that go over every record
are compiled (alureg/native.py), and a compiled module calls its compiled neighbours
directly, so a spy set on ``records.load_file`` or ``check.read_record`` would see
nothing. Calls into ``os``, ``io`` and ``marshal`` are looked up on those modules at
each call, compiled or not, so these spies see the same calls either way."""

from __future__ import annotations

import io
import marshal
import os
from pathlib import Path
from typing import Any

import pytest


def file_reads(monkeypatch: pytest.MonkeyPatch, suffix: str = ".yaml") -> list[str]:
    """The names of the files ending in ``suffix`` that get opened to read, in order:
    by ``os.open`` (records.read_record, records.Record's places) or by ``io.open``
    (``Path.read_bytes``, ``open``)."""
    opened: list[str] = []
    real_os_open, real_io_open = os.open, io.open

    def note(path: Any) -> None:
        name = os.fsdecode(path) if isinstance(path, str | bytes | os.PathLike) else ""
        if name.endswith(suffix):
            opened.append(name.rsplit("/", 1)[-1])

    def spy_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if not flags & (os.O_WRONLY | os.O_RDWR):
            note(path)
        return real_os_open(path, flags, *args, **kwargs)

    def spy_io_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if not any(c in mode for c in "wax+"):
            note(file)
        return real_io_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy_os_open)
    monkeypatch.setattr(io, "open", spy_io_open)
    return opened


def folder_listings(monkeypatch: pytest.MonkeyPatch, under: Path) -> list[str]:
    """The folders under ``under`` listed by ``os.listdir`` or ``os.scandir``, in order."""
    listed: list[str] = []
    real_listdir, real_scandir = os.listdir, os.scandir
    top = str(under) + os.sep

    def note(path: Any) -> None:
        name = os.fsdecode(path) if isinstance(path, str | bytes | os.PathLike) else ""
        if name.startswith(top):
            listed.append(name[len(top):])

    def spy_listdir(path: Any = ".") -> list[Any]:
        note(path)
        return real_listdir(path)

    def spy_scandir(path: Any = ".") -> Any:
        note(path)
        return real_scandir(path)

    monkeypatch.setattr(os, "listdir", spy_listdir)
    monkeypatch.setattr(os, "scandir", spy_scandir)
    return listed


def marshalled_rows(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the check cache's entries encoded in this process
    (checkcache.Entry.row's rows, given to ``marshal.dumps``); a forked worker's
    encodings stay in its own copy of the list. A row is known by its shape, the name
    first of ten fields: were that to change, the cases that expect rows encoded
    (tests/test_scale.py, "marked" and "dropped") would fail, not pass unseen."""
    encoded: list[str] = []
    real_dumps = marshal.dumps

    def spy_dumps(value: Any, *args: Any) -> bytes:
        if isinstance(value, list):
            encoded.extend(row[0] for row in value
                           if isinstance(row, tuple) and len(row) == 10 and isinstance(row[0], str))
        return real_dumps(value, *args)

    monkeypatch.setattr(marshal, "dumps", spy_dumps)
    return encoded

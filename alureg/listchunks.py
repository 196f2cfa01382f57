"""The API lists' rows carried over from the live output a thousand at a time.

A list (certificates.json and .csv, claims.json, members.json and .csv) is made in
chunks of rows (alureg/api.py ``_write_list``), and each chunk's bytes do not depend on
its place in the file. Each build keeps, in its page state (alureg/pagereach.py
``PageState.lists``), where each chunk lies in each list file it wrote, under the
digest of the chunk's kind and ids. The next build takes a chunk's bytes from the live
file instead of making its rows when the change reaches none of them (the rows are
read as their directory rows are: ``reach``) and the live file is as the live manifest
says, bytes included (alureg/outputs.py ``live_file``). At 100,000 certificates the
lists took 1.7 s of CPU of a one-change rebuild (docs/adr/0012-scale.md, nineteenth
session). Nothing is written for them besides the lists themselves.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .outputs import live_file
from .pagereach import Page

Spans = list[list[Any]]  # [digest of the chunk's kind and ids, start, end] in a list file


def chunk_key(kind: str, ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join([kind, *ids]).encode()).hexdigest()


class ListChunks:
    """``reach``: the pages and rows a change since the live output reaches (None: any);
    ``kept``: the spans of the live output's list files, by their names under the API
    folder, from the page state the live output's build saved. ``made``: this build's."""

    def __init__(self, reach: set[Page] | None = None, kept: dict[str, Spans] | None = None) -> None:
        self.reach, self.kept = reach, kept or {}
        self.made: dict[str, Spans] = {}

    @contextmanager
    def live(self, name: str, path: str) -> Iterator[Callable[[str], bytes | None]]:
        """The bytes of a chunk of the live file ``name`` (at ``path`` in the new output)
        by its key, read when asked for (read whole, the lists raised a one-change
        rebuild's peak by about 45 MiB); None for every key if a change may reach any
        row or the live file is not as built, and for a key it had no chunk of."""
        spans = self.kept.get(name) if self.reach is not None else None
        if not spans:
            yield lambda key: None
            return
        with live_file(path) as f:
            if f is None:
                yield lambda key: None
                return
            places = {key: (start, end) for key, start, end in spans}

            def read(key: str) -> bytes | None:
                start, end = places.get(key, (-1, -1))
                if not 0 <= start <= end:
                    return None
                data = os.pread(f.fileno(), end - start, start)
                return data if len(data) == end - start else None
            yield read

    def unreached(self, kind: str, ids: Sequence[str]) -> bool:
        """Whether the change reaches none of these rows (``kind``: as pagereach names rows)."""
        reach = self.reach
        return reach is not None and not any((kind, rid) in reach for rid in ids)

    def span(self, name: str, key: str, start: int, end: int) -> None:
        self.made.setdefault(name, []).append([key, start, end])

"""The registry's change history, read from git: every commit that touched a record
file, and what it changed (alureg/changes.py), for the record pages, the changes page
and the Atom feeds.

Versions are parsed once per blob; a blob that is also the current file reuses the
data ``check`` already loaded. Outside a git repository (an exported folder, a
synthetic registry) the history is empty and the site says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .changes import CHANGED, RecordChange, compare
from .gitrev import commits, is_repository, read_blobs, record_kind, tree_on_disk
from .loading import load_bytes
from .records import Record
from .trust import TrustList


@dataclass(frozen=True)
class Event:
    """One record changed by one commit."""

    commit: str
    time: str  # YYYY-MM-DDThh:mm:ssZ, the commit's
    subject: str
    change: RecordChange

    @property
    def day(self) -> str:
        return self.time[:10]


@dataclass
class History:
    available: bool = False
    events: list[Event] = field(default_factory=list)  # oldest first
    by_record: dict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))

    def newest(self, limit: int | None = None, events: Iterable[Event] | None = None) -> list[Event]:
        chosen = list(self.events if events is None else events)
        chosen.sort(key=lambda e: e.time, reverse=True)  # stable: a commit's files stay in path order
        return chosen[:limit] if limit is not None else chosen


def read_history(root: Path, records: Iterable[Record], trust: TrustList) -> History:
    """Every change to a record file on the current branch (first parents: one entry
    per merged pull request)."""
    if not is_repository(root):
        return History()
    log = list(commits(root))
    parsed: dict[str, dict[str, Any] | None] = {}
    current = tree_on_disk(root)
    for record in records:  # the current versions, already loaded by check
        if record.rel in current:
            parsed[current[record.rel]] = record.data
    wanted = {b for c in log for f in c.files for b in (f.old, f.new) if b is not None and b not in parsed}
    for sha, raw in read_blobs(root, wanted).items():
        parsed[sha] = load_bytes(raw).data
    history = History(available=True)
    for c in log:
        for f in c.files:
            kind = record_kind(f.rel)
            old = parsed.get(f.old) if f.old else None
            new = parsed.get(f.new) if f.new else None
            if kind is None or (old is None and new is None):
                continue  # a version that never loaded has nothing to show
            change = compare(f.rel, kind, old, new, trust)
            if f.old and old is None and new is not None:  # its earlier version never loaded
                change = replace(change, action=CHANGED)
            event = Event(c.sha, c.time, c.subject, change)
            history.events.append(event)
            history.by_record[Path(f.rel).stem].append(event)
    return history

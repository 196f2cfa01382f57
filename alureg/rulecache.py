"""The rules' cache: the cross-record rules' findings of the last check, kept so that
the next one runs the rules again only for the records a change can reach.

A one-change rebuild at 100,000 certificates ran every rule over every record: about
4 s of CPU on the build's second core, beside the first process's stages
(docs/adr/0012-scale.md). Now the rules run for the records a change reaches; each
other record keeps the findings the rules made for it last time.

The records a change reaches, from the changed files' ids and links, old and new (a
file is changed if its SHA-256 differs, or it was added or removed), rule by rule:
- every record that has one of those ids (REF001: which of two is first);
- every valid record linking to one of them (REF003 and the kind part of REF004,
  REF004's holders, REF005's comparisons with the superseded certificate,
  RUL005-RUL008);
- every certificate superseding the same certificate as a changed one did or does
  (REF005's "already superseded"), and every certificate whose chain of
  ``supersedes`` passes through a changed one (REF005's cycles);
- every certificate and member held by a holder whose certificates' statuses a change
  may move: the old and new holders of a changed certificate, the holders of a
  certificate that has a changed id or that a changed certificate supersedes (its
  successors decide its status) (RUL004, RUL012; a changed member's certificates link
  to it);
- the changed records themselves (the rules on one record).
A rule that compares every record with every other runs in full each time
(``rules.WHOLE``: RUL014's look-alike names, 0.14 s).

The rules run in full when the cache's context differs (the code, the trust list, the
pinned keys or the day of the check: RUL012 and SIG012 read the day), when the
standards catalogue or the trust list changed (RUL003 and RUL009 read the catalogue
for every certificate), and when more than ``FULL_FROM`` of the files changed.
tests/test_rulecache.py holds incremental runs to full ones under random edits.

Like the check cache, it lives outside the registry (alureg/caches.py), is written
atomically and read whole or not at all, and is trusted: only a check or a build
writes it. Format: one ``marshal`` blob (no code runs on reading it, unlike pickle).
"""

from __future__ import annotations

import marshal
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

from .caches import write_file
from .findings import Finding
from .records import KIND_FILES, Kind, Record

FORMAT = 1
FULL_FROM = 0.05  # share of the files changed past which the rules run in full
# What a file's record links by: () unread; (id,); a valid certificate's (id, holder, supersedes).
Keys = tuple[str, ...]


def keys(record: Record | None, valid: bool) -> Keys:
    """What the reach needs of a file's record when it is no longer there: its id and,
    for a valid certificate, its holder and the certificate it supersedes ("" none)."""
    if record is None:
        return ()
    if not valid or record.kind is not Kind.CERTIFICATE:
        return (record.id,)
    return record.id, record.data["holder"], record.data.get("supersedes") or ""


@dataclass
class Before:
    """The last check's files (relative name -> SHA-256 and keys) and findings, rule
    by rule (in ``rules.RULES`` order)."""

    files: dict[str, tuple[str, Keys]]
    findings: list[list[Finding]]


@dataclass
class Scope:
    """What an incremental run reports on: the records (by ``id()``) the rules run for,
    and the files whose earlier findings are dropped (theirs and the removed files');
    ``changed``, the changed files' names, and ``now``, what the cache keeps of those
    that are still there."""

    subjects: AbstractSet[int]
    dropped: set[str]
    changed: list[str]
    now: dict[str, tuple[str, Keys]]

    def files(self, before: Before) -> dict[str, tuple[str, Keys]]:
        """What the cache keeps of each file after this run: ``before``'s, the changed
        files' replaced (the other 220,000 files' keys, made again, took 0.2 s)."""
        out = dict(before.files)
        for rel in self.changed:
            out.pop(rel, None)
        out.update(self.now)
        return out


def files_now(files: dict[str, tuple[int, int, int, str]], records: Iterable[Record],
              valid: Iterable[Record]) -> dict[str, tuple[str, Keys]]:
    """What the cache keeps of each file: ``files``, each record file as the check read
    it (``CheckResult.files``)."""
    good = {id(r) for r in valid}
    by_rel = {r.rel: keys(r, id(r) in good) for r in records}
    return {rel: (seen[3], by_rel.get(rel, ())) for rel, seen in files.items()}


class RuleCache:
    """The rules' cache of one registry, for one check context and day."""

    def __init__(self, path: Path, context: str, rules: list[str]) -> None:
        self.path = path
        self.context = f"{FORMAT} {context} rules {','.join(rules)}"
        self.rules = len(rules)

    def load(self) -> Before | None:
        """The last check's state if it is whole and of this context; None otherwise."""
        try:
            context, files, found = marshal.loads(self.path.read_bytes())  # noqa: S302
            if context != self.context or files.__class__ is not dict or len(found) != self.rules:
                return None
            # Every part of the shapes the reach and the findings' sorting rely on: a
            # cache that is not as written is not used at all, never in part.
            for rel, (sha, linked) in files.items():
                if not (rel.__class__ is sha.__class__ is str and linked.__class__ is tuple
                        and all(k.__class__ is str for k in linked)):
                    return None
            for rows in found:
                for path, line, col, code, message in rows:
                    if not (path.__class__ is code.__class__ is message.__class__ is str
                            and line.__class__ is col.__class__ is int):
                        return None
            return Before(files, [[Finding(*row) for row in rows] for rows in found])
        except (OSError, EOFError, ValueError, TypeError):
            return None

    def save(self, files: dict[str, tuple[str, Keys]], findings: list[list[Finding]]) -> None:
        write_file(self.path, marshal.dumps((self.context, files, [[f.row() for f in rows] for rows in findings]), 4))


_WHOLE_FILES = frozenset(KIND_FILES.values())  # the catalogue and the trust list


def reach(before: Before, files: dict[str, tuple[int, int, int, str]], records: list[Record],
          valid_certificates: list[Record], valid_claims: list[Record], members: list[Record]) -> Scope | None:
    """The records a change since ``before`` reaches (module docstring); None: run in full."""
    changed = [rel for rel, seen in files.items() if before.files.get(rel, ("",))[0] != seen[3]]
    changed += [rel for rel in before.files if rel not in files]
    if len(changed) > FULL_FROM * max(len(files), 1) or _WHOLE_FILES.intersection(changed):
        return None
    if not changed:
        return Scope(set(), set(), [], {})
    by_rel = {r.rel: r for r in records}
    good = {id(r) for r in valid_certificates}
    ids: set[str] = set()  # the changed records' ids, old and new
    holders: set[str] = set()  # their holders, old and new (certificates)
    superseded: set[str] = set()  # the certificates they supersede, old and new
    kept: dict[str, tuple[str, Keys]] = {}  # what the cache will keep of the changed files
    for rel in changed:
        record = by_rel.get(rel)
        now = keys(record, record is not None and id(record) in good)
        if rel in files:
            kept[rel] = (files[rel][3], now)
        for linked in (before.files.get(rel, ("", ()))[1], now):
            if linked:
                ids.add(linked[0])
            if len(linked) == 3:
                holders.add(linked[1])
                superseded.add(linked[2])
    ids.discard("")
    superseded.discard("")
    # By id(), with the record: its file's name is wanted at the end.
    subjects: dict[int, Record] = {id(r): r for r in (by_rel.get(rel) for rel in changed) if r is not None}
    subjects.update((id(r), r) for r in records if r.id in ids)

    successors: dict[str, list[Record]] = {}
    for cert in valid_certificates:
        old = cert.data.get("supersedes")
        if old:
            successors.setdefault(old, []).append(cert)
    for old in superseded:
        subjects.update((id(r), r) for r in successors.get(old, ()))
    seen, stack = set(ids), list(ids)  # back along the chains through a changed certificate
    while stack:
        for cert in successors.get(stack.pop(), ()):
            subjects[id(cert)] = cert
            if cert.id not in seen:
                seen.add(cert.id)
                stack.append(cert.id)

    for cert in valid_certificates:
        data = cert.data
        if cert.id in ids or cert.id in superseded:
            holders.add(data["holder"])
        if data["holder"] in ids or data["audit"]["firm"] in ids:  # their successors: above
            subjects[id(cert)] = cert
    for claim in valid_claims:
        data = claim.data
        if data["holder"] in ids or any(c in ids for c in data["certificates"]):
            subjects[id(claim)] = claim
    subjects.update((id(cert), cert) for cert in valid_certificates if cert.data["holder"] in holders)
    subjects.update((id(m), m) for m in members if m.id in holders)
    return Scope(subjects.keys(), {r.rel for r in subjects.values()} | set(changed), changed, kept)


def carried(before: Before, scope: Scope, fresh: list[list[Finding]], whole: set[int]) -> list[list[Finding]]:
    """Each rule's findings: the earlier ones of the records out of ``scope`` and the
    ``fresh`` ones of those in it; a rule in ``whole`` ran in full, so only its fresh."""
    out: list[list[Finding]] = []
    for n, new in enumerate(fresh):
        if n in whole:
            out.append(new)
        else:
            out.append([f for f in before.findings[n] if f.path not in scope.dropped] + new)
    return out

"""What changed between two versions of the registry, record by record.

One comparison serves the pull-request summary (``diff BASE HEAD``), the change
history on the site and the feeds: a record was added, changed or removed; which
fields changed; whether its status moved (the last status-history entry); and which
keys signed the new version (proofs that were not there before).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .gitrev import read_blobs, record_kind, tree_at, tree_on_disk
from .loading import load_bytes
from .records import Kind
from .signing import SigningError, key_of_verification_method
from .trust import TrustList

Data = dict[str, Any]

ADDED, CHANGED, REMOVED = "added", "changed", "removed"


@dataclass(frozen=True)
class StatusMove:
    before: str | None  # None for a new record
    after: str
    date: str
    reason: str


@dataclass(frozen=True)
class RecordChange:
    rel: str
    kind: Kind
    id: str
    action: str  # added, changed or removed
    holder: str | None = None  # the member a record belongs to (a member: itself)
    fields: tuple[str, ...] = ()  # top-level fields whose value changed, proofs aside
    status: StatusMove | None = None
    signers: tuple[str, ...] = ()  # keys whose proofs are new in this version
    notes: tuple[str, ...] = ()  # kind-specific detail, e.g. trust-list keys added

    def summary(self) -> str:
        """One line a person reads: which record, and what happened to it."""
        name = f"{self.kind.value} {self.id}"
        if self.action == REMOVED:
            return f"{name} removed"
        parts: list[str] = []
        if self.status is not None:
            move = self.status.after if self.status.before is None else f"{self.status.before} → {self.status.after}"
            move += " (entry rewritten)" if self.status.before == self.status.after else ""
            parts.append(f"status {move} from {self.status.date}: {self.status.reason}")
        if self.action == CHANGED:
            other = [f for f in self.fields if f != "status_history" or self.status is None]
            if other:
                parts.append("changed " + ", ".join(other))
            if not self.fields:
                parts.append("re-signed" if self.signers else "layout only, no change to the data")
        parts.extend(self.notes)
        if self.action == ADDED:
            return "; ".join([f"{name} added", *parts])
        return f"{name}: " + "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.rel, "kind": self.kind.value, "id": self.id, "action": self.action,
            "holder": self.holder, "fields": list(self.fields), "signers": list(self.signers),
            "status": None if self.status is None else {
                "before": self.status.before, "after": self.status.after,
                "date": self.status.date, "reason": self.status.reason},
            "notes": list(self.notes), "summary": self.summary(),
        }


def holder_of(kind: Kind, data: Mapping[str, Any]) -> str | None:
    if kind is Kind.MEMBER:
        return str(data.get("id", "")) or None
    value = data.get("holder")
    return value if isinstance(value, str) else None


def _last_status(data: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    history = (data or {}).get("status_history")
    if isinstance(history, list) and history and isinstance(history[-1], Mapping):
        return history[-1]
    return None


def _status_move(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> StatusMove | None:
    before, after = _last_status(old), _last_status(new)
    if after is None or after == before:
        return None
    return StatusMove(None if before is None else str(before.get("status")), str(after.get("status")),
                      str(after.get("date")), str(after.get("reason")))


def key_name(vm: object, trust: TrustList) -> str:
    """A proof's signer as people know it: the trust list's key id and role."""
    try:
        multikey = key_of_verification_method(str(vm))
    except SigningError:
        return "a malformed verificationMethod"
    key = trust.keys.get(multikey)
    if key is None:
        return f"unknown key {multikey[:16]}…"
    firm = f", {key.audit_firm}" if key.audit_firm else ""
    return f"{key.key_id} ({key.role}{firm})"


def _new_signers(old: Mapping[str, Any] | None, new: Mapping[str, Any], trust: TrustList) -> tuple[str, ...]:
    def proofs(data: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
        value = (data or {}).get("proof")
        return [p for p in value if isinstance(p, Mapping)] if isinstance(value, list) else []
    seen = {p.get("proofValue") for p in proofs(old)}
    return tuple(key_name(p.get("verificationMethod"), trust) for p in proofs(new) if p.get("proofValue") not in seen)


def indexed(data: Mapping[str, Any], field: str,
            key: Callable[[Mapping[str, Any]], Any]) -> dict[Any, tuple[int, Mapping[str, Any]]]:
    """The mappings in list ``field`` of ``data`` by ``key``, each with its index."""
    items = data.get(field)
    return {key(item): (i, item) for i, item in enumerate(items if isinstance(items, list) else [])
            if isinstance(item, Mapping)}


def trust_key_id(entry: Mapping[str, Any]) -> str:
    """A trust-list entry's key id."""
    return str(entry.get("id"))


def _trust_notes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> tuple[str, ...]:
    before = {k: entry for k, (_, entry) in indexed(old or {}, "keys", trust_key_id).items()}
    after = {k: entry for k, (_, entry) in indexed(new, "keys", trust_key_id).items()}
    notes = [f"key {k} added ({after[k].get('role')})" for k in after if k not in before]
    notes += [f"key {k} revoked on {(after[k].get('revoked') or {}).get('date')}" for k in after
              if k in before and after[k].get("revoked") and not before[k].get("revoked")]
    notes += [f"key {k} retires on {after[k].get('valid_until')}" for k in after
              if k in before and after[k].get("valid_until") != before[k].get("valid_until")]
    notes += [f"key {k} removed" for k in before if k not in after]
    return tuple(notes)


def compare(rel: str, kind: Kind, old: Data | None, new: Data | None, trust: TrustList) -> RecordChange:
    """How a record file went from ``old`` to ``new`` (None: absent)."""
    if new is None:
        assert old is not None
        return RecordChange(rel, kind, str(old.get("id", "")), REMOVED, holder_of(kind, old))
    rid = str(new.get("id", ""))
    keys = [k for k in dict.fromkeys([*(old or {}), *new]) if k != "proof"]
    changed = tuple(k for k in keys if (old or {}).get(k) != new.get(k)) if old is not None else ()
    notes = _trust_notes(old, new) if kind is Kind.TRUST_LIST else ()
    return RecordChange(rel, kind, rid, ADDED if old is None else CHANGED, holder_of(kind, new), changed,
                        _status_move(old, new), _new_signers(old, new, trust), notes)


@dataclass
class Side:
    """One version of the registry's record files: a git revision, or the working folder."""

    root: Path
    rev: str | None  # None: the files on disk
    files: dict[str, str] = field(default_factory=dict)  # rel -> blob id

    @classmethod
    def of(cls, root: Path, rev: str | None) -> Side:
        return cls(root, rev, tree_at(root, rev) if rev else tree_on_disk(root))

    def read(self, rels: Iterable[str]) -> dict[str, Data | None]:
        """Parsed data of these files (None where a file does not load)."""
        rels = [r for r in rels if r in self.files]
        if self.rev is None:
            raw = {r: (self.root / r).read_bytes() for r in rels}
        else:
            blobs = read_blobs(self.root, (self.files[r] for r in rels))
            raw = {r: blobs[self.files[r]] for r in rels}
        return {r: load_bytes(b).data for r, b in raw.items()}


def trust_of(data: Data | None) -> TrustList:
    try:
        return TrustList.from_data(data or {})
    except (KeyError, TypeError, AttributeError):  # a broken trust list names no keys
        return TrustList()


def diff(root: Path, base: str, head: str | None) -> list[RecordChange]:
    """Record changes from revision ``base`` to ``head`` (None: the working folder),
    in path order. Files that do not load are reported by check, not here."""
    old, new = Side.of(root, base), Side.of(root, head)
    rels = sorted(r for r in old.files.keys() | new.files.keys() if old.files.get(r) != new.files.get(r))
    before, after = old.read(rels), new.read(rels)
    trust_rel = "registry/trust.yaml"
    trust = trust_of(new.read([trust_rel]).get(trust_rel) or old.read([trust_rel]).get(trust_rel))
    out: list[RecordChange] = []
    for rel in rels:
        kind = record_kind(rel)
        if kind is None:
            continue
        was, now = rel in old.files, rel in new.files
        a, b = before.get(rel), after.get(rel)
        if now and b is None:  # check says why; the summary must not call it removed
            rid = Path(rel).stem
            out.append(RecordChange(rel, kind, rid, CHANGED if was else ADDED, notes=("does not load: run check",)))
        elif was and a is None:
            assert b is not None
            out.append(replace(compare(rel, kind, None, b, trust), action=CHANGED))
        elif a is not None or b is not None:
            out.append(compare(rel, kind, a, b, trust))
    return out


# --- the change summary, for people (text), the job summary (markdown) and tools (json)

def counts(changes: list[RecordChange]) -> str:
    n = {a: sum(c.action == a for c in changes) for a in (ADDED, CHANGED, REMOVED)}
    return f"{n[ADDED]} added, {n[CHANGED]} changed, {n[REMOVED]} removed"


def _status_line(c: RecordChange) -> str:
    assert c.status is not None
    move = c.status.after if c.status.before is None else f"{c.status.before} → {c.status.after}"
    return f"{c.id}: {move} from {c.status.date} ({c.status.reason})"


def as_text(changes: list[RecordChange], title: str) -> str:
    lines = [f"{title}: {counts(changes)}"]
    for c in changes:
        lines.append(f"{c.action:8} {c.rel}")
        lines.append(f"         {c.summary()}")
        if c.signers:
            lines.append(f"         signed by: {'; '.join(c.signers)}")
    moves = [c for c in changes if c.status is not None]
    lines.append(f"status changes: {len(moves)}")
    lines.extend(f"  {_status_line(c)}" for c in moves)
    return "\n".join(lines) + "\n"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~!])")


def _md(text: str) -> str:
    """Record text made inert in GitHub Markdown: no links, images, HTML or table breaks."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False)).replace("\n", " ")


def as_markdown(changes: list[RecordChange], title: str) -> str:
    lines = [f"### {_md(title)}: {counts(changes)}", ""]
    if changes:
        lines += ["| change | record | what changed | signed by |", "|---|---|---|---|"]
        lines += [f"| {c.action} | {_md(c.rel)} | {_md(c.summary())} | {_md('; '.join(c.signers)) or '—'} |"
                  for c in changes]
    moves = [c for c in changes if c.status is not None]
    lines += ["", f"**Status changes: {len(moves)}**", ""] + [f"- {_md(_status_line(c))}" for c in moves]
    return "\n".join(lines) + "\n"


def as_json(changes: list[RecordChange]) -> str:
    return json.dumps([c.as_dict() for c in changes], indent=2, ensure_ascii=False) + "\n"

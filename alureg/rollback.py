"""The rollback guard (``check --against REV``): a change may add to the registry's
record of the past, never take from it.

Refused, each with its code: deleting a record (ROL001), rewriting or removing an
earlier status-history entry or accreditation (ROL002), moving a record's date
backwards (ROL003), putting back an older signed version of a record (ROL004), and
removing a key from the trust list or undoing its revocation (ROL005). Each of these
would let a signed but outdated record, say a certificate from before its
suspension, be published again as current.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .changes import Side, indexed, trust_key_id
from .findings import Finding
from .gitrev import git, record_kind, resolve
from .records import Kind, Record, Registry

# Dates that only move forward once published; a wrong one is corrected by a new record.
DATE_FIELDS: dict[Kind, tuple[tuple[str, ...], ...]] = {
    Kind.MEMBER: (("joined",),),
    Kind.CERTIFICATE: (("issued",), ("valid_from",), ("valid_until",), ("audit", "date")),
    Kind.CLAIM: (("approved",), ("valid_until",)),
}


def _get(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _latest_proof(data: Mapping[str, Any]) -> str:
    proofs = data.get("proof")
    times = [str(p.get("created")) for p in proofs if isinstance(p, Mapping)] if isinstance(proofs, list) else []
    return max(times, default="")


def _history(record: Record, old: list[Any], new: list[Any], where: tuple[str | int, ...],
             what: str) -> Iterator[Finding]:
    for i, entry in enumerate(old):
        if i >= len(new):
            yield record.finding("ROL002", f"{what} entry {i + 1} ({entry.get('date')}, {entry.get('status')}) "
                                 "was removed; entries are only ever added", *where)
            return
        if new[i] != entry:
            yield record.finding("ROL002", f"{what} entry {i + 1} was rewritten (was {entry.get('date')}, "
                                 f"{entry.get('status')}); add a new entry instead", *where, i)
            return


def _compare(record: Record, old: Mapping[str, Any], earlier: dict[str, str]) -> Iterator[Finding]:
    new, kind = record.data, record.kind
    if isinstance(old.get("status_history"), list) and isinstance(new.get("status_history"), list):
        yield from _history(record, old["status_history"], new["status_history"], ("status_history",),
                            "status history")
    if kind is Kind.AUDIT_FIRM:
        yield from _accreditations(record, old)
    if kind is Kind.TRUST_LIST:
        yield from _trust_keys(record, old)
    for path in DATE_FIELDS.get(kind, ()):
        before, after = _get(old, path), _get(new, path)
        if isinstance(before, str) and isinstance(after, str) and after < before:
            yield record.finding("ROL003", f"{'.'.join(path)} moved back from {before} to {after}; "
                                 "published dates only move forward", *path)
    stamp_old, stamp_new = _latest_proof(old), _latest_proof(new)
    if stamp_new and stamp_new < stamp_old:  # an unsigned record has SIG001 already
        yield record.finding("ROL004", f"the newest proof is from {stamp_new}, older than the "
                             f"published version's ({stamp_old}): an older version of the record is being put back",
                             "proof")
    elif record.rel in earlier:
        yield record.finding("ROL004", f"this file is byte for byte the version of commit {earlier[record.rel][:10]}, "
                             "which a later version replaced", 1)


def _accreditation_key(acc: Mapping[str, Any]) -> tuple[str, str]:
    return str(acc.get("standard")), str(acc.get("valid_from"))


def _accreditations(record: Record, old: Mapping[str, Any]) -> Iterator[Finding]:
    now = indexed(record.data, "accreditations", _accreditation_key)
    for key, (_, acc) in indexed(old, "accreditations", _accreditation_key).items():
        if key not in now:
            yield record.finding("ROL002", f"accreditation for {key[0]} from {key[1]} was removed; "
                                 "withdraw it with a status-history entry instead", "accreditations")
            continue
        i, current = now[key]
        yield from _history(record, list(acc.get("status_history") or []), list(current.get("status_history") or []),
                            ("accreditations", i, "status_history"), f"accreditation {key[0]} status history")


def _trust_keys(record: Record, old: Mapping[str, Any]) -> Iterator[Finding]:
    now = indexed(record.data, "keys", trust_key_id)
    for key_id, (_, entry) in indexed(old, "keys", trust_key_id).items():
        if key_id not in now:
            yield record.finding("ROL005", f"key {key_id} was removed from the trust list; retire it with "
                                 "valid_until or revoke it, so its past proofs can still be judged", "keys")
            continue
        i, current = now[key_id]
        if current.get("public_key") != entry.get("public_key"):
            yield record.finding("ROL005", f"key {key_id} now names another public key; add a new key instead",
                                 "keys", i, "public_key")
        if entry.get("revoked") and current.get("revoked") != entry.get("revoked"):
            yield record.finding("ROL005", f"the revocation of key {key_id} was changed or undone; "
                                 "a revocation is permanent", "keys", i)


def _earlier_versions(root: Path, rev: str, wanted: dict[str, str]) -> dict[str, str]:
    """For files whose current bytes equal an older version than ``rev``'s: the commit."""
    if not wanted:
        return {}
    out = git(root, "log", "--raw", "-z", "--no-renames", "--no-abbrev", "--format=%x01%H", "--relative",
              rev, "--", *sorted(wanted))
    found: dict[str, str] = {}
    for chunk in out.split(b"\x01")[1:]:
        parts = chunk.split(b"\0")
        commit = parts[0].strip().decode()
        for meta, path in zip(parts[1::2], parts[2::2], strict=False):
            fields = meta.decode().strip().lstrip(":").split(" ")
            rel = path.decode("utf-8", "surrogateescape")
            if len(fields) == 5 and wanted.get(rel) in (fields[2], fields[3]):
                found.setdefault(rel, commit)
    return found


def rollback_findings(root: Path, rev: str, registry: Registry) -> list[Finding]:
    """What the records on disk take away from the registry as it was at ``rev``."""
    resolve(root, rev)
    base, disk = Side.of(root, rev), Side.of(root, None)
    by_rel = {r.rel: r for r in registry.records}
    findings: list[Finding] = []
    for rel in sorted(base.files):
        if rel not in disk.files:
            kind = record_kind(rel)
            findings.append(Finding(rel, 1, 1, "ROL001", f"{kind.value if kind else 'record'} {Path(rel).stem} "
                                    f"was deleted; records are never removed: withdraw it instead"))
    changed = [rel for rel in sorted(base.files) if rel in disk.files and disk.files[rel] != base.files[rel]]
    older = base.read(changed)
    earlier = _earlier_versions(root, rev, {rel: disk.files[rel] for rel in changed})
    for rel in changed:
        record, old = by_rel.get(rel), older.get(rel)
        if record is not None and old is not None:  # a file that does not load has its own findings
            findings.extend(_compare(record, old, earlier))
    return findings

"""The secretariat's editing commands: ``new`` records with placeholders, and status
changes (``suspend``, ``reinstate``, ``withdraw``) written as a new status-history entry.

``new`` builds its skeleton from the kind's JSON Schema, so it follows the schema as
it changes: every required field, with enum values listed in the placeholder. A
placeholder starts with ``<FILL IN`` and fails ``check`` (RUL013) until replaced.

A status change appends one entry to the record's ``status_history`` by editing the
text (comments and layout stay) and removes the proofs it invalidates: every proof
signs the whole record, so the record must be signed again by the roles it needs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .errors import AluregError
from .findings import Finding
from .loading import load_text
from .records import KIND_DIRS, Kind, Record
from .rules import FINAL, FIRST
from .schema import message as schema_message
from .schema import resolved, validator
from .signing import unsigned
from .yamlwrite import emit_block, remove_proofs, scalar

PLACEHOLDER = "<FILL IN"
_PLACEHOLDER_JSON = PLACEHOLDER.encode()  # as JSON writes it: nothing in it is escaped
NEW_KINDS = {"member": Kind.MEMBER, "certificate": Kind.CERTIFICATE, "claim": Kind.CLAIM}
PREFIXES = {Kind.MEMBER: ("MEM-", 4), Kind.CERTIFICATE: ("CRT-", 6), Kind.CLAIM: ("CLM-", 5)}


class EditError(AluregError):
    pass


# --- new -----------------------------------------------------------------------

def next_id(root: Path, kind: Kind) -> str:
    """One more than the highest numbered id in the kind's folder."""
    prefix, width = PREFIXES[kind]
    numbers = [int(m.group(1)) for p in (root / KIND_DIRS[kind]).glob(f"{prefix}*.yaml")
               if (m := re.fullmatch(re.escape(prefix) + r"(\d+)", p.stem))]
    if numbers:
        width = max(len(p.stem) - len(prefix) for p in (root / KIND_DIRS[kind]).glob(f"{prefix}*.yaml"))
    return f"{prefix}{max(numbers, default=0) + 1:0{width}d}"


def _hint(node: dict[str, Any], name: str) -> Any:
    """A placeholder for one schema node (always failing check until replaced)."""
    if "const" in node:
        return node["const"]
    if node.get("type") == "object":
        return {k: _hint(node["properties"][k], k) for k in node.get("required", [])}
    if node.get("type") == "array":
        items = node.get("items", {})
        return [_hint(items, name)] if node.get("minItems", 0) > 0 or items.get("type") == "object" else []
    if "enum" in node:
        values = [str(v) for v in node["enum"]]
        shown = ", ".join(values[:8]) + (", …" if len(values) > 8 else "")
        return f"{PLACEHOLDER}: one of {shown}>"
    if node.get("format") == "date":
        return f"{PLACEHOLDER}: YYYY-MM-DD>"
    return f"{PLACEHOLDER}: {name.replace('_', ' ')}>"


def skeleton(kind: Kind, rid: str) -> str:
    """The text of a new record: header comments, then every required field."""
    name = f"{kind.value}.schema.json"
    schema = resolved(kind)
    data = {k: _hint(schema["properties"][k], k) for k in schema["required"]}
    data["id"] = rid
    if "status_history" in data:
        state, field = FIRST[kind]
        data["status_history"] = [{"date": f"{PLACEHOLDER}: YYYY-MM-DD, the same day as {field}>",
                                   "status": state, "reason": f"{PLACEHOLDER}: reason>"}]
    lines: list[str] = []
    emit_block(data, "", lines)
    folder = KIND_DIRS[kind]
    depth = "../" * (folder.count("/") + 1)
    header = [
        f"# New {kind.value} record. Replace every <FILL IN …> value (check reports each one left,",
        "# as RUL013), remove optional fields you do not need, then sign it:",
        f"#   python build.py sign {folder}/{rid}.yaml --key <your key file>",
        f"# Every field and its allowed values: schemas/{name} (also on the site's data dictionary).",
        f"# yaml-language-server: $schema={depth}schemas/{name}",
    ]
    return "\n".join(header + lines) + "\n"


def create(root: Path, kind: Kind) -> Path:
    rid = next_id(root, kind)
    path = root / KIND_DIRS[kind] / f"{rid}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as f:  # never overwrite a record
        f.write(skeleton(kind, rid))
    return path


def _strings(value: Any, where: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*where, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*where, i))


def placeholders(record: Record) -> list[Finding]:
    """RUL013 for every value ``new`` wrote that has not been filled in."""
    try:  # one pass in C instead of a walk in Python, for the common case
        if _PLACEHOLDER_JSON not in orjson.dumps(record.data):
            return []
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, a lone surrogate: walk
        pass
    return [record.finding("RUL013", f"{'.'.join(map(str, where))} is still a placeholder: {text}", *where)
            for where, text in _strings(record.data) if text.startswith(PLACEHOLDER)]


# --- status changes ------------------------------------------------------------

# command -> (new status per kind, the kinds it applies to)
ACTIONS: dict[str, dict[Kind, str]] = {
    "suspend": {Kind.MEMBER: "suspended", Kind.CERTIFICATE: "suspended"},
    "reinstate": {Kind.MEMBER: "active", Kind.CERTIFICATE: "active"},
    "withdraw": {Kind.CERTIFICATE: "withdrawn", Kind.CLAIM: "withdrawn"},
}


def find_record(root: Path, rid: str) -> tuple[Kind, Path]:
    for kind, folder in KIND_DIRS.items():
        path = root / folder / f"{rid}.yaml"
        if re.fullmatch(r"[A-Z]{3}-\d+", rid) and path.is_file():
            return kind, path
    raise EditError(f"no member, certificate, audit firm or claim file named {rid}.yaml")


def _history_end(text: str) -> tuple[int, str]:
    """Index of the line after the status_history block, and its item indent."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"status_history:\s*(#.*)?$", line)), None)
    if start is None:
        raise EditError("the record has no block-style top-level status_history to add to")
    end, indent = start + 1, None
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        lead = len(line) - len(line.lstrip(" "))
        if lead == 0 and not line.startswith("-"):
            break
        if indent is None and line.lstrip().startswith("- "):
            indent = line[:lead]
        end = i + 1
    if indent is None:
        raise EditError("status_history is not a block list; write it one entry per line")
    return end, indent


def signers_needed(kind: Kind, data: dict[str, Any]) -> list[str]:
    """Who must sign a record of this kind (docs/adr/0004-trust.md)."""
    if kind is Kind.CERTIFICATE:
        return [f"auditor of {data.get('audit', {}).get('firm')}", "secretariat"]
    return ["secretariat"]


@dataclass(frozen=True)
class StatusChange:
    status: str
    removed: list[str]  # verification methods of the proofs taken off
    needed: list[str]  # roles that must sign again
    text: str


def change_status(path: Path, kind: Kind, action: str, date: str, reason: str) -> StatusChange:
    """The record's text with the status entry appended and its old proofs removed."""
    if kind not in ACTIONS[action]:
        allowed = ", ".join(k.value for k in ACTIONS[action])
        raise EditError(f"{action} applies to a {allowed}, not a {kind.value}")
    status = ACTIONS[action][kind]
    raw = path.read_bytes().decode("utf-8-sig")
    loaded = load_text(raw)
    if loaded.data is None or loaded.problems:
        raise EditError(f"{path} does not load; run check and fix it first")
    data = loaded.data
    history = data.get("status_history")
    if not isinstance(history, list) or not history:
        raise EditError(f"{path} has no status history")
    last = history[-1]
    if last.get("status") in FINAL[kind]:
        raise EditError(f"{data.get('id')} is {last.get('status')} since {last.get('date')}; that is final")
    if last.get("status") == status:
        raise EditError(f"{data.get('id')} is already {status} (since {last.get('date')})")
    if str(last.get("date")) > date:
        raise EditError(f"the last status entry is dated {last.get('date')}; the new one must not be earlier")
    reason = unicodedata.normalize("NFC", reason.strip())  # typed text; records must be NFC
    if not reason:
        raise EditError("give a reason: it is published with the status")
    entry_data = {"date": date, "status": status, "reason": reason}
    bad = [schema_message(e) for e in validator(kind).iter_errors({**data, "status_history": [*history, entry_data]})
           if list(e.absolute_path)[:2] == ["status_history", len(history)]]
    if bad:
        raise EditError(f"the new status entry does not fit the schema: {bad[0]}")
    newline = "\r\n" if "\r\n" in raw else "\n"
    end, indent = _history_end(raw)
    entry = [f"{indent}- date: {date}", f"{indent}  status: {status}", f"{indent}  reason: {scalar(reason)}"]
    lines = raw.splitlines(keepends=True)
    if end == len(lines) and lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    text = "".join(lines[:end]) + newline.join(entry) + newline + "".join(lines[end:])
    expected = {**unsigned(data), "status_history": [*history, entry_data]}
    removed = [str(p.get("verificationMethod")) for p in data.get("proof") or [] if isinstance(p, dict)]
    result = load_text(text)
    if result.problems:
        raise EditError(f"the reason cannot be written: {result.problems[0].message}")
    if result.data is None or unsigned(result.data) != expected:
        raise EditError("could not add the entry without changing anything else; add it by hand")
    text = remove_proofs(text) if removed else text
    if load_text(text).data != expected:
        raise EditError("could not remove the old proofs without changing anything else; remove them by hand")
    return StatusChange(status, removed, signers_needed(kind, data), text)

"""Writing a proof set back into a record's YAML text.

Only the top-level ``proof`` block is replaced (or appended): the rest of the file,
comments and layout included, stays byte for byte as the author wrote it. The result
is loaded again and must hold the same data, or nothing is written.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from .errors import AluregError
from .loading import TYPED_PLAIN, load_text
from .signing import unsigned


class WriteError(AluregError):
    pass


def _proof_lines(text: str) -> tuple[int, int | None] | None:
    """0-based [first, end) line range of the top-level ``proof`` entry, if any;
    end is None when the entry runs to the end of the file."""
    depth = 0
    is_key = True  # inside the top-level mapping, nodes alternate key, value, key...
    start: int | None = None
    loader = yaml.CBaseLoader if yaml.__with_libyaml__ else yaml.BaseLoader
    for event in yaml.parse(text, Loader=loader):
        mark: Any = event.start_mark
        opens = isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent))
        if depth == 1 and (opens or isinstance(event, yaml.ScalarEvent)):
            if is_key:
                if start is not None:
                    return start, mark.line
                if isinstance(event, yaml.ScalarEvent) and event.value == "proof":
                    if mark.column != 0:
                        raise WriteError("the record must be a block mapping to be signed")
                    start = mark.line
            is_key = not is_key
        if opens:
            depth += 1
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    return None if start is None else (start, None)


def proof_block(proofs: list[dict[str, Any]], newline: str) -> str:
    lines: list[str] = []
    emit_block({"proof": proofs}, "", lines)
    return newline.join(lines) + newline


def replace_proofs(text: str, record: dict[str, Any]) -> str:
    """``text`` with its proof block set to ``record['proof']``."""
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    span = _proof_lines(text)
    if span is not None:
        first, end = span
        lines = lines[:first] + (lines[end:] if end is not None else [])
    rest = "".join(lines)
    if rest and not rest.endswith(("\n", "\r")):
        rest += newline
    new_text = rest + proof_block(record["proof"], newline)
    reloaded = load_text(new_text)
    if reloaded.data is None or unsigned(reloaded.data) != unsigned(record) or \
            reloaded.data.get("proof") != record["proof"]:
        raise WriteError("could not write the proof block without changing the record; "
                         "put the top-level proof key last and try again")
    return new_text


def remove_proofs(text: str) -> str:
    """``text`` without its top-level proof block (the rest byte for byte)."""
    span = _proof_lines(text)
    if span is None:
        return text
    lines = text.splitlines(keepends=True)
    first, end = span
    return "".join(lines[:first] + (lines[end:] if end is not None else []))


# Plain scalars the writer may leave unquoted: they read back as the same string under
# the strict loader (checked again on the whole text in dump_record).
_PLAIN = re.compile(r"^\w[\w .,/()&'+@:%=?#-]*$")


_YAML_ESCAPES = {c: f"\\u{c:04x}" for c in [*range(0x7F, 0xA0), 0x2028, 0x2029, 0xFEFF]}


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if (_PLAIN.fullmatch(text) and not text.endswith((" ", ":")) and ": " not in text
            and " #" not in text and not _looks_typed(text)):
        return text
    # A JSON string is a YAML double-quoted scalar, except that YAML reads NEL, LS and PS
    # as line breaks (and folds them), a BOM as a marker, and refuses DEL and the C1
    # controls written raw: those are written escaped.
    return json.dumps(text, ensure_ascii=False).translate(_YAML_ESCAPES)


def _looks_typed(text: str) -> bool:
    """Would the strict loader read this plain scalar as something other than a string?"""
    return any(p.match(text) for p in TYPED_PLAIN)


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return scalar(value)


def emit_block(value: Any, indent: str, out: list[str]) -> None:
    """Block style for mappings and lists, one key per line, in the data's key order."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out.append(f"{indent}{key}:")
                emit_block(item, indent + "  ", out)
            else:
                out.append(f"{indent}{key}: {_inline(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                inner: list[str] = []
                emit_block(item, indent + "  ", inner)
                inner[0] = indent + "- " + inner[0][len(indent) + 2:]
                out.extend(inner)
            elif isinstance(item, list) and item:
                raise WriteError("lists of lists are not used in records")
            else:
                out.append(f"{indent}- {scalar(item)}")


def dump_record(record: dict[str, Any]) -> str:
    """YAML text for a record, readable by people and read back exactly by the loader."""
    lines: list[str] = []
    emit_block(record, "", lines)
    text = "\n".join(lines) + "\n"
    reloaded = load_text(text)
    if reloaded.problems or reloaded.data != record:
        raise WriteError(f"record {record.get('id')!r} does not survive a YAML round trip")
    return text

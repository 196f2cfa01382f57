"""Strict YAML loading: records are JSON data written as YAML.

We read the parser's event stream (libyaml when available) and build the data
ourselves instead of using a PyYAML constructor, because that is the one place where
every rule of docs/adr/0002-strict-yaml.md can be enforced with a position:

- YAML 1.2 core-schema scalars: ``NO``, ``on``, ``yes`` stay strings; only
  ``true``/``false`` are booleans; dates stay strings;
- no duplicate keys, anchors, aliases or explicit tags; keys are strings;
- bounded file size and nesting depth, checked while streaming, so a hostile file
  (billion laughs, 20,000 nested brackets) stops early with bounded memory;
- every string must already be Unicode NFC (a signature covers exact characters, so
  we report rather than silently normalise).

Structural problems (syntax, anchors, tags, depth) stop reading the file; data-level
problems (duplicate keys, non-string keys, non-NFC text, unsafe numbers) are collected
and reading goes on, so one pass reports them all.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .nodeloader import NodeLoader

MAX_FILE_BYTES = 1 << 20  # 1 MiB: a large certificate is a few KiB.
MAX_DEPTH = 32  # records nest about 5 levels deep.
MAX_SAFE_INT = 2**53 - 1  # beyond this, JavaScript verifiers lose precision.

# Only the event stream is used; libyaml (CBaseLoader) parses ~9x faster than pure Python.
_Parser: Any = getattr(yaml, "CBaseLoader", None) or yaml.BaseLoader

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_SPECIAL_FLOAT = re.compile(r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_MAX_NUMBER_CHARS = 24  # longer integer literals are reported without being converted
_TYPED_START = frozenset("0123456789+-.~nNtTfF")  # the first characters of every pattern here
# Plain scalars that do not load as strings (the writer quotes these).
TYPED_PLAIN = (_NULL, re.compile("^(?:" + "|".join(_BOOL) + ")$"), _INT10, _INT8, _INT16, _FLOAT, _SPECIAL_FLOAT)

Path_ = tuple[str | int, ...]  # a location inside a record: keys and list indices


def typed_plain(value: str) -> tuple[Any, str | None]:
    """A plain scalar's value under the YAML 1.2 core schema, and the YML010 message
    when JSON cannot carry it exactly (the value is then kept as written)."""
    if value and value[0] not in _TYPED_START:  # most values: no pattern below can match
        return value, None
    if _NULL.match(value):
        return None, None
    if value in _BOOL:
        return _BOOL[value], None
    number: int | float | None = None
    if len(value) > _MAX_NUMBER_CHARS and (_INT10.match(value) or _INT8.match(value) or _INT16.match(value)):
        # Never converted: Python refuses integers of over 4,300 digits with an exception,
        # and any integer this long is beyond 2^53 anyway. The text is kept, reported.
        return value, f"number {_short(value)} is larger than 2^53-1 and would lose precision; quote it"
    if _INT10.match(value):
        number = int(value, 10)
    elif _INT8.match(value):
        number = int(value[2:], 8)
    elif _INT16.match(value):
        number = int(value[2:], 16)
    elif _SPECIAL_FLOAT.match(value):
        return value, f"{value} is not a JSON number; quote it"
    elif _FLOAT.match(value):
        number = float(value)
    if number is None:
        return value, None
    if abs(number) > MAX_SAFE_INT:
        return number, f"number {value} is larger than 2^53-1 and would lose precision; quote it"
    return number, None


@dataclass(frozen=True)
class Problem:
    """A loading problem; line and col are 1-based."""

    code: str
    line: int
    col: int
    message: str


@dataclass
class Loaded:
    """The result of loading one file: data is None when the file was unusable."""

    data: dict[str, Any] | None
    problems: list[Problem] = field(default_factory=list)
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    # True when the data is known to be what ``signing.sorted_json_is_jcs`` accepts
    # (found while loading, without walking the data again); False: not known.
    jcs: bool = False


class _Stop(Exception):
    """A structural problem: stop reading this file."""


class _Builder:
    def __init__(self, track_positions: bool) -> None:
        self.track = track_positions
        self.problems: list[Problem] = []
        self.positions: dict[Path_, tuple[int, int]] = {}

    def problem(self, code: str, mark: Any, message: str, *, stop: bool = False) -> None:
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        self.problems.append(Problem(code, line, col, message))
        if stop:
            raise _Stop

    def check_nfc(self, text: str, mark: Any) -> None:
        if not unicodedata.is_normalized("NFC", text):
            self.problem(
                "YML005",
                mark,
                f"text {_short(text)} is not in Unicode NFC form; normalise the file to NFC "
                "(for example `uconv -x any-nfc`) and sign it again",
            )

    def scalar(self, event: Any) -> Any:
        value: str = event.value
        if event.style:  # quoted or block scalar: always a string
            self.check_nfc(value, event.start_mark)
            return _shared(value)
        typed, problem = typed_plain(value)
        if problem is not None:
            self.problem("YML010", event.start_mark, problem)
        elif isinstance(typed, str):
            self.check_nfc(typed, event.start_mark)
            return _shared(typed)
        return typed

    def build(self, parser: Any) -> dict[str, Any] | None:
        """Consume events; return the top-level mapping (or None)."""
        # Each frame: [container, path, pending key or _NO_KEY, {key: key mark}]
        stack: list[list[Any]] = []
        root: Any = _NO_KEY
        documents = 0
        while True:
            event = parser.get_event()
            if isinstance(event, yaml.StreamEndEvent):
                break
            if isinstance(event, (yaml.StreamStartEvent, yaml.DocumentEndEvent)):
                continue
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    self.problem(
                        "YML012", event.start_mark, "a record file holds one YAML document",
                        stop=True,
                    )
                continue
            if isinstance(event, yaml.AliasEvent):
                self.problem(
                    "YML003", event.start_mark,
                    f"alias *{event.anchor} is not allowed; write the value out", stop=True,
                )
            anchor = getattr(event, "anchor", None)
            if anchor is not None:
                self.problem(
                    "YML003", event.start_mark,
                    f"anchor &{anchor} is not allowed; write the value out", stop=True,
                )
            tag = getattr(event, "tag", None)
            if tag is not None and isinstance(
                event, (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)
            ):
                self.problem(
                    "YML004", event.start_mark,
                    f"tag {tag} is not allowed; records are plain JSON data", stop=True,
                )

            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                closed = stack.pop()
                if not stack:
                    root = closed[0]
                continue

            # A node starts: a scalar, or a mapping or sequence.
            parent = stack[-1] if stack else None
            if parent is not None and isinstance(parent[0], dict) and parent[2] is _NO_KEY:
                # This node is a mapping key.
                if not isinstance(event, yaml.ScalarEvent):
                    self.problem(
                        "YML009", event.start_mark, "mapping keys must be strings", stop=True
                    )
                key = self.scalar(event)
                if not isinstance(key, str):
                    self.problem(
                        "YML009", event.start_mark,
                        f"mapping key {event.value!r} is not a string; quote it",
                    )
                    key = event.value
                if key in parent[3]:
                    first = parent[3][key]
                    self.problem(
                        "YML002", event.start_mark,
                        f"duplicate key {key!r} (first at line {first.line + 1})",
                    )
                else:
                    parent[3][key] = event.start_mark
                parent[2] = key
                continue

            path: Path_ = ()
            if parent is not None:  # a dict's pending key, or the next list index
                path = (*parent[1], parent[2] if isinstance(parent[0], dict) else len(parent[0]))
            if self.track and path not in self.positions:  # keep the first of duplicates
                m = event.start_mark
                self.positions[path] = (m.line + 1, m.column + 1)

            value: Any
            if isinstance(event, yaml.ScalarEvent):
                value = self.scalar(event)
            else:
                if len(stack) >= MAX_DEPTH:
                    self.problem(
                        "YML007", event.start_mark,
                        f"data is nested deeper than {MAX_DEPTH} levels", stop=True,
                    )
                value = {} if isinstance(event, yaml.MappingStartEvent) else []

            if parent is None:
                root = value
            elif isinstance(parent[0], dict):
                if parent[2] not in parent[0]:  # keep the first of duplicate keys
                    parent[0][parent[2]] = value
                parent[2] = _NO_KEY
            else:
                parent[0].append(value)
            if isinstance(value, (dict, list)) and not isinstance(event, yaml.ScalarEvent):
                stack.append([value, path, _NO_KEY, {}])

        if root is _NO_KEY or root is None:
            self.problem("YML008", None, "file is empty; a record is a YAML mapping")
            return None
        if not isinstance(root, dict):
            self.problem("YML008", None, "the top level of a record must be a mapping")
            return None
        return root


_NO_KEY: Any = object()


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


# --- fast path ---------------------------------------------------------------------
# libyaml composes the node tree in C; a short walk in Python then builds the data.
# About twice as fast as the event stream. It takes only text in which anchors,
# aliases and tags cannot occur (none of their characters is there) and whose nesting
# is shallow (few brackets, little indentation: libyaml's composer recurses), and it
# gives up on anything the rules above would report: the event-stream builder then
# reads the file again and reports it with its position. So the fast path never
# changes a result, it only skips work (tests/test_loading.py compares the two on
# every sample record and on edge cases).
_HAS_LIBYAML = getattr(yaml, "__with_libyaml__", False)
_DEEP = "\n" + " " * 48  # a line indented this far could nest too deep


class _Slow(Exception):
    """The fast path cannot be sure: read the file with the event-stream builder."""


SHARED_UP_TO = 64  # characters


def _shared(text: str) -> str:
    """Keys and short values (field names, dates, statuses, key ids, cryptosuites) recur
    in every record: one string object each instead of one per record halves the
    memory of 220,000 loaded records (a certificate: 6.7 KB of Python objects, 3.2 KB
    with shared strings)."""
    return sys.intern(text) if len(text) <= SHARED_UP_TO else text


def _fast_node(node: Any, depth: int, path: Path_ = (), positions: dict[Path_, tuple[int, int]] | None = None,
               ) -> Any:
    """The data of ``node``; with ``positions``, each node's place by its path (the
    start of the node, as the event-stream builder records it)."""
    if positions is not None:
        positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    kind = node.__class__
    if kind is yaml.ScalarNode:
        value: str = node.value
        if not node.style:
            typed, problem = typed_plain(value)
            if problem is not None:
                raise _Slow
            if not isinstance(typed, str):
                return typed
        if not value.isascii() and not unicodedata.is_normalized("NFC", value):
            raise _Slow
        return _shared(value)
    if depth >= MAX_DEPTH:
        raise _Slow
    if kind is yaml.MappingNode:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not yaml.ScalarNode:
                raise _Slow
            key = _fast_node(key_node, depth + 1)
            if not isinstance(key, str) or key in out:
                raise _Slow
            out[key] = _fast_node(value_node, depth + 1, (*path, key) if positions is not None else path, positions)
        return out
    if kind is yaml.SequenceNode:
        if positions is None:
            return [_fast_node(item, depth + 1) for item in node.value]
        return [_fast_node(item, depth + 1, (*path, i), positions) for i, item in enumerate(node.value)]
    raise _Slow


def _plain_shallow(text: str) -> bool:
    """Whether no anchor, alias or tag can be in ``text`` (none of their characters
    is) and it cannot nest deeply (few brackets, little indentation): what both fast
    paths require."""
    return not ("&" in text or "*" in text or "!" in text or "- -" in text or _DEEP in text
                or text.startswith(" " * 47) or text.count("[") + text.count("{") > 40)


def _fast_load(text: str, positions: dict[Path_, tuple[int, int]] | None = None) -> dict[str, Any] | None:
    """The record's data, or None when the event-stream builder must read it; fills
    ``positions`` when given (a finding on a record loaded from the check cache needs
    its place: the event builder took 0.46 ms a file, 3.7 s for 8,000 warnings)."""
    if not _HAS_LIBYAML or not _plain_shallow(text) or "-\t" in text:
        return None
    loader = NodeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None or root.__class__ is not yaml.MappingNode:
            return None
        data: dict[str, Any] = _fast_node(root, 0, (), positions)
        return data
    except (yaml.YAMLError, _Slow, RecursionError):
        return None
    finally:
        loader.dispose()


def node_start(text: str, where: Path_) -> tuple[int, int] | None:
    """Line and column (1-based) where the deepest node along ``where`` starts, from
    libyaml's node tree, walked along ``where`` alone; None when libyaml is not there
    or does not compose ``text`` into a mapping (the caller then asks the builders).

    The same place both builders record for that path (tests/test_loading.py): they
    too take libyaml's start marks, a key by its text (a key that is not a string is
    reported and kept by its text), and of duplicate keys the first. The rules locate
    their findings this way (records.Record.locate): placing every node of the file
    to answer one path took 97 µs a synthetic member file, this 52 (7,920 warnings
    in a cold check of 220,000 records)."""
    if not _HAS_LIBYAML:
        return None
    loader = NodeLoader(text)
    node: Any
    try:
        node = loader.get_single_node()
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()
    if node is None or node.__class__ is not yaml.MappingNode:
        return None
    for step in where:
        kind: Any = node.__class__
        if kind is yaml.MappingNode and step.__class__ is str:
            found = next((value for key, value in node.value
                          if key.__class__ is yaml.ScalarNode and key.value == step), None)
        elif kind is yaml.SequenceNode and step.__class__ is int and 0 <= step < len(node.value):
            found = node.value[step]
        else:
            found = None
        if found is None:
            break
        node = found
    return node.start_mark.line + 1, node.start_mark.column + 1


# --- faster path: yaml-rs -----------------------------------------------------------
# yaml-rs parses in Rust and hands back Python data: with the checks below, 33 µs a
# synthetic record against 89 µs for libyaml's node tree walked in Python (ADR 0012).
# Its resolver types more plain scalars than YAML 1.2's core schema (`1_000`, `0b1`,
# `0X1F`, `.inf`) and, unlike libyaml, reads U+2028, NEL and tabs leniently, so it is
# trusted with a narrow kind of text only: what the libyaml fast path takes, less
# tabs, directives and the characters libyaml treats differently; and its data only
# when every key and value is a string, in NFC, that YAML 1.2 would keep as a string
# unquoted or that the text has quoted. Nearly every record yamlwrite writes is of that
# kind; anything else is read by libyaml as before, so this path only skips work:
# tests/test_loading.py and tests/test_properties.py hold it to the event builder's
# result on the sample records, edge cases and generated text.
try:
    import yaml_rs
except ImportError:  # pragma: no cover - the pinned install has it
    yaml_rs = None  # type: ignore[assignment]

# Characters outside YAML's printable set, the line breaks libyaml adds to YAML 1.2's
# (NEL, LS, PS), tabs and byte order marks: the text goes to libyaml, which reports them.
_NOT_FOR_YAML_RS = re.compile(
    r"[^\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)


_LOOKS_TYPED = re.compile("|".join(f"(?:{p.pattern})" for p in TYPED_PLAIN))
_CHECKED: dict[str, str] = {}  # short strings already found plain and NFC: their shared object
# Emptied when this full, so that a long process (history: every version of every
# record) does not keep every id it ever read; sharing goes on through sys.intern.
CHECKED_MAX = 100_000


def _settled(value: Any, depth: int, text: str) -> Any:
    """``value`` with its short strings shared, or raise _Slow when yaml-rs's reading
    could differ from the event builder's (see above). A string that YAML 1.2 would
    type if it were plain (``"2000000000039"``, ``"true"``) is taken only when the text
    has it quoted."""
    kind = value.__class__
    if kind is str:
        known = _CHECKED.get(value)
        if known is not None:
            return known
        if value[:1] in _TYPED_START and _LOOKS_TYPED.match(value):
            if f'"{value}"' not in text and f"'{value}'" not in text:
                raise _Slow
            return value
        if not value.isascii() and not unicodedata.is_normalized("NFC", value):
            raise _Slow
        if len(value) <= SHARED_UP_TO:
            if len(_CHECKED) >= CHECKED_MAX:
                _CHECKED.clear()
            value = _CHECKED[value] = sys.intern(value)
        return value
    if depth >= MAX_DEPTH:
        raise _Slow
    if kind is dict:
        out: dict[str, Any] = {}
        known_get = _CHECKED.get  # inlined for the common case: a string seen before
        for key, item in value.items():
            if key.__class__ is not str:
                raise _Slow
            k = known_get(key) or _settled(key, depth, text)
            out[k] = (item.__class__ is str and known_get(item)) or _settled(item, depth + 1, text)
        return out
    if kind is list:
        known_get = _CHECKED.get
        return [(item.__class__ is str and known_get(item)) or _settled(item, depth + 1, text) for item in value]
    raise _Slow  # numbers, booleans, null: typed by yaml-rs's own rules


def _rust_load(text: str) -> dict[str, Any] | None:
    """The record's data by yaml-rs, or None when libyaml must read it. Its data is
    strings under string keys only (``_settled``)."""
    if (yaml_rs is None or not _plain_shallow(text) or text.startswith("%") or "\n%" in text
            or _NOT_FOR_YAML_RS.search(text)):  # no directives; tabs are in _NOT_FOR_YAML_RS
        return None
    try:
        data = yaml_rs.loads(text, parse_datetime=False)
        if data.__class__ is not dict:
            return None
        settled: dict[str, Any] = _settled(data, 0, text)
        return settled
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # any failure, a Rust panic included (not an Exception), means: ask libyaml
        return None


def load_text(text: str, *, track_positions: bool = False) -> Loaded:
    """Load one record from text. Never raises for bad input."""
    if not track_positions:
        rust = _rust_load(text)
        if rust is not None:
            # Only strings (``_rust_load``), and keys that are ASCII when the text is and
            # has no escapes: what signing.sorted_json_is_jcs checks, known without its
            # walk over every value (6 µs of each of 220,000 records in a cold check).
            return Loaded(rust, jcs=text.isascii() and "\\" not in text)
    positions: dict[Path_, tuple[int, int]] | None = {} if track_positions else None
    fast = _fast_load(text, positions)
    if fast is not None:
        return Loaded(fast, positions=positions or {})
    return _event_load(text, track_positions)


def _event_load(text: str, track_positions: bool) -> Loaded:
    """The event-stream builder: every problem, with its place."""
    builder = _Builder(track_positions)
    parser = _Parser(text)
    data: dict[str, Any] | None = None
    try:
        data = builder.build(parser)
    except _Stop:
        data = None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or str(e)
        if e.context:
            problem = f"{e.context}: {problem}" if e.problem else e.context
        builder.problem("YML001", mark, problem)
    except yaml.YAMLError as e:  # reader errors carry a character offset, not a mark
        builder.problems.append(_reader_problem(text, e))
    finally:
        dispose = getattr(parser, "dispose", None)
        if dispose is not None:
            dispose()
    if any(p.code in _STRUCTURAL for p in builder.problems):
        data = None
    return Loaded(data, builder.problems, builder.positions)


_STRUCTURAL = {"YML001", "YML003", "YML004", "YML007", "YML008", "YML012"}


def _reader_problem(text: str, e: yaml.YAMLError) -> Problem:
    position = getattr(e, "position", 0) or 0
    line = text.count("\n", 0, position) + 1
    col = position - (text.rfind("\n", 0, position) + 1) + 1
    reason = getattr(e, "reason", None) or str(e)
    return Problem("YML001", line, col, f"unreadable character: {reason}")


def load_bytes(raw: bytes, *, track_positions: bool = False) -> Loaded:
    """Load one record from bytes: size limit, strict UTF-8, then YAML."""
    if len(raw) > MAX_FILE_BYTES:
        return Loaded(
            None,
            [Problem("YML006", 1, 1, f"file is {len(raw)} bytes; the limit is {MAX_FILE_BYTES}")],
        )
    try:
        text = raw.decode("utf-8-sig")  # a UTF-8 byte order mark is formatting, not data
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        return Loaded(
            None, [Problem("YML011", line, col, f"byte 0x{raw[e.start]:02x} is not valid UTF-8")]
        )
    return load_text(text, track_positions=track_positions)


def load_file(path: Path, *, track_positions: bool = False) -> Loaded:
    """Load one record file. The size is checked before the file is read."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        return Loaded(
            None, [Problem("YML006", 1, 1, f"file is {size} bytes; the limit is {MAX_FILE_BYTES}")]
        )
    return load_bytes(path.read_bytes(), track_positions=track_positions)

"""Property tests (hypothesis, derandomised so that runs are repeatable):
- the loader returns findings, never raises, on arbitrary bytes, YAML-like text and
  mutated record files;
- sign then verify round-trips for generated valid records of every kind;
- any change to any signed value of a signed record fails verification.
The long fuzz run of the same targets is bench/fuzz_bench.py."""

from __future__ import annotations

import copy
import unicodedata
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from alureg.config import load_config
from alureg.demo import signed
from alureg.findings import CODES
from alureg.loading import _event_load, _rust_load, load_bytes, load_text
from alureg.records import Kind, record_files
from alureg.schema import is_valid
from alureg.signing import KeyPair, sorted_json_is_jcs, unsigned
from alureg.trust import TrustList, verify_record

from .conftest import REPO
from .textfields import Path_, get, put, text_paths

FAST = settings(derandomize=True, deadline=None, max_examples=300,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = settings(FAST, max_examples=60)

SAMPLES: list[tuple[Kind, Path]] = sorted(
    ((k, p) for k, p in record_files(REPO) if k not in (Kind.TRUST_LIST, Kind.STANDARDS)), key=lambda kp: str(kp[1]))
TRUST_DATA = load_bytes((REPO / "registry/trust.yaml").read_bytes()).data
TRUST = TrustList.from_data(TRUST_DATA or {})
CONFIG = load_config(REPO)
YAML_BITS = ["a", "name", ":", ": ", " ", "  ", "\n", "- ", "-", "[", "]", "{", "}", ",", "&x ", "*x", "!!str ",
             "!t ", "'", '"', "# c", "---\n", "...\n", "\t", "é", "e\u0301", "9" * 30, "-0", "0x1F", "1e999",
             ".nan", ".inf", "2026-02-30", "? ", "|\n", ">-\n", "%YAML 1.2\n", "\\", "\ufeff", "\x00", "\ud800",
             "<<: ", "~", "null", "true", "\r\n", "\u2028"]


def _assert_only_findings(loaded: Any) -> None:
    assert all(p.code in CODES and p.line >= 1 and p.col >= 1 for p in loaded.problems)
    assert loaded.data is None or isinstance(loaded.data, dict)
    if loaded.data is None:
        assert loaded.problems


@FAST
@given(st.binary(max_size=3000))
def test_loader_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    _assert_only_findings(load_bytes(raw, track_positions=True))


@FAST
@given(st.lists(st.sampled_from(YAML_BITS), max_size=80).map("".join))
def test_loader_never_raises_on_yaml_like_text(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    _assert_only_findings(load_bytes(raw, track_positions=True))
    if "\ud800" not in text:
        _assert_only_findings(load_text(text))


def _same_as_event_builder(text: str) -> bool:
    """Whether the yaml-rs path took ``text``; when it did, it must have read the event
    builder's data, and the event builder must find nothing wrong."""
    rust = _rust_load(text)
    if rust is not None:
        reference = _event_load(text, track_positions=False)
        assert not reference.problems and repr(rust) == repr(reference.data), text
        # What the check trusts instead of walking the data (check._examine).
        assert not load_text(text).jcs or sorted_json_is_jcs(reference.data), text
    return rust is not None


TEXT_BITS = [bit for bit in YAML_BITS if bit != "\ud800"]  # a lone surrogate is not text


@FAST
@given(st.sampled_from(SAMPLES), st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(TEXT_BITS)),
                                          min_size=1, max_size=4))
def test_yaml_rs_path_agrees_on_edited_records(sample: tuple[Kind, Path], edits: list[tuple[int, str]]) -> None:
    """Sample records with YAML's special pieces put in anywhere (the yaml-rs path still
    takes 90 of the 300 examples): where it takes them, it reads what libyaml reads."""
    text = sample[1].read_text(encoding="utf-8")
    for position, bit in edits:
        i = position % (len(text) + 1)
        text = text[:i] + bit + text[i:]
    _same_as_event_builder(text)


@FAST
@given(st.lists(st.tuples(st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True),
                          st.text("0123456789abexoEXOB._-+:~ é\u0301", max_size=12),
                          st.sampled_from(["{}", "'{}'", '"{}"', "- {}", "[{}]"])), min_size=1, max_size=3))
def test_yaml_rs_path_agrees_on_scalars(fields: list[tuple[str, str, str]]) -> None:
    """Numbers, dates, booleans and combining marks, plain or quoted, in mappings (the
    shape of records): where the yaml-rs path takes the text (66 of the 300 examples;
    it declines plain numbers and nulls, as it should), it reads what libyaml reads."""
    _same_as_event_builder("".join(f"{key}: {style.format(value)}\n" for key, value, style in fields))


@FAST
@given(st.sampled_from(SAMPLES), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 2), st.binary(max_size=4)),
                                          min_size=1, max_size=6))
def test_loader_never_raises_on_mutated_records(sample: tuple[Kind, Path], edits: list[tuple[int, int, bytes]]) -> None:
    raw = bytearray(sample[1].read_bytes())
    for position, action, chunk in edits:
        i = position % (len(raw) + 1)
        if action == 0:
            raw[i:i] = chunk  # insert
        elif action == 1:
            del raw[i:i + len(chunk) + 1]  # delete
        else:
            raw[i:i + len(chunk)] = chunk  # overwrite
    loaded = load_bytes(bytes(raw), track_positions=True)
    _assert_only_findings(loaded)
    if loaded.data is not None:  # what loads goes on through the schema and the proofs, which must not raise
        is_valid(sample[0], loaded.data)
        verify_record(loaded.data, sample[0], TRUST, CONFIG)


TEXT = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=40).map(
    lambda s: unicodedata.normalize("NFC", s)).filter(lambda s: s.strip() != "")


def _sample(kind_path: tuple[Kind, Path]) -> dict[str, Any]:
    data = load_bytes(kind_path[1].read_bytes()).data
    assert data is not None
    return data


@SLOW
@given(sample=st.sampled_from(SAMPLES), draw=st.data())
def test_sign_then_verify_round_trips(sample: tuple[Kind, Path], draw: st.DataObject,
                                      demo_keys: dict[str, KeyPair]) -> None:
    kind, data = sample[0], unsigned(_sample(sample))
    paths = list(dict.fromkeys(text_paths(kind, data)))
    assert paths
    for path in draw.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=4, unique=True)):
        put(data, path, draw.draw(TEXT))
    assume(is_valid(kind, data))
    record = signed(kind, data, TRUST_DATA or {}, demo_keys)
    assert verify_record(record, kind, TRUST, CONFIG).ok
    again = load_text(_dump(record)).data  # and through YAML, as the file would be written
    assert again == record and verify_record(again, kind, TRUST, CONFIG).ok


def _dump(record: dict[str, Any]) -> str:
    from alureg.yamlwrite import dump_record

    return dump_record(record)


def _leaves(data: Any, path: Path_ = ()) -> list[Path_]:
    if isinstance(data, dict):
        return [p for k, v in data.items() if k != "proof" for p in _leaves(v, (*path, k))] or [path]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _leaves(v, (*path, i))] or [path]
    return [path]


def _changed(value: Any, how: int, text: str) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1 + how
    if isinstance(value, str):
        return [value + text, text + value, value[:-1], value.upper() if value.upper() != value else value + "x"][how]
    if isinstance(value, list):
        return [value[1:], value + value[:1], [], value[::-1] if len(value) > 1 else [*value, None]][how]
    if isinstance(value, dict):
        return {**value, "extra": text}
    return text


@FAST
@given(st.sampled_from(SAMPLES), st.data())
def test_any_change_to_a_signed_value_fails_verification(sample: tuple[Kind, Path], draw: st.DataObject) -> None:
    kind, record = sample[0], _sample(sample)
    assert verify_record(record, kind, TRUST, CONFIG).ok
    path = draw.draw(st.sampled_from(_leaves(record)))
    changed = copy.deepcopy(record)
    before = get(changed, path) if path else changed
    after = _changed(before, draw.draw(st.integers(0, 3)), draw.draw(TEXT))
    assume(after != before)
    if path:
        put(changed, path, after)
    else:
        changed = after
    result = verify_record(changed, kind, TRUST, CONFIG)
    assert not result.ok
    assert {c.code for c in result.checks} == {"SIG003"}


@FAST
@given(st.sampled_from(SAMPLES), st.data())
def test_removing_or_adding_a_field_fails_verification(sample: tuple[Kind, Path], draw: st.DataObject) -> None:
    kind, record = sample[0], _sample(sample)
    changed = copy.deepcopy(record)
    keys = [k for k in changed if k != "proof"]
    if draw.draw(st.booleans()):
        del changed[draw.draw(st.sampled_from(keys))]
    else:
        changed[draw.draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in record))] = draw.draw(TEXT)
    assert {c.code for c in verify_record(changed, kind, TRUST, CONFIG).checks} == {"SIG003"}


@FAST
@given(st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30))
def test_the_writer_writes_any_text_the_loader_reads_back(text: str) -> None:
    """Line breaks YAML folds (NEL, LS, PS), a BOM, quotes, colons and the rest."""
    from alureg.yamlwrite import WriteError, dump_record

    text = unicodedata.normalize("NFC", text)
    record = {"id": "X", "text": text}
    try:
        written = dump_record(record)
    except WriteError:  # refused, never written wrong: only for what the loader refuses too
        assert load_text("text: " + __import__("json").dumps(text) + "\n").problems
        return
    assert load_text(written).data == record


def test_yaml_line_breaks_inside_text_survive_the_writer() -> None:
    from alureg.yamlwrite import dump_record

    record = {"id": "X", "text": "a\x85b\u2028c\u2029d\ufeffe"}
    assert load_text(dump_record(record)).data == record


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(st.characters(exclude_categories=("Cs",))),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


@FAST
@given(JSONISH)
def test_api_writer_equals_the_standard_library(data: Any) -> None:
    """alureg/api.py writes indented JSON with orjson: the bytes json.dumps writes."""
    import json

    import orjson

    expected = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode()
    assert orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) == expected


@FAST
@given(JSONISH)
def test_script_json_equals_the_standard_library(data: Any) -> None:
    """Page data in <script> (alureg/pages.script_json) is written with orjson: the
    characters json.dumps writes, then made safe inside a script element."""
    import json

    from alureg.pages import script_json

    expected = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    safe = expected.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    assert str(script_json(data)) == safe


@FAST
@given(st.text(max_size=40), st.sampled_from(["{{ v }}", "<p title=\"{{ v }}\">{{ v }}</p>", "{{ v ~ '&' }}",
                                              "{% set w %}<b>{{ v }}</b>{% endset %}{{ w }}{{ w | upper }}",
                                              "{% macro m(x) %}[{{ x }}]{% endmacro %}{{ m(v) }}{{ m(v) | e }}"]))
def test_page_escaping_equals_markupsafe(text: str, source: str) -> None:
    """Record pages escape output with alureg/pageparts.escape: the text stock Jinja with
    MarkupSafe's escape writes, for any text, in output, attributes, concatenation,
    captured blocks and macros."""
    import jinja2
    import markupsafe

    from alureg.pageparts import escape as _escape
    from alureg.pages import environment

    assert _escape(text) == str(markupsafe.escape(text))
    stock = jinja2.Environment(autoescape=True)
    assert environment().from_string(source).render(v=text) == stock.from_string(source).render(v=text)


@FAST
@given(JSONISH)
def test_search_index_writer_equals_the_standard_library(data: Any) -> None:
    """The search index's files (alureg/searchindex._write, with orjson) hold the bytes
    json.dumps writes with no spaces and ``ensure_ascii=False``, and their size is
    returned."""
    import json
    import tempfile

    from alureg.searchindex import _write

    expected = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t0.json"
        assert _write(path, data) == len(expected)
        assert path.read_bytes() == expected


@FAST
@given(st.text(max_size=40) | st.text(st.characters(max_codepoint=127), max_size=40))
def test_folding_ascii_text_is_lower_casing_it(text: str) -> None:
    """alureg/search.fold lower-cases ASCII text without decomposing it: what the
    decomposition and the removal of combining marks would give."""
    from alureg.search import fold

    assert fold(text) == "".join(c for c in unicodedata.normalize("NFKD", text)
                                 if not unicodedata.combining(c)).lower()

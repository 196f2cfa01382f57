"""Strict loading: YAML 1.2 scalars, refused constructs, positions, hostile input."""

from __future__ import annotations

import random
import time
import tracemalloc
from pathlib import Path

import pytest

from alureg.loading import MAX_DEPTH, MAX_FILE_BYTES, load_bytes, load_file, load_text
from alureg.signing import unsigned

from .conftest import REPO
from .spies import file_reads


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("country: NO\n", {"country": "NO"}),
        ("a: on\nb: yes\nc: off\nd: y\n", {"a": "on", "b": "yes", "c": "off", "d": "y"}),
        ("a: true\nb: false\nc: True\n", {"a": True, "b": False, "c": True}),
        ("joined: 2024-01-31\n", {"joined": "2024-01-31"}),
        ("t: 2026-01-10T00:00:00Z\n", {"t": "2026-01-10T00:00:00Z"}),
        ("n: 12\nh: 0x1F\no: 0o17\nf: 1.5\n", {"n": 12, "h": 31, "o": 15, "f": 1.5}),
        ("a: 012\n", {"a": 12}),  # YAML 1.2: no octal from a leading zero
        ("a: 1_000\n", {"a": "1_000"}),  # YAML 1.1 digit separators are a string in 1.2
        ("a:\nb: ~\nc: null\n", {"a": None, "b": None, "c": None}),
        ("a: '12'\nb: \"true\"\n", {"a": "12", "b": "true"}),
        ("a: |\n  line one\n  line two\n", {"a": "line one\nline two\n"}),
        ("list:\n  - x\n  - 'y'\n", {"list": ["x", "y"]}),
        ("\ufeffid: bom\n", {"id": "bom"}),
    ],
    ids=["NO", "yaml11-booleans", "booleans", "date", "datetime", "numbers", "leading-zero",
         "underscore", "nulls", "quoted", "block", "list", "bom"],
)
def test_yaml_1_2_core_scalars(text: str, expected: dict[str, object]) -> None:
    loaded = load_text(text)
    assert loaded.problems == []
    assert loaded.data == expected


@pytest.mark.parametrize(
    ("raw", "code", "line", "col"),
    [
        (b"a: [1, 2\n", "YML001", 2, 1),
        (b"a: 1\nb: 2\na: 3\n", "YML002", 3, 1),
        (b"a: &x 1\nb: *x\n", "YML003", 1, 4),
        (b"a: [*x]\n", "YML003", 1, 5),  # an alias, even of no anchor
        (b"a: !!str 1\n", "YML004", 1, 4),
        (b"a: !custom {}\n", "YML004", 1, 4),
        ("a: \"e\u0301\"\n".encode(), "YML005", 1, 4),
        (b"", "YML008", 1, 1),
        (b"# only a comment\n", "YML008", 1, 1),
        (b"- a\n- b\n", "YML008", 1, 1),
        (b"just text\n", "YML008", 1, 1),
        (b"1: a\n", "YML009", 1, 1),
        (b"? [a]\n: b\n", "YML009", 1, 3),
        (b"a: 9007199254740993\n", "YML010", 1, 4),
        (b"a: .nan\n", "YML010", 1, 4),
        (b"a: ok\nb: \xff\n", "YML011", 2, 4),
        (b"a: 1\n---\nb: 2\n", "YML012", 2, 1),
        (b"a: \x07\n", "YML001", 1, 4),
    ],
    ids=["syntax", "duplicate-key", "anchor", "alias", "std-tag", "custom-tag", "not-nfc", "empty",
         "comment-only", "top-list", "top-scalar", "int-key", "complex-key", "big-int", "nan",
         "not-utf8", "two-documents", "control-char"],
)
def test_refused_with_position(raw: bytes, code: str, line: int, col: int) -> None:
    loaded = load_bytes(raw)
    assert loaded.data is None or loaded.problems, "a refused file must report a problem"
    first = loaded.problems[0]
    assert (first.code, first.line, first.col) == (code, line, col), first


def test_non_nfc_message_gives_a_hint() -> None:
    problem = load_text('name: "Cafe\u0301"\n').problems[0]
    assert problem.code == "YML005"
    assert "NFC" in problem.message and "sign it again" in problem.message


def test_duplicate_key_names_the_first() -> None:
    problem = load_text("id: A\nname: x\nid: B\n").problems[0]
    assert problem.message == "duplicate key 'id' (first at line 1)"


def test_data_problems_are_all_reported() -> None:
    loaded = load_text('a: 1\na: 2\nb: "e\u0301"\n3: x\n')
    assert [p.code for p in loaded.problems] == ["YML002", "YML005", "YML009"]


def test_size_limit_checked_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * MAX_FILE_BYTES + b"\n")
    loaded = load_file(big)
    assert [p.code for p in loaded.problems] == ["YML006"]
    assert loaded.data is None


def test_depth_limit() -> None:
    ok = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    assert load_text(ok).problems == []
    deep = "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"
    assert [p.code for p in load_text(deep).problems] == ["YML007"]


def test_positions_point_at_values() -> None:
    loaded = load_text("id: A\nscope:\n  facilities:\n    - name: X\n      country: NO\n",
                       track_positions=True)
    assert loaded.positions[("scope", "facilities", 0, "country")] == (5, 16)
    assert loaded.positions[("id",)] == (1, 5)


BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)
)
HOSTILE = {
    "billion-laughs": BILLION_LAUGHS.encode(),
    "nested-brackets": b"a: " + b"[" * 20_000 + b"]" * 20_000 + b"\n",
    "nested-braces": b"{a: " * 20_000 + b"}" * 20_000,
    "nested-block": "".join(" " * i + "- \n" for i in range(0, 40_000, 2)).encode(),
    "binary-garbage": random.Random(0).randbytes(50_000),  # noqa: S311 (fixed seed: reproducible)
    "all-bytes": bytes(range(256)) * 200,
    "empty": b"",
    "nul-bytes": b"\x00" * 10_000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_refused_quickly_in_bounded_memory(name: str) -> None:
    tracemalloc.start()
    started = time.process_time()  # CPU time: other load on the machine does not stretch it
    loaded = load_bytes(HOSTILE[name])
    elapsed = time.process_time() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert loaded.data is None
    assert loaded.problems
    # Generous bounds: these guard against expansion or runaway recursion, not speed.
    assert elapsed < 2.0
    assert peak < 20 * 1024 * 1024


SAMPLE = REPO / "certificates" / "CRT-000106.yaml"


def _reformat_variants(text: str) -> dict[str, str]:
    lines = text.splitlines()
    top_keys = [i for i, line in enumerate(lines) if line and not line[0].isspace()]
    # Move the second top-level key (with its block) to just before 'proof'.
    second, third = top_keys[1], top_keys[2]
    block = lines[second:third]
    rest = lines[:second] + lines[third:]
    proof_at = next(i for i, line in enumerate(rest) if line.startswith("proof:"))
    reordered = rest[:proof_at] + block + rest[proof_at:]
    return {
        "comments": "# A comment at the top\n" + text.replace("\nissued:", "\n# issue date\nissued:"),
        "crlf": text.replace("\n", "\r\n"),
        "quoting": text.replace("standard: chain-of-custody", "standard: 'chain-of-custody'")
                       .replace("holder: MEM-0002", 'holder: "MEM-0002"'),
        "key-order": "\n".join(reordered) + "\n",
        "flow-style": text.replace("  materials:\n    - asi-bauxite\n    - asi-alumina",
                                   "  materials: [asi-bauxite, asi-alumina]"),
    }


@pytest.mark.parametrize("variant", ["comments", "crlf", "quoting", "key-order", "flow-style"])
def test_formatting_does_not_change_data_or_validity(variant: str) -> None:
    from alureg.records import Kind
    from alureg.trust import TrustList, verify_record

    text = SAMPLE.read_text(encoding="utf-8")
    changed = _reformat_variants(text)[variant]
    assert changed != text
    original = load_text(text).data
    loaded = load_text(changed)
    assert loaded.problems == []
    assert loaded.data == original
    assert unsigned(loaded.data) == unsigned(original)  # type: ignore[arg-type]
    trust_data = load_file(REPO / "registry" / "trust.yaml").data
    assert trust_data is not None and loaded.data is not None
    assert verify_record(loaded.data, Kind.CERTIFICATE, TrustList.from_data(trust_data)).ok


FAST_PATH_CASES = [
    "a: NO\nb: on\nc: yes\nd: ~\ne:\nf: 0o17\ng: 0x1F\nh: 1e3\ni: +12\nj: -0\nk: .5\nl: '1'\nm: \"true\"\n",
    "a: 9007199254740993\n", "a: .inf\n", "a: .NaN\n", "a: 2026-02-30\nb: 12:30\n",
    "a: 1\na: 2\n", "1: x\n", "null: x\n", "? a\n: b\n", "a: &x 1\nb: *x\n", "a: !!str 1\n", "--- \na: 1\n",
    "a: 1\n---\nb: 2\n", "a: [1, 2]\nb: {c: d}\n", "a: []\nb: {}\n", "- a\n- b\n", "just text\n", "",
    "a: Cafe\u0301\n", "Cafe\u0301: x\n", "a: |\n  line\n  two\nb: >\n  folded\n", "a: 'it''s'\nb: \"\\u00e9\"\n",
    "a:\n" + "".join(" " * (2 * i) + f"k{i}:\n" for i in range(1, 40)) + " " * 80 + "v: 1\n",
    "a: x # comment\n# only comment\nb: \"#\"\n", "a: b: c\n", "a:\n\t- x\n", "a: 'unterminated\n",
    "list:\n  - - - x\n", "a: 5* hotel\nb: Smith & Sons\nc: wow!\n", "<<: x\n", "\ufeffa: 1\n",
    f"a: {2**70}\n", "a: " + "1" * 5000 + "\n", "a: 0x" + "f" * 5000 + "\n",
]

# Where yaml-rs reads differently from libyaml under YAML 1.2 (each found by comparing
# the two): YAML 1.1 numbers, special floats, line breaks, tabs, several documents,
# directives, complex keys, tags and anchors. The yaml-rs path must decline them all.
RUST_PATH_CASES = [
    f"k: {s}\n" for s in ("0X1F", "1_000", "0b101", "0B1", "0O17", "0x_1", "1__0", ".inf", "-.Inf", "+.inf", ".NaN",
                          "9007199254740993", "1e400", "6.02E23", "08", "1.0e+3", "~x", "=", "y", "n", "tRue")
] + [
    "a: 1\n---\n", "a: x\n--- \n", "%YAML 1.1\n---\na: x\n", "%TAG !e! tag:e,2000:\n---\na: x\n", "a:\tx\n",
    "\ta: x\n", "? [a]\n: x\n", "a: {1: 2}\n", "true: x\n", "'true': x\n", "a: \u2028\n", "a: x\u0085y\n",
    "a: x\u2029\n", "a: \"\\u2028\"\n", "a: !x\n", "a: &x y\n", "<<: {a: x}\nb: y\n", "a: \"\"\nb: ''\n",
    "a: '12'\nb: \"12\"\nc: 12\n", "a: \"\\u0065\\u0301\"\n", "a: 'x\ty'\n", "a: x\x7fy\n", "a: \ufeffx\n",
    "a: |\n  l1\n\n  l2\nb: |-\n  x\nc: |+\n  y\n\nd: >\n  f\n  g\n\n  h\n", "a: plain\n  continued\n",
    "a: \"\\x41\\N\\_\\L\\P\"\n", "a: 'line\n\n  two'\n", "a: x\r\nb: y\r\n", "a: x\rb: y\r",
    "a: -\n  x\n", "a:\n  -\n  - x\n", "a: x:y\nb: x :y\nc: -x\nd: 1:2\n", "a: \"line\n  two\"\n",
]


def test_huge_integers_are_reported_not_converted() -> None:
    """Python refuses to convert integers of over 4,300 digits (an exception, not a
    finding); the loader reports them as YML010 without converting them."""
    for digits in (25, 5000, 200_000):
        loaded = load_text("a: " + "9" * digits + "\n")
        assert [p.code for p in loaded.problems] == ["YML010"]
        assert loaded.data == {"a": "9" * digits}


def test_fast_path_gives_the_event_builders_result() -> None:
    """load_text's fast path (libyaml's composer) may only skip work: on every sample
    record and each edge case it gives what the event-stream builder gives."""
    from alureg.loading import _event_load, _fast_load, load_text
    from alureg.records import record_files

    texts = [path.read_text(encoding="utf-8") for _, path in record_files(REPO)] + FAST_PATH_CASES + RUST_PATH_CASES
    fast_taken = 0
    for text in texts:
        reference = _event_load(text, track_positions=True)
        quick = load_text(text)
        placed = load_text(text, track_positions=True)  # positions from the fast path when it is taken
        assert repr(placed.data) == repr(reference.data) and placed.positions == reference.positions, text
        # repr, not ==: True == 1 and 1.0 == 1 in Python, but not in the records
        assert repr(quick.data) == repr(reference.data) and [p.code for p in quick.problems] == \
            [p.code for p in reference.problems], text
        if _fast_load(text) is not None:
            fast_taken += 1
            assert not reference.problems, text
    assert fast_taken >= 80  # the sample records take the fast path


def test_yaml_rs_path_gives_the_event_builders_result() -> None:
    """The yaml-rs path (ADR 0012) reads every sample record, as written by yamlwrite,
    and declines every case where its reading could differ: whatever it gives equals
    the event builder's data, with no problem found."""
    from alureg.loading import _event_load, _rust_load
    from alureg.records import record_files

    samples = [path.read_text(encoding="utf-8") for _, path in record_files(REPO)]
    # Declined: the trust list and catalogue (they hold numbers) and names with '&' or '!'.
    assert sum(_rust_load(text) is not None for text in samples) >= 0.9 * len(samples)
    for text in samples + FAST_PATH_CASES + RUST_PATH_CASES:
        rust = _rust_load(text)
        if rust is not None:
            reference = _event_load(text, track_positions=False)
            assert not reference.problems and repr(rust) == repr(reference.data), text
    # The cases matter: on most of them yaml-rs alone reads otherwise, or fails.
    import yaml_rs
    differ = 0
    for text in RUST_PATH_CASES:
        reference = _event_load(text, track_positions=False)
        try:
            alike = not reference.problems and repr(yaml_rs.loads(text, parse_datetime=False)) == repr(reference.data)
        except yaml_rs.YAMLDecodeError:
            alike = False
        differ += not alike
    assert differ >= 25


def test_read_record_refuses_links_and_folders(tmp_path: Path) -> None:
    """One lstat decides (alureg/records.py): a link, even to a good record, or a folder
    is not a record file; a dangling link is a missing file; a record is read whole."""
    from alureg.records import Kind, read_record

    good = REPO / "certificates" / "CRT-000111.yaml"
    folder = tmp_path / "certificates"
    folder.mkdir()
    (folder / "CRT-1.yaml").symlink_to(good)
    (folder / "CRT-2.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (folder / "CRT-3.yaml").mkdir()
    (folder / "CRT-4.yaml").write_bytes(good.read_bytes())
    codes = {name: [f.code for f in read_record(tmp_path, Kind.CERTIFICATE, f"certificates/{name}").findings]
             for name in ("CRT-1.yaml", "CRT-2.yaml", "CRT-3.yaml", "CRT-4.yaml", "CRT-5.yaml")}
    assert codes == {"CRT-1.yaml": ["REF002"], "CRT-2.yaml": ["REF003"], "CRT-3.yaml": ["REF002"],
                     "CRT-4.yaml": [], "CRT-5.yaml": ["REF003"]}
    done = read_record(tmp_path, Kind.CERTIFICATE, "certificates/CRT-4.yaml")
    assert done.raw == good.read_bytes() and done.record is not None and done.stat is not None
    assert done.record.data == load_file(good).data


def test_yaml_rs_path_table_of_checked_strings_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table of strings already checked is emptied when full; reading goes on
    giving the same data, its short strings still shared."""
    from alureg import loading
    from alureg.records import record_files

    monkeypatch.setattr(loading, "CHECKED_MAX", 5)
    loading._CHECKED.clear()
    for _, path in record_files(REPO):
        text = path.read_text(encoding="utf-8")
        rust = loading._rust_load(text)
        assert len(loading._CHECKED) <= 5
        if rust is not None:
            assert repr(rust) == repr(loading._event_load(text, track_positions=False).data)
            copy = "".join(list(rust["id"]))  # an equal string, a new object
            assert copy is not rust["id"] and loading._shared(copy) is rust["id"]  # one object per short string


def test_node_start_places_a_path_where_the_builders_do() -> None:
    """loading.node_start (what Record.locate asks first) walks libyaml's node tree
    along one path: on every sample record and each edge case that loads, it gives
    for every node, and for paths that go on past one, the place the event-stream
    builder records (the deepest existing node along the path)."""
    from alureg.loading import _event_load, node_start
    from alureg.records import record_files

    texts = [path.read_text(encoding="utf-8") for _, path in record_files(REPO)] + FAST_PATH_CASES + RUST_PATH_CASES
    texts += ["a: 1\na: 2\n", "'a': x\na: y\n", "1: x\n'1': y\n", "a:\n  - b: 1\n    b: 2\n  - [x, {c: d}]\n",
              "\ufeffa: b\n", "a: |\n  text\nb: >-\n  more\n", "{a: [1, {b: c}], d: e}\n", "# c\n\na:   # c\n  b\n"]
    compared = 0
    for text in texts:
        reference = _event_load(text, track_positions=True)
        if reference.data is None:
            continue
        for path in list(reference.positions):
            for where in (path, (*path, "nope"), (*path, 99), (*path, 0, "x")):
                deepest = where
                while deepest and deepest not in reference.positions:
                    deepest = deepest[:-1]
                assert node_start(text.removeprefix("\ufeff"), where) == reference.positions[deepest], (text, where)
                compared += 1
    assert compared > 10_000


def test_a_record_with_many_findings_is_parsed_for_its_places_at_most_twice(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The first place asked of a record is found along its path (loading.node_start),
    the others from every node's place, found once: a record with a schema error for
    each of 300 values reads its file twice, not 300 times, and every place is the
    event builder's."""
    from alureg import schema
    from alureg.loading import _event_load
    from alureg.records import Kind, read_record

    text = next((REPO / "registry/members").glob("*.yaml")).read_text(encoding="utf-8")
    text = text.replace("activities:\n", "activities:\n" + "".join(f"  - not-an-activity-{i}\n" for i in range(300)), 1)
    path = tmp_path / "registry/members/MEM-9999.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    record = read_record(tmp_path, Kind.MEMBER, "registry/members/MEM-9999.yaml").record
    assert record is not None
    reads = file_reads(monkeypatch)
    found = schema.validate(record)
    monkeypatch.undo()
    assert len(found) >= 300
    assert reads == ["MEM-9999.yaml", "MEM-9999.yaml"]  # along the first path, then every node's place
    places = _event_load(text, track_positions=True).positions
    compared = 0
    for f in found:
        if "not-an-activity" in f.message:
            index = int(f.message.split("not-an-activity-")[1].split("'")[0])
            assert (f.line, f.col) == places[("activities", index)], f
            compared += 1
    assert compared == 300


@pytest.mark.parametrize(("text", "jcs"), [
    ("id: MEM-1\nname: Plain\n", True),
    ('id: MEM-1\n"caf\\u00e9": x\n', False),  # ASCII text, a non-ASCII key by its escape
    ("id: MEM-1\nkey_\u00e9: x\n", False),
    ("id: MEM-1\nname: Caf\u00e9\n", False),  # not known: the check walks the data
    ("id: MEM-1\ncount: 3\n", False),  # a number: libyaml's path, which does not say
])
def test_loading_says_when_the_data_needs_no_walk_for_rfc_8785(text: str, jcs: bool) -> None:
    """``Loaded.jcs`` is what check._examine trusts instead of signing.sorted_json_is_jcs:
    it may say False when the walk would say True, never the other way round."""
    from alureg.signing import sorted_json_is_jcs

    loaded = load_text(text)
    assert loaded.data is not None and loaded.jcs is jcs
    assert not jcs or sorted_json_is_jcs(loaded.data)
    assert load_text('id: MEM-1\n"caf\\u00e9": x\n').data == {"id": "MEM-1", "caf\u00e9": "x"}


def test_every_sample_record_loads_known_for_rfc_8785() -> None:
    """Most sample records (as yamlwrite writes them) are known without the walk; the
    others have names with accents (63 of 84) or numbers (the catalogue)."""
    from alureg.records import record_files
    from alureg.signing import sorted_json_is_jcs

    loaded = [load_text(path.read_text(encoding="utf-8")) for _, path in record_files(REPO)]
    assert all(sorted_json_is_jcs(x.data) for x in loaded if x.jcs)
    assert sum(x.jcs for x in loaded) >= 0.7 * len(loaded)

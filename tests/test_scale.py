"""Speed-ups must never change a result: the parallel check gives what the serial
check gives, findings and all, on a valid and on a broken registry."""

from __future__ import annotations

import importlib
import json
import marshal
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from alureg.check import check
from alureg.snapshot import record_digest

from .conftest import AT, Scratch
from .spies import file_reads, marshalled_rows

check_module = importlib.import_module("alureg.check")


def _summary(result: object) -> tuple[list[str], list[str]]:
    findings = [f.text() for f in result.findings]  # type: ignore[attr-defined]
    valid = [r.rel for r in result.valid]  # type: ignore[attr-defined]
    return findings, valid


def test_parallel_check_equals_serial(scratch: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch.change("registry/claims/CLM-10001.yaml", lambda d: d["product"].update(gtin="2000000000016"))
    scratch.change("certificates/CRT-000105.yaml", lambda d: d.update(valid_until="2031-01-01"), resign=False)
    (scratch.root / "registry/members/MEM-0003.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    (scratch.root / "registry/members/notes.txt").write_text("not a record\n", encoding="utf-8")  # no entry
    serial = check(scratch.root, AT, workers=1)
    monkeypatch.setattr(check_module, "PARALLEL_FROM", 10)
    parallel = check(scratch.root, AT, workers=2)
    assert _summary(parallel) == _summary(serial)
    codes = {f.code for f in serial.findings}
    assert {"RUL010", "SIG003", "YML001", "REF002"} <= codes
    assert [r.data for r in parallel.registry.records] == [r.data for r in serial.registry.records]
    assert parallel.records_and_digests() == serial.records_and_digests() == \
        ({r.id: r.data for r in serial.valid}, {r.id: record_digest(r.data) for r in serial.valid})


def _fresh_caches() -> None:
    from alureg import buildmemo, checkcache, schema

    for cached in (checkcache.code_digest, schema.validator, schema.fast_validator, schema.resolved,
                   buildmemo.sources_digest):
        cached.cache_clear()  # type: ignore[attr-defined]


def test_check_cache_never_changes_a_result(scratch: Scratch, monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    """The cached check equals a cold check after each kind of change: a record, a key's
    revocation, a schema and the date; and it is really used when nothing changed."""
    from alureg import schema

    def both(at: str = AT) -> int:
        cold = check(scratch.root, at, workers=1)
        warm = check(scratch.root, at, workers=1, use_cache=True)
        assert _summary(warm) == _summary(cold)
        assert [r.data for r in warm.registry.records] == [r.data for r in cold.registry.records]
        for result in (cold, warm):  # the snapshot's leaves, worked out by the check or kept by its cache
            assert result.records_and_digests()[1] == {r.id: record_digest(r.data) for r in result.valid}
        return warm.reused

    both()
    assert both() == 83  # every record file but the trust list (always read) is reused
    scratch.change("registry/members/MEM-0003.yaml", lambda d: d.update(name="Kalgoora Alumina Holdings Pty Ltd"))
    assert both() == 82  # the changed file is examined again
    scratch.change("registry/claims/CLM-10002.yaml", lambda d: d.update(text=d["text"] + " Today."), resign=False)
    assert both() == 82 and not check(scratch.root, AT, use_cache=True).ok()

    def revoke(trust: dict[str, Any]) -> None:
        key = next(k for k in trust["keys"] if k["id"] == "auditor-aud-002")
        key["revoked"] = {"date": "2026-11-01", "reason": "Key copied from a stolen laptop"}
    scratch.change("registry/trust.yaml", revoke)
    assert both() == 0  # every proof is judged again against the new trust list
    assert any(f.code == "SIG005" for f in check(scratch.root, AT, use_cache=True).findings)

    both()
    schemas = tmp_path / "schemas"
    shutil.copytree(schema.SCHEMA_DIR, schemas)
    member = json.loads((schemas / "member.schema.json").read_text())
    member["properties"]["size"]["enum"] = ["large"]  # a stricter schema: most members now fail it
    (schemas / "member.schema.json").write_text(json.dumps(member))
    monkeypatch.setattr(schema, "SCHEMA_DIR", schemas)
    _fresh_caches()
    try:
        assert both() == 0
        assert any(f.code == "SCH001" and "members/" in f.path for f in check(scratch.root, AT).findings)
    finally:
        monkeypatch.undo()
        _fresh_caches()

    both()  # the cache now holds the results under the usual schemas again
    assert both("2027-06-30") == 83  # another day: the rules run again, the per-file results hold


def test_a_fresh_checkout_reuses_the_restored_check_cache(scratch: Scratch) -> None:
    """As in CI (.github/workflows): the record files are written anew (new inodes and
    time stamps, the same bytes) and the last run's check cache is restored. Each file
    is hashed, not examined: its results are reused, and equal a cold check's; a file
    whose bytes differ is examined again."""
    check(scratch.root, AT, workers=1, use_cache=True)
    aside = scratch.root.parent / "aside"
    aside.mkdir()
    for part in ("registry", "certificates"):
        (scratch.root / part).rename(aside / part)
        shutil.copytree(aside / part, scratch.root / part, copy_function=shutil.copy)  # new inodes and times
    before = {p.name: p.stat().st_ino for p in aside.rglob("*.yaml")}
    assert all(p.stat().st_ino != before[p.name] for p in scratch.root.rglob("*.yaml"))
    cold = check(scratch.root, AT, workers=1)
    warm = check(scratch.root, AT, workers=1, use_cache=True)
    assert warm.reused == 83  # every record file but the trust list (always read)
    assert _summary(warm) == _summary(cold)
    assert [r.data for r in warm.registry.records] == [r.data for r in cold.registry.records]
    claim = scratch.root / "registry/claims/CLM-10002.yaml"
    claim.write_text(claim.read_text().replace("text: ", "text: Today. ", 1))
    tampered = check(scratch.root, AT, workers=1, use_cache=True)
    assert tampered.reused == 82 and any(f.code == "SIG003" and f.path.endswith("CLM-10002.yaml")
                                         for f in tampered.findings)


@pytest.mark.parametrize("rules", ["here", "beside", "workers"])
def test_check_cache_keeps_the_positions_the_rules_located(rules: str, scratch: Scratch,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule's finding on an unchanged file takes its line and column from the cache,
    without parsing the file again; a file changed since gets them found again. The
    build's check, whose rules run in a process of their own (large registries), saves
    them too; so does a check whose rules run in workers, which saves the cache while
    they run and their positions after, as a delta."""
    from alureg import rulerun
    from alureg.caches import cache_dir
    from alureg.check import start_check

    at = "2027-06-30"  # members of the sample that joined long before hold no certificate by then
    if rules == "beside":
        monkeypatch.setattr(rulerun, "PARALLEL_FROM", 0)
        pending = start_check(scratch.root, at, use_cache=True)
        assert pending.rules.forked is not None
        assert any(f.code == "RUL012" for f in pending.result().findings)
        monkeypatch.undo()
    elif rules == "workers":
        monkeypatch.setattr(rulerun, "PARALLEL_FROM", 0)
        saves: list[bool] = []  # whether the records held the rules' positions when the cache was saved
        real_run = rulerun.run_rules

        def spy_run(ctx: Any, workers: Any = None, meanwhile: Any = None, remembered: Any = None) -> Any:
            def save() -> None:
                saves.append(any(r.located for r in ctx.registry.records))
                meanwhile()
            return real_run(ctx, 2, meanwhile=save, remembered=remembered)
        monkeypatch.setattr(check_module, "run_rules", spy_run)
        cold = check(scratch.root, at, use_cache=True)
        monkeypatch.undo()
        assert saves == [False]  # saved while the workers ran, before their positions came back
        assert any(f.code == "RUL012" for f in cold.findings)
        assert (cache_dir(scratch.root, "check") / "records.json.delta").is_file()  # the positions, after
    else:
        check(scratch.root, at, workers=1, use_cache=True)
    parsed = file_reads(monkeypatch)  # files read (every check reads the trust list), parsed for places or not
    warm = check(scratch.root, at, workers=1, use_cache=True)
    assert warm.reused > 0 and parsed == ["trust.yaml"]  # the first check saved the positions
    assert _summary(warm) == _summary(check(scratch.root, at, workers=1))
    where = {(f.path, f.line, f.col) for f in warm.findings if f.code == "RUL012"}
    assert ("registry/members/MEM-0002.yaml", 6, 9) in where
    parsed.clear()
    assert _summary(check(scratch.root, at, workers=1, use_cache=True)) == _summary(warm)
    assert parsed == ["trust.yaml"]
    # The next day the rules' own cache (of one day) misses: the rules run again over
    # every record and place their findings from the check cache, not from the files.
    parsed.clear()
    next_day = check(scratch.root, "2027-07-01", workers=1, use_cache=True)
    assert parsed == ["trust.yaml"] and any(f.code == "RUL012" for f in next_day.findings)
    assert _summary(next_day) == _summary(check(scratch.root, "2027-07-01", workers=1))
    # A comment line on top: the same record (its proofs hold), every line one further down.
    path = scratch.root / "registry/members/MEM-0002.yaml"
    path.write_text("# moved down a line\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    moved = check(scratch.root, at, workers=1, use_cache=True)
    assert _summary(moved) == _summary(check(scratch.root, at, workers=1))
    assert ("registry/members/MEM-0002.yaml", 7, 9) in {(f.path, f.line, f.col) for f in moved.findings}


def test_check_cache_takes_the_workers_rows_as_they_came(scratch: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    """A check whose workers examined the files writes the whole cache file from the
    rows they sent, without encoding those entries again; it holds what a serial check
    writes, and an adopted entry changed before the save is written as it now is."""
    from alureg import checkcache
    from alureg.caches import cache_dir

    path = cache_dir(scratch.root, "check") / "records.json"

    def written() -> dict[str, tuple[Any, ...]]:
        head, entries = checkcache._read(path, _head(path)["context"])
        assert head is not None
        return {rel: entry.row(rel) for rel, entry in entries.items()}

    serial = check(scratch.root, AT, workers=1, use_cache=True)
    expected = written()
    assert len(expected) == 83
    path.unlink()

    real_row = checkcache.Entry.row
    encoded = marshalled_rows(monkeypatch)  # entries encoded again in this process
    monkeypatch.setattr(check_module, "PARALLEL_FROM", 10)
    parallel = check(scratch.root, AT, workers=2, use_cache=True)
    assert _summary(parallel) == _summary(serial) and parallel.reused == 0
    assert encoded == [] and written() == expected
    encoded.clear()

    # The blob is taken while its entries are the ones adopted; an entry changed in place
    # (``mark``) or whose file is gone makes the others be encoded again, as they now are.
    rows = list(checkcache._read(path, _head(path)["context"])[1].items())[:3]
    for case in ("as adopted", "marked", "dropped"):
        entries = [(rel, checkcache.Entry.from_row(real_row(e, rel))[1]) for rel, e in rows]  # fresh copies
        cache = checkcache.CheckCache.open(path.with_name(f"{case}.json"), "test")
        cache.adopt(marshal.dumps([real_row(e, rel) for rel, e in entries], 4), entries)
        keep = {rel for rel, _ in entries}
        if case == "marked":
            entries[1][1].valid = not entries[1][1].valid
            cache.mark(entries[1][0])
        elif case == "dropped":
            keep.discard(entries[1][0])
        encoded.clear()
        cache.save(keep)
        again = checkcache._read(cache.path, "test")[1]
        assert {rel: real_row(e, rel) for rel, e in again.items()} == \
            {rel: real_row(e, rel) for rel, e in entries if rel in keep}
        assert sorted(encoded) == ([] if case == "as adopted" else sorted(keep))  # the blob taken or not
        assert cache.blobs == [] and cache.adopted == {}  # let go of once saved


def _head(path: Path) -> dict[str, Any]:
    import orjson

    return orjson.loads(path.read_bytes().partition(b"\n")[0])  # type: ignore[no-any-return]


def test_check_cache_writes_few_changes_as_a_delta(scratch: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that changed few entries writes them to a delta beside the whole cache
    file, which stays as it was; the next check reads both. A delta of another whole
    file, or a damaged one, is ignored; past DELTA_MAX the whole file is written again.
    Every result equals a cold check's."""
    import orjson

    from alureg import checkcache
    from alureg.caches import cache_dir

    def cached() -> int:
        warm = check(scratch.root, AT, workers=1, use_cache=True)
        assert _summary(warm) == _summary(check(scratch.root, AT, workers=1))
        assert [r.data for r in warm.registry.records] == [r.data for r in check(scratch.root, AT).registry.records]
        return warm.reused

    def delta_head() -> dict[str, Any]:
        return orjson.loads(delta.read_bytes().partition(b"\n")[0])  # type: ignore[no-any-return]

    cached()
    path = cache_dir(scratch.root, "check") / "records.json"
    delta = path.with_name("records.json.delta")
    whole = path.read_bytes()
    assert not delta.exists()
    scratch.change("registry/members/MEM-0003.yaml", lambda d: d.update(name="Kalgoora Alumina Holdings Pty Ltd"))
    assert cached() == 82
    assert path.read_bytes() == whole  # not written again
    assert delta_head()["whole"] == orjson.loads(whole.partition(b"\n")[0])["id"] and delta_head()["dropped"] == []
    assert cached() == 83  # the whole file and the delta: the changed record is not examined again
    (scratch.root / "registry/claims/CLM-10002.yaml").unlink()
    assert cached() == 82
    assert delta_head()["dropped"] == ["registry/claims/CLM-10002.yaml"] and path.read_bytes() == whole
    assert cached() == 82

    kept = delta.read_bytes()
    head, _, rest = kept.partition(b"\n")
    for odd in (orjson.dumps(orjson.loads(head) | {"whole": "another"}) + b"\n" + rest,  # of another whole file
                kept[:-20]):  # cut short
        delta.write_bytes(odd)
        assert cached() == 81  # the whole file's entries: the record changed since is examined again
    monkeypatch.setattr(checkcache, "DELTA_MAX", 1)
    scratch.change("registry/members/MEM-0002.yaml", lambda d: d.update(website="https://example.org/"))
    assert cached() == 81
    assert path.read_bytes() != whole and not delta.exists()  # written whole again
    assert cached() == 82


@pytest.mark.parametrize("damage", ["cut in a chunk", "cut after a chunk", "a chunk replaced", "not a chunk",
                                    "more after the end", "a length beyond the file", "the older format"])
def test_check_cache_ignores_a_damaged_file(damage: str, scratch: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache file cut short (even between two chunks) or damaged is not used at all."""
    import marshal
    import struct

    from alureg import checkcache
    from alureg.caches import cache_dir

    monkeypatch.setattr(checkcache, "CHUNK", 10)
    check(scratch.root, AT, use_cache=True)
    path = cache_dir(scratch.root, "check") / "records.json"
    saved = path.read_bytes()
    head, _, rest = saved.partition(b"\n")
    chunks, at = [], 0
    while length := struct.unpack_from("<Q", rest, at)[0]:
        chunks.append(rest[at:at + 8 + length])
        at += 8 + length
    assert len(chunks) == 9 and rest[at:] == bytes(8)  # 83 entries, 10 a chunk; a chunk of length 0 ends
    row = marshal.loads(chunks[2][8:])[0]  # noqa: S302 (written by this test)
    odd = marshal.dumps([(*row[:5], {"data": "not a record's"}, "yes", *row[7:])])  # valid is not a bool
    end = bytes(8)
    damaged = {
        "cut in a chunk": b"".join(chunks)[:5000],
        "cut after a chunk": b"".join(chunks[:4]),
        "a chunk replaced": b"".join([*chunks[:2], struct.pack("<Q", len(odd)) + odd, *chunks[3:], end]),
        "not a chunk": b"".join([*chunks[:2], struct.pack("<Q", 5) + b"\xff" * 5, *chunks[3:], end]),
        "more after the end": b"".join([*chunks, end, chunks[0]]),
        "a length beyond the file": struct.pack("<Q", 1 << 60) + b"".join(chunks),
    }
    # Format 1 was one JSON document on one line: it is not read whole to find out.
    path.write_bytes(b'{"format":1,"entries":{' + b"0" * 10_000 + b"}}" if damage == "the older format"
                     else head + b"\n" + damaged[damage])
    result = check(scratch.root, AT, use_cache=True)
    assert result.reused == 0 and result.ok()
    assert check(scratch.root, AT, use_cache=True).reused == 83  # written afresh by the check before


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_incremental_build_equals_cold_build(scratch: Scratch, monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    """The whole published output of a build that reuses the cache equals, byte for
    byte, a cold build of the same records, after a record change, a key revocation,
    a schema change and another date; a refused build leaves the previous output."""
    import datetime as dt

    from alureg import schema
    from alureg.publish import PublishError, build

    now = dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC)
    warm_out, cold_out = tmp_path / "warm", tmp_path / "cold"

    def both(at: str = AT, *, reuse: bool = True, kept: bool = False) -> dict[str, bytes]:
        report = build(scratch.root, warm_out, at, now=now, use_cache=True)
        build(scratch.root, cold_out, at, now=now, use_cache=False)
        warm, cold = _tree(warm_out), _tree(cold_out)
        assert warm.keys() == cold.keys()
        assert [name for name in warm if warm[name] != cold[name]] == []
        assert report.kept == kept  # nothing changed at all: the build memo kept the output
        if not kept:
            assert report.result is not None and (report.result.reused > 0) == reuse
            assert report.linked > 0 or not reuse  # unchanged files came from the previous output
        return warm

    first = both(reuse=False)  # fills the cache
    assert len(first) > 300
    scratch.change("registry/members/MEM-0003.yaml", lambda d: d.update(name="Kalgoora Alumina Holdings Pty Ltd"))
    renamed = both()
    assert "Kalgoora Alumina Holdings" in renamed["members/MEM-0003/index.html"].decode()

    schemas = tmp_path / "schemas"
    shutil.copytree(schema.SCHEMA_DIR, schemas)
    member = json.loads((schemas / "member.schema.json").read_text())
    member["properties"]["name"]["description"] = "The member's registered name (as in its articles)."
    (schemas / "member.schema.json").write_text(json.dumps(member))
    monkeypatch.setattr(schema, "SCHEMA_DIR", schemas)
    _fresh_caches()
    try:
        described = both(reuse=False)  # another schema: every file is checked again
        assert described != renamed
    finally:
        monkeypatch.undo()
        _fresh_caches()

    both("2027-06-30", reuse=False)  # the usual schemas again: checked again once
    later = both("2027-07-01")  # statuses move with the day; the per-file results do not
    assert later["index.html"] != renamed["index.html"]
    assert both("2027-07-01", kept=True) == later  # the same inputs again

    def revoke(trust: dict[str, Any]) -> None:
        key = next(k for k in trust["keys"] if k["id"] == "auditor-aud-002")
        key["revoked"] = {"date": "2026-11-01", "reason": "Key copied from a stolen laptop"}
    scratch.change("registry/trust.yaml", revoke)
    for out in (warm_out, cold_out):
        with pytest.raises(PublishError):
            build(scratch.root, out, AT, now=now, use_cache=out == warm_out)
    assert _tree(warm_out) == _tree(cold_out) == later  # nothing published: the previous output stays


def test_fast_writers_write_the_reference_bytes(claim_site: Path) -> None:
    """The API's indented JSON (orjson) is what json.dumps writes; every claim bundle
    (put together from its records' bytes) is the RFC 8785 encoding of its data."""
    from alureg.signing import canonical

    indented = 0
    for path in sorted((claim_site / "api/v1").rglob("*.json")):
        raw = path.read_bytes()
        if raw.startswith((b"{\n", b"[\n")):
            indented += 1
            data = json.loads(raw)
            assert raw.decode() == json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n", path
    assert indented > 100
    bundles = sorted((claim_site / "c").glob("*/claim.json"))
    assert len(bundles) == 20
    for path in bundles:
        assert canonical(json.loads(path.read_bytes())) == path.read_bytes(), path


def test_a_file_changed_in_the_live_output_is_written_again(scratch: Scratch, tmp_path: Path) -> None:
    """Files are linked from the previous output only while they are as the manifest
    says: one edited in place (a deploy step, a person) is rendered and written anew."""
    import datetime as dt

    from alureg.publish import build

    now = dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC)
    out = tmp_path / "public"
    first = build(scratch.root, out, AT, now=now, use_cache=True)
    assert first.linked == 0 and first.written > 200
    page = out / "members/MEM-0001/index.html"
    original = page.read_bytes()
    page.write_bytes(original.replace(b"</main>", b"<p>edited in place</p></main>"))
    again = build(scratch.root, out, AT, now=now, use_cache=True)
    assert page.read_bytes() == original
    assert again.linked == first.written - 1 and again.written == 1
    build(scratch.root, tmp_path / "cold", AT, now=now)
    assert _tree(out) == _tree(tmp_path / "cold")


def test_the_search_index_is_carried_while_its_documents_stay_the_same(scratch: Scratch, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A change that leaves every supplier's search document as it was (a website)
    carries the live index over without making it; one that changes a document (a
    name), or an index file edited in place, makes it again. Each output is a cold
    build's."""
    import datetime as dt

    from alureg import searchindex
    from alureg.publish import build

    made: list[int] = []
    real = searchindex.write_index

    def counted(docs: Any, *args: Any) -> Any:
        made.append(len(docs))
        return real(docs, *args)
    monkeypatch.setattr(searchindex, "write_index", counted)
    now = dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC)
    out = tmp_path / "public"
    build(scratch.root, out, AT, now=now, use_cache=True)
    assert len(made) == 1
    edits = [("website", "https://changed.example", 0), ("name", "Kalgoora Alumina Holdings Pty Ltd", 1),
             ("website", "https://changed-again.example", 0), ("website", "https://edited.example", 1)]
    for n, (field, value, expected) in enumerate(edits):
        made.clear()
        if n == 3:  # an index file edited in place: not carried
            shard = out / "search/index/t0.json"
            shard.write_bytes(shard.read_bytes().replace(b'"t":[', b'"t":["x",', 1))
        scratch.change("registry/members/MEM-0003.yaml", lambda d, f=field, v=value: d.update({f: v}))
        build(scratch.root, out, AT, now=now, use_cache=True)
        assert len(made) == expected, (field, made)
        build(scratch.root, tmp_path / "cold", AT, now=now)
        assert _tree(out) == _tree(tmp_path / "cold")


def _second_process_takes_the_snapshot(monkeypatch: pytest.MonkeyPatch, marks: Path) -> None:
    """In builds with a second process (``PARALLEL_FROM`` 0), the first process's pages
    wait until the snapshot has begun: the second process takes it (after the shell, the
    first stage of the queue) as soon as it can. Without this, which process runs which stage is the
    scheduler's choice, and a test meant for the second could pass in the first."""
    import time

    from alureg import publish

    began = marks / "snapshot began"
    snapshot, pages = publish.write_snapshot, publish.write_record_pages

    def snapshot_marked(*args: Any, **kwargs: Any) -> Any:
        if publish.PARALLEL_FROM == 0:
            began.touch()
        return snapshot(*args, **kwargs)

    def pages_after_it(*args: Any, **kwargs: Any) -> Any:
        if publish.PARALLEL_FROM == 0:
            deadline = time.monotonic() + 60  # a bound, not a timing: the assertions tell
            while not began.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            began.unlink(missing_ok=True)
        return pages(*args, **kwargs)
    monkeypatch.setattr(publish, "write_snapshot", snapshot_marked)
    monkeypatch.setattr(publish, "write_record_pages", pages_after_it)


def test_the_second_process_writes_what_one_process_writes(scratch: Scratch, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    """Large registries write the snapshot, search index and feeds in a forked process
    beside the pages (alureg/publish.py ``_Beside``): the output, the report and the
    manifest (the next builds reuse and keep by it) are those of one process. The
    second process hands its files' entries over in chunks of 7 here."""
    import datetime as dt

    from alureg import outputs, publish

    now = dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC)
    one, two = tmp_path / "one", tmp_path / "two"
    _second_process_takes_the_snapshot(monkeypatch, tmp_path)
    monkeypatch.setattr(outputs, "SPOOL_CHUNK", 7)

    def both() -> publish.BuildReport:
        monkeypatch.setattr(publish, "PARALLEL_FROM", 10**9)
        alone = publish.build(scratch.root, one, AT, now=now, use_cache=False)
        monkeypatch.setattr(publish, "PARALLEL_FROM", 0)
        beside = publish.build(scratch.root, two, AT, now=now, use_cache=True)
        assert _tree(one) == _tree(two)
        assert (beside.snapshot, beside.suppliers, beside.feeds) == (alone.snapshot, alone.suppliers, alone.feeds)
        assert alone.stages.beside is None
        return beside

    first = both()
    assert first.stages.beside is not None and "snapshot" in first.stages.beside.seconds
    shared = ["shell", "snapshot", "api", "search", "feeds"]
    assert sorted([*(s for s in first.stages.beside.seconds if s in shared),
                   *(s for s in first.stages.seconds if s in shared)]) == sorted(shared)
    assert "beside them, in a second process (s): shell" in first.stages.text()
    scratch.change("registry/members/MEM-0003.yaml", lambda d: d.update(name="Kalgoora Alumina Holdings Pty Ltd"))
    changed = both()
    assert changed.linked > 0 and changed.written < first.written  # reused by the manifest the two processes made
    monkeypatch.setattr(publish, "PARALLEL_FROM", 0)
    assert publish.build(scratch.root, two, AT, now=now, use_cache=True).kept  # its listing matches that manifest


def _note_renderers(monkeypatch: pytest.MonkeyPatch, noted: Path, first_waits: bool = False) -> None:
    """Note the process (by name) that renders each chunk of record pages, in a file
    (a forked process's notes would not come back). ``first_waits``: the build's
    own process waits before its first chunk until the second process has rendered
    one, so that the second reaches the pages left with none of them taken yet."""
    import multiprocessing as mp
    import time

    from alureg import pages

    render = pages._render_pages
    waits = [first_waits]

    def noting(job: Any, chunk: list[tuple[str, str]]) -> Any:
        name = mp.current_process().name
        if waits[0] and name == "MainProcess":
            waits[0] = False  # once: its first chunk
            deadline = time.monotonic() + 60  # a bound, not a timing: the assertions tell
            while "second build" not in _names(noted) and time.monotonic() < deadline:
                time.sleep(0.01)
        done = render(job, chunk)
        with noted.open("a") as f:
            f.write(f"{name}\n")
        return done
    monkeypatch.setattr(pages, "_render_pages", noting)


def _names(noted: Path) -> set[str]:
    return set(noted.read_text().splitlines()) if noted.exists() else set()


def test_beside_the_second_process_no_page_workers_are_forked(scratch: Scratch, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """With a second process writing beside it, the first renders the record pages in
    itself, not in forked page workers (three writing processes on two cores cost
    more); alone, it still spreads them over the cores."""
    from alureg import pages, publish

    monkeypatch.setattr(pages, "PARALLEL_FROM", 0)  # the sample's pages would fork workers if asked
    noted = tmp_path / "renderers"
    _note_renderers(monkeypatch, noted)
    for parallel_from, forked in ((0, False), (10**9, True)):
        noted.unlink(missing_ok=True)
        monkeypatch.setattr(publish, "PARALLEL_FROM", parallel_from)
        report = publish.build(scratch.root, tmp_path / f"out-{parallel_from}", AT, use_cache=False)
        assert (report.stages.beside is not None) == (not forked)
        names = _names(noted)
        assert "MainProcess" in names or forked
        assert bool(names - {"MainProcess", "second build"}) == forked


def test_the_second_process_renders_the_pages_left_once_its_stages_are_done(
        scratch: Scratch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second process with no stage left takes the record pages' chunks that the
    first has not (alureg/pages.py ``PageChunks``): the output is one process's."""
    import datetime as dt

    from alureg import publish

    now = dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC)
    monkeypatch.setattr(publish, "PARALLEL_FROM", 10**9)
    publish.build(scratch.root, tmp_path / "alone", AT, now=now, use_cache=False)
    noted = tmp_path / "renderers"
    _note_renderers(monkeypatch, noted, first_waits=True)
    monkeypatch.setattr(publish, "PARALLEL_FROM", 0)
    shared = publish.build(scratch.root, tmp_path / "shared", AT, now=now, use_cache=True)
    assert _names(noted) == {"MainProcess", "second build"}
    assert shared.stages.beside is not None and "pages" in shared.stages.beside.seconds
    assert _tree(tmp_path / "alone") == _tree(tmp_path / "shared")
    again = publish.build(scratch.root, tmp_path / "shared", AT, now=now, use_cache=True)
    assert again.kept  # the manifest has the second process's pages too: its listing matches


@pytest.mark.parametrize(("failing", "in_second"), [("write_record_pages", False), ("write_snapshot", True),
                                                     ("write_feeds", None)])
def test_a_failure_in_either_process_publishes_nothing(failing: str, in_second: bool | None, scratch: Scratch,
                                                      monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    """A stage that fails in the first process while the second runs (the pages), in
    the second (the snapshot), or in either (the feeds) fails the build: the previous
    output stays, and no folder is left beside it."""
    import datetime as dt

    from alureg import publish

    now = dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC)
    out = tmp_path / "public"
    monkeypatch.setattr(publish, "PARALLEL_FROM", 0)
    publish.build(scratch.root, out, AT, now=now, use_cache=True)
    before = _tree(out)
    scratch.change("registry/members/MEM-0003.yaml", lambda d: d.update(name="Kalgoora Alumina Holdings Pty Ltd"))

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(publish, failing, broken)
    _second_process_takes_the_snapshot(monkeypatch, tmp_path_factory.mktemp("marks"))
    scratch_folders = tmp_path_factory.mktemp("tmp")
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_folders))  # where the shell is made
    with pytest.raises(OSError, match="No space left") as raised:
        publish.build(scratch.root, out, AT, now=now, use_cache=True)
    assert list(scratch_folders.iterdir()) == []  # the shell's scratch folder too, whichever process failed
    if in_second is not None:  # Forked adds the second process's traceback as a note
        assert any("in the second build process" in note for note in getattr(raised.value, "__notes__", [])) \
            == in_second
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["public", "reg"]
    monkeypatch.undo()
    again = publish.build(scratch.root, out, AT, now=now, use_cache=True)
    publish.build(scratch.root, tmp_path / "cold", AT, now=now)
    assert _tree(out) == _tree(tmp_path / "cold")
    assert "Kalgoora Alumina Holdings" in (out / "members/MEM-0003/index.html").read_text()
    assert again.written > 0

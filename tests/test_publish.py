"""Publishing: nothing on errors, the output folder swapped in whole, values escaped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alureg.cli import main

from .conftest import AT, REPO, Scratch


def _build(root: Path, out: Path) -> int:
    return main(["build", "--root", str(root), "--out", str(out), "--at", AT, "--now", f"{AT}T06:00:00Z"])


def test_build_publishes_every_record(scratch: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "public"
    assert _build(scratch.root, out) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"published 84 records to {out} (status as of {AT})",
        "status snapshot 1795240800, expires 2026-11-28T06:00:00Z, signed with the DEMO publisher key",
        "change history: no git history; 29 Atom feeds",
    ]
    assert len(list((out / "api/v1").glob("*/*.json"))) == 82 + 7 + 27  # records, schemas, member status
    record = json.loads((out / "api/v1/certificates/CRT-000106.json").read_text())
    assert record["id"] == "CRT-000106" and len(record["proof"]) == 2
    page = (out / "certificates/CRT-000106/index.html").read_text()
    assert ">Suspended</span>" in page
    assert "Active: 20" in (out / "index.html").read_text()


@pytest.mark.parametrize("rules_beside", [False, True])
def test_failed_check_leaves_output_untouched(rules_beside: bool, scratch: Scratch, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A cross-record rule's error (a GTIN's check digit) refuses the build, also when
    the rules run in a second process while the site is written (large registries)."""
    from alureg import rulerun
    if rules_beside:
        monkeypatch.setattr(rulerun, "PARALLEL_FROM", 0)
    out = tmp_path / "public"
    out.mkdir()
    (out / "index.html").write_text("previous site")
    scratch.change("registry/claims/CLM-10001.yaml", lambda d: d["product"].update(gtin="2000000000016"))
    assert _build(scratch.root, out) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: not published: the registry has errors")
    assert [p.name for p in out.iterdir()] == ["index.html"]
    assert (out / "index.html").read_text() == "previous site"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["public", "reg"]  # no temporary folder left


def test_publisher_key_from_environment(scratch: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    key = (REPO / "demo-keys/publisher-2026.json").read_text()
    monkeypatch.setenv("ALUREG_PUBLISHER_KEY", key)
    assert _build(scratch.root, tmp_path / "public") == 0
    assert "signed with $ALUREG_PUBLISHER_KEY" in capsys.readouterr().out
    monkeypatch.setenv("ALUREG_PUBLISHER_KEY", "{not a key")
    assert _build(scratch.root, tmp_path / "public2") == 1
    assert capsys.readouterr().err.startswith("error: $ALUREG_PUBLISHER_KEY: not a usable key file")
    assert not (tmp_path / "public2").exists()


def test_record_values_are_escaped(scratch: Scratch, tmp_path: Path) -> None:
    payload = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
    scratch.change("registry/members/MEM-0301.yaml", lambda d: d.update(name="River " + payload))
    out = tmp_path / "public"
    assert _build(scratch.root, out) == 0
    for page in (out / "members/MEM-0301/index.html", out / "members/index.html"):
        text = page.read_text()
        assert "<script>alert" not in text and "<img src=x" not in text, page
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in text, page


def test_a_cache_planted_in_the_registry_is_never_used(scratch: Scratch, tmp_path: Path) -> None:
    """A pull request can commit files git ignores; caches therefore live outside the
    registry, and a check cache planted where a cache could be is not read."""
    from alureg.caches import cache_dir
    from alureg.publish import PublishError, build

    assert not cache_dir(scratch.root, "check").resolve().is_relative_to(scratch.root.resolve())
    before = sorted(p.relative_to(scratch.root) for p in scratch.root.rglob("*"))
    planted = scratch.root / ".alureg-cache" / "check" / "records.json"
    planted.parent.mkdir(parents=True)
    planted.write_text('{"forged": "every record checked and valid"}')
    scratch.change("registry/members/MEM-0001.yaml", lambda d: d.update(name="Tampered after signing"), resign=False)
    with pytest.raises(PublishError):
        build(scratch.root, tmp_path / "public", AT, use_cache=True)
    planted.unlink()
    planted.parent.rmdir()
    planted.parent.parent.rmdir()
    assert sorted(p.relative_to(scratch.root) for p in scratch.root.rglob("*")) == before  # nothing written there


def test_stage_timings_cover_the_build(scratch: Scratch, tmp_path: Path) -> None:
    """`build --timings` names every stage once, and "write" is only what the stages
    inside it do not count (the swap): no figure is negative or counted twice."""
    import time

    from alureg.publish import build

    started = time.perf_counter()
    report = build(scratch.root, tmp_path / "public", AT, use_cache=True)
    elapsed = time.perf_counter() - started
    seconds = report.stages.seconds
    assert list(seconds) == ["memo", "check", "model", "history", "statuses", "manifests", "reach", "pages", "shell",
                             "snapshot", "api", "search", "feeds", "tidy", "rules", "write"]
    assert all(s >= 0 for s in seconds.values())
    assert sum(seconds.values()) <= elapsed
    assert seconds["write"] < sum(seconds[s] for s in ("shell", "pages", "api", "snapshot", "search", "feeds"))


def test_a_stage_failing_on_records_the_rules_refuse_is_reported_as_the_refusal(
        scratch: Scratch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The site is written while the rules run: a stage that trips over a record the
    rules would refuse (here, by a stand-in failure) gives the rules' refusal, not a
    traceback; with records they pass, the stage's own error."""
    from alureg import publish, rulerun
    from alureg.check import start_check

    monkeypatch.setattr(rulerun, "PARALLEL_FROM", 0)

    def tripped(*args: object, **kwargs: object) -> None:
        raise KeyError("MEM-9999")
    monkeypatch.setattr(publish, "write_api", tripped)
    with pytest.raises(KeyError):
        publish.build(scratch.root, tmp_path / "public", AT)
    scratch.change("registry/claims/CLM-10001.yaml", lambda d: d.update(holder="MEM-9999"))
    pending = start_check(scratch.root, AT)
    assert pending.early.ok() and not pending.result().ok()  # refused by the rules, not by the record's own steps
    with pytest.raises(publish.PublishError, match="the registry has errors"):
        publish.build(scratch.root, tmp_path / "public", AT)
    assert not (tmp_path / "public").exists()


def test_a_second_build_into_the_same_output_is_refused_while_one_runs(scratch: Scratch, tmp_path: Path) -> None:
    """Two builds into one output would each save its manifests, page state and build
    memo with the caches, in either order: while one runs (it holds the lock file with
    those caches), another is refused with a clear error and changes nothing; once it
    has ended, the next build goes ahead."""
    import fcntl

    from alureg.caches import cache_dir
    from alureg.publish import PublishError, build

    out = tmp_path / "public"
    build(scratch.root, out, AT, use_cache=True)
    caches = cache_dir(out, "output")
    before = {p: p.read_bytes() for p in [*out.rglob("*"), *caches.rglob("*")] if p.is_file()}
    scratch.change("registry/members/MEM-0003.yaml", lambda d: d.update(name="Kalgoora Alumina Holdings Pty Ltd"))
    with open(caches / "build.lock", "ab") as running:  # as a build that runs holds it
        fcntl.flock(running.fileno(), fcntl.LOCK_EX)
        with pytest.raises(PublishError, match=r"another build into .*public is running"):
            build(scratch.root, out, AT, use_cache=True)
        assert {p: p.read_bytes() for p in [*out.rglob("*"), *caches.rglob("*")] if p.is_file()} == before
    build(scratch.root, out, AT, use_cache=True)
    assert "Kalgoora Alumina Holdings" in (out / "members/MEM-0003/index.html").read_text()


def test_page_templates_escape_with_the_fast_escape() -> None:
    """Every template the record pages use writes its output through pageparts.escape
    (alureg/pages.py: MarkupSafe's characters without a Markup per value), which gives
    a Markup or a number, an Undefined, to MarkupSafe as it is."""
    import markupsafe

    from alureg.pageparts import escape as _escape
    from alureg.pages import SITE_DIR, environment

    names = sorted(p.name for p in (SITE_DIR / "templates").glob("*.html"))
    assert "certificate.html" in names
    for name in names:
        template = environment().get_template(name)
        assert template.root_render_func.__globals__["escape"] is _escape, name
        assert type(template.globals) is dict and "country" in template.globals, name  # no ChainMap per render
    assert _escape('<a href="x">\'&') == "&lt;a href=&#34;x&#34;&gt;&#39;&amp;"
    assert type(_escape("plain")) is str
    kept = markupsafe.Markup("<b>kept</b>")
    assert _escape(kept) == kept and isinstance(_escape(kept), markupsafe.Markup)
    assert _escape(7) == "7" and _escape(None) == "None"
    assert environment().from_string("{{ a }}|{{ b }}").render(a="<x>", b=kept) == "&lt;x&gt;|<b>kept</b>"

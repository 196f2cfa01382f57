"""The build memo (alureg/buildmemo.py): a build whose inputs and output are as the
last build left them keeps that output; any change to any input, or to the output
itself, makes a full build whose output equals a cold build of the same inputs."""

from __future__ import annotations

import datetime as dt
import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from alureg import buildmemo, pages, publish, shell
from alureg.caches import cache_dir
from alureg.publish import BuildReport, build
from alureg.records import KIND_DIRS
from alureg.signing import KeyPair

from .conftest import AT, Scratch
from .spies import file_reads, folder_listings

NOW = dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC)
LONG_AGO_NS = 1_700_000_000 * 10**9  # 2023-11-14: outside the racy window of any build here


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _inodes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_ino for p in folder.rglob("*") if p.is_file()}


def _age(root: Path) -> None:
    """Date every record file long ago, as in a registry edited days before its build."""
    for path in root.rglob("*.yaml"):
        os.utime(path, ns=(LONG_AGO_NS, LONG_AGO_NS))


def _git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": "2026-11-20T10:00:00Z", "GIT_COMMITTER_DATE": "2026-11-20T10:00:00Z",
           "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "Test",
           "GIT_COMMITTER_EMAIL": "t@example.org"}
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env)


def _ahead(monkeypatch: pytest.MonkeyPatch, first: bool) -> list[Any]:
    """Builds compare the record files in a forked process (``RecordsAhead``) whatever
    the registry's size, and read the check cache meanwhile; ``first``: the child's
    answer is waited for before the cache's first chunk is taken, so that a build
    whose records are the same gives the cache up. Returns what each build's
    ``open_cache`` returned."""
    monkeypatch.setattr(buildmemo, "AHEAD_FROM", 0)
    if first:
        def same(self: buildmemo.RecordsAhead) -> bool:
            if self.blob is None and self.forked is not None:
                self._take()
            return self.found_same
        monkeypatch.setattr(buildmemo.RecordsAhead, "same", same)
    opened: list[Any] = []
    real = publish.open_cache

    def spy(root: Path, stop: Callable[[], bool] | None = None) -> Any:
        opened.append(real(root, stop))
        return opened[-1]
    monkeypatch.setattr(publish, "open_cache", spy)
    return opened


@pytest.mark.parametrize("way", ["", "beside", "ahead", "ahead, answered first"])
def test_nothing_changed_keeps_the_output(scratch: Scratch, tmp_path: Path, way: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is rendered, written or swapped: every output file is the same file.
    ``beside``: the output's listing digest is worked out in a forked process, as for
    a large output (alureg/publish.py ``_Digest``); ``ahead``: the record files are
    compared in a forked process while the check cache is read (``RecordsAhead``)."""
    if way == "beside":
        monkeypatch.setattr(publish, "DIGEST_BESIDE_FROM", 0)
    opened = _ahead(monkeypatch, way.endswith("first")) if way.startswith("ahead") else []
    out = tmp_path / "public"
    _age(scratch.root)
    first = build(scratch.root, out, AT, now=NOW, use_cache=True)
    assert not first.kept and first.result is not None
    assert opened == []  # no output yet: no memo to compare with
    before, inodes = _tree(out), _inodes(out)
    again = build(scratch.root, out, AT, now=NOW + dt.timedelta(hours=3), use_cache=True)
    assert again.kept and again.result is None
    assert again.summary() == first.summary()  # the same snapshot: the one the output holds
    assert _inodes(out) == inodes and _tree(out) == before
    assert set(again.stages.seconds) == ({"memo", "check cache"} if opened else {"memo"})
    if way.endswith("first"):
        assert opened == [None]  # given up once the records were found the same
    # Without the cache the memo is neither read nor trusted.
    assert not build(scratch.root, out, AT, now=NOW, use_cache=False).kept


def _publisher() -> KeyPair:
    return KeyPair.generate("publisher-other", "publisher")


Change = Callable[[Scratch, Path], dict[str, object]]


def _record(s: Scratch, out: Path) -> dict[str, object]:
    s.change("registry/members/MEM-0003.yaml", lambda d: d.update(name="Kalgoora Alumina Holdings Pty Ltd"))
    return {}


def _firm(s: Scratch, out: Path) -> dict[str, object]:
    """An audit firm's record: it has no page of its own, but an API document."""
    s.change("registry/auditors/AUD-001.yaml", lambda d: d.update(name=d["name"] + " (renamed)"))
    return {}


def _removed(s: Scratch, out: Path) -> dict[str, object]:
    (s.root / "registry/claims/CLM-10001.yaml").unlink()
    return {}


def _config(s: Scratch, out: Path) -> dict[str, object]:
    with (s.root / "alureg.toml").open("a", encoding="utf-8") as f:
        f.write("\n# a comment is a change too\n")
    return {}


def _racy(s: Scratch) -> None:
    """Same size, same time stamp and inode, other bytes, inside the racy window."""
    path = s.root / "registry/members/MEM-0003.yaml"
    st = path.stat()
    text = path.read_bytes()
    assert b"Kalgoora" in text
    with path.open("r+b") as f:
        f.write(text.replace(b"Kalgoora", b"Kalgoorb"))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns, path.stat().st_ino) == \
        (st.st_size, st.st_mtime_ns, st.st_ino)  # the edit breaks the signature: the build must see it


def _edited_output(s: Scratch, out: Path) -> dict[str, object]:
    page = out / "members/MEM-0001/index.html"
    page.write_bytes(page.read_bytes().replace(b"</main>", b"<p>edited</p></main>"))
    return {}


def _added_output(s: Scratch, out: Path) -> dict[str, object]:
    (out / "stray.html").write_text("<p>not ours</p>")
    return {}


def _added_deep_output(s: Scratch, out: Path) -> dict[str, object]:
    (out / "members/MEM-0001/extra.html").write_text("<p>not ours</p>")
    return {}


def _linked_output(s: Scratch, out: Path) -> dict[str, object]:
    (out / "c/elsewhere").symlink_to("/etc")  # a link to a folder is listed as a link
    return {}


def _removed_output(s: Scratch, out: Path) -> dict[str, object]:
    (out / "api/v1/trust.json").unlink()
    return {}


def _replaced_output(s: Scratch, out: Path) -> dict[str, object]:
    """Replaced by another file of the same size and time stamp (as an editor saves,
    or `cp -p`): the inode tells."""
    page = out / "members/MEM-0001/index.html"
    st = page.stat()
    other = page.with_name("edited.tmp")
    other.write_bytes(page.read_bytes().replace(b"<main", b"<MAIN", 1))
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    other.replace(page)
    assert (page.stat().st_size, page.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    return {}


CHANGES: dict[str, Change] = {
    "a record's bytes": _record,
    "an audit firm's record": _firm,
    "a record file removed": _removed,
    "the configuration": _config,
    "the date": lambda s, out: {"at": "2026-12-01"},
    "the publisher key": lambda s, out: {"publisher": _publisher()},
    "the repository URL": lambda s, out: {"repository_url": "https://git.example.org/registry"},
    "strictness": lambda s, out: {"strict": True},
    "a file in the output edited": _edited_output,
    "a file added to the output": _added_output,
    "a file removed from the output": _removed_output,
    "a file in the output replaced, same size and time": _replaced_output,
}


@pytest.mark.parametrize("ahead", [False, True], ids=["", "ahead"])
@pytest.mark.parametrize("name", list(CHANGES))
def test_any_change_builds_again_and_equals_a_cold_build(name: str, ahead: bool, scratch: Scratch, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """``ahead``: the record files compared in a forked process while the check cache is
    read, the child's answer taken first: the cache is given up when the records are
    the same (the output was changed), and the check then reads it itself."""
    opened = _ahead(monkeypatch, first=True) if ahead else []
    out, cold = tmp_path / "public", tmp_path / "cold"
    _age(scratch.root)
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    assert build(scratch.root, out, AT, now=NOW, use_cache=True).kept
    options = CHANGES[name](scratch, out)
    report = build(scratch.root, out, use_cache=True, **{"at": AT, "now": NOW, **options})  # type: ignore[arg-type]
    assert not report.kept
    if ahead:
        assert len(opened) == 2 and opened[0] is None  # the second build: nothing had changed
        assert (opened[1] is None) == ("output" in name), opened  # read unless the records were the same
    build(scratch.root, cold, use_cache=False, **{"at": AT, "now": NOW, **options})  # type: ignore[arg-type]
    assert _tree(out) == _tree(cold)
    assert build(scratch.root, out, use_cache=True, **{"at": AT, "now": NOW, **options}).kept  # type: ignore[arg-type]


def test_a_failed_comparison_ahead_is_done_again_here(scratch: Scratch, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """If the forked comparison of the record files fails, the build compares them
    itself: nothing changed keeps the output, a changed record makes a cold build's."""
    opened = _ahead(monkeypatch, first=False)

    def broken(*args: Any) -> Any:
        raise OSError("the child could not compare")
    monkeypatch.setattr(buildmemo, "_compare", broken)
    out, cold = tmp_path / "public", tmp_path / "cold"
    _age(scratch.root)
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    assert build(scratch.root, out, AT, now=NOW, use_cache=True).kept
    _record(scratch, out)
    assert not build(scratch.root, out, AT, now=NOW, use_cache=True).kept
    # Both builds with an output forked the comparison (and read the cache beside it)
    # and, the child having failed, read the whole cache: nothing said the records were the same.
    assert len(opened) == 2 and all(cache is not None for cache in opened)
    build(scratch.root, cold, AT, now=NOW, use_cache=False)
    assert _tree(out) == _tree(cold)


@pytest.mark.parametrize("use_find", [True, False], ids=["find", "python"])
@pytest.mark.parametrize("change", [_edited_output, _added_output, _added_deep_output, _linked_output,
                                    _removed_output, _replaced_output])
def test_the_output_listing_by_units(change: Change, use_find: bool, scratch: Scratch, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Large folders are listed by separate GNU finds (or, without it, walks in
    Python): each sees the same changes. The sample's folders are small, so units are
    made of folders of 8 entries or more here."""
    monkeypatch.setattr(buildmemo, "USE_FIND", use_find)
    monkeypatch.setattr(buildmemo, "UNIT_ENTRIES", 8)
    out = tmp_path / "public"
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    listing = buildmemo.OutputListing(out)
    assert {"members/", "c/", "api/v1/"} <= set(listing.units)
    assert listing.uses_find == use_find
    # The digest the build worked out from its manifest, without listing the output.
    memo = orjson.loads(buildmemo._memo_file(cache_dir(out, "output")).read_bytes())
    assert listing.digest() == memo["output"] == buildmemo.OutputListing(out).digest()
    assert build(scratch.root, out, AT, now=NOW, use_cache=True).kept
    change(scratch, out)
    assert not build(scratch.root, out, AT, now=NOW, use_cache=True).kept


def test_a_changed_record_lists_no_output(scratch: Scratch, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Once a record file differs the build runs anyway: the output is not listed (a
    listing beside the records' comparison slowed it)."""
    monkeypatch.setattr(buildmemo, "UNIT_ENTRIES", 8)
    out = tmp_path / "public"
    _age(scratch.root)
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    _record(scratch, out)
    made: list[buildmemo.OutputListing] = []
    real = buildmemo.OutputListing.__init__

    def spy(self: buildmemo.OutputListing, folder: Path) -> None:
        real(self, folder)
        made.append(self)

    monkeypatch.setattr(buildmemo.OutputListing, "__init__", spy)
    assert not build(scratch.root, out, AT, now=NOW, use_cache=True).kept
    # None: nor is the new output's digest listed, it is worked out from its manifest.
    assert made == []
    assert build(scratch.root, out, AT, now=NOW, use_cache=True).kept  # then it is listed, and matches
    assert len(made) == 1 and made[0].units


@pytest.mark.parametrize("ahead", [False, True], ids=["", "ahead"])
def test_the_check_takes_the_record_files_status_from_the_memo(scratch: Scratch, tmp_path: Path, ahead: bool,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """After a miss, the check uses the record files as the memo listed them and the
    status it took of each instead of listing them and taking it again, and its
    output is a cold build's. ``ahead``: the memo's forked process listed them, and
    the check uses the cache read meanwhile."""
    opened = _ahead(monkeypatch, first=False) if ahead else []
    out, cold = tmp_path / "public", tmp_path / "cold"
    _age(scratch.root)
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    _record(scratch, out)
    looked: list[str] = []  # status taken by the check cache's lookup
    check_module = importlib.import_module("alureg.check")  # alureg.check is also a function's name
    real_lstat = Path.lstat

    def spy(self: Path) -> os.stat_result:
        if self.suffix == ".yaml":
            looked.append(self.name)
        return real_lstat(self)

    monkeypatch.setattr(Path, "lstat", spy)
    read = file_reads(monkeypatch)  # record files read (and their status taken) by the check
    listings = folder_listings(monkeypatch, scratch.root)  # record folders listed in this process
    report = build(scratch.root, out, AT, now=NOW, use_cache=True)
    assert not report.kept and report.result is not None and report.result.reused == 82
    # Listed once, by the memo (here, or in its forked process ahead), and not again by the check.
    assert looked == [] and listings == ([] if ahead else list(KIND_DIRS.values()))
    monkeypatch.undo()
    files = len(list(check_module.record_names(scratch.root)))
    assert len(report.result.files) == files == len(report.result.registry.records) == 84
    assert sorted(set(read)) == ["MEM-0003.yaml", "trust.yaml"], read  # the trust list, the change
    if ahead:  # the cache read beside the comparison is the one the check used
        assert len(opened) == 1 and opened[0] is not None and opened[0].hits == 82
    monkeypatch.undo()
    build(scratch.root, cold, AT, now=NOW, use_cache=False)
    assert _tree(out) == _tree(cold)


def test_a_check_cache_read_for_another_trust_list_is_not_used(scratch: Scratch) -> None:
    """The check takes the cache ``open_cache`` read only if it was read for the check's
    own context (code, trust list, pinned keys): one read before a key was revoked
    would hold every record's proofs as valid."""
    from alureg.check import check, open_cache, start_check

    check(scratch.root, AT, workers=1, use_cache=True)
    before = open_cache(scratch.root)
    assert before is not None and len(before.entries) == 83
    assert start_check(scratch.root, AT, use_cache=True, opened=before).result().reused == 83

    def revoke(trust: dict[str, Any]) -> None:
        key = next(k for k in trust["keys"] if k["id"] == "auditor-aud-002")
        key["revoked"] = {"date": "2026-11-01", "reason": "Key copied from a stolen laptop"}
    scratch.change("registry/trust.yaml", revoke)
    result = start_check(scratch.root, AT, use_cache=True, opened=before).result()
    assert result.reused == 0 and any(f.code == "SIG005" for f in result.findings)
    assert [f.text() for f in result.findings] == [f.text() for f in check(scratch.root, AT, workers=1).findings]


def test_a_racy_edit_is_seen(scratch: Scratch, tmp_path: Path) -> None:
    """A record edited in the same instant as the build read it (same size, time stamp
    and inode) is compared by its bytes, and the build refuses the broken signature."""
    from alureg.publish import PublishError

    out = tmp_path / "public"
    for path in scratch.root.rglob("*.yaml"):
        os.utime(path)  # edited just now: within the racy window of the build that follows
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    before = _tree(out)
    _racy(scratch)
    with pytest.raises(PublishError):
        build(scratch.root, out, AT, now=NOW, use_cache=True)
    assert _tree(out) == before


def test_site_sources_are_inputs(scratch: Scratch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A changed template is a change (the site sources are hashed with the code)."""
    site = tmp_path / "site"
    shutil.copytree(pages.SITE_DIR, site)
    out = tmp_path / "public"
    for module in (pages, shell, buildmemo):
        monkeypatch.setattr(module, "SITE_DIR", site)
    caches = (buildmemo.sources_digest, pages.environment, pages._claim_css)
    for cached in caches:
        cached.cache_clear()
    try:
        build(scratch.root, out, AT, now=NOW, use_cache=True)
        assert build(scratch.root, out, AT, now=NOW, use_cache=True).kept
        css = site / "assets/claim.css"
        css.write_text(css.read_text() + "\n/* a change */\n")
        for cached in caches:
            cached.cache_clear()
        again = build(scratch.root, out, AT, now=NOW, use_cache=True)
        assert not again.kept
        assert b"/* a change */" in (out / "c/CLM-10001/index.html").read_bytes()
    finally:
        monkeypatch.undo()
        for cached in caches:
            cached.cache_clear()


def test_the_change_history_is_an_input(scratch: Scratch, tmp_path: Path) -> None:
    """A commit that touches no record keeps the output; rewording the commit that
    changed a record (its subject is shown on the record's page) does not."""
    root, out = scratch.root, tmp_path / "public"
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "Sample registry")
    _age(root)  # after git wrote them: the index is older than the files, git still sees no change

    def built() -> BuildReport:
        return build(root, out, AT, now=NOW, use_cache=True)

    built()
    (root / "NOTES.md").write_text("notes\n")
    _git(root, "add", "NOTES.md")
    _git(root, "commit", "-q", "-m", "Notes, no record")
    assert built().kept
    _git(root, "commit", "-q", "--amend", "-m", "Notes, reworded")
    assert built().kept
    _git(root, "reset", "-q", "--soft", "HEAD~1")
    _git(root, "commit", "-q", "--amend", "-m", "Sample registry, reworded")
    report = built()
    assert not report.kept
    assert "Sample registry, reworded" in (out / "feeds/changes.xml").read_text()


def test_the_build_command_says_so(scratch: Scratch, tmp_path: Path) -> None:
    out = tmp_path / "public"
    command = [sys.executable, "build.py", "build", "--root", str(scratch.root), "--out", str(out),
               "--at", AT]
    repo = Path(__file__).resolve().parent.parent
    first = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=True)
    assert "nothing changed" not in first.stdout
    again = subprocess.run([*command, "--timings"], cwd=repo, capture_output=True, text=True, check=True)
    lines = again.stdout.splitlines()
    assert "nothing changed since the last build" in lines[0]
    assert lines[1:4] == first.stdout.splitlines()
    assert lines[4].startswith("stages (s): memo ")
    assert lines[5].startswith("peak memory at the end of each stage (MiB): memo ")

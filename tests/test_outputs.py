"""The spare output (alureg/outputs.py): a build writes into the output before the live
one, touching only what changed; whatever the spare holds, the result equals a cold
build, and the live output is never written through a shared inode."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from alureg import outputs, swap
from alureg.caches import cache_dir
from alureg.publish import BuildReport, build

from .conftest import AT, Scratch

NOW = dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _folders(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_dir()}


def _spare(out: Path) -> Path:
    spare = outputs.spare_folder(out, cache_dir(out, "output"))
    assert spare is not None  # the caches are on the same file system here
    return spare


def _rename(s: Scratch, member: str, name: str) -> None:
    s.change(f"registry/members/{member}.yaml", lambda d: d.update(name=name))


def _warm(s: Scratch, out: Path) -> BuildReport:
    return build(s.root, out, AT, now=NOW, use_cache=True)


def _equals_cold(s: Scratch, out: Path, tmp_path: Path) -> None:
    cold = tmp_path / "cold"
    build(s.root, cold, AT, now=NOW)
    warm, expected = _tree(out), _tree(cold)
    assert sorted(warm) == sorted(expected)
    assert [name for name in warm if warm[name] != expected[name]] == []
    assert _folders(out) == _folders(cold)  # no folder left empty by a deleted record


def test_builds_write_into_the_spare(scratch: Scratch, tmp_path: Path) -> None:
    """The output before the live one is kept with the caches (none in the registry or
    beside the output); the next build writes into it only what changed."""
    out = tmp_path / "public"
    spare = _spare(out)
    assert spare.parent == cache_dir(out, "output")
    first = _warm(scratch, out)
    assert not spare.exists()  # nothing to keep yet
    _rename(scratch, "MEM-0003", "Kalgoora Alumina Holdings Pty Ltd")
    second = _warm(scratch, out)
    assert spare.is_dir() and _tree(spare) != _tree(out)  # the first output, kept
    assert second.written < first.written / 4
    _rename(scratch, "MEM-0004", "Nordvik Primary Aluminium AS")
    third = _warm(scratch, out)
    assert third.written <= second.written * 2 + 5  # what changed in the last two builds
    assert third.linked + third.written == first.written
    _equals_cold(scratch, out, tmp_path)
    assert "Kalgoora Alumina Holdings" in (out / "members/MEM-0003/index.html").read_text()


def _broken_exchange(a: Path, b: Path) -> bool:
    raise OSError("the disk went away")


def test_a_failed_build_leaves_the_live_output(scratch: Scratch, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The spare shares inodes with the live output: a file is replaced, never written
    in place, so a build that fails before the swap leaves the live output as it was."""
    out = tmp_path / "public"
    _warm(scratch, out)
    _rename(scratch, "MEM-0003", "Kalgoora Alumina Holdings Pty Ltd")
    _warm(scratch, out)
    live = _tree(out)
    shared = {p.stat().st_ino for p in out.rglob("*") if p.is_file()} & \
        {p.stat().st_ino for p in _spare(out).rglob("*") if p.is_file()}
    assert len(shared) > 100
    _rename(scratch, "MEM-0004", "Nordvik Primary Aluminium AS")
    monkeypatch.setattr(swap, "exchange", _broken_exchange)
    with pytest.raises(OSError, match="went away"):
        _warm(scratch, out)
    assert _tree(out) == live
    monkeypatch.undo()
    _warm(scratch, out)
    _equals_cold(scratch, out, tmp_path)


def test_replaced_files_go_to_a_trash_deleted_after_the_build(scratch: Scratch, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A file of the spare that the new site replaces is moved aside, not unlinked
    during the build (an unlink that frees blocks cost milliseconds on the build
    machine's disk); the trash beside the new folder is gone after the build, whether
    it succeeded or failed, and the output equals a cold build's."""
    out = tmp_path / "public"
    _warm(scratch, out)
    _rename(scratch, "MEM-0003", "Kalgoora Alumina Holdings Pty Ltd")
    _warm(scratch, out)  # the first output is now the spare
    unlinked: list[str] = []
    moved: list[str] = []
    real_unlink, real_rename = os.unlink, os.rename

    def unlink(path: str | Path, *args: object, **kwargs: object) -> None:
        unlinked.append(str(path))
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    def rename(a: str | Path, b: str | Path) -> None:
        if "-trash" in str(b):
            moved.append(str(a))
        real_rename(a, b)
    monkeypatch.setattr(os, "unlink", unlink)
    monkeypatch.setattr(os, "rename", rename)
    _rename(scratch, "MEM-0004", "Nordvik Primary Aluminium AS")
    _warm(scratch, out)
    assert any(p.endswith("members/MEM-0004/index.html") for p in moved)
    assert any(p.endswith("members/MEM-0003/index.html") for p in moved)  # changed in the last build
    assert [p for p in unlinked if str(tmp_path) in p and "-trash" not in p] == []
    assert [p.name for p in out.parent.iterdir() if "trash" in p.name] == []
    monkeypatch.undo()
    _equals_cold(scratch, out, tmp_path)

    _rename(scratch, "MEM-0004", "Nordvik Primary Aluminium ASA")
    monkeypatch.setattr(swap, "exchange", _broken_exchange)
    with pytest.raises(OSError, match="went away"):
        _warm(scratch, out)
    assert [p.name for p in out.parent.iterdir() if "trash" in p.name] == []


def test_a_build_after_one_that_remade_every_input_moves_only_what_changed(
        scratch: Scratch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a build that remade every file's input digest but few of its bytes (other
    code, another day), the next build keeps the spare's files that are the live ones
    already (the same inodes): it neither moves them to the trash nor links them
    again; the output equals a cold build's."""
    from alureg import buildmemo

    out = tmp_path / "public"
    _warm(scratch, out)
    monkeypatch.setattr(buildmemo, "sources_digest", lambda: "other code")  # every page's inputs, not its bytes
    remade = _warm(scratch, out)
    assert remade.linked > 250
    touched: list[str] = []
    real_link, real_rename = os.link, os.rename

    def link(a: str | Path, b: str | Path) -> None:
        touched.append(str(b))
        real_link(a, b)

    def rename(a: str | Path, b: str | Path) -> None:
        touched.append(str(a))
        real_rename(a, b)
    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(os, "rename", rename)
    _rename(scratch, "MEM-0003", "Kalgoora Alumina Holdings Pty Ltd")
    after = _warm(scratch, out)
    assert after.linked > 250 and 0 < len(touched) < after.written + 10, touched
    monkeypatch.undo()
    _equals_cold(scratch, out, tmp_path)


def _removed(spare: Path) -> None:
    import shutil
    shutil.rmtree(spare / "members")
    (spare / "api/v1/index.json").unlink()


def _edit_in_place(spare: Path) -> None:
    page = spare / "members/MEM-0001/index.html"
    with open(page, "r+b") as f:  # same inode, same size
        f.write(b"X")
    os.utime(page, ns=(page.stat().st_atime_ns, page.stat().st_mtime_ns))


def _folder_in_the_way(spare: Path) -> None:
    target = spare / "api/v1/members.json"
    target.unlink()
    target.mkdir()
    (target / "inside").write_text("x")


def _file_in_the_way(spare: Path) -> None:
    import shutil
    folder = spare / "certificates/CRT-000105"
    shutil.rmtree(folder)
    folder.write_text("a file where a folder goes")


def _no_manifest(spare: Path) -> None:
    outputs._manifest_file(spare.parent, outputs.SPARE_SUFFIX).unlink()
    (spare / "index.html").write_text("stale")


@pytest.mark.parametrize("damage", [_removed, _edit_in_place, _folder_in_the_way, _file_in_the_way, _no_manifest])
def test_whatever_the_spare_holds_the_output_equals_a_cold_build(damage: Callable[[Path], None],
                                                                 scratch: Scratch, tmp_path: Path) -> None:
    out = tmp_path / "public"
    _warm(scratch, out)
    _rename(scratch, "MEM-0003", "Kalgoora Alumina Holdings Pty Ltd")
    _warm(scratch, out)
    damage(_spare(out))
    _rename(scratch, "MEM-0004", "Nordvik Primary Aluminium AS")
    _warm(scratch, out)
    _equals_cold(scratch, out, tmp_path)


def test_a_build_killed_in_the_spare_leaves_nothing_behind(scratch: Scratch, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while writing into the claimed spare: the spare is gone (it was half
    written), its manifest too; the next build starts afresh and equals a cold one."""
    out = tmp_path / "public"
    _warm(scratch, out)
    _rename(scratch, "MEM-0003", "Kalgoora Alumina Holdings Pty Ltd")
    _warm(scratch, out)
    live = _tree(out)
    _rename(scratch, "MEM-0004", "Nordvik Primary Aluminium AS")
    from alureg import publish

    def failing(*args: object, **kwargs: object) -> int:
        raise RuntimeError("killed")
    monkeypatch.setattr(publish, "write_feeds", failing)
    with pytest.raises(RuntimeError):
        _warm(scratch, out)
    monkeypatch.undo()
    assert _tree(out) == live
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".public")) == []
    assert not _spare(out).exists()
    _warm(scratch, out)
    _equals_cold(scratch, out, tmp_path)


def test_the_spare_manifest_holds_what_the_spare_differs_by(scratch: Scratch, tmp_path: Path) -> None:
    """The spare's manifest lists only the files in which the spare differs from the
    live output, and is based on the live manifest as it was saved: with another live
    manifest in its place (an older one put back) the spare is not used, and the
    output still equals a cold build."""
    out = tmp_path / "public"
    cache = cache_dir(out, "output")
    _warm(scratch, out)
    older = outputs._manifest_file(cache).read_bytes()
    _rename(scratch, "MEM-0003", "Kalgoora Alumina Holdings Pty Ltd")
    second = _warm(scratch, out)
    live = outputs._load(cache, "manifest", out.resolve())
    assert live is not None and len(live) == second.linked + second.written
    claimed = outputs.claim_spare(_spare(out), cache, out)
    assert claimed is not None and claimed.spare is not None and claimed.live == live
    assert 0 < len(claimed.spare.diff) < len(live) / 4  # what the last build changed, not every file
    # Every file the spare holds and only those, each with its entry (size, time, inode).
    held = {str(p.relative_to(_spare(out))): p.stat() for p in _spare(out).rglob("*") if p.is_file()}
    spare = claimed.spare
    assert {rel: outputs.file_stat(spare.get(rel) or b"") for rel in spare.dropped_by({})} == \
        {rel: (st.st_size, st.st_mtime_ns, st.st_ino) for rel, st in held.items()}
    assert not outputs._manifest_file(cache, outputs.SPARE_SUFFIX).exists()  # claimed: taken

    _rename(scratch, "MEM-0004", "Nordvik Primary Aluminium AS")
    _warm(scratch, out)  # the spare's manifest was taken above: this build does not use the spare
    _rename(scratch, "MEM-0005", "Tasman Extrusions Pty Ltd")
    _warm(scratch, out)
    assert outputs._manifest_file(cache, outputs.SPARE_SUFFIX).exists()
    outputs._manifest_file(cache).write_bytes(older)  # a live manifest the spare's is not based on
    claimed = outputs.claim_spare(_spare(out), cache, out)
    assert claimed is not None and claimed.spare is None  # the live manifest is read all the same, once
    assert claimed.live == outputs._load(cache, "manifest", out.resolve())
    outputs._manifest_file(cache).write_bytes(older)
    _rename(scratch, "MEM-0006", "Sundsvall Rolling Mills AB")
    _warm(scratch, out)
    _equals_cold(scratch, out, tmp_path)


def test_manifest_round_trip_and_damaged_manifests_are_not_used(tmp_path: Path) -> None:
    """The binary manifest gives back what was saved (odd paths, entries with and
    without input digests); a truncated, extended or foreign one, or one of another
    folder, is not used."""
    files = {"index.html": bytes(range(56)), "c/CLM-1/claim.json": b"\x01" * 88,
             "é/\udcff name.html": b"\xff" * 56}
    folder = tmp_path / "public"
    outputs._save(tmp_path, "manifest", folder, files)
    saved = outputs._manifest_file(tmp_path).read_bytes()
    assert outputs._load(tmp_path, "manifest", folder) == files
    assert outputs._load(tmp_path, "manifest", tmp_path / "other") is None
    for damaged in (saved[:-1], saved + b"\0", saved[:40], b"", b"{}",
                    saved.replace(b"alureg-manifest %d" % outputs.FORMAT, b"alureg-manifest %d" % (outputs.FORMAT - 1)),
                    saved.replace(b"\x01" * 88, b"\x01" * 88 + b"\x02")):
        outputs._manifest_file(tmp_path).write_bytes(damaged)
        assert outputs._load(tmp_path, "manifest", folder) is None, damaged[:60]
    with pytest.raises(ValueError, match="70 bytes"):
        outputs._save(tmp_path, "manifest", folder, {"x": b"short" * 14})


def test_the_spares_differences_are_saved_as_the_dict_of_them_would_be(tmp_path: Path) -> None:
    """``SpareManifest.between`` gives the entries of the spare that differ from the
    live output's, and a path of no bytes for each file only the live output has; as
    columns, saved, the same file as the dict of them, read back as that dict."""
    entry = {n: bytes([n]) * 56 for n in range(6)}
    spare = {"a": entry[0], "b": entry[1], "c": entry[2], "only-spare": entry[3]}
    live = {"a": entry[0], "b": entry[4], "c": entry[2] + b"\0" * 32, "only-live": entry[5]}
    paths, entries = outputs.SpareManifest.between(spare, live)
    diff = dict(zip(paths, entries, strict=True))
    assert len(diff) == len(paths)
    assert diff == {"b": entry[1], "c": entry[2], "only-spare": entry[3], "only-live": b""}
    folder = tmp_path / "spare"
    outputs._save(tmp_path, "as-dict", folder, diff, b"tag", absent_ok=True)
    outputs._save(tmp_path, "as-columns", folder, (paths, entries), b"tag", absent_ok=True)
    assert outputs._manifest_file(tmp_path, "as-columns").read_bytes() == \
        outputs._manifest_file(tmp_path, "as-dict").read_bytes()
    found = outputs._read(tmp_path, "as-columns", folder, b"tag", absent_ok=True)
    assert found is not None and found[0] == diff
    assert outputs.SpareManifest.between(live, live) == ([], [])


def test_the_paths_a_spare_holds_that_a_build_dropped() -> None:
    """``SpareManifest.dropped_by``: the spare's paths (the live output's but those its
    differences mark absent, and those only the spare has) that the new output does
    not keep, sorted."""
    entry = b"\1" * 56
    base = {"a": entry, "b": entry, "c": entry, "d": entry}
    spare = outputs.SpareManifest(base, {"b": b"", "c": b"\2" * 56, "e": entry, "f": entry})
    assert spare.dropped_by({}) == ["a", "c", "d", "e", "f"]
    assert spare.dropped_by({"a": entry, "c": entry, "f": entry, "b": entry}) == ["d", "e"]
    assert spare.dropped_by(base | {"e": entry, "f": entry}) == []


def test_a_manifest_saved_a_few_paths_at_a_time_is_the_same_file(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths and entries are joined a chunk at a time (``SAVE_CHUNK``): the file is
    byte for byte the one saved in one chunk, and loads back whole."""
    files = {f"c/CLM-{i}/{'é' * (i % 3)}claim.json": bytes([i]) * (56 if i % 2 else 88) for i in range(7)}
    folder = tmp_path / "public"
    outputs._save(tmp_path, "manifest", folder, files)
    whole = outputs._manifest_file(tmp_path).read_bytes()
    for chunk in (1, 2, 3, 7):
        monkeypatch.setattr(outputs, "SAVE_CHUNK", chunk)
        outputs._save(tmp_path, "manifest", folder, files)
        assert outputs._manifest_file(tmp_path).read_bytes() == whole, chunk
        assert outputs._load(tmp_path, "manifest", folder) == files


def test_a_write_that_fails_fails_the_build_and_changes_nothing(scratch: Scratch, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that cannot be written fails the build, which leaves the live output as
    it was and nothing beside it, and the next build is whole."""
    out = tmp_path / "public"
    _warm(scratch, out)
    live = _tree(out)
    real = outputs._write_file
    failed: list[str] = []

    def failing(run: object, rel: str, *args: object) -> None:
        if rel == "members/MEM-0003/index.html":
            failed.append(rel)
            raise OSError("no space left on device")
        real(run, rel, *args)  # type: ignore[arg-type]
    monkeypatch.setattr(outputs, "_write_file", failing)
    _rename(scratch, "MEM-0003", "Kalgoora Alumina Holdings Pty Ltd")
    with pytest.raises(OSError, match="no space left"):
        _warm(scratch, out)
    assert failed
    assert _tree(out) == live
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []  # no new folder or trash
    monkeypatch.undo()
    _warm(scratch, out)
    _equals_cold(scratch, out, tmp_path)

"""Atomic publishing (issue 8): a build killed at any point leaves the previous output
exactly as it was, and the next build cleans up what the killed ones left."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alureg.swap import exchange

from .conftest import AT, REPO


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _build(out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "build.py", "build", "--root", str(REPO), "--out", str(out),
                             "--at", AT, "--now", f"{AT}T06:00:00Z"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_killed_build_leaves_the_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "public"
    started = time.perf_counter()
    assert _build(out).wait() == 0
    duration = time.perf_counter() - started
    previous = _tree(out)
    assert len(previous) > 300
    rng = random.Random(20261122)  # noqa: S311 (kill times: random points, the same on every run)
    moments = sorted(rng.uniform(0.05, 1.0) * duration for _ in range(6))
    for moment in moments:
        proc = _build(out)
        time.sleep(moment)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _tree(out) == previous, f"killed after {moment:.2f} s of {duration:.2f}"
    assert _build(out).wait() == 0
    assert _tree(out) == previous  # same records, same snapshot time: the same bytes
    # Leftovers of killed builds are removed; the previous output is deleted by a
    # detached process (the `build` command does not wait for it).
    deadline = time.monotonic() + 30
    while sorted(p.name for p in tmp_path.iterdir()) != ["public"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["public"]


def test_a_second_build_keeps_a_running_deletion_and_removes_a_dead_ones(tmp_path: Path) -> None:
    from alureg.swap import write_atomically

    out = tmp_path / "public"
    out.mkdir()
    running = tmp_path / f".public.old-{os.getpid()}-abc"  # this process: alive
    dead = tmp_path / ".public.old-999999999-abc"  # no such process
    stale = tmp_path / ".public.new-999999999-xyz"
    for folder in (running, dead, stale):
        (folder / "site").mkdir(parents=True)
    write_atomically(out, lambda folder, reused: (folder / "index.html").write_text("new"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["public", running.name])
    assert (out / "index.html").read_text() == "new"


def test_a_dead_builds_folder_is_deleted_in_the_background(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With background=True (the `build` command) a killed build's folder, which can be a
    whole output, is handed to a detached deleting process, not deleted while the
    build waits: nothing is deleted in this process, and the folder is then gone."""
    from alureg.swap import write_atomically

    out = tmp_path / "public"
    out.mkdir()
    stale = tmp_path / ".public.new-999999999-xyz"  # no such process
    (stale / "c").mkdir(parents=True)
    (stale / "c" / "claim.json").write_text("left by a killed build")
    import shutil

    deleted_here: list[str] = []
    monkeypatch.setattr(shutil, "rmtree", lambda path, *a, **k: deleted_here.append(str(path)))
    write_atomically(out, lambda folder, reused: (folder / "index.html").write_text("new"), background=True)
    monkeypatch.undo()
    assert deleted_here == []  # nothing deleted while the build waits
    assert not stale.exists() and (out / "index.html").read_text() == "new"
    deadline = time.monotonic() + 30
    while sorted(p.name for p in tmp_path.iterdir()) != ["public"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["public"]


def test_exchange_swaps_two_folders_in_one_step(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    if sys.platform != "linux":
        pytest.skip("renameat2 is Linux's; elsewhere the build uses two renames and recovers")
    assert exchange(a, b)
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"

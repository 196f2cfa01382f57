"""Publishing: check, then write the whole site to a temporary folder that replaces
the output folder only when everything succeeded (nothing half-built is ever served).

The site: the MkDocs shell (alureg/shell.py), the record pages (alureg/pages.py) and
the static API (alureg/api.py).

A large registry's build uses both cores where a one-change rebuild used one
(docs/adr/0012-scale.md): the cross-record rules run in a forked process while the
site is written, and the new site is swapped in only once they have passed
(alureg/check.py ``PendingCheck``); the other stages (MkDocs shell, snapshot, API,
search index, feeds) are taken one at a time by whichever of two processes is free:
a forked one from the start of writing (``_Beside``), this one once the record pages
are written (``_StageQueue``); the record pages are taken in chunks by this one from
the start, and by the forked one once no other stage is left (alureg/pages.py
``PageChunks``).
"""

from __future__ import annotations

import datetime as dt
import gc
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import buildmemo, outputs, pagereach
from .api import write_api
from .bundles import write_snapshot
from .caches import cache_dir
from .check import CheckResult, PendingCheck, open_cache, start_check
from .checkcache import CheckCache, Listing
from .demo import demo_publisher
from .errors import AluregError
from .feeds import write_feeds
from .forked import Forked, SharedCounter, can_fork
from .history import read_history
from .pagememo import shared_key
from .pagereach import Page, PageState
from .pages import PageChunks, RowMemo, fragments, write_record_pages
from .records import Kind
from .search import write_search_index
from .shell import build_shell
from .signing import KeyPair
from .sitemodel import SiteModel
from .swap import discard, write_atomically

YOUNG_GENERATION = 50_000  # objects allocated between collections during a build (``build``)


class PublishError(AluregError):
    pass


class Stages:
    """Wall time of each build stage, and the process's peak memory when it ended, so
    the next bottleneck is visible (build --timings).

    Each stage begins by moving every object alive out of the cycle collector's reach
    (``gc.freeze``; ``build`` gives them back when it ends). A build holds millions of
    long-lived objects (220,000 records' data, manifests, rows), and each full
    collection walked them all again: about 6 s of a one-change build at 100,000
    certificates (docs/adr/0012-scale.md). Young garbage is still collected."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mib: dict[str, int] = {}
        self.beside: Stages | None = None  # the stages a second process ran meanwhile (_Beside)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        gc.freeze()
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
            self.peak_mib[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux

    def text(self) -> str:
        total = sum(self.seconds.values())
        text = (f"stages (s): {self._parts()}; total {total:.1f}\n"
                f"peak memory at the end of each stage (MiB): {self._peaks()}")
        if self.beside is not None:
            text += (f"\nbeside them, in a second process (s): {self.beside._parts()}; its peak memory at the end"
                     f" of each (MiB): {self.beside._peaks()}")
        return text

    def _parts(self) -> str:
        return ", ".join(f"{name} {secs:.1f}" for name, secs in self.seconds.items())

    def _peaks(self) -> str:
        return ", ".join(f"{name} {mib:,}" for name, mib in self.peak_mib.items())


@dataclass
class BuildReport:
    at: str
    records: int  # records published
    snapshot: dict[str, Any]
    suppliers: int = 0
    feeds: int = 0
    history_available: bool = False  # the registry is a git repository
    changes: int = 0  # changes to records read from git
    stages: Stages = field(default_factory=Stages)
    linked: int = 0  # files kept in the spare or linked from the live output (unchanged)
    written: int = 0  # files written (every file of the site goes through alureg/outputs.emit)
    result: CheckResult | None = None  # None when nothing changed (alureg/buildmemo.py)
    kept: bool = False  # nothing changed since the last build: its output stays as it is
    model: SiteModel | None = None  # what the site was made from (None when nothing changed)

    _SUMMARY = ("at", "records", "snapshot", "suppliers", "feeds", "history_available", "changes")

    def summary(self) -> dict[str, Any]:
        """What the build command prints, kept by the build memo."""
        return {name: getattr(self, name) for name in self._SUMMARY}


def _page_memo(model: SiteModel, result: CheckResult) -> tuple[str, dict[str, str]]:
    """The page memo's shared key and each record's file digest (alureg/pagememo.py)."""
    digests = {r.id: result.files[r.rel][3] for r in result.valid if r.rel in result.files}
    shared = [f"{r.rel} {digests.get(r.id)}" for r in result.valid
              if r.kind in (Kind.TRUST_LIST, Kind.STANDARDS)]
    return shared_key(model, buildmemo.sources_digest(), sorted(shared)), digests


def _write(out: Path, live: Path, manifest: Path, model: SiteModel, result: CheckResult, report: BuildReport,
           stage: Stages, memo: tuple[str, dict[str, str]] | None, publisher: KeyPair,
           now: dt.datetime, use_cache: bool, background: bool, pending: PendingCheck,
           strict: bool) -> Callable[[], str]:
    """Write the site into a folder beside ``out`` and swap it in (alureg/swap.py).
    Returns what gives the new output's listing digest (alureg/buildmemo.py)."""
    spare = outputs.spare_folder(out, manifest) if use_cache else None
    with stage("manifests"):  # the live output's and the spare's
        claimed = outputs.claim_spare(spare, manifest, live) if spare is not None else None
    with stage("reach"):  # what the record pages are made from, and the pages a change reaches
        before = PageState.load(manifest) if memo else None
        state = PageState.of(model, *memo, before) if memo else None
        reach, kept_state = _reach(model, state, before, claimed)
    usable = claimed.spare if claimed is not None else None
    if spare is not None and usable is None:
        discard(spare, out, background)  # no manifest says what it holds

    trash: list[Path] = []  # files the new site replaced in the spare (alureg/outputs.py)

    def write(folder: Path, into_spare: bool) -> None:
        # With the cache, files whose bytes did not change are kept from the spare or
        # linked from the live output (alureg/outputs.py).
        trash.append(outputs.trash_folder(folder))
        with stage("manifests"):
            outputs.begin(folder, live if use_cache else folder / "no-previous-output", manifest,
                          usable if into_spare else None, claimed.live if claimed is not None else None)
        try:
            _stages(folder)
        except BaseException:
            outputs.abandon()
            raise

    def run(name: str, folder: Path, work: Path) -> Any:
        """One of the stages that write files no other stage reads (``SHARED_STAGES``);
        ``work``: an empty scratch folder for the shell."""
        if name == "shell":
            kept_rows = kept_state.rows if kept_state is not None else None
            rows = RowMemo(model, manifest / "rows", memo, reach, kept_rows) if memo else None
            return _write_shell(model, folder, work, rows, manifest if memo else None)
        if name == "snapshot":
            records, known = result.records_and_digests()
            return write_snapshot(model, records, folder, publisher, now, memo[0] if memo else None, known, reach,
                                  manifest / "trees" if memo else None)
        if name == "api":
            return write_api(model, folder, memo, reach, kept_state.lists if kept_state else None)
        if name == "search":
            return write_search_index(model, folder, memo[0] if memo else None)
        return write_feeds(model, folder, memo[0] if memo else None)

    def _stages(folder: Path) -> None:
        parallel = len(result.valid) >= PARALLEL_FROM and can_fork()
        queue = _StageQueue()
        # Made here, not by whichever process takes the shell: a second process killed
        # after a failure here cannot delete its own.
        work = tempfile.TemporaryDirectory(prefix="alureg-shell-")

        def take(name: str) -> Any:
            return run(name, folder, Path(work.name))
        # Beside the second process, this one renders the pages itself, not in forked
        # page workers: they made three writing processes on two cores. Four
        # alternating pairs of cold builds at 100,000 certificates: 66.0-68.5 s (67.6
        # median) against 66.8-79.6 (69.6), 3.4 s less user CPU, 250,000 fewer page
        # faults (docs/adr/0012-scale.md, fifteenth session). The second process
        # renders the chunks left once its own stages are done.
        chunks = PageChunks(model, folder, memo, reach) if parallel else None
        beside = _Beside(queue, take, chunks) if chunks is not None else None
        try:
            with stage("pages"):
                write_record_pages(model, folder, memo=memo, reach=reach, chunks=chunks)
            done = queue.run(stage, take)
            if beside is not None:
                with stage("beside"):  # waiting for the second process
                    done |= beside.result(stage)
        finally:
            if beside is not None:
                beside.stop()  # after a failure here: it must not write on into a folder being deleted
            work.cleanup()
        report.snapshot, report.suppliers, report.feeds = done["snapshot"], done["search"], done["feeds"]
        if state is not None:
            state.rows = done["shell"]  # the kept rows the directory pages used, for the next build
            state.lists = done["api"]  # where the API lists' chunks lie (alureg/listchunks.py)
        with stage("tidy"):
            outputs.complete()
        with stage("rules"):  # waiting for the check's cross-record rules, if they still run
            report.result = pending.result()
        if not report.result.ok(strict=strict):
            raise _refused(result.registry.root)  # nothing is swapped in

    timed = dict(stage.seconds)
    with stage("write"):  # what the stages inside do not count: the swap
        try:
            write_atomically(out, write, background=background,
                             reuse=spare if usable is not None else None, keep_previous=spare)
        except BaseException:
            outputs.abandon()
            raise
        finally:
            for folder in trash:
                discard(folder, out, background)
        listing = _Digest(outputs.entries() if use_cache else {})  # the build memo's (``_publish``)
        try:
            report.linked, report.written, _, digest = outputs.finish(live, manifest, spare)
            if state is not None and digest:
                state.save(manifest, digest)  # for the next build into this output
        except BaseException:
            listing.stop()
            raise
    stage.seconds["write"] -= sum(secs - timed.get(name, 0.0) for name, secs in stage.seconds.items()
                                  if name != "write")
    return listing.result


class _Digest:
    """The new output's listing digest (``buildmemo.output_digest``), worked out in a
    forked process while this one saves the manifests and the page state: 0.47 s of
    CPU at the end of a one-change rebuild at 100,000 certificates, when the other
    core is idle (docs/adr/0012-scale.md, nineteenth session). In this process for a small output."""

    def __init__(self, files: outputs.Manifest) -> None:
        self.files = files
        self.forked = Forked(lambda: buildmemo.output_digest(files), "output listing") \
            if len(files) >= DIGEST_BESIDE_FROM and can_fork() else None

    def result(self) -> str:
        return self.forked.result() if self.forked is not None else buildmemo.output_digest(self.files)

    def stop(self) -> None:
        if self.forked is not None:
            self.forked.stop()


DIGEST_BESIDE_FROM = 100_000  # output files; below this, forking costs more than it saves


def _reach(model: SiteModel, state: PageState | None, before: PageState | None,
           claimed: outputs.Claimed | None) -> tuple[set[Page] | None, PageState | None]:
    """The record pages a change since the live output may have changed, from the
    state its build kept (``before``; alureg/pagereach.py; None: any page may have), and
    that state (the kept directory rows its directory pages used, ``PageState.rows``,
    and where its API lists' chunks lie, ``PageState.lists``), if it is of the live output."""
    if state is None or claimed is None:
        return None, None
    if before is None or before.manifest != claimed.digest:
        return None, None  # no state, or one of another output
    ids = pagereach.changed(before, state)
    return (pagereach.reached(model, ids), before) if ids is not None else (None, None)


def _write_shell(model: SiteModel, folder: Path, work: Path, rows: RowMemo | None,
                 memo: Path | None = None) -> dict[str, str]:
    """The MkDocs pages (alureg/shell.py), made in ``work`` (an empty folder), then
    emitted into ``folder``; ``rows``: the directories' rows kept between builds;
    ``memo``: where what MkDocs wrote is kept between builds.
    Returns the kept rows' files the pages used (``RowMemo.names``)."""
    build_shell(work / "site", work, fragments(model, rows), f"{model.scheme} registry", memo)
    if rows is not None:
        rows.save()  # once every page's rows are made
    outputs.emit_tree(work / "site", folder)
    return rows.names if rows is not None else {}


PARALLEL_FROM = 3000  # valid records; below this, a second process costs more than it saves


# In the order they are taken. The shell is one of them: it reads what the pages read
# (the model, every status worked out before the fork), and made by the first process
# before the manifests were loaded it kept the second process waiting 3.7 s of a
# one-change rebuild at 100,000 certificates (docs/adr/0012-scale.md). Made with the
# manifests loaded, it raises no peak: the second process ended the shell at 1,128 MiB,
# the first had 1,207 MiB once they were loaded (that rebuild, bench at 4790c8b).
SHARED_STAGES = ("shell", "snapshot", "api", "search", "feeds")


class _StageQueue:
    """The stages but the pages, taken one at a time by whichever process is free:
    the second one (``_Beside``) from the start, this one once the pages are written.
    A one-change rebuild's pages take 5 s and a cold build's 40-82 s, so no fixed share
    suits both (100,000 certificates: docs/adr/0012-scale.md). Made before the second
    process is forked, if there is one."""

    def __init__(self) -> None:
        self.taken = SharedCounter()

    def take(self) -> str | None:
        n = self.taken.next()
        return SHARED_STAGES[n] if n < len(SHARED_STAGES) else None

    def run(self, stage: Stages, run: Callable[[str], Any]) -> dict[str, Any]:
        """Take and run stages until none is left; their results by name."""
        done: dict[str, Any] = {}
        while (name := self.take()) is not None:
            with stage(name):
                done[name] = run(name)
        return done


class _Beside:
    """A forked process that takes stages from ``queue`` while this one writes the
    record pages (a one-change rebuild of 100,000 certificates used one core of
    two), then the pages' chunks left. The files it writes and keeps are added to
    this build's (alureg/outputs.py)."""

    def __init__(self, queue: _StageQueue, run: Callable[[str], Any], pages: PageChunks) -> None:
        # The child writes its files' entries here; closed by ``result`` or ``stop``.
        spool = self.spool = tempfile.TemporaryFile(prefix="alureg-entries-")  # noqa: SIM115

        def job() -> tuple[dict[str, Any], Stages, tuple[int, int]]:
            outputs.worker_started()
            side_stage = Stages()
            done = queue.run(side_stage, run)
            with side_stage("pages"):  # the chunks the first process has not taken
                pages.render()
            return done, side_stage, outputs.spool_entries(spool)
        self.forked = Forked(job, "second build")

    def result(self, stage: Stages) -> dict[str, Any]:
        done, side_stage, counts = self.forked.result()
        with self.spool:
            outputs.add_spooled(self.spool, *counts)
        stage.beside = side_stage
        return done

    def stop(self) -> None:
        self.forked.stop()
        self.spool.close()


def build(root: Path, out: Path, at: str | None = None, *, publisher: KeyPair | None = None,
          now: dt.datetime | None = None,
          repository_url: str | None = None, use_cache: bool = False, strict: bool = False,
          delete_in_background: bool = False) -> BuildReport:
    """Check the registry and publish it to ``out``; on failure ``out`` is untouched.

    ``now`` stamps the status snapshot (default: the clock); ``at`` is the day of the
    status shown without JavaScript (default: the day of ``now``). ``publisher``
    signs the snapshot (default: the DEMO publisher key). Commits in the change
    history link to ``repository_url`` (default: alureg.toml's [repository] url).
    ``strict`` refuses warnings too. ``delete_in_background`` leaves the deletion
    of the previous output to a detached process (alureg/swap.py). ``use_cache``
    reuses the check results of unchanged record files. Claim QR codes are drawn by
    the claim pages in the holder's browser, not here."""
    thresholds = gc.get_threshold()
    # A young generation of 50,000 objects instead of 700: each build stage makes
    # millions of objects that live to its end, and every 70,000 allocations the
    # collector walked all made since the stage began (1.3 s of a rebuild after one
    # change at 100,000 certificates). Garbage in cycles waits a little longer.
    gc.set_threshold(YOUNG_GENERATION, *thresholds[1:])
    try:
        with _one_build_into(out):
            return _build(root, out, at, publisher, now, repository_url, use_cache, strict, delete_in_background)
    finally:
        gc.unfreeze()  # what the stages froze (Stages) is the collector's again
        gc.set_threshold(*thresholds)


@contextmanager
def _one_build_into(out: Path) -> Iterator[None]:
    """Refuse a second build into ``out`` while one runs: each writes its own folder
    and swaps it in atomically, but both save the output's manifests, the page state
    and the build memo with the caches, and the last to save need not be the last to
    swap. A lock (flock) on a file with those caches, held until the build and the
    processes it forked end; none where the platform has no flock."""
    if sys.platform == "win32":
        yield
        return
    import fcntl

    folder = cache_dir(out, "output")
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "build.lock", "ab") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PublishError(f"not published: another build into {out} is running; "
                               "run this one again when it has ended") from None
        yield


def _build(root: Path, out: Path, at: str | None, publisher: KeyPair | None, now: dt.datetime | None,
           repository_url: str | None, use_cache: bool, strict: bool, delete_in_background: bool) -> BuildReport:
    now = now or dt.datetime.now(dt.UTC)
    at = at or now.astimezone(dt.UTC).date().isoformat()
    publisher = publisher or demo_publisher()
    stage = Stages()
    live, manifest = out.resolve(), cache_dir(out, "output")
    started = time.time_ns()  # the build memo's racy window starts here
    found = Listing()  # the record files and their status, taken by the memo for the check
    opened: CheckCache | None = None  # the check cache, read while the memo's child compares the records
    if use_cache:
        ahead: buildmemo.RecordsAhead | None = None
        try:
            with stage("memo"):
                memo_key = buildmemo.key(root, at, f"{publisher.key_id} {publisher.public_multibase}",
                                         repository_url, strict)
                if live.is_dir() and buildmemo.RecordsAhead.pays(manifest):
                    ahead = buildmemo.RecordsAhead(manifest, memo_key, root)
            if ahead is not None:
                with stage("check cache"):  # beside the child; given up once it finds the records the same
                    opened = open_cache(root, stop=ahead.same)
            with stage("memo"):
                kept = buildmemo.lookup(manifest, memo_key, root, out, found, ahead) if live.is_dir() else None
        finally:
            if ahead is not None:
                ahead.stop()
            del ahead  # its answer, 16 MB at 220,000 records: ``found`` holds what the check needs of it
        if kept is not None:
            return BuildReport(**kept, stages=stage, kept=True)
        buildmemo.forget(manifest)
    with stage("check"):
        pending = start_check(root, at, use_cache=use_cache, found=found if found.files else None, opened=opened)
        del found, opened  # 220,000 files' status, 59.6 MiB (tracemalloc): the check has them (result.files)
    try:
        if not pending.early.ok(strict=strict):
            raise _refused(root)  # the records' own errors: no need to wait for the rules
        try:
            return _publish(root, out, at, publisher, now, repository_url, use_cache, strict,
                            delete_in_background, stage, pending, live, manifest, memo_key if use_cache else "",
                            started)
        except Exception:
            # The rules run while the site is written (alureg/check.py PendingCheck): a
            # stage that failed on records they refuse is reported as their refusal.
            if not pending.result().ok(strict=strict):
                raise _refused(root) from None
            raise
    finally:
        pending.stop()


def _refused(root: Path) -> PublishError:
    return PublishError(f"not published: the registry has errors (run: check --root {root})")


def _publish(root: Path, out: Path, at: str, publisher: KeyPair, now: dt.datetime, repository_url: str | None,
             use_cache: bool, strict: bool, delete_in_background: bool, stage: Stages, pending: PendingCheck,
             live: Path, manifest: Path, memo_key: str, started: int) -> BuildReport:
    """Write the site from a check whose rules may still run; swap it in if the whole
    check passes."""
    result = pending.early
    with stage("model"):
        model = SiteModel.build(result, at)
        model.keep_statuses()
    with stage("history"):
        model.history = read_history(root, result.valid, result.trust)
    model.repo_url = (repository_url or result.config.repository_url or "").rstrip("/") or None
    report = BuildReport(at, len(result.valid), {}, history_available=model.history.available,
                         changes=len(model.history.events), stages=stage, result=result, model=model)

    memo = _page_memo(model, result) if use_cache else None
    with stage("statuses"):  # every record's, once, before the site's writers are forked (SiteModel)
        model.counts()
    listing = _write(out, live, manifest, model, result, report, stage, memo, publisher, now, use_cache,
                   delete_in_background, pending, strict)
    if use_cache:
        with stage("memo"):
            buildmemo.save(manifest, buildmemo.Memo(memo_key, str(root.resolve()), started, result.files,
                                                    report.summary()), listing())
    return report

"""One validation pass over a registry: every finding, never stopping at the first.

load strictly -> JSON Schema -> trust list -> proofs -> cross-record rules. Later
steps see only records that passed the schema; a record that fails an early step is
reported there and left out of the steps that would misread it.

The trust list is read first; then each record's own steps (load, schema, proofs)
need nothing but the record and the trust list, so a large registry spreads them over
every core (forked workers); the cross-record rules run once, on the results. A build
starts them in a process of their own and goes on writing the site (``start_check``):
no stage uses their findings, only the decision to publish.
"""

from __future__ import annotations

import gc
import hashlib
import marshal
import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import schema
from .caches import cache_dir
from .checkcache import CheckCache, Entry, Listing, code_digest, file_entry
from .config import Config, load_config
from .editing import placeholders
from .findings import Finding, Severity
from .forked import can_fork
from .records import KIND_FILES, Kind, Record, Registry, read_record, record_names
from .rollback import rollback_findings
from .rulerun import Remembered, RulesBeside, rule_cache, run_rules
from .rules import Context
from .signing import SigningError, canonical, sorted_json_is_jcs
from .trust import TrustList, pinned_root_problems, verify_record

PARALLEL_FROM = 3000  # record files; below this, starting workers costs more than it saves


@dataclass
class CheckResult:
    config: Config
    registry: Registry
    valid: list[Record]  # records that passed their schema
    trust: TrustList
    findings: list[Finding]  # sorted
    reused: int = 0  # record files whose results came from the check cache
    # Each record file as it was read: relative path -> (size, mtime_ns, inode, SHA-256)
    files: dict[str, tuple[int, int, int, str]] = field(default_factory=dict)
    digests: dict[str, bytes] = field(default_factory=dict)  # valid records' digests by relative path

    def records_and_digests(self) -> tuple[dict[str, dict[str, Any]], dict[str, bytes]]:
        """The valid records' data by id, and their digests (alureg/snapshot.py) by id
        where the check has them: in one pass over the records (two comprehensions
        had 0.5 s of a one-change rebuild's snapshot stage in py-spy's samples at
        100,000 certificates)."""
        records: dict[str, dict[str, Any]] = {}
        known: dict[str, bytes] = {}
        digests = self.digests
        for r in self.valid:
            rid = r.id
            records[rid] = r.data
            digest = digests.get(r.rel)
            if digest is not None:
                known[rid] = digest
        return records, known

    def ok(self, *, strict: bool = False) -> bool:
        fatal = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
        return not any(f.severity in fatal for f in self.findings)


def _trust_findings(record: Record, trust: TrustList, config: Config) -> list[Finding]:
    out = [record.finding(code, message, *where) for message, where, code in trust.problems]
    out += [record.finding("SIG011", message, "keys") for message in pinned_root_problems(trust, config)]
    return out


def _proof_findings(record: Record, trust: TrustList, config: Config, checked: bool | None = None) -> list[Finding]:
    result = verify_record(record.data, record.kind, trust, config, checked)
    out = [
        record.finding(c.code, c.message, "proof", c.index)
        for c in result.checks
        if c.code is not None
    ]
    out += [record.finding(code, message, "proof") for code, message in result.missing]
    return out


@dataclass
class _Examined:
    """What one record file's own steps found."""

    index: int
    data: dict[str, Any] | None  # None: the file did not load
    valid: bool  # passed its schema
    findings: list[Finding]
    entry: Entry | None = None  # the file as read, for the caches (None: it could not be read)


def _examine(root: Path, index: int, kind: Kind, rel: str, trust: TrustList | None,
             config: Config) -> tuple[Record | None, _Examined]:
    """``rel``: the file's name relative to ``root`` (records.record_names)."""
    done = read_record(root, kind, rel)
    record, findings = done.record, done.findings
    problems: list[Finding] = []
    checked = False  # sorted_json_is_jcs(data): one walk for the proofs and the digest (signing.canonical)
    if record is not None:
        # A record fresh from `new` is reported for its placeholders alone, not for
        # every schema rule they break.
        problems = placeholders(record) or schema.validate(record)
        findings += problems
        if not problems:
            checked = done.jcs or sorted_json_is_jcs(record.data)
            if trust is not None:
                # Without a usable trust list every proof would fail; its own findings say why.
                findings += _proof_findings(record, trust, config, checked)
    valid = record is not None and not problems
    data = record.data if record is not None else None
    digest = None
    if valid and data is not None:
        with suppress(SigningError):  # then the snapshot stage works it out, and says why it cannot
            digest = hashlib.sha256(canonical(data, checked=checked)).digest()  # = snapshot.record_digest
    entry = None if done.raw is None or done.stat is None else \
        file_entry(done.raw, done.stat, data, valid, findings, digest)
    return record, _Examined(index, data, valid, findings, entry)


_JOB: tuple[Path, list[tuple[Kind, str]], TrustList | None, Config] | None = None  # read by forked workers


def _examine_chunk(indices: list[int]) -> tuple[list[int], bytes, bytes]:
    """The chunk's results: the indices of the files read, their check cache rows as
    one marshal blob, and the findings of files that could not be read (another blob).

    The parent reads a row in 13–15 µs against 20–26 µs for a pickled ``_Examined``, and
    the workers write it in 4 µs against 9–10; marshal keeps each row's data (in the
    entry and in the result alike) one object. The rows are the cache file's own
    (``Entry.row``), so the check cache writes the blob as it came instead of encoding
    the entries again (``CheckCache.adopt``: 3.4 s of a cold check at 220,000 records)."""
    assert _JOB is not None
    root, files, trust, config = _JOB
    read: list[int] = []
    rows: list[tuple[Any, ...]] = []
    unread: list[tuple[Any, ...]] = []
    for i in indices:
        kind, rel = files[i]
        done = _examine(root, i, kind, rel, trust, config)[1]
        if done.entry is not None:
            read.append(i)
            rows.append(done.entry.row(rel))
        else:
            unread.append((i, done.data, done.valid, [f.row() for f in done.findings]))
    return read, marshal.dumps(rows, 4), marshal.dumps(unread, 4)


def _from_chunk(read: list[int], blob: bytes, unread: bytes) -> tuple[list[Entry], list[_Examined]]:
    """The results ``_examine_chunk`` sent (a worker of this process: trusted): the
    entries of the files read, and every file's ``_Examined``."""
    entries = [Entry.from_row(row)[1] for row in marshal.loads(blob)]  # noqa: S302
    done = [_Examined(i, e.data, e.valid, e.findings, e) for i, e in zip(read, entries, strict=True)]
    for i, data, valid, found in marshal.loads(unread):  # noqa: S302
        done.append(_Examined(i, data, valid, [Finding(*f) for f in found]))
    return entries, done


def _examine_all(root: Path, files: list[tuple[Kind, str]], trust: TrustList | None, config: Config,
                 workers: int | None, cache: CheckCache | None = None) -> Iterable[tuple[Record | None, _Examined]]:
    """``files``: kinds and names relative to ``root`` (``read_record`` reads by name).
    ``cache``: gets the entries of the files read (``CheckCache.store``, or with the
    workers' blobs ``CheckCache.adopt``)."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(files) < PARALLEL_FROM or not can_fork():
        for i, (kind, rel) in enumerate(files):
            record, done = _examine(root, i, kind, rel, trust, config)
            if cache is not None and done.entry is not None:
                cache.store(rel, done.entry)
            yield record, done
        return
    global _JOB
    _JOB = (root, files, trust, config)
    try:
        size = 1000
        chunks = [list(range(i, min(i + size, len(files)))) for i in range(0, len(files), size)]
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            for read, blob, unread in pool.map(_examine_chunk, chunks):
                entries, examined = _from_chunk(read, blob, unread)
                if cache is not None:
                    cache.adopt(blob, [(files[i][1], entry) for i, entry in zip(read, entries, strict=True)])
                for done in examined:
                    kind, rel = files[done.index]
                    record = None if done.data is None else Record(kind, root, rel, done.data)
                    yield record, done
    finally:
        _JOB = None


def _cache_context(trust_record: Record | None, config: Config) -> str:
    """What every cached result depends on besides its file: the code, and what every
    proof result depends on, the trust list and the pinned root keys."""
    if trust_record is None:
        return f"{code_digest()} no usable trust list"
    pins = ",".join(sorted(config.root_fingerprints)) + f"/{config.root_threshold}"
    return f"{code_digest()} {hashlib.sha256(canonical(trust_record.data) + pins.encode()).hexdigest()}"


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector: building 200,000 records' data (acyclic dicts and
    lists, freed by reference counting) would otherwise trigger full collections over
    an ever larger heap, which costs more than the work itself (orjson.loads of the
    check cache: 7.8 s with the collector, 2.9 s without).

    The objects made meanwhile are then moved out of the collector's reach
    (``gc.freeze``, as each build stage does): left in the youngest generation, they
    were all walked by the first collection after it, 0.86 s at 220,000 records. Like
    every object of the build, they are still freed when no longer referenced; only a
    cycle among them would wait for ``gc.unfreeze``."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def check(root: Path, at: str, against: str | None = None, *, workers: int | None = None,
          use_cache: bool = False) -> CheckResult:
    """Check the registry at ``root`` as of the day ``at`` (YYYY-MM-DD); with
    ``against`` (a git revision), also refuse what would roll that version back.
    ``use_cache`` reuses the results of unchanged record files (alureg/checkcache.py)."""
    with _no_cycle_collection():
        examination = _examine_registry(root, at, against, workers, use_cache, None)
        # The cache is saved while the rules' workers run (their groups leave a core
        # idle part of the time: 2.6 s of rules, then 1.5 s of saving, at 220,000
        # records); ``finish`` then saves the positions they located, as a delta.
        return examination.finish(run_rules(examination.context, workers, meanwhile=examination.save_cache,
                                            remembered=examination.remembered))


class PendingCheck:
    """A check whose record files are examined and whose cross-record rules run in a
    forked process meanwhile (``RulesBeside``): a build writes the site in the
    meantime and publishes it only once ``result`` says the whole check passed
    (alureg/publish.py). ``early``: the result without the rules' findings."""

    def __init__(self, examination: Examination) -> None:
        # The rules' process makes their indexes and saves the check cache with the
        # positions they located; this one lets go of the cache and the examined files
        # (a build that held them and the indexes until the rules ended peaked about
        # 250 MiB higher).
        self.rules = RulesBeside(examination.context, examination.save_cache, examination.remembered)
        examination.release()
        self.examination = examination
        self.early = examination.early
        self._result: CheckResult | None = None

    def result(self) -> CheckResult:
        """The whole check's result (waits for the rules)."""
        if self._result is None:
            findings = self.rules.findings()
            with _no_cycle_collection():
                self._result = self.examination.finish(findings)
        return self._result

    def stop(self) -> None:
        """Stop the rules if they still run (the caller gave up first)."""
        self.rules.stop()


def start_check(root: Path, at: str, *, use_cache: bool = False, found: Listing | None = None,
                opened: CheckCache | None = None) -> PendingCheck:
    """``check`` (no ``against``), with its rules left running beside the caller.
    ``found``: the record files and their status if the caller has just taken them
    (the build memo's lookup: 220,000 files are neither listed nor looked at again;
    listing them took 0.2-0.3 s). ``opened``: the check cache, if ``open_cache`` read
    it already."""
    with _no_cycle_collection():
        return PendingCheck(_examine_registry(root, at, None, None, use_cache, found, opened))


def _cache_file(root: Path) -> Path:
    return cache_dir(root, "check") / "records.json"


def _rules_file(root: Path) -> Path:
    return cache_dir(root, "check") / "rules.marshal"


def open_cache(root: Path, stop: Callable[[], bool] | None = None) -> CheckCache | None:
    """The check cache of ``root`` as a check of it now would read it, before the record
    files are listed (a build reads it while a forked process lists and compares them:
    alureg/buildmemo.py ``RecordsAhead``); None as soon as ``stop()`` is true between
    two chunks. Its context is worked out from the trust list as ``check`` does it."""
    config = load_config(root)
    record, done = _examine(root, -1, Kind.TRUST_LIST, KIND_FILES[Kind.TRUST_LIST], None, config)
    with _no_cycle_collection():
        return CheckCache.open_unless(_cache_file(root), _cache_context(record if done.valid else None, config),
                                      stop)


# A record file's own results: its record (None: it did not load), findings, whether it
# passed its schema, and its check cache entry (None: it could not be read).
FileOutcome = tuple[Record | None, list[Finding], bool, Entry | None]


@dataclass
class Examination:
    """A registry whose record files are examined one by one; ``finish`` adds the
    cross-record rules' findings (run on ``context``) and saves the check cache."""

    root: Path
    files: list[tuple[Kind, str]]  # kind and path relative to the root (records.record_names)
    examined: dict[int, FileOutcome]
    cache: CheckCache | None
    against: str | None
    context: Context
    early: CheckResult  # its findings are the record files' own
    remembered: Remembered | None = None  # the rules' cache (with the check cache)

    def release(self) -> None:
        """Let go of what only ``save_cache`` needs (another process has it): the
        cache, the examined files, their names."""
        self.cache, self.examined, self.files = None, {}, []

    def save_cache(self) -> None:
        """Save the check cache (if used) with the positions the rules located."""
        if self.cache is None:
            return
        for i, (_, rel) in enumerate(self.files):
            record, _, _, entry = self.examined[i]
            if record is not None and entry is not None and record.located != entry.located:
                entry.located = record.located
                self.cache.mark(rel)
        self.cache.save({rel for kind, rel in self.files if kind is not Kind.TRUST_LIST})

    def finish(self, rule_findings: list[Finding]) -> CheckResult:
        """The result, with the rules' findings; saves the check cache if it is still
        held here."""
        early = self.early
        findings = list(early.findings) + rule_findings
        self.save_cache()
        if self.against is not None:
            findings += rollback_findings(self.root, self.against, early.registry)
        return CheckResult(early.config, early.registry, early.valid, early.trust, sorted(set(findings)),
                           early.reused, early.files, early.digests)


def _examine_registry(root: Path, at: str, against: str | None, workers: int | None, use_cache: bool,
                      found: Listing | None, opened: CheckCache | None = None) -> Examination:
    """``opened``: the check cache as ``open_cache`` read it, if the caller did (it is
    used if its context is still this check's)."""
    config = load_config(root)
    # Names, not Paths: a Path for each of 220,000 files and its relative name again
    # cost 0.9 s of every check; a Path is made for the files examined, by the worker.
    files = found.files if found is not None else list(record_names(root))
    stats = found.stats if found is not None else {}
    registry = Registry(root)
    findings: list[Finding] = []
    valid: list[Record] = []

    # The trust list first: every other record's proofs are checked against it.
    trust = TrustList()
    usable: TrustList | None = None
    trust_record: Record | None = None
    trust_files = [(i, f) for i, f in enumerate(files) if f[0] is Kind.TRUST_LIST]
    examined: dict[int, FileOutcome] = {}
    for i, (kind, rel) in trust_files:
        record, done = _examine(root, i, kind, rel, None, config)
        if record is not None and done.valid and usable is None:
            usable = trust = TrustList.from_data(record.data)
            trust_record = record
            done.findings += _trust_findings(record, trust, config) + _proof_findings(record, trust, config)
        examined[i] = (record, done.findings, done.valid, done.entry)

    cache = None
    context = ""
    if use_cache:
        context = _cache_context(trust_record, config)
        cache = opened if opened is not None and opened.context == context else \
            CheckCache.open(_cache_file(root), context)
    rest: list[tuple[Kind, str]] = []
    index_of: list[int] = []
    base = str(root)
    for i, (kind, rel) in enumerate(files):
        if kind is Kind.TRUST_LIST:
            continue
        entry = cache.lookup(rel, f"{base}/{rel}", stats.get(rel)) if cache is not None else None
        if entry is not None:  # a tuple, not an _Examined: 220,000 of them on a rebuild
            record = None if entry.data is None else Record(kind, root, rel, entry.data,
                                                          dict(entry.located) if entry.located else None)
            examined[i] = (record, entry.findings, entry.valid, entry)
        else:
            rest.append((kind, rel))
            index_of.append(i)
    for record, done in _examine_all(root, rest, usable, config, workers, cache):
        examined[index_of[done.index]] = (record, done.findings, done.valid, done.entry)

    seen: dict[str, tuple[int, int, int, str]] = {}  # each file as read (CheckResult.files)
    digests: dict[str, bytes] = {}
    for i, (_, rel) in enumerate(files):
        record, own, ok, entry = examined[i]
        findings += own
        if entry is not None:
            seen[rel] = entry.size, entry.mtime_ns, entry.inode, entry.sha256  # Entry.identity, inlined
            if ok and entry.digest is not None:
                digests[rel] = entry.digest
        if record is not None:
            registry.records.append(record)
            if ok:
                valid.append(record)

    early = CheckResult(config, registry, valid, trust, sorted(set(findings)), cache.hits if cache else 0, seen,
                        digests)
    remembered = rule_cache(_rules_file(root), f"{context} at {at}", seen) if use_cache else None
    return Examination(root, files, examined, cache, against, Context(registry, valid, at), early, remembered)

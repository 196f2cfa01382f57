"""Running the cross-record rules (alureg/rules.py): in this process, in forked
workers, or in a process beside a build, with their cache (alureg/rulecache.py).

Kept apart from the rules themselves: the rules go over every record and are compiled
(alureg/native.py); this module only hands them out and gathers what they found, and
stays plain Python, so that the tests can spy on its calls (a compiled module calls its
compiled neighbours directly).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import rules
from .findings import Finding
from .forked import Forked, can_fork
from .records import Kind, Record
from .rulecache import Before, Keys, RuleCache, Scope, carried, files_now, reach
from .rules import Context

PARALLEL_FROM = 3000  # valid records; below this, forking costs more than the rules
GROUPS = 4  # rules are dealt into this many groups, taken by the workers as they come free

_CONTEXT: Context | None = None  # read by forked workers


Group = tuple[list[list[Finding]], dict[int, dict[str, list[int]]]]  # a group's findings and positions


def _run_on(ctx: Context, numbers: list[int]) -> Group:
    """Run the rules ``numbers`` (indices into rules.RULES) on an inherited context: their
    findings, and the positions they located that the parent does not have (by the
    record's index in the registry: ``Record.located`` is kept by the check cache)."""
    records = ctx.registry.records
    before = [len(r.located) if r.located else 0 for r in records]
    found = [list(rules.RULES[n][1](ctx)) for n in numbers]
    located = {k: r.located for k, r in enumerate(records) if r.located and len(r.located) != before[k]}
    return found, located


def _run_group(numbers: list[int]) -> Group:
    assert _CONTEXT is not None
    return _run_on(_CONTEXT, numbers)


def _merged(records: list[Record], groups: list[list[int]], results: list[Group]) -> list[list[Finding]]:
    """The groups' findings rule by rule, in rules.RULES order; their positions put on the
    parent's records."""
    by_rule: dict[int, list[Finding]] = {}
    for numbers, (found, located) in zip(groups, results, strict=True):
        by_rule.update(zip(numbers, found, strict=True))
        for k, places in located.items():
            records[k].located = {**(records[k].located or {}), **places}
    return [by_rule[n] for n in range(len(rules.RULES))]


@dataclass
class Remembered:
    """The rules' cache of a check (alureg/rulecache.py) and what it said: ``before``,
    the last check's findings (None: none usable); ``scope``, what this run reports on
    (None: every record)."""

    cache: RuleCache
    files: dict[str, tuple[int, int, int, str]]  # the record files as the check read them
    before: Before | None = None
    scope: Scope | None = None

    def plan(self, ctx: Context) -> None:
        """Read the cache and narrow ``ctx`` to the records a change reaches."""
        self.before = self.cache.load()
        self.scope = None if self.before is None else reach(
            self.before, self.files, ctx.registry.records, ctx.of(Kind.CERTIFICATE), ctx.of(Kind.CLAIM),
            ctx.of(Kind.MEMBER))
        ctx.narrow(None if self.scope is None else self.scope.subjects)

    def files_now(self, ctx: Context) -> dict[str, tuple[str, Keys]]:
        """What a run over every record saves of each file: it needs no finding, so
        ``run_rules`` works it out while its workers run (0.43 s of a cold check's 0.9 s
        in ``keep`` at 100,000 certificates)."""
        return files_now(self.files, ctx.registry.records, ctx.valid)

    def keep(self, ctx: Context, found: list[list[Finding]],
             files: dict[str, tuple[str, Keys]] | None = None) -> list[list[Finding]]:
        """Every rule's findings, the earlier ones out of scope with this run's; saved
        for the next check unless nothing changed. ``files``: ``files_now``, if the
        caller worked it out (a run over every record)."""
        before, scope = self.before, self.scope
        if before is None or scope is None:
            files = files if files is not None else self.files_now(ctx)
        else:
            whole = {n for n, (_, fn) in enumerate(rules.RULES) if fn in rules.WHOLE}
            found = carried(before, scope, found, whole)
            if not scope.dropped:
                return found  # the cache holds these already
            files = scope.files(before)
        self.cache.save(files, found)
        return found


def rule_cache(path: Path, context: str, files: dict[str, tuple[int, int, int, str]]) -> Remembered:
    return Remembered(RuleCache(path, context, [code for code, _ in rules.RULES]), files)


def run_rules(ctx: Context, workers: int | None = None, meanwhile: Callable[[], None] | None = None,
              remembered: Remembered | None = None) -> list[Finding]:
    """Every rule's findings, in rules.RULES order. A large registry's rules run in forked
    workers, one per core (20-odd rules over 220,000 records took 5 s on one core),
    each on the context as the parent built it, unless ``remembered`` narrows them to
    what changed (then in this process). ``meanwhile``: work for this process while
    the workers run (only when there are workers)."""
    workers = workers or os.cpu_count() or 1
    if remembered is not None:
        remembered.plan(ctx)
    if workers == 1 or len(ctx.valid) < PARALLEL_FROM or not can_fork() or ctx.only is not None:
        found = [list(fn(ctx)) for _, fn in rules.RULES]
        return _flat(remembered.keep(ctx, found) if remembered is not None else found)
    global _CONTEXT
    ctx.work_out()  # once, before the fork
    groups = [list(range(g, len(rules.RULES), GROUPS)) for g in range(GROUPS)]
    _CONTEXT = ctx
    try:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            pending = pool.map(_run_group, groups)  # submitted at once
            if meanwhile is not None:
                meanwhile()
            # Every record's: with ``remembered``, the rules run in workers only in full (``plan``).
            saved = remembered.files_now(ctx) if remembered is not None else None
            results = list(pending)
    finally:
        _CONTEXT = None
    found = _merged(ctx.registry.records, groups, results)
    return _flat(remembered.keep(ctx, found, saved) if remembered is not None else found)


def _flat(found: list[list[Finding]]) -> list[Finding]:
    return [f for rows in found for f in rows]


class RulesBeside:
    """Every rule's findings, made by one forked process while the caller goes on (a
    build writes the site meanwhile and publishes it only if the rules find nothing
    fatal: alureg/publish.py); a small registry's, at once. ``findings`` waits for
    them, ``stop`` kills the process (the caller failed first)."""

    def __init__(self, ctx: Context, after: Callable[[], None], remembered: Remembered | None = None) -> None:
        """``after``: run where the rules ran, once they have (the check cache is saved
        there with the positions they located). ``remembered``: the rules' cache."""
        self.records = ctx.registry.records
        self.forked: Forked[Group] | None = None
        self.done: list[Finding] | None = None
        if len(ctx.valid) < PARALLEL_FROM or not can_fork():
            self.done = run_rules(ctx, workers=1, remembered=remembered)
            after()
        else:  # its indexes are made there, not here: this process goes on at once
            def job() -> Group:
                if remembered is not None:
                    remembered.plan(ctx)
                found, located = _run_on(ctx, list(range(len(rules.RULES))))
                if remembered is not None:
                    found = remembered.keep(ctx, found)
                after()
                return found, located
            self.forked = Forked(job, "cross-record rules")

    def findings(self) -> list[Finding]:
        if self.done is None:
            assert self.forked is not None
            self.done = _flat(_merged(self.records, [list(range(len(rules.RULES)))], [self.forked.result()]))
        return self.done

    def stop(self) -> None:
        if self.forked is not None and self.done is None:
            self.forked.stop()

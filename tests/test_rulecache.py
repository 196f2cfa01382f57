"""The rules' cache never changes a result (alureg/rulecache.py): random edits of a
copy of the sample registry (holders, ``supersedes``, ids, names, classes, states,
dates, standards, firms, claims' certificates; files added, removed and broken; the
catalogue and the day), each followed by a check that runs the rules only for what
changed and one that runs them in full. Their findings, with their positions, must be
the same. Property tests as in tests/test_properties.py (derandomised)."""

from __future__ import annotations

import marshal
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alureg import rulecache, rulerun, rules
from alureg.check import check, start_check
from alureg.loading import load_file
from alureg.yamlwrite import dump_record

from .conftest import AT, REPO

SETTINGS = settings(derandomize=True, deadline=None, max_examples=80,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DAYS = ["2015-01-01", "2019-06-30", "2020-03-01", "2021-09-15", "2023-06-01", "2024-01-15", "2025-12-31",
        AT, "2027-02-28", "2029-12-31"]
FOLDERS = {"certificate": "certificates", "member": "registry/members", "claim": "registry/claims",
           "firm": "registry/auditors"}
CLASSES = ["production-and-transformation", "industrial-users", "civil-society", "associations"]
STATES = {"certificate": ["active", "suspended", "withdrawn"], "member": ["active", "suspended", "terminated"],
          "claim": ["approved", "withdrawn"], "firm": ["active", "suspended", "withdrawn"]}


class Registry:
    """A copy of the sample registry that the edits change, file by file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for part in ("registry", "certificates"):
            shutil.copytree(REPO / part, root / part)
        shutil.copy(REPO / "alureg.toml", root / "alureg.toml")

    def names(self, kind: str) -> list[str]:
        return sorted(p.name for p in (self.root / FOLDERS[kind]).glob("*.yaml"))

    def ids(self, kind: str) -> list[str]:
        return [n.removesuffix(".yaml") for n in self.names(kind)]

    def read(self, rel: str) -> dict[str, Any] | None:
        return load_file(self.root / rel).data

    def write(self, rel: str, data: dict[str, Any]) -> None:
        (self.root / rel).write_text(dump_record(data), encoding="utf-8")


Edit = Callable[[Registry, st.DataObject], None]


def _pick(draw: st.DataObject, options: list[Any]) -> Any:
    return draw.draw(st.sampled_from(options))


def _some_id(reg: Registry, draw: st.DataObject, kind: str) -> str:
    """Mostly one of the first few ids of that kind (edits that meet make the rules'
    findings on one record depend on others); sometimes one of another kind, or none."""
    return str(_pick(draw, reg.ids(kind)[:5] * 4 + reg.ids("claim")[:1] + [f"{reg.ids(kind)[0][:3]}-9999"]))


def _field(kind: str) -> Callable[[Registry, st.DataObject, dict[str, Any]], None]:
    """An edit of one field of a record of ``kind``."""
    def edit(reg: Registry, draw: st.DataObject, data: dict[str, Any]) -> None:
        choice = _pick(draw, _FIELDS[kind])
        if choice == "id":
            data["id"] = _some_id(reg, draw, kind)
        elif choice == "history":
            history = data.get("status_history") if kind != "firm" else data["accreditations"][0]["status_history"]
            history.append({"date": _pick(draw, DAYS), "status": _pick(draw, STATES[kind]), "reason": "Edited"})
        elif choice == "holder":
            data["holder"] = _some_id(reg, draw, "member")
        elif choice == "supersedes":
            old = _pick(draw, [None, *reg.ids("certificate")[:6]])
            if old is None:
                data.pop("supersedes", None)
            else:
                data["supersedes"] = old
        elif choice == "firm":
            data["audit"]["firm"] = _some_id(reg, draw, "firm")
        elif choice == "certificates":
            data["certificates"] = draw.draw(st.lists(st.sampled_from(reg.ids("certificate")[:8]), max_size=2,
                                                      unique=True))
        elif choice == "name":
            data["name"] = _pick(draw, ["Fjordvik Aluminium AS", "Fjordvik AIuminium AS", data["name"] + " II"])
        elif choice in ("standard", "version", "class", "certification_type", "kind"):
            data[choice] = _pick(draw, _VALUES[choice])
        elif choice == "accreditation":
            data["accreditations"][0]["valid_until"] = _pick(draw, DAYS)
        else:  # a date, possibly nested ("audit.date")
            *parents, last = choice.split(".")
            target = data
            for part in parents:
                target = target[part]
            target[last] = _pick(draw, DAYS)
    return edit


_FIELDS = {
    "certificate": ["id", "holder", "supersedes", "firm", "standard", "version", "certification_type", "history",
                    "issued", "valid_from", "valid_until", "audit.date"],
    "member": ["id", "class", "joined", "history", "name"],
    "claim": ["id", "holder", "certificates", "kind", "approved", "valid_until", "history"],
    "firm": ["id", "accreditation", "history", "name"],
}
_VALUES = {"standard": ["performance", "chain-of-custody"], "version": ["V1", "V2", "V3"], "class": CLASSES,
           "certification_type": ["provisional", "full"], "kind": ["membership", "performance", "chain-of-custody"]}


@st.composite
def _edit(draw: Any) -> tuple[str, str]:
    """What to do (change, add, remove, break, catalogue) to which kind of record."""
    return draw(st.sampled_from(["change"] * 6 + ["add", "remove", "break", "catalogue"])), \
        draw(st.sampled_from(list(FOLDERS)))


def _apply(reg: Registry, draw: st.DataObject, what: str, kind: str) -> None:
    folder = FOLDERS[kind]
    name = _pick(draw, reg.names(kind)[:6])
    rel = f"{folder}/{name}"
    if what == "remove" and len(reg.names(kind)) > 2:
        (reg.root / rel).unlink()
        return
    if what == "break":
        (reg.root / rel).write_text(_pick(draw, ["id: [unclosed\n", "id: 12\n"]), encoding="utf-8")
        return
    if what == "catalogue":
        data = reg.read("registry/standards.yaml")
        assert data is not None
        data["standards"][0]["versions"][1]["no_initial_certification_from"] = _pick(draw, DAYS)
        reg.write("registry/standards.yaml", data)
        return
    data = reg.read(rel)
    if data is None:
        return  # broken by an earlier step
    if what == "add":  # under its id or another name, before or after the others: REF001's "first"
        new = f"{data['id'][:3]}-{draw.draw(st.integers(9000, 9003))}"
        data["id"] = _pick(draw, [data["id"], new])
        rel = f"{folder}/{_pick(draw, [data['id'], new, data['id'][:4] + '0'])}.yaml"
    _field(kind)(reg, draw, data)
    reg.write(rel, data)


def _texts(root: Path, at: str, *, use_cache: bool) -> list[str]:
    return [f.text() for f in check(root, at, workers=1, use_cache=use_cache).findings]


@SETTINGS
@given(steps=st.lists(st.tuples(st.lists(_edit(), min_size=1, max_size=3), st.sampled_from([AT, AT, "2027-06-30"])),
                      min_size=1, max_size=6),
       draw=st.data())
def test_incremental_rules_equal_full_ones(steps: list[tuple[list[tuple[str, str]], str]],
                                           draw: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as folder:
        reg = Registry(Path(folder))
        _texts(reg.root, AT, use_cache=True)  # the rules' cache of the sample as it is
        for edits, at in steps:
            for what, kind in edits:
                _apply(reg, draw, what, kind)
            assert _texts(reg.root, at, use_cache=True) == _texts(reg.root, at, use_cache=False)


def _scopes(monkeypatch: pytest.MonkeyPatch) -> list[rulecache.Scope | None]:
    """What each check's rules reported on (None: every record)."""
    seen: list[rulecache.Scope | None] = []
    real = rulecache.reach

    def spy(*args: Any) -> rulecache.Scope | None:
        seen.append(real(*args))
        return seen[-1]
    monkeypatch.setattr(rulerun, "reach", spy)
    return seen


@pytest.mark.parametrize("beside", [False, True])
def test_a_changed_member_runs_the_rules_for_its_own_records_alone(beside: bool, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A member's change reaches the member and its certificates and claims, not the
    rest of the registry, and the findings are a full check's. A build's rules run in
    a process of their own (``beside``), which keeps the cache as a check does: the
    next check finds nothing changed."""
    reg = Registry(tmp_path)
    scopes = _scopes(monkeypatch)
    _texts(reg.root, AT, use_cache=True)
    assert scopes == []  # nothing cached yet: in full
    data = reg.read("registry/members/MEM-0001.yaml")
    assert data is not None
    data["class"] = "civil-society"  # its certificates break RUL005
    reg.write("registry/members/MEM-0001.yaml", data)
    if beside:
        monkeypatch.setattr(rulerun, "PARALLEL_FROM", 0)
        pending = start_check(reg.root, AT, use_cache=True)
        assert pending.rules.forked is not None
        texts = [f.text() for f in pending.result().findings]
        assert scopes == []  # reached in the rules' process
    else:
        texts = _texts(reg.root, AT, use_cache=True)
        scope = scopes.pop()
        assert scope is not None
        held = {f"certificates/{n}" for n in reg.names("certificate")
                if (reg.read(f"certificates/{n}") or {}).get("holder") == "MEM-0001"}
        assert held and held <= scope.dropped
        assert "registry/members/MEM-0001.yaml" in scope.dropped
        assert len(scope.dropped) < 20  # of 89 records
    assert texts == _texts(reg.root, AT, use_cache=False)
    assert any("RUL005" in t and "MEM-0001" in t for t in texts)
    assert _texts(reg.root, AT, use_cache=True) == texts
    assert len(scopes) == 1 and scopes[0] is not None and scopes[0].dropped == set()


def test_a_damaged_rules_cache_runs_the_rules_in_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from alureg.caches import cache_dir

    reg = Registry(tmp_path)
    full = _texts(reg.root, AT, use_cache=False)
    assert _texts(reg.root, AT, use_cache=True) == full
    path = cache_dir(reg.root, "check") / "rules.marshal"
    scopes = _scopes(monkeypatch)
    context = marshal.loads(path.read_bytes())[0]  # noqa: S302 (a cache this test wrote)
    shapes = [(context, {"registry/members/MEM-0001.yaml": ("0" * 64, (7,))}, [[]] * len(rules.RULES)),
              (context, {}, [[("registry/members/MEM-0001.yaml", "1", 1, "RUL012", "x")]] * len(rules.RULES)),
              (context, {"a.yaml": "not a pair"}, [[]] * len(rules.RULES)), (context, [], []), 7]
    for damage in (b"", path.read_bytes()[:-7], b"\x00" * 64, *(marshal.dumps(s) for s in shapes)):
        path.write_bytes(damage)
        assert _texts(reg.root, AT, use_cache=True) == full
    assert scopes == []  # never read in part


def test_rules_in_workers_keep_the_cache_a_run_here_keeps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full run with the rules in workers works out what the cache keeps of each file
    while they run (``Remembered.files_now``, not after their findings come back), and
    saves the cache byte for byte as a run in this process does."""
    from alureg.caches import cache_dir

    reg = Registry(tmp_path)
    path = cache_dir(reg.root, "check") / "rules.marshal"
    calls: list[bool] = []  # for each files_now: whether the workers were running
    real = rulerun.files_now

    def spy(*args: Any) -> Any:
        calls.append(rulerun._CONTEXT is not None)
        return real(*args)
    monkeypatch.setattr(rulerun, "files_now", spy)
    here = check(reg.root, AT, workers=1, use_cache=True)
    saved_here = path.read_bytes()
    shutil.rmtree(path.parent)
    monkeypatch.setattr(rulerun, "PARALLEL_FROM", 0)
    there = check(reg.root, AT, workers=2, use_cache=True)
    assert path.read_bytes() == saved_here
    assert calls == [False, True]
    assert there.findings == here.findings


def _set(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.update(fields)


# Each: edits made before the rules' cache is written, then the change, and a finding
# the change must bring on a record it did not touch, reached by one step of the reach
# alone (its other steps do not reach that record).
REACHED = {
    "a certificate now superseding what another one does": (
        [("certificates/CRT-000110.yaml", _set(supersedes="CRT-000999"))],  # no such certificate: no holder
        [("certificates/CRT-000105.yaml", _set(supersedes="CRT-000999"))],
        "certificates/CRT-000110.yaml", "CRT-000999 is already superseded by CRT-000105"),
    "a cycle through four certificates of four holders": (
        [("certificates/CRT-000105.yaml", _set(supersedes="CRT-000107")),
         ("certificates/CRT-000107.yaml", _set(supersedes="CRT-000111")),
         ("certificates/CRT-000111.yaml", _set(supersedes="CRT-000113"))],
        [("certificates/CRT-000113.yaml", _set(supersedes="CRT-000105"))],
        "certificates/CRT-000107.yaml", "supersession forms a cycle"),
    "a successor of another holder ends a Performance certificate": (
        [],
        [("certificates/CRT-000105.yaml", _set(supersedes="CRT-000111", valid_from="2023-12-02"))],
        "certificates/CRT-000112.yaml", "RUL004"),
}


@pytest.mark.parametrize("case", list(REACHED))
def test_a_change_reaches_the_records_whose_findings_it_moves(case: str, tmp_path: Path) -> None:
    before, change, rel, expected = REACHED[case]
    reg = Registry(tmp_path)
    for edited, edit in before:
        data = reg.read(edited)
        assert data is not None
        edit(data)
        reg.write(edited, data)
    _texts(reg.root, AT, use_cache=True)
    for edited, edit in change:
        data = reg.read(edited)
        assert data is not None
        edit(data)
        reg.write(edited, data)
    texts = _texts(reg.root, AT, use_cache=True)
    assert texts == _texts(reg.root, AT, use_cache=False)
    assert any(t.startswith(rel) and expected in t for t in texts)


def test_a_removed_file_is_forgotten_once_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry(tmp_path)
    _texts(reg.root, AT, use_cache=True)
    (reg.root / "registry/claims/CLM-10001.yaml").unlink()
    scopes = _scopes(monkeypatch)
    texts = _texts(reg.root, AT, use_cache=True)
    assert texts == _texts(reg.root, AT, use_cache=False)
    assert _texts(reg.root, AT, use_cache=True) == texts
    assert len(scopes) == 2 and scopes[0] is not None and scopes[1] is not None
    assert "registry/claims/CLM-10001.yaml" in scopes[0].dropped
    assert scopes[1].dropped == set()  # not seen as removed again


def test_a_rule_reports_on_its_records_as_a_full_run_does(tmp_path: Path) -> None:
    """Narrowed to some records (``Context.only``), each rule reports on them what it
    reports in full, whatever the reach: here a certificate superseding one that
    supersedes itself (which claims nothing: REF005 reports it alone)."""
    reg = Registry(tmp_path)
    for rel, old in (("certificates/CRT-000105.yaml", "CRT-000105"), ("certificates/CRT-000110.yaml", "CRT-000105")):
        data = reg.read(rel)
        assert data is not None
        data["supersedes"] = old
        reg.write(rel, data)
    result = check(reg.root, AT, workers=1)
    full = [f for f in result.findings if f.code.startswith(("REF", "RUL"))]
    for record in result.valid:
        ctx = rules.Context(result.registry, result.valid, AT, only={id(record)})
        mine = sorted({f for _, fn in rules.RULES if fn not in rules.WHOLE for f in fn(ctx)})
        assert mine == sorted({f for f in full if f.path == record.rel and f.code != "RUL014"}), record.rel

"""Every cross-record rule, one row each: change the sample, re-sign it with the demo
keys (so only the rule can object), check, and expect that code at that file."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from alureg.check import check
from alureg.errors import AluregError
from alureg.findings import CODES, Finding, Severity
from alureg.records import Kind
from alureg.signing import sign_record, unsigned

from .conftest import AT, REPO, Scratch

Edit = Callable[[dict[str, Any]], None]


def setter(path: str, value: Any) -> Edit:
    """An edit that sets a dotted path, e.g. 'audit.date'."""
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = data
        for part in parents:
            target = target[part]
        target[last] = value
    return edit


def add_history(date: str, status: str, reason: str = "Test change") -> Edit:
    return lambda d: d["status_history"].append({"date": date, "status": status, "reason": reason})


@dataclass
class Row:
    id: str
    file: str
    edit: Edit | None  # None: the setup below does everything
    code: str
    setup: Callable[[Scratch], None] | None = None
    also: set[str] = field(default_factory=set)  # other codes this change rightly causes


def _copy(src: str, dst: str) -> Callable[[Scratch], None]:
    return lambda s: shutil.copy(s.root / src, s.root / dst)


def _rename(src: str, dst: str) -> Callable[[Scratch], None]:
    return lambda s: (s.root / src).rename(s.root / dst)


def _drop_coc_v1(data: dict[str, Any]) -> None:
    coc = next(s for s in data["standards"] if s["id"] == "chain-of-custody")
    coc["versions"] = [v for v in coc["versions"] if v["version"] != "V1"]


def _sign_with(s: Scratch, rel: str, edit: Edit, *key_ids: str) -> None:
    data = s.read(rel)
    edit(data)
    data = unsigned(data)
    for key_id in key_ids:
        data = sign_record(data, s.keys[key_id], "2026-11-20T09:00:00Z")
    s.write(rel, data)


ROWS = [
    Row("duplicate-id", "registry/members/MEM-0999.yaml", None, "REF001",
        setup=_copy("registry/members/MEM-0002.yaml", "registry/members/MEM-0999.yaml"), also={"REF002"}),
    Row("file-name-not-id", "registry/claims/CLM-19999.yaml", None, "REF002",
        setup=_rename("registry/claims/CLM-10019.yaml", "registry/claims/CLM-19999.yaml")),
    Row("dangling-holder", "registry/claims/CLM-10016.yaml", setter("holder", "MEM-9999"), "REF003"),
    Row("look-alike-name", "registry/members/MEM-0003.yaml", setter("name", "Fjordvik Aluminium A\u0405"), "RUL014"),
    Row("dangling-certificate", "registry/claims/CLM-10002.yaml", setter("certificates", ["CRT-999999"]),
        "REF003", also={"RUL007"}),
    Row("dangling-audit-firm", "certificates/CRT-000101.yaml", None, "REF003",
        setup=lambda s: _sign_with(s, "certificates/CRT-000101.yaml", setter("audit.firm", "AUD-999"),
                                   "auditor-aud-001", "secretariat-2026"), also={"SIG009"}),
    Row("certificate-of-another-holder", "registry/claims/CLM-10002.yaml",
        setter("certificates", ["CRT-000105"]), "REF004", also={"RUL006"}),
    Row("supersedes-other-holder", "certificates/CRT-000110.yaml", setter("supersedes", "CRT-000105"), "REF005"),
    Row("supersession-cycle", "certificates/CRT-000101.yaml", setter("supersedes", "CRT-000103"), "REF005",
        also={"RUL004"}),  # CRT-000103 now counts as superseded, leaving CRT-000104 without it
    Row("audit-after-issue", "certificates/CRT-000105.yaml", setter("audit.date", "2024-07-01"), "RUL001"),
    Row("ends-before-start", "registry/claims/CLM-10016.yaml", setter("valid_until", "2019-01-01"), "RUL001"),
    Row("provisional-too-long", "certificates/CRT-000115.yaml", setter("valid_until", "2027-06-30"), "RUL002"),
    Row("full-too-long", "certificates/CRT-000105.yaml", setter("valid_until", "2027-07-01"), "RUL002"),
    Row("v2-initial-after-cutoff", "certificates/CRT-000105.yaml", setter("version", "V2"), "RUL003"),
    Row("coc-without-performance", "certificates/CRT-000104.yaml", None, "RUL004",
        setup=lambda s: s.change("certificates/CRT-000103.yaml", add_history("2026-02-11", "suspended"))),
    Row("class-may-not-certify", "certificates/CRT-000111.yaml", None, "RUL005",
        setup=lambda s: s.change("registry/members/MEM-0004.yaml", setter("class", "downstream-supporters"))),
    Row("claim-outlives-certificate", "registry/claims/CLM-10009.yaml", setter("valid_until", "2027-12-31"),
        "RUL006"),
    Row("claim-before-certificate", "registry/claims/CLM-10009.yaml",
        lambda d: (setter("approved", "2024-03-02")(d), setter("date", "2024-03-02")(d["status_history"][0])),
        "RUL006"),
    Row("coc-claim-without-performance", "registry/claims/CLM-10013.yaml",
        setter("certificates", ["CRT-000125"]), "RUL007"),
    Row("membership-claim-with-certificate", "registry/claims/CLM-10003.yaml",
        setter("certificates", ["CRT-000103"]), "RUL007", also={"RUL006"}),
    Row("firm-not-accredited", "certificates/CRT-000107.yaml", setter("version", "V3"), "RUL008"),
    Row("version-not-in-catalogue", "certificates/CRT-000112.yaml", None, "RUL009",
        setup=lambda s: s.change("registry/standards.yaml", _drop_coc_v1)),
    Row("gtin-check-digit", "registry/claims/CLM-10001.yaml", setter("product.gtin", "2000000000016"), "RUL010"),
    Row("change-after-withdrawal", "certificates/CRT-000113.yaml", add_history("2024-05-01", "active"), "RUL011"),
    Row("history-out-of-order", "registry/members/MEM-0106.yaml", add_history("2026-01-01", "active"), "RUL011"),
    Row("history-wrong-start", "registry/claims/CLM-10016.yaml", setter("approved", "2019-04-02"), "RUL011"),
    Row("must-certify-warning", "registry/members/MEM-0012.yaml", None, "RUL012",
        setup=lambda s: s.change("registry/members/MEM-0012.yaml", lambda d: (
            d.update(joined="2023-01-01"), d["status_history"][0].update(date="2023-01-01")))),
    Row("placeholder-left", "registry/members/MEM-0003.yaml", setter("name", "<FILL IN: name>"), "RUL013"),
    Row("schema", "registry/members/MEM-0003.yaml", setter("country", "XX"), "SCH001"),
    Row("unknown-field", "certificates/CRT-000101.yaml", setter("status", "active"), "SCH001"),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_rule(row: Row, scratch: Scratch) -> None:
    if row.setup:
        row.setup(scratch)
    if row.edit:
        scratch.change(row.file, row.edit)
    findings = check(scratch.root, AT).findings
    at_file = [f for f in findings if f.path == row.file and f.code == row.code]
    assert at_file, f"expected {row.code} at {row.file}; got {[f.text() for f in findings]}"
    assert all(f.line >= 1 and f.col >= 1 for f in at_file)
    assert {f.code for f in findings} <= {row.code} | row.also, [f.text() for f in findings]


def test_every_rule_code_has_a_row() -> None:
    rule_codes = {c for c in CODES if c.startswith(("REF", "RUL"))}
    covered = {r.code for r in ROWS} | {c for r in ROWS for c in r.also}
    assert rule_codes <= covered, rule_codes - covered


def test_warning_is_not_an_error(scratch: Scratch) -> None:
    scratch.change("registry/members/MEM-0012.yaml", lambda d: (
        d.update(joined="2023-01-01"), d["status_history"][0].update(date="2023-01-01")))
    result = check(scratch.root, AT)
    assert [f.code for f in result.findings] == ["RUL012"]
    assert result.findings[0].severity is Severity.WARNING
    assert result.ok() and not result.ok(strict=True)


def test_all_findings_in_one_pass(scratch: Scratch) -> None:
    """Several unrelated problems are all reported, sorted by file and position."""
    scratch.change("registry/claims/CLM-10001.yaml", setter("product.gtin", "2000000000016"))
    scratch.change("certificates/CRT-000115.yaml", setter("valid_until", "2027-06-30"))
    scratch.change("registry/members/MEM-0003.yaml", setter("country", "XX"))
    dup = scratch.root / "registry/members/MEM-0201.yaml"
    dup.write_text(dup.read_text().replace("\n", "\nid: MEM-9999\n", 1))  # the first value is kept
    findings = check(scratch.root, AT).findings
    assert [(f.path, f.code) for f in findings] == [
        ("certificates/CRT-000115.yaml", "RUL002"),
        ("registry/claims/CLM-10001.yaml", "RUL010"),
        ("registry/members/MEM-0003.yaml", "SCH001"),
        ("registry/members/MEM-0201.yaml", "YML002"),
    ]
    assert findings == sorted(findings)


def test_broken_record_is_not_a_dangling_reference(scratch: Scratch) -> None:
    """A referenced record with its own errors is reported once, not again as missing."""
    scratch.change("registry/members/MEM-0003.yaml", setter("country", "XX"))
    codes = {(f.path, f.code) for f in check(scratch.root, AT).findings}
    assert codes == {("registry/members/MEM-0003.yaml", "SCH001")}


def test_sample_registry_passes() -> None:
    result = check(REPO, AT)
    assert result.findings == []
    counts = {k: sum(1 for r in result.valid if r.kind is k) for k in Kind}
    assert counts[Kind.MEMBER] >= 25 and counts[Kind.AUDIT_FIRM] >= 3
    assert counts[Kind.CERTIFICATE] >= 20 and counts[Kind.CLAIM] >= 15


def test_rules_in_forked_workers_equal_one_process(scratch: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row's breakage at once, so that nearly every rule reports: the rules run
    in forked workers (a large registry) give the findings, in order and with their
    positions, and the positions the records keep for the check cache, of one process."""
    from alureg import rulerun, rules

    for row in ROWS:
        try:
            if row.setup:
                row.setup(scratch)
            if row.edit:
                scratch.change(row.file, row.edit)
        except AluregError:
            continue  # a record that cannot be signed again after an earlier row's change
    ran: list[str] = []  # rules run in this process (a worker appends to its own copy)

    def counted(code: str, fn: rules.Rule) -> rules.Rule:
        def run(ctx: rules.Context) -> Iterator[Finding]:
            ran.append(code)
            yield from fn(ctx)
        return run
    monkeypatch.setattr(rules, "RULES", [(code, counted(code, fn)) for code, fn in rules.RULES])
    serial = check(scratch.root, AT, workers=1)
    assert len(ran) == len(rules.RULES)
    ran.clear()
    monkeypatch.setattr(rulerun, "PARALLEL_FROM", 1)
    parallel = check(scratch.root, AT, workers=2)
    assert ran == []  # every rule ran in a worker
    codes = {f.code for f in serial.findings if f.code.startswith(("REF", "RUL"))}
    assert len(codes) >= 12
    assert [f.text() for f in parallel.findings] == [f.text() for f in serial.findings]
    located = {r.rel: r.located for r in serial.registry.records if r.located}
    assert len(located) >= 10
    assert {r.rel: r.located for r in parallel.registry.records if r.located} == located

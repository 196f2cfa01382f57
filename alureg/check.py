"""One validation pass over a registry: every finding, never stopping at the first.

load strictly -> JSON Schema -> trust list -> proofs -> cross-record rules. Later
steps see only records that passed the schema; a record that fails an early step is
reported there and left out of the steps that would misread it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import schema
from .config import Config, load_config
from .editing import placeholders
from .findings import Finding, Severity
from .records import Kind, Record, Registry, load_registry
from .rollback import rollback_findings
from .rules import Context, run_rules
from .trust import TrustList, pinned_root_problems, verify_record


@dataclass
class CheckResult:
    config: Config
    registry: Registry
    valid: list[Record]  # records that passed their schema
    trust: TrustList
    findings: list[Finding]  # sorted

    def ok(self, *, strict: bool = False) -> bool:
        fatal = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
        return not any(f.severity in fatal for f in self.findings)


def _trust_findings(record: Record, trust: TrustList, config: Config) -> list[Finding]:
    out = [record.finding("SIG011", message, *where) for message, where in trust.problems]
    out += [record.finding("SIG011", message, "keys") for message in pinned_root_problems(trust, config)]
    return out


def _proof_findings(record: Record, trust: TrustList, config: Config) -> list[Finding]:
    result = verify_record(record.data, record.kind, trust, config)
    out = [
        record.finding(c.code, c.message, "proof", c.index)
        for c in result.checks
        if c.code is not None
    ]
    out += [record.finding(code, message, "proof") for code, message in result.missing]
    return out


def check(root: Path, at: str, against: str | None = None) -> CheckResult:
    """Check the registry at ``root`` as of the day ``at`` (YYYY-MM-DD); with
    ``against`` (a git revision), also refuse what would roll that version back."""
    config = load_config(root)
    registry, findings = load_registry(root)

    valid: list[Record] = []
    for record in registry.records:
        # A record fresh from `new` is reported for its placeholders alone, not for
        # every schema rule they break.
        problems = placeholders(record) or schema.validate(record)
        findings += problems
        if not problems:
            valid.append(record)

    trust = TrustList()
    trust_record = next((r for r in valid if r.kind is Kind.TRUST_LIST), None)
    if trust_record is not None:
        trust = TrustList.from_data(trust_record.data)
        findings += _trust_findings(trust_record, trust, config)
        # Without a usable trust list every proof would fail; its own findings say why.
        for record in valid:
            findings += _proof_findings(record, trust, config)

    findings += run_rules(Context(registry, valid, at))
    if against is not None:
        findings += rollback_findings(root, against, registry)
    return CheckResult(config, registry, valid, trust, sorted(set(findings)))

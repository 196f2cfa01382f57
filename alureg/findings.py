"""Findings: what one validation pass reports, and the catalogue of stable codes.

Every problem the checker can report has a code listed in ``CODES``. The codes are
stable: tools and people grep for them, and ``docs/checks.md`` is tested against
this table, so a new check needs a row here first.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Code:
    code: str
    severity: Severity
    title: str


def _codes(*rows: tuple[str, Severity, str]) -> dict[str, Code]:
    return {code: Code(code, sev, title) for code, sev, title in rows}


E, W = Severity.ERROR, Severity.WARNING

CODES: dict[str, Code] = _codes(
    # Loading: the file is not plain, strict data.
    ("YML001", E, "file is not valid YAML"),
    ("YML002", E, "duplicate key in a mapping"),
    ("YML003", E, "anchor or alias used"),
    ("YML004", E, "explicit tag used"),
    ("YML005", E, "text is not Unicode NFC"),
    ("YML006", E, "file larger than the size limit"),
    ("YML007", E, "data nested deeper than the limit"),
    ("YML008", E, "file is empty or its top level is not a mapping"),
    ("YML009", E, "mapping key is not a string"),
    ("YML010", E, "number that JSON cannot carry exactly"),
    ("YML011", E, "file is not UTF-8"),
    ("YML012", E, "more than one YAML document in a file"),
    # Schema.
    ("SCH001", E, "record does not match its JSON Schema"),
    # Signatures and trust.
    ("SIG001", E, "record has no proof"),
    ("SIG002", E, "proof is malformed"),
    ("SIG003", E, "signature does not verify"),
    ("SIG004", E, "proof by a key not in the trust list"),
    ("SIG005", E, "proof by a revoked key"),
    ("SIG006", E, "proof made outside the key's validity window"),
    ("SIG007", E, "key's role may not sign this kind of record"),
    ("SIG008", E, "required signer missing"),
    ("SIG009", E, "auditor key does not belong to the certificate's audit firm"),
    ("SIG010", E, "trust list not signed by the pinned root threshold"),
    ("SIG011", E, "trust list is inconsistent"),
    ("SIG012", E, "proof dated after the day of the check"),
    ("SIG013", E, "trust-list key is not a safe Ed25519 public key"),
    # References and identity.
    ("REF001", E, "id is not unique"),
    ("REF002", E, "file name does not equal the record id"),
    ("REF003", E, "reference to a record that does not exist"),
    ("REF004", E, "reference to a record of the wrong kind or holder"),
    ("REF005", E, "supersession is inconsistent"),
    # Scheme rules.
    ("RUL001", E, "dates out of order"),
    ("RUL002", E, "validity period longer than the certification type allows"),
    ("RUL003", E, "standard version not allowed for an initial certification"),
    ("RUL004", E, "chain-of-custody holder lacks an active Performance Standard certificate"),
    ("RUL005", E, "member class may not hold certificates"),
    ("RUL006", E, "claim validity outside its certificates' validity"),
    ("RUL007", E, "claim kind does not match its certificates' standards"),
    ("RUL008", E, "audit firm not accredited for the standard on the audit date"),
    ("RUL009", E, "standard or version not in the standards catalogue"),
    ("RUL010", E, "GTIN check digit is wrong"),
    ("RUL011", E, "status history is inconsistent"),
    ("RUL012", W, "member that must certify has no certificate in force two years after joining"),
    ("RUL013", E, "placeholder left in a new record"),
    ("RUL014", W, "name looks like another organisation's name"),
    # Rollback guard (check --against REV): what a change may not take away.
    ("ROL001", E, "record deleted"),
    ("ROL002", E, "earlier history entry rewritten or removed"),
    ("ROL003", E, "date moved backwards"),
    ("ROL004", E, "older version of a record put back"),
    ("ROL005", E, "trust-list key removed, replaced or unrevoked"),
)


@dataclass(frozen=True, order=True)
class Finding:
    """One problem, located in a file. Ordering sorts findings for output."""

    path: str
    line: int
    col: int
    code: str
    message: str

    @property
    def severity(self) -> Severity:
        return CODES[self.code].severity

    def row(self) -> tuple[str, int, int, str, str]:
        """Its fields as a tuple (``Finding(*row)`` makes it again): for marshal."""
        return self.path, self.line, self.col, self.code, self.message

    def __reduce__(self) -> tuple[type[Finding], tuple[str, int, int, str, str]]:
        # Pickled as its fields: a compiled frozen dataclass (alureg/native.py) cannot
        # be unpickled field by field, and the row is smaller anyway.
        return Finding, self.row()

    def text(self) -> str:
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        return f"{self.path}:{self.line}:{self.col}: {self.code} {prefix}{self.message}"

    def github(self) -> str:
        level = "warning" if self.severity is Severity.WARNING else "error"
        # GitHub workflow commands need %, CR and LF escaped in the message.
        msg = self.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return (
            f"::{level} file={self.path},line={self.line},col={self.col},"
            f"title={self.code}::{msg}"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
        }


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.ERROR]


def warnings(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.WARNING]

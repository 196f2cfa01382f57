"""What the site shows, computed once from a checked registry: records by id, the
relations between them, status at the build date, and the compact status data the
browser uses to recompute status at view time (site/assets/status.js)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .check import CheckResult
from .history import Event, History
from .records import Kind
from .status import Status, StatusIndex, certificate_status, claim_status, member_status

Data = dict[str, Any]

CLASS_NAMES = {
    "production-and-transformation": "Production and Transformation",
    "industrial-users": "Industrial Users",
    "downstream-supporters": "Downstream Supporters",
    "civil-society": "Civil Society",
    "associations": "Associations",
    "general-supporters": "General Supporters",
}
ACTIVITY_NAMES = {
    "bauxite-mining": "Bauxite mining",
    "alumina-refining": "Alumina refining",
    "aluminium-smelting": "Aluminium smelting",
    "remelting-refining": "Aluminium re-melting/refining",
    "casthouse": "Casthouse",
    "semi-fabrication": "Semi-fabrication",
    "material-conversion": "Material conversion",
    "other-manufacturing": "Other manufacturing or sale of products containing aluminium",
    "post-casthouse": "Post-casthouse",
}
MATERIAL_NAMES = {
    "asi-bauxite": "CoC Bauxite",
    "asi-alumina": "CoC Alumina",
    "asi-aluminium": "CoC Aluminium",
    "eligible-scrap": "Eligible scrap",
}
STANDARD_NAMES = {"performance": "Performance Standard", "chain-of-custody": "Chain of Custody"}
CLAIM_KIND_NAMES = {
    "membership": "Membership claim",
    "performance": "Performance Standard claim",
    "chain-of-custody": "Chain-of-custody product claim",
}
STATE_LABELS = {
    "active": "Active",
    "suspended": "Suspended",
    "withdrawn": "Withdrawn",
    "expired": "Expired",
    "not-yet-valid": "Not yet valid",
    "superseded": "Superseded",
    "resigned": "Resigned",
    "terminated": "Terminated",
    "not-yet-member": "Not yet a member",
    "valid": "Valid",
    "not-valid": "Not valid",
}


@dataclass
class SiteModel:
    at: str
    scheme: str
    site_url: str
    members: dict[str, Data] = field(default_factory=dict)
    certificates: dict[str, Data] = field(default_factory=dict)
    claims: dict[str, Data] = field(default_factory=dict)
    firms: dict[str, Data] = field(default_factory=dict)
    standards: Data = field(default_factory=dict)
    trust: Data = field(default_factory=dict)
    index: StatusIndex = field(default_factory=StatusIndex)
    certs_of: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    claims_of: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    claims_on: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    last_changed: str = ""
    root_fingerprints: list[str] = field(default_factory=list)
    root_threshold: int = 0
    history: History = field(default_factory=History)  # from git, when the registry is in a repository
    repo_url: str | None = None  # commits link to <repo_url>/commit/<sha>
    statuses: dict[str, dict[str, Status]] | None = None  # by kind (m, c, l) and id: see keep_statuses()
    # Each record's status data encoded, by list and id, with the statuses kept (alureg/pages.py status_json).
    status_parts: dict[str, dict[str, str]] = field(
        default_factory=lambda: {"members": {}, "certificates": {}, "claims": {}})
    kept_counts: dict[str, Counter[str]] | None = None  # ``counts`` once worked out, with the statuses kept

    @classmethod
    def build(cls, result: CheckResult, at: str) -> SiteModel:
        model = cls(at, result.config.scheme_name, result.config.site_url,
                    root_fingerprints=sorted(result.config.root_fingerprints),
                    root_threshold=result.config.root_threshold)
        stores = {Kind.MEMBER: model.members, Kind.CERTIFICATE: model.certificates,
                  Kind.CLAIM: model.claims, Kind.AUDIT_FIRM: model.firms}
        created: list[str] = []
        for r in sorted(result.valid, key=lambda r: r.id):
            created += [p["created"] for p in r.data.get("proof", [])]
            if r.kind in stores:
                stores[r.kind][r.id] = r.data
            elif r.kind is Kind.STANDARDS:
                model.standards = r.data
            elif r.kind is Kind.TRUST_LIST:
                model.trust = r.data
        model.last_changed = max(created, default="")[:10]
        model.index = StatusIndex.build(model.members.values(), model.certificates.values())
        for cid, cert in model.certificates.items():
            model.certs_of[cert["holder"]].append(cid)
        for cid, claim in model.claims.items():
            model.claims_of[claim["holder"]].append(cid)
            for cert_id in claim["certificates"]:
                model.claims_on[cert_id].append(cid)
        return model

    # --- history ----------------------------------------------------------------------
    def events_of(self, record_id: str) -> list[Event]:
        return self.history.newest(events=self.history.by_record.get(record_id, []))

    def commit_url(self, sha: str) -> str | None:
        return f"{self.repo_url}/commit/{sha}" if self.repo_url else None

    # --- status at the build date -------------------------------------------------
    def keep_statuses(self) -> None:
        """Work out each record's status once per build, not once per page, row, list
        and count that shows it (the build; the records must not change after this).
        Off by default: tests that record which records a page reads need every read
        to happen (tests/test_pagememo.py)."""
        self.statuses = {"m": {}, "c": {}, "l": {}}
        self.kept_counts = None

    # Each looks its kept status up first, without a closure or a call for the work: a
    # cold build at 100,000 certificates looks statuses up millions of times (340 ns a
    # kept one through a shared helper, 100 here; docs/adr/0012-scale.md).
    def member_status(self, member_id: str) -> Status:
        kept = self.statuses["m"] if self.statuses is not None else None
        found = kept.get(member_id) if kept is not None else None
        if found is None:
            found = member_status(self.members[member_id], self.at)
            if kept is not None:
                kept[member_id] = found
        return found

    def cert_status(self, cert_id: str) -> Status:
        kept = self.statuses["c"] if self.statuses is not None else None
        found = kept.get(cert_id) if kept is not None else None
        if found is None:
            found = certificate_status(self.certificates[cert_id], self.at, self.index.successors.get(cert_id, ()))
            if kept is not None:
                kept[cert_id] = found
        return found

    def claim_status(self, claim_id: str) -> Status:
        kept = self.statuses["l"] if self.statuses is not None else None
        found = kept.get(claim_id) if kept is not None else None
        if found is None:
            found = claim_status(self.claims[claim_id], self.at, self.index, self.member_status, self.cert_status)
            if kept is not None:
                kept[claim_id] = found
        return found

    def listed(self, member_id: str) -> bool:
        """Suspended members are hidden from the public directory (their pages stay)."""
        return self.member_status(member_id).state != "suspended"

    def successor_of(self, cert_id: str) -> str | None:
        succ = self.index.successors.get(cert_id)
        return sorted(succ, key=lambda s: s["valid_from"])[0]["id"] if succ else None

    def counts(self) -> dict[str, Counter[str]]:
        """How many records of each list are in each state. Kept with the statuses:
        counted again, 220,000 kept statuses took 0.28 s of a one-change rebuild's
        shell stage (docs/adr/0012-scale.md, nineteenth session)."""
        if self.kept_counts is None:
            if self.statuses is None:
                return {
                    "members": Counter(self.member_status(m).state for m in self.members),
                    "certificates": Counter(self.cert_status(c).state for c in self.certificates),
                    "claims": Counter(self.claim_status(c).state for c in self.claims),
                }
            kept = _every_status(self, self.statuses)
            self.kept_counts = {name: Counter(s.state for s in kept[key].values())
                                for name, key in (("members", "m"), ("certificates", "c"), ("claims", "l"))}
        return {name: Counter(counted) for name, counted in self.kept_counts.items()}  # the caller's to change

    # --- compact data for status.js ------------------------------------------------
    def status_data(self, members: Iterable[str] = (), certificates: Iterable[str] = (),
                    claims: Iterable[str] = (), *, reasons: bool = True) -> Data:
        """Just what status.js needs to recompute these records' status at view time.

        A claim pulls in its holder and certificates; ``reasons=False`` drops the
        reason texts (directory pages show only the state)."""
        claims = list(claims)
        member_ids, cert_ids = self.status_ids(members, certificates, claims)
        return {
            "built": self.at,
            "members": {m: self.member_entry(m, reasons) for m in sorted(member_ids) if m in self.members},
            "certificates": {c: self.cert_entry(c, reasons) for c in sorted(cert_ids) if c in self.certificates},
            "claims": {c: self.claim_entry(c, reasons) for c in sorted(claims)},
        }

    def status_ids(self, members: Iterable[str], certificates: Iterable[str],
                   claims: list[str]) -> tuple[set[str], set[str]]:
        """The members and certificates ``status_data`` holds: those given, and each
        claim's holder and certificates."""
        member_ids, cert_ids = set(members), set(certificates)
        for cid in claims:
            member_ids.add(self.claims[cid]["holder"])
            cert_ids.update(self.claims[cid]["certificates"])
        return member_ids, cert_ids

    @staticmethod
    def _hist(entries: list[Data], reasons: bool) -> list[list[str]]:
        return [[e["date"], e["status"], e["reason"]] if reasons else [e["date"], e["status"]] for e in entries]

    def member_entry(self, m: str, reasons: bool = True) -> Data:
        """A member's entry in ``status_data``."""
        member = self.members[m]
        return {"joined": member["joined"], "h": self._hist(member["status_history"], reasons)}

    def cert_entry(self, c: str, reasons: bool = True) -> Data:
        """A certificate's entry in ``status_data``."""
        cert = self.certificates[c]
        return {"from": cert["valid_from"], "until": cert["valid_until"], "issued": cert["issued"],
                "h": self._hist(cert["status_history"], reasons),
                "succ": sorted([s["id"], s["valid_from"]] for s in self.index.successors.get(c, ()))}

    def claim_entry(self, c: str, reasons: bool = True) -> Data:
        """A claim's entry in ``status_data``."""
        claim = self.claims[c]
        return {"approved": claim["approved"], "until": claim["valid_until"], "holder": claim["holder"],
                "certs": claim["certificates"], "h": self._hist(claim["status_history"], reasons)}


def _every_status(model: SiteModel, kept: dict[str, dict[str, Status]]) -> dict[str, dict[str, Status]]:
    """Every record's status, into ``kept`` (``SiteModel.statuses``, by kind and id):
    what ``member_status``, ``cert_status`` and ``claim_status`` work out, in three
    loops rather than through them (1.08-1.14 s against 1.29-1.35 for 220,000 records
    in a scratch run; docs/adr/0012-scale.md, twenty-first session)."""
    at, successors = model.at, model.index.successors
    members, certificates, claims = kept["m"], kept["c"], kept["l"]
    for mid, m in model.members.items():
        members[mid] = member_status(m, at)
    for cid, c in model.certificates.items():
        certificates[cid] = certificate_status(c, at, successors.get(cid, ()))
    for lid, claim in model.claims.items():  # a holder or certificate not in the registry is not looked up
        claims[lid] = claim_status(claim, at, model.index, members.__getitem__, certificates.__getitem__)
    return kept

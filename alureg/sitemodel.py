"""What the site shows, computed once from a checked registry: records by id, the
relations between them, status at the build date, and the compact status data the
browser uses to recompute status at view time (site/assets/status.js)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
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
    statuses: dict[tuple[str, str], Status] | None = None  # see keep_statuses()

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
        self.statuses = {}

    def _kept(self, kind: str, rid: str, work: Callable[[], Status]) -> Status:
        if self.statuses is None:
            return work()
        found = self.statuses.get((kind, rid))
        if found is None:
            found = self.statuses[kind, rid] = work()
        return found

    def member_status(self, member_id: str) -> Status:
        return self._kept("m", member_id, lambda: member_status(self.members[member_id], self.at))

    def cert_status(self, cert_id: str) -> Status:
        return self._kept("c", cert_id, lambda: certificate_status(
            self.certificates[cert_id], self.at, self.index.successors.get(cert_id, ())))

    def claim_status(self, claim_id: str) -> Status:
        return self._kept("l", claim_id, lambda: claim_status(self.claims[claim_id], self.at, self.index,
                                                              self.member_status, self.cert_status))

    def listed(self, member_id: str) -> bool:
        """Suspended members are hidden from the public directory (their pages stay)."""
        return self.member_status(member_id).state != "suspended"

    def successor_of(self, cert_id: str) -> str | None:
        succ = self.index.successors.get(cert_id)
        return sorted(succ, key=lambda s: s["valid_from"])[0]["id"] if succ else None

    def counts(self) -> dict[str, Counter[str]]:
        return {
            "members": Counter(self.member_status(m).state for m in self.members),
            "certificates": Counter(self.cert_status(c).state for c in self.certificates),
            "claims": Counter(self.claim_status(c).state for c in self.claims),
        }

    # --- compact data for status.js ------------------------------------------------
    def status_data(self, members: Iterable[str] = (), certificates: Iterable[str] = (),
                    claims: Iterable[str] = (), *, reasons: bool = True) -> Data:
        """Just what status.js needs to recompute these records' status at view time.

        A claim pulls in its holder and certificates; ``reasons=False`` drops the
        reason texts (directory pages show only the state)."""
        claims = list(claims)
        member_ids, cert_ids = set(members), set(certificates)
        for cid in claims:
            member_ids.add(self.claims[cid]["holder"])
            cert_ids.update(self.claims[cid]["certificates"])

        def hist(entries: list[Data]) -> list[list[str]]:
            return [[e["date"], e["status"], e["reason"]] if reasons else [e["date"], e["status"]]
                    for e in entries]

        return {
            "built": self.at,
            "members": {m: {"joined": self.members[m]["joined"],
                            "h": hist(self.members[m]["status_history"])}
                        for m in sorted(member_ids) if m in self.members},
            "certificates": {c: {"from": self.certificates[c]["valid_from"],
                                 "until": self.certificates[c]["valid_until"],
                                 "issued": self.certificates[c]["issued"],
                                 "h": hist(self.certificates[c]["status_history"]),
                                 "succ": sorted([s["id"], s["valid_from"]]
                                                for s in self.index.successors.get(c, ()))}
                             for c in sorted(cert_ids) if c in self.certificates},
            "claims": {c: {"approved": self.claims[c]["approved"], "until": self.claims[c]["valid_until"],
                           "holder": self.claims[c]["holder"], "certs": self.claims[c]["certificates"],
                           "h": hist(self.claims[c]["status_history"])}
                       for c in sorted(claims)},
        }

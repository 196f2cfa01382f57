"""Synthetic registries for benchmarks and scale tests: valid, signed with the DEMO
keys, deterministic for a seed, with the mix of states a real registry has.

Names are made of invented words plus a number, so no real company is named. The
trust list, standards catalogue, configuration and two audit firms are copied from
the sample registry (they are signed already).
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from pathlib import Path
from typing import Any

from .dates import add_years
from .demo import load_demo_keys, signed
from .loading import load_file
from .records import Kind
from .yamlwrite import dump_record

SAMPLE = Path(__file__).resolve().parent.parent
FIRMS = ("AUD-001", "AUD-002")  # accredited for every standard version 2019-2027
CERTIFYING = ("production-and-transformation", "industrial-users")
OTHER = ("downstream-supporters", "civil-society", "associations", "general-supporters")
COUNTRIES = ("NO", "DE", "BR", "AU", "CA", "IN", "JP", "ZA", "CH", "GB", "IT", "VN", "NZ", "SE", "CL", "FR")
ACTIVITIES = ("bauxite-mining", "alumina-refining", "aluminium-smelting", "remelting-refining", "casthouse",
              "semi-fabrication", "material-conversion", "other-manufacturing")
_A = ("Alder", "Basalt", "Corvi", "Dunmore", "Eskel", "Fennick", "Galder", "Hollin", "Istra", "Jorvan",
      "Kestrel", "Lunde", "Marrow", "Norvale", "Ostrand", "Pellin", "Quarrel", "Rasmark", "Stellan", "Torvik")
_B = ("Metals", "Extrusions", "Foils", "Rolling", "Castings", "Alloys", "Works", "Profiles", "Packaging", "Components")
_SUFFIX = ("Ltd", "AS", "GmbH", "SA", "Pty Ltd", "Inc.", "AB", "BV", "KK", "SpA")


def _day(base: str, days: int) -> str:
    return (dt.date.fromisoformat(base) + dt.timedelta(days=days)).isoformat()


def _gtin(n: int) -> str:
    body = f"20{n:010d}"  # GS1 prefix 20: restricted circulation, assigned to no company
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def _hist(date: str, status: str, reason: str) -> dict[str, str]:
    return {"date": date, "status": status, "reason": reason}


def generate(out: Path, members: int, certificates: int, claims: int, seed: int = 1) -> dict[str, int]:
    """Write a registry to ``out`` (which must not exist); returns record counts."""
    rng = random.Random(seed)  # noqa: S311 (test data, not cryptography)
    keys = load_demo_keys()
    out.mkdir(parents=True)
    shutil.copy(SAMPLE / "alureg.toml", out / "alureg.toml")
    for sub in ("members", "auditors", "claims"):
        (out / "registry" / sub).mkdir(parents=True)
    (out / "certificates").mkdir()
    for name in ("trust.yaml", "standards.yaml"):
        shutil.copy(SAMPLE / "registry" / name, out / "registry" / name)
    for firm in FIRMS:
        shutil.copy(SAMPLE / "registry" / "auditors" / f"{firm}.yaml", out / "registry" / "auditors" / f"{firm}.yaml")
    trust = load_file(out / "registry" / "trust.yaml").data
    assert trust is not None

    def write(kind: Kind, path: Path, record: dict[str, Any]) -> None:
        path.write_text(dump_record(signed(kind, record, trust, keys)), encoding="utf-8")

    # Members: enough certifying members for two certificates each (Performance
    # Standard, then Chain of Custody); the rest in the other classes.
    holders = max(1, min(members, (certificates + 1) // 2))
    member_ids = [f"MEM-{i + 1:07d}" for i in range(members)]
    member_class: dict[str, str] = {}
    for i, mid in enumerate(member_ids):
        cls = CERTIFYING[i % 2] if i < holders else OTHER[i % 4]
        member_class[mid] = cls
        joined = _day("2018-01-01", rng.randrange(0, 1800)) if i < holders else _day("2025-06-01", i % 300)
        history = [_hist(joined, "active", "Admitted as a member by the secretariat")]
        if i < holders and rng.random() < 0.01:
            history.append(_hist("2026-06-01", "suspended", "Membership suspended pending a review"))
        name = f"{_A[i % 20]} {_B[(i // 20) % 10]} {i + 1} {_SUFFIX[(i // 200) % 10]}"
        write(Kind.MEMBER, out / "registry" / "members" / f"{mid}.yaml", {
            "id": mid, "type": "member", "name": name, "class": cls, "country": COUNTRIES[i % len(COUNTRIES)],
            "joined": joined, "status_history": history,
            "activities": [ACTIVITIES[i % 8]] if cls in CERTIFYING else [],
            "website": f"https://member-{i + 1}.example", "size": ("micro", "small", "medium", "large")[i % 4],
        })

    # Certificates: slot 0 of a holder is Performance Standard, slot 1 Chain of
    # Custody issued two days later, further slots re-certify the Performance Standard.
    cert_ids = [f"CRT-{i + 1:08d}" for i in range(certificates)]
    by_holder: dict[str, list[dict[str, Any]]] = {}
    for i, cid in enumerate(cert_ids):
        holder = member_ids[i % holders]
        slot = len(by_holder.setdefault(holder, []))
        first = by_holder[holder][0] if slot else None
        provisional = slot != 1 and rng.random() < 0.1
        if first is None:
            issued = _day("2021-06-01", rng.randrange(0, 1900))
        elif slot == 1:
            issued = _day(first["issued"], 2)
        else:
            issued = _day(first["issued"], 40 * slot)
        years = 1 if provisional else 3
        until = _day(add_years(dt.date.fromisoformat(issued), years).isoformat(), -1)
        coc = slot == 1
        history = [_hist(issued, "active", "Certificate issued after the certification audit")]
        roll = rng.random()
        if roll < 0.04:
            history.append(_hist(_day(issued, 200), "suspended",
                                 "Suspended after a surveillance audit found a major non-conformance"))
        elif roll < 0.06:
            history.append(_hist(_day(issued, 250), "withdrawn", "Withdrawn at the member's request"))
        firm = FIRMS[i % 2]
        country = COUNTRIES[(i // 2) % len(COUNTRIES)]
        scope: dict[str, Any] = {
            "description": f"Certification of {holder}: the facility listed and its management system.",
            "facilities": [{"name": f"Plant {i + 1}", "country": country, "activities": [ACTIVITIES[i % 8]]}],
        }
        if coc:
            scope |= {"material_stages": ["post-casthouse"], "materials": ["asi-aluminium"]}
        record: dict[str, Any] = {
            "id": cid, "type": "certificate", "holder": holder,
            "standard": "chain-of-custody" if coc else "performance", "version": "V2" if coc else "V3",
            "certification_type": "provisional" if provisional else "full", "scope": scope,
            "audit": {"firm": firm, "lead_auditor": f"Auditor {i % 97 + 1}", "date": _day(issued, -20),
                      "report": f"https://reports.example/{cid}.pdf"},
            "issued": issued, "valid_from": issued, "valid_until": until, "status_history": history,
        }
        if slot >= 2:
            previous = [c for c in by_holder[holder] if c["standard"] == "performance"][-1]
            record["supersedes"] = previous["id"]
        by_holder[holder].append(record)
        write(Kind.CERTIFICATE, out / "certificates" / f"{cid}.yaml", record)

    # Claims: membership, Performance Standard and chain-of-custody claims in turn.
    for i in range(claims):
        cid = f"CLM-{i + 1:08d}"
        holder = member_ids[i % holders]
        certs = by_holder.get(holder, [])
        kind = ("membership", "performance", "chain-of-custody")[i % 3]
        if kind == "chain-of-custody" and len(certs) < 2:
            kind = "performance" if certs else "membership"
        if kind == "performance" and not certs:
            kind = "membership"
        rests = {"membership": [], "performance": certs[:1], "chain-of-custody": certs[:2]}[kind]
        if rests:
            approved = _day(max(c["valid_from"] for c in rests), 5)
            until = min(c["valid_until"] for c in rests)
        else:
            approved = _day("2025-07-01", i % 60)
            until = "2028-12-31"
        claim: dict[str, Any] = {"id": cid, "type": "claim", "holder": holder, "kind": kind,
                                 "certificates": [c["id"] for c in rests]}
        if kind == "chain-of-custody":
            claim["product"] = {"name": f"Product {i + 1}", "gtin": _gtin(i + 1)}
        claim |= {"text": f"Approved {kind} claim {i + 1} of {holder}.", "approved": approved,
                  "valid_until": until,
                  "status_history": [_hist(approved, "approved", "Claim request approved by the secretariat")]}
        write(Kind.CLAIM, out / "registry" / "claims" / f"{cid}.yaml", claim)
    return {"members": members, "certificates": certificates, "claims": claims}

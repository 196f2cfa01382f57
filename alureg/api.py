"""The static JSON/CSV API under /api/v1/ (documented in site/docs/api.md).

Record documents are the signed records exactly as loaded, so anyone can verify them
with an eddsa-jcs-2022 verifier and the trust list (also published here). Lists carry
the status at the build date; the record documents carry the dates to recompute it.
URLs are stable: a breaking change gets /api/v2/, never a changed v1.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson

from .outputs import emit, reuse
from .pagememo import PageMemo, file_digest, page_digest
from .schema import all_schemas
from .sitemodel import SiteModel

API = "api/v1"
CHANGES = 1000  # newest changes in changes.json; git holds them all


def _json(path: Path | str, data: Any, inputs: bytes | None = None) -> None:
    # The same bytes as json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)
    # + "\n" for our data (tests/test_scale.py compares them), in C: the standard
    # library's encoder is pure Python once it indents (4 of the API's 7 s at 10,000).
    emit(path, orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n", inputs)


def status_doc(model: SiteModel, mid: str) -> dict[str, Any]:
    """What the watch list recomputes at view time for a member (site/assets/watch.js)."""
    return model.status_data([mid], model.certs_of.get(mid, []))


def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        # A leading =, +, - or @ would run as a formula in a spreadsheet (CSV injection).
        writer.writerow(["'" + v if isinstance(v, str) and v[:1] in "=+-@\t\r" else v for v in row])
    emit(path, buffer.getvalue().encode("utf-8"))


def certificate_row(model: SiteModel, cid: str) -> dict[str, Any]:
    cert = model.certificates[cid]
    status = model.cert_status(cid)
    return {
        "id": cid,
        "holder": cert["holder"],
        "holder_name": model.members[cert["holder"]]["name"],
        "standard": cert["standard"],
        "version": cert["version"],
        "certification_type": cert["certification_type"],
        "countries": sorted({f["country"] for f in cert["scope"]["facilities"]}),
        "activities": sorted({a for f in cert["scope"]["facilities"] for a in f["activities"]}),
        "audit_firm": cert["audit"]["firm"],
        "issued": cert["issued"],
        "valid_from": cert["valid_from"],
        "valid_until": cert["valid_until"],
        "status": status.state,
        "status_since": status.since,
        "status_reason": status.reason,
        "page": f"certificates/{cid}/",
        "record": f"{API}/certificates/{cid}.json",
    }


def member_row(model: SiteModel, mid: str) -> dict[str, Any]:
    member = model.members[mid]
    status = model.member_status(mid)
    return {
        "id": mid, "name": member["name"], "class": member["class"], "country": member["country"],
        "joined": member["joined"], "activities": member["activities"], "status": status.state,
        "status_since": status.since, "certificates": sorted(model.certs_of.get(mid, [])),
        "page": f"members/{mid}/", "record": f"{API}/members/{mid}.json",
    }


def claim_row(model: SiteModel, cid: str) -> dict[str, Any]:
    claim = model.claims[cid]
    status = model.claim_status(cid)
    return {
        "id": cid, "holder": claim["holder"], "kind": claim["kind"], "certificates": claim["certificates"],
        "product": claim.get("product"), "approved": claim["approved"], "valid_until": claim["valid_until"],
        "status": status.state, "reasons": list(status.reasons),
        "page": f"c/{cid}/", "record": f"{API}/claims/{cid}.json",
    }


def write_api(model: SiteModel, out: Path, memo: PageMemo | None = None) -> None:
    """Every API file. With ``memo``, record and status documents made from the same
    inputs as the live ones are kept without being made (alureg/pagememo.py)."""
    api = out / API
    meta = {"published": model.at, "status_as_of": model.at}
    # One list at a time, each let go once written with its CSV, so that 100,000
    # certificate rows and 100,000 claim rows are not held together (their size was
    # not measured on its own: the build's peak is reached before this stage).
    certificates = [certificate_row(model, c) for c in sorted(model.certificates)]
    _json(api / "certificates.json", {**meta, "certificates": certificates})
    _csv(api / "certificates.csv",
         ["id", "holder", "holder_name", "standard", "version", "certification_type", "countries", "activities",
          "audit_firm", "issued", "valid_from", "valid_until", "status", "status_since", "status_reason"],
         [[r["id"], r["holder"], r["holder_name"], r["standard"], r["version"], r["certification_type"],
           " ".join(r["countries"]), " ".join(r["activities"]), r["audit_firm"], r["issued"], r["valid_from"],
           r["valid_until"], r["status"], r["status_since"] or "", r["status_reason"] or ""] for r in certificates])
    del certificates
    _json(api / "claims.json", {**meta, "claims": [claim_row(model, c) for c in sorted(model.claims)]})
    listed = [m for m in sorted(model.members) if model.listed(m)]
    members = [member_row(model, m) for m in listed]
    _json(api / "members.json", {**meta, "members": members})
    _csv(api / "members.csv", ["id", "name", "class", "country", "joined", "activities", "status", "status_since"],
         [[r["id"], r["name"], r["class"], r["country"], r["joined"], " ".join(r["activities"]), r["status"],
           r["status_since"] or ""] for r in members])
    del members
    firms = [{"id": f, "name": d["name"], "country": d["country"], "record": f"{API}/audit-firms/{f}.json"}
             for f, d in sorted(model.firms.items())]
    _json(api / "audit-firms.json", {**meta, "audit_firms": firms})
    for folder, records in (("members", model.members), ("certificates", model.certificates),
                            ("claims", model.claims), ("audit-firms", model.firms)):
        for rid, data in records.items():
            path = f"{api}/{folder}/{rid}.json"  # a string: 220,000 Path joins took 1 s
            inputs = file_digest(*memo, f"{API}/{folder}", rid) if memo else None  # the record as loaded
            if inputs is None or reuse(path, inputs) is None:
                _json(path, data, inputs)
    for mid in model.members:
        path = f"{api}/status/{mid}.json"
        inputs = page_digest(model, *memo, "status", mid) if memo else None
        if inputs is None or reuse(path, inputs) is None:
            _json(path, status_doc(model, mid), inputs)
    _json(api / "changes.json", {**meta, "history_available": model.history.available, "changes": [
        {"time": e.time, "commit": e.commit, **e.change.as_dict()} for e in model.history.newest(CHANGES)]})
    _json(api / "standards.json", model.standards)
    # trust.json is written by alureg/bundles.py, in the canonical form claim pages check.
    for name, schema in all_schemas().items():
        _json(api / "schemas" / name, schema)
    _json(api / "index.json", {
        **meta,
        "version": "v1",
        "scheme": model.scheme,
        "counts": {"members": len(listed), "certificates": len(model.certificates), "claims": len(model.claims),
                   "audit_firms": len(firms)},
        "lists": {"members": f"{API}/members.json", "certificates": f"{API}/certificates.json",
                  "claims": f"{API}/claims.json", "audit_firms": f"{API}/audit-firms.json"},
        "changes": f"{API}/changes.json",
        "status": f"{API}/status/{{member id}}.json",
        "feeds": {"changes": "feeds/changes.xml", "status": "feeds/status.xml", "member": "feeds/members/{id}.xml"},
        "csv": {"certificates": f"{API}/certificates.csv", "members": f"{API}/members.csv"},
        "records": {"member": f"{API}/members/{{id}}.json", "certificate": f"{API}/certificates/{{id}}.json",
                    "claim": f"{API}/claims/{{id}}.json", "audit_firm": f"{API}/audit-firms/{{id}}.json",
                    "standards": f"{API}/standards.json", "trust_list": f"{API}/trust.json"},
        "schemas": {name: f"{API}/schemas/{name}" for name in sorted(all_schemas())},
    })

"""The static JSON/CSV API under /api/v1/ (documented in site/docs/api.md).

Record documents are the signed records exactly as loaded, so anyone can verify them
with an eddsa-jcs-2022 verifier and the trust list (also published here). Lists carry
the status at the build date; the record documents carry the dates to recompute it.
URLs are stable: a breaking change gets /api/v2/, never a changed v1.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from .listchunks import ListChunks, Spans, chunk_key
from .outputs import emit
from .pagememo import PageMemo
from .pagereach import Page, kept
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


def _csv_lines(rows: Iterable[list[Any]], header: list[str] | None = None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header is not None:
        writer.writerow(header)
    for row in rows:
        # A leading =, +, - or @ would run as a formula in a spreadsheet (CSV injection).
        writer.writerow(["'" + v if isinstance(v, str) and v[:1] in "=+-@\t\r" else v for v in row])
    return buffer.getvalue().encode("utf-8")


ROWS_AT_ONCE = 1000  # rows of a list made, encoded and let go together (``_write_list``)
_MARK = "@@rows@@"


def _write_list(path: str, meta: dict[str, Any], key: str, ids: list[str], row: Callable[[str], dict[str, Any]],
                table: tuple[str, list[str], Callable[[dict[str, Any]], list[Any]]] | None = None,
                chunks: ListChunks | None = None, kind: str = "") -> None:
    """``_json(path, {**meta, key: [row(i) for i in ids]})`` and the CSV of the same
    rows (``table``: its path, header and columns of a row), a thousand rows at a time:
    the 100,000 certificate rows as dicts were 74 MiB (tracemalloc), held with their
    JSON (67 MB) and CSV. The bytes are orjson's for the whole document
    (tests/test_api_lists.py): rows are encoded as a list, then indented two more
    spaces, between the head and tail of the document made with a mark in place of
    the rows. ``chunks``: takes the chunks of rows that ``kind`` (as alureg/pagereach.py
    names rows) says no change reached from the live files, and keeps where this
    build's chunks lie (alureg/listchunks.py)."""
    chunks = chunks or ListChunks()
    if not ids:
        _json(path, {**meta, key: []})
        if table is not None:
            emit(table[0], _csv_lines([], table[1]))
        return
    doc = orjson.dumps({**meta, key: [_MARK]}, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    mark = doc.index(b'    "%s"' % _MARK.encode())
    body, lines = bytearray(doc[:mark]), bytearray(_csv_lines([], table[1]) if table is not None else b"")
    json_name, csv_name = path.rpartition("/")[2], table[0].rpartition("/")[2] if table is not None else ""
    with chunks.live(json_name, path) as json_live, chunks.live(csv_name, table[0] if table else "") as csv_live:
        for start in range(0, len(ids), ROWS_AT_ONCE):
            part = ids[start:start + ROWS_AT_ONCE]
            at = chunk_key(kind, part)
            if start:
                body += b",\n"
            text = json_live(at) if chunks.unreached(kind, part) else None
            lines_of = (csv_live(at) if table is not None else b"") if text is not None else None
            if text is None or lines_of is None:
                rows = [row(i) for i in part]
                encoded = orjson.dumps(rows, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
                text = b"  " + encoded[2:-2].replace(b"\n", b"\n  ")  # without "[\n" and "\n]"
                lines_of = _csv_lines(map(table[2], rows)) if table is not None else b""
            chunks.span(json_name, at, len(body), len(body) + len(text))
            body += text
            if table is not None:
                chunks.span(csv_name, at, len(lines), len(lines) + len(lines_of))
                lines += lines_of
    body += doc[mark + len(_MARK) + 6:]
    emit(path, body)  # not copied into bytes: the list is 67 MB at 100,000 certificates; nothing changes it now
    if table is not None:
        emit(table[0], lines)


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


CERTIFICATES_CSV = ["id", "holder", "holder_name", "standard", "version", "certification_type", "countries",
                    "activities", "audit_firm", "issued", "valid_from", "valid_until", "status", "status_since",
                    "status_reason"]
MEMBERS_CSV = ["id", "name", "class", "country", "joined", "activities", "status", "status_since"]


def _certificate_csv(r: dict[str, Any]) -> list[Any]:
    return [r["id"], r["holder"], r["holder_name"], r["standard"], r["version"], r["certification_type"],
            " ".join(r["countries"]), " ".join(r["activities"]), r["audit_firm"], r["issued"], r["valid_from"],
            r["valid_until"], r["status"], r["status_since"] or "", r["status_reason"] or ""]


def _member_csv(r: dict[str, Any]) -> list[Any]:
    return [r["id"], r["name"], r["class"], r["country"], r["joined"], " ".join(r["activities"]), r["status"],
            r["status_since"] or ""]


def write_api(model: SiteModel, out: Path, memo: PageMemo | None = None, reach: set[Page] | None = None,
              lists: dict[str, Spans] | None = None) -> dict[str, Spans]:
    """Every API file. With ``memo``, record and status documents made from the same
    inputs as the live ones are kept without being made (alureg/pagememo.py);
    ``reach``: as for the record pages (alureg/pages.py ``write_record_pages``);
    ``lists``: where the chunks of rows lie in the live output's lists, from its page
    state (alureg/listchunks.py). Returns where they lie in this output's."""
    api = out / API
    meta = {"published": model.at, "status_as_of": model.at}
    chunks = ListChunks(reach, lists)
    _write_list(f"{api}/certificates.json", meta, "certificates", sorted(model.certificates),
                lambda c: certificate_row(model, c), (f"{api}/certificates.csv", CERTIFICATES_CSV, _certificate_csv),
                chunks, "certificate-row")
    _write_list(f"{api}/claims.json", meta, "claims", sorted(model.claims), lambda c: claim_row(model, c),
                None, chunks, "c")  # a claim's row reads what its page reads
    listed = [m for m in sorted(model.members) if model.listed(m)]
    _write_list(f"{api}/members.json", meta, "members", listed, lambda m: member_row(model, m),
                (f"{api}/members.csv", MEMBERS_CSV, _member_csv), chunks, "member-row")
    firms = [{"id": f, "name": d["name"], "country": d["country"], "record": f"{API}/audit-firms/{f}.json"}
             for f, d in sorted(model.firms.items())]
    _json(api / "audit-firms.json", {**meta, "audit_firms": firms})
    # Carried over as the record's page is (pagereach.kept); an audit firm has no page.
    for folder, page, records in (("members", "members", model.members),
                                  ("certificates", "certificates", model.certificates),
                                  ("claims", "c", model.claims), ("audit-firms", "", model.firms)):
        for (_, rid), path, size, inputs in kept(model, memo, reach if page else None, [(page, rid) for rid in records],
                                                 str(out), f"{API}/{folder}/{{1}}.json", f"{API}/{folder}"):
            if size is None:
                _json(path, records[rid], inputs)  # the record as loaded
    for (_, mid), path, size, inputs in kept(model, memo, reach, [("status", mid) for mid in model.members],
                                             str(out), f"{API}/status/{{1}}.json"):
        if size is None:
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
    return chunks.made

"""The built site without a browser: every link resolves, the API validates and
verifies, exports parse, suspended members follow the scheme's rule."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from alureg.config import load_config
from alureg.publish import build
from alureg.records import Kind, Record
from alureg.schema import validate
from alureg.search import fold
from alureg.trust import TrustList, verify_record

from .conftest import AT, REPO
from .links import broken_links, parse


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "public"
    build(REPO, out, AT)
    return out


def test_no_broken_internal_link(site: Path) -> None:
    pages = {p: parse(p) for p in site.rglob("*.html")}
    assert len(pages) > 84
    broken, checked = broken_links(site, pages)
    assert not broken, broken[:20]
    assert checked > 1000


def test_every_record_has_a_page_and_a_document(site: Path) -> None:
    folders = {Kind.MEMBER: ("members", "members"), Kind.CERTIFICATE: ("certificates", "certificates"),
               Kind.CLAIM: ("c", "claims"), Kind.AUDIT_FIRM: (None, "audit-firms")}
    from alureg.check import check

    for record in check(REPO, AT).valid:
        if record.kind not in folders:
            continue
        page_dir, api_dir = folders[record.kind]
        if page_dir:
            assert (site / page_dir / record.id / "index.html").is_file(), record.id
        document = json.loads((site / "api/v1" / api_dir / f"{record.id}.json").read_text())
        assert document == record.data  # the signed record, as is


KIND_OF_FOLDER = {"members": Kind.MEMBER, "certificates": Kind.CERTIFICATE, "claims": Kind.CLAIM,
                  "audit-firms": Kind.AUDIT_FIRM}


def test_every_api_document_validates_and_verifies(site: Path) -> None:
    api = site / "api/v1"
    trust = TrustList.from_data(json.loads((api / "trust.json").read_text()))
    config = load_config(REPO)
    docs = [(Kind.TRUST_LIST, api / "trust.json"), (Kind.STANDARDS, api / "standards.json")]
    docs += [(KIND_OF_FOLDER[p.parent.name], p) for p in sorted(api.glob("*/*.json"))
             if p.parent.name in KIND_OF_FOLDER]
    assert len(docs) == 84
    for kind, path in docs:
        data = json.loads(path.read_text())
        assert validate(Record(kind, path.parent, path.name, data)) == [], path
        assert verify_record(data, kind, trust, config).ok, path
        tampered = data | {"id": "X" + data["id"]}
        assert not verify_record(tampered, kind, trust, config).ok, path


def test_lists_and_index(site: Path) -> None:
    api = site / "api/v1"
    index = json.loads((api / "index.json").read_text())
    assert index["version"] == "v1" and index["published"] == AT
    for url in [*index["lists"].values(), *index["csv"].values(), *index["schemas"].values()]:
        assert (site / url).is_file(), url
    certificates = json.loads((api / "certificates.json").read_text())["certificates"]
    assert len(certificates) == 31
    row = next(c for c in certificates if c["id"] == "CRT-000106")
    assert (row["status"], row["status_since"], row["holder_name"]) == (
        "suspended", "2026-09-10", "Bauxitas do Cerrado Mineração Ltda")
    assert (site / row["record"]).is_file() and (site / row["page"] / "index.html").is_file()


def test_csv_exports(site: Path) -> None:
    with (site / "api/v1/certificates.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 31
    assert {r["status"] for r in rows} == {"active", "suspended", "withdrawn", "expired", "superseded"}
    row = next(r for r in rows if r["id"] == "CRT-000104")
    assert (row["standard"], row["version"], row["countries"], row["valid_until"]) == (
        "chain-of-custody", "V2", "NO", "2029-02-09")
    with (site / "api/v1/members.csv").open(newline="", encoding="utf-8") as f:
        members = list(csv.DictReader(f))
    assert {m["id"] for m in members} >= {"MEM-0001", "MEM-0012"}


def test_suspended_member_hidden_from_directory_but_page_resolves(site: Path) -> None:
    directory = (site / "members/index.html").read_text()
    assert "MEM-0106/" not in directory and "Lumen Façades" not in directory
    assert "MEM-0001/" in directory
    page = (site / "members/MEM-0106/index.html").read_text()
    assert "This membership is suspended" in page and "not listed in the public" in page
    members = json.loads((site / "api/v1/members.json").read_text())["members"]
    assert "MEM-0106" not in {m["id"] for m in members}
    assert (site / "api/v1/members/MEM-0106.json").is_file()


def test_pages_say_status_as_of_without_javascript(site: Path) -> None:
    page = (site / "certificates/CRT-000111/index.html").read_text()
    assert "Status as of 2026-11-21, the day this page was published." in page
    assert ">Active</span>" in page


def test_claim_page_explains_mass_balance(site: Path) -> None:
    page = (site / "c/CLM-10001/index.html").read_text()
    assert "mass-balance" in page and "not a guarantee" in page
    assert "Fjordvik Low-Carbon Billet 6063" in page


def test_no_request_to_another_host(site: Path) -> None:
    """Pages load nothing from elsewhere (no web fonts, no CDN)."""
    for path in site.rglob("*.html"):
        parsed = parse(path)
        for link in parsed.links:
            if link.startswith(("http://", "https://", "//")):
                tag_ok = "rel=\"nofollow noopener\"" in path.read_text() or "material" in link
                assert tag_ok, f"{path}: {link}"
        text = path.read_text()
        assert "fonts.googleapis.com" not in text and "fonts.gstatic.com" not in text, path


def test_material_search_indexes_only_hand_written_pages(site: Path) -> None:
    index = json.loads((site / "search/search_index.json").read_text())
    pages = {doc["location"].split("#")[0] for doc in index["docs"]}
    assert pages <= {"", "verify/", "auditors/", "standards/", "verification/", "data-dictionary/", "api/",
                     "secretariat/", "secretariat/review/", "secretariat/keys/", "secretariat/refusals/"}
    assert not any(p.startswith(("members/", "certificates/", "c/")) for p in pages)


def test_supplier_search_index(site: Path) -> None:
    index = site / "search/index"
    meta = json.loads((index / "meta.json").read_text())
    docs = json.loads((index / "docs.json").read_text())
    rows = [row for k in range(len(list(index.glob("r*.json"))))
            for row in json.loads((index / f"r{k}.json").read_text())]
    assert meta["count"] == len(docs["bits"]) == len(rows) == 25  # suspended members are left out
    assert {r[1] for r in rows}.isdisjoint({"MEM-0106", "MEM-0011"})
    assert [r[0] for r in rows] == sorted((r[0] for r in rows), key=lambda n: fold(n))
    tokens = [t for k in range(len(meta["shards"])) for t in json.loads((index / f"t{k}.json").read_text())["t"]]
    assert tokens == sorted(tokens) and "mineracao" in tokens and "crt-000106" in tokens

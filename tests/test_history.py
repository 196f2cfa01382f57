"""Change history from git on the site: record pages, the changes page, the changes
API and the Atom feeds (read with feedparser, as a feed reader would), in a scripted
repository with a suspension, a reinstatement and an edit."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import feedparser
import pytest

from alureg.cli import main
from alureg.demo import DEMO_KEYS
from alureg.loading import load_file
from alureg.publish import build
from alureg.signing import KeyPair

from .conftest import AT, Scratch
from .gitrepo import Repo

REPO_URL = "https://git.example.org/registry"
SITE = "https://registry.alusteward.example/"
HOSTILE = 'Audit found <script>alert("x")</script> & <b>bold</b> issues'


def _status(repo: Repo, action: str, rid: str, reason: str, date: str) -> None:
    assert main([action, rid, "--reason", reason, "--date", date, "--root", str(repo.root)]) == 0
    path = next(repo.root.glob(f"*/{rid}.yaml"), None) or next(repo.root.glob(f"*/*/{rid}.yaml"))
    data = load_file(path).data
    assert data is not None
    keys = ["secretariat-2026"] + (["auditor-aud-002"] if data.get("audit", {}).get("firm") == "AUD-002" else [])
    for key in keys:
        assert main(["sign", str(path), "--key", str(DEMO_KEYS / f"{key}.json"),
                     "--created", f"{date}T10:00:00Z"]) == 0


@pytest.fixture(scope="module")
def history_site(tmp_path_factory: pytest.TempPathFactory, demo_keys: dict[str, KeyPair]) -> tuple[Path, Repo]:
    root = tmp_path_factory.mktemp("history")
    repo = Repo(Scratch(root / "reg", demo_keys))
    _status(repo, "suspend", "CRT-000105", HOSTILE, "2026-11-10")
    repo.commit("Suspend CRT-000105 after the surveillance audit")
    _status(repo, "reinstate", "CRT-000105", "Corrective actions verified", "2026-11-18")
    repo.commit("Reinstate CRT-000105")
    repo.scratch.change("registry/members/MEM-0003.yaml", lambda d: d.update(website="https://new.example"))
    repo.commit("MEM-0003: new website")
    out = root / "public"
    build(repo.root, out, AT, now=dt.datetime.fromisoformat(f"{AT}T06:00:00+00:00"),
          repository_url=REPO_URL)
    return out, repo


def _feed(site: Path, path: str) -> Any:
    parsed = feedparser.parse((site / path).read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def test_changes_feed_lists_changes_newest_first(history_site: tuple[Path, Repo]) -> None:
    site, repo = history_site
    feed = _feed(site, "feeds/changes.xml")
    titles = [e.title for e in feed.entries]
    assert titles[:3] == [
        "Kalgoora Alumina Pty Ltd: member MEM-0003: changed website",
        "Bauxitas do Cerrado Mineração Ltda: certificate CRT-000105: status suspended → active from 2026-11-18: "
        "Corrective actions verified",
        "Bauxitas do Cerrado Mineração Ltda: certificate CRT-000105: status active → suspended from 2026-11-10: "
        + HOSTILE,
    ]
    times = [e.updated_parsed for e in feed.entries]
    assert times == sorted(times, reverse=True)
    assert len({e.id for e in feed.entries}) == len(feed.entries)  # stable, unique ids
    commits = repo.git("log", "--format=%H", "-3").split()
    assert feed.entries[1].link == SITE + "certificates/CRT-000105/"
    assert commits[1][:12] in feed.entries[1].summary
    assert feed.feed.links[0].href == SITE + "feeds/changes.xml"


def test_status_feed_has_only_status_changes_and_expiries(history_site: tuple[Path, Repo]) -> None:
    site, repo = history_site
    feed = _feed(site, "feeds/status.xml")
    titles = [e.title for e in feed.entries]
    assert not any("website" in t for t in titles)
    assert titles[0].endswith("status suspended → active from 2026-11-18: Corrective actions verified")
    # Expiries happen by date, without a commit: every certificate that ended by the build day is there.
    # Exactly those: a validity that ends on the build day has not ended yet.
    expired = {p.stem for folder in ("certificates", "registry/claims") for p in (repo.root / folder).glob("*.yaml")
               if (load_file(p).data or {})["valid_until"] < AT}
    assert expired
    listed = {e.link.rstrip("/").rsplit("/", 1)[1] for e in feed.entries if "expired on" in e.title}
    assert expired == listed


def test_member_feed_has_its_own_records_only(history_site: tuple[Path, Repo]) -> None:
    site, _ = history_site
    feed = _feed(site, "feeds/members/MEM-0002.xml")
    links = {e.link for e in feed.entries}
    assert SITE + "certificates/CRT-000105/" in links and SITE + "members/MEM-0002/" in links
    assert not any("MEM-0003" in link for link in links)
    assert feed.feed.title.endswith("Bauxitas do Cerrado Mineração Ltda (MEM-0002)")
    assert len(list((site / "feeds" / "members").glob("*.xml"))) == 27


def test_record_text_stays_text_in_feeds(history_site: tuple[Path, Repo]) -> None:
    site, _ = history_site
    raw = (site / "feeds" / "changes.xml").read_text(encoding="utf-8")
    tree = ET.fromstring(raw)  # noqa: S314 (our own output)
    assert not tree.findall(".//script") and not tree.findall(".//{http://www.w3.org/2005/Atom}script")
    assert "&lt;script&gt;" in raw
    entry = _feed(site, "feeds/changes.xml").entries[2]
    assert entry.title.endswith(HOSTILE)  # a reader shows the text, as written


def test_record_page_shows_its_history_with_commit_links(history_site: tuple[Path, Repo]) -> None:
    site, repo = history_site
    html = (site / "certificates" / "CRT-000105" / "index.html").read_text(encoding="utf-8")
    section = html.split("<h2>Changes to this record</h2>", 1)[1]
    suspend, reinstate = repo.git("log", "--format=%H", "-3").split()[1:][::-1]
    items = section.split("</ol>")[0].split("<li>")[1:]
    assert len(items) == 3  # reinstated, suspended, added (newest first)
    assert "status suspended → active from 2026-11-18: Corrective actions verified" in items[0]
    assert f'href="{REPO_URL}/commit/{reinstate}"' in items[0]
    assert "auditor-aud-002 (auditor, AUD-002)" in items[0]
    assert f'href="{REPO_URL}/commit/{suspend}"' in items[1]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in items[1] and "<script>alert" not in section
    assert "certificate CRT-000105 added" in items[2]


def test_changes_page_and_api(history_site: tuple[Path, Repo]) -> None:
    site, _ = history_site
    html = (site / "changes" / "index.html").read_text(encoding="utf-8")
    rows = html.split("<tbody>", 1)[1].split("</tbody>")[0].split("<tr")[1:]
    assert len(rows) == 84 + 3
    assert 'href="../members/MEM-0003/"' in rows[0] and "data-status-change" not in rows[0]
    assert 'href="../certificates/CRT-000105/"' in rows[1] and "data-status-change" in rows[1]
    api = json.loads((site / "api" / "v1" / "changes.json").read_text(encoding="utf-8"))
    assert api["history_available"] is True
    first = api["changes"][1]
    assert first["id"] == "CRT-000105" and first["status"]["after"] == "active"
    assert [c["time"] for c in api["changes"]] == sorted((c["time"] for c in api["changes"]), reverse=True)


def test_site_without_git_says_so(tmp_path: Path, scratch: Scratch) -> None:
    out = tmp_path / "public"
    report = build(scratch.root, out, AT)
    assert not report.history_available
    html = (out / "certificates" / "CRT-000105" / "index.html").read_text(encoding="utf-8")
    assert "The change history is not part of this build" in html
    for feed in ("changes", "status"):  # expiries only: they need no history
        entries = _feed(out, f"feeds/{feed}.xml").entries
        assert entries and all("expired on" in e.title for e in entries)


@pytest.mark.parametrize("count", [0, 1, 3])
def test_a_feed_is_written_as_elementtree_writes_atom(count: int) -> None:
    """Every value escaped and encoded as ElementTree does it (markup, quotes,
    ampersands, text outside ASCII, an address with a query), byte for byte."""
    from types import SimpleNamespace

    from alureg.feeds import ATOM, Entry, _feed

    model = SimpleNamespace(site_url="https://registry.example/x?a=1&b='2'", scheme='A&S "Scheme" <ASI>', at=AT)
    hostile = ['<script>alert("x")</script> & co', "Société Générale d'Aluminium — Zürich ✓", "]]> \t tab",
               "plain"]
    chosen = [Entry(f"2026-11-{10 + i:02d}:MEM-{i:04d}/{hostile[i]}", hostile[i], f"2026-11-{10 + i:02d}T00:00:00Z",
                    f"members/MEM-{i:04d}/?q=<{i}>&x", hostile[(i + 1) % 4], None, i % 2 == 0) for i in range(count)]
    made = _feed(model, "feeds/members/MEM-0001.xml", hostile[1], chosen)
    feed = ET.fromstring(made)  # noqa: S314 (made here)
    assert feed.tag == f"{{{ATOM}}}feed" and [e.text for e in feed.findall("{*}entry/{*}title")] == hostile[:count]
    # The same tree, indented and written as ElementTree writes Atom in its own
    # namespace to UTF-8 (what feeds._feed wrote before it declared the namespace and
    # encoded once).
    ET.indent(feed)
    ET.register_namespace("", ATOM)
    assert made == ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def test_an_expiry_is_listed_from_the_day_after_validity_ends() -> None:
    """A certificate or claim valid until the build day has not expired; one valid
    until the day before expired on the build day (alureg/feeds.py ``expiry_entries``),
    across month and year ends."""
    from types import SimpleNamespace

    from alureg.dates import next_day
    from alureg.feeds import expiry_entries

    days = ["2026-11-20", "2026-11-21", "2026-11-22", "2025-12-31", "2026-01-01", "2026-02-28", "2024-02-29",
            "2026-12-31", "2027-01-01"]
    for at in ("2026-11-21", "2026-01-01", "2026-03-01", "2027-01-01"):
        records = {f"X-{i}": {"valid_until": day, "holder": "MEM-1"} for i, day in enumerate(days)}
        model = SimpleNamespace(certificates=records, claims=records, at=at, members={"MEM-1": {"name": "Holder"}})
        found = {(e.link, e.updated[:10]) for e in expiry_entries(model)}  # type: ignore[arg-type]
        wanted = {(link.format(rid), next_day(data["valid_until"])) for rid, data in records.items()
                  for link in ("certificates/{}/", "c/{}/") if next_day(data["valid_until"]) <= at}
        assert found == wanted, at

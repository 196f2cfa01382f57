"""Claims: the Python verifier on the shared table, byte flips, targets, QR codes,
the snapshot and its Merkle tree, and the CLI."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from alureg import snapshot as snapshot_module
from alureg.cli import main
from alureg.config import load_config
from alureg.qr import BORDER, PNG_SCALE, claim_url
from alureg.snapshot import MerkleTree, ShardedTree, root_from_path, shard_count, shard_of
from alureg.targets import claim_from_target
from alureg.verify import verify_files, verify_site

from .claim_cases import CASES, DAY, NOW, SITE_URL, Case, moment, prepare
from .conftest import REPO, Scratch


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_python_verifier(case: Case, claim_site: Path, other_site: Path, tmp_path: Path) -> None:
    site = prepare(case, claim_site, other_site, tmp_path / "site")
    minimum = int(NOW.timestamp()) + 1 if case.lower_sequence else 0
    verdict = verify_site(site, case.claim, load_config(REPO), moment(case.day), min_sequence=minimum)
    assert (verdict.word, verdict.reasons) == (case.word, case.reasons)


def test_stale_allowed_on_request(claim_site: Path) -> None:
    verdict = verify_site(claim_site, "CLM-10001", load_config(REPO), moment("2026-12-03"), allow_stale=True)
    assert verdict.word == "VALID" and verdict.details[-1].endswith("(STALE)")


FILES = {"trust.json": "api/v1/trust.json", "snapshot.json": "api/v1/snapshot.json",
         "claim.json": "c/CLM-10001/claim.json"}


@pytest.mark.parametrize("name", sorted(FILES))
def test_any_changed_byte_cannot_be_verified(name: str, claim_site: Path) -> None:
    """Every 7th byte of each file a claim page loads, changed, breaks verification."""
    config = load_config(REPO)
    raw = {n: (claim_site / rel).read_bytes() for n, rel in FILES.items()}
    assert verify_files(raw["trust.json"], raw["snapshot.json"], raw["claim.json"], config, NOW).word == "VALID"
    data = raw[name]
    positions = range(0, len(data), 7)
    for i in positions:
        changed = dict(raw)
        changed[name] = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
        verdict = verify_files(changed["trust.json"], changed["snapshot.json"], changed["claim.json"], config, NOW)
        assert verdict.word == "CANNOT-VERIFY", (name, i, chr(data[i]))
    assert len(positions) > 50


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("CLM-10001", "CLM-10001"),
        (f"{SITE_URL}/c/CLM-10001/", "CLM-10001"),
        (f"{SITE_URL}/c/CLM-10001", "CLM-10001"),
        ("https://registry.alusteward.example.evil.example/c/CLM-10001/", None),
        ("http://registry.alusteward.example/c/CLM-10001/", None),
        (f"{SITE_URL}/certificates/CRT-000101/", None),
        (f"{SITE_URL}/c/CLM-10001/?utm=1", None),
        ("clm-10001", None),
    ],
)
def test_targets(target: str, expected: str | None) -> None:
    result = claim_from_target(target, SITE_URL)
    if expected is None:
        assert not isinstance(result, str) and result.word == "CANNOT-VERIFY"
    else:
        assert result == expected


def _decode(png: bytes) -> str:
    with Image.open(io.BytesIO(png)) as image:
        found = zxingcpp.read_barcodes(image.convert("L"))
    assert len(found) == 1
    return found[0].text


def _claim_ids() -> list[str]:
    return sorted(p.stem for p in (REPO / "registry/claims").glob("*.yaml"))


def test_qr_command_draws_every_sample_code_readable_also_at_2_pixels_per_module(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = _claim_ids()
    assert len(ids) == 20
    assert main(["qr", *ids, "--root", str(REPO), "--out", str(tmp_path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 40
    for claim_id in ids:
        url = claim_url(SITE_URL, claim_id)
        png = tmp_path / f"{claim_id}-qr.png"
        assert _decode(png.read_bytes()) == url
        with Image.open(png) as image:
            modules = image.width // PNG_SCALE
            small = image.resize((modules * 2, modules * 2), Image.Resampling.NEAREST)
            buffer = io.BytesIO()
            small.save(buffer, format="PNG")
        assert modules - 2 * BORDER == 33  # version 4 at level Q for the sample's URLs
        assert _decode(buffer.getvalue()) == url, png
        svg = (tmp_path / f"{claim_id}-qr.svg").read_text()
        assert svg.startswith("<svg") and f"<title>{url}</title>" in svg


@pytest.mark.parametrize("claim", ["CLM-99999", "../registry/claims/CLM-10001", "CRT-000101", "clm-10001"])
def test_qr_command_refuses_what_is_not_a_claim_of_the_registry(
        claim: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qr", "CLM-10001", claim, "--root", str(REPO), "--out", str(tmp_path)]) == 2
    assert "is not a claim of the registry" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing drawn, not even the good one


def test_the_build_draws_no_qr_code_and_the_page_says_how_to_get_one(claim_site: Path) -> None:
    assert not list((claim_site / "c").glob("*/qr.*"))
    page = (claim_site / "c/CLM-10001/index.html").read_text()
    assert 'data-url="https://registry.alusteward.example/c/CLM-10001/"' in page
    assert "python build.py qr CLM-10001" in page


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
def test_merkle_paths(n: int) -> None:
    digests = [bytes([i]) * 32 for i in range(n)]
    tree = MerkleTree.build(digests)
    for i, d in enumerate(digests):
        assert root_from_path(d, tree.path(i)) == tree.root
        if n > 1:
            assert root_from_path(d, tree.path((i + 1) % n)) != tree.root
            path = tree.path(i)
            for spelling in (path[0][0] + "\n", path[0][0].upper(), " " + path[0][0]):
                with pytest.raises(ValueError):  # one spelling only
                    root_from_path(d, [[spelling, path[0][1]], *path[1:]])


def _reference_levels(digests: list[bytes]) -> list[list[bytes]]:
    """The tree as design.md spells it, one bytes object a node: leaf = SHA-256(0x00 ‖
    digest), node = SHA-256(0x01 ‖ left ‖ right), an odd node at a level's end moving up."""
    import hashlib

    level = [hashlib.sha256(b"\x00" + d).digest() for d in digests] or [hashlib.sha256(b"").digest()]
    levels = [level]
    while len(level) > 1:
        level = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


def test_the_packed_tree_is_the_tree_design_md_spells() -> None:
    """The tree keeps each level's hashes joined in one bytes object; its root and every
    path are those of the tree built node by node, for every size up to 70."""
    import hashlib

    for n in range(71):
        digests = [hashlib.sha256(f"{n} {i}".encode()).digest() for i in range(n)]
        levels = _reference_levels(digests)
        tree = MerkleTree.build(digests)
        assert tree.root == levels[-1][0] and tree.leaves == max(n, 1)  # an empty tree: the hash of nothing
        for i in range(n):
            index, path = i, []
            for level in levels[:-1]:
                if index ^ 1 < len(level):
                    path.append([level[index ^ 1].hex(), "L" if index ^ 1 < index else "R"])
                index //= 2
            assert tree.path(i) == path, (n, i)


def test_a_leaf_not_in_the_sharded_tree_has_no_position() -> None:
    digests = {f"REC-{i:05d}": bytes([i % 256]) * 32 for i in range(3000)}
    tree = ShardedTree.build(digests)
    assert [tree.position(i) for i in ("REC-00000", "REC-02999")] == \
        [(shard_of(i, 4), tree.members[shard_of(i, 4)].index(i)) for i in ("REC-00000", "REC-02999")]
    for absent in ("REC-03000", "REC-0000", "", "REC-00000 "):
        with pytest.raises(KeyError):
            tree.position(absent)


@pytest.mark.parametrize(("leaves", "shards"), [(0, 1), (104, 1), (1024, 1), (1025, 2), (30_000, 32),
                                               (320_000, 256), (10_000_000, 256)])
def test_shard_count(leaves: int, shards: int) -> None:
    assert shard_count(leaves) == shards


def test_one_changed_leaf_changes_one_shard_only() -> None:
    """The point of the shards: a change leaves every other shard's root, and the path
    of every leaf outside the changed shard, as they were."""
    import hashlib

    digests = {f"REC-{i:05d}": hashlib.sha256(str(i).encode()).digest() for i in range(5000)}
    tree = ShardedTree.build(digests)
    assert len(tree.trees) == 8 and sum(t.leaves for t in tree.trees) == 5000
    for leaf_id, d in digests.items():
        shard = shard_of(leaf_id, 8)
        assert root_from_path(d, tree.path(leaf_id)) == tree.trees[shard].root
        assert root_from_path(d, tree.path(leaf_id)) not in (t.root for k, t in enumerate(tree.trees) if k != shard)
    changed = ShardedTree.build({**digests, "REC-00042": b"\x00" * 32})
    moved = [k for k in range(8) if changed.roots[k] != tree.roots[k]]
    assert moved == [shard_of("REC-00042", 8)]
    assert all(changed.path(i) == tree.path(i) for i in digests if shard_of(i, 8) not in moved)
    with pytest.raises(ValueError):
        shard_of("REC-00042", 3)


def test_sharded_snapshot_verifies_every_claim_as_one_tree(sharded_site: Path, claim_site: Path) -> None:
    import json

    snapshot = json.loads((sharded_site / "api/v1/snapshot.json").read_bytes())
    assert len(snapshot["shards"]) == 32
    one = json.loads((claim_site / "api/v1/snapshot.json").read_bytes())
    assert len(one["shards"]) == 1
    config = load_config(REPO)
    for claim in sorted(p.name for p in (claim_site / "c").iterdir()):
        sharded = verify_site(sharded_site, claim, config, moment(DAY))
        single = verify_site(claim_site, claim, config, moment(DAY))
        assert (sharded.word, sharded.reasons) == (single.word, single.reasons), claim


def test_a_changed_record_changes_only_the_bundles_of_its_shards(scratch: Scratch, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from alureg.publish import build

    monkeypatch.setattr(snapshot_module, "LEAVES_PER_SHARD", 4)
    build(scratch.root, tmp_path / "before", DAY, now=NOW)
    scratch.change("registry/members/MEM-0201.yaml", lambda d: d.update(name=d["name"] + " Group"))
    build(scratch.root, tmp_path / "after", DAY, now=NOW)
    roots = [json.loads((tmp_path / side / "api/v1/snapshot.json").read_bytes())["shards"]
             for side in ("before", "after")]
    moved = {k for k in range(32) if roots[0][k] != roots[1][k]}
    claims = sorted(p.name for p in (tmp_path / "before/c").iterdir())
    changed = {c for c in claims if (tmp_path / "before/c" / c / "claim.json").read_bytes()
               != (tmp_path / "after/c" / c / "claim.json").read_bytes()}
    assert changed == {c for c in claims if shard_of(c + "#closure", 32) in moved}
    assert 0 < len(changed) < len(claims) // 2


def test_a_kept_bundle_follows_its_shard(scratch: Scratch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build that keeps bundles whose inputs did not change (alureg/bundles.py)
    rewrites every bundle of a changed shard, also those whose own records did not
    change (their Merkle path did): the result equals a cold build's."""
    import json

    from alureg.publish import build

    monkeypatch.setattr(snapshot_module, "LEAVES_PER_SHARD", 16)
    warm, cold = tmp_path / "warm", tmp_path / "cold"
    build(scratch.root, warm, DAY, now=NOW, use_cache=True)
    before = {p.parent.name: json.loads(p.read_bytes()) for p in (warm / "c").glob("*/claim.json")}
    scratch.change("registry/members/MEM-0201.yaml", lambda d: d.update(name=d["name"] + " Group"))
    build(scratch.root, warm, DAY, now=NOW, use_cache=True)
    build(scratch.root, cold, DAY, now=NOW)
    after = {p.parent.name: json.loads(p.read_bytes()) for p in (cold / "c").glob("*/claim.json")}
    only_path = [c for c in before if before[c]["paths"] != after[c]["paths"]
                 and {k: v for k, v in before[c].items() if k != "paths"} == {k: v for k, v in after[c].items()
                                                                           if k != "paths"}]
    assert only_path  # bundles whose records are as they were, in a changed shard
    assert {p.parent.name: p.read_bytes() for p in (warm / "c").glob("*/claim.json")} == \
        {p.parent.name: p.read_bytes() for p in (cold / "c").glob("*/claim.json")}


def test_snapshot_fields(claim_site: Path) -> None:
    import json

    snapshot = json.loads((claim_site / "api/v1/snapshot.json").read_bytes())
    assert snapshot["created"] == "2026-11-25T00:00:00Z" and snapshot["expires"] == "2026-12-02T00:00:00Z"
    assert snapshot["sequence"] == int(NOW.timestamp()) and snapshot["site"] == SITE_URL
    leaves = json.loads((claim_site / "api/v1/snapshot-leaves.json").read_bytes())
    assert snapshot["records"] == len(leaves["leaves"]) == 84 + 20  # records and claim closures


def test_cli_verify(claim_site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qr", "CLM-10004", "--root", str(REPO), "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    qr = tmp_path / "CLM-10004-qr.png"
    code = main(["verify", str(qr), "--site", str(claim_site), "--at", "2026-11-25"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1 and out[0] == "NOT-VALID"
    assert out[1].startswith("reason: certificate CRT-000106 suspended on 2026-09-10")
    assert main(["verify", f"{SITE_URL}/c/CLM-10001/", "--site", str(claim_site), "--at", "2026-11-25"]) == 0
    assert capsys.readouterr().out.startswith("VALID\nclaim: CLM-10001 (chain-of-custody)")
    assert main(["verify", "CLM-10001", "--site", str(claim_site), "--at", "2026-12-03"]) == 1
    assert capsys.readouterr().out.startswith("CANNOT-VERIFY\nreason: the registry data is out of date")
    assert main(["verify", "CLM-10001", "--site", str(claim_site), "--at", "2026-12-03", "--allow-stale"]) == 0
    capsys.readouterr()
    assert main(["verify", "CLM-10001", "--root", str(REPO), "--at", "2026-11-25"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("(no snapshot)")
    assert main(["verify", "CLM-99999", "--site", str(claim_site)]) == 1
    assert capsys.readouterr().out == "CANNOT-VERIFY\nreason: there is no published claim CLM-99999\n"


def test_a_bundle_record_is_encoded_as_rfc_8785_even_where_sorted_json_is_not() -> None:
    """Bundles take orjson's sorted JSON of a record only when its SHA-256 is the
    record's digest (made with RFC 8785); keys that sort one way by code point and
    another in UTF-16 (U+E000 against U+1F600, a surrogate pair) get RFC 8785's order."""
    import hashlib

    import orjson

    from alureg.bundles import _encoded
    from alureg.signing import canonical

    plain = {"id": "CLM-1", "b": ["x", {"d": "é", "c": 1}], "a": True}
    assert _encoded(plain, hashlib.sha256(canonical(plain)).digest()) == canonical(plain)
    odd = {"id": "CLM-2", "\U0001f600": "later in code points", "\ue000": "later in UTF-16"}
    sorted_json = orjson.dumps(odd, option=orjson.OPT_SORT_KEYS)
    assert sorted_json != canonical(odd)  # the case the digest must catch
    assert _encoded(odd, hashlib.sha256(canonical(odd)).digest()) == canonical(odd)
    assert _encoded(plain, b"\0" * 32) == canonical(plain)  # a digest that does not match: RFC 8785's bytes


def test_the_tree_cache_gives_the_trees_worked_out_afresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shards' trees kept between builds (``TreeCache``) are the trees worked out again
    (every level) after changed, added and removed leaves; only the shards a change
    reached are worked out again; a damaged cache file is ignored."""
    import hashlib
    import marshal

    from alureg import snapshot
    from alureg.snapshot import TreeCache

    digests = {f"REC-{i:05d}": hashlib.sha256(str(i).encode()).digest() for i in range(5000)}
    made: list[int] = []
    real = snapshot.MerkleTree.build

    def counted(leaves: Any) -> Any:
        made.append(len(leaves))
        return real(leaves)
    path = tmp_path / "trees"
    # Each version, and the leaves whose shards it changes from the one before (None: all).
    versions: list[tuple[dict[str, bytes], list[str] | None]] = [
        (digests, None),
        ({**digests, "REC-00042": b"\x00" * 32}, ["REC-00042"]),
        ({**digests, "REC-09999": b"\x01" * 32}, ["REC-00042", "REC-09999"]),  # put back, and one added
        ({k: v for k, v in digests.items() if k != "REC-00007"}, ["REC-09999", "REC-00007"]),
        ({}, None),
    ]
    for version, changed in versions:
        monkeypatch.setattr(snapshot.MerkleTree, "build", counted)
        cache = TreeCache(path)
        cached = ShardedTree.build(version, cache)
        cache.save()
        monkeypatch.undo()
        fresh = ShardedTree.build(version)
        assert [t.levels for t in cached.trees] == [t.levels for t in fresh.trees]
        shards = len(fresh.trees)
        assert len(made) == (shards if changed is None else len({shard_of(i, shards) for i in changed})), made
        made.clear()
    for damage in (b"", b"\x00" * 10, marshal.dumps({b"k": "not bytes"})):
        path.write_bytes(damage)
        assert TreeCache(path).before == {}

"""The status snapshot: what a verifier needs to trust that the records it was given
are the current, complete publication (design.md, "The status snapshot").

Each build signs, with a publisher key, a snapshot holding a sequence number that only
grows, when it was made and when it expires (days, not months), the digest of the
trust list, and the Merkle roots of the shards of the records' digests. A claim page
then needs only its own few records plus one Merkle path (of the claim's closure
leaf, which lists their digests), not a list of 100,000 digests, to show that they
belong to this snapshot (docs/adr/0008-snapshot-and-claim-verification.md).

Shards: a leaf belongs to shard ``SHA-256(id)[0] >> (8 - log2 n)`` of ``n`` shards,
``n`` a power of two, at most 256, about one per 1,024 leaves (one for a small
registry). With one tree, any changed record changed every leaf's path, so every
claim bundle of the site (100,000 files) was rewritten and re-uploaded on each merged
pull request; now only the bundles in the shards of the changed leaves change
(docs/adr/0012-scale.md).

Digest of a record: SHA-256 of its RFC 8785 form, proofs included. Merkle tree: leaf =
SHA-256(0x00 ‖ digest), node = SHA-256(0x01 ‖ left ‖ right); an odd node at the end
of a level moves up unchanged; leaves are ordered by record id within their shard; an
empty shard's root is SHA-256 of nothing. site/assets/verify.js implements the same.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import marshal
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

from .caches import write_file
from .signing import KeyPair, canonical, sign_record

SNAPSHOT_DAYS = 7
MAX_SHARDS = 256
LEAVES_PER_SHARD = 1024
Path = list[list[str]]  # [[sibling hex, "L" or "R"], ...] from the leaf up


def record_digest(record: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(canonical(record)).digest()


def _leaf(digest: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + digest).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


@dataclass
class MerkleTree:
    """Each level's hashes joined in one ``bytes``, 32 bytes a node. With a ``bytes``
    object a node and a dict of the leaves' places (``ShardedTree.position``), the
    trees of 320,000 leaves held 76 MiB, against 22 now (tracemalloc), at the peak of
    the snapshot stage (docs/adr/0012-scale.md, twenty-first session)."""

    levels: list[bytes]  # levels[0] = the leaf hashes, levels[-1] = the root

    @classmethod
    def build(cls, digests: Sequence[bytes]) -> MerkleTree:
        level = b"".join([_leaf(d) for d in digests]) or hashlib.sha256(b"").digest()
        levels = [level]
        while len(level) > 32:
            # A node's two children lie side by side: SHA-256(0x01 ‖ left ‖ right).
            nodes = [hashlib.sha256(b"\x01" + level[i:i + 64]).digest() if i + 32 < len(level) else level[i:]
                     for i in range(0, len(level), 64)]
            level = b"".join(nodes)
            levels.append(level)
        return cls(levels)

    @property
    def root(self) -> bytes:
        return self.levels[-1]

    @property
    def leaves(self) -> int:
        return len(self.levels[0]) // 32

    def path(self, index: int) -> Path:
        """The siblings from leaf ``index`` up to the root, each marked L or R."""
        out: Path = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling * 32 < len(level):
                out.append([level[sibling * 32:sibling * 32 + 32].hex(), "L" if sibling < index else "R"])
            index //= 2
        return out


HEX = re.compile(r"[0-9a-f]{64}")  # lower-case hex of a SHA-256, matched whole


def root_from_path(digest: bytes, path: Path) -> bytes:
    """The root a leaf's path leads to. Strict about form (lower-case hex, L or R), so
    that no two spellings of a path are accepted."""
    h = _leaf(digest)
    for sibling_hex, side in path:
        if side not in ("L", "R") or not isinstance(sibling_hex, str) or not HEX.fullmatch(sibling_hex):
            raise ValueError("malformed Merkle path")
        sibling = bytes.fromhex(sibling_hex)
        h = _node(sibling, h) if side == "L" else _node(h, sibling)
    return h


def shard_count(leaves: int) -> int:
    """A power of two, at most MAX_SHARDS, with about LEAVES_PER_SHARD leaves each."""
    n = 1
    while n < MAX_SHARDS and n * LEAVES_PER_SHARD < leaves:
        n *= 2
    return n


def shard_of(leaf_id: str, shards: int) -> int:
    """The shard of a leaf; ``shards`` must be a power of two up to 256."""
    if shards < 1 or shards > MAX_SHARDS or shards & (shards - 1):
        raise ValueError("malformed shard count")
    return hashlib.sha256(leaf_id.encode()).digest()[0] >> (8 - shards.bit_length() + 1)


@dataclass
class ShardedTree:
    """One Merkle tree per shard, leaves in id order within each."""

    trees: list[MerkleTree]
    members: list[list[str]]  # each shard's leaf ids, sorted: a leaf's index is its place

    @classmethod
    def build(cls, digests: Mapping[str, bytes], cache: TreeCache | None = None) -> ShardedTree:
        """``cache``: the trees of the last build, by their leaves (``TreeCache``)."""
        count = shard_count(len(digests))
        members: list[list[str]] = [[] for _ in range(count)]
        for leaf_id in sorted(digests):
            members[shard_of(leaf_id, count)].append(leaf_id)
        make = cache.tree if cache is not None else MerkleTree.build
        return cls([make([digests[i] for i in ids]) for ids in members], members)

    @property
    def roots(self) -> list[str]:
        return [t.root.hex() for t in self.trees]

    def position(self, leaf_id: str) -> tuple[int, int]:
        """(shard, index in the shard) of a leaf; KeyError if there is none. Looked up
        in the shard's sorted ids, not kept in a dict of every leaf (``MerkleTree``)."""
        shard = shard_of(leaf_id, len(self.trees))
        ids = self.members[shard]
        index = bisect.bisect_left(ids, leaf_id)
        if index == len(ids) or ids[index] != leaf_id:
            raise KeyError(leaf_id)
        return shard, index

    def path(self, leaf_id: str) -> Path:
        shard, index = self.position(leaf_id)
        return self.trees[shard].path(index)


class TreeCache:
    """Each shard's tree by the SHA-256 of its leaves' digests in order (which fix
    every node), kept between builds with the output's caches: a rebuild works out
    again only the trees of the shards a change reached. Working out all 256 trees of
    320,000 leaves (640,000 SHA-256 calls from Python) took 0.5 s of a one-change
    rebuild's snapshot stage at 100,000 certificates (docs/adr/0012-scale.md,
    twenty-third session). Read whole or not at all, written atomically; trusted like
    the other caches (alureg/caches.py), so only the build writes it."""

    def __init__(self, path: FilePath) -> None:
        self.path = path
        self.before: dict[bytes, list[bytes]] = {}
        self.now: dict[bytes, list[bytes]] = {}  # the trees used by this build: the next one's
        try:
            found = marshal.loads(path.read_bytes())  # noqa: S302
        except (OSError, EOFError, ValueError, TypeError):
            return
        if found.__class__ is dict and all(
                key.__class__ is bytes and levels.__class__ is list and levels
                and all(level.__class__ is bytes for level in levels) for key, levels in found.items()):
            self.before = found

    def tree(self, digests: list[bytes]) -> MerkleTree:
        key = hashlib.sha256(b"".join(digests)).digest()
        levels = self.before.get(key)
        if levels is None or len(levels[0]) != (32 * len(digests) or 32) or len(levels[-1]) != 32:
            levels = MerkleTree.build(digests).levels
        self.now[key] = levels
        return MerkleTree(levels)

    def save(self) -> None:
        """Keep this build's trees for the next, unless they are the last build's."""
        if self.now.keys() != self.before.keys():
            write_file(self.path, marshal.dumps(self.now, 4))


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_snapshot(digests: Mapping[str, bytes], trust: Mapping[str, Any], site_url: str,
                  publisher: KeyPair, now: dt.datetime, days: int = SNAPSHOT_DAYS,
                  trees: TreeCache | None = None) -> tuple[dict[str, Any], ShardedTree]:
    """The signed snapshot and its trees, from each leaf's ``record_digest``;
    ``trees``: the last build's (``TreeCache``)."""
    tree = ShardedTree.build(digests, trees)
    created = now.replace(microsecond=0)
    snapshot: dict[str, Any] = {
        "type": "status-snapshot",
        "site": site_url,
        # Seconds since 1970 of the build: grows with every build without stored state.
        "sequence": int(created.timestamp()),
        "created": _stamp(created),
        "expires": _stamp(created + dt.timedelta(days=days)),
        "records": len(digests),
        "shards": tree.roots,
        "trust": record_digest(trust).hex(),
    }
    return sign_record(snapshot, publisher, _stamp(created)), tree

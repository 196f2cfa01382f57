"""The status snapshot: what a verifier needs to trust that the records it was given
are the current, complete publication (design.md, "The status snapshot").

Each build signs, with a publisher key, a snapshot holding a sequence number that only
grows, when it was made and when it expires (days, not months), the digest of the
trust list, and the Merkle root over the digests of every record. A claim page then
needs only its own few records plus one Merkle path (of the claim's closure leaf,
which lists their digests), not a list of 100,000 digests, to show that they belong
to this snapshot (docs/adr/0008-snapshot-and-claim-verification.md).

Digest of a record: SHA-256 of its RFC 8785 form, proofs included. Merkle tree: leaf =
SHA-256(0x00 ‖ digest), node = SHA-256(0x01 ‖ left ‖ right); an odd node at the end
of a level moves up unchanged; leaves are ordered by record id. site/assets/verify.js
implements the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .signing import KeyPair, canonical, sign_record

SNAPSHOT_DAYS = 7
Path = list[list[str]]  # [[sibling hex, "L" or "R"], ...] from the leaf up


def record_digest(record: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(canonical(record)).digest()


def _leaf(digest: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + digest).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


@dataclass
class MerkleTree:
    levels: list[list[bytes]]  # levels[0] = leaf hashes, levels[-1] = [root]

    @classmethod
    def build(cls, digests: Sequence[bytes]) -> MerkleTree:
        level = [_leaf(d) for d in digests] or [hashlib.sha256(b"").digest()]
        levels = [level]
        while len(level) > 1:
            level = [_node(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                     for i in range(0, len(level), 2)]
            levels.append(level)
        return cls(levels)

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def path(self, index: int) -> Path:
        """The siblings from leaf ``index`` up to the root, each marked L or R."""
        out: Path = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                out.append([level[sibling].hex(), "L" if sibling < index else "R"])
            index //= 2
        return out


_HEX = re.compile(r"^[0-9a-f]{64}$")


def root_from_path(digest: bytes, path: Path) -> bytes:
    """The root a leaf's path leads to. Strict about form (lower-case hex, L or R), so
    that no two spellings of a path are accepted."""
    h = _leaf(digest)
    for sibling_hex, side in path:
        if side not in ("L", "R") or not isinstance(sibling_hex, str) or not _HEX.match(sibling_hex):
            raise ValueError("malformed Merkle path")
        sibling = bytes.fromhex(sibling_hex)
        h = _node(sibling, h) if side == "L" else _node(h, sibling)
    return h


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_snapshot(digests: Mapping[str, bytes], trust: Mapping[str, Any], site_url: str,
                  publisher: KeyPair, now: dt.datetime, days: int = SNAPSHOT_DAYS,
                  ) -> tuple[dict[str, Any], MerkleTree, list[str]]:
    """The signed snapshot, its tree and the leaf ids in leaf order, from each leaf's
    ``record_digest``."""
    ids = sorted(digests)
    tree = MerkleTree.build([digests[i] for i in ids])
    created = now.replace(microsecond=0)
    snapshot: dict[str, Any] = {
        "type": "status-snapshot",
        "site": site_url,
        # Seconds since 1970 of the build: grows with every build without stored state.
        "sequence": int(created.timestamp()),
        "created": _stamp(created),
        "expires": _stamp(created + dt.timedelta(days=days)),
        "records": len(ids),
        "root": tree.root.hex(),
        "trust": record_digest(trust).hex(),
    }
    return sign_record(snapshot, publisher, _stamp(created)), tree, ids

"""The API's lists are encoded a thousand rows at a time (alureg/api.py, ``_write_list``):
their bytes must be those of the whole document encoded at once, and their CSV that of
all rows at once, whatever the number of rows and where the chunks fall."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alureg import api


def _row(i: str) -> dict[str, Any]:
    n = int(i)
    return {"id": i, "name": f"Name {n}\nsecond line \"quoted\" é ✓", "countries": ["NO", "SE"][: n % 3],
            "nested": {"b": n, "a": [None, True, 1.5]}, "status_since": None if n % 2 else "2026-01-01",
            "formula": "=1+1" if n % 5 == 0 else "plain"}


def _columns(r: dict[str, Any]) -> list[Any]:
    return [r["id"], r["name"], " ".join(r["countries"]), r["status_since"] or "", r["formula"]]


@pytest.mark.parametrize("count", [0, 1, 2, 7, 30])
@pytest.mark.parametrize("at_once", [1, 3, 1000])
def test_a_list_made_in_chunks_is_the_whole_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 count: int, at_once: int) -> None:
    monkeypatch.setattr(api, "ROWS_AT_ONCE", at_once)
    ids = [str(i) for i in range(count)]
    meta = {"published": "2026-11-21", "status_as_of": "2026-11-21"}
    header = ["id", "name", "countries", "status_since", "formula"]
    api._write_list(str(tmp_path / "list.json"), meta, "certificates", ids, _row,
                    (str(tmp_path / "list.csv"), header, _columns))
    api._json(tmp_path / "whole.json", {**meta, "certificates": [_row(i) for i in ids]})
    assert (tmp_path / "list.json").read_bytes() == (tmp_path / "whole.json").read_bytes()
    whole_csv = api._csv_lines([_columns(_row(i)) for i in ids], header)
    assert (tmp_path / "list.csv").read_bytes() == whole_csv
    if count >= 5:
        assert b"'=1+1" in whole_csv  # a formula stays text in a spreadsheet


@pytest.mark.parametrize("count", [0, 1, 5, 23])
@pytest.mark.parametrize("at_once", [1, 4, 10_000])
def test_the_snapshot_leaves_made_in_chunks_are_their_canonical_form(count: int, at_once: int) -> None:
    import hashlib

    from alureg.bundles import _leaves_bytes
    from alureg.signing import canonical

    digests = {f"CRT-{i:08d}" if i % 2 else f"CLM-{i:08d}#closure": hashlib.sha256(str(i).encode()).digest()
               for i in range(count)}
    snapshot = {"shards": ["ab" * 32, "cd" * 32], "sequence": 1_790_000_000}
    whole = canonical({"shards": snapshot["shards"], "sequence": snapshot["sequence"],
                       "leaves": [[rid, digests[rid].hex()] for rid in sorted(digests)]})
    assert bytes(_leaves_bytes(snapshot, digests, at_once)) == whole

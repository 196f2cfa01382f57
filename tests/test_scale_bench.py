"""bench/scale_bench.py's comparison of the output the rebuilds after a change left
with a cold build's (issue 7: the target asks for the same bytes): it must see a file
in one tree only, and one with other bytes, and nothing in equal trees."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path

from .conftest import REPO


def _differences() -> Callable[[Path, Path], tuple[int, list[str]]]:
    sys.path.insert(0, str(REPO / "bench"))  # the script imports its neighbour results.py
    try:
        spec = importlib.util.spec_from_file_location("scale_bench", REPO / "bench" / "scale_bench.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO / "bench"))
    found: Callable[[Path, Path], tuple[int, list[str]]] = module.differences
    return found


def test_the_bench_sees_every_difference_between_two_outputs(tmp_path: Path) -> None:
    differences = _differences()
    one, other = tmp_path / "one", tmp_path / "other"
    for folder in (one, other):
        (folder / "c" / "CLM-1").mkdir(parents=True)
        (folder / "c" / "CLM-1" / "index.html").write_text("<p>valid</p>")
        (folder / "api.json").write_text("{}")
    assert differences(one, other) == (2, [])
    (other / "api.json").write_text("[]")  # the same size and time stamp, other bytes
    os.utime(other / "api.json", ns=(1_700_000_000_000_000_000,) * 2)
    os.utime(one / "api.json", ns=(1_700_000_000_000_000_000,) * 2)
    (one / "c" / "CLM-1" / "claim.json").write_text("{}")
    (other / "c" / "gone.html").write_text("")
    assert differences(one, other) == (3, ["c/CLM-1/claim.json", "c/gone.html", "api.json"])

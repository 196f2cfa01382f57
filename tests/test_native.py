"""The compiled modules (alureg/native.py): used when made from the sources as they
are, never otherwise, and giving plain Python's results byte for byte."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alureg import native

REPO = Path(__file__).resolve().parent.parent

# Prints, as JSON, what the compiled modules make of every sample record and of
# copies of them with bytes changed (malformed YAML, broken proofs, odd scalars): the
# data, the problems and the RFC 8785 shortcut of each load, and each valid record's
# proof results; and every finding of a whole check on three days (the rules' too).
# Run once compiled and once as plain Python.
_PROBE = r"""
import json, sys
from pathlib import Path
import alureg
from alureg.loading import load_bytes
from alureg.records import load_registry
from alureg.trust import TrustList, verify_record
from alureg.config import load_config

root = Path(sys.argv[1])
compiled = sys.modules["alureg.loading"].__file__.endswith(".so")
out = {"compiled": compiled, "loads": [], "proofs": []}
registry, _ = load_registry(root)
trust = TrustList.from_data(next(r for r in registry.records if r.data.get("type") == "trust-list").data)
config = load_config(root)
for path in sorted(root.rglob("*.yaml")):
    raw = path.read_bytes()
    variants = [raw] + [raw[:i] + bytes([raw[i] ^ flip]) + raw[i + 1:]
                        for i in range(0, len(raw), 89) for flip in (0x01, 0x20)]
    for k, text in enumerate(variants):
        done = load_bytes(text)
        out["loads"].append([str(path.relative_to(root)), k, repr(done.data), done.jcs,
                             [repr(p) for p in done.problems]])
for record in registry.records:
    result = verify_record(record.data, record.kind, trust, config)
    out["proofs"].append([record.rel, repr(result)])
import pickle
from alureg.check import check
out["checks"] = []
for at in ("2026-11-21", "2027-06-30", "2031-01-01"):  # the cross-record rules' findings change with the day
    findings = check(root, at, workers=1).findings
    assert pickle.loads(pickle.dumps(findings)) == findings  # as workers send them
    out["checks"].append([at, [f.text() for f in findings]])
print(json.dumps(out))
"""


def _probe(env_native: str) -> dict[str, object]:
    env = {**os.environ, "ALUREG_NATIVE": env_native, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", _PROBE, str(REPO)], env=env, cwd=REPO,
                          capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_the_modules_run_compiled_once_make_has_compiled_them() -> None:
    """``make test`` compiles them first (Makefile: native): a build step that made
    nothing, or a package that no longer looks for it, fails here."""
    folder = native.native_folder()
    assert (folder / native.COMPLETE).is_file(), "run `make native` (alureg/native.py)"
    for name in native.COMPILED:
        module = importlib.import_module(f"alureg.{name}")
        assert module.__file__ is not None and Path(module.__file__).is_relative_to(folder), name
        assert module.__file__.endswith(".so")


def test_compiled_and_plain_python_give_the_same_results() -> None:
    compiled, plain = _probe("1"), _probe("0")
    assert compiled.pop("compiled") is True and plain.pop("compiled") is False
    assert len(compiled["loads"]) > 1000  # type: ignore[arg-type]
    assert any(found for _, found in compiled["checks"])  # type: ignore[attr-defined]
    assert compiled == plain


def test_the_sources_as_they_are_name_the_folder(tmp_path: Path) -> None:
    """Any edit to any module of the package, not only a compiled one, names another
    folder: compiled code knows the types of what it imports."""
    copy = tmp_path / "alureg"
    shutil.copytree(native.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = native.modules_digest(copy)
    assert before == native.package_digest()
    config = copy / "config.py"  # not compiled, but imported by them
    config.write_text(config.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert native.modules_digest(copy) != before


def test_a_folder_cut_short_or_switched_off_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "NATIVE_DIR", tmp_path)
    folder = native.native_folder()
    (folder / "alureg").mkdir(parents=True)
    path: list[str] = []
    assert native.use(path) is None and path == []  # no "complete": cut short
    (folder / native.COMPLETE).write_text("", encoding="utf-8")
    monkeypatch.setenv("ALUREG_NATIVE", "0")
    assert native.use(path) is None and path == []
    monkeypatch.delenv("ALUREG_NATIVE")
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert native.use(path) == folder and path == [str(folder / "alureg")]


def test_a_compile_clears_what_others_left_but_not_a_compile_still_running(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "NATIVE_DIR", tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()  # a process that has ended
    names = ["0123456789abcdef01234567", f"work-{dead}", f"staged-{dead}",  # older sources', a killed compile's
             f"work-{os.getpid()}", f"staged-{os.getpid()}", "mine"]  # a compile running; this compile's own
    for name in names:
        (tmp_path / name / "alureg").mkdir(parents=True)
    native.clear_others(keep={tmp_path / "mine"})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[3:])


def test_no_compiled_module_looks_for_files_beside_itself() -> None:
    """A compiled module's ``__file__`` is in build/native/, not in the package."""
    for name in native.COMPILED:
        assert "__file__" not in (native.PACKAGE / f"{name}.py").read_text(encoding="utf-8"), name


def test_the_caches_are_keyed_by_the_same_digest_of_every_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """``checkcache.code_digest`` (the check cache, the build memo, every page's
    inputs) takes the package's digest instead of reading the modules again: an edit
    to any module still misses every cache."""
    from alureg import checkcache

    checkcache.code_digest.cache_clear()
    try:
        before = checkcache.code_digest()
        monkeypatch.setattr(native, "package_digest", lambda: "an edited module")
        checkcache.code_digest.cache_clear()
        assert checkcache.code_digest() != before
    finally:
        monkeypatch.undo()
        checkcache.code_digest.cache_clear()
    assert checkcache.code_digest() == before

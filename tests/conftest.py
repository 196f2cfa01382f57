"""Shared fixtures: a scratch copy of the sample registry that tests may change and
re-sign with the demo keys."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from alureg.demo import load_demo_keys, signed
from alureg.loading import load_file
from alureg.records import Kind, record_files
from alureg.signing import KeyPair
from alureg.synth import generate
from alureg.yamlwrite import dump_record

REPO = Path(__file__).resolve().parent.parent
AT = "2026-11-21"  # the fixed "today" of the tests; the sample registry is built around it


@pytest.fixture(scope="session", autouse=True)
def _own_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Builds in the tests cache into a temporary folder, not the user's ~/.cache."""
    old = os.environ.get("ALUREG_CACHE_DIR")
    os.environ["ALUREG_CACHE_DIR"] = str(tmp_path_factory.mktemp("alureg-cache"))
    yield
    if old is None:
        os.environ.pop("ALUREG_CACHE_DIR", None)
    else:
        os.environ["ALUREG_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def demo_keys() -> dict[str, KeyPair]:
    return load_demo_keys()


class Scratch:
    """A copy of the sample registry in a temporary folder."""

    def __init__(self, root: Path, keys: dict[str, KeyPair]) -> None:
        self.root = root
        self.keys = keys
        for part in ("registry", "certificates"):
            shutil.copytree(REPO / part, root / part)
        shutil.copy(REPO / "alureg.toml", root / "alureg.toml")

    def kind_of(self, rel: str) -> Kind:
        for kind, path in record_files(self.root):
            if path == self.root / rel:
                return kind
        raise KeyError(rel)

    def read(self, rel: str) -> dict[str, Any]:
        data = load_file(self.root / rel).data
        assert data is not None
        return data

    def write(self, rel: str, data: dict[str, Any]) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_record(data), encoding="utf-8")

    def change(self, rel: str, edit: Callable[[dict[str, Any]], None], *, resign: bool = True,
               kind: Kind | None = None) -> None:
        """Edit a record's data and, by default, sign it again with the demo keys so
        that only the rule under test can object."""
        data = self.read(rel)
        edit(data)
        if resign:
            data = signed(kind or self.kind_of(rel), data, self.read("registry/trust.yaml"), self.keys)
        self.write(rel, data)


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic registry (build.py synth): supersessions, every claim kind."""
    root = tmp_path_factory.mktemp("synth") / "reg"
    generate(root, members=25, certificates=60, claims=45, seed=7)
    return root


@pytest.fixture
def scratch(tmp_path: Path, demo_keys: dict[str, KeyPair]) -> Scratch:
    return Scratch(tmp_path / "reg", demo_keys)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium, driven by playwright (tests/browser.py)."""
    from playwright.sync_api import sync_playwright

    from .browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def claim_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample site built with a fixed snapshot time (tests/claim_cases.py)."""
    from .claim_cases import build_base

    root = tmp_path_factory.mktemp("claims")
    return build_base(root / "public")


@pytest.fixture(scope="session")
def sharded_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample site as claim_site, its snapshot in 32 shards (as a registry of
    about 30,000 records would be): 4 leaves per shard instead of 1,024."""
    from alureg import snapshot

    from .claim_cases import build_base

    root = tmp_path_factory.mktemp("sharded")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(snapshot, "LEAVES_PER_SHARD", 4)
        return build_base(root / "public")


@pytest.fixture(scope="session")
def other_site(tmp_path_factory: pytest.TempPathFactory, demo_keys: dict[str, KeyPair]) -> Path:
    """A second build, a day later with one record changed: its snapshot is foreign."""
    from .claim_cases import build_other

    root = tmp_path_factory.mktemp("other")
    return build_other(Scratch(root / "reg", demo_keys), root / "public")


@pytest.fixture(scope="session")
def paged_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample site with its directories in pages of 4 rows (alureg/pages.py), as a
    registry of thousands of members and certificates has them in pages of 1,000."""
    from alureg import pages
    from alureg.publish import build

    out = tmp_path_factory.mktemp("paged") / "public"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pages, "DIRECTORY_PAGE", 4)
        build(REPO, out, AT, now=dt.datetime.fromisoformat(f"{AT}T06:00:00+00:00"))
    return out

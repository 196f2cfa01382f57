"""Publishing: check, then write the whole site to a temporary folder that replaces
the output folder only when everything succeeded (nothing half-built is ever served).

The site: the MkDocs shell (alureg/shell.py), the record pages (alureg/pages.py) and
the static API (alureg/api.py).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from .api import write_api
from .check import CheckResult, check
from .errors import AluregError
from .pages import fragments, write_record_pages
from .shell import build_shell
from .sitemodel import SiteModel


class PublishError(AluregError):
    pass


def _write_atomically(out: Path, write: Callable[[Path], None]) -> None:
    """Run ``write`` into a fresh folder beside ``out``, then swap it in."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def build(root: Path, out: Path, at: str) -> CheckResult:
    """Check the registry and publish it to ``out``; on failure ``out`` is untouched."""
    result = check(root, at)
    if not result.ok():
        raise PublishError(f"not published: the registry has errors (run: check --root {root})")

    model = SiteModel.build(result, at)

    def write(folder: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="alureg-shell-") as work:
            build_shell(folder, Path(work), fragments(model), f"{model.scheme} registry")
        write_record_pages(model, folder)
        write_api(model, folder)

    _write_atomically(out, write)
    return result

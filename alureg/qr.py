"""QR codes for claims: an SVG and a PNG of each claim's URL, drawn incrementally.

Error correction level Q (about 25% of the symbol can be lost): labels on cans, foil
and cartons get scuffed, curved and wet, and Q costs one version more than M for a
URL of this length (docs/adr/0009-qr-codes.md). Quiet zone: 4 modules, as the QR
standard requires. Drawing is the slowest step per record (segno: ~230 codes/s), so
codes are cached by the URL and settings they encode: a claim whose URL did not
change is copied from the cache, not drawn again.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import segno

ERROR = "q"
BORDER = 4  # modules of quiet zone on each side
PNG_SCALE = 10  # pixels per module in the PNG (450 px for a version-5 code)
MIN_MODULE_MM = 0.4  # smallest module that phone cameras read reliably on packaging
SETTINGS = f"{ERROR}-{BORDER}-{PNG_SCALE}-segno{segno.__version__}"


def claim_url(site_url: str, claim_id: str) -> str:
    return f"{site_url}/c/{claim_id}/"


@dataclass(frozen=True)
class QrInfo:
    version: int
    modules: int  # symbol width in modules, without the quiet zone

    @property
    def with_quiet_zone(self) -> int:
        return self.modules + 2 * BORDER

    @property
    def min_print_mm(self) -> float:
        return round(self.with_quiet_zone * MIN_MODULE_MM, 1)


def info(url: str) -> QrInfo:
    code = segno.make(url, error=ERROR, micro=False, boost_error=False)
    return QrInfo(int(code.version), int(code.symbol_size(border=0)[0]))


def draw(url: str) -> tuple[bytes, bytes, QrInfo]:
    """SVG and PNG bytes for ``url``, and the code's size."""
    code = segno.make(url, error=ERROR, micro=False, boost_error=False)
    svg, png = io.BytesIO(), io.BytesIO()
    # SVG: one user unit per module, so it prints sharp at any size.
    code.save(svg, kind="svg", scale=1, border=BORDER, xmldecl=False, title=url, unit="mm")
    code.save(png, kind="png", scale=PNG_SCALE, border=BORDER)
    return svg.getvalue(), png.getvalue(), QrInfo(int(code.version), int(code.symbol_size(border=0)[0]))


@dataclass
class QrStats:
    drawn: int = 0
    reused: int = 0
    infos: dict[str, QrInfo] = field(default_factory=dict)  # by claim id, for the claim pages


def write_codes(urls: dict[str, str], out: Path, cache: Path) -> QrStats:
    """For each claim id -> URL, put qr.svg and qr.png in out/c/<id>/, drawing only
    codes that are not in ``cache`` yet. Even encoding a code (segno.make) costs about
    7 ms, so its version and size are cached too."""
    stats = QrStats()
    cache.mkdir(parents=True, exist_ok=True)
    for claim_id, url in urls.items():
        key = hashlib.sha256(f"{SETTINGS}\n{url}".encode()).hexdigest()
        svg_cached, png_cached, info_cached = (cache / f"{key}.{ext}" for ext in ("svg", "png", "json"))
        if svg_cached.is_file() and png_cached.is_file() and info_cached.is_file():
            stats.reused += 1
            stats.infos[claim_id] = QrInfo(**json.loads(info_cached.read_text()))
        else:
            svg, png, qr = draw(url)
            stats.infos[claim_id] = qr
            meta = json.dumps({"version": qr.version, "modules": qr.modules}).encode()
            for path, data in ((svg_cached, svg), (png_cached, png), (info_cached, meta)):
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(data)
                tmp.replace(path)  # a half-written cache file is never seen
            stats.drawn += 1
        target = out / "c" / claim_id
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(svg_cached, target / "qr.svg")
        shutil.copyfile(png_cached, target / "qr.png")
    return stats

"""QR codes for claims: an SVG and a PNG of each claim's URL, drawn incrementally.

Error correction level Q (about 25% of the symbol can be lost): labels on cans, foil
and cartons get scuffed, curved and wet, and Q costs one version more than M for a
URL of this length (docs/adr/0009-qr-codes.md). Quiet zone: 4 modules, as the QR
standard requires.

The symbol is encoded by zxing-cpp (its writer is libzint, in C: about 2 ms a code
with both files, where segno took about 17 ms, 7 of them choosing the mask); the
files around it are ours: the SVG is its path in a viewBox of one unit per module
with the URL as title, the PNG is drawn by Pillow. Codes are cached by the URL and
settings they encode, so a claim whose URL did not change is copied, not drawn, and
many new codes are drawn on every core (docs/adr/0012-scale.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing as mp
import os
import re
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, cast
from xml.sax.saxutils import escape, quoteattr

import zxingcpp
from PIL import Image

ERROR = "Q"
BORDER = 4  # modules of quiet zone on each side
PNG_SCALE = 10  # pixels per module in the PNG (410 px for a version-4 code)
MIN_MODULE_MM = 0.4  # smallest module that phone cameras read reliably on packaging
SETTINGS = f"{ERROR}-{BORDER}-{PNG_SCALE}-zxing-cpp{metadata.version('zxing-cpp')}-svg2"
PARALLEL_FROM = 200  # codes to draw; below this, starting workers costs more than it saves
_PATH = re.compile(r'<path d="([MmHhVvZz0-9 .-]+)"')


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


def _encode(url: str) -> zxingcpp.Barcode:
    code = zxingcpp.create_barcode(url, zxingcpp.BarcodeFormat.QRCode, ec_level=ERROR)
    if code.ec_level != ERROR:
        raise ValueError(f"QR code for {url} was not made at error correction level {ERROR}")
    return code


def _info(modules: int) -> QrInfo:
    return QrInfo((modules - 17) // 4, modules)


def info(url: str) -> QrInfo:
    return _info(_encode(url).to_image(scale=1, add_quiet_zones=False).shape[0])


def draw(url: str) -> tuple[bytes, bytes, QrInfo]:
    """SVG and PNG bytes for ``url``, and the code's size."""
    code = _encode(url)
    modules = code.to_image(scale=1, add_quiet_zones=False).shape[0]
    side = modules + 2 * BORDER
    # The library's own SVG has a 4-module quiet zone too; we keep only its path.
    found = _PATH.search(code.to_svg(scale=1, add_quiet_zones=True))
    if found is None:
        raise ValueError("unexpected SVG from the QR encoder")
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{side}mm" height="{side}mm" '
           f'viewBox="0 0 {side} {side}"><title>{escape(url)}</title>'
           f'<rect width="{side}" height="{side}" fill="#fff"/>'
           f'<path fill="#000" d={quoteattr(found.group(1))}/></svg>\n').encode()
    image = code.to_image(scale=PNG_SCALE, add_quiet_zones=True)
    width = image.shape[0]
    if width != side * PNG_SCALE:
        raise ValueError("unexpected quiet zone from the QR encoder")
    png = io.BytesIO()
    pixels = bytes(memoryview(cast(Any, image)))  # one byte per pixel, 0 or 255
    Image.frombytes("L", (width, width), pixels).convert("1").save(png, format="PNG")
    return svg, png.getvalue(), _info(modules)


@dataclass
class QrStats:
    drawn: int = 0
    reused: int = 0
    infos: dict[str, QrInfo] = field(default_factory=dict)  # by claim id, for the claim pages


def _draw_all(urls: list[str]) -> list[tuple[bytes, bytes, QrInfo]]:
    workers = os.cpu_count() or 1
    if len(urls) < PARALLEL_FROM or workers == 1 or "fork" not in mp.get_all_start_methods():
        return [draw(u) for u in urls]
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
        return list(pool.map(draw, urls, chunksize=100))


def write_codes(urls: dict[str, str], out: Path, cache: Path) -> QrStats:
    """For each claim id -> URL, put qr.svg and qr.png in out/c/<id>/, drawing only
    codes that are not in ``cache`` yet (their version and size are cached too)."""
    stats = QrStats()
    cache.mkdir(parents=True, exist_ok=True)

    def cached(url: str) -> tuple[Path, Path, Path]:
        key = hashlib.sha256(f"{SETTINGS}\n{url}".encode()).hexdigest()
        svg_file, png_file, info_file = (cache / f"{key}.{ext}" for ext in ("svg", "png", "json"))
        return svg_file, png_file, info_file

    missing = sorted({u for u in urls.values() if not all(p.is_file() for p in cached(u))})
    for url, (svg, png, qr) in zip(missing, _draw_all(missing), strict=True):
        meta = json.dumps({"version": qr.version, "modules": qr.modules}).encode()
        for path, data in zip(cached(url), (svg, png, meta), strict=True):
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)  # a half-written cache file is never seen
    drawn = set(missing)
    for claim_id, url in urls.items():
        svg_file, png_file, info_file = cached(url)
        stats.infos[claim_id] = QrInfo(**json.loads(info_file.read_text()))
        if url in drawn:
            stats.drawn += 1
            drawn.discard(url)
        else:
            stats.reused += 1
        target = out / "c" / claim_id
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(svg_file, target / "qr.svg")
        shutil.copyfile(png_file, target / "qr.png")
    return stats

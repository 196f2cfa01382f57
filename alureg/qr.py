"""QR codes for claims: the SVG and PNG a holder prints, for the `qr` command.

The site does not draw codes at build time: the claim page draws its code in the
holder's browser (site/assets/claim-qr.js, same settings), because 100,000 codes
took minutes and hundreds of MB of output for files that only holders need, once
(docs/adr/0012-scale.md). This module draws the same code for print shops and
pipelines (`python build.py qr CLM-…`), and for the tests that compare the two.

Error correction level Q (about 25% of the symbol can be lost): labels on cans, foil
and cartons get scuffed, curved and wet, and Q costs one version more than M for a
URL of this length (docs/adr/0009-qr-codes.md). Quiet zone: 4 modules, as the QR
standard requires. The symbol is encoded by zxing-cpp (its writer is libzint, in C);
the files around it are ours: the SVG is its path in a viewBox of one unit per module
with the URL as title, the PNG is drawn by Pillow.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from xml.sax.saxutils import escape, quoteattr

import zxingcpp
from PIL import Image

ERROR = "Q"
BORDER = 4  # modules of quiet zone on each side
PNG_SCALE = 10  # pixels per module in the PNG (410 px for a version-4 code)
MIN_MODULE_MM = 0.4  # smallest module that phone cameras read reliably on packaging
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


def write_files(urls: dict[str, str], out: Path) -> list[Path]:
    """For each claim id -> URL, write <id>-qr.svg and <id>-qr.png into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for claim_id, url in urls.items():
        svg, png, _ = draw(url)
        for ext, data in (("svg", svg), ("png", png)):
            path = out / f"{claim_id}-qr.{ext}"
            path.write_bytes(data)
            written.append(path)
    return written

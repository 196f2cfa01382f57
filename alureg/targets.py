"""What `verify` was given: a claim id, a claim URL, or an image holding its QR code.

A URL must point at this registry's claim pages: a QR code copied from elsewhere or
pointing at a look-alike site is refused here, before anything is fetched."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from .verify import CANNOT, Verdict

CLAIM_ID = re.compile(r"^CLM-[0-9]{5,8}$")


def decode_qr(path: Path) -> str | None:
    """The text of the first QR code in an image (zxing-cpp), or None."""
    import zxingcpp  # imported here: only this command needs the decoder
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            results = zxingcpp.read_barcodes(image.convert("L"))
    except (OSError, UnidentifiedImageError):
        return None
    return results[0].text if results else None


def claim_from_target(target: str, site_url: str) -> str | Verdict:
    """The claim id to verify, or the reason it cannot be verified."""
    if CLAIM_ID.match(target):
        return target
    if Path(target).is_file():
        text = decode_qr(Path(target))
        if text is None:
            return Verdict(CANNOT, [f"no QR code could be read in {target}"])
        target = text
    parts, site = urlsplit(target), urlsplit(site_url)
    if (parts.scheme, parts.netloc.lower()) != (site.scheme, site.netloc.lower()):
        return Verdict(CANNOT, [f"this code points to {parts.netloc or target!r}, not to the registry at {site_url}"])
    prefix = site.path.rstrip("/") + "/c/"
    rest = parts.path[len(prefix):].strip("/") if parts.path.startswith(prefix) else ""
    if not CLAIM_ID.match(rest) or parts.query or parts.fragment:
        return Verdict(CANNOT, [f"{target} is not the address of a claim in this registry"])
    return rest

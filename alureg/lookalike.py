"""Names that imitate another organisation's name with look-alike characters.

A forged member called "Fjordvik Аluminium AS" (a Cyrillic А) or with a zero-width
space inside would show in the registry as the real Fjordvik Aluminium AS. Each name
is reduced to a skeleton, in the spirit of Unicode TR39: NFKC, case folded, invisible
format characters removed, and every character that the Unicode confusables data
(the `confusable-homoglyphs` package) lists as looking like a Latin one replaced by
it. Two different names with the same skeleton are reported, on the name that uses
the look-alike or invisible characters. This is a warning (RUL014): a secretariat
member looks at it; it cannot tell a legitimate name from an imitation by itself.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from confusable_homoglyphs import confusables  # type: ignore[import-untyped]


@lru_cache(maxsize=4096)
def _latin(char: str) -> str:
    """The Latin character ``char`` looks like, or ``char`` itself."""
    if char.isascii():
        return char
    found = confusables.is_confusable(char, preferred_aliases=["latin"], greedy=False)
    if found:
        for glyph in found[0]["homoglyphs"]:
            if glyph["c"].isascii():
                return str(glyph["c"])
    return char


def _invisible(char: str) -> bool:
    return unicodedata.category(char) == "Cf"  # zero-width spaces and joiners, bidi controls


def skeleton(name: str) -> str:
    text = unicodedata.normalize("NFKC", name)
    text = "".join(_latin(c) for c in text if not _invisible(c))
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def suspicious(name: str) -> list[str]:
    """The characters of ``name`` that are invisible or imitate a Latin character."""
    out = []
    for i, char in enumerate(name):
        if _invisible(char) or _latin(char) != char:
            out.append(f"U+{ord(char):04X} {unicodedata.name(char, 'unnamed')} at position {i + 1}")
    return out


@dataclass(frozen=True)
class Imitation:
    record_id: str
    name: str
    like_id: str
    like_name: str
    characters: list[str]


def imitations(names: Iterable[tuple[str, str]]) -> Iterator[Imitation]:
    """For (record id, name) pairs: each name that imitates another record's name."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for record_id, name in names:
        groups.setdefault(skeleton(name), []).append((record_id, name))
    for group in groups.values():
        if len({name for _, name in group}) < 2:
            continue
        for record_id, name in group:
            characters = suspicious(name)
            if not characters:
                continue  # the plain name in the group: the one being imitated
            other_id, other = next(((i, n) for i, n in group if n != name and not suspicious(n)),
                                   next((i, n) for i, n in group if n != name))
            yield Imitation(record_id, name, other_id, other, characters)

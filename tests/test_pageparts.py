"""The parts of record pages made in Python (alureg/pageparts.py) write what the
template macros they replaced wrote (tests/data/pageparts/macros_before.html),
rendered with stock Jinja and MarkupSafe, for any text: escaped alike, and not
escaped again inside a page."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import jinja2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alureg import pageparts
from alureg.pageparts import country
from alureg.pages import environment
from alureg.sitemodel import CLAIM_KIND_NAMES, STANDARD_NAMES, STATE_LABELS
from alureg.status import Status

from .conftest import REPO

FAST = settings(derandomize=True, deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])

# Text with the characters that escaping changes, and any other.
TEXT = st.text(st.sampled_from("<>&\"' aZé—;:/"), max_size=12) | st.text(max_size=12)
STATES = st.sampled_from(sorted(STATE_LABELS))
STATUS = st.builds(Status, STATES, st.none() | TEXT, st.none() | TEXT, st.lists(TEXT, max_size=3).map(tuple))

_STOCK = jinja2.Environment(loader=jinja2.FileSystemLoader(REPO / "tests" / "data" / "pageparts"), autoescape=True)
_STOCK.globals.update(labels=STATE_LABELS, standards=STANDARD_NAMES, claim_kinds=CLAIM_KIND_NAMES, country=country)


def _macro(name: str, **arguments: Any) -> str:
    """What the macro ``name`` wrote, called with ``arguments`` in their order."""
    call = ", ".join(arguments)
    template = _STOCK.from_string(f'{{% from "macros_before.html" import {name} %}}{{{{ {name}({call}) }}}}')
    return template.render(**arguments)


def _in_page(name: str, **arguments: Any) -> str:
    """The part ``name`` as a record page's template writes it."""
    call = ", ".join(arguments)
    return environment().from_string(f"<div>{{{{ {name}({call}) }}}}</div>").render(**arguments)


def _same(name: str, **arguments: Any) -> None:
    expected = _macro(name, **arguments)
    assert str(getattr(pageparts, name)(*arguments.values())) == expected
    assert _in_page(name, **arguments) == f"<div>{expected}</div>"


@FAST
@given(TEXT, TEXT, STATUS)
def test_the_badge_and_the_reason_are_the_macros_they_were(kind: str, rid: str, status: Status) -> None:
    _same("badge", kind=kind, id=rid, status=status)
    _same("reason", kind=kind, id=rid, status=status)


@FAST
@given(TEXT, st.lists(st.fixed_dictionaries({"date": TEXT, "status": STATES, "reason": TEXT}), max_size=4))
def test_the_as_of_line_and_the_timeline_are_the_macros_they_were(at: str, history: list[dict[str, str]]) -> None:
    _same("asof", at=at)
    _same("timeline", history=history)


EVENT = st.builds(lambda commit, time, day, summary, signers: SimpleNamespace(
    commit=commit, time=time, day=day, change=SimpleNamespace(summary=lambda: summary, signers=signers)),
    TEXT, TEXT, TEXT, TEXT, st.lists(TEXT, max_size=2).map(tuple))


@FAST
@given(st.booleans(), st.lists(EVENT, max_size=3), st.none() | TEXT, TEXT, TEXT)
def test_the_changes_are_the_macro_they_were(available: bool, events: list[Any], repository: str | None,
                                             record_id: str, root: str) -> None:
    """With and without a history, events and a repository to link commits to."""
    model = SimpleNamespace(history=SimpleNamespace(available=available), events_of=lambda rid: events,
                            commit_url=lambda sha: f"{repository}/commit/{sha}" if repository else None)
    _same("changes", model=model, record_id=record_id, root=root)


CERTIFICATE = st.fixed_dictionaries({"standard": st.sampled_from(sorted(STANDARD_NAMES)), "version": TEXT,
                                     "certification_type": TEXT, "valid_until": TEXT})
CLAIM = st.fixed_dictionaries({"kind": st.sampled_from(sorted(CLAIM_KIND_NAMES))},
                              optional={"product": st.fixed_dictionaries({"name": TEXT})})


@FAST
@given(st.dictionaries(TEXT, st.tuples(CERTIFICATE, STATES), max_size=4),
       st.dictionaries(TEXT, st.tuples(CLAIM, STATES), max_size=4), TEXT)
def test_the_tables_are_the_macros_they_were(certificates: dict[str, Any], claims: dict[str, Any], root: str) -> None:
    """Any ids, fields and statuses; a claim with or without a product."""
    model = SimpleNamespace(
        certificates={cid: c for cid, (c, _) in certificates.items()},
        cert_status=lambda cid: Status(certificates[cid][1]),
        claims={cid: c for cid, (c, _) in claims.items()},
        claim_status=lambda cid: Status(claims[cid][1]))
    _same("cert_table", model=model, ids=list(certificates), root=root)
    _same("claim_table", model=model, ids=list(claims), root=root)


def _row(name: str, *arguments: Any) -> str:
    """What the directory row macro ``name`` wrote (its macros had positional arguments)."""
    names = [f"a{k}" for k in range(len(arguments))]
    call = f'{name}({", ".join(names)})'
    template = _STOCK.from_string(f'{{% from "macros_before.html" import {name} %}}{{{{ {call} }}}}')
    return template.render(dict(zip(names, arguments, strict=True)))


@FAST
@given(TEXT, CERTIFICATE, st.fixed_dictionaries({"id": TEXT, "name": TEXT}), STATUS, st.lists(TEXT, max_size=3),
       st.lists(TEXT, max_size=3))
def test_the_certificate_row_is_the_macro_it_was(cid: str, certificate: dict[str, Any], holder: dict[str, Any],
                                                 status: Status, countries: list[str], activities: list[str]) -> None:
    expected = _row("certificate", cid, certificate, holder, status, countries, activities)
    assert pageparts.certificate_row(cid, certificate, holder, status, countries, activities) == expected


@FAST
@given(TEXT, st.fixed_dictionaries({"id": TEXT, "name": TEXT, "joined": TEXT,
                                    "country": st.sampled_from(["NO", "AU", "DE", "XX", "<&>"])}),
       st.integers(0, 10_000), STATUS)
def test_the_member_row_is_the_macro_it_was(mid: str, member: dict[str, Any], certificates: int,
                                            status: Status) -> None:
    """Any name, id and count; a country code with a name or without one."""
    expected = _row("member", mid, member, certificates, status)
    assert pageparts.member_row(mid, member, certificates, status) == expected

"""The parts that record pages repeat, made in Python rather than as template macros
(site/templates/macros.html and directory_rows.html had them): a status badge, the
reason beside it, the "as of" line, a record's status history, its committed
changes, the tables of certificates and claims, and the directories' rows.
Templates call them as Jinja globals (alureg/pages.py); the rows are called from
Python.

Why: a record page is rendered 220,000 times in a large build, and each call of a
Jinja macro cost about 6 µs on top of its output (a new context, its arguments
checked, its output joined and wrapped): a certificate page called five, plus one
for each row of its table of claims, and a directory row took 12.6 µs
(docs/adr/0012-scale.md, seventeenth and eighteenth sessions). Each part returns
exactly the text the macro wrote, escaped the same way (tests/test_pageparts.py
renders the macros with stock Jinja and compares, for any text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import markupsafe
import pycountry
from markupsafe import Markup

from .sitemodel import CLAIM_KIND_NAMES, STANDARD_NAMES, STATE_LABELS, SiteModel
from .status import Status

# MarkupSafe's own escaping (C), which its ``escape`` wraps in a Markup; a MarkupSafe
# without it (not the pinned one) is used through ``escape`` as it is.
_escape_inner: Callable[[str], str] | None = getattr(markupsafe, "_escape_inner", None)


def escape(value: Any) -> str:
    """What Jinja's autoescaping writes for ``{{ value }}``: ``markupsafe.escape``'s
    characters, without the Markup object around a plain string. Jinja uses the
    result only as output, joined into the page (compiler: ``_output_child_pre``),
    where a Markup and its str are the same text. MarkupSafe 3 makes that object in
    Python (``Markup.__new__``): 305 ns a value against 22, and a record page writes
    about 85 values (128 against 105 µs a page, docs/adr/0012-scale.md). Anything
    but a plain string (Markup, numbers, Undefined) goes to ``markupsafe.escape``."""
    if type(value) is str and _escape_inner is not None:  # as markupsafe.escape tests it
        return _escape_inner(value)
    return markupsafe.escape(value)


@cache
def country(code: str) -> str:
    """A country's name and code, from its ISO 3166 code."""
    found = pycountry.countries.get(alpha_2=code)
    name = getattr(found, "common_name", None) or getattr(found, "name", code)
    return f"{name} ({code})"


def _joined(values: Iterable[Any], separator: str = "; ") -> str:
    """Jinja's ``join`` filter with autoescaping: each value escaped, then joined."""
    return separator.join(map(escape, values))


def badge(kind: str, rid: str, status: Status) -> Markup:
    """A record's status badge, which site/assets/status.js finds by its kind and id
    and updates at view time."""
    e = escape
    return Markup(f'<span class="badge badge--{e(status.state)}" data-status-kind="{e(kind)}" '  # noqa: S704 (escaped)
                  f'data-status-id="{e(rid)}">{e(STATE_LABELS[status.state])}</span>')


def reason(kind: str, rid: str, status: Status) -> Markup:
    """Why a record has its status (a claim's reasons, else since when and why), in an
    element status.js rewrites at view time."""
    e = escape
    if status.reasons:
        text = _joined(status.reasons)
    else:
        text = ""
        if status.since:
            text = f"since {e(status.since)}" + (": " if status.reason else "")
        text += e(status.reason or "")
    return Markup(f'<span data-reason-of="{e(kind)}:{e(rid)}">{text}</span>')  # noqa: S704 (escaped)


def asof(at: str) -> Markup:
    """The day the status shown without JavaScript is of."""
    return Markup(f'<p class="asof" data-asof>Status as of {escape(at)}, the day this page was published.</p>')  # noqa: S704


def timeline(history: Sequence[Mapping[str, Any]]) -> Markup:
    """A record's status history, oldest first, as its file holds it."""
    e = escape
    items = "".join(f'<li><time datetime="{e(h["date"])}">{e(h["date"])}</time> — '
                    f'{e(STATE_LABELS[h["status"]] or h["status"])}: {e(h["reason"])}</li>\n' for h in history)
    return Markup(f'<ol class="timeline">\n{items}</ol>')  # noqa: S704 (escaped)


def changes(model: SiteModel, record_id: str, root: str) -> Markup:
    """A record's committed changes, newest first, each linked to its commit."""
    e = escape
    events = model.events_of(record_id)
    if not model.history.available:
        body = ("<p>The change history is not part of this build (it was built outside the registry's git "
                "repository).</p>\n")
    elif events:
        items = []
        for event in events:
            url = model.commit_url(event.commit)
            signers = event.change.signers
            short = f"<code>{e(event.commit[:10])}</code>"
            items.append(f'<li><time datetime="{e(event.time)}">{e(event.day)}</time> — {e(event.change.summary())}'
                         + (f"; signed by {_joined(signers)}" if signers else "")
                         + " (commit " + (f'<a href="{e(url)}" rel="nofollow noopener">{short}</a>' if url else short)
                         + ")</li>\n")
        body = '<ol class="changes">\n' + "".join(items) + "</ol>\n"
    else:
        body = "<p>No committed change yet.</p>"
    return Markup(f'\n{body}\n<p><a href="{e(root)}changes/">All changes to the registry</a>, with feeds.</p>')  # noqa: S704


_TABLE_END = "</tbody></table></div>"


def cert_table(model: SiteModel, ids: Iterable[str], root: str) -> Markup:
    """A table of certificates: id, standard, type, end of validity and status."""
    e, r = escape, escape(root)
    rows = []
    for cid in ids:
        c = model.certificates[cid]
        rows.append(f'<tr><td><a href="{r}certificates/{e(cid)}/">{e(cid)}</a></td>'
                    f'<td>{e(STANDARD_NAMES[c["standard"]])} {e(c["version"])}</td>'
                    f'<td>{e(str(c["certification_type"]).capitalize())}</td><td>{e(c["valid_until"])}</td>'
                    f'<td>{badge("certificate", cid, model.cert_status(cid))}</td></tr>\n')
    return Markup('<div class="table-wrap"><table class="registry-table">\n<thead><tr><th scope="col">Certificate'  # noqa: S704
                  '</th><th scope="col">Standard</th><th scope="col">Type</th><th scope="col">Valid until</th>'
                  '<th scope="col">Status</th></tr></thead>\n<tbody>\n' + "".join(rows) + _TABLE_END)


def claim_table(model: SiteModel, ids: Iterable[str], root: str) -> Markup:
    """A table of claims: id, kind, product and status."""
    e, r = escape, escape(root)
    rows = []
    for cid in ids:
        c = model.claims[cid]
        product = c.get("product")
        rows.append(f'<tr><td><a href="{r}c/{e(cid)}/">{e(cid)}</a></td><td>{e(CLAIM_KIND_NAMES[c["kind"]])}</td>'
                    f'<td>{e(product["name"]) if product else "—"}</td>'
                    f'<td>{badge("claim", cid, model.claim_status(cid))}</td></tr>\n')
    return Markup('<div class="table-wrap"><table class="registry-table">\n<thead><tr><th scope="col">Claim</th>'  # noqa: S704
                  '<th scope="col">Kind</th><th scope="col">Product</th><th scope="col">Status</th></tr></thead>\n'
                  '<tbody>\n' + "".join(rows) + _TABLE_END)


def certificate_row(cid: str, c: Mapping[str, Any], holder: Mapping[str, Any], status: Status,
                    countries: Sequence[str], activities: Sequence[str]) -> str:
    """A row of the certificates directory, with what its filters read (alureg/pages.py
    ``_certificate_row`` works out the countries and activities)."""
    e = escape
    name, standard, version, kind = e(holder["name"]), c["standard"], e(c["version"]), c["certification_type"]
    return (f'<tr data-row data-standard="{e(standard)}" data-version="{version}" data-type="{e(kind)}" '
            f'data-state="{e(status.state)}" data-country="{_joined(countries, " ")}" '
            f'data-activity="{_joined(activities, " ")}" data-text="{name} {e(cid)}">'
            f'<td><a href="../certificates/{e(cid)}/">{e(cid)}</a></td><td><a href="../members/{e(holder["id"])}/">'
            f'{name}</a></td><td>{e(STANDARD_NAMES[standard])} {version}</td><td>{e(str(kind).capitalize())}</td>'
            f'<td>{_joined(countries, ", ")}</td><td>{e(c["valid_until"])}</td>'
            f'<td>{badge("certificate", cid, status)}</td></tr>\n')


def member_row(mid: str, m: Mapping[str, Any], certificates: int, status: Status) -> str:
    """A row of the members directory."""
    e = escape
    return (f'<tr data-row data-country="{e(m["country"])}" data-text="{e(m["name"])} {e(m["id"])}">'
            f'<td><a href="../members/{e(mid)}/">{e(m["name"])}</a></td><td>{e(country(m["country"]))}</td>'
            f'<td>{e(m["joined"])}</td><td>{e(certificates)}</td><td>{badge("member", mid, status)}</td></tr>\n')


# The Jinja globals the templates call (alureg/pages.py ``environment``).
GLOBALS = {"country": country, "badge": badge, "reason": reason, "asof": asof, "timeline": timeline, "changes": changes,
           "cert_table": cert_table, "claim_table": claim_table}

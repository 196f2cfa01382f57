"""Cross-record rules: what one schema cannot see on one record alone.

Each rule is a function listed in ``RULES`` under the code it reports. Rules see only
records that passed their schema, so they may index fields without guarding types.
The scheme's facts behind them are in ../shared/domain.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from .dates import add_years, parse_date
from .findings import Finding
from .lookalike import imitations
from .records import Kind, Record, Registry
from .status import StatusIndex, certificate_status, history_at, member_status

MUST_CERTIFY = frozenset({"production-and-transformation", "industrial-users"})
MAX_YEARS = {"provisional": 1, "full": 3}
# A status history must not go on after these (a withdrawal or a termination is final).
FINAL = {Kind.CERTIFICATE: {"withdrawn"}, Kind.CLAIM: {"withdrawn"}, Kind.MEMBER: {"resigned", "terminated"}}
# The status a history must start with, on the record's first day.
FIRST = {Kind.CERTIFICATE: ("active", "issued"), Kind.CLAIM: ("approved", "approved"),
         Kind.MEMBER: ("active", "joined")}


@dataclass(slots=True)
class Context:
    registry: Registry
    valid: list[Record]  # records that passed their schema
    at: str
    # The records the rules report on, by id(): an incremental run's (alureg/rulecache.py).
    # None: every record. Rules read every record; they report only on these.
    only: AbstractSet[int] | None = None
    # Worked out when first asked (fields, not cached_property: the class is compiled,
    # alureg/native.py, and a compiled class has no __dict__ to cache in).
    _mine_found: dict[Kind, list[Record]] | None = field(default=None, init=False, repr=False, compare=False)
    _by_kind_found: dict[Kind, list[Record]] | None = field(default=None, init=False, repr=False, compare=False)
    _ids_found: dict[str, Record] | None = field(default=None, init=False, repr=False, compare=False)
    _valid_by_id_found: dict[Kind, dict[str, Record]] | None = field(default=None, init=False, repr=False,
                                                                     compare=False)
    _index_found: StatusIndex | None = field(default=None, init=False, repr=False, compare=False)
    _versions_found: dict[tuple[str, str], dict[str, Any]] | None = field(default=None, init=False, repr=False,
                                                                          compare=False)

    def narrow(self, only: AbstractSet[int] | None) -> None:
        """Report on ``only`` from now on (None: every record)."""
        self.only = only
        self._mine_found = None

    def mine(self, kind: Kind) -> list[Record]:
        """The valid records of one kind that the rules report on."""
        return self._mine[kind]

    def mine_valid(self) -> list[Record]:
        """The valid records the rules report on."""
        only = self.only
        return self.valid if only is None else [r for r in self.valid if id(r) in only]

    def is_mine(self, r: Record) -> bool:
        return self.only is None or id(r) in self.only

    @property
    def _mine(self) -> dict[Kind, list[Record]]:
        if self._mine_found is None:
            only = self.only
            self._mine_found = self._by_kind if only is None else {
                kind: [r for r in records if id(r) in only] for kind, records in self._by_kind.items()}
        return self._mine_found

    @property
    def _by_kind(self) -> dict[Kind, list[Record]]:
        if self._by_kind_found is None:
            out: dict[Kind, list[Record]] = {k: [] for k in Kind}
            for r in self.valid:
                out[r.kind].append(r)
            self._by_kind_found = out
        return self._by_kind_found

    def of(self, kind: Kind) -> list[Record]:
        """Valid records of one kind, in registry order (one pass for all kinds)."""
        return self._by_kind[kind]

    @property
    def ids(self) -> dict[str, Record]:
        """Every loaded record with an id, valid or not: a reference to a record that
        exists but is broken is not dangling (its own findings say what is wrong)."""
        if self._ids_found is None:
            out: dict[str, Record] = {}
            for r in self.registry.records:
                out.setdefault(r.id, r)
            self._ids_found = out
        return self._ids_found

    def valid_by_id(self, kind: Kind) -> dict[str, Record]:
        return self._valid_by_id[kind]

    @property
    def _valid_by_id(self) -> dict[Kind, dict[str, Record]]:
        if self._valid_by_id_found is None:
            out: dict[Kind, dict[str, Record]] = {}
            for k, records in self._by_kind.items():
                found: dict[str, Record] = {}
                for r in records:
                    found.setdefault(r.id, r)
                out[k] = found
            self._valid_by_id_found = out
        return self._valid_by_id_found

    def work_out(self) -> None:
        """Work out what every rule looks up, once: before a fork, so that each worker
        shares it rather than making its own."""
        for _ in (self.ids, self._by_kind, self._valid_by_id, self.index, self.versions):
            pass

    @property
    def index(self) -> StatusIndex:
        if self._index_found is None:
            self._index_found = StatusIndex.build(
                (r.data for r in self.of(Kind.MEMBER)), (r.data for r in self.of(Kind.CERTIFICATE)))
        return self._index_found

    @property
    def versions(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The standards catalogue as (standard, version) -> version entry."""
        if self._versions_found is None:
            out: dict[tuple[str, str], dict[str, Any]] = {}
            for r in self.of(Kind.STANDARDS):
                for std in r.data["standards"]:
                    for v in std["versions"]:
                        out[(std["id"], v["version"])] = v
            self._versions_found = out
        return self._versions_found


Rule = Callable[[Context], Iterator[Finding]]
RULES: list[tuple[str, Rule]] = []
# Rules that run over every record even in an incremental run: their findings on one
# record depend on any other (alureg/rulecache.py).
WHOLE: set[Rule] = set()


def rule(code: str, *, whole: bool = False) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        RULES.append((code, fn))
        if whole:
            WHOLE.add(fn)
        return fn

    return register


@rule("REF001")
def unique_ids(ctx: Context) -> Iterator[Finding]:
    first: dict[str, Record] = {}
    for r in ctx.registry.records:
        if not r.id:
            continue
        if r.id in first:
            if ctx.is_mine(r):
                yield r.finding("REF001", f"id {r.id} is already used by {first[r.id].rel}", "id")
        else:
            first[r.id] = r


@rule("REF002")
def file_name_is_id(ctx: Context) -> Iterator[Finding]:
    for r in ctx.mine_valid():
        name = r.rel.rsplit("/", 1)[-1]  # not r.path: a Path made for each of 220,000 records
        if name.removesuffix(".yaml") != r.id:
            yield r.finding("REF002", f"file name {name} does not match id {r.id}; "
                            f"name it {r.id}.yaml", "id")


_REFERENCES: list[tuple[Kind, tuple[str, ...], Kind]] = [
    (Kind.CERTIFICATE, ("holder",), Kind.MEMBER),
    (Kind.CERTIFICATE, ("audit", "firm"), Kind.AUDIT_FIRM),
    (Kind.CERTIFICATE, ("supersedes",), Kind.CERTIFICATE),
    (Kind.CLAIM, ("holder",), Kind.MEMBER),
    (Kind.CLAIM, ("certificates", "*"), Kind.CERTIFICATE),
]


def _values(data: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """(location, value) for a path where '*' stands for every list item."""
    if not path:
        yield (), data
        return
    head, rest = path[0], path[1:]
    if head == "*":
        for i, item in enumerate(data):
            for where, value in _values(item, rest):
                yield (i, *where), value
    elif isinstance(data, dict) and head in data:
        for where, value in _values(data[head], rest):
            yield (head, *where), value


@rule("REF003")
def no_dangling_reference(ctx: Context) -> Iterator[Finding]:
    for kind, path, target in _REFERENCES:
        for r in ctx.mine(kind):
            for where, value in _values(r.data, path):
                other = ctx.ids.get(value)
                if other is None:
                    yield r.finding("REF003", f"{target.value} {value} does not exist", *where)
                elif other.kind is not target:
                    yield r.finding("REF004", f"{value} is a {other.kind.value}, not a {target.value}", *where)


@rule("REF004")
def claim_certificates_held_by_holder(ctx: Context) -> Iterator[Finding]:
    certs = ctx.valid_by_id(Kind.CERTIFICATE)
    for r in ctx.mine(Kind.CLAIM):
        for i, cert_id in enumerate(r.data["certificates"]):
            cert = certs.get(cert_id)
            if cert is not None and cert.data["holder"] != r.data["holder"]:
                yield r.finding(
                    "REF004",
                    f"certificate {cert_id} is held by {cert.data['holder']}, not by the claim's "
                    f"holder {r.data['holder']}",
                    "certificates", i,
                )


@rule("REF005")
def supersession(ctx: Context) -> Iterator[Finding]:
    certs = ctx.valid_by_id(Kind.CERTIFICATE)
    claimed: dict[str, Record] = {}
    for r in ctx.of(Kind.CERTIFICATE):
        old_id = r.data.get("supersedes")
        if old_id is None:
            continue
        if old_id == r.id:
            if ctx.is_mine(r):
                yield r.finding("REF005", "a certificate cannot supersede itself", "supersedes")
            continue
        if not ctx.is_mine(r):  # it still claims its old certificate, first come first
            claimed.setdefault(old_id, r)
            continue
        if old_id in claimed:
            yield r.finding("REF005", f"{old_id} is already superseded by {claimed[old_id].id}", "supersedes")
        claimed.setdefault(old_id, r)
        old = certs.get(old_id)
        if old is None:
            continue
        for name in ("holder", "standard"):
            if old.data[name] != r.data[name]:
                yield r.finding(
                    "REF005",
                    f"supersedes {old_id}, whose {name} is {old.data[name]}, not {r.data[name]}",
                    "supersedes",
                )
        if r.data["valid_from"] <= old.data["valid_from"]:
            yield r.finding(
                "REF005",
                f"valid_from {r.data['valid_from']} must be after that of {old_id} "
                f"({old.data['valid_from']}), which it supersedes",
                "valid_from",
            )
    # Cycles: follow each chain back; coming round to the start is a loop.
    for r in ctx.mine(Kind.CERTIFICATE):
        if r.data.get("supersedes") == r.id:
            continue  # reported above
        seen: set[str] = set()
        current = r.data.get("supersedes")
        while current in certs and current not in seen:
            if current == r.id:
                yield r.finding("REF005", "supersession forms a cycle", "supersedes")
                break
            seen.add(current)
            current = certs[current].data.get("supersedes")


def _order(r: Record, pairs: list[tuple[tuple[str, ...], tuple[str, ...], str]]) -> Iterator[Finding]:
    for early, late, words in pairs:
        a, b = _get(r.data, early), _get(r.data, late)
        if a is not None and b is not None and a > b:
            yield r.finding("RUL001", f"{'.'.join(early)} {a} is after {'.'.join(late)} {b}: {words}", *late)


def _get(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


@rule("RUL001")
def dates_in_order(ctx: Context) -> Iterator[Finding]:
    for r in ctx.mine(Kind.CERTIFICATE):
        yield from _order(r, [
            (("audit", "date"), ("issued",), "a certificate is issued after its audit"),
            (("issued",), ("valid_from",), "validity starts on or after issue"),
        ])
        if r.data["valid_from"] >= r.data["valid_until"]:
            yield r.finding("RUL001", f"valid_from {r.data['valid_from']} is not before "
                            f"valid_until {r.data['valid_until']}", "valid_until")
    for r in ctx.mine(Kind.CLAIM):
        yield from _order(r, [(("approved",), ("valid_until",), "a claim ends after its approval")])
    for r in ctx.mine(Kind.AUDIT_FIRM):
        for i, acc in enumerate(r.data["accreditations"]):
            if acc["valid_from"] > acc["valid_until"]:
                yield r.finding("RUL001", f"accreditation valid_from {acc['valid_from']} is after "
                                f"valid_until {acc['valid_until']}", "accreditations", i, "valid_until")


def _history(r: Record, history: list[dict[str, Any]], where: tuple[str | int, ...],
             final: set[str], start: tuple[str, str] | None) -> Iterator[Finding]:
    if start is not None:
        state, field = start
        first = history[0]
        if first["status"] != state or first["date"] != r.data[field]:
            yield r.finding("RUL011", f"status history must start with {state} on {field} "
                            f"({r.data[field]})", *where, 0)
    for i in range(1, len(history)):
        prev, entry = history[i - 1], history[i]
        if entry["date"] < prev["date"]:
            yield r.finding("RUL011", f"status history entry {entry['date']} is earlier than the one "
                            f"before it ({prev['date']}); keep entries oldest first", *where, i, "date")
        if prev["status"] in final:
            yield r.finding("RUL011", f"status {prev['status']} is final; no change may follow it",
                            *where, i, "status")


@rule("RUL011")
def status_histories(ctx: Context) -> Iterator[Finding]:
    for kind in (Kind.CERTIFICATE, Kind.CLAIM, Kind.MEMBER):
        for r in ctx.mine(kind):
            yield from _history(r, r.data["status_history"], ("status_history",), FINAL[kind], FIRST[kind])
    for r in ctx.mine(Kind.AUDIT_FIRM):
        for i, acc in enumerate(r.data["accreditations"]):
            yield from _history(r, acc["status_history"], ("accreditations", i, "status_history"),
                                {"withdrawn"}, None)


@rule("RUL002")
def validity_length(ctx: Context) -> Iterator[Finding]:
    for r in ctx.mine(Kind.CERTIFICATE):
        kind = r.data["certification_type"]
        years = MAX_YEARS[kind]
        latest = add_years(parse_date(r.data["valid_from"]), years)
        if parse_date(r.data["valid_until"]) > latest:
            yield r.finding("RUL002", f"{kind} certification lasts at most {years} year"
                            f"{'s' if years > 1 else ''}: valid_until must be on or before {latest}",
                            "valid_until")


@rule("RUL003")
def initial_certification_version(ctx: Context) -> Iterator[Finding]:
    for r in ctx.mine(Kind.CERTIFICATE):
        version = ctx.versions.get((r.data["standard"], r.data["version"]))
        cutoff = (version or {}).get("no_initial_certification_from")
        if cutoff and "supersedes" not in r.data and r.data["issued"] >= cutoff:
            yield r.finding("RUL003", f"{r.data['standard']} {r.data['version']} may not be used "
                            f"for an initial certification from {cutoff}", "version")


@rule("RUL004")
def coc_needs_performance(ctx: Context) -> Iterator[Finding]:
    by_holder: dict[str, list[Record]] = {}
    for r in ctx.of(Kind.CERTIFICATE):
        if r.data["standard"] == "performance":
            by_holder.setdefault(r.data["holder"], []).append(r)
    for r in ctx.mine(Kind.CERTIFICATE):
        if r.data["standard"] != "chain-of-custody":
            continue
        day = r.data["issued"]
        active = [
            p for p in by_holder.get(r.data["holder"], [])
            if certificate_status(p.data, day, ctx.index.successors.get(p.id, ())).state == "active"
        ]
        if not active:
            yield r.finding("RUL004", f"holder {r.data['holder']} has no active Performance Standard "
                            f"certificate on {day}, the day this chain-of-custody certificate was issued",
                            "holder")


@rule("RUL005")
def only_certifying_classes(ctx: Context) -> Iterator[Finding]:
    members = ctx.valid_by_id(Kind.MEMBER)
    for r in ctx.mine(Kind.CERTIFICATE):
        member = members.get(r.data["holder"])
        if member is not None and member.data["class"] not in MUST_CERTIFY:
            yield r.finding("RUL005", f"holder {member.id} is of class {member.data['class']}; only "
                            "production-and-transformation and industrial-users members hold certificates",
                            "holder")


@rule("RUL006")
def claim_within_certificates(ctx: Context) -> Iterator[Finding]:
    certs = ctx.valid_by_id(Kind.CERTIFICATE)
    for r in ctx.mine(Kind.CLAIM):
        for cert_id in r.data["certificates"]:
            cert = certs.get(cert_id)
            if cert is None:
                continue
            if r.data["approved"] < cert.data["valid_from"]:
                yield r.finding("RUL006", f"approved {r.data['approved']} before certificate {cert_id} "
                                f"is valid ({cert.data['valid_from']})", "approved")
            if r.data["valid_until"] > cert.data["valid_until"]:
                yield r.finding("RUL006", f"valid_until {r.data['valid_until']} is after certificate "
                                f"{cert_id} ends ({cert.data['valid_until']})", "valid_until")


_CLAIM_STANDARDS = {
    "membership": (set(), set()),
    "performance": ({"performance"}, {"performance"}),
    "chain-of-custody": ({"performance", "chain-of-custody"}, {"performance", "chain-of-custody"}),
}


@rule("RUL007")
def claim_kind_matches(ctx: Context) -> Iterator[Finding]:
    certs = ctx.valid_by_id(Kind.CERTIFICATE)
    for r in ctx.mine(Kind.CLAIM):
        needed, allowed = _CLAIM_STANDARDS[r.data["kind"]]
        standards = {certs[c].data["standard"] for c in r.data["certificates"] if c in certs}
        if r.data["kind"] == "membership" and r.data["certificates"]:
            yield r.finding("RUL007", "a membership claim rests on no certificate", "certificates")
            continue
        missing = needed - standards
        extra = standards - allowed
        if missing:
            yield r.finding("RUL007", f"a {r.data['kind']} claim needs a "
                            f"{' and a '.join(sorted(missing))} certificate", "certificates")
        if extra:
            yield r.finding("RUL007", f"a {r.data['kind']} claim may not rest on a "
                            f"{' or '.join(sorted(extra))} certificate", "certificates")


@rule("RUL008")
def audit_firm_accredited(ctx: Context) -> Iterator[Finding]:
    firms = ctx.valid_by_id(Kind.AUDIT_FIRM)
    for r in ctx.mine(Kind.CERTIFICATE):
        firm = firms.get(r.data["audit"]["firm"])
        if firm is None:
            continue
        day = r.data["audit"]["date"]
        ok = False
        for acc in firm.data["accreditations"]:
            entry = history_at(acc["status_history"], day)
            if (acc["standard"] == r.data["standard"] and r.data["version"] in acc["versions"]
                    and acc["valid_from"] <= day <= acc["valid_until"]
                    and entry is not None and entry["status"] == "active"):
                ok = True
        if not ok:
            yield r.finding("RUL008", f"audit firm {firm.id} was not accredited for "
                            f"{r.data['standard']} {r.data['version']} on the audit date {day}",
                            "audit", "firm")


@rule("RUL009")
def standard_in_catalogue(ctx: Context) -> Iterator[Finding]:
    if not ctx.of(Kind.STANDARDS):
        return  # the missing or broken catalogue has findings of its own
    for r in ctx.mine(Kind.CERTIFICATE):
        if (r.data["standard"], r.data["version"]) not in ctx.versions:
            yield r.finding("RUL009", f"{r.data['standard']} {r.data['version']} is not in the "
                            "standards catalogue", "version")


def gtin_ok(gtin: str) -> bool:
    """GS1 check digit: weights 3,1,3,1… from the right, excluding the check digit."""
    digits = [int(c) for c in gtin]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


@rule("RUL010")
def gtin_check_digit(ctx: Context) -> Iterator[Finding]:
    for r in ctx.mine(Kind.CLAIM):
        gtin = (r.data.get("product") or {}).get("gtin")
        if gtin is not None and not gtin_ok(gtin):
            yield r.finding("RUL010", f"GTIN {gtin} has a wrong check digit", "product", "gtin")


@rule("RUL012")
def must_certify_within_two_years(ctx: Context) -> Iterator[Finding]:
    # A suspended certificate still counts: the member is certified, under review.
    holders_with_active: set[str] = set()
    members = ctx.mine(Kind.MEMBER)
    wanted = None if ctx.only is None else {r.id for r in members}  # an incremental run's holders
    for r in ctx.of(Kind.CERTIFICATE):
        if wanted is not None and r.data["holder"] not in wanted:
            continue
        status = ctx.index.certificate(r.id, ctx.at)
        if status is not None and status.state in ("active", "suspended"):
            holders_with_active.add(r.data["holder"])
    for r in members:
        if r.data["class"] not in MUST_CERTIFY or r.id in holders_with_active:
            continue
        if member_status(r.data, ctx.at).state != "active":
            continue
        deadline = add_years(parse_date(r.data["joined"]), 2).isoformat()
        if ctx.at > deadline:
            yield r.finding("RUL012", f"{r.data['class']} members certify within two years of "
                            f"joining; {r.id} joined {r.data['joined']} and holds no certificate "
                            f"in force on {ctx.at}", "joined")


@rule("SIG012")
def no_proof_from_the_future(ctx: Context) -> Iterator[Finding]:
    # A rule, not a per-file step: it depends on the day of the check, which the check
    # cache does not key on. A proof dated ahead could outlive a key's end or revocation.
    for r in ctx.mine_valid():
        for i, proof in enumerate(r.data.get("proof") or []):
            created = str(proof.get("created", ""))
            if created[:10] > ctx.at:
                yield r.finding("SIG012", f"proof {i + 1} is dated {created}, after {ctx.at}, the day of this "
                                "check: a proof cannot be made in the future", "proof", i, "created")


@rule("RUL014", whole=True)
def no_look_alike_names(ctx: Context) -> Iterator[Finding]:
    records = {r.id: r for kind in (Kind.MEMBER, Kind.AUDIT_FIRM) for r in ctx.of(kind)}
    for found in imitations((r.id, r.data["name"]) for r in records.values()):
        yield records[found.record_id].finding(
            "RUL014", f"name {found.name!r} looks like {found.like_id}'s {found.like_name!r}: "
            f"{'; '.join(found.characters)}", "name")

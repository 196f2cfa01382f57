"""Status as a pure function of the records and a date, on the sample registry."""

from __future__ import annotations

import pytest

from alureg.check import check
from alureg.records import Kind
from alureg.status import Status, StatusIndex, certificate_status, claim_status, member_status

from .conftest import AT, REPO


@pytest.fixture(scope="module")
def index() -> StatusIndex:
    valid = check(REPO, AT).valid
    return StatusIndex.build(
        (r.data for r in valid if r.kind is Kind.MEMBER),
        (r.data for r in valid if r.kind is Kind.CERTIFICATE),
    )


@pytest.fixture(scope="module")
def claims() -> dict[str, dict[str, object]]:
    return {r.id: r.data for r in check(REPO, AT).valid if r.kind is Kind.CLAIM}


@pytest.mark.parametrize(
    ("cert", "at", "state", "since"),
    [
        ("CRT-000111", "2026-11-30", "active", "2023-12-01"),
        ("CRT-000111", "2026-12-01", "expired", "2026-12-01"),
        ("CRT-000101", "2023-02-14", "active", "2020-03-01"),
        ("CRT-000101", "2023-02-15", "superseded", "2023-02-15"),
        ("CRT-000106", "2026-09-09", "active", "2024-06-20"),
        ("CRT-000106", "2026-09-10", "suspended", "2026-09-10"),
        ("CRT-000113", "2024-04-17", "active", "2022-10-01"),
        ("CRT-000113", "2026-11-21", "withdrawn", "2024-04-18"),  # withdrawal outlasts expiry
        ("CRT-000103", "2026-02-09", "not-yet-valid", None),
        ("CRT-000116", "2028-07-01", "expired", "2028-07-01"),  # expiry ends a suspension
        ("CRT-000120", "2026-03-19", "active", "2025-04-02"),
        ("CRT-000120", "2026-03-20", "superseded", "2026-03-20"),  # before its own end
        ("CRT-000107", AT, "expired", "2022-09-01"),
    ],
)
def test_certificate_status(index: StatusIndex, cert: str, at: str, state: str, since: str | None) -> None:
    status = index.certificate(cert, at)
    assert status is not None
    assert (status.state, status.since) == (state, since)


def test_certificate_reason_is_the_recorded_one(index: StatusIndex) -> None:
    status = index.certificate("CRT-000106", AT)
    assert status == Status(
        "suspended", "2026-09-10",
        "Suspended: mass-balance records for the 2025 accounting period could not be verified at the "
        "surveillance audit",
    )
    superseded = index.certificate("CRT-000101", AT)
    assert superseded is not None and superseded.reason == "superseded by CRT-000102"


@pytest.mark.parametrize(
    ("member", "at", "state"),
    [
        ("MEM-0106", "2026-06-14", "active"),
        ("MEM-0106", "2026-06-15", "suspended"),
        ("MEM-0203", "2025-12-31", "resigned"),
        ("MEM-0502", AT, "terminated"),
        ("MEM-0012", "2025-08-31", "not-yet-member"),
        ("MEM-0012", "2025-09-01", "active"),
    ],
)
def test_member_status(index: StatusIndex, member: str, at: str, state: str) -> None:
    assert member_status(index.members[member], at).state == state


@pytest.mark.parametrize(
    ("claim", "at", "reasons"),
    [
        ("CLM-10001", AT, []),
        ("CLM-10004", "2026-09-09", []),
        ("CLM-10004", "2026-09-10", [
            "certificate CRT-000106 suspended on 2026-09-10: Suspended: mass-balance records for the 2025 "
            "accounting period could not be verified at the surveillance audit"]),
        ("CLM-10006", "2026-11-30", []),
        ("CLM-10006", "2026-12-01", [
            "claim CLM-10006 expired on 2026-12-01",
            "certificate CRT-000111 expired on 2026-12-01",
            "certificate CRT-000112 expired on 2026-12-01"]),
        ("CLM-10015", AT, [
            "holder MEM-0106 membership suspended on 2026-06-15: Membership suspended while a complaint "
            "about misuse of the scheme's logo is investigated"]),
        ("CLM-10018", AT, [
            "claim CLM-10018 withdrawn on 2025-11-20: Withdrawn: the claim was printed on products made "
            "outside the certified facility"]),
        ("CLM-10010", AT, [
            "claim CLM-10010 expired on 2026-04-02",
            "certificate CRT-000120 superseded by CRT-000121 on 2026-03-20"]),
        ("CLM-10001", "2026-02-28", ["claim CLM-10001 not approved until 2026-03-01"]),
        ("CLM-10001", "2026-02-11", [
            "claim CLM-10001 not approved until 2026-03-01",
            "certificate CRT-000104 not in force yet: valid from 2026-02-12"]),
    ],
)
def test_claim_status(index: StatusIndex, claims: dict[str, dict[str, object]], claim: str, at: str,
                      reasons: list[str]) -> None:
    status = claim_status(claims[claim], at, index)
    assert status.state == ("valid" if not reasons else "not-valid")
    assert list(status.reasons) == reasons


def test_sample_covers_every_certificate_state(index: StatusIndex) -> None:
    states = {s.state for c in index.certificates if (s := index.certificate(c, AT)) is not None}
    assert {"active", "suspended", "withdrawn", "expired", "superseded"} <= states


def test_sample_has_valid_and_invalid_claims_of_every_kind(index: StatusIndex,
                                                           claims: dict[str, dict[str, object]]) -> None:
    kinds = {c["kind"] for c in claims.values()}
    assert kinds == {"membership", "performance", "chain-of-custody"}
    verdicts = {claim_status(c, AT, index).state for c in claims.values()}
    assert verdicts == {"valid", "not-valid"}


def test_the_successor_named_is_the_first_in_force() -> None:
    """Of the successors in force on the day, the earliest; of two from the same day,
    the first listed (the index lists them by id, as status.js sorts them); one not in
    force yet is not named."""
    cert = {"valid_from": "2024-01-01", "valid_until": "2027-01-01", "issued": "2024-01-01",
            "status_history": [{"date": "2024-01-01", "status": "active", "reason": "Issued"}]}
    successors = [{"id": "CRT-0003", "valid_from": "2026-03-01"}, {"id": "CRT-0004", "valid_from": "2026-02-01"},
                  {"id": "CRT-0005", "valid_from": "2026-02-01"}, {"id": "CRT-0002", "valid_from": "2026-09-01"}]
    assert certificate_status(cert, "2026-06-01", successors) == Status(
        "superseded", "2026-02-01", "superseded by CRT-0004")
    assert certificate_status(cert, "2026-02-15", successors[:1]).state == "active"  # CRT-0003 not in force yet
    assert certificate_status(cert, "2026-01-15", successors).state == "active"


def test_status_is_pure() -> None:
    cert = {"id": "CRT-1", "valid_from": "2024-01-01", "valid_until": "2024-12-31", "issued": "2024-01-01",
            "status_history": [{"date": "2024-01-01", "status": "active", "reason": "Issued"}]}
    before = repr(cert)
    assert certificate_status(cert, "2024-06-01") == certificate_status(cert, "2024-06-01")
    assert certificate_status(cert, "2025-01-01").state == "expired"
    assert repr(cert) == before


@pytest.mark.parametrize("at", ["2023-02-15", "2026-02-11", "2026-09-10", AT, "2028-07-01"])
def test_kept_statuses_equal_those_worked_out_afresh(at: str) -> None:
    """A claim's status from the model's kept statuses of its holder and certificates
    (alureg/sitemodel.py, a build) is the status worked out from the records alone,
    for every sample claim, and a missing certificate is still reported as missing."""
    from alureg.sitemodel import SiteModel

    model = SiteModel.build(check(REPO, at), at)
    model.keep_statuses()
    afresh = {cid: claim_status(claim, at, model.index) for cid, claim in model.claims.items()}
    assert {cid: model.claim_status(cid) for cid in model.claims} == afresh
    if at >= "2026":  # both verdicts occur: the comparison is not between two "valid"s alone
        assert {s.state for s in afresh.values()} == {"valid", "not-valid"}
    gone = {**next(iter(model.claims.values())), "certificates": ["CRT-999999"]}
    kept = claim_status(gone, at, model.index, model.member_status, model.cert_status)
    assert "certificate CRT-999999 is not in the registry" in kept.reasons
    assert kept == claim_status(gone, at, model.index)


def test_kept_counts_are_counted_once_and_are_the_callers() -> None:
    """With the statuses kept, ``counts`` counts once (a build asks twice) and hands out
    copies; the counts are those of a model that keeps nothing."""
    from alureg.sitemodel import SiteModel

    result = check(REPO, AT)
    model, afresh = SiteModel.build(result, AT), SiteModel.build(result, AT)
    model.keep_statuses()
    first = model.counts()
    assert first == afresh.counts() and sum(first["certificates"].values()) == len(model.certificates)
    first["certificates"]["active"] += 1000
    assert model.counts() == afresh.counts()
    assert model.statuses is not None
    model.statuses["c"].clear()  # what a second count would work out again
    assert model.counts() == afresh.counts() and not model.statuses["c"]


@pytest.mark.parametrize("at", ["2023-02-15", "2026-02-11", AT, "2028-07-01"])
def test_counting_keeps_every_status_as_worked_out_afresh(at: str) -> None:
    """``counts`` with the statuses kept works every record's status out in one go
    (``_every_status``): each is the one the per-record methods of a model that keeps
    nothing work out, and the one worked out from the records alone, including for a
    claim whose holder and a certificate are not in the registry."""
    from alureg.sitemodel import SiteModel

    result = check(REPO, at)
    model, afresh = SiteModel.build(result, at), SiteModel.build(result, at)
    claim = next(iter(model.claims.values()))
    for m in (model, afresh):
        m.claims["CLM-GONE"] = {**claim, "id": "CLM-GONE", "holder": "MBR-999999",
                                "certificates": [*claim["certificates"], "CRT-999999"]}
    model.keep_statuses()
    model.counts()
    assert model.statuses is not None and afresh.statuses is None
    assert model.statuses["m"] == {mid: afresh.member_status(mid) for mid in model.members}
    assert model.statuses["c"] == {cid: afresh.cert_status(cid) for cid in model.certificates}
    assert model.statuses["l"] == {cid: afresh.claim_status(cid) for cid in model.claims} == \
        {cid: claim_status(c, at, model.index) for cid, c in model.claims.items()}
    assert {s.state for s in model.statuses["c"].values()} >= {"active", "superseded"} or at < "2024"
    reasons = model.statuses["l"]["CLM-GONE"].reasons
    assert "holder MBR-999999 is not in the registry" in reasons
    assert "certificate CRT-999999 is not in the registry" in reasons

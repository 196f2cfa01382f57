"""The page memo: a record page whose inputs are those it was rendered from for the
live output is not rendered again; the live file is linked (alureg/outputs.py).

A page's inputs are the records it reads (``page_inputs``: the record itself and its
neighbours: holder, certificates, claims, successors, audit firm), each by the
SHA-256 of its file as the check read it, the change history of its own record, and
what every page shares (``shared_key``: code, templates and site sources, installed
packages, the date of the statuses, the scheme's name and address, the trust roots,
the repository URL, the trust list and the standards catalogue). A test renders every
page of the sample registry with the model's lookups recorded and checks that no page
reads a record ``page_inputs`` does not name (tests/test_pagememo.py): a page that
read more could be left stale by a change it does not see.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import orjson

from .sitemodel import SiteModel

FORMAT = 1
PageMemo = tuple[str, dict[str, str]]  # shared key, record file digests by id


def shared_key(model: SiteModel, sources: str, shared_records: Iterable[str]) -> str:
    """What every record page depends on besides its records (``sources``: the digest
    of code, site sources and packages; ``shared_records``: file digests of the trust
    list and standards catalogue)."""
    parts = [f"page memo {FORMAT}", sources, model.at, model.scheme, model.site_url,
             *model.root_fingerprints, str(model.root_threshold), model.repo_url or "",
             str(model.history.available), *shared_records]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _successors(model: SiteModel, cert_ids: Iterable[str]) -> set[str]:
    return {s["id"] for c in cert_ids for s in model.index.successors.get(c, ())}


def _claim_closure(model: SiteModel, claim_ids: Iterable[str]) -> set[str]:
    """Claims with their holders, certificates and those certificates' successors."""
    found: set[str] = set()
    for cid in claim_ids:
        claim = model.claims[cid]
        found |= {cid, claim["holder"], *claim["certificates"]}
        found |= _successors(model, claim["certificates"])
    return found


def page_inputs(model: SiteModel, folder: str, rid: str) -> set[str]:
    """The ids of the records the page of ``rid`` in ``folder`` reads."""
    if folder == "members":
        certs = model.certs_of.get(rid, [])
        return {rid, *certs} | _successors(model, certs) | _claim_closure(model, model.claims_of.get(rid, []))
    if folder == "certificates":
        cert = model.certificates[rid]
        return ({rid, cert["holder"], cert["audit"]["firm"]} | _successors(model, [rid])
                | _claim_closure(model, model.claims_on.get(rid, [])))
    if folder == "c":
        return _claim_closure(model, [rid])
    if folder == "certificate-row":  # its row in the certificates directory
        return {rid, model.certificates[rid]["holder"]} | _successors(model, [rid])
    if folder == "certificate-status":  # its entry in the certificates directory's status data
        return {rid} | _successors(model, [rid])
    if folder == "member-row":  # its row in the members directory
        return {rid, *model.certs_of.get(rid, [])}
    if folder == "status":  # api/v1/status/<member>.json
        certs = model.certs_of.get(rid, [])
        return {rid, *certs} | _successors(model, certs)
    raise ValueError(f"no record pages in {folder!r}")


def file_digest(shared: str, fingerprints: dict[str, str], folder: str, rid: str) -> bytes:
    """The digest of a file made from one record's data alone (its API document)."""
    return hashlib.sha256(f"{shared}\n{folder}/{rid}\n{fingerprints.get(rid, 'absent')}\n".encode()).digest()


def page_digest(model: SiteModel, shared: str, fingerprints: dict[str, str], folder: str, rid: str) -> bytes:
    """The digest of everything the page of ``rid`` is rendered from."""
    h = hashlib.sha256(f"{shared}\n{folder}/{rid}\n".encode())
    for dep in sorted(page_inputs(model, folder, rid)):
        h.update(f"{dep} {fingerprints.get(dep, 'absent')}\n".encode())
    h.update(history_bytes(model, rid))
    return h.digest()


def history_bytes(model: SiteModel, rid: str) -> bytes:
    """A record's change history, as page digests read it."""
    return orjson.dumps(model.history.by_record.get(rid, []))

"""Command line: parses arguments and calls the library; no logic of its own.

``main(argv) -> int`` so tests can call it and assert exact output. Exit codes: 0
success, 1 the registry (or input) is not valid, 2 usage error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TypeVar

from . import findings as fnd
from .changes import as_json, as_markdown, as_text, diff, key_name, trust_of
from .check import check
from .config import CONFIG_FILE, load_config_file
from .dates import today
from .demo import DEFAULT_CREATED, demo_publisher, resign
from .editing import ACTIONS, NEW_KINDS, change_status, create, find_record
from .errors import AluregError
from .loading import load_file
from .publish import build
from .qr import claim_url, write_files
from .records import KIND_DIRS, KIND_FILES, Kind
from .signing import KeyPair, SigningError, fingerprint, sign_record
from .status import StatusIndex, certificate_status, claim_status, member_status
from .synth import generate
from .targets import CLAIM_ID, claim_from_target
from .verify import VALID, Verdict, verify_site, verify_source
from .yamlwrite import replace_proofs

ROLES = ("root", "secretariat", "auditor", "publisher")


class UsageError(AluregError):
    pass


def _date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from e


def _moment(text: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time like 2026-11-21T12:00:00Z") from e


def _root(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder")
    return path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="alureg", description="Aluminium stewardship registry tools.")
    p.add_argument("-v", "--verbose", action="store_true", help="show tracebacks of errors")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check", help="validate the whole registry in one pass")
    c.add_argument("--root", type=_root, default=Path("."), help="registry root (default: .)")
    c.add_argument("--at", type=_date, default=None, help="check status rules as of this day (default: today)")
    c.add_argument("--format", choices=("text", "json", "github"), default="text")
    c.add_argument("--strict", action="store_true", help="treat warnings as errors")
    c.add_argument("--no-cache", action="store_true",
                   help="examine every record file again (default: reuse results of unchanged files)")
    c.add_argument("--against", metavar="REV", default=None,
                   help="also refuse what would roll back the registry at this git revision "
                        "(deleted records, rewritten history, dates moved back, older versions)")

    n = sub.add_parser("new", help="write a new record with the next free id, its fields as placeholders")
    n.add_argument("kind", choices=sorted(NEW_KINDS))
    n.add_argument("--root", type=_root, default=Path("."))

    f = sub.add_parser("diff", help="what changed between two git revisions: records, statuses, signers")
    f.add_argument("base", help="the earlier revision, e.g. origin/main")
    f.add_argument("head", nargs="?", default=None, help="the later revision (default: the files on disk)")
    f.add_argument("--root", type=_root, default=Path("."))
    f.add_argument("--format", choices=("text", "markdown", "json"), default="text")

    for action, kinds in ACTIONS.items():
        a = sub.add_parser(action, help=f"{action} a {' or '.join(k.value for k in kinds)}: "
                           "adds a status-history entry, removes the proofs it invalidates")
        a.add_argument("id")
        a.add_argument("--reason", required=True, help="why; published with the status")
        a.add_argument("--date", type=_date, default=None, help="the day it takes effect (default: today)")
        a.add_argument("--root", type=_root, default=Path("."))

    k = sub.add_parser("keygen", help="make an Ed25519 key pair file")
    k.add_argument("--role", choices=ROLES, required=True)
    k.add_argument("--id", dest="key_id", required=True, help="the key's name in the trust list")
    k.add_argument("--out", type=Path, required=True, help="where to write the private key file")
    k.add_argument("--audit-firm", help="for an auditor key: the audit firm id")
    k.add_argument("--demo", action="store_true", help="label the key file as a demo key")

    s = sub.add_parser("sign", help="add or replace a key's proof on record files")
    s.add_argument("files", nargs="+", type=Path)
    s.add_argument("--key", type=Path, required=True, help="private key file (from keygen)")
    s.add_argument("--created", help="proof time, YYYY-MM-DDThh:mm:ssZ (default: now)")
    s.add_argument("--drop-proofs-by", metavar="KEY_ID", default=None,
                   help="also remove the proofs by this trust-list key (a revoked one: see the key compromise drill)")
    s.add_argument("--root", type=_root, default=Path("."), help="registry whose trust list names --drop-proofs-by")

    b = sub.add_parser("build", help="check, then publish the site (nothing is published on errors)")
    b.add_argument("--root", type=_root, default=Path("."))
    b.add_argument("--out", type=Path, default=Path("public"))
    b.add_argument("--at", type=_date, default=None, help="day of the status shown without JavaScript (default: today)")
    b.add_argument("--publisher-key", type=Path, default=None,
                   help="key file signing the status snapshot (default: $ALUREG_PUBLISHER_KEY, else the DEMO key)")
    b.add_argument("--now", type=_moment, default=None, help="snapshot time YYYY-MM-DDThh:mm:ssZ (default: now)")
    b.add_argument("--timings", action="store_true", help="print the wall time of each build stage")
    b.add_argument("--strict", action="store_true", help="publish nothing if there are warnings either")
    b.add_argument("--no-cache", action="store_true", help="check every record file again")
    b.add_argument("--repository-url", default=None,
                   help="where history entries link commits: URL/commit/SHA (default: alureg.toml [repository] url, "
                        "else the GitHub repository of a GitHub Actions run)")

    v = sub.add_parser("verify", help="verify a claim as its page does: VALID, NOT-VALID or CANNOT-VERIFY")
    v.add_argument("target", help="a claim id, a claim URL, or an image file holding its QR code")
    where = v.add_mutually_exclusive_group()
    where.add_argument("--site", type=_root, default=None, help="a published site folder (default: public)")
    where.add_argument("--root", type=_root, default=None, help="a registry source folder instead of a site")
    v.add_argument("--config", type=Path, default=Path(CONFIG_FILE),
                   help="configuration with the pinned root keys and site URL (default: alureg.toml)")
    v.add_argument("--at", type=_date, default=None, help="verify as on this day, at 12:00 UTC (default: now)")
    v.add_argument("--allow-stale", action="store_true", help="accept an expired status snapshot (with a note)")
    v.add_argument("--min-sequence", type=int, default=0,
                   help="refuse a snapshot with a lower sequence (the highest you have seen)")

    d = sub.add_parser("resign-demo", help="re-sign every record under --root with the DEMO keys")
    d.add_argument("--root", type=_root, default=Path("."))
    d.add_argument("--created", default=DEFAULT_CREATED, help=f"proof time (default: {DEFAULT_CREATED})")

    y = sub.add_parser("synth", help="write a synthetic registry signed with the DEMO keys (benchmarks)")
    y.add_argument("--members", type=int, required=True)
    y.add_argument("--certificates", type=int, required=True)
    y.add_argument("--claims", type=int, required=True)
    y.add_argument("--out", type=Path, required=True, help="a folder that does not exist yet")
    y.add_argument("--seed", type=int, default=1)

    q = sub.add_parser("qr", help="draw claims' QR codes (SVG and PNG) for print, as their claim pages do")
    q.add_argument("claims", nargs="+", metavar="CLAIM_ID")
    q.add_argument("--root", type=_root, default=Path("."))
    q.add_argument("--out", type=Path, default=Path("."), help="folder for <id>-qr.svg and <id>-qr.png")

    t = sub.add_parser("status", help="status of a record at a date, with reasons")
    t.add_argument("id")
    t.add_argument("--root", type=_root, default=Path("."))
    t.add_argument("--at", type=_date, default=None)
    return p


def cmd_check(args: argparse.Namespace) -> int:
    at = args.at or today()
    result = _kept(check(args.root, at, against=args.against, use_cache=not args.no_cache))
    ok = result.ok(strict=args.strict)
    found = result.findings
    if args.format == "json":
        print(json.dumps({
            "ok": ok,
            "at": at,
            "records": len(result.registry.records),
            "errors": len(fnd.errors(found)),
            "warnings": len(fnd.warnings(found)),
            "findings": [f.as_dict() for f in found],
        }, indent=2, ensure_ascii=False))
        return 0 if ok else 1
    for f in found:
        print(f.github() if args.format == "github" else f.text())
    n_err, n_warn = len(fnd.errors(found)), len(fnd.warnings(found))
    verdict = "OK" if ok else "FAILED"
    print(f"{verdict}: {len(result.registry.records)} records checked as of {at}: "
          f"{n_err} error{'s' * (n_err != 1)}, {n_warn} warning{'s' * (n_warn != 1)}")
    return 0 if ok else 1


def cmd_new(args: argparse.Namespace) -> int:
    path = create(args.root, NEW_KINDS[args.kind])
    print(f"wrote {path}")
    print("fill in every <FILL IN …> value (check lists those left), then sign it")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    changes = diff(args.root, args.base, args.head)
    title = f"Registry changes from {args.base} to {args.head or 'the working folder'}"
    if args.format == "json":
        sys.stdout.write(as_json(changes))
    else:
        sys.stdout.write((as_markdown if args.format == "markdown" else as_text)(changes, title))
    return 0


def cmd_status_change(args: argparse.Namespace) -> int:
    kind, path = find_record(args.root, args.id)
    date = args.date or today()
    change = change_status(path, kind, args.command, date, args.reason)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(change.text.encode("utf-8"))
    tmp.replace(path)
    trust_path = args.root / KIND_FILES[Kind.TRUST_LIST]
    trust = trust_of(load_file(trust_path).data if trust_path.is_file() else None)
    print(f"{args.id}: {change.status} from {date} ({path})")
    if change.removed:
        names = "; ".join(key_name(vm, trust) for vm in change.removed)
        n = len(change.removed)
        print(f"removed {n} proof{'s' * (n != 1)} the change invalidates: {names}")
    print(f"it must be signed again, by: {', '.join(change.needed)}")
    for role in change.needed:
        print(f"  python build.py sign {path} --key <{role} key file>")
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    if (args.role == "auditor") != bool(args.audit_firm):
        raise UsageError("--audit-firm is required for an auditor key and only for one")
    if args.out.exists():
        raise UsageError(f"{args.out} exists; choose another --out (keys are never overwritten)")
    pair = KeyPair.generate(args.key_id, args.role, args.audit_firm)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(pair.to_file_json(demo=args.demo))
    print(f"wrote {args.out}")
    print("add this entry to registry/trust.yaml (keys:), then have the root keys sign it:")
    print(f"  - id: {pair.key_id}")
    print(f"    role: {pair.role}")
    print("    holder: <who keeps the private key>")
    if pair.audit_firm:
        print(f"    audit_firm: {pair.audit_firm}")
    print(f"    public_key: {pair.public_multibase}")
    print(f"    valid_from: {today()}")
    if pair.role == "root":
        print(f"and pin its fingerprint in alureg.toml: {fingerprint(pair.public_multibase)}")
    return 0


def _public_key_of(root: Path, key_id: str) -> str:
    trust = load_file(root / KIND_FILES[Kind.TRUST_LIST]).data or {}
    for entry in trust.get("keys") or []:
        if isinstance(entry, dict) and entry.get("id") == key_id and isinstance(entry.get("public_key"), str):
            return str(entry["public_key"])
    raise UsageError(f"--drop-proofs-by {key_id}: no such key in the trust list of {root}")


def cmd_sign(args: argparse.Namespace) -> int:
    pair = KeyPair.from_file(args.key)
    created = args.created or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    dropped = _public_key_of(args.root, args.drop_proofs_by) if args.drop_proofs_by else None
    outputs: list[tuple[Path, str]] = []
    failed = False
    for path in args.files:
        if not path.is_file():
            print(f"{path}: not a file")
            failed = True
            continue
        loaded = load_file(path)
        for p in loaded.problems:
            print(f"{path}:{p.line}:{p.col}: {p.code} {p.message}")
        if loaded.data is None or loaded.problems:
            failed = True
            continue
        data = loaded.data
        if dropped is not None:
            kept = [p for p in data.get("proof") or []
                    if not (isinstance(p, dict) and dropped in str(p.get("verificationMethod")))]
            data = dict(data) | {"proof": kept}
        record = sign_record(data, pair, created)
        outputs.append((path, replace_proofs(path.read_bytes().decode("utf-8-sig"), record)))
    if failed:
        print("nothing signed: fix the files above first")
        return 1
    for path, text in outputs:  # written only when every file could be signed
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(text.encode("utf-8"))
        tmp.replace(path)
        print(f"signed {path} with {pair.key_id}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    at = args.at or today()
    result = check(args.root, at)
    record = next((r for r in result.valid if r.id == args.id), None)
    if record is None:
        raise AluregError(f"no valid record with id {args.id} (run check to see why)")
    index = StatusIndex.build(
        (r.data for r in result.valid if r.kind is Kind.MEMBER),
        (r.data for r in result.valid if r.kind is Kind.CERTIFICATE),
    )
    if record.kind is Kind.CLAIM:
        status = claim_status(record.data, at, index)
        print(f"{record.id} (claim) on {at}: {status.state}")
        for reason in status.reasons:
            print(f"  {reason}")
        return 0
    if record.kind is Kind.CERTIFICATE:
        status = certificate_status(record.data, at, index.successors.get(record.id, ()))
    elif record.kind is Kind.MEMBER:
        status = member_status(record.data, at)
    else:
        raise AluregError(f"{record.id} is a {record.kind.value}, which has no status")
    print(f"{record.id} ({record.kind.value}) on {at}: {status.describe()}")
    return 0


def _publisher(path: Path | None) -> tuple[KeyPair, str]:
    """The key that signs the status snapshot, and where it came from."""
    if path is not None:
        return KeyPair.from_file(path), str(path)
    secret = os.environ.get("ALUREG_PUBLISHER_KEY")
    if secret:
        return KeyPair.from_json(secret, "$ALUREG_PUBLISHER_KEY"), "$ALUREG_PUBLISHER_KEY"
    return demo_publisher(), "the DEMO publisher key"


def cmd_build(args: argparse.Namespace) -> int:
    publisher, source = _publisher(args.publisher_key)
    repository = args.repository_url
    if repository is None and os.environ.get("GITHUB_REPOSITORY"):
        repository = f"{os.environ.get('GITHUB_SERVER_URL', 'https://github.com')}/{os.environ['GITHUB_REPOSITORY']}"
    report = _kept(build(args.root, args.out, args.at, publisher=publisher, now=args.now,
                         repository_url=repository, use_cache=not args.no_cache, strict=args.strict,
                         delete_in_background=True))
    if report.kept:
        print(f"nothing changed since the last build into {args.out}: its output stays as it is")
    print(f"published {report.records} records to {args.out} (status as of {report.at})")
    print(f"status snapshot {report.snapshot['sequence']}, expires {report.snapshot['expires']}, signed with {source}")
    history = f"{report.changes} changes from git" if report.history_available else "no git history"
    print(f"change history: {history}; {report.feeds} Atom feeds")
    if args.timings:
        print(report.stages.text())
        print(f"files: {report.written} written, {report.linked} unchanged (kept or linked from the previous outputs)")
    return 0


def cmd_qr(args: argparse.Namespace) -> int:
    site_url = load_config_file(args.root / CONFIG_FILE).site_url
    folder = args.root / KIND_DIRS[Kind.CLAIM]
    for claim_id in args.claims:
        if not CLAIM_ID.match(claim_id) or not (folder / f"{claim_id}.yaml").is_file():
            print(f"error: {claim_id!r} is not a claim of the registry at {args.root}", file=sys.stderr)
            return 2
    for path in write_files({c: claim_url(site_url, c) for c in args.claims}, args.out):
        print(path)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    config = load_config_file(args.config)
    claim_id = claim_from_target(args.target, config.site_url)
    now = (dt.datetime.fromisoformat(f"{args.at}T12:00:00+00:00") if args.at
           else dt.datetime.now(dt.UTC))
    if isinstance(claim_id, Verdict):
        verdict = claim_id
    elif args.root is not None:
        verdict = verify_source(args.root, claim_id, now)
    else:
        verdict = verify_site(args.site or Path("public"), claim_id, config, now,
                              min_sequence=args.min_sequence, allow_stale=args.allow_stale)
    sys.stdout.write(verdict.text())
    return 0 if verdict.word == VALID else 1


def cmd_resign_demo(args: argparse.Namespace) -> int:
    count = resign(args.root, created=args.created)
    print(f"re-signed {count} records under {args.root} with the DEMO keys")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    if args.out.exists():
        raise UsageError(f"{args.out} exists; synth writes a new folder")
    if min(args.members, args.certificates, args.claims) < 0 or args.members < 1:
        raise UsageError("counts must be positive (at least one member)")
    counts = generate(args.out, args.members, args.certificates, args.claims, args.seed)
    print(f"wrote {counts['members']} members, {counts['certificates']} certificates and "
          f"{counts['claims']} claims to {args.out} (signed with DEMO keys)")
    return 0


COMMANDS = {
    "check": cmd_check,
    "new": cmd_new,
    "diff": cmd_diff,
    **dict.fromkeys(ACTIONS, cmd_status_change),
    "keygen": cmd_keygen,
    "sign": cmd_sign,
    "status": cmd_status,
    "qr": cmd_qr,
    "build": cmd_build,
    "resign-demo": cmd_resign_demo,
    "synth": cmd_synth,
    "verify": cmd_verify,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage message
        return int(e.code or 0)
    try:
        return COMMANDS[args.command](args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (AluregError, SigningError) as e:
        if args.verbose:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return 1


T = TypeVar("T")
_KEPT: list[object] | None = None  # what the commands made, left to the end of the process (``run``)


def _kept(made: T) -> T:
    if _KEPT is not None:
        _KEPT.append(made)
    return made


def run() -> NoReturn:
    """The program (build.py, the ``alureg`` script): ``main``, then the process ends
    without freeing what the command made. A check's or a build's results (220,000
    records' data, the site model: millions of objects) were otherwise freed one by
    one as the command returned: at 100,000 certificates, a one-change build's last
    0.8 s after its last stage became 0.3 s (docs/adr/0012-scale.md). Nothing else is left to do by then: every
    file is written and closed and every forked process has ended (those that delete
    a previous output in the background run on by design). Tests call ``main``."""
    global _KEPT
    _KEPT = []
    code = main()
    sys.stdout.flush()  # os._exit does not flush; a pipe's buffer would be lost
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()

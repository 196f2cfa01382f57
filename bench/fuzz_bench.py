#!/usr/bin/env python3
"""Fuzz the loader and the checks with atheris (coverage-guided, libFuzzer) for a set
time; report executions, coverage and crashes (issue 8).

Targets:
- `record`: bytes -> the strict loader -> the record's JSON Schema (both validators)
  -> its proofs against the sample trust list, as `check` does for each file; the
  proofs are also verified without the schema first, as a verifier of mirrored data
  would.
- `check`: the bytes become MEM-0003.yaml in a copy of the sample registry and the
  whole `check` runs (rules included), as in `build.py check`.
- `verify`: the bytes are a claim page's claim.json, verified with the sample site's
  trust list and status snapshot (`build.py verify`, the claim page's Python twin).
A crash is any exception: the loader and the checks must turn every input into
findings. For `verify`, a VALID verdict for bytes other than the published ones is a
crash too: nothing forged may ever verify. Seeds: every sample record file. libFuzzer stops at the first crash and
writes the input to --crashes; one process, so one core is left for other work.

Run: .venv/bin/pip install -e '.[bench]'; .venv/bin/python bench/fuzz_bench.py --seconds 600 [--target record|check]
Writes the "fuzz" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEEDS = {"record": "every sample record file", "check": "every sample record file",
         "verify": "the sample site's claim bundles"}
sys.path.insert(0, str(REPO))
# Plain Python unless asked otherwise: atheris sees only Python bytecode, so with the
# compiled modules (alureg/native.py) its coverage fell from 316 edges to 23 in 240 s
# and the fuzzer went blind. Compiled and plain Python give the same results on the
# corpus a plain run finds (docs/adr/0012-scale.md, twenty-sixth session); replay a
# corpus with ALUREG_NATIVE=1 to run it through the compiled modules.
os.environ.setdefault("ALUREG_NATIVE", "0")


def _target(name: str, scratch: Path) -> object:
    import atheris

    with atheris.instrument_imports(include=["alureg"]):
        from alureg.check import check
        from alureg.config import load_config
        from alureg.loading import load_bytes
        from alureg.records import Kind
        from alureg.schema import is_valid, validator
        from alureg.trust import TrustList, verify_record

    config = load_config(REPO)
    trust_data = load_bytes((REPO / "registry/trust.yaml").read_bytes()).data or {}
    trust = TrustList.from_data(trust_data)
    member = scratch / "registry/members/MEM-0003.yaml"

    def record(data: bytes) -> None:
        loaded = load_bytes(data, track_positions=True)
        if loaded.data is None:
            return
        for kind in (Kind.MEMBER, Kind.CERTIFICATE, Kind.CLAIM):
            if not is_valid(kind, loaded.data):
                list(validator(kind).iter_errors(loaded.data))
            verify_record(loaded.data, kind, trust, config)

    def whole(data: bytes) -> None:
        member.write_bytes(data)
        check(scratch, "2026-11-21", workers=1)

    if name == "verify":
        import datetime as dt

        with atheris.instrument_imports(include=["alureg"]):
            from alureg.publish import build
            from alureg.verify import VALID, verify_files
        site = scratch.parent / "site"
        moment = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)
        build(REPO, site, "2026-11-21", now=moment)
        trust_raw = (site / "api/v1/trust.json").read_bytes()
        snapshot_raw = (site / "api/v1/snapshot.json").read_bytes()
        published = {p.read_bytes() for p in site.glob("c/*/claim.json")}

        def verify(data: bytes) -> None:
            verdict = verify_files(trust_raw, snapshot_raw, data, config, moment)
            if verdict.word == VALID and data not in published:
                raise AssertionError("a claim.json that was not published verified as VALID")
        return verify
    return record if name == "record" else whole


def child(args: argparse.Namespace) -> None:
    """Runs inside the fuzzing process."""
    import atheris

    with tempfile.TemporaryDirectory(prefix="alureg-fuzz-") as tmp:
        scratch = Path(tmp) / "reg"
        for part in ("registry", "certificates"):
            shutil.copytree(REPO / part, scratch / part)
        shutil.copy(REPO / "alureg.toml", scratch / "alureg.toml")
        target = _target(args.target, scratch)
        atheris.Setup([sys.argv[0], f"-max_total_time={args.seconds}", "-max_len=65536", "-rss_limit_mb=2048",
                       f"-artifact_prefix={args.crashes}/", "-print_final_stats=1", str(args.corpus)],
                      target)  # type: ignore[arg-type]
        atheris.Fuzz()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--target", choices=["record", "check", "verify"], default="record")
    parser.add_argument("--corpus", type=Path, default=None, help="default: a folder per target in the temp folder")
    parser.add_argument("--crashes", type=Path, default=Path(tempfile.gettempdir()) / "alureg-fuzz-crashes")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    from results import write_section

    args.corpus = args.corpus or Path(tempfile.gettempdir()) / f"alureg-fuzz-corpus-{args.target}"
    args.corpus.mkdir(parents=True, exist_ok=True)
    args.crashes.mkdir(parents=True, exist_ok=True)
    if args.target == "verify":  # seeds: the published claim bundles
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "build.py", "build", "--out", f"{tmp}/site", "--at", "2026-11-21",
                            "--now", "2026-11-21T12:00:00Z"], cwd=REPO, check=True, capture_output=True)
            for path in sorted(Path(tmp, "site").glob("c/*/claim.json")):
                shutil.copy(path, args.corpus / f"seed-{path.parent.name}.json")
    else:
        for path in sorted(REPO.glob("registry/**/*.yaml")) + sorted(REPO.glob("certificates/*.yaml")):
            shutil.copy(path, args.corpus / f"seed-{path.parent.name}-{path.name}")
    before = set(os.listdir(args.crashes))
    proc = subprocess.run([sys.executable, __file__, "--child", "--seconds", str(args.seconds), "--target",
                           args.target, "--corpus", str(args.corpus), "--crashes", str(args.crashes)],
                          cwd=REPO, capture_output=True, text=True, check=False)
    log = proc.stderr
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    speed = re.findall(r"stat::average_exec_per_sec:\s*(\d+)", log)
    cov = re.findall(r"cov: (\d+) ft: (\d+)", log)
    crashes = sorted(set(os.listdir(args.crashes)) - before)
    executions = int(runs[-1]) if runs else 0
    lines = [
        f"## Fuzzing: {args.target}",
        "",
        f"`bench/fuzz_bench.py --seconds {args.seconds} --target {args.target}` (atheris, coverage-guided, "
        f"seeded with {SEEDS[args.target]}): "
        f"{executions:,} executions in {args.seconds} s ({speed[-1] if speed else '?'}/s), "
        f"coverage {cov[-1][0] if cov else '?'} edges / {cov[-1][1] if cov else '?'} features, "
        f"corpus {len(os.listdir(args.corpus)):,} inputs, **{len(crashes)} crashes**"
        + (f": {', '.join(crashes)}" if crashes else "") + f"; exit code {proc.returncode}.",
    ]
    print("\n".join(lines))
    if proc.returncode not in (0,) and not crashes:
        print(log[-3000:], file=sys.stderr)
    write_section(f"fuzz-{args.target}", lines)
    sys.exit(0 if not crashes else 1)


if __name__ == "__main__":
    main()

"""Compiled copies of modules that go over every record, made by mypyc from the same
typed sources, and used only while those sources are as they were compiled.

Why: a cold check at 100,000 certificates is bound by its two workers' CPU, and about
8 % of it was the Python of ``loading``, ``signing`` and ``trust`` (yaml-rs's output
settled and its strings shared, the proofs' glue around libsodium); ``rulecache``,
``status`` and ``sitemodel`` go over every record in the check's rules and in a build.
Compiled, the six took about 7 % of a cold check's user CPU (the last three 0.5-0.9 s
of its wall time; docs/adr/0012-scale.md, twenty-sixth session). The check's own
modules (``check``, ``records``, ``checkcache``) and the rules (``rules``, with
``findings``, ``lookalike`` and ``dates``), compiled too, took another 1.9-3.2 s off a
cold check (three pairs, twenty-seventh session). No code is written by hand for it:
mypyc compiles the modules as they are.
Left out: the build's orchestration (``publish``, ``rulerun``: the tests spy on their
calls, and a compiled module calls its compiled neighbours directly), modules that
look for files beside themselves (``schema``) and the rest, whose Python is not on
every record's path.

How: ``make native`` (``native.main``, a step of every target that runs the code)
compiles ``COMPILED`` into build/native/<digest>/, where the digest is of every module
of the package (``package_digest``; the caches' ``checkcache.code_digest`` takes it
too, so a process reads the modules once). Any edit to any module names another
folder, so code compiled from older sources is never imported: the package runs as
plain Python until ``make`` compiles again. The package puts the folder first on its
``__path__`` when it holds a complete build (alureg/__init__.py); ALUREG_NATIVE=0
keeps to plain Python (the tests compare the two). A compiled module has no
``__file__`` in the package's folder, so none of ``COMPILED`` may use its own
(tests/test_native.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

COMPILED = ("loading", "signing", "trust", "rulecache", "status", "sitemodel", "check", "records", "checkcache",
            "rules", "findings", "lookalike", "dates")  # compiled together: their calls to each other are direct
PACKAGE = Path(__file__).resolve().parent
NATIVE_DIR = PACKAGE.parent / "build" / "native"  # beside the package (an editable install: the repository)
COMPLETE = "complete"  # written last: a folder without it was cut short


def modules_digest(package: Path) -> str:
    """Of every module of ``package`` and the interpreter's version: compiled code
    knows the types of what it imports, so an edit anywhere may make it wrong."""
    h = hashlib.sha256(f"{sys.implementation.cache_tag} {sys.version}\n".encode())
    for path in sorted(package.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:24]


@cache
def package_digest() -> str:
    """``modules_digest`` of this package, worked out once a process (at its import)."""
    return modules_digest(PACKAGE)


def native_folder() -> Path:
    return NATIVE_DIR / package_digest()


def use(path: list[str]) -> Path | None:
    """Put the compiled modules of the sources as they are first on the package's
    ``path`` (its ``__path__``); the folder used, or None (plain Python)."""
    if os.environ.get("ALUREG_NATIVE") == "0":
        return None
    folder = native_folder()
    if not (folder / COMPLETE).is_file():
        return None
    path.insert(0, str(folder / "alureg"))
    sys.path.append(str(folder))  # the group's shared library: a top-level module named by its own hash
    return folder


def build() -> Path:
    """Compile ``COMPILED`` into ``native_folder()`` unless it is there; remove the
    folders of other sources. Runs mypyc in a child process, in a scratch folder."""
    folder = native_folder()
    if (folder / COMPLETE).is_file():
        return folder
    work = NATIVE_DIR / f"work-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "alureg").mkdir(parents=True)
    for path in PACKAGE.glob("*.py"):  # mypyc names modules by their paths: compile a copy
        shutil.copy2(path, work / "alureg" / path.name)
    script = ("import sys; from setuptools import setup; from mypyc.build import mypycify; "
              "setup(name='alureg-native', ext_modules=mypycify(sys.argv[1:], opt_level='3'), "
              "script_args=['build_ext', '--inplace', '--quiet'])")
    done = subprocess.run([sys.executable, "-c", script, *[f"alureg/{name}.py" for name in COMPILED]],  # noqa: S603
                          cwd=work, env={**os.environ, "ALUREG_NATIVE": "0"}, capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise SystemExit(f"mypyc could not compile {', '.join(COMPILED)}:\n{done.stdout}{done.stderr}")
    built = [p for p in work.glob("**/*.so") if "build" not in p.relative_to(work).parts]
    staged = NATIVE_DIR / f"staged-{os.getpid()}"
    shutil.rmtree(staged, ignore_errors=True)
    (staged / "alureg").mkdir(parents=True)
    for so in built:
        shutil.copy2(so, staged / so.relative_to(work))
    (staged / COMPLETE).write_text("".join(f"{so.relative_to(work)}\n" for so in sorted(built)))
    shutil.rmtree(work)
    clear_others(keep={staged, folder})
    try:
        staged.rename(folder)
    except OSError:  # another ``make native`` of the same sources finished first
        shutil.rmtree(staged, ignore_errors=True)
    return folder


def clear_others(keep: set[Path]) -> None:
    """Remove other sources' builds and what a killed compile left, but not the
    scratch folders (work-<pid>, staged-<pid>) of a compile still running (two
    ``make`` at once in one checkout)."""
    from .swap import alive  # here, not at the package's import: only a compile needs it

    for old in NATIVE_DIR.iterdir():
        kind, _, pid = old.name.partition("-")
        running = kind in ("work", "staged") and pid.isdigit() and alive(int(pid))
        if old not in keep and not running:
            shutil.rmtree(old, ignore_errors=True)


def main() -> None:
    """``make``'s step (Makefile: native)."""
    print(f"compiled modules ({', '.join(COMPILED)}): {build().relative_to(PACKAGE.parent)}")

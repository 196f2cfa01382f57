"""The docs must keep up with the code: codes, commands, dependencies, README."""

from __future__ import annotations

import re
import tomllib

from alureg.cli import COMMANDS
from alureg.findings import CODES

from .conftest import REPO


def test_every_code_is_documented_with_its_title() -> None:
    text = (REPO / "docs" / "checks.md").read_text()
    rows = dict(re.findall(r"^\| ([A-Z]{3}\d{3}) \| ([^|]+?) \|", text, re.M))
    assert rows == {code: c.title for code, c in CODES.items()}


def test_every_code_is_exercised_by_a_test() -> None:
    tests = "".join(p.read_text() for p in (REPO / "tests").glob("*.py"))  # the hostile corpus too
    untested = [code for code in CODES if code not in tests]
    assert not untested


def test_secretariat_docs_explain_every_refusal() -> None:
    """Each code, in the site's "What each refusal means" page, with how to fix it."""
    text = (REPO / "site/docs/secretariat/refusals.md").read_text()
    rows = {cells[0]: cells[1:] for cells in
            ([c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines())
            if re.fullmatch(r"[A-Z]{3}\d{3}", cells[0])}
    assert sorted(rows) == sorted(CODES)
    for code, cells in rows.items():
        assert len(cells) >= 2 and all(cells[:2]), code  # what it means, how to fix it
        assert ("*warning*" in cells[0]) == (CODES[code].severity.value == "warning"), code


def test_every_command_is_documented() -> None:
    commands = (REPO / "docs" / "commands.md").read_text()
    readme = (REPO / "README.md").read_text()
    for name in COMMANDS:
        assert f"## {name}\n" in commands, name
        assert f"`{name}" in readme, name


def test_readme_starts_with_the_two_commands() -> None:
    lines = (REPO / "README.md").read_text().splitlines()
    block = "\n".join(lines[:6])
    assert block.index("make serve") < block.index("make test")


def test_every_dependency_is_explained() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    doc = (REPO / "docs" / "dependencies.md").read_text().lower()
    for spec in project["dependencies"] + project["optional-dependencies"]["dev"]:
        name, _, version = spec.partition("==")
        assert version, f"{spec} is not pinned"
        assert name.lower() in doc, name


def test_ci_runs_make_test() -> None:
    assert "make test" in (REPO / ".ci" / "run").read_text()
